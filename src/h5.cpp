#include "pmap/h5.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <mutex>

#include "pmap/error.hpp"

namespace pmap::h5 {
namespace {

herr_t collect(unsigned n, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (n > 3) return 0;  // walked upward: the innermost frames say what really went wrong
  if (!out->empty()) out->append("; ");
  out->append(err->func_name ? err->func_name : "?");
  out->append(": ");
  out->append(err->desc ? err->desc : "?");
  return 0;
}

std::string error_stack() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect, &text);
  H5Eclear2(H5E_DEFAULT);
  return text.empty() ? std::string("unknown HDF5 error") : text;
}

Handle attr_for_write(hid_t obj, const std::string& name, hid_t type, hid_t space) {
  if (H5Aexists(obj, name.c_str()) > 0)
    check(H5Adelete(obj, name.c_str()), "delete attribute " + name);
  return Handle(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                "create attribute " + name);
}

// Sanity bounds for what a damaged file may claim: no pmap attribute comes near them.
constexpr std::size_t kMaxStringBytes = std::size_t{1} << 24;
constexpr hssize_t kMaxAttrElements = hssize_t{1} << 20;

/// An open attribute whose type class and number of elements were checked.
struct CheckedAttr {
  Handle attr, type;
  std::size_t elements = 0;
};

/// Opens attribute `name` and checks its class (one of `classes`) and shape: scalar when
/// `one`, else a 1-D array; throws RuntimeError naming what is wrong.
CheckedAttr open_attr(hid_t obj, const std::string& name, std::initializer_list<H5T_class_t> classes,
                      bool one) {
  CheckedAttr a{Handle(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "open attribute " + name),
                Handle(), 0};
  a.type = Handle(H5Aget_type(a.attr.get()), "type of attribute " + name);
  const H5T_class_t cls = H5Tget_class(a.type.get());
  if (std::find(classes.begin(), classes.end(), cls) == classes.end()) {
    throw RuntimeError("attribute " + name + " has an unexpected type");
  }
  Handle space(H5Aget_space(a.attr.get()), "space of attribute " + name);
  const H5S_class_t shape = H5Sget_simple_extent_type(space.get());
  const int rank = H5Sget_simple_extent_ndims(space.get());
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  const bool ok_shape = one ? (shape == H5S_SCALAR || (shape == H5S_SIMPLE && n == 1))
                            : (shape == H5S_SIMPLE && rank == 1) || shape == H5S_SCALAR;
  if (!ok_shape || n < 0 || n > kMaxAttrElements) {
    throw RuntimeError("attribute " + name + " has an unexpected shape");
  }
  if (cls == H5T_STRING && H5Tis_variable_str(a.type.get()) <= 0) {
    const std::size_t size = H5Tget_size(a.type.get());
    if (size == 0 || size > kMaxStringBytes) {
      throw RuntimeError("attribute " + name + " has an unexpected string size");
    }
  }
  a.elements = static_cast<std::size_t>(n);
  return a;
}

/// The strings of a checked string attribute (fixed-length, or variable-length as schema 1
/// wrote them).
std::vector<std::string> read_strings(const CheckedAttr& a, const std::string& name) {
  std::vector<std::string> out;
  if (H5Tis_variable_str(a.type.get()) > 0) {
    Handle type = vlen_string_type();
    std::vector<char*> ptrs(a.elements, nullptr);
    check(H5Aread(a.attr.get(), type.get(), ptrs.data()), "read attribute " + name);
    for (auto* p : ptrs) out.emplace_back(p ? p : "");
    Handle space(H5Aget_space(a.attr.get()), "attribute space");
    H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, ptrs.data());
    return out;
  }
  const std::size_t size = H5Tget_size(a.type.get());
  Handle type = fixed_string_type(size);
  std::string buf(a.elements * size, '\0');
  check(H5Aread(a.attr.get(), type.get(), buf.data()), "read attribute " + name);
  for (std::size_t i = 0; i < a.elements; ++i) out.push_back(unpad(buf.data() + i * size, size));
  return out;
}

/// Selects rows [begin, begin + count) (x width) of `space`; returns the matching memory space.
Handle select_rows(hid_t space, std::uint64_t begin, std::uint64_t count, std::size_t width) {
  const hsize_t start[2] = {begin, 0};
  const hsize_t cnt[2] = {count, width};
  check(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, cnt, nullptr), "select rows");
  return Handle(H5Screate_simple(width > 0 ? 2 : 1, cnt, nullptr), "memory space");
}

}  // namespace

void silence_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

std::int64_t check(std::int64_t status, const std::string& what) {
  if (status < 0) throw RuntimeError("HDF5: " + what + " failed (" + error_stack() + ")");
  return status;
}

