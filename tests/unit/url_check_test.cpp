// pmap — URL stage tests against the local fixture server (tests/support/http_fixture.cpp).
#include "pmap/url_check.hpp"

#include <curl/curl.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "detail/fingerprint_set.hpp"
#include "detail/repeat_filter.hpp"
#include "pmap/error.hpp"
#include "pmap/limits.hpp"
#include "support/http_fixture_process.hpp"

/// Interposed on libc's resolver for this test binary: names under .slow-dns.test take 5 s to
/// fail, everything else goes to the real getaddrinfo. Lets a test prove that a slow DNS cannot
/// hold a URL past its timeout (libcurl waits for its resolver thread unless CURLOPT_QUICK_EXIT).
extern "C" int getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                           addrinfo** result) {
  if (node != nullptr && std::string_view(node).ends_with(".slow-dns.test")) {
    std::this_thread::sleep_for(std::chrono::seconds(5));
    return EAI_NONAME;
  }
  using Resolver = int (*)(const char*, const char*, const addrinfo*, addrinfo**);
  static const auto real = reinterpret_cast<Resolver>(::dlsym(RTLD_NEXT, "getaddrinfo"));
  return real(node, service, hints, result);
}

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Straight to the local fixture even where the environment names a proxy (set before main,
// while the process has one thread).
[[maybe_unused]] const bool proxies_off =
    ::setenv("no_proxy", "*", 1) == 0 && ::setenv("NO_PROXY", "*", 1) == 0;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool contains(std::string_view text, std::string_view part) {
  std::string a(text);
  std::string b(part);
  const auto lower = [](std::string& s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  };
  lower(a);
  lower(b);
  return a.find(b) != std::string::npos;
}

using FixtureServer = pmap::test::HttpFixture;

/// The server shared by the tests of this process (gtest_discover_tests runs one test a process).
FixtureServer& server() {
  static const std::unique_ptr<FixtureServer> instance = [] {
    std::string why;
    auto started = FixtureServer::start(PMAP_HTTP_FIXTURE, {"--garbage-port"}, &why);
    if (!started) throw std::runtime_error(why);
    return started;
  }();
  return *instance;
}

nlohmann::json stats() { return pmap::test::fixture_stats(server()); }
void reset_stats() { pmap::test::fixture_reset(server()); }

/// Options that keep the tests quick: short back-off, modest timeout.
pmap::UrlOptions quick() {
  pmap::UrlOptions options;
  options.threads = 8;
  options.timeout = 5;
  options.backoff_base = 0.05;
  return options;
}

/// Everything check() reported, with checks of its own promises (each index at most once,
/// callbacks never concurrent).
struct Report {
  std::vector<std::optional<pmap::UrlResult>> results;
  std::vector<int> calls;
  int overlapping_calls = 0;
  double seconds = 0;

  [[nodiscard]] std::size_t reported() const {
    return static_cast<std::size_t>(
        std::count_if(calls.begin(), calls.end(), [](int n) { return n > 0; }));
  }
};

Report run_check(const std::vector<std::string>& urls, const pmap::UrlOptions& options,
                 const std::atomic<bool>* stop = nullptr) {
  Report report;
  report.results.resize(urls.size());
  report.calls.resize(urls.size());
  std::atomic<int> inside{0};
  const pmap::UrlChecker checker(options);
  const auto start = Clock::now();
  checker.check(
      urls,
      [&](std::size_t index, const pmap::UrlResult& result) {
        if (inside.fetch_add(1) != 0) ++report.overlapping_calls;
        std::this_thread::yield();
        report.results.at(index) = result;
        ++report.calls.at(index);
        inside.fetch_sub(1);
      },
      stop);
  report.seconds = seconds_since(start);
  for (const int n : report.calls) EXPECT_LE(n, 1) << "an index was reported twice";
  EXPECT_EQ(report.overlapping_calls, 0) << "on_result ran concurrently";
  return report;
}

pmap::UrlResult check_url(const std::string& url, const pmap::UrlOptions& options = quick()) {
  const Report report = run_check({url}, options);
  if (!report.results.at(0)) throw std::runtime_error("no result for " + url);
  return *report.results[0];
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
  if (!bound) throw std::runtime_error("no free local port");
  return ntohs(address.sin_port);
}

// ---- single URLs ----------------------------------------------------------------------------

TEST(UrlChecker, Status200Exists) {
  const auto result = check_url(server().url("/ok"));
  EXPECT_EQ(result.verdict, pmap::Verdict::Exists);
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.final_url, server().url("/ok"));
  EXPECT_GT(result.seconds, 0.0);
  EXPECT_LT(result.seconds, 2.0);
}

TEST(UrlChecker, Status404DoesNotExist) {
  const auto result = check_url(server().url("/missing"));
  EXPECT_EQ(result.verdict, pmap::Verdict::DoesNotExist);
  EXPECT_EQ(result.http_status, 404);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(result.error, "");
}

TEST(UrlChecker, Status500IsUnknownAndNotRetried) {
  const auto result = check_url(server().url("/error"));
  EXPECT_EQ(result.verdict, pmap::Verdict::Unknown);
  EXPECT_EQ(result.http_status, 500);
  EXPECT_EQ(result.attempts, 1);
}

TEST(UrlChecker, OtherStatusesAreUnknown) {
  for (const int status : {201, 204, 403, 410}) {
    const auto result = check_url(server().url("/status/" + std::to_string(status)));
    EXPECT_EQ(result.verdict, pmap::Verdict::Unknown) << status;
    EXPECT_EQ(result.http_status, status);
    EXPECT_EQ(result.attempts, 1) << status;
  }
}

TEST(UrlChecker, RedirectsAreFollowed) {
  const auto result = check_url(server().url("/redirect/3"));
  EXPECT_EQ(result.verdict, pmap::Verdict::Exists);
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_TRUE(result.final_url.ends_with("/ok")) << result.final_url;
}

TEST(UrlChecker, RedirectLoopIsUnknown) {
  auto options = quick();
  options.max_redirects = 5;
  const auto result = check_url(server().url("/loop"), options);
  EXPECT_EQ(result.verdict, pmap::Verdict::Unknown);
  EXPECT_EQ(result.http_status, 301);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_TRUE(contains(result.error, "redirect")) << result.error;
}

