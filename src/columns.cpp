#include "pmap/columns.hpp"

#include <utility>

#include "pmap/error.hpp"

namespace pmap {
namespace {

/// The verdict enum of /urls/verdict (see url_check.hpp's Verdict).
h5::Handle verdict_type() {
  h5::Handle t(H5Tenum_create(H5T_NATIVE_INT8), "enum type");
  const std::pair<const char*, std::int8_t> members[] = {
      {"exists", 0}, {"does_not_exist", 1}, {"unknown", 2}, {"not_checked", -1}};
  for (const auto& [name, v] : members) h5::check(H5Tenum_insert(t.get(), name, &v), "enum");
  return t;
}

H5T_class_t type_class(Cell cell) {
  switch (cell) {
    case Cell::Float64:
      return H5T_FLOAT;
    case Cell::Text:
      return H5T_STRING;
    case Cell::Verdict:
      return H5T_ENUM;
    default:
      return H5T_INTEGER;
  }
}

[[noreturn]] void unexpected(const Column& c, const std::string& what) {
  throw RuntimeError(std::string("dataset ") + c.name + " " + what);
}

}  // namespace

h5::Handle file_type(Cell cell, std::size_t text_bytes) {
  switch (cell) {
    case Cell::Int8:
      return h5::Handle(H5Tcopy(H5T_STD_I8LE), "type");
    case Cell::Int32:
      return h5::Handle(H5Tcopy(H5T_STD_I32LE), "type");
    case Cell::Int64:
      return h5::Handle(H5Tcopy(H5T_STD_I64LE), "type");
    case Cell::Float64:
      return h5::Handle(H5Tcopy(H5T_IEEE_F64LE), "type");
    case Cell::Text:
      return h5::fixed_string_type(text_bytes);
    case Cell::Verdict:
      return verdict_type();
  }
  throw RuntimeError("unknown cell type");
}

h5::Handle memory_type(Cell cell, std::size_t text_bytes) {
  switch (cell) {
    case Cell::Int8:
      return h5::Handle(H5Tcopy(H5T_NATIVE_INT8), "type");
    case Cell::Int32:
      return h5::Handle(H5Tcopy(H5T_NATIVE_INT32), "type");
    case Cell::Int64:
      return h5::Handle(H5Tcopy(H5T_NATIVE_INT64), "type");
    case Cell::Float64:
      return h5::Handle(H5Tcopy(H5T_NATIVE_DOUBLE), "type");
    default:
      return file_type(cell, text_bytes);
  }
}

std::size_t cell_bytes(Cell cell, std::size_t text_bytes) {
  switch (cell) {
    case Cell::Int8:
    case Cell::Verdict:
      return 1;
    case Cell::Int32:
      return 4;
    case Cell::Text:
      return text_bytes;
    default:
      return 8;
  }
}

void create_column(hid_t group, const Column& c, std::uint64_t rows, std::size_t width,
                   std::size_t text_bytes) {
  std::vector<hsize_t> dims{rows};
  if (c.per_value) dims.push_back(width);
  const h5::Handle type = file_type(c.cell, text_bytes);
  const std::int8_t not_run = -1;
  if (c.not_run_fill) {
    const h5::Handle mem = memory_type(c.cell);
    h5::create_dataset(group, c.name, type.get(), dims, &not_run, mem.get());
  } else {
    h5::create_dataset(group, c.name, type.get(), dims);
  }
}

h5::Dataset open_column(hid_t group, const Column& c, std::uint64_t rows, std::size_t width,
                        std::size_t* text_bytes) {
  h5::Dataset d = h5::Dataset::open(group, c.name);
  const h5::Handle type = d.type();
  const std::size_t size = H5Tget_size(type.get());
  if (H5Tget_class(type.get()) != type_class(c.cell)) unexpected(c, "has the wrong type");
  if (c.cell == Cell::Text) {
    if (H5Tis_variable_str(type.get()) != 0 || size == 0 || (width > 0 && size != width)) {
      unexpected(c, "has the wrong string size");
    }
    if (text_bytes != nullptr) *text_bytes = size;
  } else if (size != cell_bytes(c.cell)) {
    unexpected(c, "has the wrong element size");
  }
  const auto dims = d.dims();
  if (dims.size() != (c.per_value ? 2U : 1U) || dims[0] != rows ||
      (c.per_value && dims[1] != width)) {
    unexpected(c, "has the wrong shape");
  }
  return d;
}

ComputeColumns::ComputeColumns(const h5::Group& compute) {
  // The first column sets the number of rows, value the width; every column is then checked.
  const auto item = h5::Dataset::open(compute.get(), "item").dims();
  const auto value = h5::Dataset::open(compute.get(), "value").dims();
  if (value.size() != 2) throw RuntimeError("dataset value has the wrong shape");
  rows_ = item.at(0);
  width_ = value[1];
  for (std::size_t i = 0; i < kComputeColumns.size(); ++i) {
    columns_[i] = open_column(compute.get(), kComputeColumns[i], rows_, width_);
  }
}

void ComputeColumns::close() {
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    columns_[i].close(std::string("close /compute/") + kComputeColumns[i].name);
  }
}

void create_compute_columns(hid_t group, std::uint64_t rows, std::size_t width) {
  for (const Column& c : kComputeColumns) create_column(group, c, rows, width);
}

}  // namespace pmap
