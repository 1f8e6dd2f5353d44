// pmap::map, the C++ API, at any rank count: values in item order on every rank, result types
// (numbers, tuples, arrays, structs), integer items, failures as data, bound arguments, the
// streaming callback, where results are collected, and the HDF5 file it leaves.
#include "pmap/map.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <unistd.h>

#include "mpi/mpi_support.hpp"
#include "pmap/error.hpp"
#include "pmap/stop.hpp"
#include "support/h5_read.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using pmap::ItemStatus;

pmap::Session& session() {
  static pmap::Session s(pmap::SessionOptions{std::nullopt, false, MPI_COMM_WORLD});
  return s;
}

/// Same verdict on every rank: true if `ok` holds everywhere.
bool everywhere(bool ok) {
  int v = ok ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return v == 1;
}

struct Stats {
  double mean;
  std::int64_t count;
  bool positive;
};

double work(double x, double scale, int offset) { return std::sqrt(x) * scale + offset; }

struct Layout {
  pmap::Schedule schedule;
  std::uint64_t chunk;
  int threads;
};

TEST(MapApi, ValuesInItemOrderOnEveryRankWhateverTheDecomposition) {
  std::vector<double> xs(1000);
  std::iota(xs.begin(), xs.end(), 0.0);
  for (const Layout l :
       {Layout{pmap::Schedule::Static, 0, 1}, Layout{pmap::Schedule::Cyclic, 3, 2},
        Layout{pmap::Schedule::Dynamic, 0, 2}, Layout{pmap::Schedule::Guided, 0, 3}}) {
    pmap::MapOptions opt;
    opt.schedule = l.schedule;
    opt.chunk = l.chunk;
    opt.threads = l.threads;
    const auto r = pmap::map(
        session(), xs, [](double x) { return x * x + 1; }, opt);
    // No ASSERT in a loop of collective calls: a rank that returned early would hang the others.
    EXPECT_EQ(r.size(), xs.size());
    EXPECT_EQ(r.status.size(), xs.size());
    if (r.size() != xs.size() || r.status.size() != xs.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      same = same && r.values[i] == xs[i] * xs[i] + 1 && r.status[i] == ItemStatus::Ok;
    }
    EXPECT_TRUE(same) << pmap::to_string(l.schedule);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.report.ok, xs.size());
    EXPECT_EQ(r.report.ranks, pmap::test::world_size());
    EXPECT_TRUE(r.failures.empty());
    EXPECT_EQ(r.output, "");  // no file: the values live in memory only
    EXPECT_EQ(r.report.write_seconds, 0.0);
  }
}

