// pmap — libcurl wrapped once: RAII handles and a check-and-throw layer (private).
#pragma once

#include <curl/curl.h>

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "pmap/error.hpp"

namespace pmap::detail {

/// curl_global_init exactly once per process (std::call_once); never cleaned up.
void curl_global_init_once();

struct CurlEasyDeleter {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
struct CurlMultiDeleter {
  void operator()(CURLM* handle) const noexcept { curl_multi_cleanup(handle); }
};
struct CurlShareDeleter {
  void operator()(CURLSH* handle) const noexcept { curl_share_cleanup(handle); }
};
struct CurlUrlDeleter {
  void operator()(CURLU* handle) const noexcept { curl_url_cleanup(handle); }
};
struct CurlFreeDeleter {
  void operator()(char* text) const noexcept { curl_free(text); }
};

using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlMulti = std::unique_ptr<CURLM, CurlMultiDeleter>;
using CurlShare = std::unique_ptr<CURLSH, CurlShareDeleter>;
using CurlUrl = std::unique_ptr<CURLU, CurlUrlDeleter>;
using CurlString = std::unique_ptr<char, CurlFreeDeleter>;

/// Throws pmap::RuntimeError "<what>: <curl's message>" unless code is CURLE_OK.
void curl_check(CURLcode code, std::string_view what);
/// Same for the multi interface.
void curl_check(CURLMcode code, std::string_view what);
/// Same for the share interface.
void curl_check(CURLSHcode code, std::string_view what);

/// curl_easy_setopt with the result checked; the option name goes into the message.
template <typename Value>
void curl_set(CURL* handle, CURLoption option, Value value, std::string_view name) {
  curl_check(curl_easy_setopt(handle, option, value), name);
}

/// A new easy handle (throws if libcurl cannot make one).
CurlEasy make_curl_easy();
/// A new multi handle (throws if libcurl cannot make one).
CurlMulti make_curl_multi();

/// A share object for the DNS cache and TLS sessions, locked for use from many threads.
/// Must outlive every easy handle that uses it.
class CurlSharedCache {
 public:
  CurlSharedCache();
  CurlSharedCache(const CurlSharedCache&) = delete;
  CurlSharedCache& operator=(const CurlSharedCache&) = delete;
  [[nodiscard]] CURLSH* get() const noexcept { return share_.get(); }

 private:
  static void lock(CURL* handle, curl_lock_data data, curl_lock_access access, void* self);
  static void unlock(CURL* handle, curl_lock_data data, void* self);

  std::array<std::mutex, CURL_LOCK_DATA_LAST> mutexes_;
  CurlShare share_;  // declared last: cleaned up before the mutexes it uses are destroyed
};

/// Share objects for DNS results and TLS sessions, one per bucket of host names. libcurl keeps
/// at most 8 TLS sessions in a share object (7.88), so one object for a list over 50 hosts would
/// resume almost none; a host's requests all use its bucket's object, where its session and
/// address stay while fewer than 8 hosts of the bucket are in use. Must outlive every easy handle
/// that uses it.
class CurlShareBank {
 public:
  explicit CurlShareBank(std::size_t buckets);
  /// The share object for host name `host` (lower-case).
  [[nodiscard]] CURLSH* for_host(std::string_view host) const noexcept;

 private:
  std::vector<std::unique_ptr<CurlSharedCache>> shares_;
};

}  // namespace pmap::detail
