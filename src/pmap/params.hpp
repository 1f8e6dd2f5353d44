// pmap — /compute/params (internal): one typed dataset per item field, one row per item, written
// by the same row path as /compute/value and read back by export, print and merge.
//
//   create_params(compute, rows, space.fields(), source->attributes());   // rank 0, at create
//   ParamColumns p(compute, rows);  p.write(begin, count, block.values.data());
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "pmap/fields.hpp"
#include "pmap/h5.hpp"

namespace pmap {

/// Creates /compute/params in `compute`: a dataset per field (int64, float64, fixed-length
/// string as wide as the field's widest value), `rows` long, and the source's attributes.
void create_params(hid_t compute, std::uint64_t rows, const std::vector<FieldSpec>& fields,
                   const std::vector<std::pair<std::string, std::string>>& attrs);

/// The attributes of /compute/params that describe the source (kind, grid or table, ...).
std::vector<std::pair<std::string, std::string>> read_param_attributes(hid_t compute);

/// /compute/params, opened and checked (absent: no fields).
class ParamColumns {
 public:
  /// Opens the params of `compute` (every dataset `rows` long); throws RuntimeError if damaged.
  ParamColumns(hid_t compute, std::uint64_t rows);
  /// The fields, in the file's order.
  [[nodiscard]] const std::vector<FieldSpec>& fields() const noexcept { return fields_; }
  /// Writes rows [begin, begin + count) from `values` (count x fields, row-major).
  void write(std::uint64_t begin, std::uint64_t count, const FieldValue* values);
  /// Reads rows [begin, begin + count) into `out` (strings point into out.text).
  void read(std::uint64_t begin, std::uint64_t count, FieldBlock& out) const;
  void close();

 private:
  std::vector<FieldSpec> fields_;
  std::vector<h5::Dataset> sets_;
  // One column of a block, as written.
  std::vector<std::int64_t> ints_;
  std::vector<double> floats_;
  std::vector<char> text_;
};

}  // namespace pmap
