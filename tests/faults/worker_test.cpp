// Worker faults: --kernel worker end to end through the pmap binary, the HDF5 file read back.
// A worker in POSIX shell (workers/square.sh) proves the protocol and misbehaves on request
// (function errors, crash, garbage, hang); Python functions (workers/pyfns.py through
// python3 -m pmap_worker) cover the helper, a crash with answers held back, an import error and
// kill -9 of pmap itself.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "fault_support.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace pmap::faults;
using pmap::test::read_errors;
using pmap::test::TempDir;

const std::string kWorkers = PMAP_TEST_WORKERS;
const Args kEnv = kMpiEnv + Args{"PYTHONPATH=" + kWorkers};

/// `pmap run --kernel worker --arg cmd=CMD ... --output w.h5` plus `extra`.
Args worker_args(const std::string& cmd, const Args& extra) {
  return Args{"run",        "--kernel", "worker",   "--arg", "cmd=" + cmd,
              "--progress", "none",     "--output", "w.h5"} +
         extra;
}

std::string shell_worker() { return "sh '" + kWorkers + "/square.sh'"; }
std::string python_worker(const std::string& fn) { return "python3 -m pmap_worker " + fn; }

/// The message of item `item` in /compute/errors ("" if it has none).
std::string message_of(const std::string& path, std::int64_t item) {
  for (const auto& e : read_errors(path)) {
    if (e.item == item) return e.message;
  }
  return "";
}

/// Every row but `bad` is ok with value item*item; `bad` has status `status`.
void expect_squares_but(const Rows& r, std::int64_t first, std::size_t bad, int status) {
  for (std::size_t i = 0; i < r.size(); ++i) {
    const auto x = static_cast<double>(first + static_cast<std::int64_t>(i));
    if (i == bad) {
      EXPECT_EQ(r.status[i], status) << "row " << i;
      EXPECT_TRUE(std::isnan(r.value[i])) << "row " << i;
    } else {
      EXPECT_EQ(r.status[i], 0) << "row " << i;
      EXPECT_EQ(r.value[i], x * x) << "row " << i;
    }
  }
}

/// Processes whose command line is exactly `argv` (NUL-joined in /proc/PID/cmdline).
std::vector<pid_t> processes_running(const std::string& cmdline) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (slurp(e.path().string() + "/cmdline") == cmdline) out.push_back(std::stoi(name));
  }
  return out;
}

/// The pids the workers wrote into `dir` (files worker.PID), waiting until there are `n`.
std::vector<pid_t> worker_pids(const std::string& dir, std::size_t n, double timeout_s) {
  const auto t0 = Clock::now();
  std::vector<pid_t> pids;
  while (pids.size() < n && seconds_since(t0) < timeout_s) {
    pids.clear();
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("worker.", 0) == 0) pids.push_back(std::stoi(name.substr(7)));
    }
    sleep_s(0.02);
  }
  return pids;
}

// The shell worker under mpiexec -n 2: every rank's worker answers in order, a function error
// is that item's failure and the worker goes on, and no MPI variable reaches the workers.
TEST(Worker, ShellWorkerUnderMpiFunctionErrorIsData) {
  TempDir dir;
  const std::string env_file = dir.file("worker.env");
  const Finished f =
      run(mpi_argv(2, worker_args(shell_worker(), {"--range", "-5:95", "--threads", "1", "--arg",
                                                   "error_on=7", "--arg", "env_file=" + env_file})),
          dir.path().string(), "run", 60, kEnv);
  ASSERT_EQ(f.code, 1) << f.what;
  const Rows r = read_rows(dir.file("w.h5"));
  ASSERT_EQ(r.size(), 100U);
  expect_squares_but(r, -5, 12, 1);
  EXPECT_EQ(message_of(dir.file("w.h5"), 7), "item 7 is not welcome");
  EXPECT_EQ(compute_attr(dir.file("w.h5"), "kernel"), "worker");
  const std::string env = slurp(env_file);
  EXPECT_NE(env.find("PATH="), std::string::npos) << env;
  EXPECT_EQ(env.find("OMPI_"), std::string::npos) << env;
  EXPECT_EQ(env.find("PMIX_"), std::string::npos) << env;
}

