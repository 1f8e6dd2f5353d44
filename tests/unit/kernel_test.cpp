// pmap — unit tests of kernels: registry, argument binding, the built-in kernels' values, context.
#include "pmap/kernel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <numbers>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "pmap/error.hpp"
#include "pmap/item_space.hpp"

// Expects `statement` to throw `Exc` (or a subclass) whose what() contains every given substring.
#define PMAP_EXPECT_THROW_MSG(statement, Exc, ...)                                          \
  do {                                                                                      \
    bool pmap_caught_ = false;                                                              \
    std::string pmap_what_;                                                                 \
    try {                                                                                   \
      statement;                                                                            \
    } catch (const Exc& e) {                                                                \
      pmap_caught_ = true;                                                                  \
      pmap_what_ = e.what();                                                                \
    } catch (const std::exception& e) {                                                     \
      ADD_FAILURE() << #statement " threw the wrong exception type: " << e.what();          \
      break;                                                                                \
    }                                                                                       \
    if (!pmap_caught_) {                                                                    \
      ADD_FAILURE() << #statement " did not throw " #Exc;                                   \
      break;                                                                                \
    }                                                                                       \
    for (const std::string& pmap_part_ : std::initializer_list<std::string>{__VA_ARGS__}) { \
      EXPECT_NE(pmap_what_.find(pmap_part_), std::string::npos)                             \
          << "message: \"" << pmap_what_ << "\"\n  lacks: \"" << pmap_part_ << "\"";        \
    }                                                                                       \
  } while (false)

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using pmap::ArgType;
using pmap::BoundArgs;
using pmap::Item;
using pmap::ItemError;
using pmap::Kernel;
using pmap::KernelContext;
using pmap::UsageError;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

Item range_item(std::int64_t value) { return Item{0, value, {}, false}; }

std::vector<double> run(const Kernel& k, const Item& item, const BoundArgs& args,
                        const KernelContext& ctx = {}) {
  std::vector<double> out(k.columns().size(), -12345.0);
  k.run(item, args, out, ctx);
  return out;
}

std::vector<double> run(std::string_view kernel, std::int64_t item,
                        const std::vector<std::string>& assignments) {
  const Kernel& k = pmap::find_kernel(kernel);
  return run(k, range_item(item), pmap::bind_args(k, assignments));
}

/// A kernel declaring one argument of every type, to test binding of types no built-in uses.
class AllTypesKernel final : public Kernel {
 public:
  [[nodiscard]] std::string_view name() const override { return "all_types"; }
  [[nodiscard]] std::string_view description() const override { return "test kernel"; }
  [[nodiscard]] const std::vector<pmap::ArgSpec>& arguments() const override { return args_; }
  [[nodiscard]] const std::vector<std::string>& columns() const override { return columns_; }
  void run(const Item& item, const BoundArgs& /*args*/, std::span<double> out,
           const KernelContext& /*ctx*/) const override {
    out[0] = item.as_double();
  }

 private:
  std::vector<pmap::ArgSpec> args_ = {{"count", ArgType::Int, std::int64_t{3}, "an int"},
                                      {"ratio", ArgType::Double, 0.5, "a double"},
                                      {"label", ArgType::String, std::string("abc"), "a string"},
                                      {"flag", ArgType::Bool, false, "a bool"}};
  std::vector<std::string> columns_ = {"v"};
};

// --- registry -----------------------------------------------------------------------------------

TEST(Kernels, BuiltinNamesInDisplayOrder) {
  std::vector<std::string> names;
  for (const auto& k : pmap::builtin_kernels()) names.emplace_back(k->name());
  const std::vector<std::string> expected = {"compute_x", "spin", "pi",    "mandelbrot",
                                             "skew",      "exec", "worker"};
  EXPECT_EQ(names, expected);
}

