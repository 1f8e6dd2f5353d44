// pmap — one worker process (internal): a long-lived child that speaks the worker protocol over
// its stdin and stdout. It owns the child (its process group dies with it) and the three pipes;
// writes never block (stdin is non-blocking, pumped with poll), stdout arrives as whole lines and
// stderr is kept as a bounded tail for the messages of failures.
//
//   WorkerProcess w(argv, env, header);   // started, not yet ready
//   w.handshake(60, stop);                // throws WorkerFailure with stderr when it cannot start
//   w.send(lines); w.pump(20); while (auto line = w.next_line()) ...
#pragma once

#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "detail/child_process.hpp"

namespace pmap::detail {

/// A worker process that is gone or broke the protocol; what() says how (exit status or signal,
/// the tail of its stderr).
class WorkerFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class WorkerProcess {
 public:
  /// Starts argv with env; `header` is queued as the first input. Throws ItemError when the
  /// program cannot be started (not found, not executable).
  WorkerProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                std::string header);
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  /// Waits for the worker's handshake line, at most `timeout` seconds (or until `stop`); throws
  /// WorkerFailure when it exits, answers something else or stays silent.
  void handshake(double timeout, const std::atomic<bool>* stop);

  /// True when the worker's handshake offered `feature` ("ranges").
  [[nodiscard]] bool offers(std::string_view feature) const;

  /// Queues bytes for the worker's stdin.
  void send(std::string_view bytes) { out_.append(bytes); }
  /// Bytes queued and not yet written.
  [[nodiscard]] std::size_t unsent() const noexcept { return out_.size() - out_at_; }
  /// Waits up to timeout_ms for the worker, writes what it can and reads what is there. False
  /// once the worker closed its stdout or exited (then: dead()).
  bool pump(int timeout_ms);
  /// The next complete line of stdout (without its LF), valid until the next pump().
  std::optional<std::string_view> next_line();
  /// Kills the process group, reaps the worker and returns how it ended ("exit status 1",
  /// "killed by signal 9 (SIGKILL)"), with "; stderr: ..." when it wrote any.
  std::string kill_and_describe();
  /// The tail of its stderr as one line ("" when it wrote nothing).
  [[nodiscard]] std::string stderr_text() const { return stderr_summary(err_tail_.text()); }
  /// Closes its stdin: a worker exits at end of input.
  void close_input() noexcept { in_.reset(); }
  /// Waits up to `seconds` for the worker to exit on its own; true if it did.
  bool wait_exit(double seconds);
  [[nodiscard]] pid_t pid() const noexcept { return child_.pid(); }

 private:
  struct Started;
  static Started start(const std::vector<std::string>& argv, const std::vector<std::string>& env);
  WorkerProcess(Started&& started, std::string header);
  void write_some();
  bool read_stdout();
  void read_stderr();

  Fd in_, out_fd_, err_fd_, pidfd_;
  Child child_;
  std::string out_;  // queued input
  std::size_t out_at_ = 0;
  std::string lines_;  // stdout read, lines not yet taken
  std::size_t lines_at_ = 0;
  Tail err_tail_{4096};
  std::string handshake_;  // the worker's handshake line
  bool stdout_open_ = true;
  bool exited_ = false;
};

}  // namespace pmap::detail