// Over a grid the worker gets each item's fields as its text; a field named like one of the
// worker's own arguments is refused before anything runs (they are given once per worker).
TEST(Worker, GridItemsReachTheWorkerAsTextAndCannotSetItsArguments) {
  TempDir dir;
  const Finished f =
      run(solo_argv(worker_args(shell_worker(), {"--grid", "x=2,3,-4", "--threads", "1"})),
          dir.path().string(), "run", 60, kEnv);
  ASSERT_EQ(f.code, 0) << f.what;
  const Rows r = read_rows(dir.file("w.h5"));
  ASSERT_EQ(r.size(), 3U);
  EXPECT_EQ(r.value, (std::vector<double>{4, 9, 16}));
  const std::string before = slurp(dir.file("w.h5"));
  const Finished bad =
      run(solo_argv(worker_args(shell_worker(), {"--grid", "window=1,2", "--force"})),
          dir.path().string(), "run", 60, kEnv);
  EXPECT_EQ(bad.code, 2) << bad.what;
  EXPECT_NE(bad.err.find("takes its arguments once per worker"), std::string::npos) << bad.err;
  EXPECT_EQ(slurp(dir.file("w.h5")), before);  // nothing written
}

// A crash (SIGSEGV) fails only the item the worker held; the worker is restarted and the rest
// of its items are right.
TEST(Worker, CrashFailsOnlyTheHeldItem) {
  TempDir dir;
  const Finished f = run(solo_argv(worker_args(shell_worker(), {"--range", "0:60", "--threads", "2",
                                                                "--arg", "crash_on=13"})),
                         dir.path().string(), "run", 60, kEnv);
  ASSERT_EQ(f.code, 1) << f.what;
  const Rows r = read_rows(dir.file("w.h5"));
  ASSERT_EQ(r.size(), 60U);
  expect_squares_but(r, 0, 13, 1);
  const std::string m = message_of(dir.file("w.h5"), 13);
  EXPECT_NE(m.find("the worker died"), std::string::npos) << m;
  EXPECT_NE(m.find("SIGSEGV"), std::string::npos) << m;
}

// A Python worker keeps answers back (it sends them in groups), so when it crashes it holds many
// items: pmap replays them one at a time and only the one that crashes again fails.
TEST(Worker, CrashWithAnswersHeldBackFailsOnlyTheCulprit) {
  TempDir dir;
  const Finished f =
      run(solo_argv(worker_args(python_worker("pyfns:crash_on"),
                                {"--range", "0:3000", "--threads", "1", "--arg", "at=1500"})),
          dir.path().string(), "run", 60, kEnv);
  ASSERT_EQ(f.code, 1) << f.what;
  const Rows r = read_rows(dir.file("w.h5"));
  ASSERT_EQ(r.size(), 3000U);
  EXPECT_EQ(r.count(1), 1U);
  EXPECT_EQ(r.status[1500], 1);
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (i != 1500) {
      EXPECT_EQ(r.value[i], static_cast<double>(i)) << "row " << i;
    }
  }
  EXPECT_NE(message_of(dir.file("w.h5"), 1500).find("SIGSEGV"), std::string::npos);
}

// A line the protocol does not allow fails the held item; the worker is killed and restarted.
TEST(Worker, GarbageFailsOnlyTheHeldItem) {
  TempDir dir;
  const Finished f = run(solo_argv(worker_args(shell_worker(), {"--range", "0:40", "--threads", "2",
                                                                "--arg", "garbage_on=21"})),
                         dir.path().string(), "run", 60, kEnv);
  ASSERT_EQ(f.code, 1) << f.what;
  const Rows r = read_rows(dir.file("w.h5"));
  ASSERT_EQ(r.size(), 40U);
  expect_squares_but(r, 0, 21, 1);
  const std::string m = message_of(dir.file("w.h5"), 21);
  EXPECT_NE(m.find("broke the protocol"), std::string::npos) << m;
  EXPECT_NE(m.find("this is not the protocol"), std::string::npos) << m;
}

