// pmap — the URL stage: worker threads, each driving one reused curl handle.
//
// Each worker owns a multi handle holding its single easy handle (so its connections are reused
// from one URL to the next) and drives it with curl_multi_poll in slices of at most 100 ms, so a
// stop request aborts an in-flight transfer within 100 ms whatever the transfer is doing.
// The per-host limit is enforced by UrlQueue before a transfer starts, never by
// CURLMOPT_MAX_HOST_CONNECTIONS, so waiting for a host slot does not eat a URL's timeout.
#include "pmap/url_check.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <iostream>
#include <limits>
#include <mutex>
#include <random>
#include <span>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "detail/curl_handle.hpp"
#include "detail/fingerprint_set.hpp"
#include "detail/fnv.hpp"
#include "detail/url_queue.hpp"
#include "pmap/error.hpp"
#include "pmap/limits.hpp"
#include "pmap/threads.hpp"
#include "pmap/version.hpp"

namespace pmap {

namespace {

using Clock = std::chrono::steady_clock;
using detail::curl_check;
using detail::curl_set;

constexpr std::size_t max_url_bytes = std::size_t{8} * 1024;
// At most this much of a body is taken (and dropped) from what came with the headers.
constexpr std::size_t max_body_bytes = std::size_t{64} * 1024;
// Connections a worker keeps alive for reuse (its share of kFdsPerUrlThread).
constexpr long kept_connections = 2;
// Back-off after a failure for lack of descriptors, threads or memory: 50 ms doubling to 1 s.
constexpr double resource_backoff_first = 0.05;
constexpr double resource_backoff_max = 1.0;
// Longest wait inside a transfer between looks at the stop flag.
constexpr long poll_slice_ms = 100;
constexpr std::string_view interrupted_text = "interrupted";

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

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

