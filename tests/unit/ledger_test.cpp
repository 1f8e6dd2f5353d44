// The elastic ledger under contention: many claimer processes, one directory, every block done
// exactly once, also when claimers are killed (kill -9) and others take their blocks over.
#include "elastic/ledger.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "pmap/error.hpp"
#include "support/temp_dir.hpp"

namespace {

using pmap::elastic::Claim;
using pmap::elastic::Ledger;
using pmap::elastic::Liveness;
using pmap::elastic::Owner;

Owner named(const std::string& task) {
  Owner o = Owner::self();
  o.task = task;
  o.job.clear();
  return o;
}

/// A claimer process: claims blocks until none is left, "runs" each (writes its partial file,
/// sleeps `work_us`), finishes it and logs the block in LOG. Exits 0, or 3 on any error.
pid_t spawn_claimer(const std::string& folder, const std::string& log, int work_us,
                    int stop_after = -1) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  int code = 0;
  try {
    Ledger ledger = Ledger::open(folder);
    const Owner me = named("claimer-" + std::to_string(getpid()));
    Liveness alive;
    alive.heartbeat_bound = 3600;  // dead = process gone (same host)
    int n = 0;
    while (auto c = ledger.claim(me, alive)) {
      if (stop_after >= 0 && n++ == stop_after) _exit(0);  // dies holding a claim
      {
        std::ofstream part(ledger.partial_path(c->block), std::ios::trunc);
        part << "block " << c->block << " by " << me.task << "\n";
      }
      if (work_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(work_us));
      ledger.finish(*c, me);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      const std::string line = std::to_string(c->block) + (c->takeover ? " takeover\n" : "\n");
      if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
        code = 3;
      ::close(fd);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "claimer %d: %s\n", getpid(), e.what());
    code = 3;
  }
  _exit(code);
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Block -> times it was logged as finished, over every log in `logs`.
std::map<std::uint64_t, int> finished(const std::vector<std::string>& logs, int* takeovers) {
  std::map<std::uint64_t, int> out;
  for (const auto& log : logs) {
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line)) {
      ++out[std::stoull(line)];
      if (takeovers && line.find("takeover") != std::string::npos) ++*takeovers;
    }
  }
  return out;
}

TEST(Ledger, SixteenClaimersTakeEveryBlockExactlyOnce) {
  pmap::test::TempDir dir;
  const std::string folder = dir.file("job");
  const Ledger ledger = Ledger::create(folder, 4000, 10, "fp");
  ASSERT_EQ(ledger.blocks(), 400u);
  std::vector<pid_t> pids;
  std::vector<std::string> logs;
  for (int i = 0; i < 16; ++i) {
    logs.push_back(dir.file("log" + std::to_string(i)));
    pids.push_back(spawn_claimer(folder, logs.back(), 200));
  }
  for (const pid_t p : pids) EXPECT_EQ(wait_exit(p), 0);
  const auto done = finished(logs, nullptr);
  EXPECT_EQ(done.size(), 400u);
  for (const auto& [b, times] : done) EXPECT_EQ(times, 1) << "block " << b;
  for (std::uint64_t b = 0; b < 400; ++b) {
    EXPECT_TRUE(std::filesystem::exists(ledger.done_path(b))) << b;
    EXPECT_FALSE(std::filesystem::exists(ledger.partial_path(b))) << b;
  }
  EXPECT_EQ(ledger.remaining(), 0u);
}

TEST(Ledger, ClaimsOfDeadClaimersAreTakenOverExactlyOnce) {
  pmap::test::TempDir dir;
  const std::string folder = dir.file("job");
  const Ledger ledger = Ledger::create(folder, 300, 3, "fp");
  // Four claimers die holding a claim after finishing a few blocks each.
  std::vector<std::string> logs;
  for (int i = 0; i < 4; ++i) {
    logs.push_back(dir.file("dead" + std::to_string(i)));
    EXPECT_EQ(wait_exit(spawn_claimer(folder, logs.back(), 0, 3)), 0);
  }
  std::uint64_t held = 0;
  for (const auto& s : ledger.scan()) held += s.kind == pmap::elastic::BlockState::Kind::Claimed;
  EXPECT_EQ(held, 4u);
  std::vector<pid_t> pids;
  for (int i = 0; i < 8; ++i) {
    logs.push_back(dir.file("live" + std::to_string(i)));
    pids.push_back(spawn_claimer(folder, logs.back(), 100));
  }
  for (const pid_t p : pids) EXPECT_EQ(wait_exit(p), 0);
  int takeovers = 0;
  const auto done = finished(logs, &takeovers);
  EXPECT_EQ(done.size(), 100u);
  for (const auto& [b, times] : done) EXPECT_EQ(times, 1) << "block " << b;
  EXPECT_EQ(takeovers, 4);
  EXPECT_EQ(ledger.remaining(), 0u);
}

TEST(Ledger, ClaimersKilledAtRandomLoseNothing) {
  pmap::test::TempDir dir;
  const std::string folder = dir.file("job");
  const Ledger ledger = Ledger::create(folder, 2000, 5, "fp");
  std::vector<std::string> logs;
  std::vector<pid_t> pids;
  for (int i = 0; i < 12; ++i) {
    logs.push_back(dir.file("a" + std::to_string(i)));
    pids.push_back(spawn_claimer(folder, logs.back(), 2000));
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 60));
    kill(pids[static_cast<std::size_t>(i) * 3], SIGKILL);
  }
  for (std::size_t i = 0; i < pids.size(); ++i) {
    const int rc = wait_exit(pids[i]);
    if (i % 3 != 0) {
      EXPECT_EQ(rc, 0);
    }
  }
  // Late claimers take what is left, including the blocks of the killed ones.
  std::vector<pid_t> late;
  for (int i = 0; i < 4; ++i) {
    logs.push_back(dir.file("b" + std::to_string(i)));
    late.push_back(spawn_claimer(folder, logs.back(), 0));
  }
  for (const pid_t p : late) EXPECT_EQ(wait_exit(p), 0);
  const auto done = finished(logs, nullptr);
  for (const auto& [b, times] : done) EXPECT_EQ(times, 1) << "block " << b;
  EXPECT_GE(done.size(), 396u);  // a killed claimer may finish a block and die before its log
  EXPECT_EQ(ledger.remaining(), 0u);
  for (std::uint64_t b = 0; b < ledger.blocks(); ++b)
    EXPECT_TRUE(std::filesystem::exists(ledger.done_path(b))) << b;
}