TEST(UrlChecker, RedirectToFtpIsRefused) {
  const auto result = check_url(server().url("/to-ftp"));
  EXPECT_EQ(result.verdict, pmap::Verdict::Unknown);
  EXPECT_EQ(result.http_status, 301);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_TRUE(contains(result.error, "ftp")) << result.error;
}

TEST(UrlChecker, HangEndsAtTimeout) {
  auto options = quick();
  options.timeout = 1;
  const auto start = Clock::now();
  const auto result = check_url(server().url("/hang"), options);
  EXPECT_LT(seconds_since(start), 3.0);
  EXPECT_GE(result.seconds, 0.9);
  EXPECT_EQ(result.verdict, pmap::Verdict::Unknown);
  EXPECT_EQ(result.http_status, 0);
  EXPECT_EQ(result.attempts, 1) << "a timeout is not retried";
  EXPECT_TRUE(contains(result.error, "timed out")) << result.error;
}

// The verdict at the headers: a body that comes slowly (/drip: a byte a second) or never ends
// (/endless/N: a chunk a second, for ever) costs nothing; the status decides, at once.
TEST(UrlChecker, SlowBodyVerdictAtHeaders) {
  auto options = quick();
  options.timeout = 5;
  const auto result = check_url(server().url("/drip"), options);
  EXPECT_LT(result.seconds, 0.5) << "waited for the body";
  EXPECT_EQ(result.verdict, pmap::Verdict::Exists);
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(result.error, "");
}

TEST(UrlChecker, EndlessBodyVerdictAtHeaders) {
  reset_stats();
  auto options = quick();
  options.timeout = 5;
  options.retries = 0;
  struct Case {
    int status;
    pmap::Verdict verdict;
  };
  for (const Case c : {Case{200, pmap::Verdict::Exists}, Case{404, pmap::Verdict::DoesNotExist},
                       Case{500, pmap::Verdict::Unknown}, Case{503, pmap::Verdict::Unknown}}) {
    const auto result = check_url(server().url("/endless/" + std::to_string(c.status)), options);
    SCOPED_TRACE(c.status);
    EXPECT_LT(result.seconds, 0.5) << "waited for the body";
    EXPECT_EQ(result.verdict, c.verdict);
    EXPECT_EQ(result.http_status, c.status);
    EXPECT_EQ(result.attempts, 1);
    EXPECT_EQ(result.error, "") << "a cut body is not an error";
  }
  // Transient statuses are still retried when their body never ends.
  options.retries = 2;
  const auto retried = check_url(server().url("/endless/503?retried"), options);
  EXPECT_EQ(retried.attempts, 3);
  EXPECT_EQ(retried.http_status, 503);
  EXPECT_LT(retried.seconds, 2.0);
  EXPECT_EQ(stats()["requests_by_path"].value("/endless/503", 0), 4);
}

TEST(UrlChecker, RedirectToEndlessBodyVerdictAtFinalHeaders) {
  auto options = quick();
  options.timeout = 5;
  const auto result = check_url(server().url("/to-endless"), options);
  EXPECT_LT(result.seconds, 0.5);
  EXPECT_EQ(result.verdict, pmap::Verdict::Exists) << "the 302 is not the final response";
  EXPECT_EQ(result.http_status, 200);
  EXPECT_TRUE(result.final_url.ends_with("/endless/200")) << result.final_url;
  options.method = pmap::HttpMethod::Head;
  const auto head = check_url(server().url("/to-endless"), options);
  EXPECT_EQ(head.verdict, pmap::Verdict::Exists);
  EXPECT_EQ(head.attempts, 1);
}

TEST(UrlChecker, CutBodiesDoNotSpoilTheNextRequest) {
  // One worker: the connection of a cut transfer is closed, the next URL gets a fresh one.
  std::vector<std::string> urls;
  for (int i = 0; i < 6; ++i) {
    urls.push_back(server().url("/endless/200?c=" + std::to_string(i)));
    urls.push_back(server().url("/missing?c=" + std::to_string(i)));
  }
  auto options = quick();
  options.threads = 1;
  const auto report = run_check(urls, options);
  ASSERT_EQ(report.reported(), urls.size());
  for (std::size_t i = 0; i < urls.size(); ++i) {
    EXPECT_EQ(report.results[i]->verdict,
              i % 2 == 0 ? pmap::Verdict::Exists : pmap::Verdict::DoesNotExist)
        << urls[i];
  }
  EXPECT_LT(report.seconds, 2.0);
}

TEST(UrlChecker, RetryAfterIsHonoured) {
  const auto result = check_url(server().url("/retry-after/honoured"));
  EXPECT_EQ(result.verdict, pmap::Verdict::Exists);
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(result.attempts, 2);
  EXPECT_GE(result.seconds, 0.95) << "Retry-After: 1 was not waited for";
  EXPECT_LT(result.seconds, 3.0);
}

TEST(UrlChecker, RetryAfterIsCapped) {
  auto options = quick();
  options.retry_after_cap = 0.1;
  const auto result = check_url(server().url("/retry-after/capped"), options);
  EXPECT_EQ(result.verdict, pmap::Verdict::Exists);
  EXPECT_EQ(result.attempts, 2);
  EXPECT_LT(result.seconds, 0.8);
}

TEST(UrlChecker, Retries503ThenSucceeds) {
  const auto result = check_url(server().url("/flaky/twice/2"));
  EXPECT_EQ(result.verdict, pmap::Verdict::Exists);
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(result.attempts, 3);
}

TEST(UrlChecker, GivesUpAfterRetries) {
  auto options = quick();
  options.retries = 2;
  const auto result = check_url(server().url("/flaky/often/5"), options);
  EXPECT_EQ(result.verdict, pmap::Verdict::Unknown);
  EXPECT_EQ(result.http_status, 503);
  EXPECT_EQ(result.attempts, 3);
  options.retries = 0;
  const auto once = check_url(server().url("/flaky/once/5"), options);
  EXPECT_EQ(once.attempts, 1);
}

TEST(UrlChecker, HeadIsSent) {
  reset_stats();
  auto options = quick();
  options.method = pmap::HttpMethod::Head;
  const auto result = check_url(server().url("/ok"), options);
  EXPECT_EQ(result.verdict, pmap::Verdict::Exists);
  EXPECT_EQ(result.attempts, 1);
  const auto counts = stats();
  EXPECT_EQ(counts["requests_by_method"].value("HEAD", 0), 1);
  EXPECT_EQ(counts["requests_by_method"].value("GET", 0), 0);
}

