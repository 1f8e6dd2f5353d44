// pmap — the compute worker (internal): one thread claims chunks, runs their items, decides each
// item's outcome once and hands the finished rows to the sinks.
//
//   #pragma omp parallel
//   WorkerTotals t = run_worker(plan, omp_get_thread_num(), dispatcher, channel, sinks);
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "pmap/channel.hpp"
#include "pmap/field_args.hpp"
#include "pmap/item_space.hpp"
#include "pmap/kernel.hpp"
#include "pmap/partition.hpp"
#include "pmap/schedule.hpp"
#include "pmap/sink.hpp"
#include "pmap/tally.hpp"

namespace pmap {

/// How an item that ran ended.
struct Outcome {
  ItemStatus status = ItemStatus::Ok;
  std::string error;  ///< empty when ok
};

/// The outcome of an item that ran past its budget (its message says by how much).
Outcome timed_out(double seconds, double item_timeout);

/// The one decision on an item: `thrown` is the kernel's exception text, if it threw; `seconds`
/// its run time; `item_timeout` the budget (0: none); `stopped` whether a stop came while it ran.
/// nullopt: the stop may have cut it short, so the row stays "not run" for --resume.
/// Inline: it runs once per item, and an item of a trivial kernel costs ~100 ns.
inline std::optional<Outcome> decide_outcome(const std::optional<std::string>& thrown,
                                             double seconds, double item_timeout, bool stopped) {
  if (stopped) return std::nullopt;
  if (item_timeout > 0 && seconds > item_timeout) return timed_out(seconds, item_timeout);
  if (thrown) return Outcome{ItemStatus::Failed, *thrown};
  return Outcome{};
}

/// What every worker of a rank shares.
struct WorkPlan {
  const Kernel* kernel = nullptr;
  const BoundArgs* args = nullptr;
  const ItemSpace* space = nullptr;
  const RowSet* rows = nullptr;  ///< the rows to run, addressed densely by the dispatcher
  std::size_t columns = 0;       ///< K
  int rank = 0;
  double item_timeout = 0;  ///< seconds (0: none)
  /// One runner per thread when the kernel runs items in batches (start_runners), else empty.
  std::span<const std::unique_ptr<BatchRunner>> runners;
  /// Kernel arguments that every item's fields give (per-item overrides of `args`).
  std::span<const FieldArg> field_args;
  /// No chunk starts that cannot finish before this (max: no deadline).
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

/// What one worker did.
struct WorkerTotals {
  StatusTally tally;  ///< rows it ran (not_run stays 0)
  double busy = 0;    ///< seconds inside items
  bool deadline_hit = false;
  WorkerTotals& operator+=(const WorkerTotals& o) {
    tally += o.tally;
    busy += o.busy;
    deadline_hit = deadline_hit || o.deadline_hit;
    return *this;
  }
};

/// Runs one worker thread until the dispatcher has no more work for this rank, the job stops or
/// the deadline is near. Kernel exceptions are item failures; anything else (a sink's I/O error)
/// propagates.
WorkerTotals run_worker(const WorkPlan& plan, int thread, Dispatcher& dispatcher, Channel& channel,
                        const SinkSet& sinks);

}  // namespace pmap