// A worker that hangs past --item-timeout: the item times out (status 2), the worker's whole
// process group is killed (its `sleep 3141` child too) and the other items are right.
TEST(Worker, HangTimesOutAndKillsTheProcessGroup) {
  TempDir dir;
  const Finished f =
      run(solo_argv(worker_args(shell_worker(), {"--range", "0:20", "--threads", "2", "--arg",
                                                 "hang_on=5", "--item-timeout", "1"})),
          dir.path().string(), "run", 60, kEnv);
  ASSERT_EQ(f.code, 1) << f.what;
  EXPECT_LT(f.seconds, 20) << f.what;
  const Rows r = read_rows(dir.file("w.h5"));
  ASSERT_EQ(r.size(), 20U);
  expect_squares_but(r, 0, 5, 2);
  EXPECT_GE(r.seconds[5], 1.0);
  EXPECT_TRUE(processes_running(std::string("sleep\0"
                                            "3141\0",
                                            11))
                  .empty())
      << "the hung worker's child outlived it";
}

// A command that cannot run, or a worker that exits before its handshake, stops the run on
// every rank with exit 2 before anything is written, with the worker's stderr in the message.
TEST(Worker, WorkerThatCannotStartStopsBeforeWriting) {
  TempDir dir;
  const Finished missing = run(mpi_argv(2, worker_args("/no/such/pmap-worker", {"--range", "0:9"})),
                               dir.path().string(), "missing", 60, kEnv);
  EXPECT_EQ(missing.code, 2) << missing.what;
  EXPECT_NE(error_line(missing).find("cannot run '/no/such/pmap-worker'"), std::string::npos)
      << missing.what;
  const Finished exits =
      run(solo_argv(
              worker_args("sh -c 'echo the worker cannot go on >&2; exit 4'", {"--range", "0:9"})),
          dir.path().string(), "exits", 60, kEnv);
  EXPECT_EQ(exits.code, 2) << exits.what;
  EXPECT_NE(error_line(exits).find("exit status 4; stderr: the worker cannot go on"),
            std::string::npos)
      << exits.what;
  EXPECT_FALSE(fs::exists(dir.file("w.h5")));
}

// A Python module that does not import: exit 2 on every rank, the import error in the message,
// no file.
TEST(Worker, ImportErrorStopsBeforeWriting) {
  TempDir dir;
  const Finished f =
      run(mpi_argv(2, worker_args(python_worker("broken_import:f"), {"--range", "0:9"})),
          dir.path().string(), "run", 60, kEnv);
  EXPECT_EQ(f.code, 2) << f.what;
  const std::string line = error_line(f);
  EXPECT_NE(line.find("the worker did not start"), std::string::npos) << f.what;
  EXPECT_NE(line.find("No module named 'no_such_module_for_pmap_tests'"), std::string::npos)
      << f.what;
  EXPECT_FALSE(fs::exists(dir.file("w.h5")));
}

