// The Dispatcher at any rank count: every index exactly once per schedule, progress totals, and
// dynamic claims that keep flowing while rank 0 is busy.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

#include "mpi/mpi_support.hpp"
#include "pmap/partition.hpp"
#include "pmap/schedule.hpp"

namespace {

using pmap::Schedule;

struct Case {
  Schedule schedule;
  std::uint64_t items;
  std::uint64_t chunk;
  int threads;
};

class DispatcherCoverage : public ::testing::TestWithParam<Case> {};

TEST_P(DispatcherCoverage, EveryIndexExactlyOnce) {
  const Case c = GetParam();
  const int size = pmap::test::world_size();
  pmap::Dispatcher d(MPI_COMM_WORLD, {c.schedule, c.items, c.chunk, size * c.threads,
                                      std::chrono::milliseconds(1)});
  std::vector<int> seen(c.items, 0);
  std::vector<std::thread> workers;
  std::mutex m;
  for (int t = 0; t < c.threads; ++t) {
    workers.emplace_back([&, t] {
      std::uint64_t desired = 1 + static_cast<std::uint64_t>(t) * 3;
      while (auto chunk = d.next(desired)) {
        EXPECT_LT(chunk->begin, chunk->end);
        EXPECT_LE(chunk->end, c.items);
        {
          std::lock_guard lock(m);
          for (auto i = chunk->begin; i < chunk->end; ++i) ++seen[i];
        }
        d.add_done(chunk->size());
        desired = desired * 2;
      }
    });
  }
  for (auto& w : workers) w.join();
  d.finish();
  std::vector<int> total(c.items, 0);
  MPI_Allreduce(seen.data(), total.data(), static_cast<int>(c.items), MPI_INT, MPI_SUM,
                MPI_COMM_WORLD);
  for (std::uint64_t i = 0; i < c.items; ++i) {
    EXPECT_EQ(total[i], 1) << "index " << i << " schedule " << pmap::to_string(c.schedule);
  }
  if (pmap::test::world_rank() == 0) {
    EXPECT_EQ(d.done_total(), c.items);
  }
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (auto s : {Schedule::Static, Schedule::Cyclic, Schedule::Dynamic, Schedule::Guided}) {
    for (std::uint64_t n : {0, 1, 3, 13, 1000}) {
      for (std::uint64_t chunk : {0, 1, 7}) {
        for (int threads : {1, 3}) out.push_back({s, n, chunk, threads});
      }
    }
  }
  return out;
}

std::string case_name(const ::testing::TestParamInfo<Case>& p) {
  const Case& c = p.param;
  return std::string(pmap::to_string(c.schedule)) + "_n" + std::to_string(c.items) + "_c" +
         std::to_string(c.chunk) + "_t" + std::to_string(c.threads);
}

INSTANTIATE_TEST_SUITE_P(AllSchedules, DispatcherCoverage, ::testing::ValuesIn(cases()), case_name);

// Automatic dynamic chunks shrink towards the end: whatever the workers ask for, no chunk is
// larger than what is left / (2 x workers), so the last ones are single items and equal workers
// finish together (200 equal items on 2 workers once ended 104 : 96 with 25-item chunks).
TEST(Dispatcher, AutomaticDynamicChunksShrinkAtTheEnd) {
  const int size = pmap::test::world_size();
  const std::uint64_t n = 200;
  const int workers = 2 * size;
  pmap::Dispatcher d(MPI_COMM_WORLD,
                     {Schedule::Dynamic, n, 0, workers, std::chrono::milliseconds(1)});
  std::vector<std::uint64_t> sizes;
  if (pmap::test::world_rank() == 0) {
    while (auto chunk = d.next(1000)) {  // a greedy worker: asks for far more than is fair
      sizes.push_back(chunk->size());
      d.add_done(chunk->size());
    }
  }
  d.finish();
  if (pmap::test::world_rank() == 0) {
    ASSERT_FALSE(sizes.empty());
    EXPECT_EQ(sizes.back(), 1U);
    std::uint64_t granted = 0;
    for (const auto s : sizes) {
      const std::uint64_t remaining = n - granted;
      const auto w = 2 * static_cast<std::uint64_t>(workers);
      EXPECT_LE(s, (remaining + w - 1) / w) << "remaining " << remaining;
      EXPECT_LE(s, pmap::balance_cap(n, workers));
      granted += s;
    }
    EXPECT_EQ(granted, n);
  }
}

// While rank 0's only worker sits in a long item, the other ranks keep claiming and drain the
// whole space: the coordinator is a separate thread, independent of RMA progress.
TEST(Dispatcher, ClaimsFlowWhileRankZeroIsBusy) {
  const int rank = pmap::test::world_rank();
  const int size = pmap::test::world_size();
  if (size < 2) GTEST_SKIP() << "needs at least 2 ranks";
  const std::uint64_t n = 400;
  pmap::Dispatcher d(MPI_COMM_WORLD, {Schedule::Dynamic, n, 1, size});
  MPI_Barrier(MPI_COMM_WORLD);
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t mine = 0;
  double drained_at = 0;
  if (rank == 0) {
    auto first = d.next(1);
    ASSERT_TRUE(first.has_value());
    mine += first->size();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a long item
    while (auto c = d.next(1)) mine += c->size();
  } else {
    while (auto c = d.next(1)) {
      std::this_thread::sleep_for(std::chrono::microseconds(500));
      mine += c->size();
    }
    drained_at = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  d.finish();
  std::uint64_t total = 0;
  MPI_Allreduce(&mine, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_EQ(total, n);
  if (rank == 0) {
    // Rank 0 was asleep the whole time the others drained the space.
    EXPECT_EQ(mine, 1U);
  } else {
    EXPECT_LT(drained_at, 1.5) << "other ranks stalled while rank 0 was busy";
  }
}

}  // namespace