TEST(Kernels, EveryBuiltinIsComplete) {
  for (const auto& k : pmap::builtin_kernels()) {
    SCOPED_TRACE(std::string(k->name()));
    EXPECT_FALSE(k->description().empty());
    EXPECT_FALSE(k->columns().empty());
    for (const auto& a : k->arguments()) {
      EXPECT_FALSE(a.name.empty());
      EXPECT_FALSE(a.help.empty());
      // The default has the declared type.
      switch (a.type) {
        case ArgType::Int:
          EXPECT_TRUE(std::holds_alternative<std::int64_t>(a.default_value)) << a.name;
          break;
        case ArgType::Double:
          EXPECT_TRUE(std::holds_alternative<double>(a.default_value)) << a.name;
          break;
        case ArgType::String:
          EXPECT_TRUE(std::holds_alternative<std::string>(a.default_value)) << a.name;
          break;
        case ArgType::Bool:
          EXPECT_TRUE(std::holds_alternative<bool>(a.default_value)) << a.name;
          break;
      }
    }
  }
}

TEST(Kernels, Columns) {
  using V = std::vector<std::string>;
  EXPECT_EQ(pmap::find_kernel("compute_x").columns(), (V{"x", "y"}));
  EXPECT_EQ(pmap::find_kernel("spin").columns(), (V{"x"}));
  EXPECT_EQ(pmap::find_kernel("pi").columns(), (V{"estimate", "hits"}));
  EXPECT_EQ(pmap::find_kernel("mandelbrot").columns(),
            (V{"iterations", "inside", "max_iterations"}));
}

TEST(Kernels, FindReturnsTheNamedKernel) {
  for (const auto& k : pmap::builtin_kernels()) {
    EXPECT_EQ(&pmap::find_kernel(k->name()), k.get());
  }
}

TEST(Kernels, FindUnknownListsAvailable) {
  PMAP_EXPECT_THROW_MSG((void)pmap::find_kernel("nope"), UsageError, "kernel nope",
                        "unknown kernel", "compute_x, spin, pi, mandelbrot", "pmap kernels");
  PMAP_EXPECT_THROW_MSG((void)pmap::find_kernel(""), UsageError, "unknown kernel");
  // Names are case-sensitive.
  PMAP_EXPECT_THROW_MSG((void)pmap::find_kernel("PI"), UsageError, "kernel PI");
}

TEST(Kernels, ArgTypeNames) {
  EXPECT_EQ(pmap::to_string(ArgType::Int), "int");
  EXPECT_EQ(pmap::to_string(ArgType::Double), "double");
  EXPECT_EQ(pmap::to_string(ArgType::String), "string");
  EXPECT_EQ(pmap::to_string(ArgType::Bool), "bool");
}

TEST(Kernels, DescribeMentionsEveryKernelArgumentAndColumn) {
  const std::string text = pmap::describe_kernels();
  for (const auto& k : pmap::builtin_kernels()) {
    EXPECT_NE(text.find(std::string(k->name())), std::string::npos) << k->name();
    EXPECT_NE(text.find(std::string(k->description())), std::string::npos) << k->name();
    for (const auto& a : k->arguments()) {
      EXPECT_NE(text.find(a.name + " (" + std::string(pmap::to_string(a.type)) + ", default "),
                std::string::npos)
          << k->name() << " " << a.name;
      EXPECT_NE(text.find(a.help), std::string::npos) << a.help;
    }
    for (const auto& c : k->columns()) {
      EXPECT_NE(text.find(c), std::string::npos) << k->name() << " column " << c;
    }
  }
  EXPECT_NE(text.find("columns: x, y"), std::string::npos);
  EXPECT_NE(text.find("columns: estimate, hits"), std::string::npos);
  EXPECT_NE(text.find("columns: iterations, inside, max_iterations"), std::string::npos);
  EXPECT_NE(text.find("sleep (double, default 0.8)"), std::string::npos);
  EXPECT_NE(text.find("samples (int, default 1000000)"), std::string::npos);
}

