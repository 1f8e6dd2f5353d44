#include "pmap/worker.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <utility>
#include <vector>

#include "detail/text.hpp"
#include "pmap/report.hpp"
#include "pmap/stop.hpp"

namespace pmap {
namespace {

using clock_type = std::chrono::steady_clock;

double seconds_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// What one chunk came to.
struct ChunkResult {
  std::uint64_t done = 0;    ///< rows with an outcome
  std::uint64_t failed = 0;  ///< of them failed or timed out
  bool cut = false;          ///< a stop ended it before its last row
  double seconds = 0;
};

/// One thread's buffers and the code that fills them, one chunk at a time.
class ChunkRunner {
 public:
  ChunkRunner(const WorkPlan& plan, int thread, const SinkSet& sinks)
      : plan_(plan),
        thread_(thread),
        sinks_(sinks),
        runner_(plan.runners.empty() ? nullptr
                                     : plan.runners[static_cast<std::size_t>(thread)].get()),
        local_args_(*plan.args) {}

  ChunkResult run(Chunk chunk, WorkerTotals& totals) {
    ChunkResult r;
    const auto start = clock_type::now();
    for (const Chunk seg : plan_.rows->segments(chunk)) {
      const std::uint64_t done = run_segment(seg, totals, r.failed);
      r.done += done;
      if (done < seg.size()) {
        r.cut = true;
        break;
      }
    }
    r.seconds = seconds_between(start, clock_type::now());
    return r;
  }

 private:
  /// Runs consecutive rows until the end or a stop; hands the finished ones on; returns them.
  std::uint64_t run_segment(Chunk seg, WorkerTotals& totals, std::uint64_t& failed) {
    const std::size_t k = plan_.columns;
    resize(seg.size());
    errors_.clear();
    std::fill(value_.begin(), value_.end(), 0.0);
    plan_.space->read(seg.begin, seg.end, block_);
    const std::uint64_t j =
        runner_ != nullptr ? run_batch(totals, failed) : run_each(seg, totals, failed);
    if (j > 0) {
      RowBlock rows{seg.begin,
                    j,
                    k,
                    item_.data(),
                    value_.data(),
                    status_.data(),
                    rank_.data(),
                    thread_ids_.data(),
                    seconds_.data()};
      if (!block_.fields.values.empty()) rows.params = block_.fields.values.data();
      sinks_.put({rows, std::span<const RowMessage>(errors_)});
    }
    return j;
  }

  /// Calls the kernel item by item; returns the rows done.
  std::uint64_t run_each(Chunk seg, WorkerTotals& totals, std::uint64_t& failed) {
    std::uint64_t j = 0;
    for (; j < seg.size(); ++j) {
      if (stop_requested()) break;
      const Item& item = block_.items[j];
      const auto [thrown, secs] = call_kernel(item, j);
      if (!finish_item(item, j, thrown, secs, totals, failed)) break;
    }
    return j;
  }

  /// Hands the whole segment to the thread's batch runner; returns the rows done.
  std::uint64_t run_batch(WorkerTotals& totals, std::uint64_t& failed) {
    const BatchContext ctx{stop_flag(), plan_.item_timeout};
    return runner_->run(block_.items, value_, ctx, [&](std::size_t j, const ItemResult& r) {
      return finish_item(block_.items[j], j, r.error, r.seconds, totals, failed);
    });
  }

  /// Runs `item` into slot j: what it threw (if it did) and its seconds.
  std::pair<std::optional<std::string>, double> call_kernel(const Item& item, std::uint64_t j) {
    const std::size_t k = plan_.columns;
    double* out = value_.data() + j * k;
    const auto start = clock_type::now();
    const auto budget = std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(plan_.item_timeout));
    const KernelContext ctx(
        stop_flag(), plan_.item_timeout > 0 ? start + budget : clock_type::time_point::max());
    std::optional<std::string> thrown;
    try {
      plan_.kernel->run(item, args_for(item), std::span<double>(out, k), ctx);
    } catch (const std::exception& e) {
      thrown = e.what();
    } catch (...) {
      thrown = "exception not derived from std::exception";
    }
    return {thrown, seconds_between(start, clock_type::now())};
  }

