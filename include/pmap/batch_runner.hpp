// pmap — batch runners: per-thread state of a kernel that keeps something alive between items
// and runs many of them per round trip (the worker kernel: one long-lived process a thread,
// items streamed to it). A kernel returns one runner per worker thread from
// Kernel::start_runners(); the engine then hands each thread's runner whole runs of consecutive
// rows instead of calling Kernel::run() item by item.
//
//   std::size_t n = runner.run(items, values, ctx, [&](std::size_t j, const pmap::ItemResult& r) {
//     return keep(j, r);  // false: stop here (the job is stopping)
//   });
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "pmap/item_space.hpp"

namespace pmap {

/// What became of one item a runner ran.
struct ItemResult {
  double seconds = 0;                ///< time spent on it
  std::optional<std::string> error;  ///< set: the item failed with this message
};

/// What a batch may consult: the job's stop and the item timeout.
struct BatchContext {
  const std::atomic<bool>* stop = nullptr;  ///< set once the job stops
  double item_timeout = 0;                  ///< seconds an item may run (0: no limit)
  [[nodiscard]] bool stopping() const noexcept {
    return stop != nullptr && stop->load(std::memory_order_relaxed);
  }
};

/// Receives item j's result, in order of j; returns false to end the batch there.
using ItemDone = std::function<bool(std::size_t j, const ItemResult& result)>;

/// One worker thread's runner (used by that thread only).
class BatchRunner {
 public:
  virtual ~BatchRunner() = default;
  /// Runs `items` in order, item j's K values into out[j*K, (j+1)*K) (zeroed by the caller),
  /// calling done(j, result) once per item in order of j. Returns the number of items done:
  /// fewer than items.size() when done() returned false or the job stopped (ctx.stopping()).
  /// An item that takes longer than ctx.item_timeout is ended and reported with its time, so
  /// that the caller marks it timed out. Throws only for failures that are not an item's.
  virtual std::size_t run(std::span<const Item> items, std::span<double> out,
                          const BatchContext& ctx, const ItemDone& done) = 0;
  /// The stage is ending: begin releasing what the runner holds (the destructor finishes), so
  /// that a rank's runners end at the same time rather than one after another.
  virtual void begin_shutdown() noexcept {}
};

}  // namespace pmap