// --- bind_args ----------------------------------------------------------------------------------

TEST(BindArgs, DefaultsForEveryDeclaredArgument) {
  const Kernel& k = pmap::find_kernel("compute_x");
  const BoundArgs args = pmap::bind_args(k, {});
  EXPECT_EQ(args.values().size(), k.arguments().size());
  EXPECT_EQ(args.get_double("y"), 2.0);
  EXPECT_EQ(args.get_double("sleep"), 0.8);
  EXPECT_EQ(args.get_int("fail_every"), 0);

  const BoundArgs pi = pmap::bind_args(pmap::find_kernel("pi"), {});
  EXPECT_EQ(pi.get_int("samples"), 1000000);
  EXPECT_EQ(pi.get_int("seed"), 0);
  const BoundArgs m = pmap::bind_args(pmap::find_kernel("mandelbrot"), {});
  EXPECT_EQ(m.get_int("width"), 2048);
  EXPECT_EQ(m.get_int("height"), 2048);
  EXPECT_EQ(m.get_int("max_iter"), 1000);
  EXPECT_EQ(pmap::bind_args(pmap::find_kernel("spin"), {}).get_double("seconds"), 0.01);
}

TEST(BindArgs, Overrides) {
  const Kernel& k = pmap::find_kernel("compute_x");
  const BoundArgs args = pmap::bind_args(k, {"y=3", "fail_every=4", "sleep=0.25"});
  EXPECT_EQ(args.get_double("y"), 3.0);  // an integer text for a double argument is a double
  EXPECT_EQ(args.get_int("fail_every"), 4);
  EXPECT_EQ(args.get_double("sleep"), 0.25);
}

TEST(BindArgs, LastAssignmentWins) {
  const BoundArgs args = pmap::bind_args(pmap::find_kernel("compute_x"), {"y=3", "y=-1.5e2"});
  EXPECT_EQ(args.get_double("y"), -150.0);
}

TEST(BindArgs, AllTypes) {
  const AllTypesKernel k;
  const BoundArgs d = pmap::bind_args(k, {});
  EXPECT_EQ(d.get_int("count"), 3);
  EXPECT_EQ(d.get_double("ratio"), 0.5);
  EXPECT_EQ(d.get_string("label"), "abc");
  EXPECT_FALSE(d.get_bool("flag"));
  const BoundArgs b = pmap::bind_args(k, {"count=-9", "ratio=1e-3", "label=a=b c", "flag=true"});
  EXPECT_EQ(b.get_int("count"), -9);
  EXPECT_EQ(b.get_double("ratio"), 1e-3);
  EXPECT_EQ(b.get_string("label"), "a=b c");  // split at the first '='
  EXPECT_TRUE(b.get_bool("flag"));
  EXPECT_EQ(pmap::bind_args(k, {"label="}).get_string("label"), "");
  for (const char* yes : {"flag=true", "flag=1", "flag=yes"}) {
    EXPECT_TRUE(pmap::bind_args(k, {yes}).get_bool("flag")) << yes;
  }
  for (const char* no : {"flag=false", "flag=0", "flag=no"}) {
    EXPECT_FALSE(pmap::bind_args(k, {no}).get_bool("flag")) << no;
  }
}

TEST(BindArgs, UnknownKeyListsValidArguments) {
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(pmap::find_kernel("compute_x"), {"z=1"}), UsageError,
                        "args z=1", "compute_x has no argument 'z'", "y (double, default 2)",
                        "sleep (double, default 0.8)", "fail_every (int, default 0)");
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(pmap::find_kernel("pi"), {"Samples=1"}), UsageError,
                        "no argument 'Samples'", "samples (int, default 1000000)",
                        "seed (int, default 0)");
}

