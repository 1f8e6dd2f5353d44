// The URL stage through the pmap binary: `pmap urls` (--print, --output, usage errors, the
// existing file left alone, SIGTERM), `pmap run ... --urls`, the default job with data/urls.txt,
// `pmap inspect` of a file with /urls, and URL shards (--shard, SLURM_ARRAY_TASK_*), --resume and
// `pmap merge` of /urls. Every URL points at the local fixture server
// (tests/support/http_fixture.cpp), never the internet.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "pmap/h5.hpp"
#include "pmap/results.hpp"
#include "support/h5_read.hpp"
#include "support/http_fixture_process.hpp"
#include "support/pmap_cli.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using pmap::test::Args;
using pmap::test::describe;
using pmap::test::kMpiEnv;
using pmap::test::mpi_cmd;
using pmap::test::pmap_cmd;
using Clock = std::chrono::steady_clock;
using pmap::test::HttpFixture;
using pmap::test::ProcessResult;
using pmap::test::TempDir;

// Straight to the local fixture even where the environment names a proxy; the pmap processes
// started below inherit it.
[[maybe_unused]] const bool proxies_off =
    ::setenv("no_proxy", "*", 1) == 0 && ::setenv("NO_PROXY", "*", 1) == 0;

/// `pmap args...` run directly (a singleton MPI process) in `cwd`.
/// `mpiexec -n N --bind-to none pmap args...` in `cwd`.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream is(text);
  for (std::string line; std::getline(is, line);) out.push_back(line);
  return out;
}

/// Lines of the tutorial's form "URL - verdict".
std::vector<std::string> verdict_lines(const std::string& out) {
  std::vector<std::string> found;
  static const std::regex form(R"(^\S.* - (exists|does not exist|unknown)$)");
  for (const auto& l : lines_of(out)) {
    if (std::regex_match(l, form)) found.push_back(l);
  }
  return found;
}

/// key -> value of the `pmap-report stage=STAGE ...` line of stdout (empty if there is none).
std::map<std::string, std::string> report_of(const std::string& out, const std::string& stage) {
  std::map<std::string, std::string> kv;
  for (const auto& l : lines_of(out)) {
    if (l.rfind("pmap-report stage=" + stage + " ", 0) != 0) continue;
    std::istringstream is(l);
    std::string tok;
    is >> tok;
    while (is >> tok) {
      const auto eq = tok.find('=');
      if (eq != std::string::npos) kv[tok.substr(0, eq)] = tok.substr(eq + 1);
    }
  }
  return kv;
}

using pmap::test::slurp;
using pmap::test::write_bytes;

std::vector<std::string> h5_files_in(const std::string& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().extension() == ".h5") found.push_back(e.path().string());
  }
  return found;
}

std::unique_ptr<HttpFixture> start_fixture(const Args& args = {}) {
  std::string why;
  auto server = HttpFixture::start(PMAP_HTTP_FIXTURE, args, &why);
  if (!server) throw std::runtime_error(why);
  return server;
}

/// One line of a list and what pmap must make of it.
struct Line {
  std::string url;
  std::string verdict;  // as printed: "exists", "does not exist", "unknown"
  std::int8_t code;     // as stored: 0, 1, 2
  int status;
};

/// A small mixed list on the fixture, with a comment, a blank line, an invalid line and a
/// duplicate.
std::vector<Line> mixed_list(const HttpFixture& s) {
  return {
      {s.url("/ok"), "exists", 0, 200},     {s.url("/missing"), "does not exist", 1, 404},
      {s.url("/error"), "unknown", 2, 500}, {s.url("/redirect/1"), "exists", 0, 200},
      {"not-a-url", "unknown", 2, 0},       {s.url("/ok", "localhost"), "exists", 0, 200},
      {s.url("/ok"), "exists", 0, 200},
  };
}

std::string list_text(const std::vector<Line>& lines) {
  std::string text = "# fixture URLs\n";
  for (std::size_t i = 0; i < lines.size(); ++i) {
    text += lines[i].url + "\n";
    if (i == 2) text += "\n   \n# between rows\n";
  }
  return text;
}

/// Rows of /urls against the list: url, verdict, status, attempts, error, final URL.
void expect_rows(const std::string& file, const std::vector<Line>& lines, const std::string& what) {
  const auto rows = pmap::test::read_url_rows(file);
  ASSERT_EQ(rows.size(), lines.size()) << what;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string where = "row " + std::to_string(i) + " " + lines[i].url;
    EXPECT_EQ(rows.url[i], lines[i].url) << where;
    EXPECT_EQ(rows.verdict[i], lines[i].code) << where;
    EXPECT_EQ(rows.http_status[i], lines[i].status) << where;
    const bool invalid = lines[i].status == 0;
    EXPECT_EQ(rows.attempts[i], invalid ? 0 : 1) << where;
    if (invalid) {
      EXPECT_EQ(rows.error[i], "invalid URL: no scheme") << where;
      EXPECT_EQ(rows.final_url[i], "") << where;
    } else {
      EXPECT_EQ(rows.error[i], "") << where;
      const bool redirect = lines[i].url.find("/redirect/") != std::string::npos;
      EXPECT_EQ(
          rows.final_url[i],
          redirect ? lines[i].url.substr(0, lines[i].url.find("/redirect/")) + "/ok" : lines[i].url)
          << where;
      EXPECT_GT(rows.seconds[i], 0.0) << where;
      EXPECT_LT(rows.seconds[i], 2.0) << where;
    }
  }
}

/// HDF5 class and size of a dataset's type, and its rank-1 length.
struct DatasetInfo {
  H5T_class_t type_class = H5T_NO_CLASS;
  std::size_t type_size = 0;
  bool variable_string = false;
  int ndims = -1;
  hsize_t length = 0;
};

DatasetInfo info_of(const std::string& path, const std::string& name) {
  const pmap::h5::File file = pmap::h5::File::open(path, pmap::h5::Access::ReadOnly);
  pmap::h5::Handle d(H5Dopen2(file.get(), name.c_str(), H5P_DEFAULT), "open " + name);
  pmap::h5::Handle type(H5Dget_type(d.get()), "type of " + name);
  pmap::h5::Handle space(H5Dget_space(d.get()), "space of " + name);
  DatasetInfo info;
  info.type_class = H5Tget_class(type.get());
  info.type_size = H5Tget_size(type.get());
  info.variable_string = info.type_class == H5T_STRING && H5Tis_variable_str(type.get()) > 0;
  info.ndims = H5Sget_simple_extent_ndims(space.get());
  if (info.ndims == 1) H5Sget_simple_extent_dims(space.get(), &info.length, nullptr);
  return info;
}

/// Name of enum value `value` in the type of /urls/verdict ("" if none).
std::string verdict_name(const std::string& path, std::int8_t value) {
  const pmap::h5::File file = pmap::h5::File::open(path, pmap::h5::Access::ReadOnly);
  pmap::h5::Handle d(H5Dopen2(file.get(), "/urls/verdict", H5P_DEFAULT), "open verdict");
  pmap::h5::Handle type(H5Dget_type(d.get()), "verdict type");
  char name[64] = {};
  if (H5Tenum_nameof(type.get(), &value, name, sizeof name) < 0) return "";
  return name;
}

