// Private: make arbitrary bytes safe to store as UTF-8 text (error messages quote item text).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace pmap::detail {

/// Removes a UTF-8 byte order mark from the start of `line` (the first line of a text file
/// saved by some Windows editors), so that it does not become part of the first item.
inline void strip_utf8_bom(std::string& line) {
  if (line.size() >= 3 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
}

/// `s` as valid, printable UTF-8 of at most `max_bytes` bytes: control characters (C0, DEL, C1)
/// and bytes that are not part of a valid UTF-8 sequence become `\xNN` (a C1 control: both of
/// its bytes, `\xc2\x9b`); a character is never cut in half.
inline std::string printable_utf8(std::string_view s, std::size_t max_bytes = 4096) {
  std::string out;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    std::size_t len = 0;
    if (c >= 0x20 && c < 0x7f) {
      len = 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
    }
    bool valid = len > 0 && i + len <= n;
    for (std::size_t k = 1; valid && k < len; ++k) valid = (p[i + k] & 0xc0) == 0x80;
    if (valid && len == 2) valid = !(c == 0xc2 && p[i + 1] < 0xa0);  // C1 controls U+0080..9F
    if (valid && len == 3) {
      const unsigned c1 = p[i + 1];
      valid = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);  // overlong, surrogates
    }
    if (valid && len == 4) {
      const unsigned c1 = p[i + 1];
      valid = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
    }
    if (valid) {
      if (out.size() + len > max_bytes) break;
      out.append(s.substr(i, len));
      i += len;
    } else {
      if (out.size() + 4 > max_bytes) break;
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", static_cast<unsigned>(c));
      out += esc;
      ++i;
    }
  }
  return out;
}

}  // namespace pmap::detail
