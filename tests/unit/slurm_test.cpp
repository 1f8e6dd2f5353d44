// What pmap reads from Slurm: squeue's time left (%L), the deadline derived from it, the bounded
// squeue call, and the shard of a job array (--shard I/N or SLURM_ARRAY_TASK_*).
#include "pmap/slurm.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <map>
#include <string>

#include "pmap/error.hpp"
#include "support/temp_dir.hpp"

namespace {

using pmap::parse_shard;
using pmap::parse_slurm_time_left;

TEST(SlurmTimeLeft, NoLimitIsNegative) {
  for (const char* text : {"UNLIMITED", "NOT_SET", "INVALID", "", "  ", "\n", "UNLIMITED\n"}) {
    EXPECT_LT(parse_slurm_time_left(text), 0) << "'" << text << "'";
  }
}

TEST(SlurmTimeLeft, SqueueFormats) {
  EXPECT_EQ(parse_slurm_time_left("5:00"), 300);
  EXPECT_EQ(parse_slurm_time_left("0:07"), 7);
  EXPECT_EQ(parse_slurm_time_left("0:00"), 0);
  EXPECT_EQ(parse_slurm_time_left("59:59"), 3599);
  EXPECT_EQ(parse_slurm_time_left("1:02:03"), 3723);
  EXPECT_EQ(parse_slurm_time_left("12:00:00"), 43200);
  EXPECT_EQ(parse_slurm_time_left("2-03:04:05"), 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
  EXPECT_EQ(parse_slurm_time_left("0-00:00:30"), 30);
  EXPECT_EQ(parse_slurm_time_left("365-00:00:00"), 365.0 * 86400);
}

TEST(SlurmTimeLeft, TrailingAndLeadingBlanksAreIgnored) {
  EXPECT_EQ(parse_slurm_time_left("5:00\n"), 300);
  EXPECT_EQ(parse_slurm_time_left("1:02:03 \r\n"), 3723);
  EXPECT_EQ(parse_slurm_time_left("   2-03:04:05\t\n"), 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
}

TEST(SlurmTimeLeft, GarbageIsNegative) {
  for (const char* text :
       {"1:xx",        "xx:00",      "1-",   "-1",      "-5:00",   "-1-00:00:00",
        "1--00:00:00", "x-01:00:00", "1:",   ":30",     "1::00",   "5",
        "1:2:3:4",     "2-03:04",    "2-3",  "1:60",    "1:00:60", "1-24:00:00",
        "+5:00",       "5 :00",      "1:0x", "0x10:00", "1.5:00",  "99999999999999999:00",
        "5:00 extra"}) {
    EXPECT_LT(parse_slurm_time_left(text), 0) << "'" << text << "'";
  }
}

TEST(SlurmDeadline, MarginIsFivePercentBetweenTenSecondsAndTwoMinutes) {
  EXPECT_EQ(pmap::deadline_from_time_left(-1), 0);  // no limit: no deadline
  EXPECT_EQ(pmap::deadline_from_time_left(0), 0);
  EXPECT_EQ(pmap::deadline_from_time_left(5), 1);  // never below 1 s
  EXPECT_EQ(pmap::deadline_from_time_left(100), 90);
  EXPECT_EQ(pmap::deadline_from_time_left(1000), 950);
  EXPECT_EQ(pmap::deadline_from_time_left(86400), 86400 - 120);
}

/// A fake `squeue` (a shell script) in a temporary directory.
std::string fake_squeue(const pmap::test::TempDir& dir, const std::string& body) {
  const std::string path = dir.file("squeue");
  pmap::test::write_bytes(path, "#!/bin/sh\n" + body + "\n");
  chmod(path.c_str(), 0755);
  return path;
}

TEST(SlurmQuery, ReadsSqueueOutput) {
  pmap::test::TempDir dir;
  const auto squeue = fake_squeue(
      dir, "[ \"$1 $2 $3 $4 $5\" = '-h -j 42 -o %L' ] || exit 3\necho 1:02:03\necho 2:00");
  EXPECT_EQ(pmap::query_slurm_time_left("42", 5, squeue), 3723);
}

TEST(SlurmQuery, FailuresAreUnknown) {
  pmap::test::TempDir dir;
  EXPECT_LT(pmap::query_slurm_time_left("42", 5, dir.file("no-such-squeue")), 0);
  EXPECT_LT(pmap::query_slurm_time_left("42", 5, fake_squeue(dir, "echo 5:00; exit 1")), 0);
  EXPECT_LT(pmap::query_slurm_time_left("42", 5, fake_squeue(dir, "echo UNLIMITED")), 0);
  EXPECT_LT(pmap::query_slurm_time_left("42", 5, fake_squeue(dir, "true")), 0);
  EXPECT_LT(pmap::query_slurm_time_left("42; rm -rf x", 5, fake_squeue(dir, "echo 5:00")), 0);
}

TEST(SlurmQuery, HungSqueueIsKilledAtTheTimeout) {
  pmap::test::TempDir dir;
  // Prints nothing and hangs, then hangs after printing with its output closed.
  for (const char* body : {"exec sleep 30", "echo 5:00; exec >&- 2>&-; exec sleep 30"}) {
    const auto squeue = fake_squeue(dir, body);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_LT(pmap::query_slurm_time_left("42", 0.5, squeue), 0) << body;
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(took.count(), 5.0) << body;
    EXPECT_GE(took.count(), 0.4) << body;
  }
}

/// An environment made of `vars` only.
pmap::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const pmap::EnvLookup kNoEnv = env_of({});

TEST(Shard, ExplicitIndexOfCount) {
  auto s = parse_shard("0/4", kNoEnv);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->index, 0);
  EXPECT_EQ(s->count, 4);
  s = parse_shard("3/4", kNoEnv);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->index, 3);
  EXPECT_EQ(s->count, 4);
  s = parse_shard("0/1", kNoEnv);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->count, 1);
}

