// Test support: read a whole dataset or an attribute of a results file back (serial HDF5).
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "pmap/h5.hpp"
#include "pmap/results.hpp"

namespace pmap::test {

/// All elements of dataset `name` in `path` converted to T (native type given by `mem_type`).
template <typename T>
std::vector<T> read_dataset(const std::string& path, const std::string& name, hid_t mem_type) {
  const h5::File file = h5::File::open(path, h5::Access::ReadOnly);
  const h5::Dataset d = h5::Dataset::open(file.get(), name);
  h5::Handle space(H5Dget_space(d.get()), "space");
  const auto n = H5Sget_simple_extent_npoints(space.get());
  std::vector<T> out(static_cast<std::size_t>(n));
  if (n > 0)
    h5::check(H5Dread(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()),
              "read " + name);
  return out;
}

inline std::vector<double> read_doubles(const std::string& path, const std::string& name) {
  return read_dataset<double>(path, name, H5T_NATIVE_DOUBLE);
}
inline std::vector<std::int64_t> read_int64s(const std::string& path, const std::string& name) {
  return read_dataset<std::int64_t>(path, name, H5T_NATIVE_INT64);
}
inline std::vector<std::int32_t> read_int32s(const std::string& path, const std::string& name) {
  return read_dataset<std::int32_t>(path, name, H5T_NATIVE_INT32);
}
inline std::vector<std::int8_t> read_int8s(const std::string& path, const std::string& name) {
  return read_dataset<std::int8_t>(path, name, H5T_NATIVE_INT8);
}

/// Attribute `attr` of object `object` ("/" or "/compute") as a string / integer / double.
inline std::string read_string_attr(const std::string& path, const std::string& object,
                                    const std::string& attr) {
  const h5::File file = h5::File::open(path, h5::Access::ReadOnly);
  h5::Handle o(H5Oopen(file.get(), object.c_str(), H5P_DEFAULT), "open " + object);
  return h5::read_attr_string(o.get(), attr);
}
inline std::int64_t read_int_attr(const std::string& path, const std::string& object,
                                  const std::string& attr) {
  const h5::File file = h5::File::open(path, h5::Access::ReadOnly);
  h5::Handle o(H5Oopen(file.get(), object.c_str(), H5P_DEFAULT), "open " + object);
  return h5::read_attr_int(o.get(), attr);
}
inline double read_double_attr(const std::string& path, const std::string& object,
                               const std::string& attr) {
  const h5::File file = h5::File::open(path, h5::Access::ReadOnly);
  h5::Handle o(H5Oopen(file.get(), object.c_str(), H5P_DEFAULT), "open " + object);
  return h5::read_attr_double(o.get(), attr);
}

/// A row of /compute/errors.
struct ErrorRow {
  std::int64_t item = 0;
  std::string message;
};

/// The (item, message) table /compute/errors, read as pmap reads it back.
inline std::vector<ErrorRow> read_errors(const std::string& path) {
  const h5::File file = h5::File::open(path, h5::Access::ReadOnly);
  std::vector<ErrorRow> out;
  for (auto& e : read_errors_table(file.group("compute")))
    out.push_back({e.item, std::move(e.message)});
  return out;
}

}  // namespace pmap::test
