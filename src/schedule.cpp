#include "pmap/schedule.hpp"

#include <algorithm>
#include <array>
#include <string>

#include "pmap/error.hpp"

namespace pmap {
namespace {

enum Tag : int { kClaim = 101, kGrant = 102, kProgress = 103, kDone = 104 };

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
  cyclic_chunk_ = opt_.chunk > 0 ? opt_.chunk : auto_cyclic_chunk(opt_.items, size_);
  if (rank_ == 0) {
    done_by_rank_.assign(static_cast<std::size_t>(size_), 0);
    coordinator_ = std::thread([this] { serve(); });
  }
}

Dispatcher::~Dispatcher() {
  if (coordinator_.joinable()) {
    local_finished_ = true;
    coordinator_.join();
  }
}

std::optional<Chunk> Dispatcher::grant(std::uint64_t desired) {
  if (next_ >= opt_.items) return std::nullopt;
  const std::uint64_t remaining = opt_.items - next_;
  std::uint64_t size = 0;
  if (opt_.schedule == Schedule::Guided) {
    const std::uint64_t min_chunk =
        opt_.chunk > 0 ? opt_.chunk : std::min(desired, balance_cap(opt_.items, opt_.workers));
    size = guided_chunk(remaining, opt_.workers, min_chunk);
  } else {
    size = opt_.chunk > 0 ? opt_.chunk : std::min(desired, balance_cap(opt_.items, opt_.workers));
  }
  size = std::clamp<std::uint64_t>(size, 1, remaining);
  const Chunk c{next_, next_ + size};
  next_ += size;
  return c;
}

std::optional<Chunk> Dispatcher::next(std::uint64_t desired) {
  desired = std::clamp<std::uint64_t>(desired, 1, kMaxChunk);
  switch (opt_.schedule) {
    case Schedule::Static: {
      const std::uint64_t step = opt_.chunk > 0 ? opt_.chunk : desired;
      const std::uint64_t b = mine_.begin + cursor_.fetch_add(step);
      if (b >= mine_.end || b < mine_.begin) return std::nullopt;
      return Chunk{b, std::min(mine_.end, b + step)};
    }
    case Schedule::Cyclic:
      return cyclic_chunk(opt_.items, cyclic_chunk_, size_, rank_, cursor_.fetch_add(1));
    case Schedule::Dynamic:
    case Schedule::Guided:
      break;
  }
  std::lock_guard lock(mutex_);
  if (rank_ == 0) return grant(desired);
  if (exhausted_) return std::nullopt;
  std::uint64_t request = opt_.chunk > 0 ? opt_.chunk : desired;
  mpi::check(MPI_Send(&request, 1, MPI_UINT64_T, 0, kClaim, comm_.get()), "MPI_Send(claim)");
  std::array<std::uint64_t, 2> reply{};
  mpi::check(MPI_Recv(reply.data(), 2, MPI_UINT64_T, 0, kGrant, comm_.get(), MPI_STATUS_IGNORE),
             "MPI_Recv(grant)");
  if (reply[0] >= reply[1]) {
    exhausted_ = true;
    return std::nullopt;
  }
  return Chunk{reply[0], reply[1]};
}

void Dispatcher::add_done(std::uint64_t items) {
  done_local_.fetch_add(items, std::memory_order_relaxed);
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
  std::uint64_t done = done_local_.load();
  mpi::check(MPI_Send(&done, 1, MPI_UINT64_T, 0, final ? kDone : kProgress, comm_.get()),
             "MPI_Send(progress)");
}

void Dispatcher::finish() {
  if (finished_) return;
  finished_ = true;
  if (rank_ != 0) {
    send_progress(true);
    return;
  }
  local_finished_ = true;
  if (coordinator_.joinable()) coordinator_.join();
}

std::uint64_t Dispatcher::done_total() const {
  return done_local_.load() + done_remote_.load();
}

void Dispatcher::on_tick(std::function<void(std::uint64_t)> tick,
                         std::chrono::milliseconds interval) {
  std::lock_guard lock(tick_mutex_);
  tick_ = std::move(tick);
  tick_interval_ = interval;
}

void Dispatcher::serve() {
  using clock = std::chrono::steady_clock;
  int ranks_done = 0;
  auto backoff = std::chrono::microseconds(10);
  auto next_tick = clock::now();
  const auto update_remote = [this] {
    std::uint64_t sum = 0;
    for (std::size_t r = 1; r < done_by_rank_.size(); ++r) sum += done_by_rank_[r];
    done_remote_.store(sum);
  };
  while (!(local_finished_.load() && ranks_done == size_ - 1)) {
    int flag = 0;
    MPI_Status st{};
    if (size_ > 1) MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_.get(), &flag, &st);
    if (flag != 0) {
      std::uint64_t value = 0;
      MPI_Recv(&value, 1, MPI_UINT64_T, st.MPI_SOURCE, st.MPI_TAG, comm_.get(), MPI_STATUS_IGNORE);
      if (st.MPI_TAG == kClaim) {
        std::array<std::uint64_t, 2> reply{0, 0};
        {
          std::lock_guard lock(mutex_);
          if (auto c = grant(value)) reply = {c->begin, c->end};
        }
        MPI_Send(reply.data(), 2, MPI_UINT64_T, st.MPI_SOURCE, kGrant, comm_.get());
        remote_claims_.fetch_add(1, std::memory_order_relaxed);
      } else {
        done_by_rank_[static_cast<std::size_t>(st.MPI_SOURCE)] = value;
        update_remote();
        if (st.MPI_TAG == kDone) ++ranks_done;
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
}

}  // namespace pmap