bool has_link(const std::string& path, const std::string& name) {
  const pmap::h5::File file = pmap::h5::File::open(path, pmap::h5::Access::ReadOnly);
  return H5Lexists(file.get(), name.c_str(), H5P_DEFAULT) > 0;
}

const Args kQuiet = {"--progress", "none"};

Args concat(Args a, const Args& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// ---- pmap urls --print ----------------------------------------------------------------------

void check_print(int ranks) {
  const auto server = start_fixture();
  TempDir dir;
  const auto lines = mixed_list(*server);
  write_bytes(dir.file("list.txt"), list_text(lines));
  const Args args = concat({"urls", "--input", "list.txt", "--print", "--timeout", "3"}, kQuiet);
  std::string what;
  const auto r = ranks == 0 ? pmap_cmd(args, dir.path().string(), &what)
                            : mpi_cmd(ranks, args, dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  std::vector<std::string> expected;
  for (const auto& l : lines) expected.push_back(l.url + " - " + l.verdict);
  EXPECT_EQ(verdict_lines(r.out), expected) << what;
  // The printed lines come first, in input order, before the summary.
  ASSERT_FALSE(lines_of(r.out).empty()) << what;
  EXPECT_EQ(lines_of(r.out).front(), expected.front()) << what;
  EXPECT_TRUE(h5_files_in(dir.path().string()).empty()) << "--print without --output wrote a file\n"
                                                        << what;
  auto rep = report_of(r.out, "urls");
  EXPECT_EQ(rep["urls"], "7") << what;
  EXPECT_EQ(rep["exists"], "4") << what;
  EXPECT_EQ(rep["does_not_exist"], "1") << what;
  EXPECT_EQ(rep["unknown"], "2") << what;
  EXPECT_EQ(rep["invalid"], "1") << what;
  EXPECT_EQ(rep["ranks"], std::to_string(ranks == 0 ? 1 : ranks)) << what;
  EXPECT_EQ(r.err.find("HDF5-DIAG"), std::string::npos) << what;
}

TEST(UrlsCli, PrintListsVerdictsInInputOrderAndWritesNoFile) { check_print(0); }

// A list saved with a byte order mark (Windows editors): the first URL is still a URL.
TEST(UrlsCli, ByteOrderMarkBeforeTheFirstUrlIsDropped) {
  const auto server = start_fixture();
  TempDir dir;
  write_bytes(dir.file("bom.txt"),
              "\xEF\xBB\xBF" + server->url("/ok") + "\n" + server->url("/missing") + "\n");
  std::string what;
  const auto r = pmap_cmd(concat({"urls", "--input", "bom.txt", "--print"}, kQuiet),
                          dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  const std::vector<std::string> expected = {server->url("/ok") + " - exists",
                                             server->url("/missing") + " - does not exist"};
  EXPECT_EQ(verdict_lines(r.out), expected) << what;
}
TEST(UrlsCli, PrintUnderMpiexecTwoRanksKeepsInputOrder) { check_print(2); }

// ---- pmap urls --output: the /urls schema -----------------------------------------------------

TEST(UrlsCli, OutputHasTheUrlsSchema) {
  const auto server = start_fixture();
  TempDir dir;
  const auto lines = mixed_list(*server);
  write_bytes(dir.file("list.txt"), list_text(lines));
  const std::string f = dir.file("out.h5");
  std::string what;
  const auto r = pmap_cmd(
      concat({"urls", "--input", "list.txt", "--output", f, "--threads", "4", "--timeout", "3"},
             kQuiet),
      dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  ASSERT_TRUE(fs::exists(f)) << what;
  EXPECT_TRUE(verdict_lines(r.out).empty()) << "verdict lines printed without --print\n" << what;
  EXPECT_EQ(report_of(r.out, "urls")["urls"], "7") << what;

  const hsize_t n = lines.size();
  for (const char* name : {"/urls/url", "/urls/error", "/urls/final_url"}) {
    const auto info = info_of(f, name);
    EXPECT_EQ(info.type_class, H5T_STRING) << name;
    EXPECT_FALSE(info.variable_string) << name << ": parallel HDF5 needs fixed-length strings";
    EXPECT_EQ(info.ndims, 1) << name;
    EXPECT_EQ(info.length, n) << name;
  }
  const auto verdict = info_of(f, "/urls/verdict");
  EXPECT_EQ(verdict.type_class, H5T_ENUM);
  EXPECT_EQ(verdict.type_size, 1U);
  EXPECT_EQ(verdict.length, n);
  EXPECT_EQ(verdict_name(f, 0), "exists");
  EXPECT_EQ(verdict_name(f, 1), "does_not_exist");
  EXPECT_EQ(verdict_name(f, 2), "unknown");
  for (const char* name : {"/urls/http_status", "/urls/attempts"}) {
    const auto info = info_of(f, name);
    EXPECT_EQ(info.type_class, H5T_INTEGER) << name;
    EXPECT_EQ(info.type_size, 4U) << name;
    EXPECT_EQ(info.length, n) << name;
  }
  const auto seconds = info_of(f, "/urls/seconds");
  EXPECT_EQ(seconds.type_class, H5T_FLOAT);
  EXPECT_EQ(seconds.type_size, 8U);
  EXPECT_EQ(seconds.length, n);

  EXPECT_EQ(pmap::test::read_double_attr(f, "/urls", "timeout"), 3.0);
  EXPECT_EQ(pmap::test::read_int_attr(f, "/urls", "threads"), 4);
  const double wall = pmap::test::read_double_attr(f, "/urls", "wall_seconds");
  EXPECT_GT(wall, 0.0);
  EXPECT_LT(wall, 10.0);
  EXPECT_EQ(pmap::test::read_int_attr(f, "/", "schema_version"), pmap::kSchemaVersion);
  EXPECT_EQ(pmap::test::read_int_attr(f, "/", "mpi_ranks"), 1);
  EXPECT_NE(pmap::test::read_string_attr(f, "/", "command").find("urls"), std::string::npos);
  EXPECT_FALSE(has_link(f, "/compute"));
  expect_rows(f, lines, what);
}

// Neither --print nor --output: the results go to pmap.h5, as for `pmap run`.
TEST(UrlsCli, WithoutPrintOrOutputWritesPmapH5) {
  const auto server = start_fixture();
  TempDir dir;
  const auto lines = mixed_list(*server);
  write_bytes(dir.file("list.txt"), list_text(lines));
  std::string what;
  const auto r =
      pmap_cmd(concat({"urls", "--input", "list.txt"}, kQuiet), dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  EXPECT_EQ(h5_files_in(dir.path().string()), std::vector<std::string>{dir.file("pmap.h5")})
      << what;
  expect_rows(dir.file("pmap.h5"), lines, what);
}

// --method, --retries and --per-host reach the requests (counted by the fixture).
TEST(UrlsCli, MethodRetriesAndPerHostOptionsAreHonoured) {
  const auto server = start_fixture();
  TempDir dir;
  std::string list = server->url("/nohead") + "\n" + server->url("/flaky/cli/1") + "\n";
  for (int i = 0; i < 6; ++i) list += server->url("/delay/100?n=" + std::to_string(i)) + "\n";
  write_bytes(dir.file("list.txt"), list);
  const std::string f = dir.file("out.h5");
  std::string what;
  const auto r = pmap_cmd(concat({"urls", "--input", "list.txt", "--output", f, "--method", "head",
                                  "--retries", "0", "--per-host", "1", "--threads", "8"},
                                 kQuiet),
                          dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  const auto rows = pmap::test::read_url_rows(f);
  ASSERT_EQ(rows.size(), 8U) << what;
  EXPECT_EQ(rows.verdict[0], 0) << "HEAD 405 must fall back to GET";
  EXPECT_EQ(rows.http_status[0], 200);
  EXPECT_EQ(rows.attempts[0], 2);
  EXPECT_EQ(rows.verdict[1], 2) << "--retries 0: the first 503 is final";
  EXPECT_EQ(rows.http_status[1], 503);
  EXPECT_EQ(rows.attempts[1], 1);
  for (std::size_t i = 2; i < rows.size(); ++i) EXPECT_EQ(rows.verdict[i], 0) << "row " << i;
  const auto stats = pmap::test::fixture_stats(*server);
  EXPECT_EQ(stats["max_concurrent_by_host"].value("127.0.0.1:" + std::to_string(server->port()), 0),
            1)
      << stats.dump();
  EXPECT_EQ(stats["requests_by_method"].value("HEAD", 0), 8) << stats.dump();
  EXPECT_EQ(stats["requests_by_method"].value("GET", 0), 1) << stats.dump();
  EXPECT_EQ(pmap::test::read_string_attr(f, "/urls", "method"), "head");
  EXPECT_EQ(pmap::test::read_int_attr(f, "/urls", "per_host"), 1);
  EXPECT_EQ(pmap::test::read_int_attr(f, "/urls", "retries"), 0);
}

// ---- pmap run ... --urls: both stages in one file ----------------------------------------------

TEST(UrlsCli, RunWithUrlsWritesComputeAndUrlsIntoOneFile) {
  const auto server = start_fixture();
  TempDir dir;
  const auto lines = mixed_list(*server);
  write_bytes(dir.file("list.txt"), list_text(lines));
  const std::string f = dir.file("both.h5");
  std::string what;
  const auto r =
      mpi_cmd(2,
              concat({"run", "--kernel", "pi", "--range", "0:20", "--arg", "samples=1000", "--urls",
                      "list.txt", "--url-threads", "4", "--url-timeout", "3", "--output", f},
                     kQuiet),
              dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  ASSERT_TRUE(fs::exists(f)) << what;
  EXPECT_EQ(pmap::test::read_int8s(f, "/compute/status"), std::vector<std::int8_t>(20, 0));
  EXPECT_EQ(pmap::test::read_int64s(f, "/compute/item").size(), 20U);
  EXPECT_EQ(pmap::test::read_string_attr(f, "/compute", "kernel"), "pi");
  EXPECT_EQ(pmap::test::read_int_attr(f, "/urls", "threads"), 4);
  EXPECT_EQ(pmap::test::read_double_attr(f, "/urls", "timeout"), 3.0);
  expect_rows(f, lines, what);
  EXPECT_EQ(report_of(r.out, "compute")["items"], "20") << what;
  EXPECT_EQ(report_of(r.out, "urls")["urls"], "7") << what;
  EXPECT_EQ(report_of(r.out, "urls")["ranks"], "2") << what;
  EXPECT_EQ(r.err.find("HDF5-DIAG"), std::string::npos) << what;
}

// ---- the default job: compute_x, then ./data/urls.txt
// --------------------------------------------

TEST(UrlsCli, DefaultJobRunsDataUrlsAfterCompute) {
  const auto server = start_fixture();
  TempDir dir;
  fs::create_directories(dir.path() / "data");
  const std::vector<Line> lines = {{server->url("/ok"), "exists", 0, 200},
                                   {server->url("/missing"), "does not exist", 1, 404},
                                   {server->url("/error"), "unknown", 2, 500}};
  write_bytes(dir.file("data/urls.txt"), list_text(lines));
  std::string what;
  const auto r = mpi_cmd(2, concat({"--arg", "sleep=0.01"}, kQuiet), dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  const std::string f = dir.file("pmap.h5");
  ASSERT_TRUE(fs::exists(f)) << what;
  EXPECT_EQ(pmap::test::read_int64s(f, "/compute/item"),
            (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(pmap::test::read_int8s(f, "/compute/status"), std::vector<std::int8_t>(10, 0));
  EXPECT_EQ(pmap::test::read_string_attr(f, "/compute", "kernel"), "compute_x");
  expect_rows(f, lines, what);
  EXPECT_EQ(report_of(r.out, "urls")["urls"], "3") << what;
}

// ---- usage errors: exit 2, a message that says what, nothing written
// ------------------------------

TEST(UrlsCli, BadUsageExitsTwoWithAClearMessage) {
  TempDir dir;
  write_bytes(dir.file("list.txt"), "http://127.0.0.1:1/\n");
  struct Case {
    Args args;
    std::vector<std::string> message_parts;
  };
  const std::vector<Case> cases = {
      {{"urls"}, {"--input", "required"}},
      {{"urls", "--print"}, {"--input", "required"}},
      {{"urls", "--input", "list.txt", "--method", "post"}, {"--method post", "get or head"}},
      {{"urls", "--input", "list.txt", "--threads", "0"}, {"threads", "at least 1"}},
      {{"urls", "--input", "list.txt", "--timeout", "-1"}, {"timeout", "positive"}},
      {{"urls", "--input", "list.txt", "--timeout=-1"}, {"timeout", "positive"}},
      {{"urls", "--input", "list.txt", "--per-host", "0"}, {"per_host", "at least 1"}},
      {{"urls", "--input", "list.txt", "--retries", "-1"}, {"retries", "negative"}},
      {{"urls", "--input", "nope.txt"}, {"--input nope.txt", "cannot open"}},
      {{"urls", "--input", "list.txt", "--cacert", "no-ca.pem"}, {"--cacert no-ca.pem", "no such file"}},
      {{"urls", "--input", "list.txt", "--cacert", "."}, {"--cacert .", "directory", "--capath"}},
      {{"urls", "--input", "list.txt", "--capath", "no-dir"}, {"--capath no-dir", "no such directory"}},
      {{"urls", "--input", "list.txt", "--capath", "list.txt"}, {"--capath list.txt", "not a directory"}},
      {{"run", "--kernel", "pi", "--range", "0:4", "--urls", "nope.txt"}, {"--urls nope.txt"}},
  };
  for (const auto& c : cases) {
    std::string what;
    const auto r = pmap_cmd(concat(c.args, kQuiet), dir.path().string(), &what);
    EXPECT_EQ(r.exit_code, 2) << what;
    EXPECT_NE(r.err.find("pmap: error: "), std::string::npos) << what;
    for (const auto& part : c.message_parts) {
      EXPECT_NE(r.err.find(part), std::string::npos) << "message lacks '" << part << "'\n" << what;
    }
    EXPECT_TRUE(report_of(r.out, "urls").empty()) << what;
    EXPECT_TRUE(h5_files_in(dir.path().string()).empty()) << "a bad usage wrote a file\n" << what;
  }
}

TEST(UrlsCli, ExistingOutputIsLeftUntouchedWithoutForce) {
  const auto server = start_fixture();
  TempDir dir;
  write_bytes(dir.file("list.txt"), server->url("/ok") + "\n");
  const std::string f = dir.file("out.h5");
  write_bytes(f, "precious bytes, not HDF5\n");
  ::timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), times, 0), 0);
  std::string what;
  const auto r = pmap_cmd(concat({"urls", "--input", "list.txt", "--output", f}, kQuiet),
                          dir.path().string(), &what);
  EXPECT_EQ(r.exit_code, 2) << what;
  EXPECT_NE(r.err.find("exists"), std::string::npos) << what;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << what;
  EXPECT_EQ(slurp(f), "precious bytes, not HDF5\n") << what;
  struct stat st {};
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1000000000) << "the existing file was touched";

  const auto forced =
      pmap_cmd(concat({"urls", "--input", "list.txt", "--output", f, "--force"}, kQuiet),
               dir.path().string(), &what);
  ASSERT_EQ(forced.exit_code, 0) << what;
  const auto rows = pmap::test::read_url_rows(f);
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows.verdict[0], 0);
}

// ---- pmap inspect ------------------------------------------------------------------------------

TEST(UrlsCli, InspectSummarisesUrls) {
  const auto server = start_fixture();
  TempDir dir;
  const auto lines = mixed_list(*server);  // 4 exist, 1 does not, 2 unknown
  write_bytes(dir.file("list.txt"), list_text(lines));
  const std::string f = dir.file("out.h5");
  std::string what;
  const auto r = pmap_cmd(concat({"urls", "--input", "list.txt", "--output", f}, kQuiet),
                          dir.path().string(), &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  const auto shown = pmap_cmd({"inspect", f}, dir.path().string(), &what);
  ASSERT_EQ(shown.exit_code, 0) << what;
  EXPECT_TRUE(std::regex_search(shown.out, std::regex(R"((^|\n)urls: 7 URLs)"))) << what;
  EXPECT_TRUE(std::regex_search(shown.out, std::regex(R"(\b4 exists?\b)"))) << what;
  EXPECT_TRUE(std::regex_search(shown.out, std::regex(R"(\b1 (does|do) not exist\b)"))) << what;
  EXPECT_TRUE(std::regex_search(shown.out, std::regex(R"(\b2 unknown\b)"))) << what;
  EXPECT_TRUE(std::regex_search(shown.out, std::regex(R"(\b0 not checked\b)"))) << what;
  EXPECT_NE(shown.out.find("run: finished, wall "), std::string::npos) << what;
  EXPECT_EQ(shown.out.find("HDF5-DIAG"), std::string::npos) << what;
  EXPECT_EQ(shown.err.find("HDF5-DIAG"), std::string::npos) << what;
}

// ---- SIGTERM during a URL run
// ---------------------------------------------------------------------

/// A started pmap process whose output goes to files; reaped by wait_for or the destructor.
class Background {
 public:
  Background(const Args& args, const std::string& cwd)
      : out_(cwd + "/stdout.txt"), err_(cwd + "/stderr.txt") {
    Args argv{PMAP_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
    envs.insert(envs.end(), kMpiEnv.begin(), kMpiEnv.end());
    std::vector<char*> cargv;
    std::vector<char*> cenv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    for (auto& e : envs) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    if (::posix_spawn(&pid_, cargv[0], &fa, nullptr, cargv.data(), cenv.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  ~Background() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  [[nodiscard]] bool started() const { return pid_ > 0; }
  void signal(int sig) const { ::kill(pid_, sig); }
  /// The exit code (128 + signal if killed by one), or -1 if still running after `limit`.
  int wait_for(std::chrono::duration<double> limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  [[nodiscard]] std::string output() const {
    return "--- stdout ---\n" + slurp(out_) + "--- stderr ---\n" + slurp(err_);
  }

 private:
  pid_t pid_ = -1;
  std::string out_, err_;
};

TEST(UrlsCli, SigtermDuringHangingUrlsExits75Quickly) {
  const auto server = start_fixture();
  TempDir dir;
  std::string list = server->url("/ok") + "\n";
  for (int i = 0; i < 6; ++i) list += server->url("/hang?n=" + std::to_string(i)) + "\n";
  write_bytes(dir.file("list.txt"), list);
  const std::string f = dir.file("out.h5");
  Background pmap({"urls", "--input", "list.txt", "--output", f, "--threads", "4", "--timeout",
                   "60", "--progress", "none"},
                  dir.path().string());
  ASSERT_TRUE(pmap.started());
  // Wait until the four workers hang in their requests (the fixture counts them in flight).
  ASSERT_EQ(pmap::test::fixture_wait(*server, "in_flight", 4), 4) << pmap.output();
  const auto signalled = Clock::now();
  pmap.signal(SIGTERM);
  const int code = pmap.wait_for(std::chrono::seconds(10));
  const double took = std::chrono::duration<double>(Clock::now() - signalled).count();
  ASSERT_EQ(code, 75) << pmap.output();
  EXPECT_LT(took, 3.0) << pmap.output();

  // The file is valid and says what was done: /ok checked, 4 interrupted, 2 never started.
  const auto rows = pmap::test::read_url_rows(f);
  ASSERT_EQ(rows.size(), 7U) << pmap.output();
  EXPECT_EQ(rows.verdict[0], 0);
  EXPECT_EQ(rows.http_status[0], 200);
  int interrupted = 0;
  int not_checked = 0;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    if (rows.verdict[i] == -1) {
      ++not_checked;
    } else {
      EXPECT_EQ(rows.verdict[i], 2) << "row " << i;
      EXPECT_EQ(rows.error[i], "interrupted") << "row " << i;
      ++interrupted;
    }
  }
  EXPECT_EQ(interrupted, 4) << pmap.output();
  EXPECT_EQ(not_checked, 2) << pmap.output();
}

// ---- URL shards (--shard, job arrays), --resume and `pmap merge` of /urls ----------------------
// One fixture answers on several loopback names, so the URLs of one list fall in every shard of
// three: by FNV-1a 64 of the host, 127.0.0.3 and [::1] go to shard 0, 127.0.0.2 and localhost to
// shard 1, 127.0.0.1 (and invalid lines, whose host is "") to shard 2.

/// The job array's variables of the environment these tests run in (under a Slurm array, say)
/// would pick a shard for the runs without --shard: cleared, as a user outside Slurm has them.
void clear_array_env() {
  for (const char* name : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
                           "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_STEP"}) {
    ::unsetenv(name);
  }
}

/// `pmap args...` with extra environment entries ("K=V").
ProcessResult pmap_env_cmd(const Args& args, const std::vector<std::string>& env,
                           const std::string& cwd, std::string* what) {
  Args argv{PMAP_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  auto all = kMpiEnv;
  all.insert(all.end(), env.begin(), env.end());
  auto r = pmap::test::run_process(argv, cwd, all);
  *what = describe(argv, r);
  for (const auto& e : env) *what += "env: " + e + "\n";
  return r;
}

/// FNV-1a 64, written here independently of pmap::host_hash.
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

/// The fixture on 127.0.0.1, 127.0.0.2, 127.0.0.3 and, when the machine has it, ::1.
struct MultiHost {
  std::unique_ptr<HttpFixture> server;
  std::vector<std::string> hosts;  // as URL hosts: "127.0.0.1", ..., "localhost", "[::1]"
};

MultiHost start_multi_host_fixture() {
  const Args v4 = {"--also-host", "127.0.0.2", "--also-host", "127.0.0.3"};
  MultiHost m;
  std::string why;
  m.server = HttpFixture::start(PMAP_HTTP_FIXTURE, concat(v4, {"--also-host", "::1"}), &why);
  const bool v6 = m.server != nullptr;
  if (!v6) m.server = start_fixture(v4);  // no IPv6 loopback here
  m.hosts = {"127.0.0.1", "127.0.0.2", "127.0.0.3", "localhost"};
  if (v6) m.hosts.emplace_back("[::1]");
  return m;
}

/// A list on several hosts, what pmap must make of each row, the shard of each row, and the
/// requests (by path) its URLs cause: every distinct URL has its own path.
struct ShardedList {
  std::vector<Line> lines;
  std::vector<int> shard;                           // of 3, by host
  std::vector<std::map<std::string, int>> traffic;  // per row: path -> requests it causes
  /// Requests by path of the rows of shard `s` (-1: all rows), each distinct URL once.
  [[nodiscard]] std::map<std::string, int> requests(int s) const {
    std::map<std::string, int> out;
    std::map<std::string, bool> seen;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if ((s >= 0 && shard[i] != s) || std::exchange(seen[lines[i].url], true)) continue;
      for (const auto& [path, n] : traffic[i]) out[path] += n;
    }
    return out;
  }
  [[nodiscard]] std::int64_t rows_of(int s) const {
    return std::count(shard.begin(), shard.end(), s);
  }
};

ShardedList sharded_list(const MultiHost& m) {
  ShardedList list;
  const auto add = [&](const std::string& host, const std::string& path, const std::string& verdict,
                       std::int8_t code, int status, std::map<std::string, int> traffic) {
    const bool valid = !host.empty();
    list.lines.push_back(
        {valid ? m.server->url(path, host) : path, verdict, code, valid ? status : 0});
    list.shard.push_back(static_cast<int>(fnv1a(host) % 3));
    list.traffic.push_back(std::move(traffic));
  };
  const int unknown_status[] = {500, 501, 505, 410, 418};  // none of them retried
  for (std::size_t k = 0; k < m.hosts.size(); ++k) {
    const std::string path = "/delay/" + std::to_string(k + 1);
    add(m.hosts[k], path, "exists", 0, 200, {{path, 1}});
  }
  for (std::size_t k = 0; k < m.hosts.size(); ++k) {
    const std::string path = "/gone/" + std::to_string(k);  // no such route: 404
    add(m.hosts[k], path, "does not exist", 1, 404, {{path, 1}});
    const std::string status = "/status/" + std::to_string(unknown_status[k]);
    add(m.hosts[k], status, "unknown", 2, unknown_status[k], {{status, 1}});
  }
  add("127.0.0.2", "/redirect/2", "exists", 0, 200,
      {{"/redirect/2", 1}, {"/redirect/1", 1}, {"/ok", 1}});
  add("", "not-a-url", "unknown", 2, 0, {});
  for (std::size_t k = m.hosts.size(); k-- > 0;) {  // each host's first URL again
    list.lines.push_back(list.lines[k]);
    list.shard.push_back(list.shard[k]);
    list.traffic.push_back(list.traffic[k]);
  }
  return list;
}

std::map<std::string, int> requests_by_path(const HttpFixture& s) {
  return pmap::test::fixture_stats(s)["requests_by_path"].get<std::map<std::string, int>>();
}

/// Every column of row i but seconds (which may differ between runs).
void expect_same_row(const pmap::test::UrlRows& got, const pmap::test::UrlRows& want, std::size_t i,
                     const std::string& what) {
  const std::string where = "row " + std::to_string(i) + " (" + want.url[i] + ")\n" + what;
  EXPECT_EQ(got.url[i], want.url[i]) << where;
  EXPECT_EQ(got.verdict[i], want.verdict[i]) << where;
  EXPECT_EQ(got.http_status[i], want.http_status[i]) << where;
  EXPECT_EQ(got.attempts[i], want.attempts[i]) << where;
  EXPECT_EQ(got.error[i], want.error[i]) << where;
  EXPECT_EQ(got.final_url[i], want.final_url[i]) << where;
}

void expect_same_rows(const std::string& got_file, const std::string& want_file,
                      const std::string& what) {
  const auto got = pmap::test::read_url_rows(got_file);
  const auto want = pmap::test::read_url_rows(want_file);
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < want.size(); ++i) expect_same_row(got, want, i, what);
}

/// Path -> mtime and bytes of every file under `dir`.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    struct stat st {};
    ::stat(e.path().c_str(), &st);
    files[e.path().string()] = std::to_string(st.st_mtim.tv_sec) + "." +
                               std::to_string(st.st_mtim.tv_nsec) + "\n" + slurp(e.path().string());
  }
  return files;
}

/// The files added, removed or changed between two snapshots ("" when none).
std::string changes(const std::map<std::string, std::string>& before,
                    const std::map<std::string, std::string>& after) {
  std::string out;
  for (const auto& [path, content] : after) {
    const auto it = before.find(path);
    if (it == before.end()) {
      out += "added " + path + "\n";
    } else if (it->second != content) {
      out += "changed " + path + "\n";
    }
  }
  for (const auto& [path, content] : before) {
    if (after.count(path) == 0) out += "removed " + path + "\n";
  }
  return out;
}

/// A usage refusal: exit 2, one "pmap: error:" message with every part, nothing on stdout's
/// summary lines.
void expect_refused(const ProcessResult& r, const std::vector<std::string>& parts,
                    const std::string& what) {
  EXPECT_EQ(r.exit_code, 2) << what;
  EXPECT_NE(r.err.find("pmap: error: "), std::string::npos) << what;
  for (const auto& part : parts) {
    EXPECT_NE(r.err.find(part), std::string::npos) << "message lacks '" << part << "'\n" << what;
  }
  EXPECT_TRUE(report_of(r.out, "urls").empty()) << what;
  EXPECT_EQ(r.out.find("merged "), std::string::npos) << what;
  EXPECT_EQ(r.err.find("HDF5-DIAG"), std::string::npos) << what;
}

TEST(UrlsShardCli, ThreeShardsMergeIntoTheUnshardedRun) {
  clear_array_env();
  const auto fx = start_multi_host_fixture();
  const HttpFixture& server = *fx.server;
  TempDir dir;
  const std::string cwd = dir.path().string();
  const auto list = sharded_list(fx);
  const auto n = static_cast<std::int64_t>(list.lines.size());
  for (int s = 0; s < 3; ++s) ASSERT_GT(list.rows_of(s), 0) << "no URL of the list in shard " << s;
  write_bytes(dir.file("list.txt"), list_text(list.lines));
  const Args common = concat({"urls", "--input", "list.txt", "--timeout", "5"}, kQuiet);

  // The unsharded run: the reference, each distinct URL requested once.
  const std::string full = dir.file("full.h5");
  std::string what;
  pmap::test::fixture_reset(server);
  const auto r = pmap_cmd(concat(common, {"--output", full}), cwd, &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  expect_rows(full, list.lines, what);
  EXPECT_EQ(requests_by_path(server), list.requests(-1)) << what;
  EXPECT_EQ(pmap::test::read_int_attr(full, "/urls", "shard_index"), 0);
  EXPECT_EQ(pmap::test::read_int_attr(full, "/urls", "shard_count"), 1);
  EXPECT_EQ(pmap::test::read_int_attr(full, "/urls", "shard_urls"), n);
  EXPECT_EQ(pmap::test::read_int_attr(full, "/urls", "checked"), n);
  const std::string list_fnv = pmap::test::read_string_attr(full, "/urls", "list_fnv");
  EXPECT_EQ(list_fnv.size(), 16U) << list_fnv;
  const auto want = pmap::test::read_url_rows(full);

  // Shards 0, 1 (under mpiexec -n 2: its two hosts go to different ranks) and 2.
  std::int64_t shard_rows = 0;
  std::vector<std::string> shard_files;
  for (int s = 0; s < 3; ++s) {
    const std::string f = dir.file("s" + std::to_string(s) + ".h5");
    shard_files.push_back(f);
    const Args args = concat(common, {"--output", f, "--shard", std::to_string(s) + "/3"});
    pmap::test::fixture_reset(server);
    const auto rs = s == 1 ? mpi_cmd(2, args, cwd, &what) : pmap_cmd(args, cwd, &what);
    ASSERT_EQ(rs.exit_code, 0) << what;
    EXPECT_EQ(requests_by_path(server), list.requests(s)) << "shard " << s << "\n" << what;
    EXPECT_EQ(report_of(rs.out, "urls")["urls"], std::to_string(list.rows_of(s))) << what;
    EXPECT_EQ(report_of(rs.out, "urls")["ranks"], s == 1 ? "2" : "1") << what;
    const auto rows = pmap::test::read_url_rows(f);
    ASSERT_EQ(rows.size(), list.lines.size()) << what;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (list.shard[i] == s) {
        expect_same_row(rows, want, i, what);
      } else {
        EXPECT_EQ(rows.verdict[i], -1) << "row " << i << " of shard " << list.shard[i] << "\n"
                                       << what;
      }
    }
    EXPECT_EQ(pmap::test::read_int_attr(f, "/urls", "shard_index"), s);
    EXPECT_EQ(pmap::test::read_int_attr(f, "/urls", "shard_count"), 3);
    EXPECT_EQ(pmap::test::read_int_attr(f, "/urls", "urls"), n);
    EXPECT_EQ(pmap::test::read_int_attr(f, "/urls", "shard_urls"), list.rows_of(s));
    EXPECT_EQ(pmap::test::read_int_attr(f, "/urls", "checked"), list.rows_of(s));
    EXPECT_EQ(pmap::test::read_string_attr(f, "/urls", "list_fnv"), list_fnv);
    shard_rows += pmap::test::read_int_attr(f, "/urls", "shard_urls");
  }
  EXPECT_EQ(shard_rows, n);

  // Merged in any order: every column equals the unsharded run, seconds the shard's own.
  const std::string merged = dir.file("merged.h5");
  const auto m =
      pmap_cmd({"merge", merged, shard_files[2], shard_files[0], shard_files[1]}, cwd, &what);
  ASSERT_EQ(m.exit_code, 0) << what;
  std::int64_t verdicts[3] = {0, 0, 0};
  for (const auto& l : list.lines) ++verdicts[l.code];
  EXPECT_NE(m.out.find("merged 3 shards into " + merged + ": " + std::to_string(n) + " URLs (" +
                       std::to_string(verdicts[0]) + " exist, " + std::to_string(verdicts[1]) +
                       " do not exist, " + std::to_string(verdicts[2]) + " unknown)"),
            std::string::npos)
      << what;
  expect_same_rows(merged, full, what);
  const auto got = pmap::test::read_url_rows(merged);
  std::vector<pmap::test::UrlRows> by_shard;
  for (const auto& f : shard_files) by_shard.push_back(pmap::test::read_url_rows(f));
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got.seconds[i], by_shard[static_cast<std::size_t>(list.shard[i])].seconds[i])
        << "row " << i;
  }
  EXPECT_EQ(pmap::test::read_int_attr(merged, "/urls", "shard_count"), 1);
  EXPECT_EQ(pmap::test::read_int_attr(merged, "/urls", "urls"), n);
  EXPECT_EQ(pmap::test::read_int_attr(merged, "/urls", "checked"), n);
  EXPECT_EQ(pmap::test::read_string_attr(merged, "/urls", "list_fnv"), list_fnv);
  EXPECT_FALSE(has_link(merged, "/compute"));
}

TEST(UrlsShardCli, SlurmArrayTaskVariablesPickTheShard) {
  clear_array_env();
  const auto fx = start_multi_host_fixture();
  TempDir dir;
  const std::string cwd = dir.path().string();
  const auto list = sharded_list(fx);
  write_bytes(dir.file("list.txt"), list_text(list.lines));
  const Args common = concat({"urls", "--input", "list.txt", "--timeout", "5"}, kQuiet);
  const std::string flag = dir.file("flag.h5");
  const std::string array = dir.file("array.h5");
  std::string what;
  pmap::test::fixture_reset(*fx.server);
  const auto a = pmap_cmd(concat(common, {"--output", flag, "--shard", "1/3"}), cwd, &what);
  ASSERT_EQ(a.exit_code, 0) << what;
  const auto by_flag = requests_by_path(*fx.server);
  pmap::test::fixture_reset(*fx.server);
  const auto b = pmap_env_cmd(concat(common, {"--output", array}),
                              {"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=3"}, cwd, &what);
  ASSERT_EQ(b.exit_code, 0) << what;
  EXPECT_EQ(requests_by_path(*fx.server), by_flag) << what;
  EXPECT_EQ(by_flag, list.requests(1));
  for (const char* attr : {"shard_index", "shard_count", "shard_urls", "checked", "urls"}) {
    EXPECT_EQ(pmap::test::read_int_attr(array, "/urls", attr),
              pmap::test::read_int_attr(flag, "/urls", attr))
        << attr;
  }
  EXPECT_EQ(pmap::test::read_int_attr(array, "/urls", "shard_index"), 1);
  EXPECT_EQ(pmap::test::read_int_attr(array, "/urls", "shard_count"), 3);
  EXPECT_EQ(pmap::test::read_string_attr(array, "/urls", "list_fnv"),
            pmap::test::read_string_attr(flag, "/urls", "list_fnv"));
  expect_same_rows(array, flag, what);  // the same rows checked, the others not_checked in both
}

TEST(UrlsShardCli, ResumeAfterSigtermChecksOnlyTheRowsLeft) {
  clear_array_env();
  const auto server = start_fixture({"--also-host", "127.0.0.2"});
  TempDir dir;
  const std::string cwd = dir.path().string();
  // 16 slow URLs (300-315 ms, one path each) on two hosts: 2 threads need 2.4 s for them all.
  std::vector<Line> lines;
  for (int i = 0; i < 16; ++i) {
    lines.push_back({server->url("/delay/" + std::to_string(300 + i), i % 2 ? "127.0.0.2" : ""),
                     "exists", 0, 200});
  }
  write_bytes(dir.file("list.txt"), list_text(lines));
  std::string what;
  const std::string full = dir.file("full.h5");
  const auto r =
      pmap_cmd(concat({"urls", "--input", "list.txt", "--output", full, "--threads", "16"}, kQuiet),
               cwd, &what);
  ASSERT_EQ(r.exit_code, 0) << what;

  // Stopped once the fifth request arrived (so at least three were answered and recorded).
  const std::string f = dir.file("out.h5");
  pmap::test::fixture_reset(*server);
  {
    Background pmap(
        {"urls", "--input", "list.txt", "--output", f, "--threads", "2", "--progress", "none"},
        cwd);
    ASSERT_TRUE(pmap.started());
    ASSERT_GE(pmap::test::fixture_wait(*server, "requests", 5), 5) << pmap.output();
    pmap.signal(SIGTERM);
    ASSERT_EQ(pmap.wait_for(std::chrono::seconds(10)), 75) << pmap.output();
  }
  const auto first = pmap::test::read_url_rows(f);
  ASSERT_EQ(first.size(), lines.size());
  std::vector<bool> done(lines.size(), false);
  std::int64_t n_done = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    done[i] = first.verdict[i] >= 0 && first.error[i] != "interrupted";
    if (done[i]) {
      ++n_done;
      EXPECT_EQ(first.verdict[i], 0) << "row " << i;
    } else if (first.verdict[i] >= 0) {
      EXPECT_EQ(first.verdict[i], 2) << "row " << i;  // interrupted: unknown, checked again
    }
  }
  EXPECT_GE(n_done, 3);
  EXPECT_LT(n_done, 16);
  EXPECT_EQ(pmap::test::read_int_attr(f, "/urls", "checked"), n_done);
  const auto unfinished = pmap_cmd({"inspect", f}, cwd, &what);
  EXPECT_NE(unfinished.out.find("run: not finished (" + std::to_string(n_done) + " of 16 URLs"),
            std::string::npos)
      << what;

  // --resume (with more threads, and --print) checks the rest, each of them once.
  pmap::test::fixture_reset(*server);
  const auto resumed = pmap_cmd(concat({"urls", "--input", "list.txt", "--output", f, "--resume",
                                        "--print", "--threads", "8"},
                                       kQuiet),
                                cwd, &what);
  ASSERT_EQ(resumed.exit_code, 0) << what;
  std::map<std::string, int> expected;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!done[i]) expected["/delay/" + std::to_string(300 + i)] = 1;
  }
  EXPECT_EQ(requests_by_path(*server), expected) << what;
  std::vector<std::string> printed;
  for (const auto& l : lines) printed.push_back(l.url + " - exists");
  EXPECT_EQ(verdict_lines(resumed.out), printed) << what;
  EXPECT_EQ(report_of(resumed.out, "urls")["urls"], "16") << what;
  expect_same_rows(f, full, what);
  const auto second = pmap::test::read_url_rows(f);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (done[i]) {
      EXPECT_EQ(second.seconds[i], first.seconds[i]) << "row " << i << " rewritten";
    }
  }
  EXPECT_EQ(pmap::test::read_int_attr(f, "/urls", "checked"), 16);
}

