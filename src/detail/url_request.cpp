// pmap — the URL requested for a line as written (see url_request.hpp).
#include "url_request.hpp"

#include <idn2.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace pmap::detail {

namespace {

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

struct Idn2Free {
  void operator()(std::uint8_t* text) const noexcept { idn2_free(text); }
};

/// The host's IDNA form, or the error of libidn2 as `error`.
std::string ascii_host(const std::string& host, std::string& error) {
  const auto* input = reinterpret_cast<const std::uint8_t*>(host.c_str());
  std::uint8_t* raw = nullptr;
  int rc = idn2_lookup_u8(input, &raw, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc != IDN2_OK) rc = idn2_lookup_u8(input, &raw, IDN2_NFC_INPUT | IDN2_TRANSITIONAL);
  const std::unique_ptr<std::uint8_t, Idn2Free> converted(raw);
  if (rc != IDN2_OK || !converted) {
    error = std::string("bad international host name: ") + idn2_strerror(rc);
    return {};
  }
  return reinterpret_cast<const char*>(converted.get());
}

/// `text` with every byte above 0x7f as %XX.
std::string percent_encode_high(std::string_view text) {
  static constexpr std::string_view hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x80) {
      out += c;
    } else {
      out += '%';
      out += hex[byte >> 4];
      out += hex[byte & 0x0f];
    }
  }
  return out;
}

}  // namespace

RequestUrl to_request_url(std::string_view line) {
  if (is_ascii(line)) return {std::string(line), {}};
  const std::size_t scheme_end = line.find("://");
  if (scheme_end == std::string_view::npos) return {std::string(line), {}};  // parse says why
  const std::size_t authority = scheme_end + 3;
  const std::size_t rest = std::min(line.find_first_of("/?#", authority), line.size());
  // The host is what follows any userinfo ("user@") and precedes any ":port"; not an IPv6
  // literal (ASCII by definition).
  std::size_t host_begin = line.rfind('@', rest);
  host_begin = host_begin == std::string_view::npos || host_begin < authority ? authority
                                                                              : host_begin + 1;
  std::size_t host_end = line.find(':', host_begin);
  if (host_end == std::string_view::npos || host_end > rest) host_end = rest;
  RequestUrl out;
  out.url = percent_encode_high(line.substr(0, host_begin));
  const std::string host(line.substr(host_begin, host_end - host_begin));
  if (is_ascii(host)) {
    out.url += host;
  } else {
    out.url += ascii_host(host, out.error);
    if (!out.error.empty()) return out;
  }
  out.url += percent_encode_high(line.substr(host_end));
  return out;
}

}  // namespace pmap::detail
