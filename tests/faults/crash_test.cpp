// Crash faults: kill -9 of mpiexec (alone, or with every rank at once), of one rank, and what
// --resume makes of the file afterwards. "Nothing lost" here means: after every kill the file is
// readable (`pmap inspect` exits 0), its status holds only -1 and 0, every status-0 row equals the
// uninterrupted run's row, every row that had reached the file before the kill is still there,
// and a row written once is never run again; the resumed file is byte-identical to an
// uninterrupted run in item, value and status.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <random>

#include "fault_support.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace pmap::faults;
using pmap::test::TempDir;

/// The rows of `r` with status >= 0.
std::vector<std::size_t> done_rows(const Rows& r) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (r.status[i] >= 0) out.push_back(i);
  }
  return out;
}

/// Checks a file left by a crash against the reference: readable by `pmap inspect`, status only
/// -1/0, every done row identical to the reference's, every row in `seen` (status read from the
/// file just before the kill) still done, and every row of `before` (done in an earlier step)
/// untouched: same rank, thread and seconds bytes, i.e. not run again.
void check_after_crash(const TempDir& dir, const std::string& file, const Rows& ref,
                       const std::vector<std::int8_t>& seen, const Rows* before,
                       const std::string& where) {
  SCOPED_TRACE(where);
  const Inspected in = inspect(dir.path().string(), file);
  EXPECT_EQ(in.code, 0) << in.what;
  EXPECT_TRUE(in.parsed) << in.what;
  const Rows r = read_rows(dir.file(file));
  ASSERT_EQ(r.size(), ref.size());
  ASSERT_EQ(r.columns, ref.columns);
  EXPECT_EQ(in.ok, r.count(0));
  EXPECT_EQ(in.not_run, r.count(-1));
  std::size_t garbage = 0, wrong = 0, lost = 0, rerun = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (r.status[i] != 0 && r.status[i] != -1) ++garbage;
    if (r.status[i] == 0 &&
        (!same_bytes(r.item, ref.item, i) || !same_bytes(r.value, ref.value, i, r.columns))) {
      ++wrong;
    }
    if (i < seen.size() && seen[i] >= 0 && r.status[i] != 0) ++lost;
    if (before != nullptr && before->status[i] == 0 &&
        (r.status[i] != 0 || !same_bytes(r.rank, before->rank, i) ||
         !same_bytes(r.thread, before->thread, i) || !same_bytes(r.seconds, before->seconds, i))) {
      ++rerun;
    }
  }
  EXPECT_EQ(garbage, 0U) << "status values other than -1/0 after a crash";
  EXPECT_EQ(wrong, 0U) << "status-0 rows whose item/value differ from the uninterrupted run";
  EXPECT_EQ(lost, 0U) << "rows that were in the file before the kill are gone after it";
  EXPECT_EQ(rerun, 0U) << "rows done in an earlier run were written again";
}

/// Asserts the final file equals the reference in item, value and status, bytes for bytes.
void expect_identical(const Rows& got, const Rows& ref) {
  EXPECT_TRUE(same_bytes_all(got.status, ref.status))
      << "status differs from the uninterrupted run";
  EXPECT_TRUE(same_bytes_all(got.item, ref.item)) << "item differs from the uninterrupted run";
  EXPECT_TRUE(same_bytes_all(got.value, ref.value)) << "value differs from the uninterrupted run";
}

/// Rows of `before` with status 0 whose rank/thread/seconds bytes changed in `after`.
std::size_t rewritten(const Rows& before, const Rows& after) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < before.size(); ++i) {
    if (before.status[i] != 0) continue;
    if (after.status[i] != 0 || !same_bytes(after.rank, before.rank, i) ||
        !same_bytes(after.thread, before.thread, i) ||
        !same_bytes(after.seconds, before.seconds, i)) {
      ++n;
    }
  }
  return n;
}

/// Polls the status column of `file` while `job` runs until at least `target` rows are done;
/// returns false if the job ended first or `timeout_s` passed.
bool wait_for_rows(Job& job, StatusProbe& probe, std::uint64_t target, double timeout_s,
                   std::uint64_t* done_out = nullptr) {
  const auto t0 = Clock::now();
  while (seconds_since(t0) < timeout_s) {
    if (!job.running()) return false;
    if (const auto d = probe.done()) {
      if (done_out != nullptr) *done_out = *d;
      if (*d >= target) return true;
    }
    sleep_s(0.005);
  }
  return false;
}

