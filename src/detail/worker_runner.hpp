// pmap — the worker kernel's runner (internal): one worker process per thread, items streamed to
// it through a window of many in flight, results matched to their rows in order. A worker that
// dies, breaks the protocol or holds an item past the item timeout is killed with its process
// group and restarted; only the item it held fails. When it held several (a worker may keep a
// few answers buffered), those are run again one at a time, so the one that fails again is the
// one that fails; the others get their results.
//
//   auto procs = start_workers(spec, threads, stop);        // all at once, handshakes checked
//   WorkerRunner runner(spec, std::move(procs[t]));          // thread t's
//   runner.run(items, values, ctx, done);
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "detail/worker_process.hpp"
#include "pmap/batch_runner.hpp"

namespace pmap::detail {

/// How to start a worker of this job.
struct WorkerSpec {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string header;       ///< the protocol's header lines
  std::size_t columns = 1;  ///< K
  std::size_t window = 4096;
  double start_timeout = 60;
};

/// Starts `count` workers at once and waits for every handshake. Throws WorkerFailure (or
/// ItemError when the program cannot be run) for the first one that did not start.
std::vector<std::unique_ptr<WorkerProcess>> start_workers(const WorkerSpec& spec, int count,
                                                          const std::atomic<bool>* stop);

class WorkerRunner final : public BatchRunner {
 public:
  WorkerRunner(std::shared_ptr<const WorkerSpec> spec, std::unique_ptr<WorkerProcess> process);
  ~WorkerRunner() override;
  WorkerRunner(const WorkerRunner&) = delete;
  WorkerRunner& operator=(const WorkerRunner&) = delete;

  std::size_t run(std::span<const Item> items, std::span<double> out, const BatchContext& ctx,
                  const ItemDone& done) override;
  void begin_shutdown() noexcept override;
  /// Restarts so far (tests, reports).
  [[nodiscard]] int restarts() const noexcept { return restarts_; }

 private:
  struct Batch;
  void fill(Batch& b);
  [[nodiscard]] std::optional<std::string> take_replies(Batch& b);
  void fail_held(Batch& b, const std::string& what, bool died);
  void restart(const BatchContext& ctx);
  void replace_if_not_idle();

  std::shared_ptr<const WorkerSpec> spec_;
  std::unique_ptr<WorkerProcess> process_;
  int restarts_ = 0;
};

}  // namespace pmap::detail