TEST(UrlChecker, HeadFallsBackToGetOn405) {
  reset_stats();
  auto options = quick();
  options.method = pmap::HttpMethod::Head;
  const auto result = check_url(server().url("/nohead"), options);
  EXPECT_EQ(result.verdict, pmap::Verdict::Exists);
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(result.attempts, 2);
  const auto counts = stats();
  EXPECT_EQ(counts["requests_by_method"].value("HEAD", 0), 1);
  EXPECT_EQ(counts["requests_by_method"].value("GET", 0), 1);
}

TEST(UrlChecker, HugeBodyIsCutShort) {
  const auto start = Clock::now();
  const auto result = check_url(server().url("/big"));
  EXPECT_LT(seconds_since(start), 2.0);
  EXPECT_EQ(result.verdict, pmap::Verdict::Exists);
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(result.error, "");
}

TEST(UrlChecker, ConnectionRefusedIsRetriedThenUnknown) {
  auto options = quick();
  options.retries = 2;
  const auto result = check_url("http://127.0.0.1:" + std::to_string(closed_port()) + "/", options);
  EXPECT_EQ(result.verdict, pmap::Verdict::Unknown);
  EXPECT_EQ(result.http_status, 0);
  EXPECT_EQ(result.attempts, 3);
  EXPECT_TRUE(contains(result.error, "connect")) << result.error;
  EXPECT_LT(result.seconds, 2.0);
}

TEST(UrlChecker, UnresolvableHostIsUnknown) {
  auto options = quick();
  options.timeout = 3;
  const auto result = check_url("http://nonexistent.invalid/", options);
  EXPECT_EQ(result.verdict, pmap::Verdict::Unknown);
  EXPECT_EQ(result.http_status, 0);
  EXPECT_EQ(result.attempts, 1) << "DNS failures are not retried";
  EXPECT_TRUE(contains(result.error, "resolve")) << result.error;
  EXPECT_LT(result.seconds, 4.0);
}

TEST(UrlChecker, SlowDnsEndsAtTimeout) {
  auto options = quick();
  options.timeout = 1;
  const auto start = Clock::now();
  const auto result = check_url("http://host.slow-dns.test/", options);
  EXPECT_LT(seconds_since(start), 2.5) << "waited for the resolver thread";
  EXPECT_EQ(result.verdict, pmap::Verdict::Unknown);
  EXPECT_EQ(result.http_status, 0);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_TRUE(contains(result.error, "timed out")) << result.error;
}

TEST(UrlChecker, GarbageReplyIsUnknown) {
  ASSERT_NE(server().garbage_port(), 0);
  const auto result =
      check_url("http://127.0.0.1:" + std::to_string(server().garbage_port()) + "/ok");
  EXPECT_EQ(result.verdict, pmap::Verdict::Unknown);
  EXPECT_EQ(result.http_status, 0);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_FALSE(result.error.empty());
}

TEST(UrlChecker, Ipv6Loopback) {
  std::string why;
  const auto v6 = FixtureServer::start(PMAP_HTTP_FIXTURE, {"--host", "::1"}, &why);
  if (!v6) GTEST_SKIP() << "no IPv6 loopback here: " << why;
  const std::string url = "http://[::1]:" + std::to_string(v6->port()) + "/ok";
  EXPECT_EQ(pmap::url_host(url), "[::1]");
  const auto result = check_url(url);
  EXPECT_EQ(result.verdict, pmap::Verdict::Exists);
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(result.final_url, url);
}

TEST(UrlChecker, CheckOneMatchesCheck) {
  const pmap::UrlChecker checker(quick());
  EXPECT_EQ(checker.check_one(server().url("/missing")).verdict, pmap::Verdict::DoesNotExist);
  const auto invalid = checker.check_one("not a url");
  EXPECT_EQ(invalid.verdict, pmap::Verdict::Unknown);
  EXPECT_EQ(invalid.attempts, 0);
  EXPECT_TRUE(invalid.error.starts_with("invalid URL"));
  EXPECT_TRUE(checker.options().user_agent.starts_with("pmap/")) << checker.options().user_agent;
}

// ---- lists ----------------------------------------------------------------------------------

TEST(UrlChecker, DuplicatesAreRequestedOnce) {
  reset_stats();
  const std::string dup = server().url("/delay/7");
  const std::vector<std::string> urls{dup, dup, server().url("/ok"), dup, dup};
  const auto report = run_check(urls, quick());
  ASSERT_EQ(report.reported(), urls.size());
  for (const auto& result : report.results) {
    EXPECT_EQ(result->verdict, pmap::Verdict::Exists);
    EXPECT_EQ(result->attempts, 1);
  }
  const auto counts = stats();
  EXPECT_EQ(counts["requests_by_path"].value("/delay/7", 0), 1);
  EXPECT_EQ(counts["requests"], 2);
}

TEST(UrlChecker, DuplicatesFarApartAreRequestedOnce) {
  // One worker and a window of one: each URL is finished before the next is read, so the copies
  // of A and B come after their result (kept by check() for them), not merged into a running job.
  reset_stats();
  const std::string a = server().url("/delay/5?a");
  const std::string b = server().url("/missing");
  const std::vector<std::string> urls{a, b, server().url("/ok"), a, b, "bad", a};
  auto options = quick();
  options.threads = 1;
  options.window = 1;
  const auto report = run_check(urls, options);
  ASSERT_EQ(report.reported(), urls.size());
  for (const std::size_t i : {0, 3, 6}) {
    EXPECT_EQ(report.results[i]->verdict, pmap::Verdict::Exists) << i;
    EXPECT_EQ(report.results[i]->url, a) << i;
  }
  for (const std::size_t i : {1, 4})
    EXPECT_EQ(report.results[i]->verdict, pmap::Verdict::DoesNotExist);
  EXPECT_EQ(report.results[5]->error, "invalid URL: no scheme");
  EXPECT_EQ(stats()["requests"], 3);
}

// ---- streams of URLs ------------------------------------------------------------------------

