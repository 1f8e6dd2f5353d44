// The pmap binary end to end: exit codes, messages, and the HDF5 results file read back.
//
// Every test runs the real binary (PMAP_BIN), directly or under mpiexec (PMAP_MPIEXEC), in a
// fresh temporary directory, and checks what a user sees: the exit code, stdout/stderr, and the
// content of the results file (DESIGN.md, "Results file" and "Command line").
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <utime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "pmap/h5.hpp"
#include "pmap/results.hpp"
#include "pmap/version.hpp"
#include "support/h5_read.hpp"
#include "support/pmap_cli.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using pmap::test::ProcessResult;
using pmap::test::TempDir;

using pmap::test::Args;
using pmap::test::describe;
using pmap::test::kMpiEnv;
using pmap::test::mpi_cmd;
using pmap::test::read_errors;
using pmap::test::pmap_cmd;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream is(text);
  std::string line;
  while (std::getline(is, line)) {
    // A progress bar may redraw with '\r': every redraw counts as a line.
    std::size_t from = 0;
    while (true) {
      const auto cr = line.find('\r', from);
      const auto piece = line.substr(from, cr == std::string::npos ? std::string::npos : cr - from);
      if (!piece.empty()) out.push_back(piece);
      if (cr == std::string::npos) break;
      from = cr + 1;
    }
  }
  return out;
}

std::size_t count_of(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

/// The `pmap-report key=value ...` lines of stdout.
std::vector<std::string> report_lines(const std::string& out) {
  std::vector<std::string> found;
  for (const auto& l : lines_of(out)) {
    if (l.rfind("pmap-report ", 0) == 0) found.push_back(l);
  }
  return found;
}

/// key -> value of a pmap-report line; every token after the first must be key=value.
std::map<std::string, std::string> parse_report(const std::string& line) {
  std::map<std::string, std::string> kv;
  std::istringstream is(line);
  std::string tok;
  is >> tok;
  EXPECT_EQ(tok, "pmap-report");
  while (is >> tok) {
    const auto eq = tok.find('=');
    EXPECT_NE(eq, std::string::npos) << "token '" << tok << "' is not key=value in: " << line;
    EXPECT_GT(eq, 0U) << "token '" << tok << "' has an empty key in: " << line;
    if (eq == std::string::npos || eq == 0) continue;
    EXPECT_EQ(kv.count(tok.substr(0, eq)), 0U) << "duplicate key in: " << line;
    kv[tok.substr(0, eq)] = tok.substr(eq + 1);
  }
  return kv;
}

/// The single pmap-report line of a run, parsed (fails the test if there is not exactly one).
std::map<std::string, std::string> the_report(const ProcessResult& r) {
  const auto lines = report_lines(r.out);
  EXPECT_EQ(lines.size(), 1U) << "stdout:\n" << r.out;
  if (lines.empty()) return {};
  return parse_report(lines.front());
}

/// Dimensions of dataset `name` in `path`.
std::vector<hsize_t> dims_of(const std::string& path, const std::string& name) {
  const pmap::h5::File file = pmap::h5::File::open(path, pmap::h5::Access::ReadOnly);
  pmap::h5::Handle d(H5Dopen2(file.get(), name.c_str(), H5P_DEFAULT), "open " + name);
  pmap::h5::Handle space(H5Dget_space(d.get()), "space of " + name);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

bool has_link(const std::string& path, const std::string& name) {
  const pmap::h5::File file = pmap::h5::File::open(path, pmap::h5::Access::ReadOnly);
  return H5Lexists(file.get(), name.c_str(), H5P_DEFAULT) > 0;
}

std::vector<std::string> read_strings_attr(const std::string& path, const std::string& object,
                                           const std::string& attr) {
  const pmap::h5::File file = pmap::h5::File::open(path, pmap::h5::Access::ReadOnly);
  pmap::h5::Handle o(H5Oopen(file.get(), object.c_str(), H5P_DEFAULT), "open " + object);
  return pmap::h5::read_attr_strings(o.get(), attr);
}

/// The `items` column of /compute/ranks (read by field name from the compound table).
std::vector<std::int64_t> read_rank_items(const std::string& path) {
  const pmap::h5::File file = pmap::h5::File::open(path, pmap::h5::Access::ReadOnly);
  pmap::h5::Handle d(H5Dopen2(file.get(), "/compute/ranks", H5P_DEFAULT), "open ranks");
  pmap::h5::Handle space(H5Dget_space(d.get()), "space");
  const auto n = static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get()));
  pmap::h5::Handle type(H5Tcreate(H5T_COMPOUND, sizeof(std::int64_t)), "compound");
  pmap::h5::check(H5Tinsert(type.get(), "items", 0, H5T_NATIVE_INT64), "insert");
  std::vector<std::int64_t> items(n);
  if (n > 0) {
    pmap::h5::check(H5Dread(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, items.data()),
                    "read ranks");
  }
  return items;
}

using pmap::test::slurp;
using pmap::test::write_bytes;

/// Results of a run that must not depend on the decomposition.
struct Rows {
  std::vector<std::int64_t> item;
  std::vector<double> value;
  std::vector<std::int8_t> status;
  std::string checksum;
};

Rows read_rows(const std::string& path) {
  Rows r;
  r.item = pmap::test::read_int64s(path, "/compute/item");
  r.value = pmap::test::read_doubles(path, "/compute/value");
  r.status = pmap::test::read_int8s(path, "/compute/status");
  return r;
}

