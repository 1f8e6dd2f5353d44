// pmap — kernel plugins: loading through the C ABI, ABI and symbol checks with clear messages,
// arguments and the stop flag across the boundary, registration, a plugin built by another
// compiler, and the binary's --plugin (exit 2 for a bad plugin).
#include "pmap/plugin.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "pmap/error.hpp"
#include "pmap/kernel.hpp"
#include "support/h5_read.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string fixture(const std::string& variant) {
  return std::string(PMAP_TEST_PLUGIN_DIR) + "/libpmap_plugin_fixture" + variant + ".so";
}

/// The UsageError message of open_plugin(path) (a failure if it does not throw one).
std::string open_error(const std::string& path) {
  try {
    (void)pmap::open_plugin(path);
  } catch (const pmap::UsageError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << path << " loaded";
  return {};
}

#define EXPECT_CONTAINS(text, part)                          \
  EXPECT_NE(std::string(text).find(part), std::string::npos) \
      << "\"" << (text) << "\" lacks " << (part)

const pmap::Kernel* kernel_named(const pmap::OpenedPlugin& p, const std::string& name) {
  for (const auto& k : p.kernels) {
    if (k->name() == name) return k.get();
  }
  return nullptr;
}

std::vector<double> run(const pmap::Kernel& k, const std::vector<std::string>& args,
                        const pmap::Item& item,
                        const pmap::KernelContext& ctx = pmap::KernelContext()) {
  const auto bound = pmap::bind_args(k, args);
  std::vector<double> out(k.output_columns(bound).size());
  k.run(item, bound, out, ctx);
  return out;
}

pmap::Item range_item(std::int64_t value, std::uint64_t row = 0) {
  pmap::Item it;
  it.value = value;
  it.row = row;
  return it;
}

TEST(Plugin, OpensAndDescribesItsKernels) {
  const auto p = pmap::open_plugin(fixture(""));
  EXPECT_EQ(p.name, "fixture");
  EXPECT_EQ(p.version, "0.1");
  ASSERT_EQ(p.kernels.size(), 3U);
  const pmap::Kernel* k = kernel_named(p, "fixture_args");
  ASSERT_NE(k, nullptr);
  EXPECT_CONTAINS(k->description(), "echoes its arguments");
  EXPECT_CONTAINS(k->description(), "plugin libpmap_plugin_fixture.so");
  ASSERT_EQ(k->arguments().size(), 4U);
  EXPECT_EQ(k->arguments()[0].name, "count");
  EXPECT_EQ(k->arguments()[0].type, pmap::ArgType::Int);
  EXPECT_EQ(std::get<std::int64_t>(k->arguments()[0].default_value), 3);
  EXPECT_EQ(k->arguments()[1].type, pmap::ArgType::Double);
  EXPECT_EQ(std::get<double>(k->arguments()[1].default_value), 0.5);
  EXPECT_EQ(k->arguments()[2].type, pmap::ArgType::Bool);
  EXPECT_EQ(k->arguments()[3].type, pmap::ArgType::String);
  EXPECT_EQ(std::get<std::string>(k->arguments()[3].default_value), "abc");
  EXPECT_EQ(k->columns(),
            (std::vector<std::string>{"count", "ratio", "flag", "label_len", "value", "text"}));
}

TEST(Plugin, ArgumentsAndItemsCrossTheCAbi) {
  const auto p = pmap::open_plugin(fixture(""));
  const pmap::Kernel& k = *kernel_named(p, "fixture_args");
  EXPECT_EQ(run(k, {}, range_item(-4, 2)), (std::vector<double>{3, 0.5, 0, 3, -4, 2e6}));
  pmap::Item in;
  in.row = 1;
  in.value = 7;
  in.text = "line text";
  in.from_input = true;
  EXPECT_EQ(run(k, {"count=-12", "ratio=2.25", "flag=true", "label=hello world"}, in),
            (std::vector<double>{-12, 2.25, 1, 11, 7, 9 + 1000 + 1e6}));
  // Binding checks the plugin's declared types like a built-in kernel's.
  EXPECT_THROW((void)pmap::bind_args(k, {"count=1.5"}), pmap::UsageError);
  EXPECT_THROW((void)pmap::bind_args(k, {"nope=1"}), pmap::UsageError);
}

TEST(Plugin, StopFlagAndFailuresCrossTheCAbi) {
  const auto p = pmap::open_plugin(fixture(""));
  const auto t0 = Clock::now();
  const pmap::KernelContext ctx(nullptr, Clock::now() + std::chrono::milliseconds(100));
  const auto polls = run(*kernel_named(p, "fixture_wait"), {}, range_item(0), ctx);
  EXPECT_GT(polls[0], 0);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 2.0);

  const pmap::Kernel& fail = *kernel_named(p, "fixture_fail");
  try {
    (void)run(fail, {}, range_item(3));
    ADD_FAILURE() << "no failure";
  } catch (const pmap::ItemError& e) {
    EXPECT_STREQ(e.what(), "odd item 3");
  }
  try {
    (void)run(fail, {}, range_item(2));
    ADD_FAILURE() << "no failure";
  } catch (const pmap::ItemError& e) {
    EXPECT_STREQ(e.what(), "fixture_fail failed (plugin returned 4)");
  }
}