constexpr std::uint64_t kItems = 600;
// 600 items x 40 ms on 4 workers: ~6 s uninterrupted, 100 rows/s.
const Args kComputeX = {"run",        "--kernel",  "compute_x", "--range",    "0:600", "--arg",
                        "sleep=0.04", "--threads", "1",         "--progress", "none"};

// Fault: kill -9 of mpiexec at five moments spread over one job (dynamic schedule, -n 4), each
// followed by --resume (at -n 4 or 2) that is itself killed, alternating "mpiexec only" (its
// ranks are orphaned and must die on their own) with "mpiexec and every rank at once" (what a
// node failure or Slurm's step kill does); a last --resume at -n 2 x 2 threads completes.
// Also: the crash window, measured on the uninterrupted reference run by watching the status
// column while the ranks write it (see StatusProbe): results reach the file continuously.
// Nothing lost: see the top of this file; the final file equals the uninterrupted run.
TEST(Crash, KillNineOfMpiexecAtFiveMomentsThenResumeIsIdentical) {
  become_subreaper();
  TempDir dir;
  const std::string d = dir.path().string();

  // The uninterrupted reference, watched while it runs.
  std::vector<std::pair<double, std::uint64_t>> timeline;  // (seconds since start, rows done)
  {
    Job ref(mpi_argv(4, kComputeX + Args{"--output", "ref.h5"}), d, "ref");
    StatusProbe probe(dir.file("ref.h5"), kItems);
    std::uint64_t last = 0;
    while (ref.running() && ref.elapsed() < 60) {
      if (const auto n = probe.done(); n && *n != last) {
        last = *n;
        timeline.emplace_back(ref.elapsed(), last);
      }
      sleep_s(0.005);
    }
    ASSERT_EQ(ref.wait(10), std::optional<int>(0)) << ref.describe();
  }
  const Rows ref = read_rows(dir.file("ref.h5"));
  ASSERT_EQ(ref.count(0), kItems);
  ASSERT_GE(timeline.size(), 10U) << "the probe saw too few distinct states of the file";
  double max_gap = 0;
  for (std::size_t i = 1; i < timeline.size(); ++i) {
    if (timeline[i].second < kItems)
      max_gap = std::max(max_gap, timeline[i].first - timeline[i - 1].first);
  }
  const double compute_span = timeline.back().first - timeline.front().first;
  std::cout << "[faults] crash window: " << timeline.size() << " file states seen over "
            << compute_span << " s of compute; longest time without new rows in the file "
            << max_gap << " s\n";
  // Chunks aim at ~100 ms per thread, so with 4 workers rows should land every few tens of ms;
  // the contract is "at least every few seconds".
  EXPECT_LT(max_gap, 2.0) << "results did not reach the file for " << max_gap << " s";
  EXPECT_EQ(timeline.back().second, kItems);

  // Five kills at seeded moments: when the file holds a fraction f of the rows (+ 0-100 ms).
  std::mt19937 rng(20261125);
  std::uniform_real_distribution<double> jitter(-0.05, 0.05);
  std::uniform_real_distribution<double> extra(0.0, 0.1);
  // Killing mpiexec alone leaves its ranks running for about a second (until Open MPI notices the
  // lost launcher), and they keep writing rows meanwhile; the moments leave room for that.
  const double base[5] = {0.10, 0.25, 0.40, 0.55, 0.70};
  const int ranks_of[5] = {4, 4, 2, 4, 4};
  const bool whole_job[5] = {false, true, false, true, false};
  Rows before;  // the file after the previous kill
  std::uint64_t prev_done = 0;
  for (int step = 0; step < 5; ++step) {
    const std::string where = "kill " + std::to_string(step + 1);
    SCOPED_TRACE(where);
    const double f = base[step] + jitter(rng);
    const double delay = extra(rng);
    const auto target = std::max<std::uint64_t>(static_cast<std::uint64_t>(std::lround(f * kItems)),
                                                prev_done + 30);
    ASSERT_LT(target + 20, kItems);
    Args args = kComputeX + Args{"--output", "run.h5"};
    if (step > 0) args.push_back("--resume");
    Job job(mpi_argv(ranks_of[step], args), d, "step" + std::to_string(step + 1));
    StatusProbe probe(dir.file("run.h5"), kItems);
    std::uint64_t done_at_trigger = 0;
    ASSERT_TRUE(wait_for_rows(job, probe, target, 60, &done_at_trigger))
        << "the job ended (or stalled) before " << target << " rows were in the file\n"
        << job.describe();
    const auto ranks = job.ranks(ranks_of[step], 5);
    ASSERT_EQ(static_cast<int>(ranks.size()), ranks_of[step]);
    const auto t_trigger = Clock::now();
    while (seconds_since(t_trigger) < delay) sleep_s(0.002);
    const auto seen = probe.read();
    ASSERT_TRUE(seen.has_value());
    if (whole_job[step]) {
      for (const auto& [r, pid] : ranks) kill(pid, SIGKILL);
    }
    job.signal(SIGKILL);
    const auto t_kill = Clock::now();
    ASSERT_EQ(job.wait(10), std::optional<int>(128 + SIGKILL)) << job.describe();
    std::vector<pid_t> pids;
    for (const auto& [r, pid] : ranks) pids.push_back(pid);
    const bool gone = wait_gone(pids, 30);
    const double orphan_s = seconds_since(t_kill);
    EXPECT_TRUE(gone) << "ranks still running " << orphan_s << " s after mpiexec was killed";
    if (!gone) {
      for (pid_t p : pids) kill(p, SIGKILL);
      wait_gone(pids, 10);
    }
    std::uint64_t seen_done = 0;
    for (auto s : *seen) seen_done += s >= 0 ? 1 : 0;
    check_after_crash(dir, "run.h5", ref, *seen, step > 0 ? &before : nullptr, where);
    before = read_rows(dir.file("run.h5"));
    const auto now_done = done_rows(before).size();
    EXPECT_GE(now_done, prev_done);
    std::cout << "[faults] " << where << " ("
              << (whole_job[step] ? "mpiexec + every rank" : "mpiexec only") << ", -n "
              << ranks_of[step] << (step > 0 ? ", --resume" : "") << "): triggered at "
              << done_at_trigger << " rows (target " << target << ") + " << delay
              << " s; in the file just before the kill " << seen_done << ", after it " << now_done
              << "; ranks gone " << orphan_s << " s after the kill\n";
    prev_done = now_done;
  }

  // The last resume completes, at another layout.
  const Finished last =
      run(mpi_argv(2, {"run", "--kernel", "compute_x", "--range", "0:600", "--arg", "sleep=0.04",
                       "--threads", "2", "--progress", "none", "--output", "run.h5", "--resume"}),
          d, "final", 120);
  ASSERT_EQ(last.code, 0) << last.what;
  const Rows final_rows = read_rows(dir.file("run.h5"));
  expect_identical(final_rows, ref);
  EXPECT_EQ(rewritten(before, final_rows), 0U) << "the final resume re-ran rows already written";
  std::cout << "[faults] final --resume at -n 2 x 2 threads ran " << kItems - prev_done
            << " rows in " << last.seconds << " s; file identical to the uninterrupted run\n";
}

