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
// it left running in its group is killed as well, and kill -9 of pmap takes the child along
// (detail::spawn: PR_SET_PDEATHSIG). Only the last line of stdout (numbers, into
// /compute/value) and the tail of stderr (into the error message) are kept: output of any size
// costs a bounded amount of memory.
#include <poll.h>
#include <signal.h>
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
#include "detail/child_process.hpp"
#include "detail/command_template.hpp"
#include "pmap/error.hpp"

namespace pmap::kernels {
namespace {

using detail::Child;
using detail::Fd;
using detail::Pipe;
using detail::Tail;
using Clock = std::chrono::steady_clock;

// --- the child process --------------------------------------------------------------------------

/// The last non-empty line of `text` (without its line end); `complete` is false when the line
/// may have been cut by the tail's bound.
std::string_view last_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  const auto nl = text.rfind('\n');
  return nl == std::string_view::npos ? text : text.substr(nl + 1);
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
  Child child(detail::spawn({argv, env, -1, out.write.get(), err.write.get()}));
  out.write.reset();
  err.write.reset();
  Fd pidfd(detail::open_pidfd(child.pid()));
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
  o.stderr_tail = detail::stderr_summary(output.err().text());
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
            "runs a program per item, without a shell: {} is the item, {name} its field name, {#} "
            "its row, {.} {/} {//} "
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
    if (!args.get_bool("shell")) detail::check_template(cmd);  // quoting errors: exit 2 up front
    if (args.get_double("grace") < 0) {
      throw UsageError("args", "grace=" + std::to_string(args.get_double("grace")),
                       "must not be negative");
    }
    const std::string& cols = args.get_string("columns");
    return cols.empty() ? columns() : detail::parse_columns(cols);
  }

  void check_fields(const BoundArgs& args, const std::vector<FieldSpec>& fields) const override {
    if (fields.empty()) return;  // {name} stays literal text, as before items had fields
    std::string known;
    for (const auto& f : fields) known += (known.empty() ? "" : ", ") + f.name;
    for (const auto& name : detail::field_placeholders(args.get_string("cmd"))) {
      bool found = false;
      for (const auto& f : fields) found = found || f.name == name;
      if (!found) {
        throw UsageError("args", "cmd=" + args.get_string("cmd"),
                         "{" + name + "} names no field of the items (fields: " + known + ")");
      }
    }
  }

  void run(const Item& item, const BoundArgs& args, std::span<double> out,
           const KernelContext& ctx) const override {
    const std::string text = item.to_text();
    const auto argv = detail::build_argv(args.get_string("cmd"), args.get_bool("shell"), text,
                                         item.row, item.fields);
    std::vector<std::string> extra{"PMAP_ITEM=" + text, "PMAP_ROW=" + std::to_string(item.row)};
    for (std::size_t j = 0; j < item.fields.size(); ++j) {
      extra.push_back("PMAP_FIELD_" + item.fields.spec(j).name + "=" + item.fields.text(j));
    }
    const auto env = detail::child_environment(args.get_bool("mpi_env"), extra);
    const Outcome o = run_child(argv, env, args.get_double("grace"), ctx);
    const std::string err = o.stderr_tail.empty() ? std::string() : "; stderr: " + o.stderr_tail;
    if (o.stopped) {
      throw ItemError("stopped (deadline or job stop): process group of '" + argv[0] + "' killed" +
                      err);
    }
    if (WIFSIGNALED(o.wait_status)) {
      throw ItemError(detail::signal_text(WTERMSIG(o.wait_status)) + err);
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
