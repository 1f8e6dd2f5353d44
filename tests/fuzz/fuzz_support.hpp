// pmap — what the libFuzzer targets share: invariant checks, an in-memory input file, and
// reference implementations written independently of the library (never call it to check it).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "detail/text.hpp"

namespace pmap::fuzz {

__extension__ typedef __int128 i128;  // references compute exactly where int64 could overflow

/// A broken invariant: print what broke and abort (libFuzzer saves the input as a crash).
[[noreturn]] inline void fail(const char* file, int line, const char* what,
                              const std::string& detail) {
  std::fprintf(stderr, "\n%s:%d: fuzz invariant broken: %s\n  %s\n", file, line, what,
               detail.c_str());
  std::abort();
}

#define PMAP_FUZZ_CHECK(cond, detail)                                     \
  do {                                                                    \
    if (!(cond)) ::pmap::fuzz::fail(__FILE__, __LINE__, #cond, (detail)); \
  } while (false)

/// A file in memory (memfd) that library functions taking a path can open as /proc/self/fd/N;
/// rewritten for each input, so fuzzing touches no disk.
class MemFile {
 public:
  MemFile() : fd_(memfd_create("pmap-fuzz", 0)) {
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  ~MemFile() { ::close(fd_); }

  /// Replaces the content; returns the path to open.
  const std::string& write(const std::uint8_t* data, std::size_t size) {
    if (::ftruncate(fd_, 0) != 0) {
      std::perror("ftruncate");
      std::abort();
    }
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) {
        std::perror("pwrite");
        std::abort();
      }
      done += static_cast<std::size_t>(n);
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

/// The whitespace pmap trims around items, range parts and URL lines.
inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

inline std::string_view ref_trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

/// Reference decimal int64: one optional sign ('+' only if `plus_ok`), then ASCII digits only.
inline std::optional<std::int64_t> ref_int64(std::string_view s, bool plus_ok) {
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || (plus_ok && s.front() == '+'))) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  i128 v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
    if (v > (i128{1} << 63)) return std::nullopt;  // |INT64_MIN| at most
  }
  if (negative) v = -v;
  if (v > INT64_MAX || v < INT64_MIN) return std::nullopt;
  return static_cast<std::int64_t>(v);
}

/// Length of the valid UTF-8 sequence (RFC 3629: no overlongs, surrogates or > U+10FFFF) at
/// s[i], decoded into `cp`; 0 when s[i] does not start one.
inline std::size_t utf8_char(std::string_view s, std::size_t i, std::uint32_t& cp) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  std::size_t len = 0;
  std::uint32_t min = 0;
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  if ((c & 0xe0) == 0xc0) {
    len = 2;
    cp = c & 0x1fu;
    min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3;
    cp = c & 0x0fu;
    min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4;
    cp = c & 0x07u;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3fu);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

inline bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::uint32_t cp = 0;
    const std::size_t len = utf8_char(s, i, cp);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

/// Printable: valid UTF-8 without C0 controls, DEL or C1 controls (U+0080..U+009F).
inline bool printable_utf8_text(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::uint32_t cp = 0;
    const std::size_t len = utf8_char(s, i, cp);
    if (len == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return false;
    i += len;
  }
  return true;
}

/// Bytes as a C string literal body, for messages about invariants.
inline std::string escaped(std::string_view s, std::size_t max = 300) {
  std::string out;
  for (const char c : s.substr(0, max)) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f && c != '\\' && c != '"') {
      out += c;
    } else {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", static_cast<unsigned>(b));
      out += esc;
    }
  }
  if (s.size() > max) out += "...";
  return '"' + out + '"';
}

/// detail::printable_utf8(s, max_bytes): printable UTF-8 within the limit, cut only where the
/// next character or escape would not fit, a prefix of the uncut text, and `s` itself when `s`
/// is printable UTF-8 that fits.
inline void check_printable_utf8(std::string_view s, std::size_t max_bytes) {
  const std::string out = detail::printable_utf8(s, max_bytes);
  const std::string whole = detail::printable_utf8(s, std::string::npos);
  const auto about = [&] {  // only built when a check fails
    return escaped(s) + " max " + std::to_string(max_bytes) + " -> " + escaped(out);
  };
  PMAP_FUZZ_CHECK(out.size() <= max_bytes, about());
  PMAP_FUZZ_CHECK(printable_utf8_text(out), about());
  PMAP_FUZZ_CHECK(whole.starts_with(out), about());
  PMAP_FUZZ_CHECK(out.size() == whole.size() || out.size() + 4 > max_bytes, about());
  if (printable_utf8_text(s)) {
    PMAP_FUZZ_CHECK(whole == s, about());
    if (s.size() <= max_bytes) PMAP_FUZZ_CHECK(out == s, about());
  }
}

}  // namespace pmap::fuzz
