#include "pmap/schedule.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <exception>
#include <string>
#include <utility>

#include "pmap/error.hpp"

namespace pmap {
namespace {

// The Dispatcher's own messages, on its own communicator: {desired, ahead} claims, {begin, end}
// grants, and the finish handshake.
enum Tag : int {
  kClaim = 101,
  kGrant = 102,
  kDone = 104,   // a rank > 0 has finished its work
  kFinal = 107,  // rank 0's acknowledgement of kDone
  kNeed = 108    // a rank now needs the chunk it claimed ahead (rank 0 may hold such claims back)
};

}  // namespace

Schedule parse_schedule(std::string_view text) {
  if (text == "static") return Schedule::Static;
  if (text == "cyclic") return Schedule::Cyclic;
  if (text == "dynamic") return Schedule::Dynamic;
  if (text == "guided") return Schedule::Guided;
  throw UsageError("schedule", std::string(text),
                   "unknown schedule (use static, cyclic, dynamic or guided)");
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
  if (rank_ == 0 && coordinated()) {
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
    ranks_done_ = size_ - 1;  // unwinding: do not wait for the other ranks
    coordinator_.join();
  }
}

bool Dispatcher::coordinated() const noexcept {
  return size_ > 1 && (opt_.schedule == Schedule::Dynamic || opt_.schedule == Schedule::Guided);
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
  if (stopped() || next_ >= back_) return std::nullopt;
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

std::optional<Chunk> Dispatcher::next(std::uint64_t desired) {
  desired = std::clamp<std::uint64_t>(desired, 1, kMaxChunk);
  if (stopped()) return std::nullopt;
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
  return next_remote(desired);
}

std::optional<Chunk> Dispatcher::next_remote(std::uint64_t desired) {
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
  // unstarted work while another idles.
  if (opt_.claim_ahead) claim_ahead(desired, true);
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
  std::array<std::uint64_t, 2> request{opt_.chunk > 0 ? opt_.chunk : desired, ahead ? 1U : 0U};
  ahead_held_ = ahead;
  mpi::check(MPI_Irecv(ahead_grant_.data(), 2, MPI_UINT64_T, 0, kGrant, comm_.get(), &ahead_),
             "MPI_Irecv(grant)");
  mpi::check(MPI_Send(request.data(), 2, MPI_UINT64_T, 0, kClaim, comm_.get()), "MPI_Send(claim)");
}

Chunk Dispatcher::take_ahead() {
  int arrived = 0;
  mpi::check(MPI_Test(&ahead_, &arrived, MPI_STATUS_IGNORE), "MPI_Test(grant)");
  if (arrived == 0 && ahead_held_) {
    // Rank 0 may be holding the claim back (end game): say that it is needed now.
    std::uint64_t zero = 0;
    mpi::check(MPI_Send(&zero, 1, MPI_UINT64_T, 0, kNeed, comm_.get()), "MPI_Send(need)");
  }
  // Sleep, not spin, while the grant travels: oversubscribed ranks would take the cores from the
  // ranks still computing.
  if (arrived == 0) mpi::wait_sleeping(ahead_);
  ahead_ = MPI_REQUEST_NULL;
  return Chunk{ahead_grant_[0], ahead_grant_[1]};
}

void Dispatcher::finish() {
  if (finished_) return;
  finished_ = true;
  if (!coordinated()) return;
  if (rank_ == 0) {
    local_finished_ = true;
    if (coordinator_.joinable()) coordinator_.join();
    if (service_error_) std::rethrow_exception(std::exchange(service_error_, nullptr));
    return;
  }
  std::lock_guard lock(mutex_);
  // A claim still in flight (the rank stopped early: a signal, the deadline, an error) is
  // answered before the rank reports done; a chunk granted to it stays "not run".
  if (ahead_ != MPI_REQUEST_NULL) take_ahead();
  std::uint64_t zero = 0;
  MPI_Request ack = MPI_REQUEST_NULL;
  mpi::check(MPI_Irecv(&zero, 1, MPI_UINT64_T, 0, kFinal, comm_.get(), &ack), "MPI_Irecv(final)");
  mpi::check(MPI_Send(&zero, 1, MPI_UINT64_T, 0, kDone, comm_.get()), "MPI_Send(done)");
  mpi::wait_sleeping(ack);
}

// --- rank 0: the coordinator --------------------------------------------------------------------

void Dispatcher::answer_claim(int source, std::uint64_t desired) {
  std::array<std::uint64_t, 2> reply{0, 0};
  {
    std::lock_guard lock(mutex_);
    if (auto c = grant(desired)) reply = {c->begin, c->end};
  }
  mpi::check(MPI_Send(reply.data(), 2, MPI_UINT64_T, source, kGrant, comm_.get()),
             "MPI_Send(grant)");
  remote_claims_.fetch_add(1, std::memory_order_relaxed);
}

bool Dispatcher::end_game() {
  std::lock_guard lock(mutex_);
  return back_ - next_ <= 2 * static_cast<std::uint64_t>(opt_.workers);
}

void Dispatcher::handle(const MPI_Status& status, const std::array<std::uint64_t, 2>& msg) {
  const auto src = static_cast<std::size_t>(status.MPI_SOURCE);
  switch (status.MPI_TAG) {
    case kClaim:
      // In the end game a claim made ahead waits until its rank needs it: what is left goes to
      // whoever is free first, and the last items one at a time. A stopped job answers at once.
      if (msg[1] != 0 && end_game() && !stopped()) {
        held_[src] = std::max<std::uint64_t>(msg[0], 1);
      } else {
        answer_claim(status.MPI_SOURCE, msg[0]);
      }
      break;
    case kNeed:
      if (held_[src] != 0) answer_claim(status.MPI_SOURCE, std::exchange(held_[src], 0));
      break;
    case kDone: {
      ++ranks_done_;
      std::uint64_t zero = 0;
      mpi::check(MPI_Send(&zero, 1, MPI_UINT64_T, status.MPI_SOURCE, kFinal, comm_.get()),
                 "MPI_Send(final)");
      break;
    }
    default:
      break;
  }
}

void Dispatcher::serve() {
  auto backoff = std::chrono::microseconds(10);
  try {
    while (!(local_finished_.load() && ranks_done_ >= size_ - 1)) {
      int flag = 0;
      MPI_Status st{};
      mpi::check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_.get(), &flag, &st), "MPI_Iprobe");
      if (flag != 0) {
        std::array<std::uint64_t, 2> msg{0, 0};
        mpi::check(MPI_Recv(msg.data(), 2, MPI_UINT64_T, st.MPI_SOURCE, st.MPI_TAG, comm_.get(),
                            MPI_STATUS_IGNORE),
                   "MPI_Recv(claim)");
        handle(st, msg);
        backoff = std::chrono::microseconds(10);
        continue;
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::microseconds(1000));
    }
  } catch (...) {
    service_error_ = std::current_exception();  // finish() throws it on rank 0
  }
  // What serving the other ranks cost rank 0: this thread's CPU time, polling included.
  timespec cpu{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0) {
    coordinator_seconds_ = static_cast<double>(cpu.tv_sec) + 1e-9 * static_cast<double>(cpu.tv_nsec);
  }
}

}  // namespace pmap