TEST(UrlsShardCli, ResumeRefusesAnotherListShardOrFile) {
  clear_array_env();
  const auto fx = start_multi_host_fixture();
  const HttpFixture& server = *fx.server;
  TempDir dir;
  const std::string cwd = dir.path().string();
  // b.txt: as many URLs as a.txt, one of them another.
  write_bytes(dir.file("a.txt"), server.url("/ok") + "\n" + server.url("/ok", "127.0.0.2") + "\n" +
                                     server.url("/ok", "127.0.0.3") + "\n");
  write_bytes(dir.file("b.txt"), server.url("/ok") + "\n" + server.url("/ok", "127.0.0.2") + "\n" +
                                     server.url("/missing", "127.0.0.3") + "\n");
  const std::string a = dir.file("a.h5");
  const std::string c = dir.file("c.h5");
  std::string what;
  ASSERT_EQ(pmap_cmd(concat({"urls", "--input", "a.txt", "--output", a, "--shard", "0/3"}, kQuiet),
                     cwd, &what)
                .exit_code,
            0)
      << what;
  ASSERT_EQ(pmap_cmd(concat({"run", "--kernel", "pi", "--range", "0:4", "--arg", "samples=100",
                             "--output", c},
                            kQuiet),
                     cwd, &what)
                .exit_code,
            0)
      << what;
  const std::string missing = dir.file("missing.h5");
  struct Case {
    Args args;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {{"--input", "b.txt", "--output", a, "--shard", "0/3"}, {a, "another URL list", "b.txt"}},
      {{"--input", "a.txt", "--output", a, "--shard", "1/3"}, {a, "is shard 0/3, not 1/3"}},
      {{"--input", "a.txt", "--output", a}, {a, "is shard 0/3, not 0/1"}},
      {{"--input", "a.txt", "--output", missing}, {missing, "no such file"}},
      {{"--input", "a.txt", "--output", c}, {c, "no /urls"}},
      {{"--input", "a.txt", "--output", a, "--shard", "0/3", "--force"}, {"--force", "--resume"}},
  };
  for (const auto& k : cases) {
    const auto before = snapshot(cwd);
    pmap::test::fixture_reset(server);
    const auto r = pmap_cmd(concat(concat({"urls", "--resume"}, k.args), kQuiet), cwd, &what);
    expect_refused(r, k.parts, what);
    EXPECT_EQ(changes(before, snapshot(cwd)), "") << what;
    EXPECT_EQ(pmap::test::fixture_stats(server)["requests"].get<int>(), 0) << what;
  }
}

