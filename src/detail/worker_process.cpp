#include "detail/worker_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "detail/worker_protocol.hpp"
#include "pmap/error.hpp"

namespace pmap::detail {
namespace {

using Clock = std::chrono::steady_clock;

/// SIGPIPE blocked in this thread while it writes to a worker that may have died: the write
/// fails with EPIPE instead of killing pmap, and a SIGPIPE left pending is consumed.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    if (broken_) {
      const timespec zero{};
      while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;
  void broken() noexcept { broken_ = true; }

 private:
  sigset_t pipe_{}, old_{};
  bool broken_ = false;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

/// The parent's ends of a started worker's pipes.
struct WorkerProcess::Started {
  Fd in, out, err;
  pid_t pid = -1;
};

WorkerProcess::Started WorkerProcess::start(const std::vector<std::string>& argv,
                                            const std::vector<std::string>& env) {
  Pipe in, out, err;
  const pid_t pid = spawn({argv, env, in.read.get(), out.write.get(), err.write.get()});
  // The child holds its own copies of its ends; ours close here, so EOF means it is gone.
  return {std::move(in.write), std::move(out.read), std::move(err.read), pid};
}

WorkerProcess::WorkerProcess(const std::vector<std::string>& argv,
                             const std::vector<std::string>& env, std::string header)
    : WorkerProcess(start(argv, env), std::move(header)) {}

WorkerProcess::WorkerProcess(Started&& s, std::string header)
    : in_(std::move(s.in)),
      out_fd_(std::move(s.out)),
      err_fd_(std::move(s.err)),
      pidfd_(open_pidfd(s.pid)),
      child_(s.pid),
      out_(std::move(header)) {
  ::fcntl(in_.get(), F_SETFL, ::fcntl(in_.get(), F_GETFL) | O_NONBLOCK);
}

WorkerProcess::~WorkerProcess() = default;  // Child kills the group and reaps

void WorkerProcess::write_some() {
  if (in_.get() < 0 || unsent() == 0) return;
  SigpipeBlock block;
  while (unsent() > 0) {
    const ssize_t n = ::write(in_.get(), out_.data() + out_at_, unsent());
    if (n > 0) {
      out_at_ += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {  // EPIPE: the worker is gone; stdout's EOF tells
      block.broken();
      in_.reset();
    }
    break;
  }
  if (out_at_ == out_.size()) {
    out_.clear();
    out_at_ = 0;
  } else if (out_at_ > (1U << 20)) {
    out_.erase(0, out_at_);
    out_at_ = 0;
  }
}

bool WorkerProcess::read_stdout() {
  if (lines_at_ > 0) {
    lines_.erase(0, lines_at_);
    lines_at_ = 0;
  }
  char buf[65536];
  const ssize_t n = ::read(out_fd_.get(), buf, sizeof buf);
  if (n > 0) {
    lines_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  if (n == 0 || (errno != EINTR && errno != EAGAIN)) stdout_open_ = false;
  return false;
}

void WorkerProcess::read_stderr() {
  char buf[4096];
  const ssize_t n = ::read(err_fd_.get(), buf, sizeof buf);
  if (n > 0) {
    err_tail_.append(buf, static_cast<std::size_t>(n));
  } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
    err_fd_.reset();
  }
}

bool WorkerProcess::pump(int timeout_ms) {
  write_some();
  if (!stdout_open_ || exited_) return false;
  pollfd fds[4];
  nfds_t n = 0;
  fds[n++] = {out_fd_.get(), POLLIN, 0};
  const bool want_err = err_fd_.get() >= 0;
  if (want_err) fds[n++] = {err_fd_.get(), POLLIN, 0};
  const bool want_in = in_.get() >= 0 && unsent() > 0;
  if (want_in) fds[n++] = {in_.get(), POLLOUT, 0};
  const bool want_pid = pidfd_.get() >= 0;
  if (want_pid) fds[n++] = {pidfd_.get(), POLLIN, 0};
  if (::poll(fds, n, timeout_ms) < 0 && errno != EINTR) {
    throw WorkerFailure(std::string("poll failed: ") + std::strerror(errno));
  }
  nfds_t i = 0;
  const short out_ev = fds[i++].revents;
  const short err_ev = want_err ? fds[i++].revents : 0;
  const short in_ev = want_in ? fds[i++].revents : 0;
  const short pid_ev = want_pid ? fds[i++].revents : 0;
  if (err_ev != 0) read_stderr();
  if (in_ev != 0) write_some();
  // Results first: a worker that answered and then exited still gets its answers counted.
  if (out_ev != 0) {
    while (read_stdout() && lines_.size() - lines_at_ < (1U << 22)) {
      pollfd more{out_fd_.get(), POLLIN, 0};
      if (::poll(&more, 1, 0) <= 0) break;
    }
  }
  if (pid_ev != 0 || (!want_pid && child_.exited())) exited_ = true;
  return stdout_open_ && !exited_;
}

std::optional<std::string_view> WorkerProcess::next_line() {
  const auto nl = lines_.find('\n', lines_at_);
  if (nl == std::string::npos) return std::nullopt;
  const std::string_view line(lines_.data() + lines_at_, nl - lines_at_);
  lines_at_ = nl + 1;
  return line;
}

void WorkerProcess::handshake(double timeout, const std::atomic<bool>* stop) {
  const auto t0 = Clock::now();
  while (true) {
    if (const auto line = next_line()) {
      if (worker_protocol::is_handshake(*line)) {
        handshake_ = std::string(*line);
        return;
      }
      const std::string got = worker_protocol::quote_line(*line);
      throw WorkerFailure("it answered " + got + " instead of the handshake line 'pmap-worker\\t" +
                          std::to_string(worker_protocol::kVersion) + "' (" + kill_and_describe() +
                          ")");
    }
    if (stop != nullptr && stop->load()) throw WorkerFailure("stopped while it started");
    if (seconds_since(t0) > timeout) {
      throw WorkerFailure("no handshake line within " + std::to_string(timeout) + " s (" +
                          kill_and_describe() + ")");
    }
    if (!pump(20) && lines_.find('\n', lines_at_) == std::string::npos) {
      throw WorkerFailure("it ended before its handshake line: " + kill_and_describe());
    }
  }
}

bool WorkerProcess::offers(std::string_view feature) const {
  return worker_protocol::offers(handshake_, feature);
}

std::string WorkerProcess::kill_and_describe() {
  child_.kill_group(SIGKILL);
  const int status = child_.reap();
  // What it wrote to stderr before it died is in the pipe still (nobody else holds it now).
  for (int i = 0; i < 64 && err_fd_.get() >= 0; ++i) {
    pollfd p{err_fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) break;
    read_stderr();
  }
  std::string text = wait_status_text(status);
  const std::string err = stderr_summary(err_tail_.text());
  if (!err.empty()) text += "; stderr: " + err;
  return text;
}

bool WorkerProcess::wait_exit(double seconds) {
  const auto t0 = Clock::now();
  while (!child_.exited()) {
    if (seconds_since(t0) >= seconds) return false;
    if (pidfd_.get() >= 0) {
      pollfd p{pidfd_.get(), POLLIN, 0};
      ::poll(&p, 1, 10);
    } else {
      ::usleep(2000);
    }
  }
  return true;
}

}  // namespace pmap::detail