// Fault: kill -9 of the whole job (mpiexec and its ranks) half-way through (-n 4 x 1 thread), then
// --resume at another layout
// (-n 2 x 2 threads), so that a row run again would show a different rank/thread and always a
// different `seconds`. Nothing lost / run once: every row that was status 0 before the resume
// keeps its rank, thread and seconds bytes; every row that was -1 now carries the resume's layout
// (rank 0-1), so the resume ran exactly the missing rows; item/value/status equal the
// uninterrupted run.
TEST(Crash, ResumeNeverRunsAWrittenRowAgain) {
  become_subreaper();
  TempDir dir;
  const std::string d = dir.path().string();
  const Args job = {"run",   "--kernel",   "compute_x",  "--range", "0:300",
                    "--arg", "sleep=0.02", "--progress", "none"};
  const Finished ref_run =
      run(solo_argv(job + Args{"--threads", "8", "--output", "ref.h5"}), d, "ref");
  ASSERT_EQ(ref_run.code, 0) << ref_run.what;
  const Rows ref = read_rows(dir.file("ref.h5"));

  Job first(mpi_argv(4, job + Args{"--threads", "1", "--output", "run.h5"}), d, "first");
  StatusProbe probe(dir.file("run.h5"), 300);
  ASSERT_TRUE(wait_for_rows(first, probe, 150, 60)) << first.describe();
  const auto ranks = first.ranks(4, 5);
  // The whole job at once: killed alone, mpiexec's ranks would run on for a second and finish.
  for (const auto& [r, pid] : ranks) kill(pid, SIGKILL);
  first.signal(SIGKILL);
  ASSERT_EQ(first.wait(10), std::optional<int>(128 + SIGKILL)) << first.describe();
  std::vector<pid_t> pids;
  for (const auto& [r, pid] : ranks) pids.push_back(pid);
  EXPECT_TRUE(wait_gone(pids, 30));
  const Rows before = read_rows(dir.file("run.h5"));
  const std::size_t done_before = before.count(0);
  ASSERT_GT(done_before, 0U);
  ASSERT_LT(done_before, 300U);

  const Finished resume =
      run(mpi_argv(2, job + Args{"--threads", "2", "--output", "run.h5", "--resume"}), d, "resume");
  ASSERT_EQ(resume.code, 0) << resume.what;
  const Rows after = read_rows(dir.file("run.h5"));
  EXPECT_EQ(rewritten(before, after), 0U);
  std::size_t by_resume = 0, not_by_resume = 0;
  for (std::size_t i = 0; i < after.size(); ++i) {
    if (before.status[i] == 0) continue;
    if (after.rank[i] < 2 && after.thread[i] < 2 && after.status[i] == 0) {
      ++by_resume;
    } else {
      ++not_by_resume;
    }
  }
  EXPECT_EQ(by_resume, 300 - done_before);
  EXPECT_EQ(not_by_resume, 0U);
  expect_identical(after, ref);
  std::cout << "[faults] run-once: " << done_before << " rows written before the kill kept their "
            << "rank/thread/seconds bytes; the resume ran the other " << by_resume << "\n";
}