// Without MapOptions::output nothing touches the disk: no file appears in the working directory
// or in $TMPDIR, and failures, the stream and the report still work.
TEST(MapApi, NoOutputWritesNoFile) {
  namespace fs = std::filesystem;
  const auto listing = [](const fs::path& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  };
  const char* tmp = std::getenv("TMPDIR");
  const fs::path tmpdir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  const auto cwd_before = listing(fs::current_path());
  const auto tmp_before = listing(tmpdir);
  std::vector<int> xs(100);
  std::iota(xs.begin(), xs.end(), 0);
  std::atomic<int> streamed{0};
  pmap::MapOptions opt;
  opt.threads = 2;
  opt.on_result = [&](const pmap::Completed&) { ++streamed; };
  const auto r = pmap::map(
      session(), xs,
      [](int x) {
        if (x % 10 == 3) throw std::runtime_error("bad " + std::to_string(x));
        return 2.0 * x;
      },
      opt);
  EXPECT_EQ(r.output, "");
  EXPECT_EQ(r.failures.size(), 10U);
  EXPECT_EQ(r.report.failed, 10U);
  EXPECT_EQ(r.values[4], 8.0);
  if (pmap::test::world_rank() == 0) {
    EXPECT_EQ(streamed.load(), 100);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_EQ(listing(fs::current_path()), cwd_before);
  // Other tests may use $TMPDIR at the same time; none of them names files pmap-map-*.
  const auto tmp_after = listing(tmpdir);
  for (const auto& name : tmp_after) {
    if (name.rfind("pmap-map-", 0) == 0) {
      EXPECT_NE(std::find(tmp_before.begin(), tmp_before.end(), name), tmp_before.end()) << name;
    }
  }
}

TEST(MapApi, ResultTypesBecomeColumns) {
  auto dir = pmap::test::shared_temp_dir();
  const auto items = std::views::iota(0, 50);
  pmap::MapOptions opt;
  opt.output = dir->file("tuple.h5");
  const auto t = pmap::map(
      session(), items, [](int i) { return std::make_tuple(i, i * 0.5, i % 2 == 0); }, opt);
  EXPECT_EQ(t.size(), 50U);  // not ASSERT: more collective calls follow on every rank
  if (t.size() == 50U) {
    EXPECT_EQ(t.values[7], std::make_tuple(7, 3.5, false));
  }
  EXPECT_EQ(t.output, opt.output);

  opt.output = dir->file("struct.h5");
  opt.columns = {"mean", "count", "positive"};
  const auto s = pmap::map(
      session(), items,
      [](int i) {
        return Stats{i / 4.0, std::int64_t{1} << 40 | i, i > 0};
      },
      opt);
  EXPECT_EQ(s.values[9].mean, 2.25);
  EXPECT_EQ(s.values[9].count, (std::int64_t{1} << 40) + 9);
  EXPECT_FALSE(s.values[0].positive);
  EXPECT_TRUE(s.values[1].positive);

  opt.columns.clear();
  opt.output = dir->file("array.h5");
  const auto a = pmap::map(
      session(), items,
      [](int i) {
        return std::array<float, 2>{float(i), -float(i)};
      },
      opt);
  EXPECT_EQ(a.values[3], (std::array<float, 2>{3.f, -3.f}));
  const auto p = pmap::map(session(), items, [](int i) { return std::pair{i, 2 * i}; });
  EXPECT_EQ(p.values[4], std::make_pair(4, 8));

  if (pmap::test::world_rank() == 0) {
    const auto v = pmap::test::read_doubles(dir->file("struct.h5"), "/compute/value");
    ASSERT_EQ(v.size(), 150U);
    EXPECT_EQ(v[3 * 9], 2.25);
    EXPECT_EQ(v[3 * 9 + 1], static_cast<double>((std::int64_t{1} << 40) + 9));
    EXPECT_EQ(pmap::test::read_string_attr(dir->file("struct.h5"), "/compute", "columns_joined"),
              "mean,count,positive");
    EXPECT_EQ(pmap::test::read_string_attr(dir->file("tuple.h5"), "/compute", "columns_joined"),
              "v0,v1,v2");
    EXPECT_EQ(pmap::test::read_string_attr(dir->file("tuple.h5"), "/compute", "kernel"), "map");
  }
}

TEST(MapApi, TupleAndStructItemsAreRecordedAsFields) {
  auto dir = pmap::test::shared_temp_dir();
  pmap::MapOptions opt;
  opt.output = dir->file("cases.h5");
  opt.field_names = {"n", "x", "label"};
  const std::vector<std::tuple<int, double, std::string>> cases = {
      {1, 0.5, "a"}, {2, 1.5, "long"}, {3, 2.5, "c"}};
  const auto r = pmap::map(
      session(), cases,
      [](const std::tuple<int, double, std::string>& c) {
        return std::get<0>(c) * std::get<1>(c) + static_cast<double>(std::get<2>(c).size());
      },
      opt);
  EXPECT_EQ(r.values, (std::vector<double>{1.5, 7, 8.5}));
  // Pairs too; a name count that does not match, or items that are not tuples, are usage errors.
  opt.output = dir->file("pairs.h5");
  opt.field_names = {"a", "b"};
  const std::vector<std::pair<long, float>> pairs = {{1, 2.f}, {3, 4.f}};
  (void)pmap::map(
      session(), pairs, [](const auto& p) { return p.first + p.second; }, opt);
  opt.field_names = {"a"};
  EXPECT_THROW((void)pmap::map(
                   session(), pairs, [](const auto& p) { return p.first; }, opt),
               pmap::UsageError);
  const std::vector<int> plain = {1, 2};
  EXPECT_THROW((void)pmap::map(
                   session(), plain, [](int i) { return i; }, opt),
               pmap::UsageError);
  // Structs of numbers and strings, by their members in order.
  struct Case {
    std::int32_t n;
    double x;
    std::string label;
  };
  const std::vector<Case> structs = {{4, 0.25, "p"}, {5, 0.5, "qq"}};
  opt.output = dir->file("structs.h5");
  opt.field_names = {"n", "x", "label"};
  EXPECT_EQ(pmap::map(
                session(), structs, [](const Case& c) { return c.n * c.x; }, opt)
                .values,
            (std::vector<double>{1, 2.5}));
  if (pmap::test::world_rank() == 0) {
    const std::string f = dir->file("cases.h5");
    EXPECT_EQ(pmap::test::read_int64s(f, "/compute/params/n"),
              (std::vector<std::int64_t>{1, 2, 3}));
    EXPECT_EQ(pmap::test::read_doubles(f, "/compute/params/x"),
              (std::vector<double>{0.5, 1.5, 2.5}));
    EXPECT_EQ(pmap::test::read_string_attr(f, "/compute/params", "kind"), "values");
    EXPECT_EQ(pmap::test::read_doubles(dir->file("pairs.h5"), "/compute/params/b"),
              (std::vector<double>{2, 4}));
    EXPECT_EQ(pmap::test::read_int64s(dir->file("structs.h5"), "/compute/params/n"),
              (std::vector<std::int64_t>{4, 5}));
    EXPECT_EQ(pmap::test::read_doubles(dir->file("structs.h5"), "/compute/params/x"),
              (std::vector<double>{0.25, 0.5}));
  }
}

TEST(MapApi, ItemColumnHoldsIntegerItemsOrTheIndex) {
  auto dir = pmap::test::shared_temp_dir();
  pmap::MapOptions opt;
  const auto id = [](auto x) { return static_cast<double>(x); };
  opt.output = dir->file("table.h5");
  const std::vector<int> scattered = {5, 9, -2, 100, 7};
  EXPECT_EQ(pmap::map(session(), scattered, id, opt).values,
            (std::vector<double>{5, 9, -2, 100, 7}));
  opt.output = dir->file("range.h5");
  (void)pmap::map(session(), std::views::iota(10, 20), id, opt);
  opt.output = dir->file("strided.h5");
  const std::vector<long> strided = {30, 25, 20, 15};
  (void)pmap::map(session(), strided, id, opt);
  opt.output = dir->file("index.h5");
  const std::vector<std::string> words = {"a", "bb", "ccc"};
  EXPECT_EQ(pmap::map(
                session(), words, [](const std::string& w) { return w.size(); }, opt)
                .values,
            (std::vector<std::size_t>{1, 2, 3}));
  if (pmap::test::world_rank() == 0) {
    using I = std::vector<std::int64_t>;
    EXPECT_EQ(pmap::test::read_int64s(dir->file("table.h5"), "/compute/item"),
              (I{5, 9, -2, 100, 7}));
    auto r = pmap::test::read_int64s(dir->file("range.h5"), "/compute/item");
    EXPECT_EQ(r.front(), 10);
    EXPECT_EQ(r.back(), 19);
    EXPECT_EQ(pmap::test::read_int64s(dir->file("strided.h5"), "/compute/item"),
              (I{30, 25, 20, 15}));
    EXPECT_EQ(pmap::test::read_string_attr(dir->file("strided.h5"), "/compute", "space"),
              "map over 4 integers 30:10:-5");
    EXPECT_EQ(pmap::test::read_int64s(dir->file("index.h5"), "/compute/item"), (I{0, 1, 2}));
  }
}

TEST(MapApi, ExceptionsFailOnlyTheirItems) {
  auto dir = pmap::test::shared_temp_dir();
  pmap::MapOptions opt;
  opt.output = dir->file("fail.h5");
  opt.threads = 2;
  const auto r = pmap::map(
      session(), std::views::iota(0, 100),
      [](int i) -> double {
        if (i % 7 == 3) throw std::runtime_error("bad item " + std::to_string(i));
        if (i == 50) throw 42;  // not a std::exception
        return i;
      },
      opt);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.report.failed, 15U);
  EXPECT_EQ(r.report.ok, 85U);
  ASSERT_EQ(r.failures.size(), 15U);  // on every rank
  EXPECT_EQ(r.failures[0].index, 3U);
  EXPECT_EQ(r.failures[0].message, "bad item 3");
  bool found50 = false;
  for (const auto& f : r.failures) {
    if (f.index == 50) {
      found50 = true;
      EXPECT_EQ(f.message, "exception not derived from std::exception");
    }
  }
  EXPECT_TRUE(found50);
  EXPECT_EQ(r.status[3], ItemStatus::Failed);
  EXPECT_EQ(r.values[3], 0.0);  // R{} for failed items
  EXPECT_EQ(r.status[4], ItemStatus::Ok);
  EXPECT_EQ(r.values[4], 4.0);
  if (pmap::test::world_rank() == 0) {
    const auto status = pmap::test::read_int8s(opt.output, "/compute/status");
    EXPECT_EQ(status[3], 1);
    EXPECT_EQ(status[50], 1);
    EXPECT_EQ(status[4], 0);
    EXPECT_TRUE(std::isnan(pmap::test::read_doubles(opt.output, "/compute/value")[3]));
  }
}

