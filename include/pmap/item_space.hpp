// pmap — the iteration space: a Python-style range or the lines of an input file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pmap {

/// Half-open arithmetic progression with Python's range() semantics (step may be negative).
struct Range {
  std::int64_t start = 0;
  std::int64_t stop = 0;
  std::int64_t step = 1;

  /// Number of values; 0 for an empty range.
  [[nodiscard]] std::uint64_t size() const noexcept;
  /// The i-th value (i < size()).
  [[nodiscard]] std::int64_t at(std::uint64_t i) const noexcept {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(start) +
                                     i * static_cast<std::uint64_t>(step));
  }
};

/// Parses "START:STOP[:STEP]"; throws UsageError naming the bad part, e.g.
/// `--range 1:x: 'x' is not an integer`.
Range parse_range(std::string_view text);

/// Lines of an input file that are items: blank lines and `#` comments are skipped.
struct InputLines {
  std::vector<std::string> text;          ///< the item text, surrounding whitespace trimmed
  std::vector<std::int64_t> line_number;  ///< 1-based line number in the file
};

/// Reads an input file; throws UsageError when it cannot be opened or read, or is not text.
InputLines read_input(const std::string& path);

/// One item as a kernel sees it.
struct Item {
  std::uint64_t row = 0;    ///< row in the results (0-based position in the space)
  std::int64_t value = 0;   ///< the range value, or the line number for --input
  std::string_view text{};  ///< the input line (empty for ranges)
  bool from_input = false;  ///< true for --input items

  /// The item as an integer; throws ItemError when an input line is not one.
  [[nodiscard]] std::int64_t as_int() const;
  /// The item as a number; throws ItemError when an input line is not one.
  [[nodiscard]] double as_double() const;
};

/// The iteration space of a run: either a Range or InputLines.
class ItemSpace {
 public:
  ItemSpace() = default;
  /// A space over a range.
  explicit ItemSpace(Range range) : range_(range), size_(range.size()) {}
  /// A space over input lines.
  explicit ItemSpace(InputLines lines)
      : lines_(std::move(lines)), from_input_(true), size_(lines_.text.size()) {}

  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  [[nodiscard]] bool from_input() const noexcept { return from_input_; }
  [[nodiscard]] const Range& range() const noexcept { return range_; }
  /// The item at row i (i < size()).
  [[nodiscard]] Item at(std::uint64_t i) const noexcept;
  /// The row holding item value `value` (a range value, or a line number for input).
  [[nodiscard]] std::optional<std::uint64_t> row_of(std::int64_t value) const;
  /// FNV-1a 64 of the items (their text and line numbers, or the range), as 16 hex digits:
  /// --resume refuses an input file whose items changed.
  [[nodiscard]] std::string fingerprint() const;
  /// Short human description, e.g. "range 0:10:1" or "input (7 lines)".
  [[nodiscard]] std::string describe() const;

 private:
  Range range_{};
  InputLines lines_{};
  bool from_input_ = false;
  std::uint64_t size_ = 0;
};

}  // namespace pmap
