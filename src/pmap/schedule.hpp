// pmap — distribution of the iteration space across ranks (static, cyclic, dynamic, guided).
//
//   pmap::Dispatcher d(MPI_COMM_WORLD, {pmap::Schedule::Dynamic, n, 0, workers});
//   while (auto c = d.next(sizer.desired())) { ...; d.add_done(c->size()); }
//   d.finish();
#pragma once

#include <mpi.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "pmap/mpi.hpp"
#include "pmap/partition.hpp"
#include "pmap/schedule_kind.hpp"

namespace pmap {

/// What a Dispatcher distributes.
struct DispatchOptions {
  Schedule schedule = Schedule::Dynamic;
  std::uint64_t items = 0;  ///< size of the iteration space
  std::uint64_t chunk = 0;  ///< fixed chunk size; 0 = automatic
  int workers = 1;          ///< threads across all ranks (for balance caps)
  std::chrono::milliseconds progress_interval{100};  ///< remote ranks report at most this often
  std::uint64_t max_failures = 0;  ///< stop every rank once this many items failed (0: never)
};

/// Hands out chunks to the threads of every rank. Static and cyclic need no communication.
/// Dynamic and guided are served by a coordinator thread on rank 0 that answers point-to-point
/// claims (no one-sided RMA: it works across nodes on any transport, and keeps serving while
/// rank 0's workers are inside long items); it sleeps with backoff when idle, never spins.
/// Other ranks claim one chunk ahead (the next grant travels while the current chunk runs),
/// except under --max-failures, where a chunk is claimed only when needed.
class Dispatcher {
 public:
  /// Collective over `comm` (duplicates it). Rank 0 starts the coordinator thread.
  Dispatcher(MPI_Comm comm, const DispatchOptions& options);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  /// The next chunk for the calling thread (thread-safe); `desired` is a size hint used when
  /// the chunk is automatic. nullopt once this rank has no more work.
  std::optional<Chunk> next(std::uint64_t desired);
  /// Records `items` finished by this rank, `failed` of them failed (thread-safe); feeds the
  /// job-wide progress and the --max-failures check.
  void add_done(std::uint64_t items, std::uint64_t failed = 0);
  /// Asks every rank to stop claiming work (thread-safe, idempotent): a signal, a fatal error.
  void request_stop();
  /// True once this rank knows the job is stopping (its own request, or one from rank 0).
  [[nodiscard]] bool stopping();
  /// True if the job stopped because --max-failures was reached (valid after finish()).
  [[nodiscard]] bool failure_limit_reached() const noexcept { return failure_limit_.load(); }
  /// Called once per rank after its work: reports to rank 0; on rank 0 waits for every rank.
  void finish();
  /// Rank 0: items finished across the job so far.
  [[nodiscard]] std::uint64_t done_total() const;
  /// Rank 0: calls `tick(done_total)` about every `interval` from the coordinator thread.
  void on_tick(std::function<void(std::uint64_t)> tick, std::chrono::milliseconds interval);
  /// Rank 0: chunks granted to other ranks by the coordinator.
  [[nodiscard]] std::uint64_t remote_claims() const noexcept { return remote_claims_.load(); }

 private:
  std::optional<Chunk> grant(std::uint64_t desired);  // rank 0, under mutex_
  void serve();                                       // rank 0 coordinator loop
  void send_progress(bool final);
  void stop_all();   // rank 0: tell every rank to stop
  bool poll_stop();  // ranks > 0: a stop from rank 0 arrived?

  mpi::Comm comm_;
  DispatchOptions opt_;
  int rank_ = 0;
  int size_ = 1;
  Chunk mine_{};  // static: this rank's block
  std::uint64_t cyclic_chunk_ = 1;
  std::atomic<std::uint64_t> cursor_{0};  // static: next row; cyclic: next j
  std::mutex mutex_;                      // dynamic/guided: guards next_ (rank 0) / claims (others)
  std::uint64_t next_ = 0;
  bool stopping_ = false;  // rank 0: a stop was requested somewhere; grant nothing
  bool exhausted_ = false;
  // Ranks > 0, under mutex_: the claim sent ahead (prefetch) and its grant, in flight.
  MPI_Request ahead_ = MPI_REQUEST_NULL;
  std::array<std::uint64_t, 2> ahead_grant_{0, 0};
  void claim_ahead(std::uint64_t desired);  // sends a claim, posts the receive of its grant
  Chunk take_ahead();                       // waits for the grant in flight
  std::atomic<bool> stop_known_{false};     // this rank stops claiming
  std::atomic<bool> stop_sent_{false};      // ranks > 0: our stop request went to rank 0
  std::atomic<bool> failure_limit_{false};
  std::atomic<std::uint64_t> failed_local_{0};
  std::atomic<std::uint64_t> failed_remote_{0};
  std::vector<std::uint64_t> failed_by_rank_;  // rank 0, coordinator thread only
  std::vector<char> rank_done_;                // rank 0, coordinator thread only
  std::mutex send_mutex_;                      // serialises this rank's stop/poll messages
  std::atomic<std::uint64_t> done_local_{0};
  std::atomic<std::int64_t> last_report_ns_{0};
  std::vector<std::uint64_t> done_by_rank_;  // rank 0, coordinator thread only
  std::atomic<std::uint64_t> done_remote_{0};
  std::atomic<std::uint64_t> remote_claims_{0};
  std::atomic<bool> local_finished_{false};
  std::function<void(std::uint64_t)> tick_;
  std::chrono::milliseconds tick_interval_{100};
  std::mutex tick_mutex_;
  std::thread coordinator_;
  bool finished_ = false;
};

}  // namespace pmap
