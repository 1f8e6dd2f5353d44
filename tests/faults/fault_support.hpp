// Fault-injection support: start pmap (under mpiexec or alone) in the background, find its
// ranks, signal or kill them at chosen moments, watch the results file fill while the job runs,
// and read the file back for comparisons.
//
// Why the file can be watched while MPI-IO writes it (StatusProbe): pmap creates every dataset of
// /compute contiguous and allocated early, flushes and closes the file, and only then do the
// ranks open it and overwrite raw data in place (DESIGN.md, "Results file"). So the byte offset
// of /compute/status never changes during a run; the probe learns it once through HDF5 and then
// reads the N status bytes with pread(2), which sees what the ranks' pwrite(2)s put in the page
// cache — each byte either -1 (fill) or its final status. No HDF5 metadata is read while the
// ranks write, so the probe cannot race the end-of-run metadata updates, and it takes no file
// lock that could make pmap's own open fail.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pmap/h5.hpp"
#include "support/h5_read.hpp"
#include "support/temp_dir.hpp"

extern char** environ;

namespace pmap::faults {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Args = std::vector<std::string>;

/// What every launch needs on a 2-core CI machine running as root (ctest sets these too).
inline const Args kMpiEnv = {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
                             "OMPI_MCA_rmaps_base_oversubscribe=1",
                             "OMPI_MCA_btl_vader_single_copy_mechanism=none"};

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

inline void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

using pmap::test::slurp;

/// a followed by b.
inline Args operator+(Args a, const Args& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// `mpiexec -n N --bind-to none pmap args...` (pmap: `bin`, by default the one built).
inline Args mpi_argv(int ranks, const Args& args, const std::string& bin = PMAP_BIN) {
  Args argv{PMAP_MPIEXEC, "-n", std::to_string(ranks), "--bind-to", "none", bin};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

/// `pmap args...` (a singleton MPI process, no launcher; pmap: `bin`, by default the one built).
inline Args solo_argv(const Args& args, const std::string& bin = PMAP_BIN) {
  Args argv{bin};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// --- processes ----------------------------------------------------------------------------------

/// Makes this process the reaper of its orphaned descendants: ranks whose mpiexec was killed are
/// re-parented to the test, which can then wait for them (and does not leave zombies behind).
inline void become_subreaper() { prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

/// State letter of /proc/PID/stat ('R', 'S', 'Z', ...), or 0 when the process is gone.
inline char proc_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return 0;
  const auto rp = text.rfind(')');
  if (rp == std::string::npos || rp + 2 >= text.size()) return 0;
  return text[rp + 2];
}

/// True while `pid` exists and is not a zombie; reaps it (if it is our child) once it is one.
inline bool alive(pid_t pid) {
  const char s = proc_state(pid);
  if (s == 0 || s == 'Z' || s == 'X') {
    int status = 0;
    waitpid(pid, &status, WNOHANG);  // ours only after re-parenting; ECHILD otherwise is fine
    return false;
  }
  return true;
}

/// Parent pid of `pid` (from /proc), or -1.
inline pid_t parent_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return -1;
  const auto rp = text.rfind(')');
  if (rp == std::string::npos) return -1;
  std::istringstream rest(text.substr(rp + 2));
  char state = 0;
  pid_t ppid = -1;
  rest >> state >> ppid;
  return ppid;
}

/// Children of `parent` (scanning /proc).
inline std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0') continue;
    if (parent_of(static_cast<pid_t>(pid)) == parent) out.push_back(static_cast<pid_t>(pid));
  }
  closedir(d);
  return out;
}

/// MPI rank of a process started by Open MPI's mpiexec (OMPI_COMM_WORLD_RANK), or -1.
inline int mpi_rank_of(pid_t pid) {
  const std::string env = slurp("/proc/" + std::to_string(pid) + "/environ");
  const std::string key = "OMPI_COMM_WORLD_RANK=";
  std::size_t pos = 0;
  while (pos < env.size()) {
    const auto end = env.find('\0', pos);
    const std::string entry =
        env.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (entry.rfind(key, 0) == 0) return std::atoi(entry.c_str() + key.size());
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return -1;
}

/// True when `pid` runs the pmap binary under test (guards against a recycled pid).
inline bool is_pmap(pid_t pid) {
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  return !ec && fs::equivalent(exe, PMAP_BIN, ec);
}

/// Waits until every pid in `pids` is gone (or a zombie, then reaped); false on timeout.
inline bool wait_gone(const std::vector<pid_t>& pids, double timeout_s) {
  const auto t0 = Clock::now();
  while (true) {
    bool any = false;
    for (pid_t p : pids) any = alive(p) || any;
    if (!any) return true;
    if (seconds_since(t0) > timeout_s) return false;
    sleep_s(0.01);
  }
}

/// A process running in the background, its stdout/stderr in files of `dir`. The destructor
/// kills whatever is left of it (the launcher and the ranks it started).
class Job {
 public:
  Job(Args argv, const std::string& dir, const std::string& name, const Args& env = kMpiEnv)
      : argv_(std::move(argv)),
        out_path_((fs::path(dir) / (name + ".out")).string()),
        err_path_((fs::path(dir) / (name + ".err")).string()) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addchdir_np(&fa, dir.c_str());
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
    for (const auto& e : env) envs.push_back(e);
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv_) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
    start_ = Clock::now();
    const int rc = posix_spawnp(&pid_, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("cannot start " + argv_[0] + ": " + std::strerror(rc));
  }
  ~Job() {
    if (!exit_code_) {
      std::vector<pid_t> all = children_of(pid_);
      for (pid_t p : all) kill(p, SIGKILL);
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      wait_gone(all, 10);
    }
    // Ranks orphaned by a killed launcher that are still running pmap: end them too.
    for (pid_t p : ranks_seen_) {
      if (alive(p) && is_pmap(p)) kill(p, SIGKILL);
    }
    wait_gone(ranks_seen_, 10);
  }
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] double elapsed() const { return seconds_since(start_); }
  [[nodiscard]] Clock::time_point started() const { return start_; }