template <typename T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

const Args kQuiet = {"--progress", "none"};

Args concat(Args a, const Args& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

// 1. End to end under mpiexec: every dataset and attribute of the schema, read back.
void check_pi_run(int ranks) {
  TempDir dir;
  const std::string f = dir.file("pi.h5");
  std::string what;
  const auto r = mpi_cmd(
      ranks,
      concat({"run", "--kernel", "pi", "--range", "0:40", "--arg", "samples=20000", "--output", f},
             kQuiet),
      dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  EXPECT_EQ(r.err.find("HDF5-DIAG"), std::string::npos) << what;
  ASSERT_TRUE(fs::exists(f)) << what;

  const auto item = pmap::test::read_int64s(f, "/compute/item");
  std::vector<std::int64_t> expected(40);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(item, expected);
  const auto status = pmap::test::read_int8s(f, "/compute/status");
  EXPECT_EQ(status, std::vector<std::int8_t>(40, 0));
  EXPECT_EQ(dims_of(f, "/compute/value"), (std::vector<hsize_t>{40, 2}));
  const auto value = pmap::test::read_doubles(f, "/compute/value");
  ASSERT_EQ(value.size(), 80U);
  double mean = 0;
  for (std::size_t i = 0; i < 40; ++i) {
    const double est = value[2 * i];
    const double hits = value[2 * i + 1];
    EXPECT_NEAR(est, M_PI, 0.1) << "row " << i;
    EXPECT_DOUBLE_EQ(est, 4.0 * hits / 20000.0) << "row " << i;
    mean += est / 40.0;
  }
  EXPECT_NEAR(mean, M_PI, 0.02);
  for (const auto rk : pmap::test::read_int32s(f, "/compute/rank")) {
    EXPECT_GE(rk, 0);
    EXPECT_LT(rk, ranks);
  }
  for (const auto t : pmap::test::read_int32s(f, "/compute/thread")) EXPECT_GE(t, 0);
  for (const auto s : pmap::test::read_doubles(f, "/compute/seconds")) EXPECT_GT(s, 0.0);

  EXPECT_EQ(pmap::test::read_int_attr(f, "/", "schema_version"), pmap::kSchemaVersion);
  EXPECT_EQ(pmap::test::read_int_attr(f, "/", "mpi_ranks"), ranks);
  EXPECT_GE(pmap::test::read_int_attr(f, "/", "omp_threads"), 1);
  EXPECT_FALSE(pmap::test::read_string_attr(f, "/", "pmap_version").empty());
  const auto created = pmap::test::read_string_attr(f, "/", "created");
  EXPECT_TRUE(std::regex_match(created, std::regex(R"(20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << created;
  const auto command = pmap::test::read_string_attr(f, "/", "command");
  EXPECT_NE(command.find("pi"), std::string::npos) << command;
  EXPECT_NE(command.find("0:40"), std::string::npos) << command;

  EXPECT_EQ(pmap::test::read_string_attr(f, "/compute", "kernel"), "pi");
  const auto args = pmap::test::read_string_attr(f, "/compute", "args");
  EXPECT_NE(args.find("\"samples\":20000"), std::string::npos) << args;
  EXPECT_EQ(pmap::test::read_string_attr(f, "/compute", "schedule"), "dynamic");
  EXPECT_EQ(pmap::test::read_int_attr(f, "/compute", "items"), 40);
  EXPECT_EQ(read_strings_attr(f, "/compute", "columns"),
            (std::vector<std::string>{"estimate", "hits"}));
  EXPECT_GT(pmap::test::read_double_attr(f, "/compute", "wall_seconds"), 0.0);

  EXPECT_EQ(dims_of(f, "/compute/ranks"), (std::vector<hsize_t>{static_cast<hsize_t>(ranks)}));
  const auto per_rank = read_rank_items(f);
  EXPECT_EQ(std::accumulate(per_rank.begin(), per_rank.end(), std::int64_t{0}), 40);
  EXPECT_EQ(dims_of(f, "/compute/errors"), (std::vector<hsize_t>{0}));

  auto rep = the_report(r);
  EXPECT_EQ(rep["ranks"], std::to_string(ranks));
  EXPECT_EQ(rep["items"], "40");
  EXPECT_EQ(rep["ok"], "40");
  EXPECT_EQ(rep["failed"], "0");
}

TEST(Cli, EndToEndPiTwoRanks) { check_pi_run(2); }
TEST(Cli, EndToEndPiFourRanks) { check_pi_run(4); }

// 2. Same inputs -> same rows, bit for bit, whatever the ranks, threads, schedule and chunk.
struct Decomposition {
  int ranks;  // 0: run the binary directly (singleton MPI)
  std::string threads;
  std::string schedule;
  std::string chunk;  // empty: the automatic default
};

void check_determinism(const Args& job, std::size_t rows, std::size_t columns) {
  const std::vector<Decomposition> cases = {
      {0, "1", "dynamic", ""},  {1, "1", "static", "1"},  {1, "2", "cyclic", "7"},
      {2, "1", "dynamic", "7"}, {2, "2", "guided", ""},   {2, "2", "static", "1"},
      {4, "1", "cyclic", ""},   {4, "2", "dynamic", "1"}, {4, "1", "guided", "7"},
      {4, "2", "static", ""},
  };
  TempDir dir;
  Rows ref;
  std::string ref_name;
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const auto& d = cases[c];
    const std::string f = dir.file("run" + std::to_string(c) + ".h5");
    Args args = concat(concat({"run"}, job), {"--threads", d.threads, "--schedule", d.schedule,
                                              "--output", f, "--progress", "none"});
    if (!d.chunk.empty()) args = concat(args, {"--chunk", d.chunk});
    std::string what;
    const auto r = d.ranks == 0 ? pmap_cmd(args, dir.path().string(), &what)
                                : mpi_cmd(d.ranks, args, dir.path().string(), &what);
    ASSERT_EQ(r.exit_code, 0) << what;
    Rows got = read_rows(f);
    got.checksum = the_report(r)["checksum"];
    EXPECT_EQ(got.item.size(), rows) << what;
    EXPECT_EQ(got.value.size(), rows * columns) << what;
    EXPECT_EQ(got.status, std::vector<std::int8_t>(rows, 0)) << what;
    EXPECT_EQ(got.checksum.size(), 16U) << what;
    if (d.ranks > 1 && (d.schedule == "static" || d.schedule == "cyclic")) {
      // The work really was shared: every rank wrote rows.
      auto ranks = pmap::test::read_int32s(f, "/compute/rank");
      std::sort(ranks.begin(), ranks.end());
      ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
      EXPECT_EQ(ranks.size(), static_cast<std::size_t>(d.ranks)) << what;
    }
    const std::string name = "-n " + std::to_string(d.ranks) + " --threads " + d.threads +
                             " --schedule " + d.schedule + " --chunk " +
                             (d.chunk.empty() ? "(auto)" : d.chunk);
    if (c == 0) {
      ref = std::move(got);
      ref_name = name;
      continue;
    }
    EXPECT_TRUE(same_bytes(got.item, ref.item)) << name << " vs " << ref_name;
    EXPECT_TRUE(same_bytes(got.value, ref.value)) << name << " vs " << ref_name;
    EXPECT_TRUE(same_bytes(got.status, ref.status)) << name << " vs " << ref_name;
    EXPECT_EQ(got.checksum, ref.checksum) << name << " vs " << ref_name;
  }
}

TEST(Cli, DeterministicPiAcrossRanksThreadsSchedules) {
  check_determinism({"--kernel", "pi", "--range", "0:64", "--arg", "samples=5000"}, 64, 2);
}

TEST(Cli, DeterministicMandelbrotAcrossRanksThreadsSchedules) {
  check_determinism({"--kernel", "mandelbrot", "--range", "0:64", "--arg", "width=64", "--arg",
                     "height=64", "--arg", "max_iter=200"},
                    64, 3);
}

// `--chunk auto` names the default the report prints (chunk=auto).
TEST(Cli, ChunkAutoIsAccepted) {
  TempDir dir;
  const std::string f = dir.file("auto.h5");
  std::string what;
  const auto r = pmap_cmd({"run", "--kernel", "pi", "--range", "0:8", "--arg", "samples=1000",
                           "--chunk", "auto", "--output", f, "--progress", "none"},
                          dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  EXPECT_EQ(the_report(r)["chunk"], "auto") << what;
  EXPECT_EQ(pmap::test::read_int64s(f, "/compute/item").size(), 8U);
}

// 3. No --kernel, no --range: the tutorial's compute_x over 1..10 with y=2.
TEST(Cli, DefaultJobIsComputeXOverOneToTen) {
  TempDir dir;
  const std::string f = dir.file("default.h5");
  std::string what;
  const auto r = pmap_cmd({"--arg", "sleep=0.01", "--output", f, "--progress", "none"},
                          dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  EXPECT_EQ(pmap::test::read_string_attr(f, "/compute", "kernel"), "compute_x");
  const auto item = pmap::test::read_int64s(f, "/compute/item");
  EXPECT_EQ(item, (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(dims_of(f, "/compute/value"), (std::vector<hsize_t>{10, 2}));
  const auto value = pmap::test::read_doubles(f, "/compute/value");
  ASSERT_EQ(value.size(), 20U);
  for (std::size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(value[2 * i], static_cast<double>(i + 1)) << "row " << i;
    EXPECT_EQ(value[2 * i + 1], 2.0) << "row " << i;
  }
  EXPECT_EQ(pmap::test::read_int8s(f, "/compute/status"), std::vector<std::int8_t>(10, 0));
  EXPECT_EQ(the_report(r)["items"], "10");
}

// 4. --input: blank lines and comments skipped, items are line numbers, a bad line fails alone.
TEST(Cli, InputFileSkipsCommentsAndFailsBadLine) {
  TempDir dir;
  const std::string in = dir.file("items.txt");
  write_bytes(in,
              "# x values for the tutorial\n"  // 1
              "10\n"                           // 2
              "\n"                             // 3
              "20\n"                           // 4
              "   # an indented comment\n"     // 5
              "not-a-number\n"                 // 6
              "  30  \n"                       // 7
              "\n");                           // 8
  const std::string f = dir.file("input.h5");
  std::string what;
  const auto r =
      pmap_cmd({"run", "--input", in, "--arg", "sleep=0.01", "--output", f, "--progress", "none"},
               dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 1) << what;
  ASSERT_TRUE(fs::exists(f)) << what;
  EXPECT_EQ(pmap::test::read_int64s(f, "/compute/item"), (std::vector<std::int64_t>{2, 4, 6, 7}));
  EXPECT_EQ(pmap::test::read_int8s(f, "/compute/status"), (std::vector<std::int8_t>{0, 0, 1, 0}));
  const auto value = pmap::test::read_doubles(f, "/compute/value");
  ASSERT_EQ(value.size(), 8U);
  EXPECT_EQ(value[0], 10.0);
  EXPECT_EQ(value[2], 20.0);
  EXPECT_EQ(value[6], 30.0);
  EXPECT_EQ(value[1], 2.0);
  const auto errors = read_errors(f);
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].item, 6);
  EXPECT_NE(errors[0].message.find("not-a-number"), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[0].message.find("line 6"), std::string::npos) << errors[0].message;
  EXPECT_EQ(pmap::test::read_string_attr(f, "/compute", "kernel"), "compute_x");
  auto rep = the_report(r);
  EXPECT_EQ(rep["items"], "4");
  EXPECT_EQ(rep["ok"], "3");
  EXPECT_EQ(rep["failed"], "1");
}

// 5. Failing items: exit 1, the file says which, and why.
TEST(Cli, FailingItemsExitOneAndAreListed) {
  TempDir dir;
  const std::string f = dir.file("fail.h5");
  std::string what;
  const auto r = mpi_cmd(2,
                         {"run", "--range", "1:11", "--arg", "sleep=0.01", "--arg", "fail_every=3",
                          "--output", f, "--progress", "none"},
                         dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 1) << what;
  EXPECT_EQ(pmap::test::read_int64s(f, "/compute/item"),
            (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(pmap::test::read_int8s(f, "/compute/status"),
            (std::vector<std::int8_t>{0, 0, 1, 0, 0, 1, 0, 0, 1, 0}));
  const auto errors = read_errors(f);
  ASSERT_EQ(errors.size(), 3U);
  const std::int64_t expected[] = {3, 6, 9};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(errors[i].item, expected[i]);
    EXPECT_NE(errors[i].message.find("fail_every"), std::string::npos) << errors[i].message;
  }
  auto rep = the_report(r);
  EXPECT_EQ(rep["ok"], "7");
  EXPECT_EQ(rep["failed"], "3");
  EXPECT_NE(r.out.find("3 failed"), std::string::npos) << what;
}

// 6. Bad usage or input: exit 2, one clear message naming what and where, nothing written.
struct UsageCase {
  Args args;                          // after `pmap`
  std::vector<std::string> messages;  // all must appear on stderr
};

void expect_usage_error(const TempDir& dir, const UsageCase& c, const std::string& output) {
  std::string what;
  const auto r = pmap_cmd(c.args, dir.path().string(), &what);
  EXPECT_EQ(r.exit_code, 2) << what;
  for (const auto& m : c.messages) {
    EXPECT_NE(r.err.find(m), std::string::npos) << "expected '" << m << "' on stderr\n" << what;
  }
  EXPECT_EQ(count_of(r.err, "pmap: error:"), 1U) << what;
  EXPECT_EQ(r.err.find("HDF5-DIAG"), std::string::npos) << what;
  EXPECT_TRUE(report_lines(r.out).empty()) << what;
  if (!output.empty()) {
    EXPECT_FALSE(fs::exists(output)) << "output written despite error\n" << what;
  }
}

TEST(Cli, UsageErrorsExitTwoWithMessageAndWriteNothing) {
  TempDir dir;
  const std::string out = dir.file("out.h5");
  const Args o = {"--output", out, "--progress", "none"};
  // Created outside `dir`, which must stay empty.
  TempDir inputs;
  const std::string binary = inputs.file("binary.txt");
  write_bytes(binary, std::string("1\n2\0\n3\n", 7));
  const std::vector<UsageCase> cases = {
      {concat({"--range", "1:x"}, o), {"--range 1:x: 'x' is not an integer"}},
      {concat({"run", "--range", "1:10:0"}, o), {"--range 1:10:0", "STEP must not be zero"}},
      {concat({"run", "--range", "1"}, o), {"--range 1", "START:STOP"}},
      {concat({"run", "--kernel", "nope"}, o), {"--kernel nope", "unknown kernel", "compute_x"}},
      {concat({"run", "--arg", "nope=1"}, o), {"--arg nope=1", "'nope'", "sleep"}},
      {concat({"run", "--arg", "sleep"}, o), {"--arg sleep", "KEY=VALUE"}},
      {concat({"run", "--kernel", "pi", "--range", "0:4", "--arg", "samples=abc"}, o),
       {"--arg samples=abc", "'abc' is not an integer"}},
      {concat({"run", "--arg", "sleep=fast"}, o), {"--arg sleep=fast", "'fast'"}},
      {concat({"run", "--input", "/nonexistent/file"}, o),
       {"--input /nonexistent/file", "cannot open"}},
      {concat({"run", "--range", "1:3", "--input", "/nonexistent/file"}, o),
       {"--range", "--input"}},
      {concat({"run", "--schedule", "nope"}, o), {"--schedule nope", "static"}},
      {concat({"run", "--threads", "0"}, o), {"--threads 0", "at least 1"}},
      {{"run", "--progress", "loud", "--output", out}, {"--progress loud", "none"}},
      {concat({"run", "--input", dir.path().string()}, o), {"--input " + dir.path().string()}},
      {concat({"run", "--input", binary}, o), {"--input " + binary + ":2", "NUL"}},
      {concat({"run", "--bogus"}, o), {"--bogus"}},
      {concat({"--bogus"}, o), {"--bogus"}},
      {concat({"run", "--kernel", "spin"}, o), {"--kernel spin", "--range"}},
      {{"run", "--range", "1:3", "--progress", "none", "--output", ""},
       {"--output", "file name is empty"}},
  };
  for (const auto& c : cases) expect_usage_error(dir, c, out);
  EXPECT_TRUE(fs::is_empty(dir.path())) << "a usage error left a file behind";
}

TEST(Cli, OutputInMissingDirectoryIsUsageError) {
  TempDir dir;
  ASSERT_FALSE(fs::exists("/nonexistent-dir"));
  expect_usage_error(dir,
                     {{"run", "--range", "1:3", "--arg", "sleep=0", "--output",
                       "/nonexistent-dir/x.h5", "--progress", "none"},
                      {"--output /nonexistent-dir/x.h5", "/nonexistent-dir", "does not exist"}},
                     "/nonexistent-dir/x.h5");
  EXPECT_FALSE(fs::exists("/nonexistent-dir"));
}

TEST(Cli, ExistingOutputWithoutForceIsLeftUntouched) {
  TempDir dir;
  const std::string f = dir.file("precious.h5");
  const std::string content = "precious results, not HDF5 at all\n";
  write_bytes(f, content);
  // An old mtime, so that any rewrite (even within the same second) is visible.
  utimbuf old{1000000000, 1000000000};
  ASSERT_EQ(utime(f.c_str(), &old), 0);
  struct stat before {};
  ASSERT_EQ(stat(f.c_str(), &before), 0);

  std::string what;
  const auto r =
      pmap_cmd({"run", "--range", "1:3", "--arg", "sleep=0", "--output", f, "--progress", "none"},
               dir.path().string(), &what);
  EXPECT_EQ(r.exit_code, 2) << what;
  EXPECT_NE(r.err.find("--output " + f), std::string::npos) << what;
  EXPECT_NE(r.err.find("exists"), std::string::npos) << what;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << what;
  EXPECT_EQ(count_of(r.err, "pmap: error:"), 1U) << what;
  EXPECT_EQ(slurp(f), content);
  struct stat after {};
  ASSERT_EQ(stat(f.c_str(), &after), 0);
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  EXPECT_EQ(after.st_size, before.st_size);
  EXPECT_EQ(after.st_ino, before.st_ino);
}

TEST(Cli, InspectRejectsMissingForeignAndNonHdf5Files) {
  TempDir dir;
  // Missing.
  expect_usage_error(dir, {{"inspect", "missing.h5"}, {"missing.h5", "no such file"}}, "");
  // Not HDF5.
  const std::string text = dir.file("notes.txt");
  write_bytes(text, "just some text\n");
  expect_usage_error(dir, {{"inspect", text}, {text, "not an HDF5 file"}}, "");
  // HDF5, but not pmap's.
  const std::string foreign = dir.file("foreign.h5");
  {
    pmap::h5::Handle file(H5Fcreate(foreign.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                          "create foreign");
    const hsize_t n = 4;
    pmap::h5::Handle space(H5Screate_simple(1, &n, nullptr), "space");
    pmap::h5::Handle d(H5Dcreate2(file.get(), "temperature", H5T_NATIVE_DOUBLE, space.get(),
                                  H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                       "create dataset");
    const double v[4] = {1, 2, 3, 4};
    pmap::h5::check(H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v),
                    "write");
  }
  ASSERT_TRUE(pmap::h5::is_hdf5(foreign));
  expect_usage_error(dir, {{"inspect", foreign}, {foreign, "not a pmap results file"}}, "");
  // `inspect` without a file is a usage error too.
  expect_usage_error(dir, {{"inspect"}, {"file"}}, "");
}

TEST(Cli, UsageErrorsUnderMpiexecPrintOnce) {
  TempDir dir;
  const std::string out = dir.file("out.h5");
  const std::vector<UsageCase> cases = {
      // Rejected before MPI starts.
      {{"--range", "1:x", "--output", out, "--progress", "none"},
       {"--range 1:x: 'x' is not an integer"}},
      {{"run", "--kernel", "nope", "--output", out, "--progress", "none"},
       {"--kernel nope", "unknown kernel"}},
      {{"run", "--bogus", "--output", out}, {"--bogus"}},
  };
  for (const auto& c : cases) {
    std::string what;
    const auto r = mpi_cmd(2, c.args, dir.path().string(), &what);
    EXPECT_EQ(r.exit_code, 2) << what;
    for (const auto& m : c.messages) {
      EXPECT_EQ(count_of(r.err, m), 1U) << "expected '" << m << "' exactly once\n" << what;
    }
    EXPECT_EQ(count_of(r.err, "pmap: error:"), 1U) << what;
    EXPECT_FALSE(fs::exists(out)) << what;
  }
  // Rejected collectively after MPI started (rank 0 checks the output path).
  const std::string f = dir.file("exists.h5");
  write_bytes(f, "keep me\n");
  std::string what;
  const auto r =
      mpi_cmd(2, {"run", "--range", "1:3", "--arg", "sleep=0", "--output", f, "--progress", "none"},
              dir.path().string(), &what);
  EXPECT_EQ(r.exit_code, 2) << what;
  EXPECT_EQ(count_of(r.err, "pmap: error:"), 1U) << what;
  EXPECT_EQ(count_of(r.err, "--force"), 1U) << what;
  EXPECT_EQ(slurp(f), "keep me\n");
}

// Negative chunk sizes are bad usage, not a huge unsigned number.
TEST(Cli, NegativeChunkIsUsageError) {
  TempDir dir;
  const std::string out = dir.file("out.h5");
  expect_usage_error(dir,
                     {{"run", "--range", "0:4", "--arg", "sleep=0", "--chunk", "-1", "--output",
                       out, "--progress", "none"},
                      {"--chunk"}},
                     out);
}

// An --output that is a directory is refused (and the directory left alone).
TEST(Cli, OutputThatIsADirectoryIsUsageError) {
  TempDir dir;
  const std::string sub = dir.file("results");
  fs::create_directory(sub);
  std::string what;
  const auto r = pmap_cmd({"run", "--range", "0:4", "--arg", "sleep=0", "--output", sub, "--force",
                           "--progress", "none"},
                          dir.path().string(), &what);
  EXPECT_EQ(r.exit_code, 2) << what;
  EXPECT_NE(r.err.find("--output " + sub), std::string::npos) << what;
  EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << what;
  EXPECT_TRUE(fs::is_directory(sub));
}

// 7. --force replaces an existing file.
TEST(Cli, ForceOverwritesExistingOutput) {
  TempDir dir;
  const std::string f = dir.file("again.h5");
  std::string what;
  auto r =
      pmap_cmd({"run", "--range", "1:4", "--arg", "sleep=0", "--output", f, "--progress", "none"},
               dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  ASSERT_EQ(pmap::test::read_int64s(f, "/compute/item").size(), 3U);

  r = pmap_cmd({"run", "--range", "10:16", "--arg", "sleep=0", "--arg", "y=7", "--output", f,
                "--force", "--progress", "none"},
               dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  EXPECT_EQ(pmap::test::read_int64s(f, "/compute/item"),
            (std::vector<std::int64_t>{10, 11, 12, 13, 14, 15}));
  const auto value = pmap::test::read_doubles(f, "/compute/value");
  ASSERT_EQ(value.size(), 12U);
  EXPECT_EQ(value[1], 7.0);
  EXPECT_EQ(pmap::test::read_int_attr(f, "/compute", "items"), 6);

  // --force also replaces a file that was not HDF5 at all.
  const std::string junk = dir.file("junk.h5");
  write_bytes(junk, "junk");
  r = pmap_cmd({"run", "--range", "0:2", "--arg", "sleep=0", "--output", junk, "--force",
                "--progress", "none"},
               dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  EXPECT_EQ(pmap::test::read_int64s(junk, "/compute/item"), (std::vector<std::int64_t>{0, 1}));
}

// 7b. --force never replaces a file another process has open (HDF5 locks it: a run still writing
// it, a merge, an h5py session): HDF5 would truncate it before trying its lock. Exit 2, the
// holder named, the file byte for byte as it was; the same for `pmap urls` and `pmap merge`.
TEST(Cli, ForceRefusesAFileInUseAndChangesNothing) {
  TempDir dir;
  const std::string f = dir.file("busy.h5");
  std::string what;
  auto r = pmap_cmd({"run", "--range", "1:4", "--arg", "sleep=0", "--output", f, "--progress",
                     "none"},
                    dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  r = pmap_cmd({"run", "--range", "0:2", "--arg", "sleep=0", "--shard", "0/1", "--output",
                dir.file("shard.h5"), "--progress", "none"},
               dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  const std::string before = pmap::test::slurp(f);
  const hid_t held = H5Fopen(f.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);  // locks it, as h5py does
  ASSERT_GE(held, 0);
  write_bytes(dir.file("urls.txt"), "http://127.0.0.1:9/x\n");
  const std::vector<Args> jobs = {
      {"run", "--range", "0:2", "--arg", "sleep=0", "--output", f, "--force", "--progress", "none"},
      {"urls", "--input", "urls.txt", "--output", f, "--force", "--progress", "none"},
      {"merge", f, "--force", dir.file("shard.h5")},
  };
  for (const Args& job : jobs) {
    r = pmap_cmd(job, dir.path().string(), &what);
    EXPECT_EQ(r.exit_code, 2) << what;
    EXPECT_NE(r.err.find("in use by pid " + std::to_string(::getpid())), std::string::npos) << what;
    EXPECT_EQ(pmap::test::slurp(f), before) << job[0] << " changed the file";
  }
  H5Fclose(held);
  r = pmap_cmd(jobs[0], dir.path().string(), &what);
  EXPECT_EQ(r.exit_code, 0) << "once nobody holds it, --force replaces it\n" << what;
}

// 8. An empty range is a valid, empty job.
TEST(Cli, EmptyRangeWritesEmptyDatasets) {
  TempDir dir;
  const std::string f = dir.file("empty.h5");
  std::string what;
  const auto r = mpi_cmd(2, {"run", "--range", "5:5", "--output", f, "--progress", "none"},
                         dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  EXPECT_EQ(dims_of(f, "/compute/item"), (std::vector<hsize_t>{0}));
  EXPECT_EQ(dims_of(f, "/compute/status"), (std::vector<hsize_t>{0}));
  EXPECT_EQ(dims_of(f, "/compute/value"), (std::vector<hsize_t>{0, 2}));
  EXPECT_EQ(dims_of(f, "/compute/seconds"), (std::vector<hsize_t>{0}));
  EXPECT_EQ(pmap::test::read_int_attr(f, "/compute", "items"), 0);
  EXPECT_TRUE(has_link(f, "/compute/ranks"));
  EXPECT_TRUE(has_link(f, "/compute/errors"));
  EXPECT_NE(r.out.find("0 items"), std::string::npos) << what;
  auto rep = the_report(r);
  EXPECT_EQ(rep["items"], "0");
  EXPECT_EQ(rep["ok"], "0");
}

// 9. Self-description: kernels, version, help.
TEST(Cli, KernelsListsEveryKernelWithArgumentsAndColumns) {
  TempDir dir;
  std::string what;
  const auto r = pmap_cmd({"kernels"}, dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  // Split the listing into one block per kernel (a kernel's name starts an unindented line).
  std::map<std::string, std::string> block;
  std::string current;
  for (const auto& l : lines_of(r.out)) {
    if (!l.empty() && l[0] != ' ') {
      current = l.substr(0, l.find(' '));
      block[current];
    } else if (!current.empty()) {
      block[current] += l + "\n";
    }
  }
  const std::map<std::string, std::pair<std::vector<std::string>, std::string>> expected = {
      {"compute_x", {{"y", "sleep", "fail_every"}, "x, y"}},
      {"spin", {{"seconds"}, "x"}},
      {"pi", {{"samples", "seed"}, "estimate, hits"}},
      {"mandelbrot", {{"width", "height", "max_iter"}, "iterations, inside, max_iterations"}},
  };
  for (const auto& [name, spec] : expected) {
    ASSERT_EQ(block.count(name), 1U) << name << " missing\n" << what;
    const auto& b = block[name];
    for (const auto& arg : spec.first) {
      EXPECT_TRUE(std::regex_search(b, std::regex("\\n?\\s+" + arg + " \\(")))
          << name << " lacks argument " << arg << "\n"
          << b;
    }
    EXPECT_NE(b.find("columns: " + spec.second), std::string::npos) << name << "\n" << b;
  }
  EXPECT_NE(block["compute_x"].find("default 0.8"), std::string::npos) << block["compute_x"];
}

TEST(Cli, VersionAndHelp) {
  TempDir dir;
  std::string what;
  auto r = pmap_cmd({"--version"}, dir.path().string(), &what);
  EXPECT_EQ(r.exit_code, 0) << what;
  EXPECT_NE(r.out.find(std::string("pmap ") + pmap::kVersion + "\n"), std::string::npos) << what;

  r = pmap_cmd({"--help"}, dir.path().string(), &what);
  EXPECT_EQ(r.exit_code, 0) << what;
  for (const char* word : {"run", "kernels", "inspect", "--version"}) {
    EXPECT_NE(r.out.find(word), std::string::npos) << word << "\n" << what;
  }
  r = pmap_cmd({"run", "--help"}, dir.path().string(), &what);
  EXPECT_EQ(r.exit_code, 0) << what;
  for (const char* word : {"--kernel", "--range", "--input", "--arg", "--schedule", "--chunk",
                           "--threads", "--output", "--force", "--progress"}) {
    EXPECT_NE(r.out.find(word), std::string::npos) << word << "\n" << what;
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

// 10. inspect after a run.
TEST(Cli, InspectSummarisesARun) {
  TempDir dir;
  const std::string f = dir.file("pi.h5");
  std::string what;
  auto r = mpi_cmd(2,
                   {"run", "--kernel", "pi", "--range", "0:40", "--arg", "samples=2000", "--output",
                    f, "--progress", "none"},
                   dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  r = pmap_cmd({"inspect", f}, dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  EXPECT_NE(r.out.find("40 ok"), std::string::npos) << what;
  EXPECT_NE(r.out.find("0 failed"), std::string::npos) << what;
  EXPECT_NE(r.out.find("kernel pi"), std::string::npos) << what;
  EXPECT_NE(r.out.find("estimate"), std::string::npos) << what;
  EXPECT_NE(r.out.find("hits"), std::string::npos) << what;
  EXPECT_NE(r.out.find("samples"), std::string::npos) << what;
  EXPECT_NE(r.out.find("2 ranks"), std::string::npos) << what;
  EXPECT_TRUE(r.err.empty()) << what;

  // With failures: the counts and the first errors.
  const std::string g = dir.file("fail.h5");
  r = pmap_cmd({"run", "--range", "1:11", "--arg", "sleep=0", "--arg", "fail_every=5", "--output",
                g, "--progress", "none"},
               dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 1) << what;
  r = pmap_cmd({"inspect", g}, dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  EXPECT_NE(r.out.find("8 ok"), std::string::npos) << what;
  EXPECT_NE(r.out.find("2 failed"), std::string::npos) << what;
  EXPECT_NE(r.out.find("item 5"), std::string::npos) << what;
  EXPECT_NE(r.out.find("item 10"), std::string::npos) << what;
}

// 11. Progress: plain log lines in batch mode, nothing with --progress none.
TEST(Cli, ProgressLogAndNone) {
  TempDir dir;
  std::string what;
  auto r = pmap_cmd({"run", "--range", "1:21", "--arg", "sleep=0.02", "--threads", "1", "--output",
                     dir.file("log.h5"), "--progress", "log"},
                    dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  std::vector<std::string> progress;
  for (const auto& l : lines_of(r.err)) {
    if (l.find("compute") != std::string::npos && l.find("%|") != std::string::npos) {
      progress.push_back(l);
    }
  }
  ASSERT_GE(progress.size(), 1U) << what;
  EXPECT_LE(progress.size(), 12U) << what;
  EXPECT_NE(progress.back().find("100%|"), std::string::npos) << what;
  EXPECT_NE(progress.back().find("20/20"), std::string::npos) << what;
  auto reports = report_lines(r.out);
  ASSERT_EQ(reports.size(), 1U) << what;
  EXPECT_EQ(parse_report(reports[0])["items"], "20");
  EXPECT_EQ(r.err.find("pmap-report"), std::string::npos) << "the report belongs on stdout\n"
                                                          << what;

  r = pmap_cmd({"run", "--range", "1:21", "--arg", "sleep=0.02", "--output", dir.file("none.h5"),
                "--progress", "none"},
               dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  EXPECT_EQ(r.err.find("%|"), std::string::npos) << what;
  EXPECT_TRUE(r.err.empty()) << what;
  reports = report_lines(r.out);
  ASSERT_EQ(reports.size(), 1U) << what;
  EXPECT_EQ(parse_report(reports[0])["items"], "20");

  // Under mpiexec, only rank 0 reports progress.
  r = mpi_cmd(2,
              {"run", "--range", "1:21", "--arg", "sleep=0.02", "--output", dir.file("mpi.h5"),
               "--progress", "log"},
              dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  std::size_t full = 0;
  for (const auto& l : lines_of(r.err)) full += l.find("20/20") != std::string::npos ? 1 : 0;
  EXPECT_EQ(full, 1U) << what;
  EXPECT_EQ(report_lines(r.out).size(), 1U) << what;
}

// 12. The report line is machine-readable and agrees with the file's attributes.
TEST(Cli, ReportLineIsParsableAndMatchesAttributes) {
  TempDir dir;
  const std::string f = dir.file("rep.h5");
  std::string what;
  const auto r = mpi_cmd(2,
                         {"run", "--range", "1:21", "--arg", "sleep=0.01", "--schedule", "guided",
                          "--output", f, "--progress", "none"},
                         dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  auto rep = the_report(r);
  for (const char* key :
       {"wall_seconds", "items_per_second", "parallel_efficiency", "load_imbalance",
        "write_seconds", "checksum", "items", "ranks", "threads", "kernel", "schedule"}) {
    EXPECT_EQ(rep.count(key), 1U) << key << " missing\n" << what;
  }
  for (const char* key : {"wall_seconds", "items_per_second", "parallel_efficiency",
                          "load_imbalance", "write_seconds"}) {
    const std::string& v = rep[key];
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    EXPECT_TRUE(!v.empty() && end == v.c_str() + v.size() && std::isfinite(x)) << key << "=" << v;
    EXPECT_GE(x, 0.0) << key;
  }
  EXPECT_GT(std::stod(rep["wall_seconds"]), 0.0);
  EXPECT_GT(std::stod(rep["items_per_second"]), 0.0);
  EXPECT_GE(std::stod(rep["load_imbalance"]), 1.0 - 1e-9);
  EXPECT_TRUE(std::regex_match(rep["checksum"], std::regex("[0-9a-f]{16}"))) << rep["checksum"];
  EXPECT_EQ(rep["kernel"], "compute_x");
  EXPECT_EQ(rep["schedule"], "guided");
  EXPECT_EQ(rep["ranks"], "2");
  EXPECT_EQ(rep["items"], "20");

  // The same figures as attributes of /compute.
  EXPECT_EQ(pmap::test::read_string_attr(f, "/compute", "checksum"), rep["checksum"]);
  EXPECT_NEAR(pmap::test::read_double_attr(f, "/compute", "wall_seconds"),
              std::stod(rep["wall_seconds"]), 1e-5);
  EXPECT_NEAR(pmap::test::read_double_attr(f, "/compute", "parallel_efficiency"),
              std::stod(rep["parallel_efficiency"]), 1e-4);
  // The human summary precedes it.
  EXPECT_NE(r.out.find("compute: 20 items (20 ok"), std::string::npos) << what;
}

// 13. Python's range semantics with a negative step.
TEST(Cli, NegativeStepRange) {
  TempDir dir;
  const std::string f = dir.file("neg.h5");
  std::string what;
  const auto r = pmap_cmd(
      {"run", "--range", "10:0:-3", "--arg", "sleep=0", "--output", f, "--progress", "none"},
      dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  EXPECT_EQ(pmap::test::read_int64s(f, "/compute/item"), (std::vector<std::int64_t>{10, 7, 4, 1}));
  const auto value = pmap::test::read_doubles(f, "/compute/value");
  ASSERT_EQ(value.size(), 8U);
  EXPECT_EQ(value[0], 10.0);
  EXPECT_EQ(value[6], 1.0);
}

// A range that starts below zero is still a range, not an option.
TEST(Cli, NegativeStartRange) {
  TempDir dir;
  const std::string f = dir.file("negstart.h5");
  std::string what;
  const auto r =
      pmap_cmd({"run", "--range", "-3:2", "--arg", "sleep=0", "--output", f, "--progress", "none"},
               dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  EXPECT_EQ(pmap::test::read_int64s(f, "/compute/item"),
            (std::vector<std::int64_t>{-3, -2, -1, 0, 1}));
}
