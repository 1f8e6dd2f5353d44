#include "detail/worker_runner.hpp"

#include <algorithm>

#include "detail/worker_protocol.hpp"
#include "pmap/error.hpp"

namespace pmap::detail {
namespace {

using Clock = std::chrono::steady_clock;
namespace wp = worker_protocol;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

/// One call of run(): the items, how far they got, and since when the first unanswered one has
/// been the worker's to answer.
struct WorkerRunner::Batch {
  std::span<const Item> items;
  std::span<double> out;
  const BatchContext& ctx;
  const ItemDone& done;
  std::size_t sent = 0;         ///< items written (or queued) to the worker
  std::size_t finished = 0;     ///< items answered
  std::size_t careful_end = 0;  ///< below this index, one item in flight at a time
  bool stopped = false;         ///< done() said stop
  Clock::time_point held_since = Clock::now();
};

std::vector<std::unique_ptr<WorkerProcess>> start_workers(const WorkerSpec& spec, int count,
                                                          const std::atomic<bool>* stop) {
  std::vector<std::unique_ptr<WorkerProcess>> procs;
  for (int i = 0; i < count; ++i) {
    procs.push_back(std::make_unique<WorkerProcess>(spec.argv, spec.env, spec.header));
  }
  for (auto& p : procs) p->handshake(spec.start_timeout, stop);  // they start side by side
  return procs;
}

WorkerRunner::WorkerRunner(std::shared_ptr<const WorkerSpec> spec,
                           std::unique_ptr<WorkerProcess> process)
    : spec_(std::move(spec)), process_(std::move(process)) {}

WorkerRunner::~WorkerRunner() {
  if (!process_) return;
  process_->close_input();
  process_->wait_exit(1.0);  // a worker exits at end of input; then its group is killed
}

void WorkerRunner::begin_shutdown() noexcept {
  if (process_) process_->close_input();
}

void WorkerRunner::restart(const BatchContext& ctx) {
  try {
    auto procs = start_workers(*spec_, 1, ctx.stop);
    process_ = std::move(procs.front());
    ++restarts_;
  } catch (const std::exception& e) {
    throw RuntimeError("a worker could not be restarted: " + std::string(e.what()));
  }
}

/// Between batches a worker owes nothing: one that died or wrote something since its last
/// answer is replaced before it gets items, so that no item of the next batch is blamed.
void WorkerRunner::replace_if_not_idle() {
  if (!process_) return;
  const bool alive = process_->pump(0);
  if (alive && !process_->next_line()) return;
  (void)process_->kill_and_describe();
  process_.reset();
}

/// Queues items up to the window (one at a time while replaying after a failure): range items
/// as one "range" line to a worker that takes them, else one "item" line each.
void WorkerRunner::fill(Batch& b) {
  const bool careful = b.sent < b.careful_end;
  const std::size_t window = careful ? 1 : spec_->window;
  if (b.sent >= b.items.size() || b.sent - b.finished >= window) return;
  if (b.sent == b.finished) b.held_since = Clock::now();
  const std::size_t count = std::min(b.items.size() - b.sent, window - (b.sent - b.finished));
  std::string lines;
  const Item& first = b.items[b.sent];
  if (!careful && !first.from_input && first.fields.empty() && count > 1 &&
      process_->offers("ranges")) {
    // The items of a run are consecutive rows of a range: an arithmetic progression.
    const std::int64_t step = b.items[b.sent + 1].value - first.value;
    wp::append_range(lines, first.row, count, first.value, step);
  } else {
    for (std::size_t i = 0; i < count; ++i) wp::append_item(lines, b.items[b.sent + i]);
  }
  b.sent += count;
  process_->send(lines);
}

/// Hands every complete answer to done(); the answers of one read share its time. Returns what
/// is wrong when a line breaks the protocol.
std::optional<std::string> WorkerRunner::take_replies(Batch& b) {
  const std::size_t k = spec_->columns;
  const std::size_t first = b.finished;
  std::vector<std::optional<std::string>> errors;
  std::optional<std::string> broken;
  while (const auto line = process_->next_line()) {
    const std::size_t j = b.finished;
    if (j == b.sent) {
      broken = "a line with no item outstanding: " + wp::quote_line(*line);
      break;
    }
    const auto reply = wp::parse_reply(*line, b.out.subspan(j * k, (b.sent - j) * k), k);
    if (reply.kind != wp::Reply::Kind::Bad && reply.row != b.items[j].row) {
      broken = "an answer for row " + std::to_string(reply.row) + " while row " +
               std::to_string(b.items[j].row) + " was next";
    } else if (reply.kind == wp::Reply::Kind::Bad) {
      broken = reply.message;
    }
    if (broken) break;
    if (reply.kind == wp::Reply::Kind::Error) {
      errors.emplace_back(reply.message);
    } else {
      errors.resize(errors.size() + reply.count);
    }
    b.finished += reply.count;
  }
  if (errors.empty()) return broken;
  const double each = seconds_since(b.held_since) / static_cast<double>(errors.size());
  b.held_since = Clock::now();
  for (std::size_t i = 0; i < errors.size(); ++i) {
    if (!b.done(first + i, ItemResult{each, std::move(errors[i])})) {
      b.stopped = true;  // the job stops: this item does not count as done
      b.finished = first + i;
      break;
    }
  }
  return broken;
}

/// The worker failed while it held items (`died`: on its own, else it is killed now); one item
/// held is that item's failure, several are replayed one at a time; the worker starts again
/// (lazily, in run()).
void WorkerRunner::fail_held(Batch& b, const std::string& what, bool died) {
  std::string how = process_->kill_and_describe();
  if (!died) {
    const std::string err = process_->stderr_text();
    how = "killed with its process group" + (err.empty() ? std::string() : "; stderr: " + err);
  }
  process_.reset();
  const std::size_t held = b.sent - b.finished;
  if (held == 1) {
    ItemResult r{seconds_since(b.held_since), what + " (" + how + "); the worker was restarted"};
    b.stopped = !b.done(b.finished, r);
    if (!b.stopped) ++b.finished;
  } else if (held > 1) {
    b.careful_end = b.sent;
  }
  b.sent = b.finished;
}

std::size_t WorkerRunner::run(std::span<const Item> items, std::span<double> out,
                              const BatchContext& ctx, const ItemDone& done) {
  Batch b{items, out, ctx, done};
  replace_if_not_idle();
  try {
    while (b.finished < items.size() && !b.stopped && !ctx.stopping()) {
      if (!process_) restart(ctx);
      fill(b);
      const bool alive = process_->pump(20);
      const auto broken = take_replies(b);
      if (b.stopped) break;
      if (broken) {
        fail_held(b, "the worker broke the protocol: " + *broken, false);
      } else if (b.finished == items.size()) {
        break;
      } else if (!alive) {
        fail_held(b, "the worker died", true);
      } else if (ctx.item_timeout > 0 && b.finished < b.sent &&
                 seconds_since(b.held_since) > ctx.item_timeout) {
        fail_held(b, "timed out", false);
      }
    }
  } catch (...) {
    process_.reset();  // items in flight: this worker's state is unknown
    throw;
  }
  if (b.finished < b.sent) process_.reset();  // stopped with items in flight
  return b.finished;
}

}  // namespace pmap::detail
