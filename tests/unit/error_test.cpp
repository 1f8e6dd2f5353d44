// pmap::Error: exit codes, the subject (the job field a message is about), the named
// constructors of recurring messages, and the library's throw sites naming their fields.
#include "pmap/error.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>

#include "pmap/item_space.hpp"
#include "pmap/kernel.hpp"
#include "pmap/plugin.hpp"
#include "pmap/results.hpp"
#include "pmap/slurm.hpp"
#include "support/temp_dir.hpp"

namespace {

using pmap::Error;
using pmap::ExitCode;
using pmap::UsageError;

/// The pmap::Error `f` throws (a test failure, and an empty one, if it throws none).
Error thrown_by(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no pmap::Error thrown";
  return Error(ExitCode::Ok, "");
}

TEST(Error, ExitCodesAreDistinct) {
  EXPECT_EQ(UsageError("x").code(), ExitCode::Usage);
  EXPECT_EQ(static_cast<int>(ExitCode::Usage), 2);
  // A run that failed (I/O, MPI, a full disk) is not "some items failed".
  EXPECT_EQ(pmap::RuntimeError("x").code(), ExitCode::RunFailed);
  EXPECT_EQ(static_cast<int>(ExitCode::RunFailed), 3);
  EXPECT_NE(ExitCode::RunFailed, ExitCode::ItemsFailed);
  EXPECT_EQ(pmap::RuntimeError("output", "a.h5", "disk full").code(), ExitCode::RunFailed);
}

TEST(Error, SubjectValueAndDetailMakeTheMessage) {
  const UsageError e("shard", "3/2", "expected I/N");
  EXPECT_STREQ(e.what(), "shard 3/2: expected I/N");
  EXPECT_EQ(e.subject(), "shard");
  EXPECT_EQ(e.value(), "3/2");
  EXPECT_EQ(e.detail(), "expected I/N");
  const UsageError no_value("output", "", "the file name is empty");
  EXPECT_STREQ(no_value.what(), "output: the file name is empty");
  const UsageError plain("something broke");
  EXPECT_EQ(plain.subject(), "");
  EXPECT_EQ(plain.value(), "");
  EXPECT_EQ(plain.detail(), "something broke");
}

TEST(Error, NamedConstructorsSayRecurringMessagesOneWay) {
  EXPECT_STREQ(UsageError::at_least("threads", 0, 1).what(), "threads 0: must be at least 1");
  EXPECT_STREQ(UsageError::negative("item_timeout", -1).what(),
               "item_timeout -1: must not be negative");
  EXPECT_STREQ(UsageError::negative("item_timeout", -0.5).what(),
               "item_timeout -0.5: must not be negative");
  EXPECT_STREQ(UsageError::not_positive("deadline", 0).what(), "deadline 0: must be positive");
  EXPECT_STREQ(UsageError::no_such_file("urls.input", "u.txt", "").what(),
               "urls.input u.txt: no such file");
  EXPECT_STREQ(UsageError::cannot_open("input", "a.txt", "Permission denied", "; fix it").what(),
               "input a.txt: cannot open (Permission denied); fix it");
  const UsageError exists = UsageError::file_exists("output", "a.h5");
  EXPECT_EQ(exists.subject(), "output");
  EXPECT_EQ(exists.value(), "a.h5");
  EXPECT_EQ(exists.detail(),
            "file exists; pass `force` to overwrite it, or choose another `output` (the existing "
            "file was left untouched)");
}

// The library names the job's fields, never the CLI's flags.
TEST(Error, ThrowSitesNameTheirField) {
  struct Case {
    std::function<void()> call;
    std::string subject, value, detail_part;
  };
  pmap::test::TempDir dir;
  const std::string missing = dir.file("missing.txt");
  const std::vector<Case> cases = {
      {[] { (void)pmap::parse_range("1:x"); }, "range", "1:x", "'x' is not an integer"},
      {[] { (void)pmap::parse_range("1:2:0"); }, "range", "1:2:0", "STEP must not be zero"},
      {[&] { (void)pmap::read_input(missing); }, "input", missing, "cannot open"},
      {[] { (void)pmap::find_kernel("nope"); }, "kernel", "nope", "unknown kernel"},
      {[] { (void)pmap::bind_args(pmap::find_kernel("pi"), {"samples=abc"}); }, "args",
       "samples=abc", "'abc' is not an integer (kernel pi takes"},
      {[] { (void)pmap::bind_args(pmap::find_kernel("pi"), {"samples"}); }, "args", "samples",
       "expected KEY=VALUE"},
      {[] { (void)pmap::parse_shard("3/2", pmap::process_env()); }, "shard", "3/2", "0 <= I < N"},
      {[&] { (void)pmap::open_plugin(missing); }, "plugin", missing, "no such file"},
      {[] { pmap::check_output_path("", false); }, "output", "", "the file name is empty"},
      {[] { pmap::check_output_path("/nonexistent-dir/x.h5", false); }, "output",
       "/nonexistent-dir/x.h5", "does not exist"},
      {[&] { pmap::check_output_path(dir.path().string(), true); }, "output", dir.path().string(),
       "not a regular file"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.subject + " " + c.value);
    const Error e = thrown_by(c.call);
    EXPECT_EQ(e.code(), ExitCode::Usage);
    EXPECT_EQ(e.subject(), c.subject) << e.what();
    EXPECT_EQ(e.value(), c.value) << e.what();
    EXPECT_NE(e.detail().find(c.detail_part), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("--"), std::string::npos) << "a flag in " << e.what();
  }
}

TEST(Error, AnExistingOutputNamesForceAsAField) {
  pmap::test::TempDir dir;
  const std::string path = dir.file("a.h5");
  pmap::test::write_bytes(path, "x");
  const Error e = thrown_by([&] { pmap::check_output_path(path, false); });
  EXPECT_EQ(e.subject(), "output");
  EXPECT_NE(e.detail().find("pass `force` to overwrite it"), std::string::npos) << e.what();
  EXPECT_NO_THROW(pmap::check_output_path(path, true));
}

}  // namespace
