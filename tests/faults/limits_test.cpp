// Limit faults: items that fail (--max-failures), items that hang (--item-timeout) and a job that
// would outlive its allocation (--deadline).
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "fault_support.hpp"
#include "pmap/resume.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace pmap::faults;
using pmap::test::TempDir;

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

const Args kFailing = {"run",        "--kernel", "compute_x",    "--range",    "0:200", "--arg",
                       "sleep=0.01", "--arg",    "fail_every=2", "--progress", "none"};

/// -n 4 x 1 thread run of kFailing with `--max-failures limit_text`; checks the early stop.
///
/// How far past the limit may failures go? A worker holds one chunk at a time and finishes it
/// (items are not abandoned, only new chunks are refused). Auto chunks are capped at
/// ceil(N / (4 x workers)) = ceil(200 / 16) = 13 items, i.e. at most 7 failures with
/// fail_every=2. When the limit-th failure is recorded, the failures already recorded are at most
/// limit - 1 and at most `workers` chunks are in flight; if no chunk is granted after that moment
/// the total is at most (limit - 1) + workers x 7. More than that means chunks were still handed
/// out after the job had reached its limit.
void max_failures_case(const std::string& limit_text, std::uint64_t limit) {
  TempDir dir;
  const std::string d = dir.path().string();
  const std::string out = dir.file("m.h5");
  const Finished f = run(mpi_argv(4, kFailing + Args{"--threads", "1", "--max-failures", limit_text,
                                                     "--output", "m.h5"}),
                         d, "run", 120);
  EXPECT_EQ(f.code, 1) << f.what;
  const Rows r = read_rows(out);
  ASSERT_EQ(r.size(), 200U);
  const std::uint64_t workers = 4, per_chunk = ceil_div(ceil_div(200, 4 * workers), 2);
  const std::uint64_t bound = (limit - 1) + workers * per_chunk;
  const std::uint64_t failed = r.count(1), ok = r.count(0), not_run = r.count(-1);
  std::cout << "[faults] --max-failures " << limit_text << " at -n 4: " << failed << " failed, "
            << ok << " ok, " << not_run << " not run (bound if no chunk is granted after the "
            << "limit: " << bound << ")\n";
  EXPECT_GE(failed, limit);
  EXPECT_LE(failed, bound) << "chunks were handed out after " << limit
                           << " failures had been reached";
  EXPECT_GT(not_run, 0U) << "the run did not stop early";
  EXPECT_EQ(r.count(2), 0U);
  EXPECT_EQ(compute_attr(out, "stop_reason"), "max-failures");
  // Failures are data: even items failed with NaN values and a message, odd ones are right.
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (r.status[i] == 1 && (i % 2 != 0 || !std::isnan(r.value[2 * i]))) ++wrong;
    if (r.status[i] == 0 &&
        (i % 2 == 0 || r.value[2 * i] != static_cast<double>(i) || r.value[2 * i + 1] != 2.0)) {
      ++wrong;
    }
  }
  EXPECT_EQ(wrong, 0U);
  const auto errors = pmap::read_errors(out);
  EXPECT_EQ(errors.size(), failed);
  for (const auto& e : errors) {
    EXPECT_NE(e.message.find("fail_every=2"), std::string::npos) << e.message;
  }
}

// Fault: half the items fail (fail_every=2) and --max-failures 5 must stop the job early. "Nothing
// lost": every row that ran is in the file with its outcome (0 or 1 and a message), the rest are
// -1, and --resume --retry-failed completes them later.
TEST(Limits, MaxFailuresStopsClaimingWork) { max_failures_case("5", 5); }

// The same with a percentage: 10% of 200 items = 20 failures.
TEST(Limits, MaxFailuresPercentStopsClaimingWork) { max_failures_case("10%", 20); }