TEST(UrlsShardCli, MergeRefusesUnfinishedForeignOrMixedShards) {
  clear_array_env();
  const auto fx = start_multi_host_fixture();
  const HttpFixture& server = *fx.server;
  TempDir dir;
  const std::string cwd = dir.path().string();
  // One URL per shard of 3; in list.txt shard 0's hangs, in other.txt it answers.
  const std::string tail = server.url("/ok", "127.0.0.2") + "\n" + server.url("/missing") + "\n";
  write_bytes(dir.file("list.txt"), server.url("/hang", "127.0.0.3") + "\n" + tail);
  write_bytes(dir.file("other.txt"), server.url("/ok", "127.0.0.3") + "\n" + tail);
  const auto shard = [&](const std::string& input, int s) {
    const std::string f = dir.file(input.substr(0, input.find('.')) + std::to_string(s) + ".h5");
    std::string what;
    const auto r = pmap_cmd(
        concat({"urls", "--input", input, "--output", f, "--shard", std::to_string(s) + "/3"},
               kQuiet),
        cwd, &what);
    EXPECT_EQ(r.exit_code, 0) << what;
    return f;
  };
  const std::string s1 = shard("list.txt", 1);
  const std::string s2 = shard("list.txt", 2);
  const std::string t0 = shard("other.txt", 0);
  // Shard 0 of list.txt stopped by SIGTERM while its URL hangs: 0 of its 1 URL checked.
  const std::string s0 = dir.file("list0.h5");
  {
    Background pmap({"urls", "--input", "list.txt", "--output", s0, "--shard", "0/3", "--timeout",
                     "60", "--progress", "none"},
                    cwd);
    ASSERT_TRUE(pmap.started());
    ASSERT_EQ(pmap::test::fixture_wait(server, "in_flight", 1), 1) << pmap.output();
    pmap.signal(SIGTERM);
    ASSERT_EQ(pmap.wait_for(std::chrono::seconds(10)), 75) << pmap.output();
  }
  EXPECT_EQ(pmap::test::read_int_attr(s0, "/urls", "checked"), 0);
  EXPECT_EQ(pmap::test::read_int_attr(s0, "/urls", "shard_urls"), 1);
  const std::string c1 = dir.file("compute1.h5");
  std::string what;
  ASSERT_EQ(pmap_cmd(concat({"run", "--kernel", "pi", "--range", "0:6", "--arg", "samples=100",
                             "--shard", "1/3", "--output", c1},
                            kQuiet),
                     cwd, &what)
                .exit_code,
            0)
      << what;

  const std::string out = dir.file("out.h5");
  struct Case {
    std::vector<std::string> shards;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {{s0, s1, s2}, {s0, "0 of its 1 URLs checked", "--shard 0/3 --resume"}},
      {{t0, s1, s2}, {s1, t0, "not a shard of the same URL check", "list fingerprint"}},
      {{s1, c1}, {s1, c1, "/compute", "not shards of one job"}},
      {{s2, t0}, {"shard 1/3 is missing"}},
      {{t0, s1, s1, s2}, {s1, "given twice"}},
  };
  for (const auto& k : cases) {
    const auto before = snapshot(cwd);
    const auto r = pmap_cmd(concat({"merge", out}, k.shards), cwd, &what);
    expect_refused(r, k.parts, what);
    EXPECT_EQ(changes(before, snapshot(cwd)), "") << what;
    EXPECT_FALSE(fs::exists(out)) << what;
  }
}

