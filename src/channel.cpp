#include "pmap/channel.hpp"

#include <algorithm>
#include <array>

#include "pmap/stop.hpp"

namespace pmap {
namespace {

// Messages are two uint64: (done, failed) counts, or (cause, 0).
enum Tag : int {
  kProgress = 201,     // rank > 0 -> 0: cumulative counts, rate-limited
  kReport = 202,       // rank > 0 -> 0: counts after a failure under a limit; answered kVerdict
  kVerdict = 203,      // 0 -> rank: (1 go on | 0 stop, cause)
  kStopRequest = 204,  // rank > 0 -> 0: (cause, 0)
  kStop = 205,         // 0 -> rank: (cause, 0)
  kFinal = 206,        // rank > 0 -> 0: last counts; kBye comes when every rank is final
  kBye = 207,          // 0 -> rank: nothing more will come; answered kByeAck
  kByeAck = 208,       // rank > 0 -> 0: nothing more will come from this rank
};

using Msg = std::array<std::uint64_t, 2>;
using clock_type = std::chrono::steady_clock;

}  // namespace

Channel::Channel(MPI_Comm comm, const ChannelOptions& options)
    : comm_(mpi::Comm::dup(comm)), opt_(options) {
  rank_ = comm_.rank();
  size_ = comm_.size();
  if (rank_ == 0) {
    done_by_rank_.assign(static_cast<std::size_t>(size_), 0);
    failed_by_rank_.assign(static_cast<std::size_t>(size_), 0);
    finished_by_rank_.assign(static_cast<std::size_t>(size_), 0);
    service_ = std::thread([this] { serve_root(); });
  } else {
    service_ = std::thread([this] { serve_other(); });
  }
}

Channel::~Channel() {
  // Unwinding without finish(): the service thread stops without waiting for the other ranks.
  if (!service_.joinable()) return;
  {
    std::lock_guard lock(wake_mutex_);
    finishing_ = true;
    abandon_ = true;
  }
  wake_.notify_all();
  service_.join();
}

bool Channel::add_done(std::uint64_t done, std::uint64_t failed) {
  done_.fetch_add(done, std::memory_order_relaxed);
  failed_.fetch_add(failed, std::memory_order_relaxed);
  if (opt_.failure_limit == 0 || failed == 0) return !stopping();
  if (rank_ == 0) {
    if (over_limit()) stop_locally(StopCause::FailureLimit);
    return !stopping();
  }
  // Rank 0 answers from the job's counts, so no chunk starts once the limit was reached.
  std::lock_guard lock(sync_mutex_);
  Msg msg{done_.load(), failed_.load()};
  Msg verdict{0, 0};
  MPI_Request request = MPI_REQUEST_NULL;
  mpi::check(MPI_Irecv(verdict.data(), 2, MPI_UINT64_T, 0, kVerdict, comm_.get(), &request),
             "MPI_Irecv(verdict)");
  send(msg.data(), kReport);
  mpi::wait_sleeping(request);
  if (verdict[0] == 0) stop_locally(static_cast<StopCause>(verdict[1]));
  return !stopping();
}

void Channel::request_stop(StopCause cause) {
  stop_locally(cause);
  stop_wanted_ = true;
  wake_.notify_all();
}

void Channel::stop_locally(StopCause cause) noexcept {
  StopCause none = StopCause::None;
  cause_.compare_exchange_strong(none, cause);
  stop_.store(true, std::memory_order_relaxed);
}

bool Channel::over_limit() const noexcept {
  return opt_.failure_limit > 0 && failed_.load() + failed_remote_.load() >= opt_.failure_limit;
}

std::uint64_t Channel::done_total() const noexcept {
  return done_.load(std::memory_order_relaxed) + done_remote_.load(std::memory_order_relaxed);
}

void Channel::on_tick(std::function<void(std::uint64_t)> tick, std::chrono::milliseconds interval) {
  std::lock_guard lock(tick_mutex_);
  tick_ = std::move(tick);
  tick_interval_ = interval;
}

void Channel::finish() {
  if (!service_.joinable()) return;
  {
    std::lock_guard lock(wake_mutex_);
    finishing_ = true;
  }
  wake_.notify_all();
  service_.join();
  if (service_error_) std::rethrow_exception(service_error_);
}

void Channel::send(const std::uint64_t* msg, int tag) {
  mpi::check(MPI_Send(msg, 2, MPI_UINT64_T, 0, tag, comm_.get()), "MPI_Send(channel)");
}

void Channel::nap(std::chrono::microseconds& backoff, std::chrono::microseconds cap) {
  std::unique_lock lock(wake_mutex_);
  wake_.wait_for(lock, backoff, [this] { return finishing_ || stop_wanted_.load(); });
  backoff = std::min(backoff * 2, cap);
}

// --- rank 0 -------------------------------------------------------------------------------------

void Channel::stop_all(StopCause cause) {
  stop_locally(cause);
  const Msg msg{static_cast<std::uint64_t>(cause_.load()), 0};
  for (int r = 1; r < size_; ++r) {
    if (finished_by_rank_[static_cast<std::size_t>(r)] == 0) {
      mpi::check(MPI_Send(msg.data(), 2, MPI_UINT64_T, r, kStop, comm_.get()), "MPI_Send(stop)");
    }
  }
}

void Channel::handle(const MPI_Status& status, const std::uint64_t* msg) {
  const auto src = static_cast<std::size_t>(status.MPI_SOURCE);
  if (status.MPI_TAG == kStopRequest) {
    if (!stopped_all_) stop_all(static_cast<StopCause>(msg[0]));
    stopped_all_ = true;
    return;
  }
  done_by_rank_[src] = std::max(done_by_rank_[src], msg[0]);
  failed_by_rank_[src] = std::max(failed_by_rank_[src], msg[1]);
  std::uint64_t done = 0, failed = 0;
  for (std::size_t r = 1; r < done_by_rank_.size(); ++r) {
    done += done_by_rank_[r];
    failed += failed_by_rank_[r];
  }
  done_remote_ = done;
  failed_remote_ = failed;
  if (over_limit()) stop_locally(StopCause::FailureLimit);
  if (status.MPI_TAG == kReport) {
    const Msg verdict{stopping() ? 0U : 1U, static_cast<std::uint64_t>(cause_.load())};
    mpi::check(MPI_Send(verdict.data(), 2, MPI_UINT64_T, status.MPI_SOURCE, kVerdict, comm_.get()),
               "MPI_Send(verdict)");
  } else if (status.MPI_TAG == kFinal) {
    finished_by_rank_[src] = 1;
    ++finals_;
  }
}

/// Every rank is final: each is told so, and what it sent before its answer is read (a stop
/// asked for on a rank that finished its share, too late to matter now, is not left unread).
void Channel::say_goodbye() {
  const Msg bye{0, 0};
  for (int r = 1; r < size_; ++r) {
    mpi::check(MPI_Send(bye.data(), 2, MPI_UINT64_T, r, kBye, comm_.get()), "MPI_Send(bye)");
  }
  for (int r = 1; r < size_; ++r) {
    Msg msg{0, 0};
    MPI_Status st{};
    do {
      MPI_Request request = MPI_REQUEST_NULL;
      mpi::check(MPI_Irecv(msg.data(), 2, MPI_UINT64_T, r, MPI_ANY_TAG, comm_.get(), &request),
                 "MPI_Irecv(bye)");
      mpi::wait_sleeping(request, &st);
    } while (st.MPI_TAG != kByeAck);
  }
}

void Channel::serve_root() noexcept {
  auto backoff = std::chrono::microseconds(20);
  auto next_tick = clock_type::now();
  try {
    while (true) {
      {
        std::lock_guard lock(wake_mutex_);
        if (abandon_) break;
        if (finishing_ && finals_ == size_ - 1) {
          say_goodbye();
          break;
        }
      }
      if (stop_requested() && !stopping()) stop_locally(StopCause::Signal);
      if (over_limit()) stop_locally(StopCause::FailureLimit);
      stop_wanted_ = false;
      if (stopping() && !stopped_all_) {
        stop_all(cause_.load());
        stopped_all_ = true;
      }
      int flag = 0;
      MPI_Status st{};
      if (size_ > 1) {
        mpi::check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_.get(), &flag, &st), "MPI_Iprobe");
      }
      if (flag != 0) {
        Msg msg{0, 0};
        mpi::check(MPI_Recv(msg.data(), 2, MPI_UINT64_T, st.MPI_SOURCE, st.MPI_TAG, comm_.get(),
                            MPI_STATUS_IGNORE),
                   "MPI_Recv(channel)");
        handle(st, msg.data());
        backoff = std::chrono::microseconds(20);
        continue;
      }
      const auto now = clock_type::now();
      if (now >= next_tick) {
        std::lock_guard lock(tick_mutex_);
        if (tick_) tick_(done_total());
        next_tick = now + tick_interval_;
      }
      nap(backoff, std::chrono::microseconds(1000));
    }
  } catch (...) {
    service_error_ = std::current_exception();
    stop_locally(StopCause::Error);
  }
}

