// pmap — the iteration space: a Python-style range, the lines of an input file, or items with
// named fields (a grid, a table, the C++ API's tuples; see fields.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pmap/fields.hpp"

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
  std::uint64_t row = 0;    ///< row in the job's results (0-based; a slice's items keep theirs)
  std::int64_t value = 0;   ///< the range value, or the line number for --input
  std::string_view text{};  ///< the input line (empty for ranges)
  bool from_input = false;  ///< true for --input items
  Fields fields{};          ///< named fields (grids, tables, tuples); empty otherwise

  /// The item as an integer (with fields: the first); throws ItemError when it is not one.
  [[nodiscard]] std::int64_t as_int() const;
  /// The item as a number (with fields: the first); throws ItemError when it is not one.
  [[nodiscard]] double as_double() const;
  /// The whole item as text: the line, the range value, or the field values joined by spaces.
  [[nodiscard]] std::string to_text() const;
};

/// Items of consecutive rows, filled by ItemSpace::read (reused from block to block).
struct ItemBlock {
  std::vector<Item> items;
  FieldBlock fields;  ///< what the items' field views point into
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
  /// A space of items with fields (a Grid, a Table).
  explicit ItemSpace(std::shared_ptr<const FieldSource> source)
      : source_(std::move(source)), size_(source_->size()) {}

  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  [[nodiscard]] bool from_input() const noexcept { return from_input_; }
  [[nodiscard]] const Range& range() const noexcept { return range_; }
  /// The source of the fields; nullptr for a range or input lines.
  [[nodiscard]] const FieldSource* source() const noexcept { return source_.get(); }
  /// The fields of every item (empty for a range or input lines).
  [[nodiscard]] const std::vector<FieldSpec>& fields() const noexcept;
  /// "range", "input" or the source's kind ("grid", "table", "values").
  [[nodiscard]] std::string kind() const;
  /// The item at row i (i < size()), without fields: use read() for a space with fields.
  [[nodiscard]] Item at(std::uint64_t i) const noexcept;
  /// The items of rows [begin, end) with their fields, into `block` (thread-safe).
  void read(std::uint64_t begin, std::uint64_t end, ItemBlock& block) const;
  /// The row holding item value `value` (a range value, or a line number for input).
  [[nodiscard]] std::optional<std::uint64_t> row_of(std::int64_t value) const;
  /// FNV-1a 64 of the items (their text and line numbers, the range, or the fields' specs and
  /// values), as 16 hex digits: --resume and merge refuse a file of other items.
  [[nodiscard]] std::string fingerprint() const;
  /// Short human description, e.g. "range 0:10:1" or "input (7 lines)".
  [[nodiscard]] std::string describe() const;
  /// Rows [begin, end) of this space as a space of their own (end - begin rows, the same item
  /// values, text, fields and Item::row): what one block of an elastic job runs. Throws
  /// UsageError unless begin <= end <= size().
  [[nodiscard]] ItemSpace slice(std::uint64_t begin, std::uint64_t end) const;
  /// Item::row of the first item: where a slice starts in the whole space (0 otherwise).
  [[nodiscard]] std::uint64_t first_row() const noexcept { return first_row_; }

 private:
  [[nodiscard]] ItemSpace slice_items(std::uint64_t begin, std::uint64_t end) const;
  Range range_{};
  InputLines lines_{};
  std::shared_ptr<const FieldSource> source_;
  bool from_input_ = false;
  std::uint64_t size_ = 0;
  std::uint64_t first_row_ = 0;
};

}  // namespace pmap
