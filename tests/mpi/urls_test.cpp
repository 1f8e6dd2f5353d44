// run_urls at any rank count, against the local fixture server (tests/support/http_fixture.cpp):
// every row of /urls as expected (verdict, status, attempts, error, final URL) in input order,
// whatever the number of ranks; the per-host limit held across the whole job; duplicates
// requested once in the whole job; the report identical on every rank.
//
// Rank 0 starts the fixture servers and writes the URL list; every rank calls run_urls; rank 0
// reads the file and the servers' counters back. Only rank 0 checks rows (the failure is reduced
// over ranks by tests/mpi/main.cpp); no ASSERT precedes a collective call.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mpi/mpi_support.hpp"
#include "pmap/error.hpp"
#include "pmap/merge.hpp"
#include "pmap/results.hpp"
#include "pmap/stop.hpp"
#include "pmap/url_stage.hpp"
#include "support/h5_read.hpp"
#include "support/http_fixture_process.hpp"

namespace {

using pmap::Verdict;
using pmap::test::HttpFixture;

// Straight to the local fixture even where the environment names a proxy (set before main, while
// the process has one thread; every rank runs this).
[[maybe_unused]] const bool proxies_off =
    ::setenv("no_proxy", "*", 1) == 0 && ::setenv("NO_PROXY", "*", 1) == 0;

int rank() { return pmap::test::world_rank(); }
int size() { return pmap::test::world_size(); }

/// A fixture server started by rank 0; every rank knows its port (0 when it did not start).
class SharedFixture {
 public:
  /// Collective. `required`: a failure to start is reported as a test failure (on every rank).
  SharedFixture(const std::vector<std::string>& args, bool required) {
    std::string why;
    int ports[2] = {0, 0};
    if (rank() == 0) {
      server_ = HttpFixture::start(PMAP_HTTP_FIXTURE, args, &why);
      if (server_) {
        ports[0] = server_->port();
        ports[1] = server_->garbage_port();
        host_ = server_->host();
      }
    }
    MPI_Bcast(ports, 2, MPI_INT, 0, MPI_COMM_WORLD);
    port_ = ports[0];
    garbage_port_ = ports[1];
    why = pmap::mpi::bcast_string(MPI_COMM_WORLD, why);
    if (port_ == 0) {
      if (required) {
        ADD_FAILURE() << why;
      } else if (rank() == 0) {
        std::printf("note: optional fixture server not started (%s)\n", why.c_str());
      }
    }
  }
  [[nodiscard]] bool up() const { return port_ != 0; }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] int garbage_port() const { return garbage_port_; }
  /// Rank 0 only.
  [[nodiscard]] const HttpFixture& server() const { return *server_; }
  [[nodiscard]] std::string url(std::string_view path, std::string_view host = {}) const {
    return HttpFixture::base(host.empty() ? std::string_view(host_) : host, port_) +
           std::string(path);
  }
  /// "HOST:PORT", the fixture's key for a Host header.
  [[nodiscard]] std::string host_key(std::string_view host = {}) const {
    return std::string(host.empty() ? std::string_view(host_) : host) + ":" + std::to_string(port_);
  }

 private:
  std::unique_ptr<HttpFixture> server_;
  std::string host_ = "127.0.0.1";
  int port_ = 0;
  int garbage_port_ = 0;
};

/// Collective: fixture servers on 127.0.0.1 to .4 (a failure to start is a test failure).
std::vector<std::unique_ptr<SharedFixture>> four_loopback_fixtures() {
  std::vector<std::unique_ptr<SharedFixture>> hosts;
  for (const char* address : {"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"}) {
    hosts.push_back(std::make_unique<SharedFixture>(
        std::vector<std::string>{"--host", address, "--max-seconds", "300"}, true));
  }
  return hosts;
}

/// A local port with nothing listening on it.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  return bound ? ntohs(address.sin_port) : 1;
}

bool contains_nocase(std::string text, std::string part) {
  const auto lower = [](std::string& s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  };
  lower(text);
  lower(part);
  return text.find(part) != std::string::npos;
}

