// pmap — the URL stage's CA trust (see tls_trust.hpp).
#include "tls_trust.hpp"

#include <filesystem>
#include <fstream>
#include <system_error>

#include "curl_handle.hpp"
#include "pmap/error.hpp"

namespace pmap::detail {

namespace {

/// libcurl's built-in CA directory ("/etc/ssl/certs" on Debian), "" when it has none.
std::string system_ca_directory() {
  const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  return info != nullptr && info->capath != nullptr ? std::string(info->capath) : std::string();
}

/// A null pointer for "", so that libcurl uses nothing rather than an empty path.
const char* or_null(const std::string& text) { return text.empty() ? nullptr : text.c_str(); }

}  // namespace

TlsTrust tls_trust(const UrlOptions& options) {
  TlsTrust trust;
  const std::string system_dir = system_ca_directory();
  if (options.cacert.empty() && options.capath.empty()) {
    trust.capath = "";  // the bundle alone: cached once per multi handle
    return trust;
  }
  if (!options.cacert.empty()) trust.cainfo = options.cacert;
  if (!options.capath.empty()) {
    if (options.cacert.empty()) trust.cainfo = "";  // the bundle would be parsed per connection
    trust.capath = system_dir.empty() ? options.capath : options.capath + ":" + system_dir;
  } else {
    trust.capath = system_dir;
  }
  return trust;
}

void validate_trust(const UrlOptions& options) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!options.cacert.empty()) {
    const std::string& file = options.cacert;
    if (!fs::exists(file, error)) throw UsageError("urls.cacert", file, "no such file");
    if (fs::is_directory(file, error)) {
      throw UsageError("urls.cacert", file,
                       "is a directory (`urls.capath` takes a directory of CA certificates)");
    }
    if (!std::ifstream(file).good()) throw UsageError("urls.cacert", file, "cannot be read");
  }
  if (!options.capath.empty()) {
    const std::string& dir = options.capath;
    if (dir.find(':') != std::string::npos) {
      throw UsageError("urls.capath", dir, "must not contain ':'");
    }
    if (!fs::exists(dir, error)) throw UsageError("urls.capath", dir, "no such directory");
    if (!fs::is_directory(dir, error)) throw UsageError("urls.capath", dir, "is not a directory");
  }
}

void apply_trust(CURL* easy, const TlsTrust& trust) {
  if (trust.cainfo) curl_set(easy, CURLOPT_CAINFO, or_null(*trust.cainfo), "CURLOPT_CAINFO");
  if (trust.capath) curl_set(easy, CURLOPT_CAPATH, or_null(*trust.capath), "CURLOPT_CAPATH");
}

}  // namespace pmap::detail
