// exec: runs one program per item, the GNU parallel / HPC launcher replacement.
//
//   pmap run --kernel exec --arg cmd='./simulate --x {} --out out/{#}.dat' --input params.txt
//
// The command template is split into argv once, like a shell would split it (quotes and
// backslashes), and the placeholders are substituted inside the words afterwards: the item's text
// is never split, expanded or interpreted, whatever it contains (spaces, quotes, `;`, `$()`).
// With shell=true the template runs under /bin/sh -c and every substituted value is single-quoted.
//
// Each child gets its own process group: a timeout (or a stop) sends SIGTERM, then SIGKILL after
// `grace` seconds, to the whole group, so grandchildren die too; when the program exits, whatever
// it left running in its group is killed as well. Only the last line of stdout (numbers, into
// /compute/value) and the tail of stderr (into the error message) are kept: output of any size
// costs a bounded amount of memory.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "builtin.hpp"
#include "pmap/error.hpp"

extern char** environ;

namespace pmap::kernels {
namespace {

using Clock = std::chrono::steady_clock;

// --- the command template -----------------------------------------------------------------------

/// What a placeholder stands for.
enum class Slot { Item, Row, NoExt, Base, Dir, BaseNoExt };

/// A piece of one word of the template: literal text or a placeholder.
struct Piece {
  bool literal = true;
  std::string text;
  Slot slot = Slot::Item;
};
using Word = std::vector<Piece>;

/// Recognises a placeholder at `s[i]`: {} {#} {.} {/} {//} {/.}; returns its length (0: none).
std::size_t placeholder_at(std::string_view s, std::size_t i, Slot& slot) {
  static constexpr std::pair<std::string_view, Slot> kSlots[] = {
      {"{}", Slot::Item},  {"{#}", Slot::Row},  {"{.}", Slot::NoExt},
      {"{/}", Slot::Base}, {"{//}", Slot::Dir}, {"{/.}", Slot::BaseNoExt}};
  for (const auto& [text, which] : kSlots) {
    if (s.substr(i, text.size()) == text) {
      slot = which;
      return text.size();
    }
  }
  return 0;
}

void add_char(Word& w, char c) {
  if (w.empty() || !w.back().literal) w.push_back({});
  w.back().text += c;
}

/// Splits the template into words the way a POSIX shell splits a simple command (whitespace,
/// '...', "..." with \ before " \ $ ` and newline, \ outside quotes), with no expansion of any
/// kind. Placeholders are recognised outside and inside quotes; `\{` is a literal brace.
std::vector<Word> split_template(std::string_view cmd) {
  std::vector<Word> words;
  Word word;
  bool in_word = false;
  const auto end_word = [&] {
    if (in_word) words.push_back(std::move(word));
    word.clear();
    in_word = false;
  };
  const auto fail = [&](const std::string& why) {
    return UsageError("args", "cmd=" + std::string(cmd), why);
  };
  for (std::size_t i = 0; i < cmd.size();) {
    const char c = cmd[i];
    Slot slot{};
    if (c == ' ' || c == '\t' || c == '\n') {
      end_word();
      ++i;
    } else if (c == '\\') {
      if (i + 1 >= cmd.size()) throw fail("ends with a lone backslash");
      in_word = true;
      add_char(word, cmd[i + 1]);
      i += 2;
    } else if (c == '\'') {
      const auto close = cmd.find('\'', i + 1);
      if (close == std::string_view::npos) throw fail("unbalanced single quote");
      in_word = true;
      for (std::size_t j = i + 1; j < close;) {
        if (const auto len = placeholder_at(cmd, j, slot); len > 0 && j + len <= close) {
          word.push_back({false, {}, slot});
          j += len;
        } else {
          add_char(word, cmd[j++]);
        }
      }
      i = close + 1;
    } else if (c == '"') {
      in_word = true;
      std::size_t j = i + 1;
      while (true) {
        if (j >= cmd.size()) throw fail("unbalanced double quote");
        const char d = cmd[j];
        if (d == '"') break;
        if (d == '\\' && j + 1 < cmd.size() &&
            std::string_view("\"\\$`\n").find(cmd[j + 1]) != std::string_view::npos) {
          add_char(word, cmd[j + 1]);
          j += 2;
        } else if (const auto len = placeholder_at(cmd, j, slot); len > 0) {
          word.push_back({false, {}, slot});
          j += len;
        } else {
          add_char(word, d);
          ++j;
        }
      }
      i = j + 1;
    } else if (const auto len = placeholder_at(cmd, i, slot); len > 0) {
      in_word = true;
      word.push_back({false, {}, slot});
      i += len;
    } else {
      in_word = true;
      add_char(word, c);
      ++i;
    }
  }
  end_word();
  if (words.empty()) throw fail("empty command");
  return words;
}

/// True when the template uses a placeholder of the item (not only {#}).
bool uses_item(const std::vector<Word>& words) {
  for (const auto& w : words) {
    for (const auto& p : w) {
      if (!p.literal && p.slot != Slot::Row) return true;
    }
  }
  return false;
}

/// The value of a placeholder for an item (GNU parallel's meanings).
std::string expand(Slot slot, std::string_view item, std::uint64_t row) {
  const auto slash = item.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? item : item.substr(slash + 1);
  const auto strip_ext = [](std::string_view path, std::size_t from) {
    const auto dot = path.rfind('.');
    return std::string(dot == std::string_view::npos || dot < from ? path : path.substr(0, dot));
  };
  switch (slot) {
    case Slot::Item:
      return std::string(item);
    case Slot::Row:
      return std::to_string(row);
    case Slot::NoExt:
      return strip_ext(item, slash == std::string_view::npos ? 0 : slash + 1);
    case Slot::Base:
      return std::string(base);
    case Slot::Dir:
      return slash == std::string_view::npos ? std::string(".")
                                             : std::string(item.substr(0, slash));
    case Slot::BaseNoExt:
      return strip_ext(base, 0);
  }
  return {};
}

/// Single-quotes `s` for /bin/sh: 'it'\''s'.
std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

/// argv for one item.
std::vector<std::string> build_argv(std::string_view cmd, bool shell, std::string_view item,
                                    std::uint64_t row) {
  if (shell) {
    // The template is the script; placeholders become single-quoted words.
    std::string script;
    bool used = false;
    for (std::size_t i = 0; i < cmd.size();) {
      Slot slot{};
      if (const auto len = placeholder_at(cmd, i, slot); len > 0) {
        script += shell_quote(expand(slot, item, row));
        used = used || slot != Slot::Row;
        i += len;
      } else {
        script += cmd[i++];
      }
    }
    if (script.find_first_not_of(" \t\n") == std::string::npos) {
      throw UsageError("args", "cmd=" + std::string(cmd), "empty command");
    }
    if (!used) script += " " + shell_quote(item);
    return {"/bin/sh", "-c", script};
  }
  const auto words = split_template(cmd);
  std::vector<std::string> argv;
  argv.reserve(words.size() + 1);
  for (const auto& w : words) {
    std::string a;
    for (const auto& p : w) a += p.literal ? p.text : expand(p.slot, item, row);
    argv.push_back(std::move(a));
  }
  if (!uses_item(words)) argv.emplace_back(item);
  return argv;
}

std::vector<std::string> parse_columns(const std::string& text) {
  std::vector<std::string> out;
  std::size_t from = 0;
  while (true) {
    const auto comma = text.find(',', from);
    std::string name = text.substr(from, comma == std::string::npos ? text.npos : comma - from);
    const auto b = name.find_first_not_of(" \t");
    const auto e = name.find_last_not_of(" \t");
    name = b == std::string::npos ? std::string() : name.substr(b, e - b + 1);
    if (name.empty()) {
      throw UsageError("args", "columns=" + text,
                       "expected comma-separated column names, e.g. a,b");
    }
    out.push_back(std::move(name));
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return out;
}

// --- the child process --------------------------------------------------------------------------

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
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

/// A pipe whose ends are close-on-exec in this process (other threads' children never inherit
/// them); the child gets its end through dup2 in the spawn file actions.
struct Pipe {
  Fd read, write;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      throw ItemError(std::string("exec: cannot create a pipe: ") + std::strerror(errno));
    }
    read = Fd(fds[0]);
    write = Fd(fds[1]);
  }
};

/// RAII for posix_spawn's attribute objects.
struct SpawnActions {
  posix_spawn_file_actions_t fa{};
  SpawnActions() { posix_spawn_file_actions_init(&fa); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&fa); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
};
struct SpawnAttr {
  posix_spawnattr_t attr{};
  SpawnAttr() { posix_spawnattr_init(&attr); }
  ~SpawnAttr() { posix_spawnattr_destroy(&attr); }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
};

/// A child that leads its own process group. Unless it was reaped, the destructor kills the
/// whole group and reaps the child: no zombie or orphan survives an exception.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() {
    if (pid_ <= 0 || reaped_) return;
    ::kill(-pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// Signals the child's process group.
  void kill_group(int sig) const noexcept { ::kill(-pid_, sig); }
  /// True once the child has exited (not reaped: its pid, and so its process group id, stay
  /// reserved while it is a zombie, so kill_group cannot hit a recycled group).
  [[nodiscard]] bool exited() const noexcept {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
      return errno == ECHILD;
    }
    return info.si_pid == pid_;
  }
  /// Reaps the child; returns its wait status.
  int reap() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0) {
      if (errno != EINTR) break;
    }
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

