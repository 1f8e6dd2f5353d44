// pmap — distribution of the iteration space across ranks (static, cyclic, dynamic, guided).
//
//   pmap::Dispatcher d(MPI_COMM_WORLD, {.schedule = pmap::Schedule::Dynamic, .items = n,
//                                       .workers = workers, .stop = channel.stop_flag()});
//   while (auto c = d.next(sizer.desired())) run(*c);
//   d.finish();
#pragma once

#include <mpi.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <exception>
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
  /// Ranks > 0 claim their next chunk while the current one runs. Off under a failure limit:
  /// each chunk is then claimed when needed, so none is granted after the job stopped.
  bool claim_ahead = true;
  /// The job's stop flag (Channel::stop_flag()), or null: once set, no chunk is handed out.
  const std::atomic<bool>* stop = nullptr;
};

/// Hands out chunks to the threads of every rank; it only hands out work (stop, progress and the
/// failure limit are the Channel's). Static and cyclic need no communication.
/// Dynamic and guided are served by a coordinator thread on rank 0 that answers point-to-point
/// claims (no one-sided RMA: it works across nodes on any transport, and keeps serving while
/// rank 0's workers are inside long items); it sleeps with backoff when idle, never spins.
/// Chunks come alternately from both ends of what is left (the run ends in the middle, so costly
/// items at either end never come last); automatic sizes follow the measured cost (`desired`),
/// at most 1/32 of a worker's share, and shrink to single items at the end.
/// Other ranks claim one chunk ahead (the next grant travels while the current chunk runs); in
/// the end game (at most 2 items a worker left) rank 0 holds such a claim back until the rank
/// says it needs it, so no rank sits on unstarted work while another idles.
class Dispatcher {
 public:
  /// Collective over `comm` (duplicates it). Rank 0 starts the coordinator thread when needed.
  Dispatcher(MPI_Comm comm, const DispatchOptions& options);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  /// The next chunk for the calling thread (thread-safe); `desired` is a size hint used when
  /// the chunk is automatic. nullopt once this rank has no more work or the job stops.
  std::optional<Chunk> next(std::uint64_t desired);
  /// Called once per rank after its work: answers a claim still in flight (its chunk stays not
  /// run) and tells rank 0; on rank 0 waits until every rank did. Idempotent.
  void finish();
  /// Rank 0: chunks granted to other ranks by the coordinator.
  [[nodiscard]] std::uint64_t remote_claims() const noexcept { return remote_claims_.load(); }
  /// Rank 0, after finish(): CPU seconds the coordinator thread used over the run (serving
  /// claims and polling for them), 0 without a coordinator. Divided by remote_claims() it is
  /// what a claim costs rank 0.
  [[nodiscard]] double coordinator_seconds() const noexcept { return coordinator_seconds_.load(); }

 private:
  [[nodiscard]] bool stopped() const noexcept { return opt_.stop != nullptr && opt_.stop->load(); }
  [[nodiscard]] bool coordinated() const noexcept;  // dynamic/guided over more than one rank
  std::optional<Chunk> grant(std::uint64_t desired);  // rank 0, under mutex_
  [[nodiscard]] std::uint64_t chunk_size(std::uint64_t desired, std::uint64_t remaining) const;
  std::optional<Chunk> next_static(std::uint64_t desired);
  std::optional<Chunk> next_remote(std::uint64_t desired);  // ranks > 0, under mutex_
  // Sends a claim (ahead: before the rank needs it) and posts the receive of its grant.
  void claim_ahead(std::uint64_t desired, bool ahead);
  Chunk take_ahead();  // waits for the grant in flight (sending kNeed for a claim held back)
  void serve();        // rank 0 coordinator loop
  void handle(const MPI_Status& status, const std::array<std::uint64_t, 2>& msg);  // coordinator
  void answer_claim(int source, std::uint64_t desired);  // coordinator: grant and reply
  bool end_game();  // rank 0: what is left is at most 2 items a worker

  mpi::Comm comm_;
  DispatchOptions opt_;
  int rank_ = 0;
  int size_ = 1;
  Chunk mine_{};  // static: this rank's block
  std::uint64_t cyclic_chunk_ = 1;
  std::atomic<std::uint64_t> cursor_{0};  // static: next row; cyclic: next j
  std::mutex mutex_;                      // dynamic/guided: guards next_ (rank 0) / claims (others)
  std::uint64_t next_ = 0;                // rank 0, dynamic/guided: what is left is [next_, back_)
  std::uint64_t back_ = 0;
  bool from_back_ = false;  // the next grant comes from the back end
  bool exhausted_ = false;  // ranks > 0: an empty grant arrived; claim no more
  // Ranks > 0, under mutex_: the claim sent ahead (prefetch) and its grant, in flight.
  MPI_Request ahead_ = MPI_REQUEST_NULL;
  std::array<std::uint64_t, 2> ahead_grant_{0, 0};
  bool ahead_held_ = false;          // the claim in flight was made ahead (rank 0 may hold it)
  std::vector<std::uint64_t> held_;  // rank 0 coordinator: desired of a claim held back, by rank
  std::atomic<int> ranks_done_{0};   // rank 0 coordinator: ranks > 0 that called finish()
  std::atomic<std::uint64_t> remote_claims_{0};
  std::atomic<double> coordinator_seconds_{0.0};  // the coordinator thread's CPU time, at its end
  std::atomic<bool> local_finished_{false};
  std::exception_ptr service_error_;  // an MPI failure inside the coordinator
  std::thread coordinator_;
  bool finished_ = false;
};

}  // namespace pmap