TEST(BindArgs, BadInt) {
  const Kernel& k = pmap::find_kernel("pi");
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(k, {"samples=1.5"}), UsageError, "args samples=1.5",
                        "'1.5' is not an integer", "kernel pi takes", "samples (int");
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(k, {"samples=abc"}), UsageError,
                        "'abc' is not an integer");
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(k, {"samples="}), UsageError, "'' is not an integer");
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(k, {"samples=10x"}), UsageError,
                        "'10x' is not an integer");
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(k, {"seed=99999999999999999999"}), UsageError,
                        "'99999999999999999999' is not an integer");
}

TEST(BindArgs, BadDouble) {
  const Kernel& k = pmap::find_kernel("compute_x");
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(k, {"y=abc"}), UsageError, "args y=abc",
                        "'abc' is not a finite number", "kernel compute_x takes");
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(k, {"y=1.5q"}), UsageError,
                        "'1.5q' is not a finite number");
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(k, {"y="}), UsageError, "'' is not a finite number");
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(k, {"y=inf"}), UsageError,
                        "'inf' is not a finite number");
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(k, {"y=nan"}), UsageError,
                        "'nan' is not a finite number");
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(k, {"y=1e999"}), UsageError,
                        "'1e999' is not a finite number");
}

TEST(BindArgs, BadBool) {
  const AllTypesKernel k;
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(k, {"flag=maybe"}), UsageError, "args flag=maybe",
                        "'maybe' is not a boolean", "flag (bool, default false)");
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(k, {"flag="}), UsageError, "is not a boolean");
}

TEST(BindArgs, MissingEquals) {
  const Kernel& k = pmap::find_kernel("compute_x");
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(k, {"y"}), UsageError, "args y", "expected KEY=VALUE",
                        "y (double, default 2)");
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(k, {"=3"}), UsageError, "expected KEY=VALUE");
  PMAP_EXPECT_THROW_MSG((void)pmap::bind_args(k, {""}), UsageError, "expected KEY=VALUE");
}

TEST(BindArgs, GettersCheckNameAndType) {
  const BoundArgs args = pmap::bind_args(pmap::find_kernel("compute_x"), {});
  EXPECT_THROW((void)args.get_double("nope"), std::out_of_range);
  EXPECT_THROW((void)args.get_int("y"), std::bad_variant_access);
}

TEST(BindArgs, ToJsonIsCanonical) {
  const Kernel& k = pmap::find_kernel("compute_x");
  // Keys sorted by name, whatever the order of the assignments.
  const std::string a = pmap::bind_args(k, {"y=3", "sleep=0"}).to_json();
  const std::string b = pmap::bind_args(k, {"sleep=0", "y=3"}).to_json();
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, R"({"fail_every":0,"sleep":0.0,"y":3.0})");
  EXPECT_EQ(pmap::bind_args(k, {}).to_json(), R"({"fail_every":0,"sleep":0.8,"y":2.0})");
  // Types survive: ints stay ints, doubles stay doubles.
  const auto j = nlohmann::json::parse(pmap::bind_args(pmap::find_kernel("pi"), {}).to_json());
  EXPECT_TRUE(j.at("samples").is_number_integer());
  EXPECT_EQ(j.at("samples").get<std::int64_t>(), 1000000);
}

TEST(BindArgs, ToJsonEscapesStringsAndRoundTripsDoubles) {
  const AllTypesKernel k;
  const BoundArgs args =
      pmap::bind_args(k, {"label=say \"hi\"\\\n", "flag=yes", "ratio=0.1", "count=-2"});
  const std::string text = args.to_json();
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;  // one line
  const auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j.at("label").get<std::string>(), "say \"hi\"\\\n");
  EXPECT_EQ(j.at("flag").get<bool>(), true);
  EXPECT_EQ(j.at("ratio").get<double>(), 0.1);  // bit-exact round trip
  EXPECT_EQ(j.at("count").get<std::int64_t>(), -2);
  EXPECT_EQ(text, R"({"count":-2,"flag":true,"label":"say \"hi\"\\\n","ratio":0.1})");
}