TEST(MapApi, BoundArgumentsLikeFunctoolsPartial) {
  auto dir = pmap::test::shared_temp_dir();
  pmap::MapOptions opt;
  opt.output = dir->file("partial.h5");
  const std::vector<double> xs = {1, 4, 9, 16};
  const auto r = pmap::map(session(), xs, pmap::partial(work, 2.0, 3), opt);
  EXPECT_EQ(r.values, (std::vector<double>{5, 7, 9, 11}));
  // A lambda binds the same way (nothing recorded).
  const double scale = 2.0;
  EXPECT_EQ(pmap::map(session(), xs, [scale](double x) { return work(x, scale, 3); }).values,
            r.values);
  if (pmap::test::world_rank() == 0) {
    const auto args =
        nlohmann::json::parse(pmap::test::read_string_attr(opt.output, "/compute", "args"));
    EXPECT_EQ(args["arg1"], 2.0);
    EXPECT_EQ(args["arg2"], 3);
  }
}

TEST(MapApi, StreamingCallbackSeesEveryItemOnceAsTheyFinish) {
  const int n = 120;
  std::vector<std::uint64_t> seen;
  std::set<int> ranks;
  std::mutex m;
  Clock::time_point first{};
  pmap::MapOptions opt;
  opt.threads = 2;
  opt.chunk = 2;
  opt.stream_interval = std::chrono::milliseconds(10);
  opt.collect = pmap::Collect::None;
  if (pmap::test::world_rank() == 0) {  // set on rank 0 only: allowed
    opt.on_result = [&](const pmap::Completed& c) {
      std::lock_guard lock(m);
      if (seen.empty()) first = Clock::now();
      seen.push_back(c.index);
      ranks.insert(c.rank);
      if (c.ok()) {
        EXPECT_EQ(c.value<double>(), 3.0 * static_cast<double>(c.index)) << c.index;
      } else {
        EXPECT_EQ(c.index % 10, 0U);
        EXPECT_EQ(c.error, "multiple of ten");
        EXPECT_TRUE(std::isnan(c.values[0]));
      }
    };
  }
  const auto t0 = Clock::now();
  const auto r = pmap::map(
      session(), std::views::iota(0, n),
      [](int i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (i % 10 == 0) throw std::runtime_error("multiple of ten");
        return 3.0 * i;
      },
      opt);
  const double total = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_TRUE(r.values.empty());  // Collect::None
  EXPECT_TRUE(r.status.empty());
  EXPECT_EQ(r.failures.size(), 12U);
  if (pmap::test::world_rank() == 0) {
    std::lock_guard lock(m);
    ASSERT_EQ(seen.size(), static_cast<std::size_t>(n));
    std::sort(seen.begin(), seen.end());
    for (int i = 0; i < n; ++i) EXPECT_EQ(seen[static_cast<std::size_t>(i)], std::uint64_t(i));
    EXPECT_EQ(ranks.size(), static_cast<std::size_t>(pmap::test::world_size()));
    // Results arrive while the run goes on, not all at the end.
    EXPECT_LT(std::chrono::duration<double>(first - t0).count(), 0.6 * total);
  }
}