  /// True while the process runs; records its exit code once it ended.
  bool running() {
    if (exit_code_) return false;
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      ended_ = Clock::now();
      return false;
    }
    return true;
  }

  /// Waits up to `timeout_s` for the end; the exit code (128 + signal if killed) or nullopt.
  std::optional<int> wait(double timeout_s) {
    const auto t0 = Clock::now();
    while (running()) {
      if (seconds_since(t0) > timeout_s) return std::nullopt;
      sleep_s(0.005);
    }
    return exit_code_;
  }

  /// Time from start to exit (only once it has ended).
  [[nodiscard]] double wall() const {
    return exit_code_ ? std::chrono::duration<double>(ended_ - start_).count() : -1;
  }
  [[nodiscard]] Clock::time_point ended() const { return ended_; }

  /// The ranks (rank -> pid) of an mpiexec job: children of the launcher running pmap. Waits up
  /// to `timeout_s` until `expected` of them are there.
  std::map<int, pid_t> ranks(int expected, double timeout_s = 20) {
    const auto t0 = Clock::now();
    std::map<int, pid_t> found;
    while (true) {
      found.clear();
      for (pid_t p : children_of(pid_)) {
        const int r = mpi_rank_of(p);
        if (r >= 0) found[r] = p;
      }
      if (static_cast<int>(found.size()) >= expected || seconds_since(t0) > timeout_s) break;
      sleep_s(0.01);
    }
    for (const auto& [r, p] : found) ranks_seen_.push_back(p);
    return found;
  }

  void signal(int sig) const { kill(pid_, sig); }

  [[nodiscard]] std::string out() const { return slurp(out_path_); }
  [[nodiscard]] std::string err() const { return slurp(err_path_); }

  /// Command, exit code and output, for failure messages.
  [[nodiscard]] std::string describe() const {
    std::string cmd;
    for (const auto& a : argv_) cmd += (cmd.empty() ? "" : " ") + a;
    return "command: " + cmd +
           "\nexit code: " + (exit_code_ ? std::to_string(*exit_code_) : std::string("(running)")) +
           "\n--- stdout ---\n" + out() + "--- stderr ---\n" + err();
  }

 private:
  Args argv_;
  std::string out_path_, err_path_;
  pid_t pid_ = -1;
  Clock::time_point start_, ended_;
  std::optional<int> exit_code_;
  std::vector<pid_t> ranks_seen_;
};

/// A finished run: exit code, wall time, output.
struct Finished {
  int code = -1;
  double seconds = 0;
  std::string out, err, what;
};

