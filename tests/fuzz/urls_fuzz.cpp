// pmap — libFuzzer target: URL lists, as the URL stage reads and validates them.
//
// Input: the bytes of a URL list. The URL stage's reader (src/url_stage.cpp, private) streams
// the lines of the file, trimmed, skipping blank lines and '#' comments; the lines are split the
// same way here and, when the file has no NUL byte, must equal what read_input keeps from it
// (written to a memfd). Each line then goes through url_invalid_reason, url_host and host_hash:
// a line is either invalid with a printable "invalid URL: ..." reason and no host, or an http(s)
// URL of at most 8 KiB without whitespace or control bytes whose host is non-empty, lower-case,
// free of delimiters and hashed by FNV-1a 64; both answers are deterministic. The reasons and the
// lines (as the URL stage's error strings quote them) are checked with detail::printable_utf8.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "detail/text.hpp"
#include "fuzz_support.hpp"
#include "pmap/error.hpp"
#include "pmap/item_space.hpp"
#include "pmap/url_check.hpp"

namespace {

using pmap::fuzz::escaped;

constexpr std::size_t kMaxLines = 256;  // per input: keeps every run fast

/// The URL lines of a file, as the URL stage keeps them.
std::vector<std::string_view> url_lines(std::string_view file) {
  std::vector<std::string_view> out;
  if (file.starts_with("\xEF\xBB\xBF")) file.remove_prefix(3);  // a byte order mark is dropped
  for (std::size_t from = 0; from < file.size() && out.size() < kMaxLines;) {
    const std::size_t nl = file.find('\n', from);
    const std::string_view t = pmap::fuzz::ref_trim(
        file.substr(from, nl == std::string_view::npos ? file.npos : nl - from));
    if (!t.empty() && t.front() != '#') out.push_back(t);
    if (nl == std::string_view::npos) break;
    from = nl + 1;
  }
  return out;
}

std::uint64_t reference_fnv1a(std::string_view s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

void check_url(std::string_view line) {
  const std::optional<std::string> reason = pmap::url_invalid_reason(line);
  const std::string host = pmap::url_host(line);
  PMAP_FUZZ_CHECK(
      reason.has_value() == host.empty(),
      escaped(line) + " reason " + escaped(reason.value_or("(none)")) + " host " + escaped(host));
  PMAP_FUZZ_CHECK(pmap::url_invalid_reason(line) == reason && pmap::url_host(line) == host,
                  escaped(line) + ": not deterministic");
  pmap::fuzz::check_printable_utf8(line, 256);
  if (reason) {
    PMAP_FUZZ_CHECK(reason->starts_with("invalid URL: ") && reason->size() > 13 &&
                        pmap::fuzz::printable_utf8_text(*reason),
                    escaped(line) + " -> " + escaped(*reason));
    return;
  }
  PMAP_FUZZ_CHECK(line.size() <= 8192, escaped(line) + " longer than 8 KiB is valid");
  PMAP_FUZZ_CHECK(starts_with_nocase(line, "http://") || starts_with_nocase(line, "https://"),
                  escaped(line) + " is valid");
  for (const char c : line) {
    const auto b = static_cast<unsigned char>(c);
    PMAP_FUZZ_CHECK(b > 0x20 && b != 0x7f, escaped(line) + " with a control byte is valid");
  }
  for (const char c : host) {
    const auto b = static_cast<unsigned char>(c);
    PMAP_FUZZ_CHECK(b > 0x20 && b != 0x7f && !(c >= 'A' && c <= 'Z') &&
                        std::string_view("/?#@").find(c) == std::string_view::npos,
                    escaped(line) + " host " + escaped(host));
  }
  PMAP_FUZZ_CHECK(pmap::host_hash(host) == reference_fnv1a(host), escaped(host));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static pmap::fuzz::MemFile file;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string_view> lines = url_lines(bytes);

  if (bytes.find('\0') == std::string_view::npos) {  // read_input refuses NUL bytes
    const pmap::InputLines read = pmap::read_input(file.write(data, size));
    const std::size_t n = std::min(read.text.size(), kMaxLines);
    PMAP_FUZZ_CHECK(n == lines.size(), std::to_string(read.text.size()) + " lines read, " +
                                           std::to_string(lines.size()) + " expected");
    for (std::size_t i = 0; i < n; ++i) {
      PMAP_FUZZ_CHECK(read.text[i] == lines[i], escaped(read.text[i]) + " != " + escaped(lines[i]));
    }
  }
  for (const std::string_view line : lines) check_url(line);
  return 0;
}