TEST(Shard, BadTextIsAUsageErrorNamingIt) {
  for (const char* text :
       {"4/4", "5/4", "-1/4", "a/b", "1/0", "0/0", "1/-2", "1", "/4", "1/", "1/4/5", " 1/4", "1/4 ",
        "1 /4", "+1/4", "0x1/4", "1.0/4", "99999999999/99999999999"}) {
    try {
      (void)parse_shard(text, kNoEnv);
      ADD_FAILURE() << "'" << text << "' was accepted";
    } catch (const pmap::UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("shard ") + text), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("0 <= I < N"), std::string::npos) << e.what();
    }
  }
}

TEST(Shard, ExplicitTextWinsOverTheArray) {
  const auto s =
      parse_shard("1/3", env_of({{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_COUNT", "2"}}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->index, 1);
  EXPECT_EQ(s->count, 3);
}

TEST(Shard, NoTextAndNoArrayMeansUnsharded) {
  EXPECT_FALSE(parse_shard("", kNoEnv));
  EXPECT_FALSE(parse_shard("", env_of({{"SLURM_JOB_ID", "7"}, {"SLURM_ARRAY_TASK_COUNT", "4"}})));
  // An array task id without the array's size (no COUNT, no MAX) cannot be a shard.
  EXPECT_FALSE(parse_shard("", env_of({{"SLURM_ARRAY_TASK_ID", "3"}})));
}

TEST(Shard, FromTheArrayWithoutMin) {
  for (int id = 0; id < 4; ++id) {
    const auto s = parse_shard(
        "", env_of({{"SLURM_ARRAY_TASK_ID", std::to_string(id)}, {"SLURM_ARRAY_TASK_COUNT", "4"}}));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->index, id);
    EXPECT_EQ(s->count, 4);
  }
}

TEST(Shard, FromTheArrayWithMin) {
  // sbatch --array=5-8: ids 5..8, min 5, count 4 -> shards 0..3 of 4.
  for (int id = 5; id <= 8; ++id) {
    const auto s = parse_shard("", env_of({{"SLURM_ARRAY_TASK_ID", std::to_string(id)},
                                           {"SLURM_ARRAY_TASK_MIN", "5"},
                                           {"SLURM_ARRAY_TASK_MAX", "8"},
                                           {"SLURM_ARRAY_TASK_STEP", "1"},
                                           {"SLURM_ARRAY_TASK_COUNT", "4"}}));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->index, id - 5);
    EXPECT_EQ(s->count, 4);
  }
}

TEST(Shard, FromAnArrayWithAStep) {
  // sbatch --array=1-7:2: ids 1, 3, 5, 7 -> shards 0..3 of 4.
  for (int id = 1; id <= 7; id += 2) {
    const auto s = parse_shard("", env_of({{"SLURM_ARRAY_TASK_ID", std::to_string(id)},
                                           {"SLURM_ARRAY_TASK_MIN", "1"},
                                           {"SLURM_ARRAY_TASK_MAX", "7"},
                                           {"SLURM_ARRAY_TASK_STEP", "2"},
                                           {"SLURM_ARRAY_TASK_COUNT", "4"}}));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->index, (id - 1) / 2);
    EXPECT_EQ(s->count, 4);
  }
}

TEST(Shard, CountFromMaxWhenSlurmGivesNoCount) {
  const auto s = parse_shard("", env_of({{"SLURM_ARRAY_TASK_ID", "6"},
                                         {"SLURM_ARRAY_TASK_MIN", "5"},
                                         {"SLURM_ARRAY_TASK_MAX", "8"}}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->index, 1);
  EXPECT_EQ(s->count, 4);
}

TEST(Shard, ArraysThatAreNotShardsAreRefused) {
  const std::vector<std::map<std::string, std::string>> bad = {
      // ids 5..8 but MIN not given: 5/4 is out of range (the old parser did the same).
      {{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_COUNT", "4"}},
      // a list: --array=1,5,9 (min 1, max 9, count 3) is not evenly spaced.
      {{"SLURM_ARRAY_TASK_ID", "5"},
       {"SLURM_ARRAY_TASK_MIN", "1"},
       {"SLURM_ARRAY_TASK_MAX", "9"},
       {"SLURM_ARRAY_TASK_STEP", "1"},
       {"SLURM_ARRAY_TASK_COUNT", "3"}},
      // an id off the step
      {{"SLURM_ARRAY_TASK_ID", "2"},
       {"SLURM_ARRAY_TASK_MIN", "1"},
       {"SLURM_ARRAY_TASK_STEP", "2"},
       {"SLURM_ARRAY_TASK_COUNT", "4"}},
      // an id below min, a count of 0
      {{"SLURM_ARRAY_TASK_ID", "1"},
       {"SLURM_ARRAY_TASK_MIN", "2"},
       {"SLURM_ARRAY_TASK_COUNT", "4"}},
      {{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_COUNT", "0"}},
  };
  for (const auto& vars : bad) {
    try {
      const auto s = parse_shard("", env_of(vars));
      ADD_FAILURE() << "accepted as " << (s ? s->index : -1) << "/" << (s ? s->count : -1)
                    << ": SLURM_ARRAY_TASK_ID=" << vars.at("SLURM_ARRAY_TASK_ID");
    } catch (const pmap::UsageError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("SLURM_ARRAY_TASK_ID=" + vars.at("SLURM_ARRAY_TASK_ID")),
                std::string::npos)
          << what;
      EXPECT_NE(what.find("`shard` I/N"), std::string::npos) << what;
    }
  }
}

TEST(Shard, GarbageInTheEnvironmentIsNamed) {
  for (const char* name : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
                           "SLURM_ARRAY_TASK_STEP"}) {
    std::map<std::string, std::string> vars = {{"SLURM_ARRAY_TASK_ID", "1"},
                                               {"SLURM_ARRAY_TASK_COUNT", "4"}};
    vars[name] = "x1";
    try {
      (void)parse_shard("", env_of(vars));
      ADD_FAILURE() << name << "=x1 was accepted";
    } catch (const pmap::UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string(name) + "=x1"), std::string::npos)
          << e.what();
    }
  }
}

TEST(Shard, ProcessEnvReadsTheEnvironment) {
  const auto env = pmap::process_env();
  setenv("PMAP_SLURM_TEST_VAR", "3/8", 1);
  EXPECT_EQ(env("PMAP_SLURM_TEST_VAR"), std::optional<std::string>("3/8"));
  unsetenv("PMAP_SLURM_TEST_VAR");
  EXPECT_EQ(env("PMAP_SLURM_TEST_VAR"), std::nullopt);
}

}  // namespace