Handle::Handle(hid_t id, const std::string& what) : id_(id) {
  if (id_ < 0) throw RuntimeError("HDF5: " + what + " failed (" + error_stack() + ")");
}

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() noexcept {
  if (id_ >= 0) {
    H5Idec_ref(id_);
    H5Eclear2(H5E_DEFAULT);
    id_ = H5I_INVALID_HID;
  }
}

void Handle::close(const std::string& what) {
  if (id_ < 0) return;
  const hid_t id = id_;
  id_ = H5I_INVALID_HID;
  check(H5Idec_ref(id), what);
}

bool Object::has(const std::string& name) const {
  return check(H5Lexists(get(), name.c_str(), H5P_DEFAULT), "look up " + name) > 0;
}

bool Object::has_attr(const std::string& name) const { return h5::has_attr(get(), name); }

Dataset Dataset::open(hid_t parent, const std::string& name) {
  return Dataset(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), "open dataset " + name);
}

std::vector<hsize_t> Dataset::dims() const {
  Handle space(H5Dget_space(get()), "dataset space");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (H5Sget_simple_extent_type(space.get()) != H5S_SIMPLE || rank < 1 || rank > 2) {
    throw RuntimeError("HDF5: a dataset of unexpected shape (rank " + std::to_string(rank) + ")");
  }
  std::vector<hsize_t> d(static_cast<std::size_t>(rank), 0);
  check(H5Sget_simple_extent_dims(space.get(), d.data(), nullptr), "dataset extent");
  return d;
}

Handle Dataset::type() const { return Handle(H5Dget_type(get()), "dataset type"); }

void Dataset::read(hid_t mem_type, std::uint64_t begin, std::uint64_t count, std::size_t width,
                   void* out) const {
  if (count == 0) return;
  Handle fspace(H5Dget_space(get()), "dataset space");
  Handle mspace = select_rows(fspace.get(), begin, count, width);
  check(H5Dread(get(), mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, out), "read rows");
}

void Dataset::write(hid_t mem_type, std::uint64_t begin, std::uint64_t count, std::size_t width,
                    const void* data) const {
  if (count == 0) return;
  Handle fspace(H5Dget_space(get()), "dataset space");
  Handle mspace = select_rows(fspace.get(), begin, count, width);
  check(H5Dwrite(get(), mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, data), "write rows");
}

namespace {
Handle select_points(hid_t dset, const std::vector<hsize_t>& rows, Handle& fspace) {
  fspace = Handle(H5Dget_space(dset), "dataset space");
  check(H5Sselect_elements(fspace.get(), H5S_SELECT_SET, rows.size(), rows.data()),
        "select rows");
  const hsize_t n = rows.size();
  return Handle(H5Screate_simple(1, &n, nullptr), "memory space");
}
}  // namespace

void Dataset::read_points(hid_t mem_type, const std::vector<hsize_t>& rows, void* out) const {
  if (rows.empty()) return;
  Handle fspace;
  Handle mspace = select_points(get(), rows, fspace);
  check(H5Dread(get(), mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, out), "read rows");
}

void Dataset::write_points(hid_t mem_type, const std::vector<hsize_t>& rows,
                           const void* data) const {
  if (rows.empty()) return;
  Handle fspace;
  Handle mspace = select_points(get(), rows, fspace);
  check(H5Dwrite(get(), mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, data), "write rows");
}

Group Group::open(hid_t parent, const std::string& name) {
  return Group(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), "open group /" + name);
}

Group Group::create(hid_t parent, const std::string& name) {
  return Group(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
               "create group /" + name);
}

File::File(hid_t id, std::string path) : Object(id, "open " + path), path_(std::move(path)) {}

File File::open(const std::string& path, Access access, hid_t fapl) {
  silence_errors();
  const unsigned flags = access == Access::ReadWrite ? H5F_ACC_RDWR : H5F_ACC_RDONLY;
  const hid_t id = H5Fopen(path.c_str(), flags, fapl);
  if (id < 0) check(id, "open " + path);
  return File(id, path);
}

File File::create(const std::string& path, bool overwrite) {
  silence_errors();
  const hid_t id =
      H5Fcreate(path.c_str(), overwrite ? H5F_ACC_TRUNC : H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) check(id, "create " + path);
  return File(id, path);
}

void File::flush() const { check(H5Fflush(get(), H5F_SCOPE_GLOBAL), "flush " + path_); }

bool is_hdf5(const std::string& path) {
  silence_errors();
  const htri_t r = H5Fis_hdf5(path.c_str());
  H5Eclear2(H5E_DEFAULT);
  return r > 0;
}

