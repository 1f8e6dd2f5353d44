// Resource faults: the limits a cluster user meets (open files, processes and threads) are never
// results. The URL stage under `ulimit -n 256` and `ulimit -n 1024` with more threads than fit
// gives every verdict right (threads lowered, said once, recorded in /urls); a soft limit below
// the hard one is raised; a thread that cannot start (pthread_create failing with EAGAIN, as
// under RLIMIT_NPROC) is one clear error in either stage, never a crash or fewer workers.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <algorithm>
#include <iostream>

#include "fault_support.hpp"
#include "support/http_fixture_process.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace pmap::faults;
using pmap::test::TempDir;

/// The fixture, every answer held 100 ms so that all requests are in flight at once.
std::unique_ptr<pmap::test::HttpFixture> held_fixture() {
  std::string why;
  auto server = pmap::test::HttpFixture::start(
      PMAP_HTTP_FIXTURE, {"--anchor-routes", "--delay-ms", "100", "--max-seconds", "300"}, &why);
  if (!server) throw std::runtime_error("fixture: " + why);
  return server;
}

/// n URLs: even rows /ok/N (exists), odd rows /missing/N (does not exist), one host.
std::string url_list(const pmap::test::HttpFixture& server, int n) {
  std::string list;
  for (int i = 0; i < n; ++i) {
    list += server.url((i % 2 == 0 ? "/ok/" : "/missing/") + std::to_string(i)) + "\n";
  }
  return list;
}

std::size_t warnings_about_open_files(const Finished& f) {
  const auto lines = pmap_lines(f.err);
  return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [](const auto& l) {
    return l.rfind("pmap: warning: ", 0) == 0 && l.find("open files") != std::string::npos;
  }));
}

/// `pmap urls` over n URLs with `threads` threads, run by `sh -c 'ulimit <ulimit> && exec ...'`:
/// exit 0, every verdict right; the threads used (the /urls attribute) are returned.
std::int64_t verdicts_under_ulimit(const std::string& ulimit, int threads, int n,
                                   std::size_t warnings) {
  TempDir dir;
  const std::string d = dir.path().string();
  const auto server = held_fixture();
  pmap::test::write_bytes(dir.file("urls.txt"), url_list(*server, n));
  const Args argv = {"/bin/sh",
                     "-c",
                     "ulimit " + ulimit + " && exec \"$0\" \"$@\"",
                     PMAP_BIN,
                     "urls",
                     "--input",
                     "urls.txt",
                     "--threads",
                     std::to_string(threads),
                     "--per-host",
                     std::to_string(n),
                     "--progress",
                     "none",
                     "--output",
                     "u.h5"};
  const Finished f = run(argv, d, "urls", 120);
  SCOPED_TRACE("ulimit " + ulimit + "\n" + f.what);
  EXPECT_EQ(f.code, 0);
  EXPECT_EQ(warnings_about_open_files(f), warnings) << "a lowered thread count is said once";
  const auto rows = pmap::test::read_url_rows(dir.file("u.h5"));
  EXPECT_EQ(rows.verdict.size(), static_cast<std::size_t>(n));
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < rows.verdict.size(); ++i) {
    const std::int8_t expected = i % 2 == 0 ? 0 : 1;  // exists, does not exist
    if (rows.verdict[i] != expected || rows.attempts[i] != 1 || !rows.error[i].empty()) {
      if (++wrong <= 3) ADD_FAILURE() << "row " << i << ": " << rows.error[i];
    }
  }
  EXPECT_EQ(wrong, 0U);
  const std::string out = dir.file("u.h5");
  EXPECT_EQ(pmap::test::read_int_attr(out, "/urls", "threads_requested"), threads);
  const std::int64_t used = pmap::test::read_int_attr(out, "/urls", "threads");
  std::cout << "[faults] ulimit " << ulimit << ": " << n << " URLs, " << used << " of " << threads
            << " threads, " << wrong << " wrong verdicts, " << f.seconds << " s\n";
  return used;
}

// Fault: a hard limit of 256 open files and 400 URL threads asked for (each needs a few).
TEST(OpenFiles, EveryVerdictRightUnderUlimit256) {
  const std::int64_t used = verdicts_under_ulimit("-n 256", 400, 600, 1);
  EXPECT_LT(used, 400);
  EXPECT_GE(used, 10);
}