// Found by tests/fuzz (args_fuzz): string arguments are bytes, and to_json() threw
// nlohmann::json::type_error on invalid UTF-8, so `pmap run --kernel exec --arg cmd=$'echo \xe9'`
// failed with "[json.exception.type_error.316] invalid UTF-8 byte". Such bytes become U+FFFD.
TEST(BindArgs, ToJsonReplacesInvalidUtf8) {
  const AllTypesKernel k;
  const BoundArgs args = pmap::bind_args(k, {"label=caf\xe9 \xff!"});
  EXPECT_EQ(args.get_string("label"), "caf\xe9 \xff!");  // the value itself is kept as given
  std::string text;
  ASSERT_NO_THROW(text = args.to_json());
  const auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j.at("label").get<std::string>(), "caf\uFFFD \uFFFD!") << text;
  EXPECT_EQ(j.at("count").get<std::int64_t>(), 3);
  const Kernel& exec = pmap::find_kernel("exec");
  EXPECT_NO_THROW((void)pmap::bind_args(exec, {"cmd=echo \xe9t\xe9 {}"}).to_json());
  EXPECT_NO_THROW((void)pmap::bind_args(exec, {"cmd=echo {}\n\x05\xe0\x83\xdfwc"}).to_json());
}

// --- compute_x ----------------------------------------------------------------------------------

TEST(ComputeX, ReturnsXAndY) {
  EXPECT_EQ(run("compute_x", 5, {"sleep=0"}), (std::vector<double>{5.0, 2.0}));
  EXPECT_EQ(run("compute_x", -3, {"sleep=0", "y=3.5"}), (std::vector<double>{-3.0, 3.5}));
  const Kernel& k = pmap::find_kernel("compute_x");
  const Item line{0, 7, "2.5", true};
  EXPECT_EQ(run(k, line, pmap::bind_args(k, {"sleep=0"})), (std::vector<double>{2.5, 2.0}));
}

TEST(ComputeX, SleepsTheGivenTime) {
  const auto t0 = Clock::now();
  EXPECT_EQ(run("compute_x", 1, {"sleep=0.05"}), (std::vector<double>{1.0, 2.0}));
  EXPECT_GE(seconds_since(t0), 0.05);
}

TEST(ComputeX, FailEveryFailsMultiples) {
  const Kernel& k = pmap::find_kernel("compute_x");
  const BoundArgs args = pmap::bind_args(k, {"sleep=0", "fail_every=3"});
  for (std::int64_t x = -7; x <= 12; ++x) {
    SCOPED_TRACE(x);
    if (x % 3 == 0) {
      PMAP_EXPECT_THROW_MSG((void)run(k, range_item(x), args), ItemError,
                            "x=" + std::to_string(x) + " is a multiple of fail_every=3");
    } else {
      EXPECT_EQ(run(k, range_item(x), args), (std::vector<double>{static_cast<double>(x), 2.0}));
    }
  }
}

TEST(ComputeX, FailEveryZeroNeverFails) {
  const Kernel& k = pmap::find_kernel("compute_x");
  const BoundArgs args = pmap::bind_args(k, {"sleep=0", "fail_every=0"});
  for (std::int64_t x = 0; x < 10; ++x) EXPECT_NO_THROW((void)run(k, range_item(x), args));
}

TEST(ComputeX, NonNumericInputFailsTheItem) {
  const Kernel& k = pmap::find_kernel("compute_x");
  const Item line{0, 4, "hello", true};
  PMAP_EXPECT_THROW_MSG((void)run(k, line, pmap::bind_args(k, {"sleep=0"})), ItemError, "line 4",
                        "'hello'");
}

