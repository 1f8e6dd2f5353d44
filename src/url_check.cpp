// pmap — the URL stage: a few event loops, each driving many requests on one curl multi handle.
//
// URLs are checked and handed to a UrlQueue in input order by the calling thread; event loops
// (UrlLoop, one thread each) take them as they have free slots. The per-host limit is enforced by
// the queue before a transfer starts, never by CURLMOPT_MAX_HOST_CONNECTIONS, so waiting for a
// host slot does not eat a URL's timeout. The loops share DNS results and TLS sessions (a locked
// share object); connections, HTTP/2 multiplexing and the parsed CA store live in each loop's
// multi handle.
#include "pmap/url_check.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <span>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "detail/curl_handle.hpp"
#include "detail/fingerprint_set.hpp"
#include "detail/fnv.hpp"
#include "detail/tls_trust.hpp"
#include "detail/url_loop.hpp"
#include "detail/url_queue.hpp"
#include "detail/url_request.hpp"
#include "detail/url_run.hpp"
#include "pmap/error.hpp"
#include "pmap/limits.hpp"
#include "pmap/threads.hpp"
#include "pmap/version.hpp"

namespace pmap {

namespace {

constexpr std::size_t max_url_bytes = std::size_t{8} * 1024;
// Event loops at most, whatever the cores: each already drives hundreds of requests.
constexpr unsigned max_loops = 8;
// Share objects for DNS results and TLS sessions, by host (libcurl keeps 8 sessions in each).
constexpr std::size_t tls_buckets = 64;

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

bool is_scheme_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '-' || c == '.';
}

/// Either the reason a line is not a URL we request, or its lower-cased host.
struct ParsedUrl {
  std::optional<std::string> invalid;
  std::string host;
};

ParsedUrl invalid(std::string_view why) { return {std::string("invalid URL: ").append(why), {}}; }

ParsedUrl parse_url(std::string_view line) {
  if (line.empty()) return invalid("empty line");
  if (line.size() > max_url_bytes) return invalid("longer than 8 KiB");
  for (const char c : line) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) return invalid("contains whitespace or control characters");
  }
  const std::size_t colon = line.find("://");
  const std::string_view scheme = line.substr(0, colon == std::string_view::npos ? 0 : colon);
  if (scheme.empty() || !std::all_of(scheme.begin(), scheme.end(), is_scheme_char)) {
    return invalid("no scheme");
  }
  const std::string scheme_lower = lower(scheme);
  if (scheme_lower != "http" && scheme_lower != "https") {
    return invalid("unsupported scheme '" + scheme_lower + "' (http and https only)");
  }
  // An empty authority ("http:///x"): curl, like browsers, would skip the slashes and take "x"
  // for the host; an http URL without a host is a typo, not a request to make.
  const std::string_view after = line.substr(colon + 3);
  if (after.empty() || after.front() == '/' || after.front() == '?' || after.front() == '#') {
    return invalid("no host");
  }

  // An international host name or a non-ASCII path: checked as it will be requested.
  const detail::RequestUrl request = detail::to_request_url(line);
  if (!request.error.empty()) return invalid(request.error);

  detail::curl_global_init_once();
  const detail::CurlUrl url(curl_url());
  if (!url) throw RuntimeError("curl_url failed");
  const std::string& text = request.url;
  const CURLUcode set = curl_url_set(url.get(), CURLUPART_URL, text.c_str(), 0);
  if (set == CURLUE_NO_HOST) return invalid("no host");
  if (set != CURLUE_OK) {
    std::string why = curl_url_strerror(set);  // "Bad hostname" -> "bad hostname"
    if (!why.empty()) why.front() = ascii_lower(why.front());
    return invalid(why);
  }
  char* raw_host = nullptr;
  const CURLUcode got = curl_url_get(url.get(), CURLUPART_HOST, &raw_host, 0);
  const detail::CurlString host(raw_host);
  if (got != CURLUE_OK || !host || *host == '\0') return invalid("no host");
  // curl decodes %XX in the host ("http://a%7f.b/"): a decoded control, space or delimiter
  // cannot be a host name to look up, and must not reach the per-host table (found by fuzzing).
  for (const char* c = host.get(); *c != '\0'; ++c) {
    const auto byte = static_cast<unsigned char>(*c);
    if (byte <= 0x20 || byte == 0x7f || std::strchr("/?#@\\", *c) != nullptr) {
      return invalid("bad hostname");
    }
  }
  return {std::nullopt, lower(host.get())};
}