// --- ranks > 0 ----------------------------------------------------------------------------------

void Channel::forward_stop() {
  if (stop_requested() && !stopping()) request_stop(StopCause::Signal);
  if (stop_wanted_.exchange(false)) {
    const Msg msg{static_cast<std::uint64_t>(cause_.load()), 0};
    send(msg.data(), kStopRequest);
  }
}

void Channel::serve_other() noexcept {
  auto backoff = std::chrono::microseconds(50);
  auto last_report = clock_type::now();
  Msg reported{0, 0};
  try {
    while (true) {
      {
        std::lock_guard lock(wake_mutex_);
        if (finishing_) break;
      }
      forward_stop();
      int flag = 0;
      mpi::check(MPI_Iprobe(0, kStop, comm_.get(), &flag, MPI_STATUS_IGNORE), "MPI_Iprobe");
      if (flag != 0) {
        Msg msg{0, 0};
        mpi::check(MPI_Recv(msg.data(), 2, MPI_UINT64_T, 0, kStop, comm_.get(), MPI_STATUS_IGNORE),
                   "MPI_Recv(stop)");
        stop_locally(static_cast<StopCause>(msg[0]));
      }
      const auto now = clock_type::now();
      const Msg counts{done_.load(), failed_.load()};
      if (counts != reported && now - last_report >= opt_.progress_interval) {
        send(counts.data(), kProgress);
        reported = counts;
        last_report = now;
      }
      nap(backoff, std::chrono::microseconds(2000));
    }
    if (abandon_) return;
    forward_stop();  // a stop asked for just before finish() still reaches every rank
    const Msg last{done_.load(), failed_.load()};
    send(last.data(), kFinal);
    wait_for_goodbye();
  } catch (...) {
    service_error_ = std::current_exception();
    stop_locally(StopCause::Error);
  }
}

/// After its final counts: drains what rank 0 sends until kBye, and forwards a stop asked for
/// here meanwhile (this rank's share is done, others may still run: one rank is enough).
void Channel::wait_for_goodbye() {
  Msg msg{0, 0};
  MPI_Status st{};
  MPI_Request request = MPI_REQUEST_NULL;
  auto pause = std::chrono::microseconds(5);
  while (true) {
    if (request == MPI_REQUEST_NULL) {
      mpi::check(MPI_Irecv(msg.data(), 2, MPI_UINT64_T, 0, MPI_ANY_TAG, comm_.get(), &request),
                 "MPI_Irecv(bye)");
    }
    int done = 0;
    mpi::check(MPI_Test(&request, &done, &st), "MPI_Test(bye)");
    if (done == 0) {
      forward_stop();
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(2000));
      continue;
    }
    if (st.MPI_TAG == kBye) break;
    if (st.MPI_TAG == kStop) stop_locally(static_cast<StopCause>(msg[0]));
  }
  const Msg ack{0, 0};
  send(ack.data(), kByeAck);
}

}  // namespace pmap