TEST(MapApi, CollectOnRootOnly) {
  pmap::MapOptions opt;
  opt.collect = pmap::Collect::Root;
  const auto r = pmap::map(
      session(), std::views::iota(0, 64), [](int i) { return i * 2; }, opt);
  if (pmap::test::world_rank() == 0) {
    ASSERT_EQ(r.size(), 64U);
    EXPECT_EQ(r.values[63], 126);
  } else {
    EXPECT_TRUE(r.values.empty());
  }
  EXPECT_EQ(r.report.ok, 64U);
}

TEST(MapApi, ThrowingCallbackFailsTheCallOnEveryRank) {
  pmap::MapOptions opt;
  if (pmap::test::world_rank() == 0) {
    opt.on_result = [](const pmap::Completed&) { throw std::logic_error("callback broke"); };
  }
  bool threw = false;
  try {
    (void)pmap::map(
        session(), std::views::iota(0, 20), [](int i) { return i; }, opt);
  } catch (const pmap::RuntimeError& e) {
    threw = std::string(e.what()).find("callback broke") != std::string::npos;
  }
  EXPECT_TRUE(everywhere(threw));
}

TEST(MapApi, BadOptionsAreUsageErrorsOnEveryRank) {
  const auto usage = [](const pmap::MapOptions& opt) {
    try {
      (void)pmap::map(
          session(), std::views::iota(0, 4), [](int i) { return i; }, opt);
    } catch (const pmap::UsageError&) {
      return true;
    }
    return false;
  };
  pmap::MapOptions opt;
  opt.columns = {"a", "b"};
  EXPECT_TRUE(everywhere(usage(opt)));
  opt = {};
  opt.resume = true;
  opt.output = "x.h5";
  EXPECT_TRUE(everywhere(usage(opt)));  // resume needs Collect::None
  opt = {};
  opt.threads = 0;
  EXPECT_TRUE(everywhere(usage(opt)));
  // An existing file is not replaced without force.
  auto dir = pmap::test::shared_temp_dir();
  opt = {};
  opt.output = dir->file("once.h5");
  (void)pmap::map(
      session(), std::views::iota(0, 4), [](int i) { return i; }, opt);
  EXPECT_TRUE(everywhere(usage(opt)));
  opt.force = true;
  EXPECT_FALSE(usage(opt));
}

