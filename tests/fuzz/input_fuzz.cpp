// pmap — libFuzzer target: --input files, the items made of their lines, and the printable text
// error messages quote.
//
// Input: the bytes of an input file (written to a memfd, opened by path). read_input must keep
// exactly the lines a reference keeps (split at '\n', trimmed, blank lines and '#' comments
// skipped, 1-based line numbers) or throw UsageError naming the first line with a NUL byte.
// ItemSpace over the lines must map rows to lines and back; Item::as_int must agree with a
// reference decimal parser, as_double with as_int where both apply, and both may only throw
// ItemError with a printable message. detail::printable_utf8 is checked on every line and on the
// whole file with a limit taken from the input.
#include <cmath>
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

namespace {

using pmap::fuzz::escaped;

struct Expected {
  std::vector<std::string_view> text;
  std::vector<std::int64_t> line_number;
  std::int64_t nul_line = 0;  // first line holding a NUL byte, 0 when none
  std::int64_t lines = 0;     // lines in the file
};

Expected reference_read(std::string_view file) {
  Expected e;
  if (file.starts_with("\xEF\xBB\xBF")) file.remove_prefix(3);  // a byte order mark is dropped
  for (std::size_t from = 0; from < file.size();) {  // getline: no line after a final '\n'
    const std::size_t nl = file.find('\n', from);
    const std::string_view line =
        file.substr(from, nl == std::string_view::npos ? file.npos : nl - from);
    ++e.lines;
    if (line.find('\0') != std::string_view::npos) {
      e.nul_line = e.lines;
      return e;
    }
    const std::string_view t = pmap::fuzz::ref_trim(line);
    if (!t.empty() && t.front() != '#') {
      e.text.push_back(t);
      e.line_number.push_back(e.lines);
    }
    if (nl == std::string_view::npos) break;
    from = nl + 1;
  }
  return e;
}

void check_item(const pmap::Item& item) {
  const std::optional<std::int64_t> ref = pmap::fuzz::ref_int64(item.text, true);
  std::optional<std::int64_t> as_int;
  try {
    as_int = item.as_int();
  } catch (const pmap::ItemError& e) {
    const std::string_view what = e.what();
    PMAP_FUZZ_CHECK(what.starts_with("line " + std::to_string(item.value) + ": '"), escaped(what));
    PMAP_FUZZ_CHECK(pmap::fuzz::printable_utf8_text(what), escaped(what));
  }
  PMAP_FUZZ_CHECK(as_int == ref, escaped(item.text) + " as_int " +
                                     (as_int ? std::to_string(*as_int) : "throws") +
                                     ", reference " + (ref ? std::to_string(*ref) : "rejects"));
  std::optional<double> as_double;
  try {
    as_double = item.as_double();
  } catch (const pmap::ItemError& e) {
    PMAP_FUZZ_CHECK(pmap::fuzz::printable_utf8_text(e.what()), escaped(e.what()));
  }
  PMAP_FUZZ_CHECK(!as_double || std::isfinite(*as_double), escaped(item.text));
  if (ref) {  // an integer is a number: the nearest double (strtod and the cast both round so)
    PMAP_FUZZ_CHECK(as_double && *as_double == static_cast<double>(*ref), escaped(item.text));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static pmap::fuzz::MemFile file;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const Expected expected = reference_read(bytes);

  // The text error messages quote: every line, and the whole file under a limit from the input.
  const std::size_t limit = size == 0 ? 0 : data[0] % 97;
  pmap::fuzz::check_printable_utf8(bytes, limit);
  pmap::fuzz::check_printable_utf8(bytes, 4096);

  std::optional<pmap::InputLines> lines;
  try {
    lines = pmap::read_input(file.write(data, size));
  } catch (const pmap::UsageError& e) {
    const std::string_view what = e.what();
    PMAP_FUZZ_CHECK(expected.nul_line != 0, "rejected: " + escaped(what));
    PMAP_FUZZ_CHECK(what.find(":" + std::to_string(expected.nul_line) + ": contains a NUL byte") !=
                        std::string_view::npos,
                    escaped(what));
    return 0;
  }
  PMAP_FUZZ_CHECK(expected.nul_line == 0,
                  "accepted a NUL byte on line " + std::to_string(expected.nul_line));
  PMAP_FUZZ_CHECK(
      lines->text.size() == expected.text.size() && lines->line_number == expected.line_number,
      std::to_string(lines->text.size()) + " items, expected " +
          std::to_string(expected.text.size()));
  for (std::size_t i = 0; i < expected.text.size(); ++i) {
    PMAP_FUZZ_CHECK(lines->text[i] == expected.text[i],
                    escaped(lines->text[i]) + " != " + escaped(expected.text[i]));
    pmap::fuzz::check_printable_utf8(lines->text[i], 80);
  }

  // The space over the lines: rows <-> line numbers, items as kernels see them.
  const pmap::ItemSpace space(*lines);
  PMAP_FUZZ_CHECK(space.size() == expected.text.size() && space.from_input(), "size");
  std::int64_t next_line = 1;  // line numbers between items are not items
  for (std::uint64_t i = 0; i < space.size(); ++i) {
    const pmap::Item item = space.at(i);
    PMAP_FUZZ_CHECK(item.row == i && item.from_input && item.value == expected.line_number[i] &&
                        item.text == expected.text[i],
                    "item " + std::to_string(i));
    PMAP_FUZZ_CHECK(space.row_of(item.value) == std::optional<std::uint64_t>(i),
                    "row_of line " + std::to_string(item.value));
    for (; next_line < item.value; ++next_line) {
      PMAP_FUZZ_CHECK(!space.row_of(next_line), "row_of skipped line " + std::to_string(next_line));
    }
    next_line = item.value + 1;
    check_item(item);
  }
  for (const std::int64_t v : {std::int64_t{0}, std::int64_t{-1}, expected.lines + 1, INT64_MIN}) {
    PMAP_FUZZ_CHECK(!space.row_of(v), "row_of(" + std::to_string(v) + ")");
  }
  const std::string fp = space.fingerprint();
  PMAP_FUZZ_CHECK(fp.size() == 16 && pmap::ItemSpace(*lines).fingerprint() == fp, fp);
  PMAP_FUZZ_CHECK(space.describe() == "input (" + std::to_string(space.size()) + " items)",
                  space.describe());
  return 0;
}