  /// Decides `item` (slot j) once and records it; false when a stop cut it short.
  bool finish_item(const Item& item, std::uint64_t j, const std::optional<std::string>& thrown,
                   double secs, WorkerTotals& totals, std::uint64_t& failed) {
    const std::size_t k = plan_.columns;
    const auto outcome =
        decide_outcome(thrown ? std::optional(detail::printable_utf8(*thrown)) : std::nullopt, secs,
                       plan_.item_timeout, stop_requested());
    if (!outcome) return false;
    item_[j] = item.value;
    rank_[j] = plan_.rank;
    thread_ids_[j] = thread_;
    seconds_[j] = secs;
    double* out = value_.data() + j * k;
    if (outcome->status != ItemStatus::Ok) {
      std::fill(out, out + k, std::numeric_limits<double>::quiet_NaN());
      errors_.push_back({j, outcome->error});
      ++failed;
    }
    status_[j] = static_cast<std::int8_t>(outcome->status);
    totals.busy += secs;
    totals.tally.count(outcome->status,
                       outcome->status == ItemStatus::Ok
                           ? row_checksum(item.row - plan_.space->first_row(), out, k)
                           : 0);
    return true;
  }

  /// The bound arguments, with those the item's fields give taken from the item.
  const BoundArgs& args_for(const Item& item) {
    if (plan_.field_args.empty()) return *plan_.args;
    for (const FieldArg& b : plan_.field_args) local_args_.set(b.name, field_arg(item.fields, b));
    return local_args_;
  }

  void resize(std::uint64_t n) {
    item_.resize(n);
    value_.resize(n * plan_.columns);
    status_.resize(n);
    rank_.resize(n);
    thread_ids_.resize(n);
    seconds_.resize(n);
  }

  const WorkPlan& plan_;
  int thread_;
  const SinkSet& sinks_;
  BatchRunner* runner_;   // the thread's, when the kernel runs items in batches
  ItemBlock block_;       // the segment's items and their fields
  BoundArgs local_args_;  // the arguments with the item's fields (when fields give arguments)
  std::vector<std::int64_t> item_;
  std::vector<double> value_;
  std::vector<std::int8_t> status_;
  std::vector<std::int32_t> rank_, thread_ids_;
  std::vector<double> seconds_;
  std::vector<RowMessage> errors_;  // the block's rows that did not succeed
};

/// False when the next chunk could not finish before the deadline.
bool fits_deadline(const WorkPlan& plan, double per_item, std::uint64_t items) {
  if (plan.deadline == clock_type::time_point::max()) return true;
  const double left = seconds_between(clock_type::now(), plan.deadline);
  return left > 0 && !(per_item > 0 && per_item * static_cast<double>(items) > left);
}

}  // namespace

Outcome timed_out(double seconds, double item_timeout) {
  char text[96];
  std::snprintf(text, sizeof text, "timed out after %.3f s (--item-timeout %g)", seconds,
                item_timeout);
  return Outcome{ItemStatus::TimedOut, text};
}

WorkerTotals run_worker(const WorkPlan& plan, int thread, Dispatcher& dispatcher, Channel& channel,
                        const SinkSet& sinks) {
  WorkerTotals totals;
  ChunkRunner runner(plan, thread, sinks);
  ChunkSizer sizer(0.1);
  double per_item = 0;  // measured seconds per item of this thread, 0 until known
  while (!channel.stopping()) {
    if (!fits_deadline(plan, per_item, sizer.desired())) {
      totals.deadline_hit = true;
      break;
    }
    const auto chunk = dispatcher.next(sizer.desired());
    if (!chunk) break;
    const ChunkResult r = runner.run(*chunk, totals);
    sizer.record(r.done, r.seconds);
    if (r.done > 0) per_item = r.seconds / static_cast<double>(r.done);
    const bool go_on = channel.add_done(r.done, r.failed);
    if (r.cut) {
      channel.request_stop(StopCause::Signal);
      break;
    }
    if (!go_on) break;
  }
  return totals;
}

}  // namespace pmap
