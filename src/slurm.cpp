#include "pmap/slurm.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#include "pmap/error.hpp"

extern char** environ;

namespace pmap {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

/// A whole non-negative decimal number (digits only, no sign, no blanks), or nullopt.
std::optional<std::int64_t> digits(std::string_view s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  std::int64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

/// A whole decimal int, optionally negative (so that "-1" is refused by range, not by syntax).
std::optional<long long> integer(std::string_view s) {
  long long v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

double parse_slurm_time_left(std::string_view text) {
  text = trim(text);
  if (text.empty() || text == "UNLIMITED" || text == "NOT_SET" || text == "INVALID") return -1;
  std::int64_t days = 0;
  bool has_days = false;
  if (const auto dash = text.find('-'); dash != std::string_view::npos) {
    const auto d = digits(text.substr(0, dash));
    if (!d) return -1;  // "-5:00", "x-1:00:00"
    days = *d;
    has_days = true;
    text.remove_prefix(dash + 1);
  }
  // squeue prints D-HH:MM:SS with days, else H:MM:SS or M:SS.
  std::vector<std::int64_t> fields;
  while (true) {
    const auto colon = text.find(':');
    const auto f = digits(text.substr(0, colon));
    if (!f) return -1;
    fields.push_back(*f);
    if (colon == std::string_view::npos) break;
    text.remove_prefix(colon + 1);
  }
  if (fields.size() != 3 && (has_days || fields.size() != 2)) return -1;
  for (std::size_t i = 1; i < fields.size(); ++i) {
    if (fields[i] > 59) return -1;  // minutes and seconds after the leading field
  }
  if (has_days && fields[0] > 23) return -1;
  std::int64_t seconds = 0;
  for (const auto f : fields) seconds = seconds * 60 + f;
  return static_cast<double>(days) * 86400.0 + static_cast<double>(seconds);
}

double deadline_from_time_left(double time_left) {
  if (!(time_left > 0)) return 0;
  const double margin = std::clamp(time_left * 0.05, 10.0, 120.0);
  return std::max(1.0, time_left - margin);
}

double query_slurm_time_left(const std::string& job_id, double timeout_seconds,
                             const std::string& squeue) {
  if (!digits(job_id)) return -1;
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  const std::vector<std::string> args = {squeue, "-h", "-j", job_id, "-o", "%L"};
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    return -1;  // no squeue on this node
  }
  // Read until end of output or the deadline: a hung slurmctld must not hold every rank.
  using clock = std::chrono::steady_clock;
  const auto deadline =
      clock::now() + std::chrono::duration_cast<clock::duration>(
                         std::chrono::duration<double>(std::max(0.0, timeout_seconds)));
  const auto ms_left = [&] {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60'000));
  };
  std::string text;
  bool timed_out = false;
  while (true) {
    const int wait_ms = ms_left();
    if (wait_ms <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    const int n = poll(&p, 1, wait_ms);
    if (n < 0 && errno == EINTR) continue;  // a stop signal: its handler only sets a flag
    if (n < 0) break;
    if (n == 0) continue;  // the loop checks the deadline
    char buf[256];
    const ssize_t got = read(out[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (text.size() < 4096) text.append(buf, static_cast<std::size_t>(got));
  }
  close(out[0]);
  // Reap the child, killed once past the deadline (also if it closed its output but hangs).
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (true) {
    const pid_t w = waitpid(pid, &status, timed_out ? 0 : WNOHANG);
    if (w == pid) break;
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (ms_left() <= 0) {
      timed_out = true;
      kill(pid, SIGKILL);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  const auto newline = text.find('\n');  // one line per job
  return parse_slurm_time_left(std::string_view(text).substr(0, newline));
}

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::optional<Shard> parse_shard(std::string_view text, const EnvLookup& env) {
  if (!text.empty()) {
    const auto slash = text.find('/');
    const auto i = integer(text.substr(0, slash));
    const auto n = slash == std::string_view::npos ? std::nullopt : integer(text.substr(slash + 1));
    if (!i || !n || *n < 1 || *n > 1'000'000'000 || *i < 0 || *i >= *n) {
      throw UsageError("shard", std::string(text),
                       "expected I/N with 0 <= I < N, e.g. 0/4 (shard 0 of 4)");
    }
    return Shard{static_cast<int>(*i), static_cast<int>(*n)};
  }
  // A job array: task ids min, min + step, ..., min + (count - 1) * step become shards 0..count-1.
  const auto id_text = env("SLURM_ARRAY_TASK_ID");
  if (!id_text) return std::nullopt;
  const auto read = [&](const char* name, long long fallback) -> long long {
    const auto v = env(name);
    if (!v) return fallback;
    const auto x = integer(trim(*v));
    if (!x || *x < -1'000'000'000'000LL || *x > 1'000'000'000'000LL) {
      throw UsageError(std::string(name) + "=" + *v +
                       ": not an integer (the job array's shard cannot be derived); "
                       "pass `shard` I/N");
    }
    return *x;
  };
  const long long id = read("SLURM_ARRAY_TASK_ID", 0);
  const long long min = read("SLURM_ARRAY_TASK_MIN", 0);
  const long long step = read("SLURM_ARRAY_TASK_STEP", 1);
  const long long max = read("SLURM_ARRAY_TASK_MAX", -1);
  long long count = read("SLURM_ARRAY_TASK_COUNT", -1);
  if (count < 0 && max >= min && step > 0) count = (max - min) / step + 1;  // older Slurm
  if (count < 0) return std::nullopt;  // not enough to know the shards: the whole job
  const std::string what = "SLURM_ARRAY_TASK_ID=" + std::to_string(id) + " (array of " +
                           std::to_string(count) + " tasks from " + std::to_string(min) +
                           (step != 1 ? " step " + std::to_string(step) : std::string()) + ")";
  const bool regular = step > 0 && id >= min && (id - min) % step == 0 &&
                       (max < 0 || max == min + (count - 1) * step);
  const long long index = regular ? (id - min) / step : -1;
  if (count < 1 || count > 1'000'000'000 || index < 0 || index >= count) {
    throw UsageError(what + ": not shard I/N with 0 <= I < N; submit the array as a range (e.g. " +
                     "--array=0-" + std::to_string(std::max(count - 1, 0LL)) +
                     ", a step is fine, a list is not) or pass `shard` I/N");
  }
  return Shard{static_cast<int>(index), static_cast<int>(count)};
}

}  // namespace pmap
