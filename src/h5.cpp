#include "pmap/h5.hpp"

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

void write_attr(hid_t obj, const std::string& name, const std::string& value) {
  Handle type = vlen_string_type();
  Handle space(H5Screate(H5S_SCALAR), "create scalar space");
  Handle a = attr_for_write(obj, name, type.get(), space.get());
  const char* p = value.c_str();
  check(H5Awrite(a.get(), type.get(), &p), "write attribute " + name);
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
  Handle type = vlen_string_type();
  const hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr), "create attribute space");
  Handle a = attr_for_write(obj, name, type.get(), space.get());
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  check(H5Awrite(a.get(), type.get(), ptrs.data()), "write attribute " + name);
}

bool has_attr(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }

std::string read_attr_string(hid_t obj, const std::string& name) {
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "open attribute " + name);
  Handle ftype(H5Aget_type(a.get()), "attribute type");
  if (H5Tget_class(ftype.get()) != H5T_STRING) {
    throw RuntimeError("attribute " + name + " is not a string");
  }
  if (H5Tis_variable_str(ftype.get()) > 0) {
    Handle type = vlen_string_type();
    char* p = nullptr;
    check(H5Aread(a.get(), type.get(), &p), "read attribute " + name);
    std::string s = p ? p : "";
    Handle space(H5Aget_space(a.get()), "attribute space");
    H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, &p);
    return s;
  }
  const std::size_t size = H5Tget_size(ftype.get());
  std::string s(size, '\0');
  Handle type(H5Tcopy(H5T_C_S1), "copy string type");
  check(H5Tset_size(type.get(), size), "set size");
  check(H5Aread(a.get(), type.get(), s.data()), "read attribute " + name);
  s.resize(s.find('\0') == std::string::npos ? s.size() : s.find('\0'));
  return s;
}

std::int64_t read_attr_int(hid_t obj, const std::string& name) {
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "open attribute " + name);
  std::int64_t v = 0;
  check(H5Aread(a.get(), H5T_NATIVE_INT64, &v), "read attribute " + name);
  return v;
}

double read_attr_double(hid_t obj, const std::string& name) {
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "open attribute " + name);
  double v = 0;
  check(H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v), "read attribute " + name);
  return v;
}

std::vector<std::string> read_attr_strings(hid_t obj, const std::string& name) {
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "open attribute " + name);
  Handle space(H5Aget_space(a.get()), "attribute space");
  const auto n = H5Sget_simple_extent_npoints(space.get());
  Handle type = vlen_string_type();
  std::vector<char*> ptrs(static_cast<std::size_t>(std::max<hssize_t>(n, 0)), nullptr);
  check(H5Aread(a.get(), type.get(), ptrs.data()), "read attribute " + name);
  std::vector<std::string> out;
  for (auto* p : ptrs) out.emplace_back(p ? p : "");
  H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, ptrs.data());
  return out;
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
