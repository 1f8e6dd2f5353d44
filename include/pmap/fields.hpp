// pmap — named, typed fields of items: the parameters of a sweep (a grid's axes, a table's
// columns, the members of the C++ API's tuples), seen by kernels as a cheap view of one row.
//
//   if (const auto y = item.fields.find("y")) out[1] = item.fields.as_double(*y);
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pmap {

/// Type of a field, as stored in /compute/params/NAME.
enum class FieldType : std::uint8_t { Int, Float, String };

/// "int64", "float64" or "string".
std::string_view to_string(FieldType type);

/// One field of an item space: its name, type and (strings) the widest value in bytes.
struct FieldSpec {
  std::string name;
  FieldType type = FieldType::Int;
  std::size_t width = 0;  ///< String: bytes of the longest value (the file's fixed length)
};

/// One value of a field (the member its FieldSpec's type names).
struct FieldValue {
  std::int64_t i = 0;
  double f = 0;
  std::string_view s{};  ///< String: the value; a CSV/TSV number: its spelling ("007", "1.50")
};

/// The fields of one item: names, types and values (a view; valid while its block is).
class Fields {
 public:
  Fields() = default;
  /// A view of `specs` and one row of values (specs.size() of them).
  Fields(const std::vector<FieldSpec>* specs, const FieldValue* values)
      : specs_(specs), values_(values) {}
  /// Number of fields (0 for items of a range or of plain input lines).
  [[nodiscard]] std::size_t size() const noexcept { return specs_ ? specs_->size() : 0; }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  /// Name, type and value of field j.
  [[nodiscard]] const FieldSpec& spec(std::size_t j) const { return (*specs_)[j]; }
  [[nodiscard]] const FieldValue& value(std::size_t j) const { return values_[j]; }
  /// The index of the field called `name`.
  [[nodiscard]] std::optional<std::size_t> find(std::string_view name) const noexcept;
  /// Field j as a number (ints converted); throws ItemError for a string that is not one.
  [[nodiscard]] double as_double(std::size_t j) const;
  /// Field j as an integer; throws ItemError for a float or string that is not one.
  [[nodiscard]] std::int64_t as_int(std::size_t j) const;
  /// Field j as text: a table's cell as written, else numbers shortest round-trip (0.1).
  [[nodiscard]] std::string text(std::size_t j) const;

 private:
  const std::vector<FieldSpec>* specs_ = nullptr;
  const FieldValue* values_ = nullptr;
};

/// Rows of field values read from a FieldSource (reused from block to block).
struct FieldBlock {
  std::vector<FieldValue> values;  ///< count x fields, row-major
  std::vector<std::int64_t> item;  ///< each row's item value (grid: row; table: line number)
  std::string text;                ///< storage the string values of a table point into
};

/// Where items with fields come from: a Grid, a Table, or the C++ API's vector of tuples.
class FieldSource {
 public:
  virtual ~FieldSource() = default;
  /// The fields, in order.
  [[nodiscard]] virtual const std::vector<FieldSpec>& fields() const noexcept = 0;
  /// Number of rows.
  [[nodiscard]] virtual std::uint64_t size() const noexcept = 0;
  /// Reads rows [begin, begin + count) into `out` (thread-safe); throws RuntimeError on I/O.
  virtual void read(std::uint64_t begin, std::uint64_t count, FieldBlock& out) const = 0;
  /// The row whose item value is `item`.
  [[nodiscard]] virtual std::optional<std::uint64_t> row_of(std::int64_t item) const = 0;
  /// "grid", "table" or "values".
  [[nodiscard]] virtual std::string_view kind() const noexcept = 0;
  /// FNV-1a 64 of the specs and every value (as 16 hex digits): --resume and merge compare it.
  [[nodiscard]] virtual std::string fingerprint() const = 0;
  /// Short description, e.g. "grid x=1:11 y=1,2,3 (30 items)".
  [[nodiscard]] virtual std::string describe() const = 0;
  /// Attributes for /compute/params (grid specs, or the table's path and fingerprint).
  [[nodiscard]] virtual std::vector<std::pair<std::string, std::string>> attributes() const = 0;
};

/// True for a valid field name: a letter or '_' then letters, digits or '_' (at most 64).
bool valid_field_name(std::string_view name);

}  // namespace pmap
