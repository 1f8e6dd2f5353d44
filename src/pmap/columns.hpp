// pmap — the results file's row tables described once: /compute's columns (and the cell types
// /urls uses), how they are created, and how they are opened and checked before any read.
//
//   const ComputeColumns cols(file.group("compute"));   // throws unless every column fits
//   cols[ComputeColumn::Status].read(H5T_NATIVE_INT8, begin, count, 0, statuses);
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "pmap/h5.hpp"

namespace pmap {

/// What one cell of a column holds.
enum class Cell : std::uint8_t { Int8, Int32, Int64, Float64, Text, Verdict };

/// One dataset of a row table.
struct Column {
  const char* name;
  Cell cell;
  bool per_value = false;  ///< 2-D: one element per value column (/compute/value)
  bool not_run_fill = false;  ///< created filled with -1, "not run yet" (status, verdict)
};

/// /compute, one row per item. Status is last: a writer writes it after the cells it vouches
/// for, so a row whose status says done is complete on disk.
inline constexpr std::array<Column, 6> kComputeColumns{{{"item", Cell::Int64},
                                                        {"value", Cell::Float64, true},
                                                        {"rank", Cell::Int32},
                                                        {"thread", Cell::Int32},
                                                        {"seconds", Cell::Float64},
                                                        {"status", Cell::Int8, false, true}}};
/// Indexes into kComputeColumns.
enum class ComputeColumn : std::size_t { Item, Value, Rank, Thread, Seconds, Status };

/// The type a cell has in the file (Text: a fixed-length string of `text_bytes`).
h5::Handle file_type(Cell cell, std::size_t text_bytes = 0);
/// The native type a cell is read and written as (Text: as stored).
h5::Handle memory_type(Cell cell, std::size_t text_bytes = 0);
/// Bytes of one cell in memory.
std::size_t cell_bytes(Cell cell, std::size_t text_bytes = 0);

/// Creates column `c` in `group`: `rows` long (x `width` when per_value), allocated at once.
void create_column(hid_t group, const Column& c, std::uint64_t rows, std::size_t width,
                   std::size_t text_bytes = 0);
/// Opens column `c` of `group` and checks its type against the description and its shape
/// against `rows` (and `width` when per_value); throws RuntimeError naming what is wrong.
/// Returns the bytes of a Text cell (0 for others).
h5::Dataset open_column(hid_t group, const Column& c, std::uint64_t rows, std::size_t width,
                        std::size_t* text_bytes = nullptr);

/// The six datasets of /compute, opened and checked.
class ComputeColumns {
 public:
  /// Checks every column: same number of rows, value `width` columns wide.
  explicit ComputeColumns(const h5::Group& compute);
  [[nodiscard]] std::uint64_t rows() const noexcept { return rows_; }
  [[nodiscard]] std::size_t width() const noexcept { return width_; }
  [[nodiscard]] const h5::Dataset& operator[](ComputeColumn c) const {
    return columns_[static_cast<std::size_t>(c)];
  }
  void close();

 private:
  std::array<h5::Dataset, kComputeColumns.size()> columns_;
  std::uint64_t rows_ = 0;
  std::size_t width_ = 0;
};

/// Creates every column of /compute in `group`: `rows` items, `width` value columns.
void create_compute_columns(hid_t group, std::uint64_t rows, std::size_t width);

}  // namespace pmap
