// pmap — which CA certificates the URL stage trusts, and how libcurl is told (private).
#pragma once

#include <curl/curl.h>

#include <optional>
#include <string>

#include "pmap/url_check.hpp"

namespace pmap::detail {

/// The CA locations given to every easy handle; nullopt leaves libcurl's default.
///
/// Default: libcurl's CA bundle alone, without its CA directory, so that libcurl keeps the
/// parsed store in each multi handle (CURLOPT_CA_CACHE_TIMEOUT) instead of parsing the bundle
/// for every new connection (libcurl caches nothing once a CA directory is set; Debian's libcurl
/// sets both). UrlOptions::cacert and capath add to the system's trust: the file is loaded with
/// the system's CA directory (looked up lazily, certificate by certificate), a directory is
/// searched before the system's one (OpenSSL takes a ':'-separated list). With either, the store
/// is built per connection, which costs what the given file holds: keep it to the site's CAs.
struct TlsTrust {
  std::optional<std::string> cainfo;  ///< CURLOPT_CAINFO; "" means none
  std::optional<std::string> capath;  ///< CURLOPT_CAPATH; "" means none
};

/// What `options` asks for (options already validated).
[[nodiscard]] TlsTrust tls_trust(const UrlOptions& options);

/// Throws pmap::UsageError unless options.cacert is empty or a readable file and options.capath
/// is empty or a directory (without ':').
void validate_trust(const UrlOptions& options);

/// Sets CURLOPT_CAINFO and CURLOPT_CAPATH on `easy` as `trust` says.
void apply_trust(CURL* easy, const TlsTrust& trust);

}  // namespace pmap::detail