TEST(ComputeX, StopsSleepingWhenTheJobStops) {
  const Kernel& k = pmap::find_kernel("compute_x");
  const std::atomic<bool> stop{true};
  const KernelContext ctx(&stop, Clock::time_point::max());
  const auto t0 = Clock::now();
  try {
    (void)run(k, range_item(1), pmap::bind_args(k, {"sleep=10"}), ctx);
  } catch (const ItemError&) {
    // Failing a stopped item is fine too; what matters is not sleeping 10 s.
  }
  EXPECT_LT(seconds_since(t0), 0.1);
}

// --- spin ---------------------------------------------------------------------------------------

TEST(Spin, ZeroSecondsReturnsX) {
  EXPECT_EQ(run("spin", 42, {"seconds=0"}), (std::vector<double>{42.0}));
  EXPECT_EQ(run("spin", -1, {"seconds=0"}), (std::vector<double>{-1.0}));
}

TEST(Spin, BurnsCpuTime) {
  const auto cpu = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  };
  const double c0 = cpu();
  EXPECT_EQ(run("spin", 3, {"seconds=0.02"}), (std::vector<double>{3.0}));
  EXPECT_GE(cpu() - c0, 0.02);
}

TEST(Spin, StopsEarly) {
  const Kernel& k = pmap::find_kernel("spin");
  const std::atomic<bool> stop{true};
  const auto t0 = Clock::now();
  try {
    (void)run(k, range_item(1), pmap::bind_args(k, {"seconds=10"}),
              KernelContext(&stop, Clock::time_point::max()));
  } catch (const ItemError&) {
  }
  EXPECT_LT(seconds_since(t0), 0.1);
}

// --- pi -----------------------------------------------------------------------------------------

TEST(Pi, DeterministicPerSeedAndItem) {
  const auto a = run("pi", 7, {"samples=20000", "seed=11"});
  const auto b = run("pi", 7, {"samples=20000", "seed=11"});
  ASSERT_EQ(a.size(), 2U);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)), 0);
  EXPECT_NE(a, run("pi", 8, {"samples=20000", "seed=11"}));  // another item, another stream
  EXPECT_NE(a, run("pi", 7, {"samples=20000", "seed=12"}));  // another seed, another stream
}

TEST(Pi, DependsOnlyOnItemValueNotRowOrSource) {
  const Kernel& k = pmap::find_kernel("pi");
  const BoundArgs args = pmap::bind_args(k, {"samples=5000", "seed=3"});
  const auto from_range = run(k, Item{0, 9, {}, false}, args);
  EXPECT_EQ(run(k, Item{123, 9, {}, false}, args), from_range);
  EXPECT_EQ(run(k, Item{5, 1, "9", true}, args), from_range);  // input line "9"
}

TEST(Pi, ManyStreamsAreDistinct) {
  const Kernel& k = pmap::find_kernel("pi");
  const BoundArgs args = pmap::bind_args(k, {"samples=4096", "seed=1"});
  std::vector<double> hits;
  for (std::int64_t i = 0; i < 64; ++i) hits.push_back(run(k, range_item(i), args)[1]);
  std::sort(hits.begin(), hits.end());
  // 64 binomial(4096, pi/4) draws: with identical streams they would all coincide.
  EXPECT_GT(std::unique(hits.begin(), hits.end()) - hits.begin(), 20);
}

TEST(Pi, EstimateIsCloseToPi) {
  const auto out = run("pi", 0, {"samples=1000000", "seed=2024"});
  // Standard error 4*sqrt(p(1-p)/n) ~ 0.0016: 0.01 is > 6 sigma; the value is deterministic.
  EXPECT_NEAR(out[0], std::numbers::pi, 0.01);
}

TEST(Pi, HitsConsistentWithEstimate) {
  for (std::int64_t item : {0, 1, 99}) {
    const auto out = run("pi", item, {"samples=12345", "seed=5"});
    const double hits = out[1];
    EXPECT_EQ(hits, std::floor(hits));  // an integer count
    EXPECT_GE(hits, 0.0);
    EXPECT_LE(hits, 12345.0);
    EXPECT_EQ(out[0], 4.0 * hits / 12345.0);
  }
}