// The Python helper: --arg values as keyword arguments (converted), a dict into named columns,
// input lines as text (tabs and backslashes intact), the function's prints kept off the protocol,
// an exception as the item's failure with its place.
TEST(Worker, PythonHelperArgumentsColumnsTextAndErrors) {
  TempDir dir;
  const std::string d = dir.path().string();
  const Finished pair =
      run(solo_argv(worker_args(python_worker("pyfns:pair"),
                                {"--range", "0:2000", "--threads", "2", "--arg", "columns=x,y",
                                 "--arg", "y=3", "--arg", "scale=0.5"})),
          d, "pair", 60, kEnv);
  ASSERT_EQ(pair.code, 0) << pair.what;
  const Rows r = read_rows(dir.file("w.h5"));
  ASSERT_EQ(r.columns, 2U);
  for (std::size_t i = 0; i < r.size(); ++i) {
    EXPECT_EQ(r.value[2 * i], static_cast<double>(i));
    EXPECT_EQ(r.value[2 * i + 1], 1.5);
  }
  std::ofstream(dir.file("lines.txt")) << "abc\nx\ty\na\\b c\n";
  const Finished text = run(
      solo_argv(worker_args(python_worker("pyfns:length"), {"--input", "lines.txt", "--force"})), d,
      "text", 60, kEnv);
  ASSERT_EQ(text.code, 0) << text.what;
  EXPECT_EQ(read_rows(dir.file("w.h5")).value, (std::vector<double>{3, 3, 5}));
  const Finished chatty =
      run(solo_argv(worker_args(python_worker("pyfns:chatty"), {"--range", "0:50", "--force"})), d,
          "chatty", 60, kEnv);
  ASSERT_EQ(chatty.code, 0) << chatty.what;
  EXPECT_EQ(read_rows(dir.file("w.h5")).value[7], -7.0);
  // An exception in the middle of a range sent at once: that item only, its neighbours right.
  const Finished fails = run(
      solo_argv(worker_args(python_worker("pyfns:fails_on"), {"--range", "0:5000", "--threads", "2",
                                                              "--arg", "bad=2500", "--force"})),
      d, "fails", 60, kEnv);
  ASSERT_EQ(fails.code, 1) << fails.what;
  const Rows rf = read_rows(dir.file("w.h5"));
  EXPECT_EQ(rf.count(1), 1U);
  EXPECT_EQ(rf.status[2500], 1);
  EXPECT_EQ(rf.value[2499], 2499.0);
  EXPECT_EQ(rf.value[2501], 2501.0);
  const std::string m = message_of(dir.file("w.h5"), 2500);
  EXPECT_EQ(m.rfind("ValueError: 2500 is not welcome (pyfns.py:", 0), 0U) << m;
  // Results that are not numbers (text, too many values, None) are the item's failure.
  const Finished types = run(
      solo_argv(worker_args(python_worker("pyfns:wrong_types"), {"--range", "0:10", "--force"})), d,
      "types", 60, kEnv);
  ASSERT_EQ(types.code, 1) << types.what;
  const Rows rt = read_rows(dir.file("w.h5"));
  EXPECT_EQ(rt.status, (std::vector<std::int8_t>{0, 0, 0, 0, 0, 1, 1, 1, 0, 0}));
  EXPECT_NE(message_of(dir.file("w.h5"), 5).find("returned '3', expected a number"),
            std::string::npos);
  EXPECT_NE(message_of(dir.file("w.h5"), 6).find("returned 2 values, the columns are ['value']"),
            std::string::npos);
}

// No worker outlives pmap: not after kill -9 of pmap itself (PR_SET_PDEATHSIG), not after a
// signal (exit 75, the rows done are in the file).
TEST(Worker, NoWorkerOutlivesPmap) {
  become_subreaper();  // orphaned workers become ours, so that they can be seen to die
  for (const bool nine : {true, false}) {
    TempDir dir;
    const std::string pid_dir = dir.file("pids");
    fs::create_directories(pid_dir);
    // After kill -9 the workers sit in a 60 s item, without reading their stdin's EOF: only
    // the parent-death signal can end them in time.
    Job job(
        solo_argv(worker_args(python_worker("pyfns:slow"),
                              {"--range", "0:200", "--threads", "2", "--arg", "pid_dir=" + pid_dir,
                               "--arg", nine ? "seconds=60" : "seconds=0.3"})),
        dir.path().string(), "run", kEnv);
    const auto pids = worker_pids(pid_dir, 2, 30);
    ASSERT_EQ(pids.size(), 2U) << job.describe();
    sleep_s(nine ? 0.2 : 0.7);
    job.signal(nine ? SIGKILL : SIGTERM);
    const auto code = job.wait(30);
    ASSERT_TRUE(code.has_value()) << job.describe();
    EXPECT_EQ(*code, nine ? 128 + SIGKILL : 75) << job.describe();
    EXPECT_TRUE(wait_gone(pids, 5)) << (nine ? "kill -9" : "SIGTERM") << ": a worker outlived pmap";
    if (!nine) {
      EXPECT_GT(read_rows(dir.file("w.h5")).count(0), 0U);
    }
  }
}

}  // namespace
