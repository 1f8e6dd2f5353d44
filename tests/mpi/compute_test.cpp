// run_compute at any rank count: results bit-identical to a serial reference whatever the
// decomposition, every item written exactly once, and dynamic scheduling balancing a skewed load.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <thread>

#include "mpi/mpi_support.hpp"
#include "pmap/compute.hpp"
#include "pmap/error.hpp"
#include "support/h5_read.hpp"

namespace {

using pmap::Schedule;

/// Sleeps 1 s on row 0 and 20 ms on every other row: one long item on rank 0's first chunk.
class SkewedKernel final : public pmap::Kernel {
 public:
  std::string_view name() const override { return "skewed"; }
  std::string_view description() const override { return "test: one long item"; }
  const std::vector<pmap::ArgSpec>& arguments() const override { return args_; }
  const std::vector<std::string>& columns() const override { return columns_; }
  void run(const pmap::Item& item, const pmap::BoundArgs&, std::span<double> out,
           const pmap::KernelContext& ctx) const override {
    ctx.sleep_for(item.row == 0 ? 1.0 : 0.02);
    out[0] = static_cast<double>(item.value);
  }

 private:
  std::vector<pmap::ArgSpec> args_;
  std::vector<std::string> columns_{"x"};
};

pmap::ComputeJob pi_job(const std::string& output) {
  pmap::ComputeJob job;
  job.kernel = &pmap::find_kernel("pi");
  job.args = pmap::bind_args(*job.kernel, {"samples=2000", "seed=7"});
  job.space = pmap::ItemSpace(pmap::parse_range("-50:250:3"));
  job.output = output;
  job.progress = pmap::ProgressMode::None;
  job.print_summary = false;
  return job;
}

struct Layout {
  Schedule schedule;
  std::uint64_t chunk;
  int threads;
};

TEST(Compute, BitIdenticalToSerialWhateverTheDecomposition) {
  auto dir = pmap::test::shared_temp_dir();
  const auto reference_job = pi_job("");
  const auto& kernel = *reference_job.kernel;
  const std::uint64_t n = reference_job.space.size();
  std::vector<double> expected(n * 2);
  for (std::uint64_t i = 0; i < n; ++i) {
    kernel.run(reference_job.space.at(i), reference_job.args,
               std::span<double>(expected.data() + 2 * i, 2), pmap::KernelContext());
  }
  std::uint64_t first_checksum = 0;
  int index = 0;
  for (const Layout l : {Layout{Schedule::Static, 0, 1}, Layout{Schedule::Cyclic, 0, 2},
                         Layout{Schedule::Cyclic, 5, 1}, Layout{Schedule::Dynamic, 0, 2},
                         Layout{Schedule::Dynamic, 1, 1}, Layout{Schedule::Guided, 0, 2},
                         Layout{Schedule::Guided, 3, 3}}) {
    auto job = pi_job(dir->file("pi" + std::to_string(index++) + ".h5"));
    job.schedule = l.schedule;
    job.chunk = l.chunk;
    job.threads = l.threads;
    const auto report = pmap::run_compute(job, MPI_COMM_WORLD);
    EXPECT_EQ(report.ok, n);
    EXPECT_EQ(report.failed, 0U);
    if (index == 1) first_checksum = report.checksum;
    EXPECT_EQ(report.checksum, first_checksum) << pmap::to_string(l.schedule);
    if (pmap::test::world_rank() == 0) {
      const auto value = pmap::test::read_doubles(job.output, "/compute/value");
      const auto item = pmap::test::read_int64s(job.output, "/compute/item");
      const auto status = pmap::test::read_int8s(job.output, "/compute/status");
      const auto rank = pmap::test::read_int32s(job.output, "/compute/rank");
      // EXPECT, not ASSERT: returning here would leave the other ranks in the next collective.
      EXPECT_EQ(value.size(), expected.size());
      EXPECT_TRUE(value.size() == expected.size() &&
                  std::memcmp(value.data(), expected.data(), expected.size() * sizeof(double)) == 0)
          << "values differ for schedule " << pmap::to_string(l.schedule);
      for (std::uint64_t i = 0; i < n; ++i) {
        EXPECT_EQ(item[i], -50 + 3 * static_cast<std::int64_t>(i));
        EXPECT_EQ(status[i], 0);
        EXPECT_GE(rank[i], 0);
        EXPECT_LT(rank[i], pmap::test::world_size());
      }
      EXPECT_EQ(pmap::test::read_int_attr(job.output, "/", "mpi_ranks"), pmap::test::world_size());
      EXPECT_EQ(pmap::test::read_string_attr(job.output, "/compute", "schedule"),
                pmap::to_string(l.schedule));
    }
  }
}

TEST(Compute, DynamicBalancesOneLongItem) {
  auto dir = pmap::test::shared_temp_dir();
  const int size = pmap::test::world_size();
  SkewedKernel kernel;
  pmap::ComputeJob job;
  job.kernel = &kernel;
  job.space = pmap::ItemSpace(pmap::parse_range("0:41"));
  job.output = dir->file("skewed.h5");
  job.progress = pmap::ProgressMode::None;
  job.print_summary = false;
  job.threads = 1;
  job.schedule = Schedule::Dynamic;
  const auto report = pmap::run_compute(job, MPI_COMM_WORLD);
  EXPECT_EQ(report.ok, 41U);
  // Lower bound: the long item alone, or the total work spread over the workers.
  const double total = 1.0 + 40 * 0.02;
  const double ideal = std::max(1.0, total / size);
  const double static_time = 1.0 + 0.02 * (41.0 / size - 1);
  EXPECT_LT(report.wall_seconds, ideal * 1.1 + 0.15)
      << "ideal " << ideal << " s; static would take about " << static_time << " s";
  if (pmap::test::world_rank() == 0 && size > 1) {
    const auto rank = pmap::test::read_int32s(job.output, "/compute/rank");
    EXPECT_EQ(rank[0], rank[0]);  // the long item ran somewhere...
    int others = 0;
    for (auto r : rank) others += (r != rank[0]) ? 1 : 0;
    EXPECT_GE(others, 30) << "the other ranks should take almost all the short items";
  }
}

TEST(Compute, FailuresAreDataNotCrashes) {
  auto dir = pmap::test::shared_temp_dir();
  pmap::ComputeJob job;
  job.kernel = &pmap::find_kernel("compute_x");
  job.args = pmap::bind_args(*job.kernel, {"sleep=0", "fail_every=4"});
  job.space = pmap::ItemSpace(pmap::parse_range("0:30"));
  job.output = dir->file("fail.h5");
  job.progress = pmap::ProgressMode::None;
  job.print_summary = false;
  const auto report = pmap::run_compute(job, MPI_COMM_WORLD);
  EXPECT_EQ(report.failed, 8U);  // 0, 4, ..., 28
  EXPECT_EQ(report.ok, 22U);
  if (pmap::test::world_rank() == 0) {
    const auto status = pmap::test::read_int8s(job.output, "/compute/status");
    for (int i = 0; i < 30; ++i) EXPECT_EQ(status[static_cast<std::size_t>(i)], i % 4 == 0 ? 1 : 0);
  }
}

TEST(Compute, ExistingOutputIsAUsageErrorOnEveryRank) {
  auto dir = pmap::test::shared_temp_dir();
  auto job = pi_job(dir->file("once.h5"));
  pmap::run_compute(job, MPI_COMM_WORLD);
  EXPECT_THROW(pmap::run_compute(job, MPI_COMM_WORLD), pmap::UsageError);
  job.force = true;
  EXPECT_NO_THROW(pmap::run_compute(job, MPI_COMM_WORLD));
}

TEST(Compute, RanksThatSeeOtherItemsAreAUsageErrorOnEveryRankAndWriteNothing) {
  // As with `--input /dev/stdin` under mpirun: only rank 0 reads the lines, the others get none.
  // Each rank's share of the items would be missing from the file while the run said ok.
  if (pmap::mpi::size(MPI_COMM_WORLD) < 2) GTEST_SKIP() << "needs two ranks";
  auto dir = pmap::test::shared_temp_dir();
  auto job = pi_job(dir->file("differ.h5"));
  const int rank = pmap::mpi::rank(MPI_COMM_WORLD);
  if (rank != 0)
    job.space = pmap::ItemSpace(pmap::parse_range("-50:250:" + std::to_string(3 + rank)));
  try {
    pmap::run_compute(job, MPI_COMM_WORLD);
    ADD_FAILURE() << "rank " << rank << " ran items the other ranks do not have";
  } catch (const pmap::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("the ranks do not see the same items"), std::string::npos)
        << e.what();
  }
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_FALSE(std::filesystem::exists(dir->file("differ.h5")));
}

}  // namespace