void validate(const UrlOptions& options) {
  const auto require = [](bool ok, const std::string& what) {
    if (!ok) throw UsageError("URL options: " + what);
  };
  require(options.threads >= 1,
          "threads must be at least 1, got " + std::to_string(options.threads));
  require(options.per_host >= 1,
          "per_host must be at least 1, got " + std::to_string(options.per_host));
  require(std::isfinite(options.timeout) && options.timeout > 0,
          "timeout must be a positive number of seconds, got " + std::to_string(options.timeout));
  require(std::isfinite(options.connect_timeout) && options.connect_timeout >= 0,
          "connect_timeout must be 0 or a positive number of seconds");
  require(options.retries >= 0,
          "retries must not be negative, got " + std::to_string(options.retries));
  require(options.max_redirects >= 0,
          "max_redirects must not be negative, got " + std::to_string(options.max_redirects));
  require(std::isfinite(options.retry_after_cap) && options.retry_after_cap >= 0,
          "retry_after_cap must not be negative");
  require(std::isfinite(options.backoff_base) && options.backoff_base >= 0,
          "backoff_base must not be negative");
  require(std::isfinite(options.resource_wait) && options.resource_wait >= 0,
          "resource_wait must not be negative");
  require(options.event_loops >= 0,
          "event_loops must not be negative, got " + std::to_string(options.event_loops));
  detail::validate_trust(options);
}

/// Event loops for `options`: event_loops, else one per core (at most max_loops); never more
/// than the requests in flight.
int loop_count(const UrlOptions& options) {
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  const int wanted = options.event_loops > 0 ? options.event_loops
                                             : static_cast<int>(std::min(cores, max_loops));
  return std::clamp(wanted, 1, options.threads);
}

/// Lowers options.threads to what the limit on open files allows (after raising the soft limit
/// to the hard one), and says so once per process.
void fit_in_open_files(UrlOptions& options) {
  const FdBudget budget = fit_url_threads(options.threads);
  if (!budget.lowered()) return;
  options.threads = budget.threads;
  static std::once_flag warned;
  std::call_once(warned, [&budget] { std::cerr << "pmap: warning: " << budget.reason() << "\n"; });
}

/// The producer: reads the source, reports invalid lines at once, merges copies of URLs waiting
/// or running, hands back repeats of URLs already reported, and queues the rest in input order,
/// calling on_added() after each.
void feed(const UrlChecker::Source& next, detail::UrlQueue& queue, detail::UrlRun& run,
          const UrlChecker::MayRepeat& may_repeat, const std::function<void()>& on_added) {
  detail::FingerprintSet seen;  // distinct valid URLs handed to the queue that may repeat
  std::size_t index = 0;
  std::string url;
  while (!run.stopping() && next(index, url)) {
    ParsedUrl parsed = parse_url(url);
    if (parsed.invalid) {  // no request: reported at once
      UrlResult result;
      result.url = std::move(url);
      result.error = std::move(*parsed.invalid);
      run.report(std::span(&index, 1), result);
      continue;
    }
    if (queue.merge(index, url)) continue;
    if (!may_repeat || may_repeat(url)) {
      const detail::Fingerprint key = detail::fingerprint(url);
      if (const auto first = seen.find(key)) {
        run.repeat(index, *first);
        continue;
      }
      if (index <= detail::FingerprintSet::max_value) seen.insert(key, index);
    }
    if (!queue.add(index, std::move(url), std::move(parsed.host))) break;
    on_added();
  }
}

}  // namespace

std::string_view to_string(Verdict verdict) noexcept {
  switch (verdict) {
    case Verdict::Exists:
      return "exists";
    case Verdict::DoesNotExist:
      return "does not exist";
    case Verdict::Unknown:
      break;
  }
  return "unknown";
}

std::optional<std::string> url_invalid_reason(std::string_view line) {
  return parse_url(line).invalid;
}

std::string url_host(std::string_view url) { return parse_url(url).host; }

