// pmap — unit tests of the per-rank thread count: --threads > OMP_NUM_THREADS >
// SLURM_CPUS_PER_TASK > node cores / ranks on the node.
#include "pmap/threads.hpp"

#include <gtest/gtest.h>
#include <sched.h>

#include <cstdlib>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "pmap/error.hpp"

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

using pmap::GetEnv;
using pmap::ThreadChoice;
using pmap::UsageError;

/// A fake environment: only the given variables are set.
GetEnv fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

const GetEnv kEmptyEnv = fake_env({});

// --- precedence ---------------------------------------------------------------------------------

TEST(ResolveThreads, CliWinsOverEverything) {
  const auto env = fake_env({{"OMP_NUM_THREADS", "8"}, {"SLURM_CPUS_PER_TASK", "6"}});
  const ThreadChoice c = pmap::resolve_threads(3, 2, 1, env);
  EXPECT_EQ(c.threads, 3);
  EXPECT_EQ(c.source, "--threads");
}

TEST(ResolveThreads, CliMayOversubscribeOnPurpose) {
  // An explicit --threads is obeyed even above the cores (sleep-bound kernels want that).
  const ThreadChoice c = pmap::resolve_threads(64, 2, 1, kEmptyEnv);
  EXPECT_EQ(c.threads, 64);
}

TEST(ResolveThreads, CliIgnoresMalformedEnvironment) {
  const auto env = fake_env({{"OMP_NUM_THREADS", "x"}, {"SLURM_CPUS_PER_TASK", "0"}});
  EXPECT_EQ(pmap::resolve_threads(2, 2, 1, env).threads, 2);
}

TEST(ResolveThreads, OmpNumThreadsBeforeSlurm) {
  const auto env = fake_env({{"OMP_NUM_THREADS", "4"}, {"SLURM_CPUS_PER_TASK", "6"}});
  const ThreadChoice c = pmap::resolve_threads(std::nullopt, 2, 1, env);
  EXPECT_EQ(c.threads, 4);
  EXPECT_EQ(c.source, "OMP_NUM_THREADS");
}

TEST(ResolveThreads, SlurmCpusPerTaskBeforeCores) {
  const auto env = fake_env({{"SLURM_CPUS_PER_TASK", "6"}});
  const ThreadChoice c = pmap::resolve_threads(std::nullopt, 2, 1, env);
  EXPECT_EQ(c.threads, 6);
  EXPECT_EQ(c.source, "SLURM_CPUS_PER_TASK");
}

TEST(ResolveThreads, CoresDividedByRanks) {
  const ThreadChoice c = pmap::resolve_threads(std::nullopt, 8, 2, kEmptyEnv);
  EXPECT_EQ(c.threads, 4);
  EXPECT_EQ(c.source, "cores/ranks on node");
  EXPECT_EQ(pmap::resolve_threads(std::nullopt, 7, 2, kEmptyEnv).threads, 3);  // rounded down
  EXPECT_EQ(pmap::resolve_threads(std::nullopt, 2, 1, kEmptyEnv).threads, 2);
  EXPECT_EQ(pmap::resolve_threads(std::nullopt, 64, 64, kEmptyEnv).threads, 1);
}

TEST(ResolveThreads, CoresOverRanksFloorsAtOne) {
  // 8 ranks on 2 cores: never zero threads, never more than the cores allow.
  EXPECT_EQ(pmap::resolve_threads(std::nullopt, 2, 8, kEmptyEnv).threads, 1);
  EXPECT_EQ(pmap::resolve_threads(std::nullopt, 2, 3, kEmptyEnv).threads, 1);
  EXPECT_EQ(pmap::resolve_threads(std::nullopt, 0, 1, kEmptyEnv).threads, 1);
  EXPECT_EQ(pmap::resolve_threads(std::nullopt, 1, 0, kEmptyEnv).threads, 1);
}

TEST(ResolveThreads, UnknownRanksOnNodeUsesAllCores) {
  EXPECT_EQ(pmap::resolve_threads(std::nullopt, 4, 0, kEmptyEnv).threads, 4);
}

TEST(ResolveThreads, NeverMoreThanCoresWithoutBeingAsked) {
  for (int cores = 1; cores <= 16; ++cores) {
    for (int ranks = 1; ranks <= 16; ++ranks) {
      const int t = pmap::resolve_threads(std::nullopt, cores, ranks, kEmptyEnv).threads;
      EXPECT_GE(t, 1);
      if (ranks <= cores) {
        EXPECT_LE(t * ranks, cores) << cores << " cores, " << ranks << " ranks";
      }
    }
  }
}

// --- OMP_NUM_THREADS and SLURM_CPUS_PER_TASK values ---------------------------------------------

TEST(ResolveThreads, NestedOmpListUsesFirstLevel) {
  const auto env = fake_env({{"OMP_NUM_THREADS", "4,2"}});
  const ThreadChoice c = pmap::resolve_threads(std::nullopt, 2, 1, env);
  EXPECT_EQ(c.threads, 4);
  EXPECT_EQ(c.source, "OMP_NUM_THREADS");
  EXPECT_EQ(
      pmap::resolve_threads(std::nullopt, 2, 1, fake_env({{"OMP_NUM_THREADS", "3,2,1"}})).threads,
      3);
}