/// What check_stream() reported, and how far it had read `urls` at each result.
struct StreamReport {
  std::vector<std::size_t> results;                          // indices, in report order
  std::vector<std::pair<std::size_t, std::size_t>> repeats;  // (index, first index)
  std::size_t max_read_ahead = 0;  // URLs read but not yet reported, at most
};

StreamReport run_stream(const std::vector<std::string>& urls, const pmap::UrlOptions& options,
                        const pmap::UrlChecker::MayRepeat& may_repeat = nullptr) {
  StreamReport report;
  std::size_t read = 0;  // next() runs in the calling thread, the callbacks in workers
  std::mutex m;
  const pmap::UrlChecker checker(options);
  checker.check_stream(
      [&](std::size_t& index, std::string& url) {
        const std::lock_guard lock(m);
        if (read == urls.size()) return false;
        index = read;
        url = urls[read++];
        const std::size_t done = report.results.size() + report.repeats.size();
        report.max_read_ahead = std::max(report.max_read_ahead, read - done);
        return true;
      },
      [&](std::size_t index, const pmap::UrlResult& result) {
        const std::lock_guard lock(m);
        EXPECT_EQ(result.url, urls.at(index));
        report.results.push_back(index);
      },
      [&](std::size_t index, std::size_t first) {
        const std::lock_guard lock(m);
        EXPECT_EQ(urls.at(index), urls.at(first));
        EXPECT_LT(first, index);
        EXPECT_NE(std::find(report.results.begin(), report.results.end(), first),
                  report.results.end())
            << "a repeat of " << first << " came before its result";
        report.repeats.emplace_back(index, first);
      },
      nullptr, may_repeat);
  return report;
}

TEST(UrlChecker, StreamReadsOnlyAWindowAhead) {
  reset_stats();
  std::vector<std::string> urls;
  for (int i = 0; i < 80; ++i) urls.push_back(server().url("/delay/20?n=" + std::to_string(i)));
  auto options = quick();
  options.threads = 2;
  options.per_host = 2;
  options.window = 4;
  const auto report = run_stream(urls, options);
  EXPECT_EQ(report.results.size(), urls.size());
  EXPECT_TRUE(report.repeats.empty());
  // The window, and up to 8 windows while a worker idles (it never does for long here).
  EXPECT_LE(report.max_read_ahead, 8U * 4U + 1U);
  EXPECT_GE(report.max_read_ahead, 2U);
  EXPECT_EQ(stats()["requests"], 80);
}