/// Runs to completion (killing it after `timeout_s`, then code = -1).
inline Finished run(const Args& argv, const std::string& dir, const std::string& name,
                    double timeout_s = 120, const Args& env = kMpiEnv) {
  Job job(argv, dir, name, env);
  Finished f;
  const auto code = job.wait(timeout_s);
  f.code = code ? *code : -1;
  f.seconds = code ? job.wall() : job.elapsed();
  f.out = job.out();
  f.err = job.err();
  f.what = job.describe() + (code ? "" : "\n(killed after the timeout: it hung)");
  return f;
}

// --- the results file ---------------------------------------------------------------------------

/// Reads /compute/status raw bytes straight from the file while ranks write it (see the top).
class StatusProbe {
 public:
  StatusProbe(std::string path, std::uint64_t rows) : path_(std::move(path)), rows_(rows) {}
  ~StatusProbe() {
    if (fd_ >= 0) close(fd_);
  }
  StatusProbe(const StatusProbe&) = delete;
  StatusProbe& operator=(const StatusProbe&) = delete;

  /// The status column now, or nullopt while the file is not created yet.
  std::optional<std::vector<std::int8_t>> read() {
    if (fd_ < 0 && !learn_offset()) return std::nullopt;
    std::vector<std::int8_t> s(rows_);
    const ssize_t n = pread(fd_, s.data(), rows_, static_cast<off_t>(offset_));
    if (n != static_cast<ssize_t>(rows_)) return std::nullopt;
    return s;
  }

  /// Rows whose status is not -1.
  std::optional<std::uint64_t> done() {
    const auto s = read();
    if (!s) return std::nullopt;
    std::uint64_t d = 0;
    for (auto v : *s) d += v >= 0 ? 1 : 0;
    return d;
  }

 private:
  bool learn_offset() {
    std::error_code ec;
    if (!fs::exists(path_, ec)) return false;
    h5::silence_errors();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_file_locking(fapl, false, true);  // never block pmap's own (locking) opens
    const hid_t f = H5Fopen(path_.c_str(), H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0) return false;
    bool ok = false;
    const hid_t d = H5Dopen2(f, "/compute/status", H5P_DEFAULT);
    if (d >= 0) {
      const hid_t sp = H5Dget_space(d);
      hsize_t dims[1] = {0};
      if (sp >= 0 && H5Sget_simple_extent_ndims(sp) == 1)
        H5Sget_simple_extent_dims(sp, dims, nullptr);
      if (sp >= 0) H5Sclose(sp);
      const haddr_t off = H5Dget_offset(d);
      if (dims[0] == rows_ && off != HADDR_UNDEF) {
        offset_ = off;
        ok = true;
      }
      H5Dclose(d);
    }
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    if (!ok) return false;
    fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    return fd_ >= 0;
  }

  std::string path_;
  std::uint64_t rows_;
  haddr_t offset_ = HADDR_UNDEF;
  int fd_ = -1;
};

/// Every per-row dataset of /compute, read back with serial HDF5 (after the job ended).
struct Rows {
  std::vector<std::int64_t> item;
  std::vector<double> value;
  std::vector<std::int8_t> status;
  std::vector<std::int32_t> rank;
  std::vector<std::int32_t> thread;
  std::vector<double> seconds;
  std::size_t columns = 0;

  [[nodiscard]] std::size_t size() const { return status.size(); }
  [[nodiscard]] std::size_t count(std::int8_t s) const {
    std::size_t n = 0;
    for (auto v : status) n += v == s ? 1 : 0;
    return n;
  }
};

inline Rows read_rows(const std::string& path) {
  Rows r;
  r.item = test::read_int64s(path, "/compute/item");
  r.value = test::read_doubles(path, "/compute/value");
  r.status = test::read_int8s(path, "/compute/status");
  r.rank = test::read_int32s(path, "/compute/rank");
  r.thread = test::read_int32s(path, "/compute/thread");
  r.seconds = test::read_doubles(path, "/compute/seconds");
  r.columns = r.status.empty() ? 0 : r.value.size() / r.status.size();
  return r;
}

/// Byte equality of element i of two vectors (doubles compared as bits: NaN == NaN).
template <typename T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b, std::size_t i,
                std::size_t k = 1) {
  return std::memcmp(a.data() + i * k, b.data() + i * k, sizeof(T) * k) == 0;
}

template <typename T>
bool same_bytes_all(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(T) * a.size()) == 0;
}

/// The whole file's bytes (to show a refused --resume left it untouched).