/// The last `cap` bytes written to a stream.
class Tail {
 public:
  explicit Tail(std::size_t cap) : cap_(cap) {}
  void append(const char* data, std::size_t n) {
    total_ += n;
    if (n >= cap_) {
      buf_.assign(data + (n - cap_), cap_);
      return;
    }
    buf_.append(data, n);
    if (buf_.size() > 2 * cap_) buf_.erase(0, buf_.size() - cap_);
  }
  /// The kept bytes (at most 2 x cap).
  [[nodiscard]] std::string_view text() const noexcept { return buf_; }
  [[nodiscard]] std::uint64_t total() const noexcept { return total_; }

 private:
  std::size_t cap_;
  std::string buf_;
  std::uint64_t total_ = 0;
};

/// The last non-empty line of `text` (without its line end); `complete` is false when the line
/// may have been cut by the tail's bound.
std::string_view last_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  const auto nl = text.rfind('\n');
  return nl == std::string_view::npos ? text : text.substr(nl + 1);
}

/// The tail of stderr as one line for the error table: the last lines joined with " | ", at
/// most kMax characters (cut at a line boundary when there is one).
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

/// The child's environment: ours, without the MPI launcher's variables unless `keep_mpi`
/// (a program started per item that links MPI then starts as its own singleton instead of
/// trying to join this job), plus PMAP_ITEM and PMAP_ROW.
std::vector<std::string> child_environment(bool keep_mpi, std::string_view item,
                                           std::uint64_t row) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view v(*e);
    if (!keep_mpi && (v.starts_with("OMPI_") || v.starts_with("PMIX_") || v.starts_with("PMI_") ||
                      v.starts_with("HYDRA_") || v.starts_with("MPI_LOCALRANKID="))) {
      continue;
    }
    if (v.starts_with("PMAP_ITEM=") || v.starts_with("PMAP_ROW=")) continue;
    env.emplace_back(v);
  }
  env.push_back("PMAP_ITEM=" + std::string(item));
  env.push_back("PMAP_ROW=" + std::to_string(row));
  return env;
}