// Fault: the case: 1,500 threads, 2,000 URLs, a hard limit of 1,024 open files.
TEST(OpenFiles, EveryVerdictRightUnderUlimit1024) {
  const std::int64_t used = verdicts_under_ulimit("-n 1024", 1500, 2000, 1);
  EXPECT_LT(used, 1500);
  EXPECT_GE(used, 100);
}

// A cluster's default: soft limit 1,024, hard limit higher. pmap raises the soft one and runs
// every thread asked for, without a warning.
TEST(OpenFiles, SoftLimitIsRaisedToTheHardOne) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < 12000) {
    GTEST_SKIP() << "hard limit on open files " << limit.rlim_max << " < 12000 here";
  }
  EXPECT_EQ(verdicts_under_ulimit("-Sn 1024", 1500, 2000, 0), 1500);
}

/// The environment that makes pthread_create fail once a process runs `max` threads.
Args thread_shim(int max) {
  return {std::string("LD_PRELOAD=") + PMAP_THREAD_SHIM,
          "PMAP_SHIM_MAX_THREADS=" + std::to_string(max)};
}

// Fault: the compute stage's threads cannot all start (alone, and on every rank of -n 2, the
// shim given to the ranks only). One "pmap: error:" line naming the stage and the cause, exit
// 1, no results file: never libgomp ending the process, never fewer threads than asked.
TEST(Threads, ComputeThreadsThatCannotStartAreAClearError) {
  TempDir dir;
  const std::string d = dir.path().string();
  const Args job = {"run",   "--kernel", "compute_x", "--range", "0:20",
                    "--arg", "sleep=0",  "--threads", "32",      "--progress",
                    "none",  "--output", "t.h5"};
  const Args shim = thread_shim(12);
  Args mpi = {PMAP_MPIEXEC, "-n", "2", "--bind-to", "none"};
  for (const auto& e : shim) mpi = mpi + Args{"-x", e};
  mpi = mpi + Args{PMAP_BIN} + job;
  for (const bool alone : {true, false}) {
    const Finished f =
        alone ? run(solo_argv(job), d, "alone", 60, kMpiEnv + shim) : run(mpi, d, "mpi", 60);
    const std::string where = alone ? "alone" : "-n 2";
    expect_clean_failure(f, where);
    EXPECT_EQ(f.code, 3) << f.what;  // a run-time failure, not an item's
    const std::string line = error_line(f);
    EXPECT_NE(line.find("compute stage: cannot start thread"), std::string::npos) << line;
    EXPECT_NE(line.find("of 36"), std::string::npos) << "32 workers + helpers: " << line;
    EXPECT_NE(line.find("Resource temporarily unavailable"), std::string::npos) << line;
    EXPECT_NE(line.find("lower the thread count (--threads)"), std::string::npos) << line;
    EXPECT_FALSE(fs::exists(dir.file("t.h5"))) << where << ": a file was written";
  }
}

// Fault: the URL stage's event-loop threads cannot all start: one clear error, exit 3. The
// stage starts one loop a core (at most 8), whatever --threads asks, after MPI's and the
// channel's threads: the limit is raised one thread at a time until the first failure is the
// URL stage's, and every failure on the way must be a clean one.
TEST(Threads, UrlThreadsThatCannotStartAreAClearError) {
  TempDir dir;
  const std::string d = dir.path().string();
  const auto server = held_fixture();
  pmap::test::write_bytes(dir.file("urls.txt"), url_list(*server, 200));
  const Args args = {"urls", "--input",    "urls.txt", "--threads", "64",  "--per-host",
                     "200",  "--progress", "none",     "--output",  "u.h5"};
  for (int limit = 3; limit <= 24; ++limit) {
    const std::string where = "at most " + std::to_string(limit) + " threads";
    const Finished f = run(solo_argv(args), d, "urls", 60, kMpiEnv + thread_shim(limit));
    ASSERT_NE(f.code, 0) << where << ": the URL stage ran without meeting the limit\n" << f.what;
    expect_clean_failure(f, where);
    const std::string line = error_line(f);
    if (line.find("URL stage: cannot start thread") == std::string::npos) continue;
    EXPECT_EQ(f.code, 3) << f.what;
    EXPECT_NE(line.find("Resource temporarily unavailable"), std::string::npos) << line;
    EXPECT_NE(line.find("lower the thread count (--threads)"), std::string::npos) << line;
    return;
  }
  FAIL() << "no thread limit up to 24 reached the URL stage";
}

}  // namespace