TEST(Ledger, GivenBackBlockIsClaimedAgainByTheNextGeneration) {
  pmap::test::TempDir dir;
  Ledger a = Ledger::create(dir.file("job"), 10, 5, "fp");
  Ledger b = Ledger::open(dir.file("job"));
  const Owner ta = named("a"), tb = named("b");
  const auto c0 = a.claim(ta, Liveness{});
  const auto c1 = a.claim(ta, Liveness{});
  ASSERT_TRUE(c0 && c1);
  EXPECT_FALSE(b.claim(tb, Liveness{}));  // both held by a live task
  EXPECT_TRUE(a.release(*c1, ta));
  EXPECT_FALSE(a.owns(*c1));
  const auto again = b.claim(tb, Liveness{});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->block, c1->block);
  EXPECT_EQ(again->generation, 2);  // 0 claimed, 1 given back, 2 claimed again
  EXPECT_FALSE(again->takeover);
  EXPECT_EQ(again->from, "a");
  EXPECT_THROW(a.finish(*c1, ta), pmap::RuntimeError);  // no longer a's
}

TEST(Ledger, LateHeartbeatMeansDeadFreshOneMeansAlive) {
  pmap::test::TempDir dir;
  Ledger a = Ledger::create(dir.file("job"), 5, 5, "fp");
  Ledger b = Ledger::open(dir.file("job"));
  Owner ta = named("a");
  ta.host = "another-node";  // no process check: only the heartbeat decides
  a.heartbeat(ta);
  ASSERT_TRUE(a.claim(ta, Liveness{}));
  Liveness alive;
  alive.heartbeat_bound = 2;
  EXPECT_FALSE(b.claim(named("b"), alive));
  const std::string beat = dir.file("job") + "/ledger/tasks/a";
  const timespec old[2] = {{time(nullptr) - 10, 0}, {time(nullptr) - 10, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, beat.c_str(), old, 0), 0);
  const auto c = b.claim(named("b"), alive);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->takeover);
  EXPECT_EQ(c->from, "a");
}

TEST(Ledger, OwnerJobNoLongerRunningIsDead) {
  pmap::test::TempDir dir;
  Ledger a = Ledger::create(dir.file("job"), 5, 5, "fp");
  Owner ta = named("a");
  ta.host = "another-node";
  ta.job = "4242";
  a.heartbeat(ta);
  ASSERT_TRUE(a.claim(ta, Liveness{}));
  Liveness alive;
  alive.suspect_after = 0;
  std::vector<std::string> asked;
  alive.job_running = [&](const std::string& job) {
    asked.push_back(job);
    return false;
  };
  const auto c = Ledger::open(dir.file("job")).claim(named("b"), alive);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->takeover);
  EXPECT_EQ(asked, std::vector<std::string>{"4242"});
}

/// An executable script `squeue` in `dir` running `body`.
std::string fake_squeue(const pmap::test::TempDir& dir, const std::string& name,
                        const std::string& body) {
  const std::string path = dir.file(name);
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  chmod(path.c_str(), 0755);
  return path;
}

TEST(Ledger, SqueueSaysWhetherTheOwnersJobRuns) {
  using pmap::elastic::slurm_job_running;
  pmap::test::TempDir dir;
  EXPECT_TRUE(slurm_job_running("42_3", 5, fake_squeue(dir, "a", "echo RUNNING")));
  EXPECT_TRUE(slurm_job_running("42", 5, fake_squeue(dir, "b", "echo COMPLETING")));
  EXPECT_FALSE(slurm_job_running("42", 5, fake_squeue(dir, "c", "true")));  // not listed: gone
  EXPECT_FALSE(slurm_job_running("42", 5, fake_squeue(dir, "d", "echo COMPLETED")));
  EXPECT_FALSE(slurm_job_running(
      "42", 5, fake_squeue(dir, "e", "echo 'Invalid job id specified' >&2; exit 1")));
  // Unsure is alive: squeue missing, failing otherwise, or hung past the timeout.
  EXPECT_TRUE(slurm_job_running("42", 5, dir.file("no-squeue")));
  EXPECT_TRUE(slurm_job_running("42", 5, fake_squeue(dir, "f", "exit 2")));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(slurm_job_running("42", 1, fake_squeue(dir, "g", "exec sleep 30")));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
  // Not a job id: never handed to a shell.
  EXPECT_TRUE(slurm_job_running("42; touch x", 5, fake_squeue(dir, "h", "true")));
}

TEST(Ledger, RefusesTheFolderOfAnotherJob) {
  pmap::test::TempDir dir;
  (void)Ledger::create(dir.file("job"), 100, 10, "fp1");
  EXPECT_NO_THROW((void)Ledger::create(dir.file("job"), 100, 10, "fp1"));
  try {
    (void)Ledger::create(dir.file("job"), 100, 10, "fp2");
    FAIL() << "no error";
  } catch (const pmap::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("holds the ledger of another job"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW((void)Ledger::open(dir.file("none")), pmap::UsageError);
}

}  // namespace