  detail::curl_global_init_once();
  const detail::CurlUrl url(curl_url());
  if (!url) throw RuntimeError("curl_url failed");
  const std::string text(line);
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

bool retryable_status(long status) {
  return status == 408 || status == 429 || status == 502 || status == 503 || status == 504;
}

/// Transport failures worth another try: the server refused, reset or went quiet mid-answer.
/// Timeouts are not among them: one already spent the URL's whole budget.
bool retryable_code(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

Verdict verdict_of(long status) {
  if (status == 200) return Verdict::Exists;
  if (status == 404) return Verdict::DoesNotExist;
  return Verdict::Unknown;
}

long milliseconds(double seconds) {
  const double ms = std::ceil(seconds * 1000.0);
  return static_cast<long>(
      std::clamp(ms, 1.0, static_cast<double>(std::numeric_limits<int>::max())));
}

/// Shared state of one check run: the stop condition and the serialised callbacks.
class Run {
 public:
  Run(const std::function<void(std::size_t, const UrlResult&)>& on_result,
      const UrlChecker::OnRepeat& on_repeat, const std::atomic<bool>* stop)
      : on_result_(on_result), on_repeat_(on_repeat), stop_(stop) {}

  [[nodiscard]] bool stopping() const noexcept {
    return failed_.load(std::memory_order_relaxed) ||
           (stop_ != nullptr && stop_->load(std::memory_order_relaxed));
  }

  /// Calls on_result for every index in `indices`.
  void report(std::span<const std::size_t> indices, const UrlResult& result) {
    const std::lock_guard lock(mutex_);
    if (error_) return;
    try {
      for (const std::size_t index : indices) on_result_(index, result);
    } catch (...) {
      fail_locked(std::current_exception());
    }
  }

  void repeat(std::size_t index, std::size_t first_index) {
    const std::lock_guard lock(mutex_);
    if (error_) return;
    try {
      on_repeat_(index, first_index);
    } catch (...) {
      fail_locked(std::current_exception());
    }
  }

  void fail(std::exception_ptr error) {
    const std::lock_guard lock(mutex_);
    fail_locked(std::move(error));
  }

  void rethrow_if_failed() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void fail_locked(std::exception_ptr error) {
    if (!error_) error_ = std::move(error);
    failed_.store(true);
  }

  const std::function<void(std::size_t, const UrlResult&)>& on_result_;
  const UrlChecker::OnRepeat& on_repeat_;
  const std::atomic<bool>* stop_;
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::exception_ptr error_;
};

/// The waits of one URL whose requests fail for lack of descriptors, threads or memory: a
/// back-off of 50 ms doubling to 1 s (with jitter) while the budget lasts, then an error that
/// stops the run. Such failures are the machine's, never the URL's verdict.
class ResourceWait {
 public:
  explicit ResourceWait(double budget) : budget_(budget) {}

  [[nodiscard]] bool waited() const noexcept { return waits_ > 0; }

  /// Seconds to wait before the next request; throws pmap::RuntimeError once the budget is spent.
  double next_wait(const std::string& url, const std::string& error, std::mt19937_64& random) {
    if (waits_++ == 0) start_ = Clock::now();
    const double spent = seconds_since(start_);
    if (spent >= budget_) {
      throw RuntimeError("URL stage: " + url + ": " + error + ", still after " +
                         std::to_string(static_cast<int>(spent)) +
                         " s of retries: this process or the system is out of open files, "
                         "threads or memory (open files: " +
                         std::to_string(open_files_in_use()) + " in use, limit " +
                         std::to_string(open_files_limit()) +
                         "); lower the thread count (`urls.threads`), or raise the limits (ulimit -n, ulimit -u)");
    }
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    const double wait = std::min(resource_backoff_first * std::ldexp(1.0, std::min(waits_ - 1, 30)),
                                 resource_backoff_max);
    return std::min(wait * jitter(random), std::max(budget_ - spent, 0.0) + 0.001);
  }

 private:
  double budget_;
  int waits_ = 0;
  Clock::time_point start_;
};

/// Removes an easy handle from its multi handle when the scope ends.
class MultiAttachment {
 public:
  MultiAttachment(CURLM* multi, CURL* easy) : multi_(multi), easy_(easy) {
    curl_check(curl_multi_add_handle(multi_, easy_), "curl_multi_add_handle");
  }
  MultiAttachment(const MultiAttachment&) = delete;
  MultiAttachment& operator=(const MultiAttachment&) = delete;
  ~MultiAttachment() { curl_multi_remove_handle(multi_, easy_); }

 private:
  CURLM* multi_;
  CURL* easy_;
};

/// One worker thread's curl state, reused for every URL the worker checks.
class Worker {
 public:
  Worker(const UrlOptions& options, CURLSH* shared, const Run& run)
      : options_(options),
        run_(run),
        multi_(detail::make_curl_multi()),
        easy_(detail::make_curl_easy()),
        random_(std::random_device{}()) {
    CURL* easy = easy_.get();
    const double connect =
        options.connect_timeout > 0 ? options.connect_timeout : std::min(options.timeout, 5.0);
    curl_set(easy, CURLOPT_NOSIGNAL, 1L, "CURLOPT_NOSIGNAL");
    curl_set(easy, CURLOPT_QUICK_EXIT, 1L, "CURLOPT_QUICK_EXIT");  // never wait on a slow DNS
    curl_set(easy, CURLOPT_TIMEOUT_MS, milliseconds(options.timeout), "CURLOPT_TIMEOUT_MS");
    curl_set(easy, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(connect), "CURLOPT_CONNECTTIMEOUT_MS");
    curl_set(easy, CURLOPT_FOLLOWLOCATION, 1L, "CURLOPT_FOLLOWLOCATION");
    curl_set(easy, CURLOPT_MAXREDIRS, static_cast<long>(options.max_redirects),
             "CURLOPT_MAXREDIRS");
    curl_set(easy, CURLOPT_PROTOCOLS_STR, "http,https", "CURLOPT_PROTOCOLS_STR");
    curl_set(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https", "CURLOPT_REDIR_PROTOCOLS_STR");
    curl_set(easy, CURLOPT_USERAGENT, options.user_agent.c_str(), "CURLOPT_USERAGENT");
    curl_set(easy, CURLOPT_SSL_VERIFYPEER, options.insecure ? 0L : 1L, "CURLOPT_SSL_VERIFYPEER");
    curl_set(easy, CURLOPT_SSL_VERIFYHOST, options.insecure ? 0L : 2L, "CURLOPT_SSL_VERIFYHOST");
    curl_set(easy, CURLOPT_ERRORBUFFER, error_buffer_.data(), "CURLOPT_ERRORBUFFER");
    curl_set(easy, CURLOPT_WRITEFUNCTION, &Worker::on_body, "CURLOPT_WRITEFUNCTION");
    curl_set(easy, CURLOPT_WRITEDATA, this, "CURLOPT_WRITEDATA");
    curl_set(easy, CURLOPT_HEADERFUNCTION, &Worker::on_header, "CURLOPT_HEADERFUNCTION");
    curl_set(easy, CURLOPT_HEADERDATA, this, "CURLOPT_HEADERDATA");
    curl_set(easy, CURLOPT_OPENSOCKETFUNCTION, &Worker::on_open_socket,
             "CURLOPT_OPENSOCKETFUNCTION");
    curl_set(easy, CURLOPT_OPENSOCKETDATA, this, "CURLOPT_OPENSOCKETDATA");
    curl_set(easy, CURLOPT_SHARE, shared, "CURLOPT_SHARE");
    curl_check(curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS, kept_connections),
               "CURLMOPT_MAXCONNECTS");
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() = default;

  /// Every attempt for one URL: the Head->Get fallback, retries and back-off.
  UrlResult fetch(const std::string& url) {
    const auto start = Clock::now();
    UrlResult result;
    HttpMethod method = options_.method;
    bool fell_back = false;
    int retries_done = 0;
    ResourceWait starved(options_.resource_wait);
    for (;;) {
      if ((result.attempts > 0 || starved.waited()) && run_.stopping()) {  // none once stopping
        result.verdict = Verdict::Unknown;
        result.error = interrupted_text;
        break;
      }
      const Attempt attempt = perform(url, method);
      if (attempt.starved) {  // not an answer, not an attempt: wait and make it again
        static_cast<void>(sleep_unless_stopped(starved.next_wait(url, attempt.error, random_)));
        continue;  // a stop during the wait is seen at the top
      }
      ++result.attempts;
      result.http_status = static_cast<std::int32_t>(attempt.status);
      result.final_url = attempt.final_url;
      if (attempt.interrupted) {
        result.verdict = Verdict::Unknown;
        result.error = interrupted_text;
        break;
      }
      if (attempt.complete && method == HttpMethod::Head && !fell_back &&
          (attempt.status == 405 || attempt.status == 501)) {
        method = HttpMethod::Get;
        fell_back = true;
        continue;
      }
      result.verdict = attempt.complete ? verdict_of(attempt.status) : Verdict::Unknown;
      result.error = attempt.complete ? std::string() : attempt.error;
      const bool transient =
          attempt.complete ? retryable_status(attempt.status) : retryable_code(attempt.code);
      if (!transient || retries_done >= options_.retries) break;
      const double wait = attempt.retry_after > 0
                              ? std::min(attempt.retry_after, options_.retry_after_cap)
                              : backoff(retries_done);
      if (!sleep_unless_stopped(wait)) {
        result.verdict = Verdict::Unknown;
        result.error = interrupted_text;
        break;
      }
      ++retries_done;
    }
    result.seconds = seconds_since(start);
    return result;
  }

 private:
  struct Attempt {
    CURLcode code = CURLE_OK;
    long status = 0;
    bool complete = false;  // the final response's status line and headers arrived
    bool interrupted = false;
    bool starved = false;    // failed for lack of descriptors, threads or memory: no answer
    double retry_after = 0;  // seconds, 0 when the server sent none
    std::string error;
    std::string final_url;
  };

  Attempt perform(const std::string& url, HttpMethod method) {
    CURL* easy = easy_.get();
    curl_set(easy, CURLOPT_URL, url.c_str(), "CURLOPT_URL");
    if (method == HttpMethod::Head) {
      curl_set(easy, CURLOPT_NOBODY, 1L, "CURLOPT_NOBODY");
    } else {
      curl_set(easy, CURLOPT_HTTPGET, 1L, "CURLOPT_HTTPGET");
    }
    error_buffer_.front() = '\0';
    body_bytes_ = 0;
    body_capped_ = false;
    location_ = false;
    final_headers_ = false;
    socket_errno_ = 0;
    bool cut_at_headers = false;

    Attempt attempt;
    attempt.code = CURLE_GOT_NOTHING;
    {
      const MultiAttachment attached(multi_.get(), easy);
      for (bool done = false; !done;) {
        int running = 0;
        curl_check(curl_multi_perform(multi_.get(), &running), "curl_multi_perform");
        int queued = 0;
        while (const CURLMsg* message = curl_multi_info_read(multi_.get(), &queued)) {
          if (message->msg == CURLMSG_DONE) {
            attempt.code = message->data.result;
            done = true;
          }
        }
        if (done || running == 0) break;
        if (final_headers_) {     // the verdict is known: the body is never waited for
          cut_at_headers = true;  // leaving the scope removes the handle: the transfer ends
          break;
        }
        if (run_.stopping()) {
          attempt.interrupted = true;  // leaving the scope removes the handle: the transfer ends
          break;
        }
        curl_check(curl_multi_poll(multi_.get(), nullptr, 0, poll_slice_ms, nullptr),
                   "curl_multi_poll");
      }
    }

    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    attempt.status = status;
    char* effective = nullptr;
    if (curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &effective) == CURLE_OK &&
        effective != nullptr) {
      attempt.final_url = effective;
    }
    curl_off_t retry_after = 0;
    if (curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK) {
      attempt.retry_after = static_cast<double>(retry_after);
    }
    attempt.complete = !attempt.interrupted && status != 0 &&
                       (cut_at_headers || attempt.code == CURLE_OK ||
                        (attempt.code == CURLE_WRITE_ERROR && body_capped_));
    if (!attempt.complete && !attempt.interrupted) {
      attempt.error =
          error_buffer_.front() != '\0' ? error_buffer_.data() : curl_easy_strerror(attempt.code);
      long os_errno = socket_errno_;  // curl leaves CURLINFO_OS_ERRNO 0 when socket() fails
      if (os_errno == 0) curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
      attempt.starved = starved(attempt.code, os_errno, attempt.error);
      if (attempt.starved && os_errno != 0) {
        attempt.error += std::string(" (") + std::strerror(static_cast<int>(os_errno)) + ")";
      }
    }
    return attempt;
  }

  /// A failure for lack of descriptors, threads or memory in this process or the system, not an
  /// answer from the server: socket() or connect() failing with EMFILE, ENFILE, ENOBUFS, ENOMEM,
  /// EAGAIN (no local port), curl out of memory, or curl's resolver thread failing to start.
  static bool starved(CURLcode code, long os_errno, std::string_view error) {
    switch (code) {
      case CURLE_OUT_OF_MEMORY:
        return true;
      case CURLE_COULDNT_CONNECT:
      case CURLE_SEND_ERROR:
      case CURLE_RECV_ERROR:
        return is_resource_errno(os_errno);
      case CURLE_COULDNT_RESOLVE_HOST:
        return error.find("thread failed to start") != std::string_view::npos;
      default:
        return false;
    }
  }

  /// Opens curl's sockets (close-on-exec, so kernels' child processes never inherit them) and
  /// keeps the errno of a socket() that failed: curl reports only "Couldn't connect".
  static curl_socket_t on_open_socket(void* self, curlsocktype /*purpose*/,
                                      curl_sockaddr* address) {
    const curl_socket_t fd =
        ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd == CURL_SOCKET_BAD) static_cast<Worker*>(self)->socket_errno_ = errno;
    return fd;
  }

  /// Ends the header block of each response: the final one (not 1xx, not a redirect that curl
  /// follows) sets final_headers_, and perform() then ends the transfer.
  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* self) {
    auto& worker = *static_cast<Worker*>(self);
    const std::size_t bytes = size * count;
    const std::string_view line(data, bytes);
    if (line.starts_with("HTTP/")) {
      worker.location_ = false;
    } else if (line.size() > 9 && lower(line.substr(0, 9)) == "location:") {
      worker.location_ = true;
    } else if (line == "\r\n" || line == "\n") {
      long status = 0;
      curl_easy_getinfo(worker.easy_.get(), CURLINFO_RESPONSE_CODE, &status);
      const bool followed = status >= 300 && status < 400 && worker.location_;
      if (status >= 200 && !followed) worker.final_headers_ = true;
    }
    return bytes;
  }

