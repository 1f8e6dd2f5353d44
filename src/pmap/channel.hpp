// pmap — the job-wide channel (internal): stop, progress and the failure limit, apart from the
// scheduler that hands out work. Every rank runs one service thread that does all of the
// channel's MPI traffic (point-to-point on its own communicator, so it works across nodes on any
// transport); it sleeps between polls and never busy-waits. Workers only touch atomics, except
// under a failure limit, where a rank > 0 reports each failure to rank 0 and waits for its word.
//
//   Channel channel(comm, {.failure_limit = 10, .units = n});
//   channel.on_tick([&](std::uint64_t done) { bar.update(done); }, 100ms);  // rank 0
//   while (!channel.stopping()) { ...; if (!channel.add_done(items, failed)) break; }
//   channel.finish();  // collective: returns once every rank finished
#pragma once

#include <mpi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "pmap/mpi.hpp"

namespace pmap {

/// Why a job stopped before its work was done.
enum class StopCause : int { None = 0, Signal = 1, FailureLimit = 2, Error = 3 };

/// Options of a Channel.
struct ChannelOptions {
  std::uint64_t failure_limit = 0;  ///< stop the job once this many units failed (0: never)
  std::chrono::milliseconds progress_interval{100};  ///< ranks > 0 report at most this often
};

class Channel {
 public:
  /// Collective over `comm` (duplicates it); starts this rank's service thread.
  Channel(MPI_Comm comm, const ChannelOptions& options);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  /// Records `done` finished units, `failed` of them failed (thread-safe). False once the job
  /// stops: under a failure limit the answer is rank 0's, so no worker starts more work after
  /// the limit was reached anywhere.
  bool add_done(std::uint64_t done, std::uint64_t failed = 0);
  /// Stops the whole job (thread-safe, idempotent): a fatal error, a local decision.
  void request_stop(StopCause cause = StopCause::Error);
  /// True once this rank knows the job stops (cheap: an atomic load).
  [[nodiscard]] bool stopping() const noexcept { return stop_.load(std::memory_order_relaxed); }
  /// The flag behind stopping(), for code that polls an atomic (the URL checker).
  [[nodiscard]] const std::atomic<bool>* stop_flag() const noexcept { return &stop_; }
  /// Why this rank saw the job stop (None while it runs).
  [[nodiscard]] StopCause cause() const noexcept { return cause_.load(); }
  /// Rank 0: calls tick(done over the job) about every `interval` from the service thread.
  void on_tick(std::function<void(std::uint64_t)> tick, std::chrono::milliseconds interval);
  /// Rank 0: units finished across the job so far (exact after finish()).
  [[nodiscard]] std::uint64_t done_total() const noexcept;
  /// Collective: this rank's work is over; returns once every rank reported its last counts.
  /// Throws an MPI failure the service thread met.
  void finish();

 private:
  void serve_root() noexcept;
  void serve_other() noexcept;
  void forward_stop();  // ranks > 0: a local stop (or signal) goes to rank 0
  void stop_locally(StopCause cause) noexcept;
  void stop_all(StopCause cause);                                   // rank 0
  void handle(const MPI_Status& status, const std::uint64_t* msg);  // rank 0
  void say_goodbye();                                               // rank 0
  void wait_for_goodbye();                                          // ranks > 0
  [[nodiscard]] bool over_limit() const noexcept;
  void send(const std::uint64_t* msg, int tag);
  void nap(std::chrono::microseconds& backoff, std::chrono::microseconds cap);

  mpi::Comm comm_;
  ChannelOptions opt_;
  int rank_ = 0;
  int size_ = 1;
  std::atomic<bool> stop_{false};
  std::atomic<StopCause> cause_{StopCause::None};
  std::atomic<bool> stop_wanted_{false};  // a local request not yet forwarded / broadcast
  std::atomic<std::uint64_t> done_{0}, failed_{0};
  std::atomic<std::uint64_t> done_remote_{0}, failed_remote_{0};  // rank 0
  std::vector<std::uint64_t> done_by_rank_, failed_by_rank_;      // rank 0, service thread
  std::vector<char> finished_by_rank_;                            // rank 0, service thread
  std::mutex sync_mutex_;                                         // one failure report at a time
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool finishing_ = false;
  bool abandon_ = false;              // destroyed without finish(): leave without the other ranks
  int finals_ = 0;                    // rank 0, service thread: ranks that sent their final counts
  bool stopped_all_ = false;          // rank 0, service thread: the stop went to every rank
  std::exception_ptr service_error_;  // an MPI failure inside the service thread
  std::function<void(std::uint64_t)> tick_;
  std::chrono::milliseconds tick_interval_{100};
  std::mutex tick_mutex_;
  std::thread service_;  // last: starts once the members above exist
};

}  // namespace pmap
