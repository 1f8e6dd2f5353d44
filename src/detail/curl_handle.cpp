// pmap — libcurl RAII handles and the check-and-throw layer.
#include "curl_handle.hpp"

#include <algorithm>
#include <cstddef>

#include "fnv.hpp"

namespace pmap::detail {

namespace {

std::once_flag global_init_flag;

[[noreturn]] void throw_curl(std::string_view what, const char* message) {
  std::string text(what);
  text += ": ";
  text += message != nullptr ? message : "unknown libcurl error";
  throw RuntimeError(text);
}

}  // namespace

void curl_global_init_once() {
  // call_once: if the init throws, the flag stays unset and the next call tries again.
  std::call_once(global_init_flag,
                 [] { curl_check(curl_global_init(CURL_GLOBAL_DEFAULT), "curl_global_init"); });
}

void curl_check(CURLcode code, std::string_view what) {
  if (code != CURLE_OK) throw_curl(what, curl_easy_strerror(code));
}

void curl_check(CURLMcode code, std::string_view what) {
  if (code != CURLM_OK) throw_curl(what, curl_multi_strerror(code));
}

void curl_check(CURLSHcode code, std::string_view what) {
  if (code != CURLSHE_OK) throw_curl(what, curl_share_strerror(code));
}

CurlEasy make_curl_easy() {
  CurlEasy easy(curl_easy_init());
  if (!easy) throw RuntimeError("curl_easy_init failed");
  return easy;
}

CurlMulti make_curl_multi() {
  CurlMulti multi(curl_multi_init());
  if (!multi) throw RuntimeError("curl_multi_init failed");
  return multi;
}

CurlSharedCache::CurlSharedCache() : share_(curl_share_init()) {
  if (!share_) throw RuntimeError("curl_share_init failed");
  CURLSH* share = share_.get();
  curl_check(curl_share_setopt(share, CURLSHOPT_LOCKFUNC, &CurlSharedCache::lock),
             "CURLSHOPT_LOCKFUNC");
  curl_check(curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, &CurlSharedCache::unlock),
             "CURLSHOPT_UNLOCKFUNC");
  curl_check(curl_share_setopt(share, CURLSHOPT_USERDATA, this), "CURLSHOPT_USERDATA");
  curl_check(curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS), "share DNS cache");
  curl_check(curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION),
             "share TLS sessions");
}

void CurlSharedCache::lock(CURL* /*handle*/, curl_lock_data data, curl_lock_access /*access*/,
                           void* self) {
  static_cast<CurlSharedCache*>(self)->mutexes_[static_cast<std::size_t>(data)].lock();
}

void CurlSharedCache::unlock(CURL* /*handle*/, curl_lock_data data, void* self) {
  static_cast<CurlSharedCache*>(self)->mutexes_[static_cast<std::size_t>(data)].unlock();
}

CurlShareBank::CurlShareBank(std::size_t buckets) {
  shares_.reserve(std::max<std::size_t>(buckets, 1));
  for (std::size_t i = 0; i < std::max<std::size_t>(buckets, 1); ++i) {
    shares_.push_back(std::make_unique<CurlSharedCache>());
  }
}

CURLSH* CurlShareBank::for_host(std::string_view host) const noexcept {
  Fnv1a64 hash;
  hash.add("tls-bucket:");  // unrelated to the host hash that shards URLs across ranks
  hash.add(host);
  return shares_[hash.value() % shares_.size()]->get();
}

}  // namespace pmap::detail