/// pidfd of `pid` (Linux >= 5.3), or -1: then exits are noticed by polling.
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

/// What a finished child left behind.
struct Outcome {
  int wait_status = 0;
  bool stopped = false;  ///< killed because the item's deadline passed or the job stops
  std::string last_line;
  bool line_cut = false;  ///< the last line was longer than what is kept
  std::string stderr_tail;
};

constexpr std::size_t kStdoutKeep = 64 * 1024;
constexpr std::size_t kStderrKeep = 4 * 1024;

/// Starts argv with env in its own process group, stdin from /dev/null, stdout and stderr into
/// the pipes; throws ItemError when it cannot start.
pid_t spawn_child(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                  Pipe& out, Pipe& err) {
  SpawnActions actions;
  posix_spawn_file_actions_addopen(&actions.fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions.fa, out.write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions.fa, err.write.get(), 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // The program gets stdin, stdout and stderr only, not MPI's sockets or the HDF5 file.
  posix_spawn_file_actions_addclosefrom_np(&actions.fa, 3);
#endif
  SpawnAttr attr;
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (const int s : {SIGPIPE, SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGHUP, SIGQUIT, SIGCHLD}) {
    sigaddset(&defaults, s);
  }
  posix_spawnattr_setsigmask(&attr.attr, &none);
  posix_spawnattr_setsigdefault(&attr.attr, &defaults);
  posix_spawnattr_setpgroup(&attr.attr, 0);  // its own process group: killed as a whole
  posix_spawnattr_setflags(&attr.attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  // posix_spawnp searches PATH of *this* process, as a shell would.
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, cargv[0], &actions.fa, &attr.attr, cargv.data(), cenv.data());
  if (rc != 0) throw ItemError("cannot run '" + argv[0] + "': " + std::strerror(rc));
  return pid;
}

/// A running child's stdout and stderr, kept as bounded tails while it runs.
class ChildOutput {
 public:
  ChildOutput(Pipe& out, Pipe& err) : streams_{&out.read, &err.read} {}

  /// Polls the open streams (and `pidfd` when >= 0) for up to timeout_ms and reads what is
  /// ready; true when the pidfd says the child exited.
  bool poll_once(int pidfd, int timeout_ms) {
    pollfd fds[3];
    int idx[3];
    nfds_t n = 0;
    for (int i = 0; i < 2; ++i) {
      if (open_[i]) {
        fds[n] = {streams_[i]->get(), POLLIN, 0};
        idx[n++] = i;
      }
    }
    if (pidfd >= 0) {
      fds[n] = {pidfd, POLLIN, 0};
      idx[n++] = 2;
    }
    const int ready = n > 0 ? ::poll(fds, n, timeout_ms) : (::usleep(timeout_ms * 1000), 0);
    if (ready < 0 && errno != EINTR) {
      throw ItemError(std::string("exec: poll failed: ") + std::strerror(errno));
    }
    bool pid_ready = false;
    for (nfds_t j = 0; ready > 0 && j < n; ++j) {
      if (fds[j].revents == 0) continue;
      if (idx[j] == 2) {
        pid_ready = true;
      } else {
        drain(idx[j]);
      }
    }
    return pid_ready;
  }
  /// True while stdout or stderr is open.
  [[nodiscard]] bool any_open() const { return open_[0] || open_[1]; }
  /// Reads until both streams reach EOF, for at most `limit` (a process outside the child's
  /// group may still hold them).
  void drain_for(std::chrono::milliseconds limit) {
    const auto until = Clock::now() + limit;
    while (any_open() && Clock::now() < until) poll_once(-1, 20);
  }
  [[nodiscard]] const Tail& out() const { return out_tail_; }
  [[nodiscard]] const Tail& err() const { return err_tail_; }

 private:
  void drain(int i) {
    // One read per readiness: a chatty child cannot starve the exit and deadline checks.
    const ssize_t n = ::read(streams_[i]->get(), buf_, sizeof buf_);
    if (n > 0) {
      (i == 0 ? out_tail_ : err_tail_).append(buf_, static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      open_[i] = false;
    }
  }

  Fd* streams_[2];
  bool open_[2] = {true, true};
  Tail out_tail_{kStdoutKeep}, err_tail_{kStderrKeep};
  char buf_[65536];
};

Outcome run_child(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                  double grace, const KernelContext& ctx) {
  Pipe out, err;
  Child child(spawn_child(argv, env, out, err));
  out.write.reset();
  err.write.reset();
  Fd pidfd(open_pidfd(child.pid()));
  ChildOutput output(out, err);
  Outcome o;
  Clock::time_point term_sent{};
  bool killed = false;
  bool exited = false;
  while (!exited) {
    if (!o.stopped && ctx.should_stop()) {
      o.stopped = true;
      child.kill_group(SIGTERM);
      term_sent = Clock::now();
    }
    if (o.stopped && !killed &&
        std::chrono::duration<double>(Clock::now() - term_sent).count() >= grace) {
      child.kill_group(SIGKILL);
      killed = true;
    }
    // Without a pidfd, exits are noticed every 5 ms; the deadline is checked every 20 ms.
    const bool pid_ready = output.poll_once(pidfd.get(), pidfd.get() >= 0 ? 20 : 5);
    if (pid_ready || pidfd.get() < 0 || !output.any_open()) exited = child.exited();
    if (!exited && !output.any_open() && pidfd.get() < 0) ::usleep(1000);
  }
  // The program is gone: whatever it left running in its group goes too, then the pipes drain.
  child.kill_group(SIGKILL);
  output.drain_for(std::chrono::milliseconds(200));
  o.wait_status = child.reap();
  const Tail& out_tail = output.out();
  const std::string_view line = last_line(out_tail.text());
  o.line_cut = out_tail.total() > out_tail.text().size() && line.size() == out_tail.text().size();
  o.last_line = std::string(line);
  o.stderr_tail = stderr_summary(output.err().text());
  return o;
}

/// Parses `line` into exactly out.size() numbers separated by blanks or commas.
void parse_numbers(std::string_view line, std::span<double> out,
                   const std::vector<std::string>& columns) {
  std::size_t count = 0;
  std::size_t i = 0;
  const auto sep = [](char c) { return c == ' ' || c == '\t' || c == ',' || c == '\r'; };
  std::string token;
  while (i < line.size()) {
    while (i < line.size() && sep(line[i])) ++i;
    if (i >= line.size()) break;
    std::size_t j = i;
    while (j < line.size() && !sep(line[j])) ++j;
    token.assign(line.substr(i, j - i));
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(token.c_str(), &end);
    if (end != token.c_str() + token.size() || token.empty()) {
      throw ItemError("last line of stdout: '" + token + "' is not a number (columns " +
                      std::to_string(columns.size()) + ": expected " +
                      std::to_string(columns.size()) + " numbers) in '" +
                      std::string(line.substr(0, 200)) + "'");
    }
    if (count < out.size()) out[count] = v;
    ++count;
    i = j;
  }
  if (count != out.size()) {
    std::string names;
    for (const auto& c : columns) names += (names.empty() ? "" : ",") + c;
    throw ItemError("last line of stdout has " + std::to_string(count) + " numbers, expected " +
                    std::to_string(out.size()) + " (columns " + names + "): '" +
                    std::string(line.substr(0, 200)) + "'");
  }
}

class Exec final : public BasicKernel {
 public:
  Exec()
      : BasicKernel(
            "exec",
            "runs a program per item, without a shell: {} is the item, {#} its row, {.} {/} {//} "
            "{/.} as in GNU parallel (the item is appended when the command has no placeholder); "
            "a non-zero exit fails the item, --item-timeout kills its process group; the last "
            "line of stdout holds the numbers of `columns`",
            {{"cmd", ArgType::String, std::string(),
              "command template, split like a shell splits words (quotes, backslashes) but "
              "never run by one; the item's text is substituted after splitting"},
             {"shell", ArgType::Bool, false,
              "run cmd with /bin/sh -c instead (pipes, redirections); placeholders are "
              "single-quoted, so items are still never interpreted"},
             {"columns", ArgType::String, std::string(),
              "comma-separated names of the numbers on the last line of stdout (default: one "
              "column exit_code, 0 for every ok item)"},
             {"grace", ArgType::Double, 1.0,
              "seconds between SIGTERM and SIGKILL when an item times out or the job stops"},
             {"mpi_env", ArgType::Bool, false,
              "pass the launcher's OMPI_*/PMIX_*/PMI_* variables on (default: removed, so a "
              "program that links MPI starts as its own singleton)"}},
            {"exit_code"}) {}

  [[nodiscard]] std::vector<std::string> output_columns(const BoundArgs& args) const override {
    const std::string& cmd = args.get_string("cmd");
    if (cmd.find_first_not_of(" \t\n") == std::string::npos) {
      throw UsageError("args", "cmd=",
                       "kernel exec needs a command, e.g. cmd='./program --x {}' ({} is the "
                       "item, {#} its row)");
    }
    if (!args.get_bool("shell")) (void)split_template(cmd);  // quoting errors: exit 2 up front
    if (args.get_double("grace") < 0) {
      throw UsageError("args", "grace=" + std::to_string(args.get_double("grace")),
                       "must not be negative");
    }
    const std::string& cols = args.get_string("columns");
    return cols.empty() ? columns() : parse_columns(cols);
  }

  void run(const Item& item, const BoundArgs& args, std::span<double> out,
           const KernelContext& ctx) const override {
    const std::string text = item.from_input ? std::string(item.text) : std::to_string(item.value);
    const auto argv = build_argv(args.get_string("cmd"), args.get_bool("shell"), text, item.row);
    const auto env = child_environment(args.get_bool("mpi_env"), text, item.row);
    const Outcome o = run_child(argv, env, args.get_double("grace"), ctx);
    const std::string err = o.stderr_tail.empty() ? std::string() : "; stderr: " + o.stderr_tail;
    if (o.stopped) {
      throw ItemError("stopped (deadline or job stop): process group of '" + argv[0] + "' killed" +
                      err);
    }
    if (WIFSIGNALED(o.wait_status)) {
      throw ItemError(signal_text(WTERMSIG(o.wait_status)) + err);
    }
    const int code = WIFEXITED(o.wait_status) ? WEXITSTATUS(o.wait_status) : -1;
    if (code != 0) throw ItemError("exit status " + std::to_string(code) + err);
    if (args.get_string("columns").empty()) {
      out[0] = 0;
      return;
    }
    if (o.line_cut) {
      throw ItemError("last line of stdout is longer than " + std::to_string(kStdoutKeep) +
                      " bytes");
    }
    parse_numbers(o.last_line, out, output_columns(args));
  }
};

}  // namespace

std::unique_ptr<Kernel> make_exec() { return std::make_unique<Exec>(); }

}  // namespace pmap::kernels
