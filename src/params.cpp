#include "pmap/params.hpp"

#include <algorithm>
#include <cstring>

#include "pmap/columns.hpp"
#include "pmap/error.hpp"

namespace pmap {
namespace {

constexpr const char* kGroup = "params";
constexpr const char* kOrder = "fields";  // the names in order (HDF5 lists links by name)

Cell cell_of(FieldType t) {
  switch (t) {
    case FieldType::Int:
      return Cell::Int64;
    case FieldType::Float:
      return Cell::Float64;
    case FieldType::String:
      break;
  }
  return Cell::Text;
}

}  // namespace

void create_params(hid_t compute, std::uint64_t rows, const std::vector<FieldSpec>& fields,
                   const std::vector<std::pair<std::string, std::string>>& attrs) {
  if (fields.empty()) return;
  h5::Group g = h5::Group::create(compute, kGroup);
  std::vector<std::string> names;
  for (const FieldSpec& f : fields) {
    const Column c{f.name.c_str(), cell_of(f.type)};
    create_column(g.get(), c, rows, 0, std::max<std::size_t>(f.width, 1));
    names.push_back(f.name);
  }
  h5::write_attr(g.get(), kOrder, names);
  for (const auto& [k, v] : attrs) h5::write_attr(g.get(), k, v);
}

std::vector<std::pair<std::string, std::string>> read_param_attributes(hid_t compute) {
  std::vector<std::pair<std::string, std::string>> out;
  if (H5Lexists(compute, kGroup, H5P_DEFAULT) <= 0) return out;
  const h5::Group g = h5::Group::open(compute, kGroup);
  for (const char* key : {"kind", "grid", "table", "table_fnv", "format", "rows"}) {
    if (h5::has_attr(g.get(), key)) out.emplace_back(key, h5::read_attr_string(g.get(), key));
  }
  return out;
}

ParamColumns::ParamColumns(hid_t compute, std::uint64_t rows) {
  if (H5Lexists(compute, kGroup, H5P_DEFAULT) <= 0) return;
  const h5::Group g = h5::Group::open(compute, kGroup);
  for (const auto& name : h5::read_attr_strings(g.get(), kOrder)) {
    if (!valid_field_name(name)) throw RuntimeError("params: '" + name + "' is not a field name");
    const h5::Dataset probe = g.dataset(name);
    const h5::Handle type = probe.type();
    FieldSpec f{name, FieldType::Int, 0};
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls == H5T_FLOAT) f.type = FieldType::Float;
    if (cls == H5T_STRING) f.type = FieldType::String;
    const Column c{name.c_str(), cell_of(f.type)};
    std::size_t width = 0;
    sets_.push_back(open_column(g.get(), c, rows, 0, &width));
    f.width = width;
    fields_.push_back(std::move(f));
  }
}

void ParamColumns::write(std::uint64_t begin, std::uint64_t count, const FieldValue* values) {
  const std::size_t k = fields_.size();
  for (std::size_t j = 0; j < k; ++j) {
    const FieldSpec& f = fields_[j];
    const Cell cell = cell_of(f.type);
    const std::size_t bytes = cell_bytes(cell, f.width);
    const void* data = nullptr;
    if (f.type == FieldType::Int) {
      ints_.resize(count);
      for (std::uint64_t r = 0; r < count; ++r) ints_[r] = values[r * k + j].i;
      data = ints_.data();
    } else if (f.type == FieldType::Float) {
      floats_.resize(count);
      for (std::uint64_t r = 0; r < count; ++r) floats_[r] = values[r * k + j].f;
      data = floats_.data();
    } else {
      text_.assign(count * bytes, '\0');  // NUL-padded, as the file's strings are
      for (std::uint64_t r = 0; r < count; ++r) {
        const std::string_view s = values[r * k + j].s;
        std::memcpy(text_.data() + r * bytes, s.data(), std::min(bytes, s.size()));
      }
      data = text_.data();
    }
    const h5::Handle mem = memory_type(cell, f.width);
    sets_[j].write(mem.get(), begin, count, 0, data);
  }
}

void ParamColumns::read(std::uint64_t begin, std::uint64_t count, FieldBlock& out) const {
  const std::size_t k = fields_.size();
  out.values.assign(count * k, FieldValue{});
  std::size_t text_bytes = 0;
  for (const FieldSpec& f : fields_) text_bytes += f.type == FieldType::String ? f.width : 0;
  out.text.assign(count * text_bytes, '\0');
  std::size_t text_at = 0;
  std::vector<char> buf;
  for (std::size_t j = 0; j < k; ++j) {
    const FieldSpec& f = fields_[j];
    const Cell cell = cell_of(f.type);
    const std::size_t bytes = cell_bytes(cell, f.width);
    buf.resize(count * bytes);
    const h5::Handle mem = memory_type(cell, f.width);
    sets_[j].read(mem.get(), begin, count, 0, static_cast<void*>(buf.data()));
    for (std::uint64_t r = 0; r < count; ++r) {
      FieldValue& v = out.values[r * k + j];
      const char* at = buf.data() + r * bytes;
      if (f.type == FieldType::Int) std::memcpy(&v.i, at, 8);
      if (f.type == FieldType::Float) std::memcpy(&v.f, at, 8);
      if (f.type == FieldType::String) {
        char* dst = out.text.data() + text_at + r * f.width;
        std::memcpy(dst, at, bytes);
        v.s = std::string_view(dst, strnlen(dst, bytes));
      }
    }
    if (f.type == FieldType::String) text_at += count * f.width;
  }
}

void ParamColumns::close() {
  for (std::size_t j = 0; j < sets_.size(); ++j)
    sets_[j].close("close /compute/params/" + fields_[j].name);
}

}  // namespace pmap