/// Lines of `text` that are not empty.
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream is(text);
  std::string line;
  while (std::getline(is, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

/// stderr without Open MPI's own banners (the "----" boxed notices mpiexec prints when a rank
/// exits non-zero), so what pmap itself printed can be checked.
inline std::vector<std::string> pmap_lines(const std::string& err) {
  std::vector<std::string> out;
  bool in_box = false;
  for (const auto& l : lines_of(err)) {
    if (l.rfind("-----", 0) == 0) {
      in_box = !in_box;
      continue;
    }
    if (!in_box) out.push_back(l);
  }
  return out;
}

/// A failure report is one line from pmap, "pmap: error: ...", and nothing that looks like a
/// crash (signal exit, Open MPI's signal report, a backtrace).
inline void expect_clean_failure(const Finished& f, const std::string& where) {
  SCOPED_TRACE(where);
  EXPECT_NE(f.code, 0) << f.what;
  EXPECT_GE(f.code, 0) << "it hung\n" << f.what;
  EXPECT_LT(f.code, 128) << "killed by a signal\n" << f.what;
  std::string crashes;
  for (const char* crash : {"Segmentation", "Signal:", "Aborted", "backtrace", "terminate called",
                            "core dumped", "[ 0]"}) {
    if (f.err.find(crash) != std::string::npos) crashes += std::string(" '") + crash + "'";
  }
  EXPECT_TRUE(crashes.empty()) << "crash report in stderr:" << crashes;
  const auto lines = pmap_lines(f.err);
  std::size_t errors = 0;
  for (const auto& l : lines) errors += l.rfind("pmap: error: ", 0) == 0 ? 1 : 0;
  EXPECT_EQ(errors, 1U) << "expected exactly one 'pmap: error:' line\n" << f.what;
}

/// pmap's "pmap: error: ..." line of a failed run ("" if none).
inline std::string error_line(const Finished& f) {
  for (const auto& l : pmap_lines(f.err)) {
    if (l.rfind("pmap: error: ", 0) == 0) return l;
  }
  return "";
}

/// A string attribute of /compute, or "" if missing.
inline std::string compute_attr(const std::string& path, const std::string& name) {
  try {
    return test::read_string_attr(path, "/compute", name);
  } catch (const std::exception&) {
    return "";
  }
}

/// Counts printed by `pmap inspect FILE` ("status: N items: A ok, B failed, C timed out, D not
/// run"); code is inspect's exit code, parsed is false when that line is missing; interrupted:
/// it says "interrupted: finish with --resume" (the file's stop_reason is signal or deadline).
struct Inspected {
  int code = -1;
  bool parsed = false;
  bool interrupted = false;
  std::uint64_t items = 0, ok = 0, failed = 0, timed_out = 0, not_run = 0;
  std::string what;
};

inline Inspected inspect(const std::string& dir, const std::string& file) {
  const Finished f = run(solo_argv({"inspect", file}), dir, "inspect", 60);
  Inspected r;
  r.code = f.code;
  r.what = f.what;
  r.interrupted = f.out.find("interrupted: finish with --resume") != std::string::npos;
  static const std::regex line(
      R"(status: (\d+) items: (\d+) ok, (\d+) failed, (\d+) timed out, (\d+) not run)");
  std::smatch m;
  if (std::regex_search(f.out, m, line)) {
    r.parsed = true;
    r.items = std::stoull(m[1]);
    r.ok = std::stoull(m[2]);
    r.failed = std::stoull(m[3]);
    r.timed_out = std::stoull(m[4]);
    r.not_run = std::stoull(m[5]);
  }
  return r;
}

/// A tmpfs mounted on `dir` for the scope (root with CAP_SYS_ADMIN only): ok() says whether the
/// mount worked, error() why not.
class TmpfsMount {
 public:
  TmpfsMount(const std::string& dir, const std::string& options, unsigned long flags = 0)
      : dir_(dir) {
    fs::create_directories(dir_);
    if (mount("tmpfs", dir_.c_str(), "tmpfs", flags, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ =
          std::string("mount -t tmpfs -o ") + options + " " + dir_ + ": " + std::strerror(errno);
    }
  }
  ~TmpfsMount() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  [[nodiscard]] bool ok() const { return mounted_; }
  [[nodiscard]] const std::string& error() const { return error_; }
  /// Changes the size of the mounted tmpfs (e.g. to free space again).
  bool resize(const std::string& size) {
    const std::string opts = "size=" + size;
    return mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT, opts.c_str()) == 0;
  }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

}  // namespace pmap::faults
