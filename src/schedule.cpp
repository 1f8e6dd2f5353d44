#include "pmap/schedule.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "pmap/error.hpp"
#include "pmap/stop.hpp"

namespace pmap {
namespace {

enum Tag : int {
  kClaim = 101,
  kGrant = 102,
  kProgress = 103,
  kDone = 104,
  kStopRequest = 105,
  kStop = 106,
  kFinal = 107,
  kNeed = 108  // a rank now needs the chunk it claimed ahead (rank 0 may hold such claims back)
};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Schedule parse_schedule(std::string_view text) {
  if (text == "static") return Schedule::Static;
  if (text == "cyclic") return Schedule::Cyclic;
  if (text == "dynamic") return Schedule::Dynamic;
  if (text == "guided") return Schedule::Guided;
  throw UsageError("--schedule " + std::string(text) +
                   ": unknown schedule (use static, cyclic, dynamic or guided)");
}

std::string_view to_string(Schedule s) {
  switch (s) {
    case Schedule::Static:
      return "static";
    case Schedule::Cyclic:
      return "cyclic";
    case Schedule::Dynamic:
      return "dynamic";
    case Schedule::Guided:
      return "guided";
  }
  return "?";
}

Dispatcher::Dispatcher(MPI_Comm comm, const DispatchOptions& options)
    : comm_(mpi::Comm::dup(comm)), opt_(options) {
  rank_ = comm_.rank();
  size_ = comm_.size();
  opt_.workers = std::max(opt_.workers, 1);
  mine_ = block(opt_.items, size_, rank_);
  cyclic_chunk_ = opt_.chunk > 0 ? opt_.chunk : auto_cyclic_chunk(opt_.items, opt_.workers);
  back_ = opt_.items;
  if (rank_ == 0) {
    done_by_rank_.assign(static_cast<std::size_t>(size_), 0);
    failed_by_rank_.assign(static_cast<std::size_t>(size_), 0);
    rank_done_.assign(static_cast<std::size_t>(size_), 0);
    held_.assign(static_cast<std::size_t>(size_), 0);
    coordinator_ = std::thread([this] { serve(); });
  }
}

Dispatcher::~Dispatcher() {
  if (ahead_ != MPI_REQUEST_NULL) {  // unwinding without finish(): drop the pending receive
    MPI_Cancel(&ahead_);
    MPI_Request_free(&ahead_);
  }
  if (coordinator_.joinable()) {
    local_finished_ = true;
    coordinator_.join();
  }
}

std::uint64_t Dispatcher::chunk_size(std::uint64_t desired, std::uint64_t remaining) const {
  if (opt_.schedule == Schedule::Guided) {
    // Big chunks first, shrinking with what is left; the floor is the measured cost's size
    // (desired) but never more than the end game allows.
    const std::uint64_t min_chunk =
        opt_.chunk > 0 ? opt_.chunk : std::min(desired, tail_chunk(remaining, opt_.workers));
    return guided_chunk(remaining, opt_.workers, min_chunk);
  }
  if (opt_.chunk > 0) return opt_.chunk;
  // desired comes from the measured cost of the worker's items (~100 ms of them); the count cap
  // bounds what a cost rising inside one chunk can do; the end game hands out the last items
  // one at a time.
  return std::min(
      {desired, balance_cap(opt_.items, opt_.workers), tail_chunk(remaining, opt_.workers)});
}

std::optional<Chunk> Dispatcher::grant(std::uint64_t desired) {
  if (desired == 0) stopping_ = true;  // 0: a rank asks everyone to stop
  if (opt_.max_failures > 0 && failed_local_.load() + failed_remote_.load() >= opt_.max_failures) {
    failure_limit_ = true;
    stopping_ = true;  // no new work once the job has failed enough items
  }
  if (stopping_ || stop_known_.load() || next_ >= back_) return std::nullopt;
  const std::uint64_t remaining = back_ - next_;
  const std::uint64_t size =
      std::clamp<std::uint64_t>(chunk_size(desired, remaining), 1, remaining);
  // Chunks come alternately from both ends of what is left, so the run ends in the middle of the
  // space: costly items at either end (a few huge items at the start or at the end, a rising or
  // falling cost) are handed out early, never as the last work of the run.
  Chunk c{next_, next_ + size};
  if (from_back_) {
    c = {back_ - size, back_};
    back_ -= size;
  } else {
    next_ += size;
  }
  from_back_ = !from_back_;
  return c;
}

bool Dispatcher::poll_stop() {
  if (rank_ == 0 || size_ == 1) return false;
  std::lock_guard lock(send_mutex_);
  int flag = 0;
  MPI_Iprobe(0, kStop, comm_.get(), &flag, MPI_STATUS_IGNORE);
  if (flag == 0) return false;
  std::uint64_t dummy = 0;
  MPI_Recv(&dummy, 1, MPI_UINT64_T, 0, kStop, comm_.get(), MPI_STATUS_IGNORE);
  return true;
}

bool Dispatcher::stopping() {
  if (stop_known_.load()) return true;
  if (stop_requested()) {
    request_stop();
    return true;
  }
  if (poll_stop()) stop_known_ = true;
  return stop_known_.load();
}

void Dispatcher::request_stop() {
  if (stop_known_.exchange(true)) return;
  if (rank_ == 0) return;  // the coordinator sees stop_known_ and tells everyone
  if (!stop_sent_.exchange(true)) {
    std::lock_guard lock(send_mutex_);
    std::uint64_t zero = 0;
    MPI_Send(&zero, 1, MPI_UINT64_T, 0, kStopRequest, comm_.get());
  }
}

std::optional<Chunk> Dispatcher::next(std::uint64_t desired) {
  desired = std::clamp<std::uint64_t>(desired, 1, kMaxChunk);
  if (stopping()) return std::nullopt;
  switch (opt_.schedule) {
    case Schedule::Static:
      return next_static(desired);
    case Schedule::Cyclic:
      return cyclic_chunk(opt_.items, cyclic_chunk_, size_, rank_, cursor_.fetch_add(1));
    case Schedule::Dynamic:
    case Schedule::Guided:
      break;
  }
  std::lock_guard lock(mutex_);
  if (rank_ == 0) return grant(desired);
  if (exhausted_) return std::nullopt;
  // One claim is in flight once work started: the grant of the chunk returned now was claimed
  // while the previous one ran, so a busy or sleeping coordinator costs no idle time.
  if (ahead_ == MPI_REQUEST_NULL) claim_ahead(desired, false);
  const Chunk c = take_ahead();
  if (c.begin >= c.end) {
    exhausted_ = true;  // an empty grant: nothing left (or the job stops); claim no more
    return std::nullopt;
  }
  // The next claim goes out now, marked "ahead": its grant travels while this chunk runs. In the
  // end game rank 0 holds such a claim back until the rank needs it (kNeed), so no rank sits on
  // unstarted work while another idles. With --max-failures each chunk is claimed when needed,
  // so that rank 0 refuses it once the job has failed enough items.
  if (opt_.max_failures == 0) claim_ahead(desired, true);
  return c;
}

std::optional<Chunk> Dispatcher::next_static(std::uint64_t desired) {
  // The rank's threads share its block: pieces of the measured cost's size, shrinking at the end
  // of the block so its threads finish together.
  const int threads_here = std::max(1, opt_.workers / std::max(size_, 1));
  std::uint64_t done = cursor_.load();
  while (true) {
    if (done >= mine_.size()) return std::nullopt;
    const std::uint64_t left = mine_.size() - done;
    const std::uint64_t step = std::min(
        left, opt_.chunk > 0 ? opt_.chunk : std::min(desired, tail_chunk(left, threads_here)));
    if (cursor_.compare_exchange_weak(done, done + step)) {
      return Chunk{mine_.begin + done, mine_.begin + done + step};
    }
  }
}

void Dispatcher::claim_ahead(std::uint64_t desired, bool ahead) {
  // A claim carries this rank's failures, so rank 0 can enforce --max-failures job-wide before
  // it grants more work.
  std::array<std::uint64_t, 3> request{opt_.chunk > 0 ? opt_.chunk : desired, failed_local_.load(),
                                       ahead ? 1U : 0U};
  ahead_held_ = ahead;
  std::lock_guard send_lock(send_mutex_);
  mpi::check(MPI_Irecv(ahead_grant_.data(), 2, MPI_UINT64_T, 0, kGrant, comm_.get(), &ahead_),
             "MPI_Irecv(grant)");
  mpi::check(MPI_Send(request.data(), 3, MPI_UINT64_T, 0, kClaim, comm_.get()), "MPI_Send(claim)");
}

Chunk Dispatcher::take_ahead() {
  int arrived = 0;
  {
    std::lock_guard send_lock(send_mutex_);
    mpi::check(MPI_Test(&ahead_, &arrived, MPI_STATUS_IGNORE), "MPI_Test(grant)");
    if (arrived == 0 && ahead_held_) {
      // Rank 0 may be holding the claim back (end game): say that it is needed now.
      std::uint64_t zero = 0;
      mpi::check(MPI_Send(&zero, 1, MPI_UINT64_T, 0, kNeed, comm_.get()), "MPI_Send(need)");
    }
  }
  // Sleep, not spin, while the grant travels: oversubscribed ranks would take the cores from the
  // ranks still computing.
  if (arrived == 0) mpi::wait_sleeping(ahead_);
  ahead_ = MPI_REQUEST_NULL;
  return Chunk{ahead_grant_[0], ahead_grant_[1]};
}

void Dispatcher::answer_claim(int source, std::uint64_t desired) {
  std::array<std::uint64_t, 2> reply{0, 0};
  {
    std::lock_guard lock(mutex_);
    if (auto c = grant(desired)) reply = {c->begin, c->end};
  }
  MPI_Send(reply.data(), 2, MPI_UINT64_T, source, kGrant, comm_.get());
  remote_claims_.fetch_add(1, std::memory_order_relaxed);
}

bool Dispatcher::end_game() {
  std::lock_guard lock(mutex_);
  return back_ - next_ <= 2 * static_cast<std::uint64_t>(opt_.workers);
}

void Dispatcher::add_done(std::uint64_t items, std::uint64_t failed) {
  done_local_.fetch_add(items, std::memory_order_relaxed);
  const auto failed_now = failed_local_.fetch_add(failed, std::memory_order_relaxed) + failed;
  if (opt_.max_failures > 0 && failed_now >= opt_.max_failures) {
    failure_limit_ = true;
    request_stop();
  }
  if (rank_ == 0) return;
  const auto now = now_ns();
  auto last = last_report_ns_.load(std::memory_order_relaxed);
  const auto interval =
      std::chrono::duration_cast<std::chrono::nanoseconds>(opt_.progress_interval).count();
  if (now - last < interval) return;
  if (!last_report_ns_.compare_exchange_strong(last, now)) return;
  send_progress(false);
}

void Dispatcher::send_progress(bool final) {
  std::array<std::uint64_t, 2> msg{done_local_.load(), failed_local_.load()};
  std::lock_guard lock(send_mutex_);
  mpi::check(MPI_Send(msg.data(), 2, MPI_UINT64_T, 0, final ? kDone : kProgress, comm_.get()),
             "MPI_Send(progress)");
}

void Dispatcher::finish() {
  if (finished_) return;
  finished_ = true;
  if (rank_ != 0) {
    {
      // A claim still in flight (the rank stopped early: a signal, the deadline, an error) is
      // answered before the rank reports done; a chunk granted to it stays "not run".
      std::lock_guard lock(mutex_);
      if (ahead_ != MPI_REQUEST_NULL) take_ahead();
    }
    send_progress(true);
    // Wait for rank 0's acknowledgement, draining a stop it may have sent meanwhile, so no
    // message is left unreceived.
    while (true) {
      std::array<std::uint64_t, 2> msg{};
      MPI_Status st{};
      mpi::check(MPI_Recv(msg.data(), 2, MPI_UINT64_T, 0, MPI_ANY_TAG, comm_.get(), &st),
                 "MPI_Recv(final)");
      if (st.MPI_TAG == kFinal) {
        if (msg[0] != 0) failure_limit_ = true;
        break;
      }
      if (st.MPI_TAG == kStop) stop_known_ = true;
    }
    return;
  }
  local_finished_ = true;
  if (coordinator_.joinable()) coordinator_.join();
}

std::uint64_t Dispatcher::done_total() const { return done_local_.load() + done_remote_.load(); }

void Dispatcher::on_tick(std::function<void(std::uint64_t)> tick,
                         std::chrono::milliseconds interval) {
  std::lock_guard lock(tick_mutex_);
  tick_ = std::move(tick);
  tick_interval_ = interval;
}

void Dispatcher::stop_all() {
  if (stopping_) return;
  stopping_ = true;
  stop_known_ = true;
  std::uint64_t dummy = 0;
  for (int r = 1; r < size_; ++r) {
    if (rank_done_[static_cast<std::size_t>(r)] == 0) {
      MPI_Send(&dummy, 1, MPI_UINT64_T, r, kStop, comm_.get());
    }
  }
}

void Dispatcher::serve() {
  using clock = std::chrono::steady_clock;
  int ranks_done = 0;
  auto backoff = std::chrono::microseconds(10);
  auto next_tick = clock::now();
  const auto update_remote = [this] {
    std::uint64_t done = 0;
    std::uint64_t failed = 0;
    for (std::size_t r = 1; r < done_by_rank_.size(); ++r) {
      done += done_by_rank_[r];
      failed += failed_by_rank_[r];
    }
    done_remote_.store(done);
    failed_remote_.store(failed);
  };
  while (!(local_finished_.load() && ranks_done == size_ - 1)) {
    // A stop known here (signal, fatal error, failures over the limit) goes to every rank.
    const bool over_limit =
        opt_.max_failures > 0 && failed_local_.load() + failed_remote_.load() >= opt_.max_failures;
    if (over_limit) failure_limit_ = true;
    if (!stopping_ && (stop_known_.load() || stop_requested() || over_limit)) {
      std::lock_guard lock(mutex_);
      stop_all();
    }
    int flag = 0;
    MPI_Status st{};
    if (size_ > 1) MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_.get(), &flag, &st);
    if (flag != 0) {
      std::array<std::uint64_t, 3> msg{0, 0, 0};
      MPI_Recv(msg.data(), 3, MPI_UINT64_T, st.MPI_SOURCE, st.MPI_TAG, comm_.get(),
               MPI_STATUS_IGNORE);
      const auto src = static_cast<std::size_t>(st.MPI_SOURCE);
      if (st.MPI_TAG == kClaim) {
        failed_by_rank_[src] = std::max(failed_by_rank_[src], msg[1]);
        update_remote();
        // In the end game a claim made ahead waits until its rank needs it: what is left goes to
        // whoever is free first, and the last items one at a time.
        if (msg[2] != 0 && end_game()) {
          held_[src] = std::max<std::uint64_t>(msg[0], 1);
        } else {
          answer_claim(st.MPI_SOURCE, msg[0]);
        }
      } else if (st.MPI_TAG == kNeed) {
        if (held_[src] != 0) answer_claim(st.MPI_SOURCE, std::exchange(held_[src], 0));
      } else if (st.MPI_TAG == kStopRequest) {
        std::lock_guard lock(mutex_);
        stop_all();
      } else {
        done_by_rank_[src] = msg[0];
        failed_by_rank_[src] = msg[1];
        update_remote();
        if (st.MPI_TAG == kDone) {
          ++ranks_done;
          rank_done_[src] = 1;
          const bool limit = opt_.max_failures > 0 &&
                             failed_local_.load() + failed_remote_.load() >= opt_.max_failures;
          std::array<std::uint64_t, 2> ack{limit ? 1U : 0U, 0};
          MPI_Send(ack.data(), 2, MPI_UINT64_T, st.MPI_SOURCE, kFinal, comm_.get());
        }
      }
      backoff = std::chrono::microseconds(10);
      continue;
    }
    const auto now = clock::now();
    if (now >= next_tick) {
      std::lock_guard lock(tick_mutex_);
      if (tick_) tick_(done_total());
      next_tick = now + tick_interval_;
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::microseconds(1000));
  }
  if (opt_.max_failures > 0 && failed_local_.load() + failed_remote_.load() >= opt_.max_failures) {
    failure_limit_ = true;
  }
}

}  // namespace pmap