TEST(Plugin, BadFilesAreClearUsageErrors) {
  pmap::test::TempDir dir;
  const std::string text = dir.file("libtext.so");
  std::ofstream(text) << "not an ELF file\n";
  struct Case {
    std::string path;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {dir.file("libmissing.so"), {"no such file"}},
      {dir.path().string(), {"is a directory"}},
      {text, {"cannot load it as a shared library"}},
      {fixture("_abi99"),
       {"plugin ABI version mismatch", "built for version 99", "supports version 1", "rebuild"}},
      {fixture("_noversion"), {"not a pmap plugin", "missing symbol pmap_plugin_abi_version"}},
      {fixture("_noinit"), {"missing symbol pmap_plugin_init"}},
      {fixture("_nullinit"), {"pmap_plugin_init returned NULL"}},
      {fixture("_nocolumns"), {"kernel fixture_fail declares no columns"}},
      {fixture("_baddefault"), {"kernel fixture_fail: argument n: 'twelve' is not an integer"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    const std::string m = open_error(c.path);
    EXPECT_CONTAINS(m, "plugin " + c.path + ": ");
    for (const auto& part : c.parts) EXPECT_CONTAINS(m, part);
  }
}

TEST(Plugin, LoadRegistersKernelsOnceAndRefusesClashes) {
  const auto names = pmap::load_plugin(fixture(""));
  EXPECT_EQ(names, (std::vector<std::string>{"fixture_args", "fixture_wait", "fixture_fail"}));
  const pmap::Kernel& k = pmap::find_kernel("fixture_args");
  EXPECT_EQ(k.columns().size(), 6U);
  EXPECT_CONTAINS(pmap::describe_kernels(), "fixture_wait");
  EXPECT_CONTAINS(pmap::describe_kernels(), "label (string, default abc)  a string");
  try {
    (void)pmap::load_plugin(fixture(""));
    ADD_FAILURE() << "loaded twice";
  } catch (const pmap::UsageError& e) {
    EXPECT_CONTAINS(e.what(), "already registered");
  }
  try {
    (void)pmap::load_plugin(fixture("_clash"));
    ADD_FAILURE() << "clash accepted";
  } catch (const pmap::UsageError& e) {
    EXPECT_CONTAINS(e.what(), "kernel pi: a built-in kernel has that name");
  }
  // find_kernel lists registered kernels among the available ones.
  try {
    (void)pmap::find_kernel("nope");
  } catch (const pmap::UsageError& e) {
    EXPECT_CONTAINS(e.what(), "exec, worker, fixture_args, fixture_wait, fixture_fail");
  }
}

/// The C sample plugin of examples/plugin, built by CMake's C compiler (and by clang if found).
void check_sample(const std::string& path) {
  const auto p = pmap::open_plugin(path);
  const pmap::Kernel& sqrt_sum = *kernel_named(p, "sqrt_sum");
  double expect = 0;
  for (int i = 0; i < 1000; ++i) expect += std::sqrt(static_cast<double>(i) * 3.0);
  EXPECT_EQ(run(sqrt_sum, {"n=1000"}, range_item(3))[0], expect);
  const pmap::Kernel& collatz = *kernel_named(p, "collatz");
  EXPECT_EQ(run(collatz, {}, range_item(27)), (std::vector<double>{111, 9232}));
  try {
    (void)run(collatz, {"max_steps=100"}, range_item(27));
    ADD_FAILURE() << "no failure";
  } catch (const pmap::ItemError& e) {
    EXPECT_STREQ(e.what(), "x=27: more than max_steps=100 steps");
  }
}

TEST(Plugin, SamplePluginInC) { check_sample(PMAP_SAMPLE_PLUGIN); }

TEST(Plugin, SamplePluginBuiltByAnotherCompiler) {
  const std::string path = PMAP_SAMPLE_PLUGIN_CLANG;
  if (path.empty()) GTEST_SKIP() << "clang not found at configure time";
  check_sample(path);
}

// --- the binary ---------------------------------------------------------------------------------

const std::vector<std::string> kMpiEnv = {
    "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
    "OMPI_MCA_rmaps_base_oversubscribe=1", "OMPI_MCA_btl_vader_single_copy_mechanism=none"};

TEST(PluginCli, KernelsListsAPluginsKernels) {
  pmap::test::TempDir dir;
  const auto r = pmap::test::run_process({PMAP_BIN, "kernels", "--plugin", PMAP_SAMPLE_PLUGIN},
                                         dir.path().string(), kMpiEnv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "\nsqrt_sum\n");
  EXPECT_CONTAINS(r.out, "\ncollatz\n");
  EXPECT_CONTAINS(r.out, "max_steps (int, default 1000)");
  EXPECT_CONTAINS(r.out, "columns: steps, peak");
  EXPECT_CONTAINS(r.out, "\npi\n");  // the built-in kernels are still there
}

TEST(PluginCli, BadPluginIsExitTwoNamingTheFile) {
  pmap::test::TempDir dir;
  for (const auto& [path, part] : std::vector<std::pair<std::string, std::string>>{
           {fixture("_abi99"), "plugin ABI version mismatch"},
           {fixture("_noinit"), "missing symbol pmap_plugin_init"},
           {dir.file("nope.so"), "no such file"}}) {
    for (const char* sub : {"run", "kernels"}) {
      std::vector<std::string> argv = {PMAP_BIN, sub, "--plugin", path};
      if (std::string(sub) == "run") {
        argv.insert(argv.end(), {"--kernel", "collatz", "--range", "1:5"});
      }
      const auto r = pmap::test::run_process(argv, dir.path().string(), kMpiEnv);
      EXPECT_EQ(r.exit_code, 2) << sub << " " << path << "\n" << r.err;
      EXPECT_CONTAINS(r.err, "pmap: error: --plugin " + path + ": " + part);
    }
  }
  EXPECT_FALSE(fs::exists(dir.file("pmap.h5")));
}

TEST(PluginCli, RunsAPluginKernelAcrossRanks) {
  pmap::test::TempDir dir;
  const auto r = pmap::test::run_process(
      {PMAP_MPIEXEC, "-n", "2", "--bind-to", "none", PMAP_BIN, "run", "--plugin",
       PMAP_SAMPLE_PLUGIN, "--kernel", "collatz", "--range", "1:101", "--arg", "max_steps=100",
       "--output", "c.h5", "--progress", "none"},
      dir.path().string(), kMpiEnv);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;  // a few items need more than 100 steps
  const auto status = pmap::test::read_int8s(dir.file("c.h5"), "/compute/status");
  const auto value = pmap::test::read_doubles(dir.file("c.h5"), "/compute/value");
  ASSERT_EQ(status.size(), 100U);
  EXPECT_EQ(status[26], 1);  // 27 needs 111 steps
  EXPECT_EQ(status[5], 0);
  EXPECT_EQ(value[2 * 5], 8);  // 6 -> 3 -> 10 -> 5 -> 16 -> 8 -> 4 -> 2 -> 1
  EXPECT_EQ(value[2 * 5 + 1], 16);
  EXPECT_EQ(pmap::test::read_string_attr(dir.file("c.h5"), "/compute", "kernel"), "collatz");
}

TEST(PluginCli, FieldsReachPluginsOfAbi11AndOldPluginsStillRun) {
  pmap::test::TempDir dir;
  const auto run = [&](const std::string& variant, const char* kernel) {
    const auto r = pmap::test::run_process(
        {PMAP_BIN, "run", "--plugin", fixture(variant), "--kernel", kernel, "--grid", "a=1,2",
         "--grid", "b=0.5", "--grid", "w=xyz", "--output", "f.h5", "--force", "--progress", "none"},
        dir.path().string(), kMpiEnv);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return pmap::test::read_doubles(dir.file("f.h5"), "/compute/value");
  };
  EXPECT_EQ(run("_fields", "fixture_fields"), (std::vector<double>{3, 1.5, 3, 3, 2.5, 3}));
  // An ABI 1.0 plugin loads and runs over a grid: it sees the item as text ("1 0.5 xyz").
  const auto v = run("", "fixture_args");
  ASSERT_EQ(v.size(), 12U);
  EXPECT_EQ(v[5], 9);
  EXPECT_EQ(v[6 + 5], 9 + 1e6);
}

}  // namespace