Handle vlen_string_type() {
  Handle t(H5Tcopy(H5T_C_S1), "copy string type");
  check(H5Tset_size(t.get(), H5T_VARIABLE), "set string size");
  check(H5Tset_cset(t.get(), H5T_CSET_UTF8), "set string charset");
  return t;
}

Handle fixed_string_type(std::size_t size) {
  Handle t(H5Tcopy(H5T_C_S1), "copy string type");
  check(H5Tset_size(t.get(), std::max<std::size_t>(size, 1)), "set string size");
  check(H5Tset_strpad(t.get(), H5T_STR_NULLPAD), "set string padding");
  check(H5Tset_cset(t.get(), H5T_CSET_UTF8), "set string charset");
  return t;
}

std::string unpad(const char* data, std::size_t size) {
  const void* nul = std::memchr(data, '\0', size);
  return std::string(data, nul ? static_cast<const char*>(nul) - data : size);
}

void write_attr(hid_t obj, const std::string& name, const std::string& value) {
  Handle type = fixed_string_type(value.size());
  Handle space(H5Screate(H5S_SCALAR), "create scalar space");
  Handle a = attr_for_write(obj, name, type.get(), space.get());
  std::string padded = value;
  padded.resize(std::max<std::size_t>(value.size(), 1), '\0');
  check(H5Awrite(a.get(), type.get(), padded.data()), "write attribute " + name);
}

void write_attr(hid_t obj, const std::string& name, std::int64_t value) {
  Handle space(H5Screate(H5S_SCALAR), "create scalar space");
  Handle a = attr_for_write(obj, name, H5T_STD_I64LE, space.get());
  check(H5Awrite(a.get(), H5T_NATIVE_INT64, &value), "write attribute " + name);
}

void write_attr(hid_t obj, const std::string& name, double value) {
  Handle space(H5Screate(H5S_SCALAR), "create scalar space");
  Handle a = attr_for_write(obj, name, H5T_IEEE_F64LE, space.get());
  check(H5Awrite(a.get(), H5T_NATIVE_DOUBLE, &value), "write attribute " + name);
}

void write_attr(hid_t obj, const std::string& name, const std::vector<std::string>& values) {
  std::size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size());
  std::string buf;
  buf.reserve(values.size() * width);
  for (const auto& v : values) buf.append(v).append(width - v.size(), '\0');
  Handle type = fixed_string_type(width);
  const hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr), "create attribute space");
  Handle a = attr_for_write(obj, name, type.get(), space.get());
  check(H5Awrite(a.get(), type.get(), buf.data()), "write attribute " + name);
}

bool has_attr(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }

std::string read_attr_string(hid_t obj, const std::string& name) {
  const CheckedAttr a = open_attr(obj, name, {H5T_STRING}, true);
  return read_strings(a, name).at(0);
}

std::int64_t read_attr_int(hid_t obj, const std::string& name) {
  const CheckedAttr a = open_attr(obj, name, {H5T_INTEGER}, true);
  std::int64_t v = 0;
  check(H5Aread(a.attr.get(), H5T_NATIVE_INT64, &v), "read attribute " + name);
  return v;
}

double read_attr_double(hid_t obj, const std::string& name) {
  const CheckedAttr a = open_attr(obj, name, {H5T_FLOAT, H5T_INTEGER}, true);
  double v = 0;
  check(H5Aread(a.attr.get(), H5T_NATIVE_DOUBLE, &v), "read attribute " + name);
  return v;
}

std::vector<std::string> read_attr_strings(hid_t obj, const std::string& name) {
  return read_strings(open_attr(obj, name, {H5T_STRING}, false), name);
}

std::string attr_text(hid_t obj, const std::string& name, int precision) {
  if (!has_attr(obj, name)) return "-";
  const CheckedAttr a = open_attr(obj, name, {H5T_STRING, H5T_INTEGER, H5T_FLOAT}, true);
  switch (H5Tget_class(a.type.get())) {
    case H5T_STRING:
      return read_strings(a, name).at(0);
    case H5T_INTEGER:
      return std::to_string(read_attr_int(obj, name));
    default: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.*g", precision, read_attr_double(obj, name));
      return buf;
    }
  }
}

Handle create_dataset(hid_t parent, const char* name, hid_t type, const std::vector<hsize_t>& dims,
                      const void* fill, hid_t fill_type) {
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
               std::string("dataspace of ") + name);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), "dataset creation properties");
  check(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), "set contiguous layout");
  check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), "set early allocation");
  if (fill != nullptr) {
    check(H5Pset_fill_value(dcpl.get(), fill_type, fill), "set fill value");
    check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_ALLOC), "set fill time");
  } else {
    check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "set fill time");
  }
  return Handle(H5Dcreate2(parent, name, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                std::string("create dataset ") + name);
}

}  // namespace pmap::h5
