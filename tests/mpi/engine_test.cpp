// The run engine's collective pieces at any rank count: errors agreed on every rank, the channel
// (stop from any rank, exact progress, the failure limit), tallies reduced, and the engine run
// through the compute stage with the same body at 1, 2 and 4 threads per rank.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "mpi/mpi_support.hpp"
#include "pmap/channel.hpp"
#include "pmap/collective.hpp"
#include "pmap/compute.hpp"
#include "pmap/error.hpp"
#include "pmap/report.hpp"
#include "pmap/stop.hpp"
#include "pmap/tally.hpp"
#include "support/h5_read.hpp"

namespace {

MPI_Comm world() { return MPI_COMM_WORLD; }

TEST(Collective, OnRootThrowsRankZerosErrorOnEveryRankWithItsType) {
  try {
    pmap::on_root(world(), [] { throw pmap::UsageError("--output x: exists"); });
    ADD_FAILURE() << "no exception";
  } catch (const pmap::UsageError& e) {
    EXPECT_STREQ(e.what(), "--output x: exists");
  }
  EXPECT_THROW(pmap::on_root(world(), [] { throw std::runtime_error("disk"); }),
               pmap::RuntimeError);
  EXPECT_NO_THROW(pmap::on_root(world(), [] {}));
}

TEST(Collective, AFailureOnTheLastRankFailsEveryRankWithItsMessage) {
  const int last = pmap::test::world_size() - 1;
  std::exception_ptr mine;
  if (pmap::test::world_rank() == last) {
    mine = std::make_exception_ptr(std::runtime_error("write failed"));
  }
  try {
    pmap::agree_on_failure(world(), mine);
    ADD_FAILURE() << "no exception";
  } catch (const pmap::RuntimeError& e) {
    EXPECT_EQ(std::string(e.what()), "rank " + std::to_string(last) + ": write failed");
  }
  EXPECT_NO_THROW(pmap::agree_on_failure(world(), nullptr));
}

TEST(Collective, TypedReductions) {
  const int r = pmap::test::world_rank(), n = pmap::test::world_size();
  EXPECT_EQ(pmap::all_sum(world(), std::uint64_t(r + 1)), std::uint64_t(n * (n + 1) / 2));
  EXPECT_EQ(pmap::all_max(world(), 0.5 * r), 0.5 * (n - 1));
  EXPECT_EQ(pmap::all_min(world(), r), 0);
  EXPECT_EQ(pmap::any_rank(world(), r == n - 1), true);
  EXPECT_EQ(pmap::any_rank(world(), false), false);
  pmap::StatusTally t{1, 2, 3, 4, 5};
  EXPECT_EQ(t.reduce(world()), (pmap::StatusTally{1u * n, 2u * n, 3u * n, 4u * n, 5u * n}));
  pmap::UrlTally u{1, 0, 2, 1, 1};
  EXPECT_EQ(u.reduce(world()).checked(), 2u * n);  // 3 rows, 1 interrupted, a rank
}

/// Waits up to `seconds` for the channel to report a stop.
bool sees_stop(const pmap::Channel& c, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!c.stopping() && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return c.stopping();
}

TEST(Channel, AStopOnTheLastRankReachesEveryRank) {
  pmap::Channel c(world(), {});
  EXPECT_FALSE(c.stopping());
  MPI_Barrier(world());
  if (pmap::test::world_rank() == pmap::test::world_size() - 1) {
    c.request_stop(pmap::StopCause::Error);
  }
  EXPECT_TRUE(sees_stop(c, 10.0));
  EXPECT_EQ(c.cause(), pmap::StopCause::Error);
  c.finish();
}

// A signal to a rank that already finished its share (it waits in finish() for the others) still
// stops the ranks that work: "one rank is enough" whatever that rank is doing.
TEST(Channel, AStopOnARankThatFinishedItsShareStopsTheOthers) {
  pmap::reset_stop();
  pmap::Channel c(world(), {});
  MPI_Barrier(world());
  const int r = pmap::test::world_rank(), n = pmap::test::world_size();
  if (n == 1) {
    c.finish();
    return;
  }
  if (r == n - 1) {
    std::thread signal([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      pmap::request_stop(SIGTERM);  // what the signal handler does
    });
    c.finish();  // its share is done: it waits for the others
    signal.join();
  } else {
    EXPECT_TRUE(sees_stop(c, 10.0)) << "rank " << r << " went on after rank " << n - 1
                                    << " was signalled while waiting in finish()";
    EXPECT_EQ(c.cause(), pmap::StopCause::Signal);
    c.finish();
  }
  pmap::reset_stop();
}

TEST(Channel, ProgressIsExactOnRankZeroAfterFinish) {
  pmap::Channel c(world(), {});
  const int r = pmap::test::world_rank(), n = pmap::test::world_size();
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(c.add_done(static_cast<std::uint64_t>(r + 1)));
  c.finish();
  if (r == 0) {
    EXPECT_EQ(c.done_total(), static_cast<std::uint64_t>(10 * n * (n + 1) / 2));
  }
  EXPECT_FALSE(c.stopping());
}

TEST(Channel, NoRankGoesOnOnceTheFailureLimitIsReached) {
  const std::uint64_t limit = 7;
  pmap::Channel c(world(), {limit});
  std::uint64_t reported = 0;
  // Every rank reports failures one at a time until the channel says stop.
  while (reported < 1000 && c.add_done(1, 1)) {
    ++reported;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ++reported;  // the report that was answered "stop"
  c.finish();
  const auto total = pmap::all_sum(world(), reported);
  EXPECT_GE(total, limit);
  // At the moment the limit is reached each other rank has at most one report in flight.
  EXPECT_LE(total, limit + static_cast<std::uint64_t>(pmap::test::world_size()) - 1);
  EXPECT_EQ(c.cause(), pmap::StopCause::FailureLimit);
}

class EngineThreads : public ::testing::TestWithParam<int> {};

pmap::ComputeJob failing_job(const std::string& output, int threads) {
  pmap::ComputeJob job;
  job.kernel = &pmap::find_kernel("compute_x");
  job.args = pmap::bind_args(*job.kernel, {"sleep=0.0005", "fail_every=5"});
  job.space = pmap::ItemSpace(pmap::parse_range("0:300"));
  job.output = output;
  job.threads = threads;
  job.progress = pmap::ProgressMode::None;
  job.print_summary = false;
  return job;
}

TEST_P(EngineThreads, SameRowsTalliesAndChecksumAtAnyThreadCount) {
  auto dir = pmap::test::shared_temp_dir();
  const auto reference = pmap::run_compute(failing_job("", 1), world());
  const auto job = failing_job(dir->file("t.h5"), GetParam());
  const auto r = pmap::run_compute(job, world());
  EXPECT_EQ(r.ok, 240U);
  EXPECT_EQ(r.failed, 60U);
  EXPECT_EQ(r.not_run, 0U);
  EXPECT_EQ(r.checksum, reference.checksum);
  EXPECT_EQ(r.threads, GetParam());
  EXPECT_EQ(r.workers, GetParam() * pmap::test::world_size());
  const auto status = pmap::test::read_int8s(job.output, "/compute/status");
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < status.size(); ++i) wrong += status[i] != (i % 5 == 0 ? 1 : 0);
  EXPECT_EQ(status.size(), 300U);
  EXPECT_EQ(wrong, 0U);
  MPI_Barrier(world());  // every rank read the file before rank 0 removes the folder
}

TEST_P(EngineThreads, TheFailureLimitStopsTheJobWithinOneChunkPerWorker) {
  auto dir = pmap::test::shared_temp_dir();
  auto job = failing_job(dir->file("limit.h5"), GetParam());
  job.max_failures = 4;
  job.chunk = 5;  // one failure per chunk
  const auto r = pmap::run_compute(job, world());
  EXPECT_EQ(r.stop_reason, "max-failures");
  EXPECT_GE(r.failed, 4U);
  EXPECT_LE(r.failed, 3U + static_cast<std::uint64_t>(r.workers));
  EXPECT_GT(r.not_run, 0U);
}

INSTANTIATE_TEST_SUITE_P(Threads, EngineThreads, ::testing::Values(1, 2, 4));

}  // namespace
