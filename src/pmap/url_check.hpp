// pmap — the URL stage: check that URLs exist, concurrently, with nothing hanging.
//
//   pmap::UrlChecker checker({.threads = 64, .timeout = 5.0});
//   checker.check(urls, [&](std::size_t i, const pmap::UrlResult& r) {
//     std::cout << urls[i] << ' ' << pmap::to_string(r.verdict) << '\n';
//   });
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pmap {

/// The tutorial's verdict: 200 -> Exists, 404 -> DoesNotExist, anything else -> Unknown.
enum class Verdict : std::int8_t { Exists = 0, DoesNotExist = 1, Unknown = 2 };

/// "exists", "does not exist" or "unknown".
[[nodiscard]] std::string_view to_string(Verdict verdict) noexcept;

/// The request method; Head falls back to one Get when the server answers 405 or 501.
enum class HttpMethod { Get, Head };

/// How URLs are checked; every field has a sensible default.
struct UrlOptions {
  /// Concurrent requests in this process (spread over event_loops threads). Lowered, with a
  /// warning, to what the limit on open files allows (see UrlChecker::requested_threads()).
  int threads = 32;
  /// Seconds per attempt, in total (connect, redirects and the final response's headers).
  double timeout = 10.0;
  /// Seconds allowed to connect; 0 means min(timeout, 5).
  double connect_timeout = 0;
  /// Extra attempts for transient failures only (see UrlChecker).
  int retries = 2;
  /// Concurrent requests per host name in this process (the host of the URL as given).
  int per_host = 8;
  /// Get, or Head with one Get fallback on 405/501.
  HttpMethod method = HttpMethod::Get;
  /// Skip TLS certificate and host name verification.
  bool insecure = false;
  /// A PEM file of CA certificates trusted in addition to the system's store (a site's private
  /// CA); it must exist and be readable. Empty: the system's store alone.
  std::string cacert;
  /// A directory of CA certificates (named by subject hash, as `openssl rehash` makes them)
  /// trusted in addition to the system's store; it must exist.
  std::string capath;
  /// Threads driving the requests, each an event loop with threads / event_loops requests in
  /// flight on one libcurl multi handle; 0 means one per core, at most 8 (never more than
  /// `threads`).
  int event_loops = 0;
  /// Redirects followed at most (http and https targets only).
  int max_redirects = 10;
  /// Seconds; a longer Retry-After is cut to this.
  double retry_after_cap = 30;
  /// Seconds; the n-th retry waits backoff_base * 2^n * a random factor in [0.5, 1.5).
  double backoff_base = 0.25;
  /// User-Agent header; empty means "pmap/<version>".
  std::string user_agent;
  /// Distinct URLs read ahead of the checks (waiting or running); bounds memory. 0 means the
  /// whole list for check() and max(16384, 16 x threads) for check_stream().
  std::size_t window = 0;
  /// Seconds a URL may keep failing because this process or the system ran out of descriptors,
  /// threads or memory (EMFILE, ENFILE, ENOMEM, EAGAIN...). Such a failure is never a verdict
  /// and not an attempt: the request is made again after a back-off; past this, the run stops
  /// with a pmap::RuntimeError that says which limit to raise.
  double resource_wait = 60;
};

/// What became of one URL.
struct UrlResult {
  /// The URL as given (the input line).
  std::string url;
  /// Exists (200), DoesNotExist (404) or Unknown (anything else).
  Verdict verdict = Verdict::Unknown;
  /// Status of the last response received, 0 when none was.
  std::int32_t http_status = 0;
  /// curl's error text, "invalid URL: ..." or "interrupted"; empty when a response arrived.
  std::string error;
  /// Wall time spent on the URL, retries and back-off included.
  double seconds = 0;
  /// Requests made (retries and the Head->Get fallback included); 0 for an invalid URL.
  std::int32_t attempts = 0;
  /// The URL after redirects (as far as they were followed); empty when no request was made.
  std::string final_url;
};

/// nullopt for a valid http(s) URL, else the reason, e.g. "invalid URL: no scheme".
[[nodiscard]] std::optional<std::string> url_invalid_reason(std::string_view line);

/// Lower-cased host name of a URL ("[::1]" for IPv6 literals); empty when the URL is invalid.
[[nodiscard]] std::string url_host(std::string_view url);

/// FNV-1a 64 of the bytes of host: stable across machines, for sharding URLs by host.
[[nodiscard]] std::uint64_t host_hash(std::string_view host) noexcept;

/// Checks lists of URLs with libcurl: a few threads, each an event loop with many requests in
/// flight; requests to one host reuse connections (HTTP/2 streams where the server offers it,
/// through ALPN), TLS sessions are resumed, and the CA store is parsed once per loop.
/// An international host name is requested in its IDNA form and a non-ASCII path
/// percent-encoded (UTF-8); UrlResult::url keeps the line as written, final_url what was
/// requested (after redirects).
///
/// Retried (at most `retries` times, with exponential back-off and jitter, or the server's
/// Retry-After): statuses 408, 429, 502, 503, 504, and failures to connect, send or receive
/// (refused, reset, empty reply). Not retried: 200, 404 and every other status, DNS failures,
/// TLS errors, and timeouts (a timeout has already spent the URL's whole budget).
/// The verdict is taken at the headers: once the final response (after redirects) has its
/// status line and headers, the transfer ends; its body is never waited for (what came with the
/// headers is dropped, and when that was all of it the connection stays open for the next URL).
/// Failures for lack of descriptors, threads or memory are retried, never reported (see
/// UrlOptions::resource_wait).
class UrlChecker {
 public:
  /// Validates the options (pmap::UsageError if out of range), initialises libcurl once, raises
  /// the soft limit on open files to the hard one and lowers options.threads to what the limit
  /// allows, saying so once per process on stderr ("pmap: warning: ...").
  explicit UrlChecker(UrlOptions options);

  /// Checks every URL; on_result(index, result) runs as each finishes (calls serialised, never
  /// concurrent, from worker threads or, for invalid lines, from the calling thread). Invalid
  /// lines get Unknown + "invalid URL: ..." with attempts 0 and no request. Identical URLs are
  /// requested once and every index naming one gets its result. URLs start in input order,
  /// skipping those whose host is at its per_host limit. Once *stop is true (polled every 100 ms)
  /// no request starts, in-flight ones end quickly as Unknown + "interrupted", and URLs not yet
  /// started are not reported. An exception from on_result stops the run and is rethrown here.
  ///
  ///   std::atomic<bool> stop{false};  // set from a signal-watching thread
  ///   checker.check(urls, [&](std::size_t i, const pmap::UrlResult& r) { rows[i] = r; }, &stop);
  void check(std::span<const std::string> urls,
             const std::function<void(std::size_t, const UrlResult&)>& on_result,
             const std::atomic<bool>* stop = nullptr) const;

  /// Where check_stream() reads URLs: sets (index, url) and returns true, or false at the end.
  using Source = std::function<bool(std::size_t& index, std::string& url)>;
  /// check_stream(): the URL at `index` is identical to the one at `first_index`, whose result
  /// was already reported (the checker keeps no results, so the caller copies it).
  using OnRepeat = std::function<void(std::size_t index, std::size_t first_index)>;

  /// check_stream(): false for a URL known to appear only once in the source (it need not be
  /// remembered); nullptr means any URL may repeat.
  using MayRepeat = std::function<bool(std::string_view url)>;

  /// check() for lists of any length, in memory bounded by options().window: URLs are read from
  /// `next` as the checks progress (indices increasing). A URL identical to one that waits or
  /// runs is merged into it (on_result for both); one identical to a URL already reported goes
  /// to on_repeat. To know those, the checker remembers each distinct URL for which may_repeat
  /// is true by an 88-bit fingerprint (about 21 bytes). Calls of on_result and on_repeat are
  /// serialised; an exception from `next`, on_result or on_repeat stops the run and is rethrown.
  void check_stream(const Source& next,
                    const std::function<void(std::size_t, const UrlResult&)>& on_result,
                    const OnRepeat& on_repeat, const std::atomic<bool>* stop = nullptr,
                    const MayRepeat& may_repeat = nullptr) const;

  /// Checks a single URL (same rules as check); never throws for a bad or failing URL.
  [[nodiscard]] UrlResult check_one(const std::string& url) const;

  /// The options in use (user_agent filled in, threads lowered to what the open-files limit
  /// allows).
  [[nodiscard]] const UrlOptions& options() const noexcept { return options_; }

  /// The threads asked for; options().threads is lower when they did not fit in the limit on
  /// open files.
  [[nodiscard]] int requested_threads() const noexcept { return requested_threads_; }

 private:
  UrlOptions options_;
  int requested_threads_ = 0;
};

}  // namespace pmap