TEST(UrlChecker, StreamHandsBackRepeatsOfFinishedUrls) {
  reset_stats();
  const std::string a = server().url("/delay/5?stream");
  const std::string b = server().url("/missing");
  const std::vector<std::string> urls{a, b, server().url("/ok"), a, b, "bad", a, "bad"};
  auto options = quick();
  options.threads = 1;
  options.window = 1;
  const auto report = run_stream(urls, options);
  // With one busy worker and a window of one, B is read only once A has finished: both copies
  // of A come back as repeats. B's copy may be read while B still waits or runs (merged, so a
  // result), or after (a repeat); each index comes back exactly once either way.
  std::multiset<std::size_t> seen(report.results.begin(), report.results.end());
  for (const auto& repeat : report.repeats) seen.insert(repeat.first);
  EXPECT_EQ(seen, (std::multiset<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  const auto repeated = [&](std::size_t index, std::size_t first) {
    return std::find(report.repeats.begin(), report.repeats.end(), std::pair(index, first)) !=
           report.repeats.end();
  };
  EXPECT_TRUE(repeated(3, 0));
  EXPECT_TRUE(repeated(6, 0));
  EXPECT_EQ(std::count(report.results.begin(), report.results.end(), 5), 1)
      << "invalid lines are reported each time, never as repeats";
  EXPECT_EQ(std::count(report.results.begin(), report.results.end(), 7), 1);
  EXPECT_EQ(stats()["requests"], 3);
}

TEST(UrlChecker, StreamRemembersOnlyUrlsThatMayRepeat) {
  // may_repeat() says A appears once: it is not remembered, so its copy is requested again.
  reset_stats();
  const std::string a = server().url("/ok?once");
  const std::string b = server().url("/ok?twice");
  auto options = quick();
  options.threads = 1;
  options.window = 1;
  const auto report =
      run_stream({a, b, a, b}, options, [&](std::string_view url) { return url == b; });
  // A's copy is read after A finished (one busy worker, a window of one): requested again. B's
  // copy is merged into B or handed back as a repeat, never requested.
  EXPECT_EQ(stats()["requests"], 3);
  EXPECT_EQ(report.results.size() + report.repeats.size(), 4U);
  for (const auto& repeat : report.repeats)
    EXPECT_EQ(repeat, (std::pair<std::size_t, std::size_t>{3, 1}));
}

TEST(UrlChecker, StreamMergesCopiesOfRunningUrls) {
  // Read while A still runs (0.3 s), its copies join it: one request, a result for each index.
  reset_stats();
  const std::string a = server().url("/delay/300?merge");
  std::vector<std::string> urls{a};
  for (int i = 0; i < 5; ++i) urls.push_back(server().url("/ok?m=" + std::to_string(i)));
  urls.push_back(a);
  urls.push_back(a);
  auto options = quick();
  options.threads = 4;
  const auto report = run_stream(urls, options);
  EXPECT_TRUE(report.repeats.empty());
  EXPECT_EQ(report.results.size(), urls.size());
  EXPECT_EQ(stats()["requests_by_path"].value("/delay/300", 0), 1) << stats().dump();
}

TEST(UrlChecker, StreamSourceExceptionIsRethrown) {
  const pmap::UrlChecker checker(quick());
  int calls = 0;
  EXPECT_THROW(checker.check_stream(
                   [&](std::size_t& index, std::string& url) -> bool {
                     if (calls == 3) throw std::runtime_error("read error");
                     index = static_cast<std::size_t>(calls++);
                     url = server().url("/delay/50?e=" + std::to_string(index));
                     return true;
                   },
                   [](std::size_t, const pmap::UrlResult&) {}, [](std::size_t, std::size_t) {}),
               std::runtime_error);
}

// ---- remembering URLs -----------------------------------------------------------------------

TEST(FingerprintSet, FindsWhatWasInsertedAcrossGrowth) {
  pmap::detail::FingerprintSet set;
  for (std::uint64_t i = 0; i < 50000; ++i) {
    set.insert(pmap::detail::fingerprint("http://h/" + std::to_string(i)), i);
  }
  set.insert(pmap::detail::fingerprint("http://h/7"), 99);  // the first value stays
  EXPECT_EQ(set.size(), 50000U);
  for (std::uint64_t i = 0; i < 50000; i += 7) {
    EXPECT_EQ(set.find(pmap::detail::fingerprint("http://h/" + std::to_string(i))), i);
  }
  EXPECT_FALSE(set.find(pmap::detail::fingerprint("http://h/50000")).has_value());
  EXPECT_FALSE(set.find(pmap::detail::fingerprint("")).has_value());
  EXPECT_NE(pmap::detail::fingerprint("http://h/1"), pmap::detail::fingerprint("http://h/1 "));
}

TEST(RepeatFilter, EveryRepeatIsACandidateAndFewOthersAre) {
  constexpr std::uint64_t n = 100000;
  pmap::detail::RepeatFilter filter(n);
  const auto url = [](std::uint64_t i) { return "https://example.org/page/" + std::to_string(i); };
  for (std::uint64_t i = 0; i < n; ++i) filter.add(url(i));
  for (std::uint64_t i = 0; i < n; i += 100) filter.add(url(i));  // 1,000 repeated URLs
  std::uint64_t false_candidates = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (i % 100 == 0) {
      EXPECT_TRUE(filter.may_repeat(url(i))) << i;
    } else if (filter.may_repeat(url(i))) {
      ++false_candidates;
    }
  }
  EXPECT_LT(false_candidates, n / 50) << "the filter should be wrong for about 1% of URLs";
  EXPECT_FALSE(filter.may_repeat(url(n + 1)) && filter.may_repeat(url(n + 2)) &&
               filter.may_repeat(url(n + 3)));
}

TEST(UrlChecker, InvalidLinesAreNotRequested) {
  reset_stats();
  const std::vector<std::string> urls{"example.com/page",
                                      "ftp://example.com/file",
                                      "http://exa mple.com/",
                                      "",
                                      "http://" + std::string(std::size_t{9} * 1024, 'a') + ".com/",
                                      "http://",
                                      "http:///path",
                                      server().url("/ok"),
                                      "example.com/page"};
  const auto report = run_check(urls, quick());
  ASSERT_EQ(report.reported(), urls.size());
  for (std::size_t i = 0; i < urls.size(); ++i) {
    const auto& result = *report.results[i];
    if (urls[i] == server().url("/ok")) {
      EXPECT_EQ(result.verdict, pmap::Verdict::Exists);
      continue;
    }
    EXPECT_EQ(result.verdict, pmap::Verdict::Unknown) << urls[i].substr(0, 40);
    EXPECT_EQ(result.attempts, 0);
    EXPECT_EQ(result.http_status, 0);
    EXPECT_EQ(result.final_url, "");
    EXPECT_TRUE(result.error.starts_with("invalid URL: ")) << result.error;
  }
  EXPECT_EQ(stats()["requests"], 1);
}

TEST(UrlChecker, EmptyListReportsNothing) {
  const auto report = run_check({}, quick());
  EXPECT_EQ(report.reported(), 0U);
  EXPECT_LT(report.seconds, 0.5);
}

TEST(UrlChecker, PerHostLimitHoldsOnOneHost) {
  reset_stats();
  std::vector<std::string> urls;
  for (int i = 0; i < 40; ++i) urls.push_back(server().url("/delay/200?n=" + std::to_string(i)));
  auto options = quick();
  options.threads = 16;
  options.per_host = 4;
  options.timeout = 1;  // the 10 rounds of 0.2 s take 2 s: waiting for a slot must not count
  const auto report = run_check(urls, options);
  ASSERT_EQ(report.reported(), urls.size());
  for (const auto& result : report.results) EXPECT_EQ(result->verdict, pmap::Verdict::Exists);
  const auto counts = stats();
  const int max =
      counts["max_concurrent_by_host"].value("127.0.0.1:" + std::to_string(server().port()), 0);
  EXPECT_LE(max, 4);
  EXPECT_GE(max, 2);
  EXPECT_GE(report.seconds, 1.9) << "40 requests of 0.2 s, 4 at a time";
}

TEST(UrlChecker, PerHostLimitDoesNotBlockOtherHosts) {
  reset_stats();
  std::vector<std::string> urls;  // all of host A first, then all of host B
  for (int i = 0; i < 20; ++i) urls.push_back(server().url("/delay/200?a=" + std::to_string(i)));
  for (int i = 0; i < 20; ++i)
    urls.push_back(server().url("/delay/200?b=" + std::to_string(i), "localhost"));
  auto options = quick();
  options.threads = 16;
  options.per_host = 4;
  const auto report = run_check(urls, options);
  ASSERT_EQ(report.reported(), urls.size());
  for (const auto& result : report.results) EXPECT_EQ(result->verdict, pmap::Verdict::Exists);
  const auto counts = stats();
  const std::string port = std::to_string(server().port());
  EXPECT_LE(counts["max_concurrent_by_host"].value("127.0.0.1:" + port, 0), 4);
  EXPECT_LE(counts["max_concurrent_by_host"].value("localhost:" + port, 0), 4);
  EXPECT_GT(counts["max_concurrent"].get<int>(), 4) << "host B waited behind host A";
}

TEST(UrlChecker, ConnectionsAreReused) {
  reset_stats();
  std::vector<std::string> urls;
  for (int i = 0; i < 30; ++i) urls.push_back(server().url("/ok?n=" + std::to_string(i)));
  auto options = quick();
  options.threads = 2;
  const auto report = run_check(urls, options);
  ASSERT_EQ(report.reported(), urls.size());
  const auto counts = stats();
  EXPECT_EQ(counts["requests"], 30);
  EXPECT_LE(counts["connections"].get<int>(), 2 + 1 + 1) << "2 workers, the /stats request, slack";
}

// The benchmark's server mode (bench/urls.sh): the anchor paths of ../shared/bench/make_urls.py,
// every answer after --delay-ms, a second address on the same port, and many delayed requests
// at once served from the fixture's one thread (timers, not a thread per request).
TEST(UrlChecker, FixtureAnchorRoutes) {
  std::string why;
  const auto anchor = FixtureServer::start(
      PMAP_HTTP_FIXTURE,
      {"--anchor-routes", "--delay-ms", "100", "--hang", "1", "--also-host", "127.0.0.2"}, &why);
  if (!anchor) GTEST_SKIP() << "no fixture on 127.0.0.1 + 127.0.0.2 here: " << why;
  auto options = quick();
  options.retries = 0;
  const std::vector<std::string> urls = {
      anchor->url("/ok/1"),       anchor->url("/missing/2"), anchor->url("/error/3"),
      anchor->url("/redirect/4"), anchor->url("/hang/5"),    anchor->url("/ok/6", "127.0.0.2")};
  options.timeout = 0.6;  // /hang/5 is silent for 1 s
  const auto report = run_check(urls, options);
  ASSERT_EQ(report.reported(), urls.size());
  const auto& r = report.results;
  EXPECT_EQ(r[0]->verdict, pmap::Verdict::Exists);
  EXPECT_GE(r[0]->seconds, 0.09) << "answered after --delay-ms";
  EXPECT_EQ(r[1]->verdict, pmap::Verdict::DoesNotExist);
  EXPECT_EQ(r[2]->verdict, pmap::Verdict::Unknown);
  EXPECT_EQ(r[2]->http_status, 500);
  EXPECT_EQ(r[3]->verdict, pmap::Verdict::Exists);
  EXPECT_EQ(r[3]->final_url, anchor->url("/ok/4")) << "one hop, to /ok/N";
  EXPECT_GE(r[3]->seconds, 0.19) << "two delayed answers";
  EXPECT_EQ(r[4]->verdict, pmap::Verdict::Unknown);
  EXPECT_EQ(r[4]->http_status, 0) << "silent until the client's timeout";
  EXPECT_EQ(r[5]->verdict, pmap::Verdict::Exists);

  options.timeout = 5;  // after --hang seconds, a hang answers 200
  const auto late = run_check({anchor->url("/hang/7")}, options);
  ASSERT_TRUE(late.results[0]);
  EXPECT_EQ(late.results[0]->verdict, pmap::Verdict::Exists);
  EXPECT_GE(late.results[0]->seconds, 0.9);

  // 400 delayed requests at once: one thread, one timer heap; serially they would take 40 s.
  const auto stats_of = [&] { return pmap::test::fixture_stats(*anchor); };
  pmap::test::fixture_reset(*anchor);
  std::vector<std::string> many;
  for (int i = 0; i < 400; ++i) many.push_back(anchor->url("/ok/" + std::to_string(i)));
  options.threads = 400;
  options.per_host = 400;
  const auto burst = run_check(many, options);
  ASSERT_EQ(burst.reported(), many.size());
  for (const auto& result : burst.results) EXPECT_EQ(result->verdict, pmap::Verdict::Exists);
  EXPECT_LT(burst.seconds, 10.0);
  const auto counts = stats_of();
  EXPECT_EQ(counts["requests_by_path"].value("/ok/N", 0), 400) << "anchor paths counted by kind";
  EXPECT_GE(counts["max_concurrent"].get<int>(), 20);
  EXPECT_GT(counts["cpu_seconds"].get<double>(), 0.0);
}

TEST(UrlChecker, StopAbortsInFlightQuickly) {
  std::vector<std::string> urls;
  for (int i = 0; i < 20; ++i) urls.push_back(server().url("/hang?n=" + std::to_string(i)));
  auto options = quick();
  options.threads = 4;
  options.timeout = 30;
  std::atomic<bool> stop{false};
  const std::jthread stopper([&stop] {
    std::this_thread::sleep_for(300ms);
    stop = true;
  });
  const auto report = run_check(urls, options, &stop);
  EXPECT_LT(report.seconds, 1.5);
  EXPECT_EQ(report.reported(), 4U) << "only the in-flight URLs are reported";
  for (const auto& result : report.results) {
    if (!result) continue;
    EXPECT_EQ(result->verdict, pmap::Verdict::Unknown);
    EXPECT_EQ(result->error, "interrupted");
  }
}

TEST(UrlChecker, StopDuringBackoff) {
  auto options = quick();
  options.backoff_base = 20;  // a long back-off after the first refused connection
  options.retries = 3;
  std::atomic<bool> stop{false};
  const std::jthread stopper([&stop] {
    std::this_thread::sleep_for(300ms);
    stop = true;
  });
  const auto report =
      run_check({"http://127.0.0.1:" + std::to_string(closed_port()) + "/"}, options, &stop);
  EXPECT_LT(report.seconds, 1.5);
  ASSERT_TRUE(report.results.at(0));
  EXPECT_EQ(report.results[0]->error, "interrupted");
  EXPECT_EQ(report.results[0]->attempts, 1);
}

TEST(UrlChecker, StopBeforeStartReportsNothing) {
  const std::atomic<bool> stop{true};
  const auto report = run_check({server().url("/ok"), "not a url"}, quick(), &stop);
  EXPECT_EQ(report.reported(), 0U);
}

TEST(UrlChecker, CallbackExceptionIsRethrown) {
  std::vector<std::string> urls;
  for (int i = 0; i < 40; ++i) urls.push_back(server().url("/delay/100?n=" + std::to_string(i)));
  const pmap::UrlChecker checker(quick());
  std::atomic<int> calls{0};
  const auto start = Clock::now();
  try {
    checker.check(urls, [&](std::size_t, const pmap::UrlResult&) {
      ++calls;
      throw std::runtime_error("boom from on_result");
    });
    FAIL() << "check() swallowed the exception";
  } catch (const std::runtime_error& error) {
    EXPECT_STREQ(error.what(), "boom from on_result");
  }
  EXPECT_EQ(calls.load(), 1);
  EXPECT_LT(seconds_since(start), 1.5);
}

TEST(UrlChecker, RejectsBadOptions) {
  const auto rejects = [](auto change, std::string_view word) {
    pmap::UrlOptions options;
    change(options);
    try {
      const pmap::UrlChecker checker(options);
      ADD_FAILURE() << "accepted bad " << word;
    } catch (const pmap::UsageError& error) {
      EXPECT_TRUE(contains(error.what(), word)) << error.what();
    }
  };
  rejects([](pmap::UrlOptions& o) { o.threads = 0; }, "threads");
  rejects([](pmap::UrlOptions& o) { o.per_host = 0; }, "per_host");
  rejects([](pmap::UrlOptions& o) { o.timeout = 0; }, "timeout");
  rejects([](pmap::UrlOptions& o) { o.retries = -1; }, "retries");
  rejects([](pmap::UrlOptions& o) { o.max_redirects = -1; }, "max_redirects");
}

// ---- limits: the machine's limits are never a verdict ------------------------------------------
// Each case runs in a child process (a death test, re-executed: threadsafe style), since the hard
// limit on open files, once lowered, cannot be raised again.

/// Sets both limits on open files of this process to `limit`.
void limit_open_files(rlim_t limit) {
  const rlimit both{limit, limit};
  if (::setrlimit(RLIMIT_NOFILE, &both) != 0) {
    std::fprintf(stderr, "setrlimit failed\n");
    std::_Exit(9);
  }
}

/// n URLs, half /delay/300 (exists), half /missing (does not exist), all on one host.
std::vector<std::string> held_urls(int n) {
  std::vector<std::string> urls;
  for (int i = 0; i < n; ++i) {
    urls.push_back(
        server().url((i % 2 == 0 ? "/delay/300?n=" : "/missing?n=") + std::to_string(i)));
  }
  return urls;
}

/// Counts the results of held_urls() that are not what they should be, and prints them.
int wrong_verdicts(const std::vector<std::string>& urls,
                   const std::vector<std::optional<pmap::UrlResult>>& results) {
  int wrong = 0;
  for (std::size_t i = 0; i < urls.size(); ++i) {
    const auto& r = results[i];
    const auto expected = i % 2 == 0 ? pmap::Verdict::Exists : pmap::Verdict::DoesNotExist;
    if (!r || r->verdict != expected || r->attempts != 1) {
      if (++wrong <= 3) {
        std::fprintf(stderr, "wrong: %s -> %s (%s)\n", urls[i].c_str(),
                     r ? std::string(pmap::to_string(r->verdict)).c_str() : "none",
                     r ? r->error.c_str() : "");
      }
    }
  }
  return wrong;
}

/// Under a hard limit of `limit` open files, `threads` workers for n URLs at once: the threads
/// are lowered to what fits and every verdict is right. Exits 0 when so.
[[noreturn]] void verdicts_under_limit(rlim_t limit, int threads, int n) {
  const auto urls = held_urls(n);  // the fixture starts before the limit drops
  limit_open_files(limit);
  auto options = quick();
  options.threads = threads;
  options.per_host = n;
  const pmap::UrlChecker checker(options);
  const int used = checker.options().threads;
  const auto report = run_check(urls, options);
  const int wrong = wrong_verdicts(urls, report.results);
  std::fprintf(stderr, "limit %d: %d of %d threads, %d wrong of %d\n", static_cast<int>(limit),
               used, checker.requested_threads(), wrong, n);
  const bool lowered = used < threads && used > threads / 100 &&
                       static_cast<rlim_t>(used) * pmap::kFdsPerUrlThread < limit;
  std::_Exit(wrong == 0 && lowered && checker.requested_threads() == threads ? 0 : 1);
}

TEST(UrlLimits, EveryVerdictRightUnderUlimit256) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(verdicts_under_limit(256, 400, 600), ::testing::ExitedWithCode(0),
              "limit 256: [0-9]+ of 400 threads, 0 wrong of 600");
}

