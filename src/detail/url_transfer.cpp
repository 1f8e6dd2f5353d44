// pmap — one request slot's easy handle (see url_transfer.hpp).
#include "url_transfer.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>

#include "pmap/limits.hpp"

namespace pmap::detail {

namespace {

// At most this much of a body is taken (and dropped) from what came with the headers.
constexpr std::size_t max_body_bytes = std::size_t{64} * 1024;

long milliseconds(double seconds) {
  const double ms = std::ceil(seconds * 1000.0);
  return static_cast<long>(
      std::clamp(ms, 1.0, static_cast<double>(std::numeric_limits<int>::max())));
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const char c = text[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != prefix[i]) return false;
  }
  return true;
}

/// A failure for lack of descriptors, threads or memory in this process or the system, not an
/// answer from the server: socket() or connect() failing with EMFILE, ENFILE, ENOBUFS, ENOMEM,
/// EAGAIN (no local port), curl out of memory, or curl's resolver thread failing to start.
bool starved(CURLcode code, long os_errno, std::string_view error) {
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

/// A transport failure that came before any byte of an answer. RFC 9113 section 6.8: streams
/// above a GOAWAY's last stream id were not processed and may be sent again on a new connection;
/// Debian 12's libcurl (7.88) gives up on them after 5 tries within one easy handle ("Connection
/// died, tried 5 times before giving up", fixed in libcurl 8.4), ~0.15% of the URLs of a long
/// HTTP/2 list against nginx's default of 1,000 requests a connection.
bool connection_lost(CURLcode code) {
  switch (code) {
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool is_https(std::string_view url) {
  constexpr std::string_view scheme = "https:";
  return url.size() >= scheme.size() &&
         std::equal(scheme.begin(), scheme.end(), url.begin(),
                    [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
}

}  // namespace

UrlTransfer::UrlTransfer(const UrlOptions& options, const TlsTrust& trust, void* owner,
                         std::vector<UrlTransfer*>& cut)
    : cut_(cut), easy_(make_curl_easy()) {
  CURL* easy = easy_.get();
  const double connect =
      options.connect_timeout > 0 ? options.connect_timeout : std::min(options.timeout, 5.0);
  curl_set(easy, CURLOPT_PRIVATE, owner, "CURLOPT_PRIVATE");
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
  // HTTP/2 when the server offers it in the TLS handshake (ALPN), HTTP/1.1 otherwise.
  curl_set(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS),
           "CURLOPT_HTTP_VERSION");
  curl_set(easy, CURLOPT_SSL_VERIFYPEER, options.insecure ? 0L : 1L, "CURLOPT_SSL_VERIFYPEER");
  curl_set(easy, CURLOPT_SSL_VERIFYHOST, options.insecure ? 0L : 2L, "CURLOPT_SSL_VERIFYHOST");
  apply_trust(easy, trust);
  curl_set(easy, CURLOPT_ERRORBUFFER, error_buffer_.data(), "CURLOPT_ERRORBUFFER");
  curl_set(easy, CURLOPT_WRITEFUNCTION, &UrlTransfer::on_body, "CURLOPT_WRITEFUNCTION");
  curl_set(easy, CURLOPT_WRITEDATA, this, "CURLOPT_WRITEDATA");
  curl_set(easy, CURLOPT_HEADERFUNCTION, &UrlTransfer::on_header, "CURLOPT_HEADERFUNCTION");
  curl_set(easy, CURLOPT_HEADERDATA, this, "CURLOPT_HEADERDATA");
  curl_set(easy, CURLOPT_OPENSOCKETFUNCTION, &UrlTransfer::on_open_socket,
           "CURLOPT_OPENSOCKETFUNCTION");
  curl_set(easy, CURLOPT_OPENSOCKETDATA, this, "CURLOPT_OPENSOCKETDATA");
}

void UrlTransfer::prepare(const std::string& url, HttpMethod method, CURLSH* shared) {
  CURL* easy = easy_.get();
  if (shared != shared_) {
    curl_set(easy, CURLOPT_SHARE, shared, "CURLOPT_SHARE");
    shared_ = shared;
  }
  curl_set(easy, CURLOPT_URL, url.c_str(), "CURLOPT_URL");
  // Over TLS a new request to a host waits for a connection being set up rather than opening
  // another, so that it can become an HTTP/2 stream on it. Plain http:// is HTTP/1.1 only: there
  // waiting could leave a request parked behind a connection busy with a slow answer.
  curl_set(easy, CURLOPT_PIPEWAIT, is_https(url) ? 1L : 0L, "CURLOPT_PIPEWAIT");
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
  any_header_ = false;
  socket_errno_ = 0;
}

UrlAttempt UrlTransfer::finish(CURLcode code, bool cut, bool interrupted) const {
  CURL* easy = easy_.get();
  UrlAttempt attempt;
  attempt.code = code;
  attempt.interrupted = interrupted;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &attempt.status);
  char* effective = nullptr;
  if (curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &effective) == CURLE_OK &&
      effective != nullptr) {
    attempt.final_url = effective;
  }
  curl_off_t retry_after = 0;
  if (curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK) {
    attempt.retry_after = static_cast<double>(retry_after);
  }
  attempt.complete = !interrupted && attempt.status != 0 &&
                     (cut || code == CURLE_OK || (code == CURLE_WRITE_ERROR && body_capped_));
  if (!attempt.complete && !interrupted) {
    attempt.error = error_buffer_.front() != '\0' ? error_buffer_.data() : curl_easy_strerror(code);
    long os_errno = socket_errno_;  // curl leaves CURLINFO_OS_ERRNO 0 when socket() fails
    if (os_errno == 0) curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
    attempt.starved = starved(code, os_errno, attempt.error);
    attempt.unprocessed =
        !attempt.starved && !cut && attempt.status == 0 && !any_header_ && connection_lost(code);
    if (attempt.starved && os_errno != 0) {
      attempt.error += std::string(" (") + std::strerror(static_cast<int>(os_errno)) + ")";
    }
  }
  return attempt;
}

/// Opens curl's sockets (close-on-exec, so kernels' child processes never inherit them) and
/// keeps the errno of a socket() that failed: curl reports only "Couldn't connect".
curl_socket_t UrlTransfer::on_open_socket(void* self, curlsocktype /*purpose*/,
                                          curl_sockaddr* address) {
  const curl_socket_t fd =
      ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd == CURL_SOCKET_BAD) static_cast<UrlTransfer*>(self)->socket_errno_ = errno;
  return fd;
}

/// Ends the header block of each response: the final one (not 1xx, not a redirect that curl
/// follows) puts the transfer on the loop's cut list.
std::size_t UrlTransfer::on_header(char* data, std::size_t size, std::size_t count, void* self) {
  auto& transfer = *static_cast<UrlTransfer*>(self);
  const std::size_t bytes = size * count;
  const std::string_view line(data, bytes);
  transfer.any_header_ = true;
  if (line.starts_with("HTTP/")) {
    transfer.location_ = false;
  } else if (starts_with_ignoring_case(line, "location:")) {
    transfer.location_ = true;
  } else if (line == "\r\n" || line == "\n") {
    long status = 0;
    curl_easy_getinfo(transfer.easy_.get(), CURLINFO_RESPONSE_CODE, &status);
    const bool followed = status >= 300 && status < 400 && transfer.location_;
    if (status >= 200 && !followed && !transfer.final_headers_) {
      transfer.final_headers_ = true;
      transfer.cut_.push_back(&transfer);
    }
  }
  return bytes;
}

/// Bodies are counted and dropped; past max_body_bytes the transfer is cut (a complete answer).
std::size_t UrlTransfer::on_body(char* /*data*/, std::size_t size, std::size_t count,
                                 void* self) {
  auto& transfer = *static_cast<UrlTransfer*>(self);
  const std::size_t bytes = size * count;
  transfer.body_bytes_ += bytes;
  if (transfer.body_bytes_ > max_body_bytes) {
    transfer.body_capped_ = true;
    return 0;  // CURLE_WRITE_ERROR, recognised by finish()
  }
  return bytes;
}

}  // namespace pmap::detail
