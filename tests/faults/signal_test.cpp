// Signal faults: SIGTERM to every rank (what Slurm sends at the wall-time limit or on scancel),
// SIGTERM to one rank, SIGUSR1 to mpiexec (Slurm's --signal warning, forwarded), SIGINT to
// mpiexec (Ctrl-C). "Nothing lost" here means: every rank stops within a few seconds, the file
// holds exactly the rows that finished (status 0, equal to the uninterrupted run) and -1 for the
// rest, it records the interruption (/compute stop_reason=signal), and --resume completes it to
// an uninterrupted run's item/value/status, without running any written row again.
#include <gtest/gtest.h>

#include <functional>
#include <iostream>

#include "fault_support.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace pmap::faults;
using pmap::test::TempDir;

/// A job to interrupt, and how to run its uninterrupted reference (alone, no mpiexec).
struct Workload {
  Args args;
  std::uint64_t items;
  Args reference;  // extra arguments of the reference run
};

// Real compute whose values depend only on (seed, item): 2000 x ~1.3 ms of CPU.
const Workload kPi = {
    {"run", "--kernel", "pi", "--range", "0:2000", "--arg", "samples=150000", "--progress", "none"},
    2000,
    {"--threads", "2"}};
// Sleep-based, 5 s on 4 workers whatever the machine's load (the reference uses 16 threads).
const Workload kSleepy = {{"run", "--kernel", "compute_x", "--range", "0:1000", "--arg",
                           "sleep=0.02", "--progress", "none"},
                          1000,
                          {"--threads", "16"}};

using Sender = std::function<void(Job&, const std::map<int, pid_t>&)>;

/// Runs `w` at -n 4, sends the signal(s) once a quarter of the rows are in the file, and checks
/// the stop, the checkpoint and the resume (at `resume_ranks`).
void stop_and_resume(const std::string& name, const Sender& send, int expected_code,
                     int resume_ranks, const Workload& w = kPi) {
  become_subreaper();
  TempDir dir;
  const std::string d = dir.path().string();
  const std::uint64_t kItems = w.items;
  const Finished ref_run =
      run(solo_argv(w.args + w.reference + Args{"--output", "ref.h5"}), d, "ref");
  ASSERT_EQ(ref_run.code, 0) << ref_run.what;
  const Rows ref = read_rows(dir.file("ref.h5"));

  Job job(mpi_argv(4, w.args + Args{"--threads", "1", "--output", "run.h5"}), d, "run");
  StatusProbe probe(dir.file("run.h5"), kItems);
  bool started = false;
  while (job.running() && job.elapsed() < 90) {
    if (const auto n = probe.done(); n && *n >= kItems / 4) {
      started = true;
      break;
    }
    sleep_s(0.005);
  }
  ASSERT_TRUE(started) << "the job ended before a quarter of the rows were written\n"
                       << job.describe();
  const auto ranks = job.ranks(4, 5);
  ASSERT_EQ(ranks.size(), 4U);
  const auto t_signal = Clock::now();
  send(job, ranks);
  const auto code = job.wait(60);
  ASSERT_TRUE(code.has_value()) << "still running 60 s after the signal\n" << job.describe();
  const double stop_s = std::chrono::duration<double>(job.ended() - t_signal).count();
  EXPECT_EQ(*code, expected_code) << job.describe();
  EXPECT_LT(stop_s, 5.0) << "the stop took " << stop_s << " s";
  std::vector<pid_t> pids;
  for (const auto& [r, pid] : ranks) pids.push_back(pid);
  EXPECT_TRUE(wait_gone(pids, 10)) << "ranks outlived mpiexec";

  const Inspected in = inspect(d, "run.h5");
  EXPECT_EQ(in.code, 0) << in.what;
  const Rows got = read_rows(dir.file("run.h5"));
  ASSERT_EQ(got.size(), kItems);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got.status[i] == 0) {
      bad += same_bytes(got.value, ref.value, i, got.columns) && same_bytes(got.item, ref.item, i)
                 ? 0
                 : 1;
    } else if (got.status[i] != -1) {
      ++bad;
    }
  }
  EXPECT_EQ(bad, 0U) << "rows that are neither -1 nor a correct status-0 row";
  EXPECT_GE(got.count(0), kItems / 4) << "rows written before the signal are gone";
  EXPECT_GT(got.count(-1), 0U) << "the job was not stopped early";
  EXPECT_EQ(in.ok, got.count(0));
  EXPECT_EQ(compute_attr(dir.file("run.h5"), "stop_reason"), "signal")
      << "the interruption is not recorded in the file";
  EXPECT_TRUE(in.interrupted) << "pmap inspect does not say how to finish the run\n" << in.what;

  const Finished resume =
      run(mpi_argv(resume_ranks, w.args + Args{"--threads", "1", "--output", "run.h5", "--resume"}),
          d, "resume");
  ASSERT_EQ(resume.code, 0) << resume.what;
  const Rows after = read_rows(dir.file("run.h5"));
  EXPECT_TRUE(same_bytes_all(after.status, ref.status));
  EXPECT_TRUE(same_bytes_all(after.item, ref.item));
  EXPECT_TRUE(same_bytes_all(after.value, ref.value));
  std::size_t rerun = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got.status[i] == 0 &&
        (!same_bytes(after.rank, got.rank, i) || !same_bytes(after.thread, got.thread, i) ||
         !same_bytes(after.seconds, got.seconds, i))) {
      ++rerun;
    }
  }
  EXPECT_EQ(rerun, 0U) << "rows written before the signal were run again by --resume";
  EXPECT_FALSE(inspect(d, "run.h5").interrupted) << "a completed file still reads as interrupted";
  std::cout << "[faults] " << name << ": exit " << *code << " " << stop_s << " s after the signal; "
            << got.count(0) << "/" << kItems << " rows in the file, " << got.count(-1)
            << " left -1; --resume at -n " << resume_ranks << " completed in " << resume.seconds
            << " s, identical\n";
}