TEST(Pi, NonPositiveSamplesFail) {
  const Kernel& k = pmap::find_kernel("pi");
  PMAP_EXPECT_THROW_MSG((void)run(k, range_item(0), pmap::bind_args(k, {"samples=0"})), ItemError,
                        "samples must be positive");
  PMAP_EXPECT_THROW_MSG((void)run(k, range_item(0), pmap::bind_args(k, {"samples=-5"})), ItemError,
                        "samples must be positive");
}

TEST(Pi, StopsEarly) {
  const Kernel& k = pmap::find_kernel("pi");
  const std::atomic<bool> stop{true};
  const auto t0 = Clock::now();
  PMAP_EXPECT_THROW_MSG((void)run(k, range_item(0), pmap::bind_args(k, {"samples=10000000000"}),
                                  KernelContext(&stop, Clock::time_point::max())),
                        ItemError, "stopped");
  EXPECT_LT(seconds_since(t0), 0.1);
}

// --- mandelbrot ---------------------------------------------------------------------------------

/// Independent straightforward reimplementation: pixel centres of [-2,0.5]x[-1.25,1.25], z = z^2+c
/// while |z|^2 <= 4, at most max_iter steps; returns (total iterations, points inside, row max).
std::array<double, 3> reference_row(int row, int width, int height, int max_iter) {
  const double im = -1.25 + 2.5 * (row + 0.5) / height;
  double total = 0;
  double inside = 0;
  double most = 0;
  for (int px = 0; px < width; ++px) {
    const std::complex<double> c(-2.0 + 2.5 * (px + 0.5) / width, im);
    std::complex<double> z = 0;
    int n = 0;
    while (n < max_iter && std::norm(z) <= 4.0) {
      z = z * z + c;
      ++n;
    }
    total += n;
    if (n == max_iter) inside += 1;
    most = std::max(most, static_cast<double>(n));
  }
  return {total, inside, most};
}

TEST(Mandelbrot, SmallImageMatchesReference) {
  const Kernel& k = pmap::find_kernel("mandelbrot");
  const BoundArgs args = pmap::bind_args(k, {"width=16", "height=16", "max_iter=50"});
  double image_inside = 0;
  for (int row = 0; row < 16; ++row) {
    SCOPED_TRACE(row);
    const auto got = run(k, range_item(row), args);
    const auto want = reference_row(row, 16, 16, 50);
    ASSERT_EQ(got.size(), 3U);
    EXPECT_EQ(got[0], want[0]);
    EXPECT_EQ(got[1], want[1]);
    EXPECT_EQ(got[2], want[2]);
    EXPECT_LE(got[2], 50.0);
    EXPECT_LE(got[1], 16.0);
    image_inside += got[1];
  }
  EXPECT_GT(image_inside, 0.0);
}

TEST(Mandelbrot, MiddleRowHasInsidePoints) {
  const auto middle = run("mandelbrot", 8, {"width=16", "height=16", "max_iter=50"});
  EXPECT_GT(middle[1], 0.0);
  EXPECT_EQ(middle[2], 50.0);  // an inside point reaches the cap
}

TEST(Mandelbrot, FirstRowCheaperThanMiddleRow) {
  const std::vector<std::string> args = {"width=64", "height=64", "max_iter=200"};
  const auto first = run("mandelbrot", 0, args);
  const auto middle = run("mandelbrot", 32, args);
  EXPECT_LT(first[0], middle[0]);
  EXPECT_EQ(first[1], 0.0);  // the top edge (im ~ -1.23) is outside the set
  EXPECT_GT(first[0], 0.0);  // every pixel takes at least one step
}

