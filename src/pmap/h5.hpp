// pmap — thin RAII over the HDF5 C API: every call checked, HDF5's error stack in the message.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pmap::h5 {

/// Silences HDF5's automatic error printing (errors become exceptions instead); idempotent.
void silence_errors();

/// Throws RuntimeError("<what>: <HDF5 error stack>") when `status` is negative; returns it.
std::int64_t check(std::int64_t status, const std::string& what);

/// An owned hid_t of any kind, closed with H5Idec_ref-equivalent on destruction (noexcept).
class Handle {
 public:
  Handle() = default;
  /// Takes ownership of `id`; throws with `what` when it is invalid (negative).
  Handle(hid_t id, const std::string& what);
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  [[nodiscard]] hid_t get() const noexcept { return id_; }
  [[nodiscard]] bool valid() const noexcept { return id_ >= 0; }
  /// Closes now (noexcept; errors ignored, as in a destructor).
  void reset() noexcept;
  /// Closes now and throws if HDF5 reports an error (use where the close must succeed).
  void close(const std::string& what);

 private:
  hid_t id_ = H5I_INVALID_HID;
};

/// True when `path` is an HDF5 file (false for a missing or non-HDF5 file).
bool is_hdf5(const std::string& path);

/// Attribute helpers on any object.
void write_attr(hid_t obj, const std::string& name, const std::string& value);
void write_attr(hid_t obj, const std::string& name, std::int64_t value);
void write_attr(hid_t obj, const std::string& name, double value);
void write_attr(hid_t obj, const std::string& name, const std::vector<std::string>& values);
bool has_attr(hid_t obj, const std::string& name);
std::string read_attr_string(hid_t obj, const std::string& name);
std::int64_t read_attr_int(hid_t obj, const std::string& name);
double read_attr_double(hid_t obj, const std::string& name);
std::vector<std::string> read_attr_strings(hid_t obj, const std::string& name);

/// A variable-length UTF-8 string type.
Handle vlen_string_type();

/// Creates dataset `name` in `parent`: contiguous, allocated at once (so ranks can write it in
/// parallel), filled with *fill (of type fill_type) or, when fill is null, never filled.
Handle create_dataset(hid_t parent, const char* name, hid_t type, const std::vector<hsize_t>& dims,
                      const void* fill = nullptr, hid_t fill_type = -1);

}  // namespace pmap::h5