TEST(UrlLimits, EveryVerdictRightUnderUlimit1024) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(verdicts_under_limit(1024, 1500, 2000), ::testing::ExitedWithCode(0),
              "limit 1024: [0-9]+ of 1500 threads, 0 wrong of 2000");
}

/// Holds every free descriptor of the process (up to its limit) until released.
class FdHog {
 public:
  FdHog() {
    for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) fds_.push_back(fd);
  }
  ~FdHog() { release(); }
  FdHog(const FdHog&) = delete;
  FdHog& operator=(const FdHog&) = delete;
  void release() {
    const std::lock_guard lock(mutex_);
    for (const int fd : fds_) ::close(fd);
    fds_.clear();
  }
  [[nodiscard]] std::size_t held() const { return fds_.size(); }

 private:
  std::mutex mutex_;
  std::vector<int> fds_;
};

/// Descriptors run out while the checks run (something else took them): the requests wait and
/// are made again once descriptors are free, and every verdict is right. Exits 0 when so.
/// Options for `threads` workers, after the limit on open files dropped to 300 (room for them).
pmap::UrlOptions with_300_files(int threads) {
  limit_open_files(300);
  auto options = quick();
  options.threads = threads;
  options.per_host = 40;
  return options;
}

[[noreturn]] void waits_for_descriptors() {
  const auto urls = held_urls(40);
  const pmap::UrlChecker checker(with_300_files(8));  // sized while descriptors are free
  FdHog hog;                                          // then something else takes them all
  const std::size_t held = hog.held();
  const std::jthread releaser([&hog] {
    std::this_thread::sleep_for(1s);
    hog.release();
  });
  std::vector<std::optional<pmap::UrlResult>> results(urls.size());
  const auto start = Clock::now();
  checker.check(urls, [&](std::size_t i, const pmap::UrlResult& r) { results[i] = r; });
  const double seconds = seconds_since(start);
  const int wrong = wrong_verdicts(urls, results);
  std::fprintf(stderr, "starved: held %zu, %d wrong of 40 in %.1f s\n", held, wrong, seconds);
  std::_Exit(wrong == 0 && held > 200 && seconds >= 0.9 ? 0 : 1);
}