// What --resume does with a file that stopped on --max-failures (documented behaviour):
//  * --resume --retry-failed --max-failures 5: the failed rows are retried first (they come first
//    in row order), fail again, and the limit stops the run again: exit 1, rows still -1;
//  * --resume (no --retry-failed, no limit): runs only the -1 rows; exit 1 (the file has
//    failures); every row then has its final outcome;
//  * --resume --retry-failed afterwards reruns just the 100 failed rows, which fail again
//    (deterministically), exit 1, and the file is unchanged in item/value/status.
// Nothing lost: after every step each failed row has its message in /compute/errors, including
// the failed rows a stopped --retry-failed run did not get to.
TEST(Limits, ResumeAfterMaxFailures) {
  TempDir dir;
  const std::string d = dir.path().string();
  const std::string out = dir.file("m.h5");
  const Finished first =
      run(mpi_argv(4, kFailing + Args{"--threads", "1", "--max-failures", "5", "--output", "m.h5"}),
          d, "first");
  ASSERT_EQ(first.code, 1) << first.what;
  const Rows r1 = read_rows(out);
  ASSERT_GT(r1.count(-1), 0U);

  const Finished retry_limited =
      run(solo_argv(kFailing +
                    Args{"--resume", "--retry-failed", "--max-failures", "5", "--output", "m.h5"}),
          d, "retry_limited");
  EXPECT_EQ(retry_limited.code, 1) << retry_limited.what;
  const Rows r2 = read_rows(out);
  EXPECT_GT(r2.count(-1), 0U) << "the limit applies to the resumed run as well";
  EXPECT_EQ(compute_attr(out, "stop_reason"), "max-failures");
  // Every failed row keeps its message, including the failed rows this stopped run did not reach.
  EXPECT_EQ(pmap::read_errors(out).size(), r2.count(1))
      << "failed rows without a row in /compute/errors after --retry-failed stopped early";

  const Finished rest = run(solo_argv(kFailing + Args{"--resume", "--output", "m.h5"}), d, "rest");
  EXPECT_EQ(rest.code, 1) << rest.what;
  const Rows r3 = read_rows(out);
  EXPECT_EQ(r3.count(-1), 0U);
  EXPECT_EQ(r3.count(0), 100U);
  EXPECT_EQ(r3.count(1), 100U);
  for (std::size_t i = 0; i < r3.size(); ++i) {
    EXPECT_EQ(r3.status[i], i % 2 == 0 ? 1 : 0) << "row " << i;
    EXPECT_EQ(r3.item[i], static_cast<std::int64_t>(i));
  }
  EXPECT_EQ(pmap::read_errors(out).size(), 100U) << "every failed row needs its message";

  const Finished again =
      run(solo_argv(kFailing + Args{"--resume", "--retry-failed", "--output", "m.h5"}), d, "again");
  EXPECT_EQ(again.code, 1) << again.what;
  const Rows r4 = read_rows(out);
  EXPECT_TRUE(same_bytes_all(r4.status, r3.status));
  EXPECT_TRUE(same_bytes_all(r4.item, r3.item));
  EXPECT_TRUE(same_bytes_all(r4.value, r3.value));
  const auto errors = pmap::read_errors(out);
  EXPECT_EQ(errors.size(), 100U) << "the errors table must list each failed item once";
  std::cout << "[faults] after --max-failures 5: --retry-failed with the limit left "
            << r2.count(-1) << " rows -1 (exit " << retry_limited.code
            << "); a plain --resume completed the job: 100 ok, 100 failed (exit " << rest.code
            << ")\n";
}

// Fault: items that hang (compute_x sleep=2) under --item-timeout 0.3. Nothing lost: every item
// is in the file with status 2 and a "timed out" message, the threads are freed (each item ends
// at ~0.3 s, not 2 s) and the job finishes in well under the 2 s a single item would take.
TEST(Limits, ItemTimeoutStopsHangingItems) {
  TempDir dir;
  const std::string d = dir.path().string();
  const Finished f = run(solo_argv({"run", "--kernel", "compute_x", "--range", "0:4", "--arg",
                                    "sleep=2", "--item-timeout", "0.3", "--threads", "2",
                                    "--progress", "none", "--output", "t.h5"}),
                         d, "timeout", 60);
  EXPECT_EQ(f.code, 1) << f.what;
  EXPECT_LT(f.seconds, 2.0) << f.what;
  const Rows r = read_rows(dir.file("t.h5"));
  ASSERT_EQ(r.size(), 4U);
  EXPECT_EQ(r.count(2), 4U);
  for (std::size_t i = 0; i < r.size(); ++i) {
    EXPECT_GE(r.seconds[i], 0.3);
    EXPECT_LT(r.seconds[i], 0.8) << "the item was not stopped at its timeout";
    EXPECT_TRUE(std::isnan(r.value[2 * i]));
  }
  const auto errors = pmap::read_errors(dir.file("t.h5"));
  ASSERT_EQ(errors.size(), 4U);
  for (const auto& e : errors)
    EXPECT_NE(e.message.find("timed out"), std::string::npos) << e.message;

  // The same under mpiexec: the compute phase (wall_seconds) ends after ~2 x 0.3 s.
  const Finished m = run(mpi_argv(2, {"run", "--kernel", "compute_x", "--range", "0:4", "--arg",
                                      "sleep=2", "--item-timeout", "0.3", "--threads", "1",
                                      "--progress", "none", "--output", "m.h5"}),
                         d, "timeout_mpi", 60);
  EXPECT_EQ(m.code, 1) << m.what;
  EXPECT_EQ(read_rows(dir.file("m.h5")).count(2), 4U);
  const double wall = pmap::test::read_double_attr(dir.file("m.h5"), "/compute", "wall_seconds");
  EXPECT_LT(wall, 1.5);

  // pi observes the stop token inside its sampling loop: 10^10 samples stop at 0.2 s.
  const Finished p = run(solo_argv({"run", "--kernel", "pi", "--range", "0:4", "--arg",
                                    "samples=10000000000", "--item-timeout", "0.2", "--threads",
                                    "2", "--progress", "none", "--output", "p.h5"}),
                         d, "pi_timeout", 60);
  EXPECT_EQ(p.code, 1) << p.what;
  EXPECT_LT(p.seconds, 2.0) << p.what;
  const Rows pr = read_rows(dir.file("p.h5"));
  EXPECT_EQ(pr.count(2), 4U);
  for (double s : pr.seconds) EXPECT_LT(s, 0.6);
  std::cout << "[faults] --item-timeout: compute_x sleep=2 x4 items ended in " << f.seconds
            << " s (process), " << wall << " s compute under -n 2; pi 1e10 samples x4 in "
            << p.seconds << " s, all status 2\n";
}