// Fault: SIGTERM to every rank at once, as Slurm does at the time limit. Expect exit 75.
TEST(Signals, SigtermToEveryRankCheckpointsAndExits75) {
  stop_and_resume(
      "SIGTERM to every rank",
      [](Job&, const std::map<int, pid_t>& ranks) {
        for (const auto& [r, pid] : ranks) kill(pid, SIGTERM);
      },
      75, 4);
}

// Fault: SIGUSR1 to mpiexec (forwarded to the ranks), the wall-time warning of
// `sbatch --signal=B:USR1@N` forwarded by a batch script. Expect exit 75.
TEST(Signals, Sigusr1ToMpiexecCheckpointsAndExits75) {
  stop_and_resume(
      "SIGUSR1 to mpiexec", [](Job& job, const std::map<int, pid_t>&) { job.signal(SIGUSR1); }, 75,
      2);
}

// Fault: SIGTERM to one worker rank only (rank 3): every rank must stop. Expect exit 75.
TEST(Signals, SigtermToOneRankStopsEveryRank) {
  stop_and_resume(
      "SIGTERM to rank 3",
      [](Job&, const std::map<int, pid_t>& ranks) { kill(ranks.at(3), SIGTERM); }, 75, 4);
}

// Fault: SIGTERM to rank 0 only (the rank that also coordinates the chunks). Expect exit 75.
TEST(Signals, SigtermToRankZeroStopsEveryRank) {
  stop_and_resume(
      "SIGTERM to rank 0",
      [](Job&, const std::map<int, pid_t>& ranks) { kill(ranks.at(0), SIGTERM); }, 75, 4);
}

// Fault: SIGINT to mpiexec (Ctrl-C at a terminal). Open MPI's mpiexec answers SIGINT/SIGTERM by
// sending SIGTERM to the ranks (here about 0.7 s later) and then exits 1 itself, whatever the
// ranks returned, so the exit code seen here is mpiexec's 1, not pmap's 75; the ranks' checkpoint
// (stop_reason=signal) and the resume are what is checked. A sleep-based job, so that it is still
// running when mpiexec gets round to the ranks.
TEST(Signals, SigintToMpiexecCheckpointsAndResumes) {
  stop_and_resume(
      "SIGINT to mpiexec (Ctrl-C)",
      [](Job& job, const std::map<int, pid_t>&) { job.signal(SIGINT); }, 1, 4, kSleepy);
}

// Fault: SIGTERM to mpiexec (`kill`, `timeout`, a batch system stopping the launcher): as with
// SIGINT, Open MPI's mpiexec exits 1 once the ranks checkpointed; the file says what happened.
TEST(Signals, SigtermToMpiexecCheckpointsAndResumes) {
  stop_and_resume(
      "SIGTERM to mpiexec", [](Job& job, const std::map<int, pid_t>&) { job.signal(SIGTERM); }, 1,
      4, kSleepy);
}

}  // namespace