// Fault: kill -9 of the whole job (mpiexec and every rank) at the end of a run, when every status
// is already in the file and the ranks are closing it and rank 0 is adding the tables and the run
// report (the only moment pmap rewrites HDF5 metadata, a few ms here): 0, 1, 2, 3, 4 ms after the
// last status reached the file. Nothing lost: every attempt that was killed before the job exited
// leaves a file that `pmap inspect` reads and that --resume completes to the uninterrupted result.
TEST(Crash, KillNineWhileTheFileIsClosed) {
  become_subreaper();
  TempDir dir;
  const std::string d = dir.path().string();
  const Args job = {"run",        "--kernel",  "compute_x", "--range",    "0:100", "--arg",
                    "sleep=0.01", "--threads", "1",         "--progress", "none"};
  const Finished ref_run = run(solo_argv(job + Args{"--output", "ref.h5"}), d, "ref");
  ASSERT_EQ(ref_run.code, 0) << ref_run.what;
  const Rows ref = read_rows(dir.file("ref.h5"));
  int killed = 0;
  std::string log;
  for (int attempt = 0; attempt < 5; ++attempt) {
    SCOPED_TRACE("attempt " + std::to_string(attempt));
    const std::string out = "end" + std::to_string(attempt) + ".h5";
    Job j(mpi_argv(4, job + Args{"--output", out}), d, "end");
    StatusProbe probe(dir.file(out), 100);
    const auto ranks = j.ranks(4, 20);
    ASSERT_EQ(ranks.size(), 4U);
    bool all_in = false;
    while (j.running() && j.elapsed() < 60) {
      if (const auto n = probe.done(); n && *n == 100) {
        all_in = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    const auto t_all = Clock::now();
    while (seconds_since(t_all) < 0.001 * attempt) std::this_thread::yield();
    for (const auto& [r, pid] : ranks) kill(pid, SIGKILL);
    j.signal(SIGKILL);
    const auto code = j.wait(10);
    ASSERT_TRUE(code.has_value());
    std::vector<pid_t> pids;
    for (const auto& [r, pid] : ranks) pids.push_back(pid);
    wait_gone(pids, 10);
    if (!all_in || *code != 128 + SIGKILL) {
      log += " exited-first";
      continue;  // the job had already ended: nothing was interrupted
    }
    ++killed;
    const bool finalized = compute_attr(dir.file(out), "stop_reason") == "none";
    log += finalized ? " after-report" : " before-report";
    const Inspected in = inspect(d, out);
    EXPECT_EQ(in.code, 0) << in.what;
    const Finished resume =
        run(mpi_argv(2, job + Args{"--output", out, "--resume"}), d, "end_resume");
    EXPECT_EQ(resume.code, 0) << resume.what;
    const Rows got = read_rows(dir.file(out));
    EXPECT_TRUE(same_bytes_all(got.status, ref.status));
    EXPECT_TRUE(same_bytes_all(got.value, ref.value));
    EXPECT_TRUE(same_bytes_all(got.item, ref.item));
  }
  std::cout << "[faults] kill -9 at the end of a run, 0-4 ms after the last status:" << log << "\n";
  EXPECT_GE(killed, 3) << "too few attempts were killed before the job exited:" << log;
}

/// kill -9 of one rank of a pi job at -n 4 once a quarter of the rows are in the file; the job
/// must end by itself (no hang) and the file must resume to the uninterrupted result.
void kill_one_rank(int victim) {
  become_subreaper();
  TempDir dir;
  const std::string d = dir.path().string();
  const Args job = {"run",   "--kernel",       "pi",         "--range", "0:2000",
                    "--arg", "samples=150000", "--progress", "none"};
  const Finished ref_run =
      run(solo_argv(job + Args{"--threads", "2", "--output", "ref.h5"}), d, "ref");
  ASSERT_EQ(ref_run.code, 0) << ref_run.what;
  const Rows ref = read_rows(dir.file("ref.h5"));

  Job victim_job(mpi_argv(4, job + Args{"--threads", "1", "--output", "run.h5"}), d, "run");
  StatusProbe probe(dir.file("run.h5"), 2000);
  ASSERT_TRUE(wait_for_rows(victim_job, probe, 500, 90)) << victim_job.describe();
  const auto ranks = victim_job.ranks(4, 5);
  ASSERT_EQ(ranks.size(), 4U);
  const auto seen = probe.read();
  ASSERT_TRUE(seen.has_value());
  kill(ranks.at(victim), SIGKILL);
  const auto t_kill = Clock::now();
  const auto code = victim_job.wait(60);
  const double end_s = seconds_since(t_kill);
  ASSERT_TRUE(code.has_value()) << "mpiexec still running 60 s after rank " << victim
                                << " was killed: the job hangs\n"
                                << victim_job.describe();
  EXPECT_NE(*code, 0) << victim_job.describe();
  std::vector<pid_t> pids;
  for (const auto& [r, pid] : ranks) pids.push_back(pid);
  EXPECT_TRUE(wait_gone(pids, 30)) << "ranks outlived mpiexec";
  EXPECT_LT(end_s, 30.0);
  check_after_crash(dir, "run.h5", ref, *seen, nullptr,
                    "after killing rank " + std::to_string(victim));
  const Rows before = read_rows(dir.file("run.h5"));

  const Finished resume =
      run(mpi_argv(4, job + Args{"--threads", "1", "--output", "run.h5", "--resume"}), d, "resume");
  ASSERT_EQ(resume.code, 0) << resume.what;
  const Rows after = read_rows(dir.file("run.h5"));
  expect_identical(after, ref);
  EXPECT_EQ(rewritten(before, after), 0U);
  std::cout << "[faults] kill -9 of rank " << victim << " at "
            << std::count_if(seen->begin(), seen->end(), [](auto s) { return s >= 0; })
            << "/2000 rows: mpiexec exited " << *code << " after " << end_s << " s; file had "
            << before.count(0) << " ok rows; resume completed, identical\n";
}

// Fault: kill -9 of rank 3 (a worker) mid-run. Nothing lost: as at the top of this file.
TEST(Crash, KillNineOfOneWorkerRankEndsTheJobAndResumes) { kill_one_rank(3); }

// Fault: kill -9 of rank 0 (which also runs the chunk coordinator) mid-run. Nothing lost: as at
// the top of this file.
TEST(Crash, KillNineOfRankZeroEndsTheJobAndResumes) { kill_one_rank(0); }

}  // namespace