std::uint64_t host_hash(std::string_view host) noexcept {
  detail::Fnv1a64 hash;
  hash.add(host);
  return hash.value();
}

UrlChecker::UrlChecker(UrlOptions options)
    : options_(std::move(options)), requested_threads_(options_.threads) {
  validate(options_);
  if (options_.user_agent.empty()) options_.user_agent = std::string("pmap/") + kVersion;
  detail::curl_global_init_once();
  fit_in_open_files(options_);
}

void UrlChecker::check_stream(const Source& next,
                              const std::function<void(std::size_t, const UrlResult&)>& on_result,
                              const OnRepeat& on_repeat, const std::atomic<bool>* stop,
                              const MayRepeat& may_repeat) const {
  detail::UrlRun run(on_result, on_repeat, stop);
  if (run.stopping()) return;
  const std::size_t window =
      options_.window > 0
          ? options_.window
          : std::max<std::size_t>(16384,
                                  std::size_t{16} * static_cast<std::size_t>(options_.threads));
  const detail::CurlShareBank shares(tls_buckets);  // outlives the loops' easy handles
  const detail::TlsTrust trust = detail::tls_trust(options_);
  const int loop_total = loop_count(options_);
  std::vector<std::unique_ptr<detail::UrlLoop>> loops;  // made before the queue can wake one
  detail::UrlQueue queue(
      options_.per_host, window, [&run] { return run.stopping(); }, loop_total,
      [&loops](int loop) { loops[static_cast<std::size_t>(loop)]->wake(); });
  for (int i = 0; i < loop_total; ++i) {
    const int slots = options_.threads / loop_total + (i < options_.threads % loop_total ? 1 : 0);
    loops.push_back(
        std::make_unique<detail::UrlLoop>(i, slots, options_, shares, trust, queue, run));
  }
  std::vector<std::jthread> threads;  // joined before the loops, the queue and the cache go
  struct CloseQueue {
    detail::UrlQueue& queue;
    ~CloseQueue() { queue.close(); }  // before the threads are joined, also on an exception
  } close_queue{queue};
  try {
    feed(next, queue, run, may_repeat, [&] {
      if (threads.size() < loops.size() && threads.size() < queue.added()) {
        try {
          threads.emplace_back([loop = loops[threads.size()].get()] { loop->run(); });
        } catch (const std::system_error& error) {  // e.g. RLIMIT_NPROC: never fewer, silently
          throw_thread_start_failure(kUrlThreads, threads.size() + 1, loops.size(), error);
        }
      }
    });
  } catch (...) {
    run.fail(std::current_exception());  // the loops see it and leave
  }
  queue.close();
  threads.clear();  // joins every loop
  run.rethrow_if_failed();
}

void UrlChecker::check(std::span<const std::string> urls,
                       const std::function<void(std::size_t, const UrlResult&)>& on_result,
                       const std::atomic<bool>* stop) const {
  // Results of URLs named again later are kept for the copies check_stream() hands back.
  std::vector<bool> repeated(urls.size(), false);
  {
    std::unordered_map<std::string_view, std::size_t> first_of;
    for (std::size_t i = 0; i < urls.size(); ++i) {
      const auto [it, is_new] = first_of.try_emplace(urls[i], i);
      if (!is_new) repeated[it->second] = true;
    }
  }
  std::unordered_map<std::size_t, UrlResult> kept;
  std::size_t position = 0;
  UrlChecker in_memory = *this;  // the list is in memory already: read it all ahead by default
  if (options_.window == 0) in_memory.options_.window = std::max<std::size_t>(urls.size(), 1);
  in_memory.check_stream(
      [&](std::size_t& index, std::string& url) {
        if (position == urls.size()) return false;
        index = position;
        url = urls[position++];
        return true;
      },
      [&](std::size_t index, const UrlResult& result) {
        if (repeated[index]) kept.emplace(index, result);
        on_result(index, result);
      },
      [&](std::size_t index, std::size_t first_index) { on_result(index, kept.at(first_index)); },
      stop);
}

UrlResult UrlChecker::check_one(const std::string& url) const {
  UrlResult out;
  const std::array<std::string, 1> urls{url};
  check(urls, [&out](std::size_t /*index*/, const UrlResult& result) { out = result; });
  return out;
}

}  // namespace pmap