TEST(UrlLimits, RequestsWaitForDescriptors) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(waits_for_descriptors(), ::testing::ExitedWithCode(0),
              "starved: held [0-9]+, 0 wrong");
}

/// Descriptors never come back: past resource_wait the run stops with an error that says so.
[[noreturn]] void stops_without_descriptors() {
  const auto urls = held_urls(10);
  auto options = with_300_files(4);
  options.resource_wait = 0.5;
  const pmap::UrlChecker checker(options);
  const FdHog hog;
  try {
    checker.check(urls, [](std::size_t, const pmap::UrlResult& r) {
      std::fprintf(stderr, "reported: %s\n", std::string(pmap::to_string(r.verdict)).c_str());
    });
  } catch (const pmap::RuntimeError& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    std::_Exit(0);
  }
  std::_Exit(1);
}

TEST(UrlLimits, StopsWhenDescriptorsNeverComeBack) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(stops_without_descriptors(), ::testing::ExitedWithCode(0),
              "error: URL stage: http://.*Too many open files.*ulimit -n");
}

TEST(UrlLimits, BudgetArithmetic) {
  const auto fits = pmap::fit_url_threads(1500, 20000, 40);
  EXPECT_FALSE(fits.lowered());
  EXPECT_EQ(fits.threads, 1500);
  const auto lowered = pmap::fit_url_threads(1500, 1024, 40);
  EXPECT_TRUE(lowered.lowered());
  EXPECT_EQ(lowered.threads,
            static_cast<int>((1024 - 40 - pmap::kFdReserve) / pmap::kFdsPerUrlThread));
  EXPECT_NE(lowered.reason().find("limit is 1024"), std::string::npos) << lowered.reason();
  EXPECT_EQ(pmap::fit_url_threads(8, 50, 40).threads, 1) << "never below one thread";
  EXPECT_TRUE(pmap::is_resource_errno(EMFILE));
  EXPECT_TRUE(pmap::is_resource_errno(ENFILE));
  EXPECT_FALSE(pmap::is_resource_errno(ECONNREFUSED));
}

