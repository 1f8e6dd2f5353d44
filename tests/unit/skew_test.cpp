// pmap — unit tests of the skew kernel: every profile has the shape it promises, mean 1 over a
// period, values and costs deterministic from (item, seed, profile), and the cost is real CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <numeric>
#include <string>
#include <vector>

#include "pmap/error.hpp"
#include "pmap/item_space.hpp"
#include "pmap/kernel.hpp"

namespace {

const std::vector<std::string> kProfiles = {"uniform", "increasing", "decreasing", "peak",  "tail",
                                            "head",    "bimodal",    "pareto",     "random"};

/// The planned seconds of items 0..n-1 (mean 1 s, no work: the cost column only).
std::vector<double> costs(const std::string& profile, std::int64_t n, std::int64_t seed = 0) {
  const pmap::Kernel& k = pmap::find_kernel("skew");
  const auto args = pmap::bind_args(
      k, {"profile=" + profile, "n=" + std::to_string(n), "seed=" + std::to_string(seed)});
  std::vector<double> out;
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<double> v(3);
    pmap::Item item;
    item.row = static_cast<std::uint64_t>(i);
    item.value = i;
    // mean=0 would plan nothing: scale afterwards instead, run with mean 1 but a stop context.
    std::atomic<bool> stop{true};
    k.run(item, args, v, pmap::KernelContext(&stop, std::chrono::steady_clock::time_point::max()));
    EXPECT_EQ(v[0], static_cast<double>(i));
    out.push_back(v[1] / args.get_double("mean"));
  }
  return out;
}

double mean_of(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

TEST(Skew, EveryProfileHasMeanOneOverAPeriod) {
  for (const auto& p : kProfiles) {
    const auto c = costs(p, 4000);
    // Exact (to rounding) for the positional profiles, in expectation for the random ones.
    const bool random = p == "bimodal" || p == "pareto" || p == "random";
    EXPECT_NEAR(mean_of(c), 1.0, random ? 0.08 : 1e-3) << p;
    EXPECT_GE(*std::min_element(c.begin(), c.end()), 0.0) << p;
  }
}

TEST(Skew, ProfilesHaveTheirShape) {
  const std::int64_t n = 1000;
  const auto inc = costs("increasing", n);
  EXPECT_TRUE(std::is_sorted(inc.begin(), inc.end()));
  EXPECT_GT(inc.back(), 10 * inc.front());
  const auto dec = costs("decreasing", n);
  EXPECT_TRUE(std::is_sorted(dec.rbegin(), dec.rend()));
  const auto peak = costs("peak", n);
  const auto top = std::max_element(peak.begin(), peak.end()) - peak.begin();
  EXPECT_NEAR(static_cast<double>(top), n / 2.0, 1.0);
  EXPECT_GT(peak[n / 2], 10 * peak[0]);
  const auto tail = costs("tail", n);
  const auto head = costs("head", n);
  for (std::int64_t i = 0; i < n; ++i) {
    EXPECT_DOUBLE_EQ(tail[i] / tail[0], i >= n - 10 ? 30.0 : 1.0) << i;  // the last 1% huge
    EXPECT_DOUBLE_EQ(head[i] / head[n - 1], i < 10 ? 30.0 : 1.0) << i;   // the first 1% huge
  }
  const auto bi = costs("bimodal", n);
  for (const double c : bi) EXPECT_TRUE(c == 4.0 || c == 0.25) << c;
  const auto heavy = std::count(bi.begin(), bi.end(), 4.0);
  EXPECT_GT(heavy, 150);
  EXPECT_LT(heavy, 250);
  const auto pareto = costs("pareto", 20000);
  const double biggest = *std::max_element(pareto.begin(), pareto.end());
  EXPECT_GT(biggest, 20.0);  // a heavy tail: some items cost tens of times the mean
  EXPECT_LE(biggest, 100 / 2.8 + 1e-9);
  EXPECT_NEAR(*std::min_element(pareto.begin(), pareto.end()), 1 / 2.8, 1e-3);
}

TEST(Skew, DeterministicFromItemSeedAndProfile) {
  for (const auto& p : kProfiles) EXPECT_EQ(costs(p, 300, 5), costs(p, 300, 5)) << p;
  EXPECT_NE(costs("random", 300, 1), costs("random", 300, 2));
  EXPECT_EQ(costs("increasing", 300, 1), costs("increasing", 300, 2));  // positional: no seed
  // Item i sits at position i mod n, negative items included.
  const pmap::Kernel& k = pmap::find_kernel("skew");
  const auto args = pmap::bind_args(k, {"profile=increasing", "n=10", "mean=0"});
  std::vector<double> a(3), b(3);
  pmap::Item ia;
  ia.value = 3;
  pmap::Item ib;
  ib.value = -17;
  k.run(ia, args, a, pmap::KernelContext());
  k.run(ib, args, b, pmap::KernelContext());
  EXPECT_EQ(a[1], b[1]);
}

double thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

TEST(Skew, BurnsThePlannedCpuTime) {
  const pmap::Kernel& k = pmap::find_kernel("skew");
  const auto args = pmap::bind_args(k, {"profile=increasing", "n=4", "mean=0.02"});
  for (std::int64_t i : {0, 3}) {
    pmap::Item item;
    item.value = i;
    std::vector<double> v(3);
    const double t0 = thread_cpu();
    k.run(item, args, v, pmap::KernelContext());
    const double used = thread_cpu() - t0;
    EXPECT_GE(used, v[1]) << "item " << i;
    EXPECT_LT(used, v[1] + 0.01) << "item " << i;
  }
}

TEST(Skew, BadArgumentsAreUsageErrors) {
  const pmap::Kernel& k = pmap::find_kernel("skew");
  EXPECT_THROW((void)k.output_columns(pmap::bind_args(k, {"profile=zigzag"})), pmap::UsageError);
  EXPECT_THROW((void)k.output_columns(pmap::bind_args(k, {"n=0"})), pmap::UsageError);
  EXPECT_THROW((void)k.output_columns(pmap::bind_args(k, {"mean=-1"})), pmap::UsageError);
  EXPECT_EQ(k.output_columns(pmap::bind_args(k, {"profile=pareto"})),
            (std::vector<std::string>{"x", "seconds", "draw"}));
}

}  // namespace
