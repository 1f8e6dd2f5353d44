// pmap — child processes (internal): a program started without a shell in a process group of its
// own, with only stdin, stdout and stderr, and killed when the thread that started it ends
// (PR_SET_PDEATHSIG: kill -9 of pmap takes its children along); the descriptors, the child and
// its group owned by RAII. The exec kernel starts one per item, the worker kernel one per thread.
//
//   Pipe out, err;
//   Child child(spawn({argv, child_environment(false, {}), -1, out.write.get(), err.write.get()}));
//   out.write.reset();  // the child holds its own copy
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pmap::detail {

/// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const noexcept { return fd_; }
  void reset() noexcept;

 private:
  int fd_ = -1;
};

/// A pipe whose ends are close-on-exec in this process (other threads' children never inherit
/// them); a child gets its end as 0, 1 or 2. Throws ItemError when no pipe can be made.
struct Pipe {
  Fd read, write;
  Pipe();
};

/// A child that leads its own process group. Unless it was reaped, the destructor kills the
/// whole group and reaps the child: no zombie or orphan survives an exception.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child();
  Child(Child&& o) noexcept
      : pid_(std::exchange(o.pid_, -1)), reaped_(std::exchange(o.reaped_, true)) {}
  Child& operator=(Child&&) = delete;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// Signals the child's process group.
  void kill_group(int sig) const noexcept;
  /// True once the child has exited (not reaped: its pid, and so its process group id, stay
  /// reserved while it is a zombie, so kill_group cannot hit a recycled group).
  [[nodiscard]] bool exited() const noexcept;
  /// Reaps the child (waiting for it); returns its wait status.
  int reap();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

/// The last `cap` bytes written to a stream.
class Tail {
 public:
  explicit Tail(std::size_t cap) : cap_(cap) {}
  void append(const char* data, std::size_t n);
  /// The kept bytes (at most 2 x cap).
  [[nodiscard]] std::string_view text() const noexcept { return buf_; }
  [[nodiscard]] std::uint64_t total() const noexcept { return total_; }
  void clear() noexcept {
    buf_.clear();
    total_ = 0;
  }

 private:
  std::size_t cap_;
  std::string buf_;
  std::uint64_t total_ = 0;
};

/// What to start: argv[0] is looked up in PATH unless it holds a '/'; the descriptors become the
/// child's 0, 1 and 2 (stdin -1: /dev/null).
struct SpawnSpec {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
};

/// Starts the child: its own process group, default signal dispositions and an empty signal
/// mask, no descriptor but 0-2, SIGKILL when the calling thread ends. Throws ItemError ("cannot
/// run 'prog': No such file or directory") when it cannot start.
pid_t spawn(const SpawnSpec& spec);

/// This process's environment without the MPI launcher's variables (OMPI_*, PMIX_*, PMI_*,
/// HYDRA_*) unless `keep_mpi` (a program that links MPI then starts as its own singleton instead
/// of trying to join this job), with `set` ("NAME=value") replacing or adding variables.
std::vector<std::string> child_environment(bool keep_mpi, const std::vector<std::string>& set);

/// pidfd of `pid` (Linux >= 5.3), or -1: then exits are noticed by polling.
int open_pidfd(pid_t pid);

/// "killed by signal 9 (SIGKILL)".
std::string signal_text(int sig);

/// "exit status 3" or "killed by signal 11 (SIGSEGV)" for a wait status.
std::string wait_status_text(int wait_status);

/// The tail of stderr as one line for the error table: the last lines joined with " | ", at most
/// 1,000 characters (cut at a line boundary when there is one).
std::string stderr_summary(std::string_view text);

}  // namespace pmap::detail