/// What one row of /urls must hold.
struct Expected {
  std::string url;  ///< the line (also what /urls/url must hold)
  Verdict verdict = Verdict::Unknown;
  int status = 0;
  int attempts = 1;
  std::string error;       ///< exact error text, unless error_has is set
  std::string error_has;   ///< a case-insensitive part of the error text
  std::string final_url;   ///< exact; defaults to the URL itself for requested rows
  double min_seconds = 0;  ///< the row's seconds lie in [min_seconds, max_seconds]
  double max_seconds = 0.9;
};

Expected answered(const std::string& url, Verdict verdict, int status) {
  Expected e;
  e.url = url;
  e.verdict = verdict;
  e.status = status;
  e.final_url = url;
  return e;
}

Expected failed(const std::string& url, int status, int attempts, const std::string& error_has) {
  Expected e = answered(url, Verdict::Unknown, status);
  e.attempts = attempts;
  e.error_has = error_has;
  return e;
}

Expected invalid(const std::string& line, const std::string& error) {
  Expected e;
  e.url = line;
  e.attempts = 0;
  e.error = error;
  e.max_seconds = 0;
  return e;
}

/// Writes the lines with comments and blank lines between them (which must not become rows).
void write_list(const std::string& path, const std::vector<Expected>& rows) {
  std::ofstream out(path);
  out << "# URL stage test list\n\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out << (i % 3 == 0 ? "  " : "") << rows[i].url << (i % 4 == 0 ? "\t\r" : "") << "\n";
    if (i % 5 == 2) out << "\n   # a comment after row " << i << "\n";
  }
}

/// Report counts {urls, exists, does_not_exist, unknown, invalid} implied by the expectations.
std::array<std::uint64_t, 5> expected_counts(const std::vector<Expected>& rows) {
  std::array<std::uint64_t, 5> c{};
  for (const auto& r : rows) {
    ++c[0];
    ++c[1 + static_cast<int>(r.verdict)];
    if (r.attempts == 0) ++c[4];
  }
  return c;
}

/// Rank 0: every row of `path` against `expected`, in input order.
void check_rows(const std::string& path, const std::vector<Expected>& expected) {
  const auto rows = pmap::test::read_url_rows(path);
  ASSERT_EQ(rows.size(), expected.size());
  ASSERT_EQ(rows.url.size(), expected.size());
  ASSERT_EQ(rows.error.size(), expected.size());
  ASSERT_EQ(rows.final_url.size(), expected.size());
  ASSERT_EQ(rows.http_status.size(), expected.size());
  ASSERT_EQ(rows.attempts.size(), expected.size());
  ASSERT_EQ(rows.seconds.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& e = expected[i];
    const std::string where =
        "row " + std::to_string(i) + " (" + e.url + ") at -n " + std::to_string(size());
    EXPECT_EQ(rows.url[i], e.url) << where;
    EXPECT_EQ(static_cast<int>(rows.verdict[i]), static_cast<int>(e.verdict)) << where;
    EXPECT_EQ(rows.http_status[i], e.status) << where;
    EXPECT_EQ(rows.attempts[i], e.attempts) << where;
    if (e.error_has.empty()) {
      EXPECT_EQ(rows.error[i], e.error) << where;
    } else {
      EXPECT_TRUE(contains_nocase(rows.error[i], e.error_has))
          << where << ": error '" << rows.error[i] << "' lacks '" << e.error_has << "'";
    }
    EXPECT_EQ(rows.final_url[i], e.final_url) << where;
    EXPECT_GE(rows.seconds[i], e.min_seconds) << where;
    EXPECT_LE(rows.seconds[i], e.max_seconds) << where;
    if (e.attempts > 0) {
      EXPECT_GT(rows.seconds[i], 0.0) << where;
    }
  }
}

/// Request count of `path` in a fixture's /stats.
long long requests_of(const nlohmann::json& stats, const std::string& path) {
  return stats["requests_by_path"].value(path, 0LL);
}

pmap::UrlJob quiet_job(const std::string& input, const std::string& output) {
  pmap::UrlJob job;
  job.input = input;
  job.output = output;
  job.progress = pmap::ProgressMode::None;
  job.print_summary = false;
  job.command = "urls_test";
  return job;
}

/// run_urls on this rank; a throw fails the test on this rank and leaves its message in `error`.
pmap::UrlReport run_urls_expecting_no_throw(const pmap::UrlJob& job, std::string& error) {
  pmap::UrlReport report;
  try {
    report = pmap::run_urls(job, MPI_COMM_WORLD);
  } catch (const std::exception& e) {
    error = e.what();
  }
  EXPECT_EQ(error, "") << "run_urls threw on rank " << rank();
  return report;
}