TEST(ResolveThreads, EmptyVariablesAreUnset) {
  // An empty value is what `export OMP_NUM_THREADS=` leaves: treated as not set.
  const auto omp_empty = fake_env({{"OMP_NUM_THREADS", ""}, {"SLURM_CPUS_PER_TASK", "5"}});
  const ThreadChoice a = pmap::resolve_threads(std::nullopt, 2, 1, omp_empty);
  EXPECT_EQ(a.threads, 5);
  EXPECT_EQ(a.source, "SLURM_CPUS_PER_TASK");
  const auto both_empty = fake_env({{"OMP_NUM_THREADS", ""}, {"SLURM_CPUS_PER_TASK", ""}});
  const ThreadChoice b = pmap::resolve_threads(std::nullopt, 6, 2, both_empty);
  EXPECT_EQ(b.threads, 3);
  EXPECT_EQ(b.source, "cores/ranks on node");
}

TEST(ResolveThreads, BadOmpNumThreadsNamesTheVariable) {
  for (const char* bad : {"0", "x", "-2", "2.5", "4x", ",2", "99999999999"}) {
    SCOPED_TRACE(bad);
    PMAP_EXPECT_THROW_MSG(
        (void)pmap::resolve_threads(std::nullopt, 2, 1, fake_env({{"OMP_NUM_THREADS", bad}})),
        UsageError, "OMP_NUM_THREADS='", "expected a positive integer");
  }
  PMAP_EXPECT_THROW_MSG(
      (void)pmap::resolve_threads(std::nullopt, 2, 1, fake_env({{"OMP_NUM_THREADS", "0"}})),
      UsageError, "OMP_NUM_THREADS='0'");
  PMAP_EXPECT_THROW_MSG(
      (void)pmap::resolve_threads(std::nullopt, 2, 1, fake_env({{"OMP_NUM_THREADS", "x"}})),
      UsageError, "OMP_NUM_THREADS='x'");
}

TEST(ResolveThreads, BadSlurmCpusPerTaskNamesTheVariable) {
  for (const char* bad : {"0", "x", "-1"}) {
    SCOPED_TRACE(bad);
    PMAP_EXPECT_THROW_MSG(
        (void)pmap::resolve_threads(std::nullopt, 2, 1, fake_env({{"SLURM_CPUS_PER_TASK", bad}})),
        UsageError, std::string("SLURM_CPUS_PER_TASK='") + bad + "'",
        "expected a positive integer");
  }
}

TEST(ResolveThreads, BadOmpIsReportedEvenWhenSlurmIsFine) {
  // OMP_NUM_THREADS comes first: a malformed value is an error, not silently skipped.
  const auto env = fake_env({{"OMP_NUM_THREADS", "x"}, {"SLURM_CPUS_PER_TASK", "4"}});
  PMAP_EXPECT_THROW_MSG((void)pmap::resolve_threads(std::nullopt, 2, 1, env), UsageError,
                        "OMP_NUM_THREADS");
}

TEST(ResolveThreads, BadCliValue) {
  PMAP_EXPECT_THROW_MSG((void)pmap::resolve_threads(0, 2, 1, kEmptyEnv), UsageError, "threads 0",
                        "at least 1");
  PMAP_EXPECT_THROW_MSG((void)pmap::resolve_threads(-3, 2, 1, kEmptyEnv), UsageError,
                        "threads -3", "at least 1");
}

TEST(ResolveThreads, DefaultGetenvReadsTheProcessEnvironment) {
  // Saves and restores the real variables around the test.
  const char* names[] = {"OMP_NUM_THREADS", "SLURM_CPUS_PER_TASK"};
  std::optional<std::string> saved[2];
  for (int i = 0; i < 2; ++i) {
    if (const char* v = std::getenv(names[i])) saved[i] = v;
  }
  ::setenv("OMP_NUM_THREADS", "3", 1);
  ::setenv("SLURM_CPUS_PER_TASK", "5", 1);
  const ThreadChoice omp = pmap::resolve_threads(std::nullopt, 2, 1);
  ::unsetenv("OMP_NUM_THREADS");
  const ThreadChoice slurm = pmap::resolve_threads(std::nullopt, 2, 1);
  ::unsetenv("SLURM_CPUS_PER_TASK");
  const ThreadChoice cores = pmap::resolve_threads(std::nullopt, 6, 3);
  for (int i = 0; i < 2; ++i) {
    if (saved[i]) ::setenv(names[i], saved[i]->c_str(), 1);
  }
  EXPECT_EQ(omp.threads, 3);
  EXPECT_EQ(omp.source, "OMP_NUM_THREADS");
  EXPECT_EQ(slurm.threads, 5);
  EXPECT_EQ(slurm.source, "SLURM_CPUS_PER_TASK");
  EXPECT_EQ(cores.threads, 2);
}

// --- the machine --------------------------------------------------------------------------------

TEST(NodeCores, AtLeastOne) {
  EXPECT_GE(pmap::node_cores(), 1);
  const unsigned hw = std::thread::hardware_concurrency();
  if (hw > 0) {
    EXPECT_EQ(pmap::node_cores(), static_cast<int>(hw));
  }
}

TEST(AffinityCores, AtLeastOne) {
  const int n = pmap::affinity_cores();
  EXPECT_GE(n, 1);
  EXPECT_LE(n, CPU_SETSIZE);
}

}  // namespace
