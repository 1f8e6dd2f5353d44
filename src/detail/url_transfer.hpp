// pmap — one request slot of an event loop: a reused curl easy handle, its callbacks and what an
// attempt came to (private).
#pragma once

#include <curl/curl.h>

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "curl_handle.hpp"
#include "pmap/url_check.hpp"
#include "tls_trust.hpp"

namespace pmap::detail {

/// What one request came to.
struct UrlAttempt {
  CURLcode code = CURLE_OK;
  long status = 0;
  bool complete = false;  ///< the final response's status line and headers arrived
  bool interrupted = false;
  bool starved = false;    ///< failed for lack of descriptors, threads or memory: no answer
  /// The connection failed before any byte of an answer (an HTTP/2 stream refused by GOAWAY, a
  /// reused connection closed under the request): the server never processed it.
  bool unprocessed = false;
  double retry_after = 0;  ///< seconds, 0 when the server sent none
  std::string error;
  std::string final_url;
};

/// An easy handle set up once (timeouts, redirects, TLS trust, HTTP/2 over TLS with ALPN and
/// PIPEWAIT, the share object) and reused for every request of its slot, so that the multi
/// handle it joins reuses connections, multiplexes HTTP/2 streams and keeps the CA store.
/// The verdict is taken at the headers: once the final response (not 1xx, not a redirect that
/// is followed) has its headers, the transfer is put on `cut` for the loop to end.
class UrlTransfer {
 public:
  /// `owner` is returned by owner() (CURLOPT_PRIVATE); `cut` is the loop's list of transfers
  /// whose verdict is known.
  UrlTransfer(const UrlOptions& options, const TlsTrust& trust, void* owner,
              std::vector<UrlTransfer*>& cut);

  [[nodiscard]] CURL* easy() const noexcept { return easy_.get(); }

  /// The final response's headers arrived in the current request (reset by prepare()).
  [[nodiscard]] bool final_headers() const noexcept { return final_headers_; }

  /// Resets the per-request state and points the handle at `url` with `method`, using `shared`
  /// (the host's share object: DNS results and TLS sessions).
  void prepare(const std::string& url, HttpMethod method, CURLSH* shared);

  /// Reads what the request came to: `code` from curl's done message (CURLE_GOT_NOTHING when it
  /// was ended early), `cut` when ended at the final headers, `interrupted` when stopped.
  [[nodiscard]] UrlAttempt finish(CURLcode code, bool cut, bool interrupted) const;

 private:
  static curl_socket_t on_open_socket(void* self, curlsocktype purpose, curl_sockaddr* address);
  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* self);
  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* self);

  std::vector<UrlTransfer*>& cut_;
  std::array<char, CURL_ERROR_SIZE> error_buffer_{};
  std::size_t body_bytes_ = 0;
  bool body_capped_ = false;
  bool location_ = false;       // the response whose headers are arriving has a Location
  bool final_headers_ = false;  // the final response's headers are complete
  bool any_header_ = false;     // a header line of any response arrived in this request
  int socket_errno_ = 0;        // errno of a socket() that failed in this request
  CURLSH* shared_ = nullptr;    // the share object in use
  CurlEasy easy_;
};

}  // namespace pmap::detail