TEST(UrlsShardCli, RunShardsWithUrlsMergeComputeAndUrls) {
  clear_array_env();
  const auto fx = start_multi_host_fixture();
  TempDir dir;
  const std::string cwd = dir.path().string();
  const auto list = sharded_list(fx);
  write_bytes(dir.file("list.txt"), list_text(list.lines));
  const Args common = concat({"run", "--kernel", "pi", "--range", "0:30", "--arg", "samples=2000",
                              "--urls", "list.txt", "--url-timeout", "5"},
                             kQuiet);
  const std::string full = dir.file("full.h5");
  std::string what;
  const auto r = pmap_cmd(concat(common, {"--output", full}), cwd, &what);
  ASSERT_EQ(r.exit_code, 0) << what;
  expect_rows(full, list.lines, what);
  std::vector<std::string> shards;
  for (int s = 0; s < 3; ++s) {
    shards.push_back(dir.file("s" + std::to_string(s) + ".h5"));
    pmap::test::fixture_reset(*fx.server);
    const auto rs =
        pmap_cmd(concat(common, {"--shard", std::to_string(s) + "/3", "--output", shards.back()}),
                 cwd, &what);
    ASSERT_EQ(rs.exit_code, 0) << what;
    EXPECT_EQ(requests_by_path(*fx.server), list.requests(s)) << what;
    EXPECT_EQ(pmap::test::read_int_attr(shards.back(), "/compute", "shard_index"), s);
    EXPECT_EQ(pmap::test::read_int_attr(shards.back(), "/urls", "shard_index"), s);
    EXPECT_EQ(pmap::test::read_int_attr(shards.back(), "/urls", "shard_count"), 3);
    EXPECT_EQ(pmap::test::read_int_attr(shards.back(), "/urls", "checked"), list.rows_of(s));
  }
  const std::string merged = dir.file("merged.h5");
  const auto m = pmap_cmd({"merge", merged, shards[0], shards[1], shards[2]}, cwd, &what);
  ASSERT_EQ(m.exit_code, 0) << what;
  EXPECT_NE(m.out.find("merged 3 shards into " + merged + ": 30 items (30 ok, 0 failed, 0 timed " +
                       "out); " + std::to_string(list.lines.size()) + " URLs"),
            std::string::npos)
      << what;
  EXPECT_EQ(pmap::test::read_int64s(merged, "/compute/item"),
            pmap::test::read_int64s(full, "/compute/item"));
  EXPECT_EQ(pmap::test::read_int8s(merged, "/compute/status"), std::vector<std::int8_t>(30, 0));
  EXPECT_EQ(pmap::test::read_doubles(merged, "/compute/value"),
            pmap::test::read_doubles(full, "/compute/value"));
  EXPECT_EQ(pmap::test::read_string_attr(merged, "/compute", "checksum"),
            pmap::test::read_string_attr(full, "/compute", "checksum"));
  expect_same_rows(merged, full, what);
  EXPECT_EQ(pmap::test::read_int_attr(merged, "/urls", "checked"),
            static_cast<std::int64_t>(list.lines.size()));
}

}  // namespace
