// pmap — a URL as written turned into the URL requested: IDNA host, percent-encoded path
// (private).
#pragma once

#include <string>
#include <string_view>

namespace pmap::detail {

/// What to_request_url() made of a line.
struct RequestUrl {
  std::string url;    ///< what to request (the line itself when it is all ASCII)
  std::string error;  ///< why it cannot be requested ("bad international host name: ..."), or ""
};

/// The line as curl's command line and Python's requests request it: an international host name
/// ("bücher.example") in its IDNA form ("xn--bcher-kva.example", UTS #46 non-transitional, then
/// transitional, as libcurl does), and every byte above 0x7f after the host percent-encoded
/// (UTF-8 as written: "/café" -> "/caf%C3%A9"), the way requests quotes a path. An ASCII line is
/// returned unchanged. Done here rather than by libcurl, whose IDN conversion depends on the
/// process's locale (libidn2's idn2_lookup_ul), which a batch job or a library cannot rely on.
[[nodiscard]] RequestUrl to_request_url(std::string_view line);

}  // namespace pmap::detail
