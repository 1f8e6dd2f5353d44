// Children are started with clone(CLONE_VM | CLONE_VFORK), as posix_spawn does internally, so
// that the child can ask for PR_SET_PDEATHSIG before it runs the program (posix_spawn has no such
// attribute). Between clone and execve the child shares pmap's memory and runs only system calls
// on a stack of its own, with every signal blocked until its dispositions are back to default
// (pmap's handlers must never run in it). Everything it needs is prepared before the clone.
#include "detail/child_process.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "pmap/error.hpp"

extern char** environ;

namespace pmap::detail {

void Fd::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Pipe::Pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    throw ItemError(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  read = Fd(fds[0]);
  write = Fd(fds[1]);
}

Child::~Child() {
  if (pid_ <= 0 || reaped_) return;
  ::kill(-pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

void Child::kill_group(int sig) const noexcept {
  if (pid_ > 0 && !reaped_) ::kill(-pid_, sig);
}

bool Child::exited() const noexcept {
  if (pid_ <= 0 || reaped_) return true;
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return errno == ECHILD;
  }
  return info.si_pid == pid_;
}

int Child::reap() {
  int status = 0;
  if (pid_ <= 0 || reaped_) return status;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) break;
  }
  reaped_ = true;
  return status;
}

void Tail::append(const char* data, std::size_t n) {
  total_ += n;
  if (n >= cap_) {
    buf_.assign(data + (n - cap_), cap_);
    return;
  }
  buf_.append(data, n);
  if (buf_.size() > 2 * cap_) buf_.erase(0, buf_.size() - cap_);
}

namespace {

/// What the child needs between clone and execve, all prepared by the parent.
struct Launch {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int fds[3] = {-1, -1, -1};
  pid_t parent = 0;
  long max_fd = 1024;
  int error = 0;  ///< errno of the step that failed in the child (shared memory)
};

/// The child side: system calls only, then execve or _exit.
int child_main(void* arg) {
  auto* l = static_cast<Launch*>(arg);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != l->parent) {
    l->error = errno != 0 ? errno : ESRCH;
    ::_exit(127);
  }
  ::setpgid(0, 0);  // its own process group: killed as a whole
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s) ::sigaction(s, &dfl, nullptr);  // fails harmlessly on some
  const int in = l->fds[0] >= 0 ? l->fds[0] : ::open("/dev/null", O_RDONLY);
  if (in < 0 || ::dup2(in, 0) < 0 || ::dup2(l->fds[1], 1) < 0 || ::dup2(l->fds[2], 2) < 0) {
    l->error = errno;
    ::_exit(127);
  }
  // The program gets stdin, stdout and stderr only, not MPI's sockets or the HDF5 file.
  if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
    for (long fd = 3; fd < l->max_fd; ++fd) ::close(static_cast<int>(fd));
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(l->path, l->argv, l->envp);
  l->error = errno;
  ::_exit(127);
}

/// argv[0] as a path: itself when it holds a '/', else the first executable file of that name in
/// PATH (this process's, as a shell would search it); empty when there is none.
std::string find_program(const std::string& name, int& error) {
  error = ENOENT;
  if (name.empty()) return {};
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  const std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t from = 0;
  while (from <= dirs.size()) {
    const auto colon = dirs.find(':', from);
    std::string dir = dirs.substr(from, colon == std::string::npos ? dirs.npos : colon - from);
    const std::string full = (dir.empty() ? std::string(".") : dir) + "/" + name;
    struct stat st {};
    if (::stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (::access(full.c_str(), X_OK) == 0) return full;
      error = EACCES;
    }
    if (colon == std::string::npos) break;
    from = colon + 1;
  }
  return {};
}

}  // namespace

pid_t spawn(const SpawnSpec& spec) {
  const std::string name = spec.argv.empty() ? std::string() : spec.argv[0];
  const auto fail = [&](int error) {
    return ItemError("cannot run '" + name + "': " + std::strerror(error));
  };
  int error = 0;
  const std::string path = find_program(name, error);
  if (path.empty()) throw fail(error);
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  Launch launch;
  launch.path = path.c_str();
  launch.argv = argv.data();
  launch.envp = envp.data();
  launch.fds[0] = spec.stdin_fd;
  launch.fds[1] = spec.stdout_fd;
  launch.fds[2] = spec.stderr_fd;
  launch.parent = ::getpid();
  launch.max_fd = std::max(3L, std::min(::sysconf(_SC_OPEN_MAX), 65536L));
  std::vector<char> stack(64 * 1024);
  auto top = reinterpret_cast<std::uintptr_t>(stack.data() + stack.size());
  top &= ~static_cast<std::uintptr_t>(63);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid =
      ::clone(child_main, reinterpret_cast<void*>(top), CLONE_VM | CLONE_VFORK | SIGCHLD, &launch);
  const int clone_error = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) throw fail(clone_error);
  if (launch.error != 0) {  // the child ran no program and exited: reap it
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    throw fail(launch.error);
  }
  return pid;
}

std::vector<std::string> child_environment(bool keep_mpi, const std::vector<std::string>& set) {
  const auto is_set = [&](std::string_view v) {
    for (const auto& s : set) {
      const auto eq = s.find('=');
      if (v.substr(0, v.find('=') + 1) == std::string_view(s).substr(0, eq + 1)) return true;
    }
    return false;
  };
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view v(*e);
    if (!keep_mpi && (v.starts_with("OMPI_") || v.starts_with("PMIX_") || v.starts_with("PMI_") ||
                      v.starts_with("HYDRA_") || v.starts_with("MPI_LOCALRANKID="))) {
      continue;
    }
    if (is_set(v)) continue;
    env.emplace_back(v);
  }
  env.insert(env.end(), set.begin(), set.end());
  return env;
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

std::string signal_text(int sig) {
  std::string text = "killed by signal " + std::to_string(sig);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* abbrev = sigabbrev_np(sig)) text += " (SIG" + std::string(abbrev) + ")";
#endif
  return text;
}

std::string wait_status_text(int wait_status) {
  if (WIFSIGNALED(wait_status)) return signal_text(WTERMSIG(wait_status));
  return "exit status " + std::to_string(WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1);
}

std::string stderr_summary(std::string_view text) {
  constexpr std::size_t kMax = 1000;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  std::string out;
  for (const char c : text) {
    if (c == '\n') {
      out += " | ";
    } else if (c != '\r') {
      out += c;
    }
  }
  if (out.size() > kMax) {
    out.erase(0, out.size() - kMax);
    const auto sep = out.find(" | ");
    if (sep != std::string::npos && sep + 3 < out.size()) out.erase(0, sep + 3);
  }
  return out;
}

}  // namespace pmap::detail