// Fault: a job longer than its allocation (100 items x 0.2 s on 2 workers = 10 s) with
// --deadline 1.5. Nothing lost: the compute phase ends by the deadline (no chunk is started that
// cannot finish), the finished rows are in the file, the rest are -1, the exit is 75, and
// --resume completes the job to the right values.
TEST(Limits, DeadlineDrainsAndExits75) {
  TempDir dir;
  const std::string d = dir.path().string();
  // What mpiexec -n 2 costs here around a run that exits non-zero without work (start, MPI
  // init, file, and Open MPI's own teardown of a job whose ranks exit non-zero, 1-2 s here):
  // the time bound of the deadline run is that plus the deadline plus 3 s of start-up and
  // teardown noise on a loaded machine (one CI run needed +0.9 s). Running the 86 remaining items
  // would take 8.6 s more, so the bound still fails if the job does not drain.
  const Finished empty =
      run(mpi_argv(2, {"run", "--kernel", "compute_x", "--range", "1:2", "--arg", "fail_every=1",
                       "--progress", "none", "--output", "empty.h5"}),
          d, "empty", 60);
  ASSERT_EQ(empty.code, 1) << empty.what;
  const Args job = {"run",       "--kernel",   "compute_x", "--range",  "0:100", "--arg",
                    "sleep=0.2", "--progress", "none",      "--output", "d.h5"};
  const Finished f =
      run(mpi_argv(2, job + Args{"--threads", "1", "--deadline", "1.5"}), d, "deadline", 60);
  EXPECT_EQ(f.code, 75) << f.what;
  const double wall = pmap::test::read_double_attr(dir.file("d.h5"), "/compute", "wall_seconds");
  std::cout << "[faults] --deadline 1.5: compute phase " << wall << " s, process " << f.seconds
            << " s (a failing run without work costs " << empty.seconds << " s under mpiexec)\n";
  EXPECT_LE(wall, 1.5 + 0.15) << "chunks ran past the deadline";
  EXPECT_LT(f.seconds, empty.seconds + 1.5 + 3.0) << f.what;
  EXPECT_EQ(compute_attr(dir.file("d.h5"), "stop_reason"), "deadline");
  const Rows r = read_rows(dir.file("d.h5"));
  EXPECT_GE(r.count(0), 10U);
  EXPECT_GT(r.count(-1), 50U);
  EXPECT_EQ(r.count(0) + r.count(-1), 100U);

  const Finished resume =
      run(mpi_argv(2, job + Args{"--threads", "8", "--resume"}), d, "resume", 60);
  EXPECT_EQ(resume.code, 0) << resume.what;
  const Rows after = read_rows(dir.file("d.h5"));
  EXPECT_EQ(after.count(0), 100U);
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after.item[i], static_cast<std::int64_t>(i));
    EXPECT_EQ(after.value[2 * i], static_cast<double>(i));
    EXPECT_EQ(after.value[2 * i + 1], 2.0);
    if (r.status[i] == 0) {
      EXPECT_TRUE(same_bytes(after.seconds, r.seconds, i)) << "row " << i << " ran twice";
    }
  }
}

}  // namespace