void expect_report(const pmap::UrlReport& report, const std::array<std::uint64_t, 5>& c) {
  const std::string where = "rank " + std::to_string(rank()) + " of " + std::to_string(size());
  EXPECT_EQ(report.urls, c[0]) << where;
  EXPECT_EQ(report.exists, c[1]) << where;
  EXPECT_EQ(report.does_not_exist, c[2]) << where;
  EXPECT_EQ(report.unknown, c[3]) << where;
  EXPECT_EQ(report.invalid, c[4]) << where;
  EXPECT_EQ(report.ranks, size()) << where;
  EXPECT_GT(report.wall_seconds, 0.0) << where;
}

// Every kind of outcome, on several hosts that land on different ranks, in one list. `window`
// bounds how far each rank reads ahead (UrlOptions::window; 0: the default, the whole list here).
void every_row_as_expected(std::size_t window) {
  pmap::reset_stop();
  auto dir = pmap::test::shared_temp_dir();
  const SharedFixture a({"--garbage-port", "--max-seconds", "300"}, true);
  const SharedFixture b({"--host", "127.0.0.2", "--max-seconds", "300"}, false);
  const SharedFixture v6({"--host", "::1", "--max-seconds", "300"}, false);
  if (!a.up()) return;  // every rank: the failure was added by SharedFixture
  const std::string list = dir->file("urls.txt");
  const std::string output = dir->file("urls.h5");

  std::vector<Expected> rows;
  std::array<std::uint64_t, 5> counts{};
  if (rank() == 0) {
    const std::string ok = a.url("/ok");
    auto dup = answered(a.url("/delay/31"), Verdict::Exists, 200);
    auto no_scheme = invalid("example.com/page", "invalid URL: no scheme");

    rows.push_back(answered(ok, Verdict::Exists, 200));
    rows.push_back(answered(a.url("/missing"), Verdict::DoesNotExist, 404));
    rows.push_back(answered(a.url("/error"), Verdict::Unknown, 500));
    rows.push_back(dup);
    auto redirect = answered(a.url("/redirect/2"), Verdict::Exists, 200);
    redirect.final_url = ok;  // 301 -> 301 -> /ok
    rows.push_back(redirect);
    auto loop = failed(a.url("/loop"), 301, 1, "redirect");
    rows.push_back(loop);
    auto ftp = failed(a.url("/to-ftp"), 301, 1, "ftp");
    // The refused hop's target (curl's effective URL); see the note in the report.
    ftp.final_url = "ftp://127.0.0.1/x";
    rows.push_back(ftp);
    rows.push_back(no_scheme);
    auto hang = failed(a.url("/hang"), 0, 1, "timed out");
    hang.min_seconds = 0.9;
    hang.max_seconds = 3.0;
    rows.push_back(hang);
    rows.push_back(answered(a.url("/drip"), Verdict::Exists, 200));  // verdict at the headers
    auto retry_after = answered(a.url("/retry-after/mpi"), Verdict::Exists, 200);
    retry_after.attempts = 2;  // 429 + Retry-After: 1, then 200
    retry_after.min_seconds = 0.95;
    retry_after.max_seconds = 3.0;
    rows.push_back(retry_after);
    auto flaky = answered(a.url("/flaky/mpi/2"), Verdict::Exists, 200);
    flaky.attempts = 3;  // 503, 503, 200
    flaky.max_seconds = 2.0;
    rows.push_back(flaky);
    rows.push_back(dup);
    rows.push_back(invalid("ftp://example.com/file",
                           "invalid URL: unsupported scheme 'ftp' (http and https only)"));
    rows.push_back(
        invalid("http://exa mple.com/", "invalid URL: contains whitespace or control characters"));
    rows.push_back(invalid("https://", "invalid URL: no host"));
    rows.push_back(answered(a.url("/big"), Verdict::Exists, 200));  // 1 GiB body, cut short
    rows.push_back(answered(a.url("/ok", "localhost"), Verdict::Exists, 200));
    rows.push_back(answered(a.url("/missing", "localhost"), Verdict::DoesNotExist, 404));
    auto garbage = failed("http://127.0.0.1:" + std::to_string(a.garbage_port()) + "/ok", 0, 1, "");
    garbage.error_has = "http";  // "Received HTTP/0.9 when not allowed" or the like
    rows.push_back(garbage);
    auto refused = failed("http://127.0.0.1:" + std::to_string(closed_port()) + "/", 0, 3,
                          "connect");  // retried twice
    refused.max_seconds = 2.0;
    rows.push_back(refused);
    if (b.up()) {
      rows.push_back(answered(b.url("/ok"), Verdict::Exists, 200));
      rows.push_back(answered(b.url("/missing"), Verdict::DoesNotExist, 404));
      auto unavailable = failed(b.url("/status/503"), 503, 3, "");  // retried, still 503
      unavailable.max_seconds = 2.0;
      rows.push_back(unavailable);
    }
    if (v6.up()) {
      rows.push_back(answered(v6.url("/ok"), Verdict::Exists, 200));
      rows.push_back(answered(v6.url("/status/410"), Verdict::Unknown, 410));
    }
    rows.push_back(dup);
    rows.push_back(no_scheme);
    rows.push_back(answered(ok, Verdict::Exists, 200));  // duplicate of the first row
    write_list(list, rows);
    counts = expected_counts(rows);

    // The list is meant to give work to several ranks (and all four when every server is up).
    std::set<std::uint64_t> owners;
    for (const auto& r : rows) {
      owners.insert(pmap::host_hash(pmap::url_host(r.url)) % static_cast<std::uint64_t>(size()));
    }
    if (b.up() && v6.up()) {
      EXPECT_EQ(owners.size(), static_cast<std::size_t>(size())) << "some rank got no URLs";
    }
  }
  MPI_Bcast(counts.data(), 5, MPI_UINT64_T, 0, MPI_COMM_WORLD);

  auto job = quiet_job(list, output);
  job.options.threads = 16;
  job.options.per_host = 16;
  job.options.timeout = 1;
  job.options.retries = 2;
  job.options.backoff_base = 0.05;
  job.options.window = window;
  std::string error;
  const pmap::UrlReport report = run_urls_expecting_no_throw(job, error);
  expect_report(report, counts);
  MPI_Barrier(MPI_COMM_WORLD);

  if (rank() == 0 && error.empty()) {
    check_rows(output, rows);
    EXPECT_EQ(pmap::test::read_int_attr(output, "/", "schema_version"), pmap::kSchemaVersion);
    EXPECT_EQ(pmap::test::read_int_attr(output, "/", "mpi_ranks"), size());
    EXPECT_EQ(pmap::test::read_double_attr(output, "/urls", "timeout"), 1.0);
    EXPECT_EQ(pmap::test::read_int_attr(output, "/urls", "threads"), 16);
    EXPECT_GT(pmap::test::read_double_attr(output, "/urls", "wall_seconds"), 0.9);
    EXPECT_EQ(pmap::test::read_int_attr(output, "/urls", "exists"),
              static_cast<std::int64_t>(counts[1]));
    EXPECT_EQ(pmap::test::read_int_attr(output, "/urls", "invalid"),
              static_cast<std::int64_t>(counts[4]));

    // Identical URLs are requested once in the whole job; retries and redirects as counted.
    const auto sa = pmap::test::fixture_stats(a.server());
    EXPECT_EQ(requests_of(sa, "/delay/31"), 1) << sa.dump();
    EXPECT_EQ(requests_of(sa, "/ok"), 3) << "127.0.0.1 (twice in the list), localhost, and the "
                                            "end of the redirect: "
                                         << sa.dump();
    EXPECT_EQ(requests_of(sa, "/retry-after/mpi"), 2) << sa.dump();
    EXPECT_EQ(requests_of(sa, "/flaky/mpi/2"), 3) << sa.dump();
    EXPECT_EQ(requests_of(sa, "/loop"), 11) << "the first request and 10 redirects: " << sa.dump();
    EXPECT_EQ(requests_of(sa, "/to-ftp"), 1) << sa.dump();
    EXPECT_EQ(requests_of(sa, "/hang"), 1) << "a timeout is not retried: " << sa.dump();
    EXPECT_EQ(requests_of(sa, "/big"), 1) << sa.dump();
    EXPECT_EQ(requests_of(sa, "/error"), 1) << "500 is final: " << sa.dump();
    if (b.up()) {
      const auto sb = pmap::test::fixture_stats(b.server());
      EXPECT_EQ(requests_of(sb, "/status/503"), 3) << sb.dump();
      EXPECT_EQ(sb["requests"].get<long long>(), 5) << sb.dump();
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(UrlStage, EveryRowAsExpectedWhateverTheRankCount) { every_row_as_expected(0); }

// A window of one: each rank reads a URL only when its last one finished (or a worker idles), so
// the copies of /ok and /delay/31 come after their first result and are copied from its row.
TEST(UrlStage, RepeatsOutsideTheWindowCopyTheFirstRow) { every_row_as_expected(1); }

// Without a file the counts of repeats come from the verdicts each rank keeps.
TEST(UrlStage, RepeatsAreCountedWithoutAFile) {
  pmap::reset_stop();
  auto dir = pmap::test::shared_temp_dir();
  const SharedFixture a({"--max-seconds", "300"}, true);
  if (!a.up()) return;
  const std::string list = dir->file("repeats.txt");
  std::vector<Expected> rows;
  std::array<std::uint64_t, 5> counts{};
  if (rank() == 0) {
    const auto ok = answered(a.url("/ok"), Verdict::Exists, 200);
    const auto missing = answered(a.url("/missing"), Verdict::DoesNotExist, 404);
    const auto error = answered(a.url("/error"), Verdict::Unknown, 500);
    for (int round = 0; round < 4; ++round) {
      rows.push_back(ok);
      rows.push_back(missing);
      rows.push_back(error);
      rows.push_back(invalid("nope", "invalid URL: no scheme"));
    }
    write_list(list, rows);
    counts = expected_counts(rows);
  }
  MPI_Bcast(counts.data(), 5, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  auto job = quiet_job(list, "");
  job.options.threads = 1;
  job.options.window = 1;
  std::string error;
  expect_report(run_urls_expecting_no_throw(job, error), counts);
  if (rank() == 0) {
    const auto stats = pmap::test::fixture_stats(a.server());
    EXPECT_EQ(stats["requests"].get<long long>(), 3) << stats.dump();
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// per_host=2 must hold for the whole job (URLs are sharded by host, so one rank owns a host),
// while different hosts are checked at the same time; waiting for a slot is not a URL's time.
TEST(UrlStage, PerHostLimitHoldsAcrossTheJob) {
  pmap::reset_stop();
  auto dir = pmap::test::shared_temp_dir();
  const SharedFixture a({"--max-seconds", "300"}, true);
  const SharedFixture b({"--host", "127.0.0.2", "--max-seconds", "300"}, false);
  if (!a.up()) return;
  const std::string list = dir->file("hosts.txt");
  const std::string output = dir->file("hosts.h5");
  constexpr int per_host_urls = 30;
  std::vector<Expected> rows;
  std::array<std::uint64_t, 5> counts{};
  if (rank() == 0) {
    for (int i = 0; i < per_host_urls; ++i) {
      const std::string q = "?n=" + std::to_string(i);
      rows.push_back(answered(a.url("/delay/150" + q), Verdict::Exists, 200));
      rows.push_back(answered(a.url("/delay/150" + q, "localhost"), Verdict::Exists, 200));
      if (b.up()) rows.push_back(answered(b.url("/delay/150" + q), Verdict::Exists, 200));
    }
    // 15 rounds of 0.15 s per host: queueing must not count (the last round waits ~2.1 s). The
    // first round of a host also pays the rank's start-up (threads, handles, connections): 1.3 s
    // under ASan on a loaded 2-core machine, so it is bounded by the queue's length instead.
    const std::size_t first_round = (b.up() ? 3U : 2U) * 2U;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      rows[i].min_seconds = 0.14;
      rows[i].max_seconds = i < first_round ? 2.0 : 1.0;
    }
    write_list(list, rows);
    counts = expected_counts(rows);
  }
  MPI_Bcast(counts.data(), 5, MPI_UINT64_T, 0, MPI_COMM_WORLD);

  auto job = quiet_job(list, output);
  job.options.threads = 8;
  job.options.per_host = 2;
  job.options.timeout = 2;  // shorter than the 2.25 s a host's queue takes
  std::string error;
  const pmap::UrlReport report = run_urls_expecting_no_throw(job, error);
  expect_report(report, counts);
  EXPECT_GE(report.wall_seconds, 0.15 * per_host_urls / 2 - 0.1)
      << "30 requests of 0.15 s per host, 2 at a time";
  MPI_Barrier(MPI_COMM_WORLD);

  if (rank() == 0 && error.empty()) {
    check_rows(output, rows);
    const auto sa = pmap::test::fixture_stats(a.server());
    const auto& by_host = sa["max_concurrent_by_host"];
    EXPECT_LE(by_host.value(a.host_key(), 0), 2) << sa.dump();
    EXPECT_LE(by_host.value(a.host_key("localhost"), 0), 2) << sa.dump();
    EXPECT_EQ(by_host.value(a.host_key(), 0), 2) << "the limit was not used: " << sa.dump();
    EXPECT_GT(sa["max_concurrent"].get<int>(), 2)
        << "one host waited behind the other: " << sa.dump();
    EXPECT_EQ(sa["requests"].get<int>(), 2 * per_host_urls) << sa.dump();
    if (b.up()) {
      const auto sb = pmap::test::fixture_stats(b.server());
      EXPECT_LE(sb["max_concurrent_by_host"].value(b.host_key(), 0), 2) << sb.dump();
      EXPECT_EQ(sb["requests"].get<int>(), per_host_urls) << sb.dump();
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// A stop requested on one rank (SIGTERM to one process, as the README promises for the compute
// stage: "one rank is enough") stops the URL stage on every rank: no rank goes on through its
// share of the list. Four hosts, one per rank at -n 4 (two per rank at -n 2).
TEST(UrlStage, StopOnOneRankStopsEveryRank) {
  pmap::reset_stop();
  auto dir = pmap::test::shared_temp_dir();
  const auto hosts = four_loopback_fixtures();
  for (const auto& h : hosts) {
    if (!h->up()) return;  // every rank: the failure was added by SharedFixture
  }
  const std::string list = dir->file("stop.txt");
  const std::string output = dir->file("stop.h5");
  constexpr int per_host_urls = 12;  // 12 x 0.4 s, 2 at a time: 2.4 s of work per host
  std::vector<std::string> urls;
  if (rank() == 0) {
    std::ofstream out(list);
    for (int i = 0; i < per_host_urls; ++i) {
      for (const auto& h : hosts) {
        urls.push_back(h->url("/delay/400?n=" + std::to_string(i)));
        out << urls.back() << "\n";
      }
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);

  auto job = quiet_job(list, output);
  job.options.threads = 2;
  job.options.per_host = 2;
  job.options.timeout = 5;
  std::thread stopper;
  if (rank() == size() - 1) {
    stopper = std::thread([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      pmap::request_stop(SIGTERM);
    });
  }
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  const pmap::UrlReport report = run_urls_expecting_no_throw(job, error);
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (stopper.joinable()) stopper.join();
  EXPECT_LT(took, 1.5) << "rank " << rank() << " of " << size() << " went on after rank "
                       << size() - 1 << " was asked to stop";
  EXPECT_EQ(report.urls, 4U * per_host_urls) << "rank " << rank();
  MPI_Barrier(MPI_COMM_WORLD);
  pmap::reset_stop();  // the flag is process-wide: later tests must not see it

  if (rank() == 0 && error.empty()) {
    const auto rows = pmap::test::read_url_rows(output);
    ASSERT_EQ(rows.size(), urls.size());
    std::map<std::string, int> not_checked;  // by host
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const std::string host = pmap::url_host(urls[i]);
      not_checked[host] += 0;
      if (rows.verdict[i] == -1) {
        ++not_checked[host];
        continue;
      }
      EXPECT_EQ(rows.url[i], urls[i]) << "row " << i;
      if (rows.verdict[i] != 0) {
        EXPECT_EQ(rows.verdict[i], 2) << "row " << i;
        EXPECT_EQ(rows.error[i], "interrupted") << "row " << i;
      }
    }
    for (const auto& [host, n] : not_checked) {
      EXPECT_GT(n, 0) << "every URL of " << host << " was checked although the job was stopped "
                      << "0.3 s into 2.4 s of work (rank "
                      << pmap::host_hash(host) % static_cast<std::uint64_t>(size()) << " of "
                      << size() << " owns it)";
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// Shard files that hold only their own URLs (elastic blocks: a file scales with its shard, not
// with the list): each file has exactly its shard's rows, /urls/row naming their rows in the
// list; a stopped shard resumes from its file; `pmap merge` of them equals the unsharded run, and
// refuses a set with a shard missing. Four hosts in three shards (a shard may be empty).
TEST(UrlStage, ShardFilesOfTheirOwnRowsResumeAndMergeToTheWholeList) {
  pmap::reset_stop();
  auto dir = pmap::test::shared_temp_dir();
  const auto hosts = four_loopback_fixtures();
  for (const auto& h : hosts) {
    if (!h->up()) return;
  }
  constexpr int kShards = 3;
  const std::string list = dir->file("shards.txt");
  std::vector<std::string> urls;  // the list's URL lines, in order (rank 0)
  if (rank() == 0) {
    std::ofstream out(list);
    out << "# a comment, not a row\n";
    for (int i = 0; i < 8; ++i) {
      for (const auto& h : hosts) {
        urls.push_back(h->url((i % 3 == 2 ? "/missing?n=" : "/delay/400?n=") + std::to_string(i)));
        out << urls.back() << "\n";
      }
    }
    for (const char* extra : {"not a url", "ftp://example.com/x"}) {
      urls.emplace_back(extra);
      out << extra << "\n";
    }
    urls.push_back(urls.front());  // a repeat: same host, same shard
    out << urls.back() << "\n";
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const auto job_for = [&](const std::string& output, int shard) {
    auto job = quiet_job(list, output);
    job.options.threads = 4;
    job.options.per_host = 2;
    job.options.timeout = 5;
    job.options.retries = 0;
    job.shard_index = shard;
    job.shard_count = kShards;
    job.shard_rows_only = true;
    return job;
  };
  std::string error;
  auto whole = quiet_job(list, dir->file("whole.h5"));
  whole.options = job_for("", 0).options;
  run_urls_expecting_no_throw(whole, error);

  // The shard of the most hosts is stopped a moment in, then resumed; the others run once.
  std::vector<std::string> files;
  for (int s = 0; s < kShards; ++s)
    files.push_back(dir->file("shard-" + std::to_string(s) + ".h5"));
  int stopped = 0;  // rank 0 knows the hosts' addresses
  if (rank() == 0) {
    std::array<int, kShards> hosts_in{};
    for (const auto& h : hosts) ++hosts_in[pmap::host_hash(pmap::url_host(h->url("/"))) % kShards];
    stopped =
        static_cast<int>(std::max_element(hosts_in.begin(), hosts_in.end()) - hosts_in.begin());
  }
  MPI_Bcast(&stopped, 1, MPI_INT, 0, MPI_COMM_WORLD);
  {
    std::thread stopper;
    if (rank() == size() - 1) {
      stopper = std::thread([] {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        pmap::request_stop(SIGTERM);
      });
    }
    const pmap::UrlReport cut =
        run_urls_expecting_no_throw(job_for(files[stopped], stopped), error);
    if (stopper.joinable()) stopper.join();
    MPI_Barrier(MPI_COMM_WORLD);
    pmap::reset_stop();
    EXPECT_TRUE(cut.interrupted) << "rank " << rank();
    EXPECT_LT(cut.checked, cut.urls)
        << "the stop came after the shard's end: nothing to resume: " << cut.line() << " rank "
        << rank();
    auto again = job_for(files[stopped], stopped);
    again.resume = true;
    const pmap::UrlReport r = run_urls_expecting_no_throw(again, error);
    EXPECT_EQ(r.checked, r.urls) << "rank " << rank();
  }
  for (int s = 0; s < kShards; ++s) {
    if (s != stopped) run_urls_expecting_no_throw(job_for(files[s], s), error);
  }
  MPI_Barrier(MPI_COMM_WORLD);

  if (rank() == 0 && error.empty()) {
    std::size_t rows_in_shards = 0;
    for (int s = 0; s < kShards; ++s) {
      std::vector<std::int64_t> want;  // the list rows of the shard's URLs
      for (std::size_t i = 0; i < urls.size(); ++i) {
        if (pmap::host_hash(pmap::url_host(urls[i])) % kShards == static_cast<std::uint64_t>(s))
          want.push_back(static_cast<std::int64_t>(i));
      }
      const auto rows = pmap::test::read_url_rows(files[s]);
      EXPECT_EQ(pmap::test::read_int64s(files[s], "/urls/row"), want) << files[s];
      ASSERT_EQ(rows.size(), want.size()) << files[s] << ": not only the shard's rows";
      EXPECT_EQ(pmap::test::read_int_attr(files[s], "/urls", "shard_urls"),
                static_cast<std::int64_t>(want.size()));
      for (std::size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(rows.url[i], urls[static_cast<std::size_t>(want[i])]) << files[s] << " row " << i;
        EXPECT_GE(rows.verdict[i], 0) << files[s] << " row " << i;
        EXPECT_NE(rows.error[i], "interrupted") << files[s] << " row " << i;
      }
      rows_in_shards += want.size();
    }
    EXPECT_EQ(rows_in_shards, urls.size());

    const std::string merged = dir->file("merged.h5");
    const pmap::MergeReport m = pmap::merge_shards(merged, files, false, "urls_test merge");
    EXPECT_EQ(m.urls, urls.size());
    const auto a = pmap::test::read_url_rows(merged);
    const auto b = pmap::test::read_url_rows(dir->file("whole.h5"));
    EXPECT_EQ(a.url, b.url);
    EXPECT_EQ(a.verdict, b.verdict);
    EXPECT_EQ(a.http_status, b.http_status);
    EXPECT_EQ(a.error, b.error);
    const std::vector<std::string> some(files.begin() + 1, files.end());
    EXPECT_THROW(pmap::merge_shards(dir->file("some.h5"), some, false, "x"), pmap::UsageError);
    EXPECT_FALSE(std::filesystem::exists(dir->file("some.h5")));
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// A list with no URL at all (comments and blank lines only): an empty /urls, zero counts.
TEST(UrlStage, EmptyListWritesEmptyGroup) {
  pmap::reset_stop();
  auto dir = pmap::test::shared_temp_dir();
  const std::string list = dir->file("empty.txt");
  const std::string output = dir->file("empty.h5");
  if (rank() == 0) std::ofstream(list) << "# nothing here\n\n   \n#\n";
  MPI_Barrier(MPI_COMM_WORLD);
  std::string error;
  const pmap::UrlReport report = run_urls_expecting_no_throw(quiet_job(list, output), error);
  expect_report(report, {0, 0, 0, 0, 0});
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0 && error.empty()) {
    const auto rows = pmap::test::read_url_rows(output);
    EXPECT_EQ(rows.size(), 0U);
    EXPECT_EQ(rows.url.size(), 0U);
    EXPECT_EQ(pmap::test::read_int_attr(output, "/urls", "urls"), 0);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// Bad input or an existing output: UsageError on every rank, nothing written or replaced.
TEST(UrlStage, UsageErrorsOnEveryRankBeforeAnythingIsWritten) {
  pmap::reset_stop();
  auto dir = pmap::test::shared_temp_dir();
  const std::string list = dir->file("one.txt");
  const std::string existing = dir->file("existing.h5");
  if (rank() == 0) {
    std::ofstream(list) << "http://127.0.0.1:1/\n";
    std::ofstream(existing) << "not an HDF5 file, must survive\n";
  }
  MPI_Barrier(MPI_COMM_WORLD);

  EXPECT_THROW(
      pmap::run_urls(quiet_job(dir->file("missing.txt"), dir->file("out.h5")), MPI_COMM_WORLD),
      pmap::UsageError)
      << "rank " << rank();
  EXPECT_THROW(pmap::run_urls(quiet_job(list, existing), MPI_COMM_WORLD), pmap::UsageError)
      << "rank " << rank();
  auto zero_threads = quiet_job(list, dir->file("out.h5"));
  zero_threads.options.threads = 0;
  EXPECT_THROW(pmap::run_urls(zero_threads, MPI_COMM_WORLD), pmap::UsageError) << "rank " << rank();
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) {
    EXPECT_FALSE(std::filesystem::exists(dir->file("out.h5")));
    std::ifstream in(existing);
    std::string content;
    std::getline(in, content);
    EXPECT_EQ(content, "not an HDF5 file, must survive");
    EXPECT_FALSE(std::getline(in, content)) << "the file grew";
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

}  // namespace
