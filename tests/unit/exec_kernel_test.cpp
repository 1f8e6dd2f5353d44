// pmap — the exec kernel: argv splitting and placeholders (no injection from item text), exit
// codes and signals, stdout's last line as numbers, stderr's tail, timeouts that kill the whole
// process group, leftovers killed, huge output in bounded memory, the environment; and the binary
// end to end under mpiexec.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pmap/error.hpp"
#include "pmap/grid.hpp"
#include "pmap/item_space.hpp"
#include "pmap/kernel.hpp"
#include "support/h5_read.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using pmap::test::TempDir;

/// The exception message of `fn()`, which must throw E ("" and a failure otherwise).
template <class E, class Fn>
std::string thrown(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception";
  return {};
}

const pmap::Kernel& exec() { return pmap::find_kernel("exec"); }

/// An --input item (text) at `row`.
pmap::Item input_item(const std::string& text, std::uint64_t row = 0) {
  pmap::Item it;
  it.row = row;
  it.value = static_cast<std::int64_t>(row) + 1;
  it.text = text;
  it.from_input = true;
  return it;
}

/// Runs exec with `args` on `item`; returns the values (K of them).
std::vector<double> run_exec(const std::vector<std::string>& args, const pmap::Item& item,
                             const pmap::KernelContext& ctx = pmap::KernelContext()) {
  const auto bound = pmap::bind_args(exec(), args);
  std::vector<double> out(exec().output_columns(bound).size());
  exec().run(item, bound, out, ctx);
  return out;
}

using pmap::test::slurp;

/// True while process `pid` exists and is not a zombie.
bool alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