  /// Bodies are counted and dropped; past max_body_bytes the transfer is cut (a complete answer).
  static std::size_t on_body(char* /*data*/, std::size_t size, std::size_t count, void* self) {
    auto& worker = *static_cast<Worker*>(self);
    const std::size_t bytes = size * count;
    worker.body_bytes_ += bytes;
    if (worker.body_bytes_ > max_body_bytes) {
      worker.body_capped_ = true;
      return 0;  // CURLE_WRITE_ERROR, recognised by perform()
    }
    return bytes;
  }

  double backoff(int retries_done) {
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    const double wait = options_.backoff_base * std::ldexp(1.0, std::min(retries_done, 30));
    return std::min(wait * jitter(random_), options_.retry_after_cap);
  }

  /// Sleeps `seconds` in short slices; false if a stop was requested meanwhile.
  bool sleep_unless_stopped(double seconds) const {
    const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(seconds));
    while (!run_.stopping()) {
      const auto now = Clock::now();
      if (now >= until) return true;
      std::this_thread::sleep_for(
          std::min<Clock::duration>(until - now, std::chrono::milliseconds(50)));
    }
    return false;
  }

  const UrlOptions& options_;
  const Run& run_;
  std::array<char, CURL_ERROR_SIZE> error_buffer_{};
  std::size_t body_bytes_ = 0;
  bool body_capped_ = false;
  bool location_ = false;       // the response whose headers are arriving has a Location
  bool final_headers_ = false;  // the final response's headers are complete
  int socket_errno_ = 0;        // errno of a socket() that failed in this attempt
  detail::CurlMulti multi_;     // declared before easy_: the easy handle goes first
  detail::CurlEasy easy_;
  std::mt19937_64 random_;
};

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
  Run run(on_result, on_repeat, stop);
  if (run.stopping()) return;
  const std::size_t window =
      options_.window > 0
          ? options_.window
          : std::max<std::size_t>(16384,
                                  std::size_t{16} * static_cast<std::size_t>(options_.threads));
  const detail::CurlSharedCache shared;  // outlives the workers' easy handles
  detail::UrlQueue queue(options_.per_host, window, [&run] { return run.stopping(); });
  const auto work = [&] {
    try {
      Worker worker(options_, shared.get(), run);
      while (auto job = queue.acquire()) {
        UrlResult result = worker.fetch(job->url);
        result.url = std::move(job->url);
        const std::size_t first = job->index;
        run.report(std::span(&first, 1), result);
        // Forgotten only once reported: a copy read later goes to on_repeat, after the result.
        const std::vector<std::size_t> merged = queue.finish(*job);
        run.report(merged, result);
      }
    } catch (...) {
      run.fail(std::current_exception());  // never let an exception leave a worker thread
    }
  };
  std::vector<std::jthread> workers;  // joined before the queue and the cache go
  struct CloseQueue {
    detail::UrlQueue& queue;
    ~CloseQueue() { queue.close(); }  // before the workers are joined, also on an exception
  } close_queue{queue};
  detail::FingerprintSet seen;  // distinct valid URLs handed to the queue that may repeat
  try {
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
      if (workers.size() < static_cast<std::size_t>(options_.threads) &&
          workers.size() < queue.added()) {
        try {
          workers.emplace_back(work);
        } catch (const std::system_error& error) {  // e.g. RLIMIT_NPROC: never fewer, silently
          throw_thread_start_failure(kUrlThreads, workers.size() + 1,
                                     static_cast<std::size_t>(options_.threads), error);
        }
      }
    }
  } catch (...) {
    run.fail(std::current_exception());  // the workers see it and leave
  }
  queue.close();
  workers.clear();  // joins every worker
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