TEST(Mandelbrot, RowOutsideHeightFails) {
  const Kernel& k = pmap::find_kernel("mandelbrot");
  const BoundArgs args = pmap::bind_args(k, {"width=16", "height=16", "max_iter=50"});
  PMAP_EXPECT_THROW_MSG((void)run(k, range_item(16), args), ItemError, "row 16", "outside 0..15");
  PMAP_EXPECT_THROW_MSG((void)run(k, range_item(-1), args), ItemError, "row -1", "outside 0..15");
  EXPECT_NO_THROW((void)run(k, range_item(15), args));
}

TEST(Mandelbrot, NonPositiveSizesFail) {
  const Kernel& k = pmap::find_kernel("mandelbrot");
  for (const char* bad : {"width=0", "height=0", "max_iter=0", "width=-3"}) {
    PMAP_EXPECT_THROW_MSG((void)run(k, range_item(0), pmap::bind_args(k, {bad})), ItemError,
                          "must be positive");
  }
}

TEST(Mandelbrot, StopsEarly) {
  const Kernel& k = pmap::find_kernel("mandelbrot");
  const std::atomic<bool> stop{true};
  PMAP_EXPECT_THROW_MSG(
      (void)run(k, range_item(0), pmap::bind_args(k, {"width=100000", "max_iter=100000"}),
                KernelContext(&stop, Clock::time_point::max())),
      ItemError, "stopped");
}

// --- KernelContext ------------------------------------------------------------------------------

TEST(KernelContext, DefaultNeverStops) {
  const KernelContext ctx;
  EXPECT_FALSE(ctx.should_stop());
  const auto t0 = Clock::now();
  EXPECT_TRUE(ctx.sleep_for(0.03));
  EXPECT_GE(seconds_since(t0), 0.03);
}

TEST(KernelContext, ZeroOrNegativeSleepReturnsAtOnce) {
  const KernelContext ctx;
  const auto t0 = Clock::now();
  EXPECT_TRUE(ctx.sleep_for(0));
  EXPECT_TRUE(ctx.sleep_for(-1));
  EXPECT_LT(seconds_since(t0), 0.05);
}

TEST(KernelContext, StopFlag) {
  std::atomic<bool> stop{false};
  const KernelContext ctx(&stop, Clock::time_point::max());
  EXPECT_FALSE(ctx.should_stop());
  stop = true;
  EXPECT_TRUE(ctx.should_stop());
  const auto t0 = Clock::now();
  EXPECT_FALSE(ctx.sleep_for(10));
  EXPECT_LT(seconds_since(t0), 0.1);
}

TEST(KernelContext, SleepReturnsEarlyWhenStopped) {
  std::atomic<bool> stop{false};
  const KernelContext ctx(&stop, Clock::time_point::max());
  Clock::time_point stopped_at;
  std::thread stopper([&] {
    std::this_thread::sleep_for(50ms);
    stopped_at = Clock::now();
    stop = true;
  });
  const bool completed = ctx.sleep_for(10);
  const auto returned_at = Clock::now();
  stopper.join();
  EXPECT_FALSE(completed);
  // Sleeps in short slices: returns within ~100 ms of the flag (margin for a loaded CI machine).
  EXPECT_LT(std::chrono::duration<double>(returned_at - stopped_at).count(), 0.15);
}

TEST(KernelContext, PastDeadline) {
  const KernelContext ctx(nullptr, Clock::now() - 1s);
  EXPECT_TRUE(ctx.should_stop());
  const auto t0 = Clock::now();
  EXPECT_FALSE(ctx.sleep_for(5));
  EXPECT_LT(seconds_since(t0), 0.1);
}

TEST(KernelContext, DeadlineDuringSleep) {
  const auto t0 = Clock::now();
  const KernelContext ctx(nullptr, t0 + 50ms);
  EXPECT_FALSE(ctx.should_stop());
  EXPECT_FALSE(ctx.sleep_for(5));
  const double elapsed = seconds_since(t0);
  EXPECT_GE(elapsed, 0.05);
  EXPECT_LT(elapsed, 0.2);
  EXPECT_TRUE(ctx.should_stop());
}

}  // namespace