// ---- the same list at several thread counts -------------------------------------------------

class UrlCheckerThreads : public ::testing::TestWithParam<int> {};

TEST_P(UrlCheckerThreads, VerdictsDoNotDependOnThreads) {
  std::vector<std::string> urls;
  std::vector<pmap::Verdict> expected;
  for (int i = 0; i < 48; ++i) {
    const std::string n = "?n=" + std::to_string(i);
    switch (i % 4) {
      case 0:
        urls.push_back(server().url("/ok" + n));
        expected.push_back(pmap::Verdict::Exists);
        break;
      case 1:
        urls.push_back(server().url("/missing" + n, "localhost"));
        expected.push_back(pmap::Verdict::DoesNotExist);
        break;
      case 2:
        urls.push_back(server().url("/error" + n));
        expected.push_back(pmap::Verdict::Unknown);
        break;
      default:
        urls.push_back(server().url("/redirect/2" + n, "localhost"));
        expected.push_back(pmap::Verdict::Exists);
        break;
    }
  }
  auto options = quick();
  options.threads = GetParam();
  const auto report = run_check(urls, options);
  ASSERT_EQ(report.reported(), urls.size());
  for (std::size_t i = 0; i < urls.size(); ++i) {
    EXPECT_EQ(report.results[i]->verdict, expected[i]) << urls[i];
    EXPECT_EQ(report.results[i]->attempts, 1) << urls[i];
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, UrlCheckerThreads, ::testing::Values(1, 8, 64));

// ---- parsing and hashing --------------------------------------------------------------------

TEST(UrlParsing, InvalidReasons) {
  EXPECT_EQ(pmap::url_invalid_reason("http://example.com/"), std::nullopt);
  EXPECT_EQ(pmap::url_invalid_reason("HTTPS://Example.com:8443/a?b=c#d"), std::nullopt);
  EXPECT_EQ(pmap::url_invalid_reason("http://[::1]:8080/"), std::nullopt);
  // curl decodes %XX in the host; a decoded control byte or space is no host (found by fuzzing).
  EXPECT_EQ(pmap::url_invalid_reason("http://0%7f.1/"), "invalid URL: bad hostname");
  EXPECT_EQ(pmap::url_invalid_reason("http://a%20b.example/"), "invalid URL: bad hostname");
  EXPECT_EQ(pmap::url_host("http://0%7f.1/"), "");
  EXPECT_EQ(pmap::url_invalid_reason("example.com/page"), "invalid URL: no scheme");
  EXPECT_EQ(pmap::url_invalid_reason("://example.com"), "invalid URL: no scheme");
  EXPECT_EQ(pmap::url_invalid_reason("ftp://example.com/f"),
            "invalid URL: unsupported scheme 'ftp' (http and https only)");
  EXPECT_EQ(pmap::url_invalid_reason("http://example.com/a b"),
            "invalid URL: contains whitespace or control characters");
  EXPECT_EQ(pmap::url_invalid_reason("http://example.com/\r"),
            "invalid URL: contains whitespace or control characters");
  EXPECT_EQ(pmap::url_invalid_reason(""), "invalid URL: empty line");
  EXPECT_EQ(pmap::url_invalid_reason("http://" + std::string(9000, 'a')),
            "invalid URL: longer than 8 KiB");
  EXPECT_EQ(pmap::url_invalid_reason("http://"), "invalid URL: no host");
  EXPECT_EQ(pmap::url_invalid_reason("http:///path"), "invalid URL: no host");
  const auto bad_port = pmap::url_invalid_reason("http://example.com:99999/");
  ASSERT_TRUE(bad_port.has_value());
  EXPECT_TRUE(bad_port->starts_with("invalid URL: ")) << *bad_port;
}

TEST(UrlParsing, HostIsLowerCased) {
  EXPECT_EQ(pmap::url_host("http://Example.COM:8080/x"), "example.com");
  EXPECT_EQ(pmap::url_host("https://user:secret@Sub.Host.org/path"), "sub.host.org");
  EXPECT_EQ(pmap::url_host("http://127.0.0.1:9/"), "127.0.0.1");
  EXPECT_EQ(pmap::url_host("http://[::1]/"), "[::1]");
  EXPECT_EQ(pmap::url_host("not a url"), "");
}

TEST(UrlParsing, HostHashIsFnv1a64) {
  EXPECT_EQ(pmap::host_hash(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(pmap::host_hash("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(pmap::host_hash("foobar"), 0x85944171f73967e8ULL);
  EXPECT_EQ(pmap::host_hash(pmap::url_host("http://EXAMPLE.com/a")),
            pmap::host_hash(pmap::url_host("https://example.com/b")));
}

TEST(UrlParsing, VerdictNames) {
  EXPECT_EQ(pmap::to_string(pmap::Verdict::Exists), "exists");
  EXPECT_EQ(pmap::to_string(pmap::Verdict::DoesNotExist), "does not exist");
  EXPECT_EQ(pmap::to_string(pmap::Verdict::Unknown), "unknown");
  EXPECT_EQ(static_cast<int>(pmap::Verdict::Unknown), 2) << "the HDF5 enum depends on the values";
}

}  // namespace