TEST(MapApi, ResumeRunsOnlyWhatIsMissing) {
  auto dir = pmap::test::shared_temp_dir();
  pmap::MapOptions opt;
  opt.output = dir->file("resume.h5");
  opt.collect = pmap::Collect::None;
  const auto first = pmap::map(
      session(), std::views::iota(0, 30), [](int i) { return i; }, opt);
  EXPECT_EQ(first.report.ok, 30U);
  opt.resume = true;
  const auto again = pmap::map(
      session(), std::views::iota(0, 30), [](int i) { return i; }, opt);
  EXPECT_EQ(again.report.ran, 0U);
  EXPECT_EQ(again.report.ok, 30U);
}

// The engine decides each item's outcome once and every sink sees that decision: a SIGTERM on
// rank 0 in the middle of a map (the item that sends it is cut short) leaves the API's values,
// the stream, the file and the report in agreement, row by row.
TEST(MapApi, SigtermMidMapLeavesValuesStreamFileAndReportInAgreement) {
  auto dir = pmap::test::shared_temp_dir();
  pmap::install_stop_handlers();
  const int n = 600;
  std::map<std::uint64_t, std::pair<ItemStatus, double>> streamed;  // rank 0
  std::mutex m;
  pmap::MapOptions opt;
  opt.output = dir->file("stopped.h5");
  opt.threads = 2;
  opt.chunk = 3;
  opt.stream_interval = std::chrono::milliseconds(5);
  if (pmap::test::world_rank() == 0) {
    opt.on_result = [&](const pmap::Completed& c) {
      std::lock_guard lock(m);
      EXPECT_TRUE(streamed.emplace(c.index, std::make_pair(c.status, c.values[0])).second);
    };
  }
  static std::atomic<int> computed{0};
  computed = 0;
  const bool sender = pmap::test::world_rank() == 0;
  const auto r = pmap::map(
      session(), std::views::iota(0, n),
      [sender](int i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        if (sender && computed.fetch_add(1) == 15) kill(getpid(), SIGTERM);
        if (i % 7 == 0) throw std::runtime_error("multiple of seven");
        return 2.0 * i;
      },
      opt);
  pmap::reset_stop();
  for (int sig : {SIGINT, SIGTERM, SIGUSR1}) std::signal(sig, SIG_DFL);

  EXPECT_EQ(r.report.stop_reason, "signal");
  EXPECT_EQ(r.report.interrupted, SIGTERM);
  ASSERT_EQ(r.status.size(), static_cast<std::size_t>(n));
  const auto file_status = pmap::test::read_int8s(opt.output, "/compute/status");
  const auto file_values = pmap::test::read_doubles(opt.output, "/compute/value");
  ASSERT_EQ(file_status.size(), static_cast<std::size_t>(n));
  std::uint64_t ok = 0, failed = 0, not_run = 0, mismatches = 0;
  for (std::size_t i = 0; i < r.status.size(); ++i) {
    const auto s = r.status[i];
    ok += s == ItemStatus::Ok ? 1 : 0;
    failed += s == ItemStatus::Failed ? 1 : 0;
    not_run += s == ItemStatus::NotRun ? 1 : 0;
    if (static_cast<std::int8_t>(s) != file_status[i]) ++mismatches;
    if (s == ItemStatus::Ok &&
        (r.values[i] != 2.0 * static_cast<double>(i) || file_values[i] != r.values[i])) {
      ++mismatches;
    }
    if (s == ItemStatus::Failed && i % 7 != 0) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0U);
  EXPECT_GT(not_run, 0U) << "the signal did not stop the map";
  EXPECT_GT(ok, 0U);
  EXPECT_EQ(r.report.ok, ok);
  EXPECT_EQ(r.report.failed, failed);
  EXPECT_EQ(r.report.not_run, not_run);
  EXPECT_EQ(r.failures.size(), failed);
  EXPECT_EQ(pmap::test::read_string_attr(opt.output, "/compute", "stop_reason"), "signal");
  if (pmap::test::world_rank() == 0) {
    std::lock_guard lock(m);
    EXPECT_EQ(streamed.size(), ok + failed);
    for (const auto& [row, sv] : streamed) {
      EXPECT_EQ(sv.first, r.status[row]) << row;
      if (sv.first == ItemStatus::Ok) {
        EXPECT_EQ(sv.second, r.values[row]) << row;
      }
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);  // every rank read the file before rank 0 removes the folder
}

TEST(MapApi, EmptyItems) {
  const std::vector<double> none;
  const auto r = pmap::map(session(), none, [](double x) { return x; });
  EXPECT_TRUE(r.values.empty());
  EXPECT_TRUE(r.ok());
}

// Compile-time checks of the result-type machinery.
static_assert(pmap::detail::Numbers<double>::size == 1);
static_assert(pmap::detail::Numbers<std::tuple<int, float, bool>>::size == 3);
static_assert(pmap::detail::Numbers<std::array<double, 5>>::size == 5);
static_assert(pmap::detail::Numbers<Stats>::size == 3);
struct Eight {
  double a, b, c, d, e, f, g, h;
};
static_assert(pmap::detail::Numbers<Eight>::size == 8);
static_assert(std::is_same_v<pmap::map_result_t<std::vector<int>&, double (*)(int)>, double>);

}  // namespace