bool dies_within(pid_t pid, std::chrono::milliseconds limit) {
  const auto until = Clock::now() + limit;
  while (Clock::now() < until) {
    if (!alive(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return !alive(pid);
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// Items that would do harm if any part of them were interpreted by a shell or split.
std::vector<std::string> hostile_items(const std::string& dir) {
  return {"two words",
          "  leading and trailing  ",
          "it's",
          "say \"hi\"",
          "a;touch " + dir + "/pwned1",
          "$(touch " + dir + "/pwned2)",
          "`touch " + dir + "/pwned3`",
          "x && touch " + dir + "/pwned4 || touch " + dir + "/pwned5",
          "> " + dir + "/pwned6",
          "$HOME ${PATH} * ? [a] ~",
          "back\\slash\\",
          "{} {#} placeholder text",
          "-n",
          ""};
}

// --- argv and placeholders ----------------------------------------------------------------------

TEST(ExecKernel, ItemTextIsOneArgumentAndNeverInterpreted) {
  TempDir dir;
  const std::string out = dir.file("arg.txt");
  for (const auto& item : hostile_items(dir.path().string())) {
    SCOPED_TRACE(item);
    // $# and $1 as the program sees them: exactly one argument, byte for byte the item.
    run_exec({"cmd=sh -c 'printf \"%s|%s\" \"$#\" \"$1\" > " + out + "' sh {}"}, input_item(item));
    EXPECT_EQ(slurp(out), "1|" + item);
  }
  for (int i = 1; i <= 6; ++i) {
    EXPECT_FALSE(fs::exists(dir.file("pwned" + std::to_string(i)))) << i;
  }
}

TEST(ExecKernel, ShellModeQuotesEveryPlaceholder) {
  TempDir dir;
  const std::string out = dir.file("arg.txt");
  for (const auto& item : hostile_items(dir.path().string())) {
    SCOPED_TRACE(item);
    // A real shell line (a pipe and a redirection), the item still one literal word.
    run_exec({"cmd=printf '%s' {} | cat > " + out, "shell=true"}, input_item(item));
    EXPECT_EQ(slurp(out), item);
  }
  for (int i = 1; i <= 6; ++i) {
    EXPECT_FALSE(fs::exists(dir.file("pwned" + std::to_string(i)))) << i;
  }
}

TEST(ExecKernel, PlaceholdersAsInGnuParallel) {
  TempDir dir;
  const std::string out = dir.file("p.txt");
  const std::string cmd =
      "cmd=sh -c 'printf \"%s|\" \"$@\" > " + out + "' sh {} {#} {.} {/} {//} {/.} pre{}post";
  run_exec({cmd}, input_item("data/run 1/case.tar.gz", 41));
  EXPECT_EQ(slurp(out),
            "data/run 1/case.tar.gz|41|data/run 1/case.tar|case.tar.gz|data/run 1|case.tar|"
            "predata/run 1/case.tar.gzpost|");
  run_exec({cmd}, input_item("plain", 0));
  EXPECT_EQ(slurp(out), "plain|0|plain|plain|.|plain|preplainpost|");
  // A range item: {} is the value.
  pmap::Item r;
  r.row = 3;
  r.value = -7;
  run_exec({cmd}, r);
  EXPECT_EQ(slurp(out), "-7|3|-7|-7|.|-7|pre-7post|");
}

TEST(ExecKernel, QuotingOfTheTemplateIsAShells) {
  TempDir dir;
  const std::string out = dir.file("q.txt");
  const std::string head = "cmd=sh -c 'printf \"%s|\" \"$@\" > " + out + "' sh ";
  run_exec({head + "a\\ b 'c d' \"e \\\"f\\\" \\\\ \\$x\" '' \"\" g'h'\"i\" \\{} {#}"},
           input_item("it", 5));
  // ({} is escaped and {#} is not the item: the item is appended.)
  EXPECT_EQ(slurp(out), "a b|c d|e \"f\" \\ $x|||ghi|{}|5|it|");
  // Placeholders inside quotes are substituted too (and stay one word).
  run_exec({head + "'<{}>' \"[{}]\""}, input_item("x y", 0));
  EXPECT_EQ(slurp(out), "<x y>|[x y]|");
}

TEST(ExecKernel, ItemIsAppendedWhenTheCommandHasNoPlaceholder) {
  TempDir dir;
  const std::string out = dir.file("a.txt");
  run_exec({"cmd=sh -c 'printf \"%s|\" \"$@\" > " + out + "' sh fixed"}, input_item("it em"));
  EXPECT_EQ(slurp(out), "fixed|it em|");
  // {#} alone does not count as using the item (GNU parallel appends it then too).
  run_exec({"cmd=sh -c 'printf \"%s|\" \"$@\" > " + out + "' sh {#}"}, input_item("z", 2));
  EXPECT_EQ(slurp(out), "2|z|");
}

TEST(ExecKernel, BadTemplatesAreUsageErrorsUpFront) {
  const auto columns = [](const std::vector<std::string>& args) {
    return exec().output_columns(pmap::bind_args(exec(), args));
  };
  EXPECT_NE(thrown<pmap::UsageError>([&] { (void)columns({}); }).find("needs a command"),
            std::string::npos);
  EXPECT_NE(thrown<pmap::UsageError>([&] { (void)columns({"cmd=   "}); }).find("needs a command"),
            std::string::npos);
  EXPECT_NE(thrown<pmap::UsageError>([&] {
              (void)columns({"cmd=echo 'oops"});
            }).find("unbalanced single quote"),
            std::string::npos);
  EXPECT_NE(thrown<pmap::UsageError>([&] {
              (void)columns({"cmd=echo \"oops"});
            }).find("unbalanced double quote"),
            std::string::npos);
  EXPECT_NE(
      thrown<pmap::UsageError>([&] { (void)columns({"cmd=echo oops\\"}); }).find("lone backslash"),
      std::string::npos);
  EXPECT_NE(thrown<pmap::UsageError>([&] {
              (void)columns({"cmd=true", "columns=a,,b"});
            }).find("columns=a,,b: expected comma-separated"),
            std::string::npos);
  EXPECT_NE(thrown<pmap::UsageError>([&] {
              (void)columns({"cmd=true", "grace=-1"});
            }).find("grace"),
            std::string::npos);
  using V = std::vector<std::string>;
  EXPECT_EQ(columns({"cmd=true"}), V{"exit_code"});
  EXPECT_EQ(columns({"cmd=true", "columns= a , b"}), (V{"a", "b"}));
  // Shell mode leaves the quoting to the shell.
  EXPECT_EQ(columns({"cmd=echo 'unbalanced", "shell=true"}), V{"exit_code"});
}

// --- outputs and failures -----------------------------------------------------------------------

// (In shell mode a command without a placeholder gets the item appended, as GNU parallel does;
// the tests write `: {};` to use the item and ignore it.)
TEST(ExecKernel, LastLineOfStdoutIsTheValues) {
  EXPECT_EQ(run_exec({"cmd=true"}, input_item("x")), std::vector<double>{0.0});
  EXPECT_EQ(run_exec({"cmd=: {}; printf '1\\n2\\n3 4.5\\n\\n\\n'", "shell=true", "columns=a,b"},
                     input_item("x")),
            (std::vector<double>{3.0, 4.5}));
  EXPECT_EQ(
      run_exec({"cmd=: {}; printf '7,-8e3\\r\\n'", "shell=true", "columns=a,b"}, input_item("x")),
      (std::vector<double>{7.0, -8000.0}));
  // The item comes back through sh's $1.
  EXPECT_EQ(run_exec({"cmd=sh -c 'echo \"$1\" \"$1\"' sh {}", "columns=a,b"}, input_item("2.5")),
            (std::vector<double>{2.5, 2.5}));
  const auto msg = [](const std::string& cmd, const std::string& cols) {
    return thrown<pmap::ItemError>([&] {
      (void)run_exec({"cmd=: {}; " + cmd, "shell=true", "columns=" + cols}, input_item("x"));
    });
  };
  EXPECT_NE(msg("echo 1 2 3", "a,b").find("has 3 numbers, expected 2 (columns a,b)"),
            std::string::npos);
  EXPECT_NE(msg("echo 1 two", "a,b").find("'two' is not a number"), std::string::npos);
  EXPECT_NE(msg("true", "a").find("has 0 numbers, expected 1"), std::string::npos);
}

TEST(ExecKernel, NonZeroExitFailsTheItemWithStderrsTail) {
  const auto m = thrown<pmap::ItemError>([] {
    (void)run_exec({"cmd=: {}; for i in 1 2 3 4 5; do echo line$i >&2; done; exit 3", "shell=true"},
                   input_item("x"));
  });
  EXPECT_NE(m.find("exit status 3"), std::string::npos) << m;
  EXPECT_NE(m.find("line4 | line5"), std::string::npos) << m;
  // Long stderr: only a bounded tail, the end kept.
  const auto big = thrown<pmap::ItemError>([] {
    (void)run_exec({"cmd=: {}; seq 1 100000 >&2; echo THE-END >&2; exit 1", "shell=true"},
                   input_item("x"));
  });
  EXPECT_LT(big.size(), 1200U);
  EXPECT_NE(big.find("THE-END"), std::string::npos);
  EXPECT_NE(thrown<pmap::ItemError>([] {
              (void)run_exec({"cmd=sh -c 'kill -KILL $$'"}, input_item("x"));
            }).find("killed by signal 9"),
            std::string::npos);
  const auto missing = thrown<pmap::ItemError>(
      [] { (void)run_exec({"cmd=/no/such/program-pmap {}"}, input_item("x")); });
  EXPECT_NE(missing.find("cannot run '/no/such/program-pmap'"), std::string::npos) << missing;
  EXPECT_NE(missing.find("No such file"), std::string::npos) << missing;
}

TEST(ExecKernel, StdinIsEmptyAndEnvironmentCarriesTheItem) {
  // cat would wait forever on a terminal or a pipe: stdin is /dev/null.
  EXPECT_EQ(run_exec({"cmd=sh -c cat sh {}"}, input_item("")), std::vector<double>{0.0});
  EXPECT_EQ(run_exec({"cmd=sh -c 'echo \"$PMAP_ROW\" \"$PMAP_ITEM\"'", "columns=row,item"},
                     input_item("12.5", 9)),
            (std::vector<double>{9, 12.5}));
  // The launcher's variables are not passed on unless asked (an MPI child would try to join).
  ::setenv("OMPI_COMM_WORLD_PMAP_TEST", "7", 1);
  const std::string probe = "cmd=sh -c 'echo ${OMPI_COMM_WORLD_PMAP_TEST:-0}'";
  EXPECT_EQ(run_exec({probe, "columns=v"}, input_item("")), std::vector<double>{0});
  EXPECT_EQ(run_exec({probe, "columns=v", "mpi_env=true"}, input_item("")), std::vector<double>{7});
  ::unsetenv("OMPI_COMM_WORLD_PMAP_TEST");
}

// --- timeouts, stray processes, big outputs -----------------------------------------------------

TEST(ExecKernel, DeadlineKillsTheWholeProcessGroup) {
  TempDir dir;
  const std::string pids = dir.file("pids");
  const pmap::KernelContext ctx(nullptr, Clock::now() + std::chrono::milliseconds(300));
  const auto t0 = Clock::now();
  // A child that starts a grandchild and a great-grandchild, all sleeping a minute.
  const auto m = thrown<pmap::ItemError>([&] {
    (void)run_exec({"cmd=sh -c 'sleep 60 & echo $! >> " + pids +
                        "; sh -c \"sleep 60 & echo \\$! >> " + pids + "; wait\" & wait'",
                    "grace=0.2"},
                   input_item("x"), ctx);
  });
  const double took = seconds_since(t0);
  EXPECT_NE(m.find("killed"), std::string::npos) << m;
  EXPECT_LT(took, 3.0);
  std::ifstream in(pids);
  int count = 0;
  for (pid_t pid = 0; in >> pid; ++count) {
    EXPECT_TRUE(dies_within(pid, std::chrono::milliseconds(2000))) << "pid " << pid << " lives";
  }
  EXPECT_EQ(count, 2);
}

TEST(ExecKernel, TermIgnoringChildIsKilledAfterGrace) {
  const pmap::KernelContext ctx(nullptr, Clock::now() + std::chrono::milliseconds(200));
  const auto t0 = Clock::now();
  (void)thrown<pmap::ItemError>([&] {
    (void)run_exec({"cmd=: {}; trap '' TERM; sleep 60 & wait; sleep 60", "shell=true", "grace=0.3"},
                   input_item("x"), ctx);
  });
  const double took = seconds_since(t0);
  EXPECT_GT(took, 0.45);
  EXPECT_LT(took, 3.0);
}

TEST(ExecKernel, JobStopKillsTheChild) {
  std::atomic<bool> stop{false};
  const pmap::KernelContext ctx(&stop, Clock::time_point::max());
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop = true;
  });
  const auto t0 = Clock::now();
  (void)thrown<pmap::ItemError>([&] {
    (void)run_exec({"cmd=sleep 60", "grace=0.1"}, input_item("x"), ctx);
  });
  stopper.join();
  EXPECT_LT(seconds_since(t0), 3.0);
}

TEST(ExecKernel, LeftoversOfAFinishedProgramAreKilled) {
  TempDir dir;
  const std::string pidfile = dir.file("pid");
  const auto t0 = Clock::now();
  // The background sleep inherits stdout: without the group kill, EOF would take a minute.
  EXPECT_EQ(run_exec({"cmd=: {}; sleep 60 & echo $! > " + pidfile + "; echo 5", "shell=true",
                      "columns=v"},
                     input_item("x")),
            std::vector<double>{5});
  EXPECT_LT(seconds_since(t0), 3.0);
  pid_t pid = 0;
  std::ifstream(pidfile) >> pid;
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(dies_within(pid, std::chrono::milliseconds(2000)));
}

TEST(ExecKernel, HugeStdoutInBoundedMemory) {
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  // 300 MB on stdout in lines, then the answer.
  EXPECT_EQ(run_exec({"cmd=: {}; yes 0123456789abcdef | head -c 300000000; echo; echo 42",
                      "shell=true", "columns=v"},
                     input_item("x")),
            std::vector<double>{42});
  // 100 MB in one line without a newline, then the answer.
  EXPECT_EQ(run_exec({"cmd=: {}; head -c 100000000 /dev/zero | tr '\\0' x; printf '\\n1 2\\n'",
                      "shell=true", "columns=a,b"},
                     input_item("x")),
            (std::vector<double>{1, 2}));
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 64 * 1024) << "KiB of peak RSS grew";
  // A last line longer than what is kept is an error, not a wrong number.
  const auto m = thrown<pmap::ItemError>([] {
    (void)run_exec({"cmd=: {}; head -c 200000 /dev/zero | tr '\\0' 7", "shell=true", "columns=v"},
                   input_item("x"));
  });
  EXPECT_NE(m.find("longer than"), std::string::npos) << m;
}

TEST(ExecKernel, ConcurrentItemsDoNotLeakPipesToEachOther) {
  // Eight threads start children at once; each child must see EOF promptly (no other thread's
  // child holds its pipe) and return its own item.
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  const auto t0 = Clock::now();
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([t, &wrong] {
      for (int i = 0; i < 20; ++i) {
        const std::string item = std::to_string(t * 100 + i);
        const auto v = run_exec({"cmd=echo {}", "columns=v"}, input_item(item));
        if (v.size() != 1 || v[0] != std::stod(item)) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LT(seconds_since(t0), 20.0);
}

// --- the binary end to end ----------------------------------------------------------------------

const std::vector<std::string> kMpiEnv = {
    "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
    "OMPI_MCA_rmaps_base_oversubscribe=1", "OMPI_MCA_btl_vader_single_copy_mechanism=none"};

TEST(ExecKernelCli, RunsOneProgramPerItemAcrossRanks) {
  TempDir dir;
  {
    std::ofstream items(dir.file("items.txt"));
    items << "1\n2 3\n# a comment\n$(touch pwned)\n4;touch pwned\n5\n";
  }
  // Items whose text is a number pass; the others fail (their echo line is not two numbers).
  const auto r = pmap::test::run_process(
      {PMAP_MPIEXEC, "-n", "2", "--bind-to", "none", PMAP_BIN, "run", "--kernel", "exec", "--arg",
       "cmd=sh -c 'echo \"$1\" \"$2\"' sh {} {#}", "--arg", "columns=item,row", "--input",
       "items.txt", "--output", "e.h5", "--progress", "none"},
      dir.path().string(), kMpiEnv);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_FALSE(fs::exists(dir.file("pwned")));
  const auto status = pmap::test::read_int8s(dir.file("e.h5"), "/compute/status");
  const auto value = pmap::test::read_doubles(dir.file("e.h5"), "/compute/value");
  ASSERT_EQ(status.size(), 5U);
  EXPECT_EQ(status, (std::vector<std::int8_t>{0, 1, 1, 1, 0}));
  EXPECT_EQ(value[0], 1.0);
  EXPECT_EQ(value[1], 0.0);
  EXPECT_EQ(value[8], 5.0);
  EXPECT_EQ(value[9], 4.0);
  EXPECT_EQ(pmap::test::read_string_attr(dir.file("e.h5"), "/compute", "columns_joined"),
            "item,row");
}

TEST(ExecKernelCli, ExitCodesAndTimeouts) {
  TempDir dir;
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {PMAP_BIN,     "run",  "--kernel", "exec",     "--range", "0:4",
                                     "--progress", "none", "--force",  "--output", "x.h5"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return pmap::test::run_process(argv, dir.path().string(), kMpiEnv);
  };
  EXPECT_EQ(run({"--arg", "cmd=true"}).exit_code, 0);
  EXPECT_EQ(run({"--arg", "cmd=sh -c 'exit $(( $1 % 2 ))' sh"}).exit_code, 1);
  auto r = run({"--arg", "cmd=echo 'unbalanced"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unbalanced single quote"), std::string::npos) << r.err;
  r = run({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--arg cmd=: kernel exec needs a command"), std::string::npos) << r.err;
  const auto t0 = Clock::now();
  r = run({"--arg", "cmd=sleep 30", "--item-timeout", "0.3", "--arg", "grace=0.1"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_LT(seconds_since(t0), 10.0);
  EXPECT_EQ(pmap::test::read_int8s(dir.file("x.h5"), "/compute/status"),
            (std::vector<std::int8_t>{2, 2, 2, 2}));
}

}  // namespace

namespace {

TEST(ExecKernel, FieldPlaceholdersTakeTheItemsFields) {
  TempDir dir;
  const std::string out = dir.file("f.txt");
  const pmap::ItemSpace space(pmap::make_grid({"alpha=0.5", "name=a b", "n=3"}));
  pmap::ItemBlock block;
  space.read(0, 1, block);
  const std::string cmd = "cmd=sh -c 'printf \"%s|\" \"$@\" > " + out +
                          "' sh {alpha} --n={n} {name} {} {other} ${HOME}";
  run_exec({cmd}, block.items[0]);
  // {other} is no field: literal, as before fields existed; ${HOME} is the shell's.
  EXPECT_EQ(slurp(out), "0.5|--n=3|a b|0.5 a b 3|{other}|${HOME}|");
  // A template naming no field is refused before anything runs.
  const auto args = pmap::bind_args(exec(), {"cmd=echo {nope}"});
  EXPECT_NE(thrown<pmap::UsageError>([&] {
              exec().check_fields(args, space.fields());
            }).find("{nope} names no field"),
            std::string::npos);
  EXPECT_NO_THROW(exec().check_fields(args, {}));
}

}  // namespace
