// pmap — libFuzzer target: --range parsing and Python range() arithmetic.
//
// Input: the bytes of a --range value. parse_range must accept exactly what a reference parser
// accepts (2 or 3 ':'-separated parts, each trimmed, one optional sign, decimal digits, fitting
// int64, STEP != 0) with the same values, and throw UsageError otherwise. For an accepted range,
// size(), at(), ItemSpace::row_of(), describe() and a textual round trip must agree with Python's
// range() computed in 128-bit arithmetic.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "pmap/error.hpp"
#include "pmap/item_space.hpp"

namespace {

using pmap::fuzz::escaped;
using pmap::fuzz::i128;

std::optional<pmap::Range> reference_parse(std::string_view text) {
  std::vector<std::string_view> parts;
  for (std::size_t from = 0;;) {
    const std::size_t colon = text.find(':', from);
    if (colon == std::string_view::npos) {
      parts.push_back(text.substr(from));
      break;
    }
    parts.push_back(text.substr(from, colon - from));
    from = colon + 1;
  }
  if (parts.size() != 2 && parts.size() != 3) return std::nullopt;
  std::int64_t v[3] = {0, 0, 1};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto parsed = pmap::fuzz::ref_int64(pmap::fuzz::ref_trim(parts[i]), true);
    if (!parsed) return std::nullopt;
    v[i] = *parsed;
  }
  if (v[2] == 0) return std::nullopt;
  return pmap::Range{v[0], v[1], v[2]};
}

/// len(range(start, stop, step)), exactly.
i128 reference_size(const pmap::Range& r) {
  const i128 start = r.start, stop = r.stop, step = r.step;
  if (step > 0 && stop > start) return (stop - start + step - 1) / step;
  if (step < 0 && stop < start) return (start - stop - step - 1) / -step;
  return 0;
}

/// The row of `value` in the range, exactly: Python's range.index(value).
std::optional<std::uint64_t> reference_row(const pmap::Range& r, std::int64_t value) {
  const i128 offset = i128{value} - r.start;
  if (offset % r.step != 0) return std::nullopt;
  const i128 row = offset / r.step;
  if (row < 0 || row >= reference_size(r)) return std::nullopt;
  return static_cast<std::uint64_t>(row);
}

/// `v` modulo 2^64 as an int64 (values near the ends of int64 without overflow).
std::int64_t wrap(i128 v) { return static_cast<std::int64_t>(static_cast<std::uint64_t>(v)); }

std::string show(const pmap::Range& r) {
  return std::to_string(r.start) + ":" + std::to_string(r.stop) + ":" + std::to_string(r.step);
}

std::uint64_t fnv(const std::uint8_t* data, std::size_t size) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 0x100000001b3ULL;
  return h;
}

void check_range(const pmap::Range& r, std::uint64_t salt) {
  const i128 n = reference_size(r);
  PMAP_FUZZ_CHECK(static_cast<i128>(r.size()) == n, show(r) + " size " + std::to_string(r.size()));
  const pmap::ItemSpace space(r);
  PMAP_FUZZ_CHECK(space.size() == r.size() && !space.from_input(), show(r));

  // Values at the ends and at a row chosen by the input: start + i * step, inside the range.
  if (n > 0) {
    const auto size = static_cast<std::uint64_t>(n);
    for (const std::uint64_t i : {std::uint64_t{0}, size - 1, salt % size, size / 2}) {
      const i128 expected = i128{r.start} + static_cast<i128>(i) * r.step;
      PMAP_FUZZ_CHECK(expected >= INT64_MIN && expected <= INT64_MAX, show(r));
      PMAP_FUZZ_CHECK(r.at(i) == static_cast<std::int64_t>(expected),
                      show(r) + " at(" + std::to_string(i) + ")");
      PMAP_FUZZ_CHECK(r.step > 0 ? (r.at(i) >= r.start && r.at(i) < r.stop)
                                 : (r.at(i) <= r.start && r.at(i) > r.stop),
                      show(r) + " at(" + std::to_string(i) + ") outside the range");
      const pmap::Item item = space.at(i);
      PMAP_FUZZ_CHECK(item.row == i && item.value == r.at(i) && !item.from_input &&
                          item.text.empty() && item.as_int() == r.at(i),
                      show(r));
      PMAP_FUZZ_CHECK(space.row_of(r.at(i)) == std::optional<std::uint64_t>(i),
                      show(r) + " row_of(at(" + std::to_string(i) + "))");
    }
    // The value after the last one is out of the range (when it is an int64 at all).
    const i128 past = i128{r.start} + n * r.step;
    if (past >= INT64_MIN && past <= INT64_MAX) {
      PMAP_FUZZ_CHECK(!space.row_of(static_cast<std::int64_t>(past)), show(r) + " past the end");
    }
  }
  // row_of of values chosen by the input: near the ends, near the start, and anywhere.
  const auto s = static_cast<std::int64_t>(salt);
  for (const std::int64_t v :
       {s, wrap(i128{r.start} - 1), wrap(i128{r.start} + 1), r.stop, wrap(i128{r.stop} - 1),
        std::int64_t{INT64_MIN}, std::int64_t{INT64_MAX}, wrap(r.start + i128{s % 7} * r.step),
        r.start ^ (s & 0xff)}) {
    PMAP_FUZZ_CHECK(space.row_of(v) == reference_row(r, v),
                    show(r) + " row_of(" + std::to_string(v) + ")");
  }

  // The canonical text parses back to the same range; describe() and fingerprint() follow it.
  const pmap::Range again = pmap::parse_range(show(r));
  PMAP_FUZZ_CHECK(again.start == r.start && again.stop == r.stop && again.step == r.step, show(r));
  PMAP_FUZZ_CHECK(
      space.describe() == "range " + show(r) + " (" + std::to_string(r.size()) + " items)",
      space.describe());
  const std::string fp = space.fingerprint();
  PMAP_FUZZ_CHECK(fp.size() == 16 && fp.find_first_not_of("0123456789abcdef") == std::string::npos,
                  fp);
  PMAP_FUZZ_CHECK(pmap::ItemSpace(again).fingerprint() == fp, show(r));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::optional<pmap::Range> expected = reference_parse(text);
  std::optional<pmap::Range> got;
  try {
    got = pmap::parse_range(text);
  } catch (const pmap::UsageError& e) {
    const std::string_view what = e.what();
    PMAP_FUZZ_CHECK(e.subject() == "range" && what.starts_with("range "), escaped(what));
    PMAP_FUZZ_CHECK(e.code() == pmap::ExitCode::Usage, escaped(what));
  }
  PMAP_FUZZ_CHECK(got.has_value() == expected.has_value(),
                  escaped(text) + (got ? " accepted" : " rejected") + ", the reference " +
                      (expected ? "accepts it" : "rejects it"));
  if (!got) return 0;
  PMAP_FUZZ_CHECK(
      got->start == expected->start && got->stop == expected->stop && got->step == expected->step,
      escaped(text) + " parsed as " + show(*got) + ", expected " + show(*expected));
  check_range(*got, fnv(data, size));
  return 0;
}
