// pmap — thin RAII over the HDF5 C API: every call checked, HDF5's error stack in the message.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pmap::h5 {

/// Silences HDF5's automatic error printing (errors become exceptions instead); idempotent.
/// Called by File::open/create and is_hdf5, the only ways into a file.
void silence_errors();

/// Throws RuntimeError("HDF5: <what> failed (<HDF5 error stack>)") when `status` is negative.
std::int64_t check(std::int64_t status, const std::string& what);

/// An owned hid_t of any kind, closed with H5Idec_ref on destruction (noexcept).
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

/// A file, group or dataset: an object with links and attributes.
class Object : public Handle {
 public:
  Object() = default;
  Object(hid_t id, const std::string& what) : Handle(id, what) {}
  /// True when the link `name` (relative to this object) exists; throws when HDF5 cannot tell
  /// (a damaged group).
  [[nodiscard]] bool has(const std::string& name) const;
  [[nodiscard]] bool has_attr(const std::string& name) const;
};

/// A dataset, read and written by rows: row r of a 2-D dataset is its r-th line of dims()[1].
class Dataset : public Object {
 public:
  Dataset() = default;
  static Dataset open(hid_t parent, const std::string& name);
  /// Its extent; throws RuntimeError unless it is a simple dataspace of rank 1 or 2.
  [[nodiscard]] std::vector<hsize_t> dims() const;
  /// Its stored type.
  [[nodiscard]] Handle type() const;
  /// Rows [begin, begin + count) as `mem_type` into `out` (count x max(width, 1) elements);
  /// width 0 means a 1-D dataset.
  void read(hid_t mem_type, std::uint64_t begin, std::uint64_t count, std::size_t width,
            void* out) const;
  void write(hid_t mem_type, std::uint64_t begin, std::uint64_t count, std::size_t width,
             const void* data) const;
  /// read() into a vector, resized to fit.
  template <typename T>
  void read(hid_t mem_type, std::uint64_t begin, std::uint64_t count, std::size_t width,
            std::vector<T>& out) const {
    out.resize(count * (width > 0 ? width : 1));
    read(mem_type, begin, count, width, static_cast<void*>(out.data()));
  }
  /// Elements at the given rows of a 1-D dataset (one point selection), in that order.
  void read_points(hid_t mem_type, const std::vector<hsize_t>& rows, void* out) const;
  void write_points(hid_t mem_type, const std::vector<hsize_t>& rows, const void* data) const;

 private:
  Dataset(hid_t id, const std::string& what) : Object(id, what) {}
};

class Group : public Object {
 public:
  Group() = default;
  static Group open(hid_t parent, const std::string& name);
  static Group create(hid_t parent, const std::string& name);
  [[nodiscard]] Dataset dataset(const std::string& name) const { return Dataset::open(get(), name); }

 private:
  Group(hid_t id, const std::string& what) : Object(id, what) {}
};

/// Opening an existing file for reading only, or for reading and writing.
enum class Access { ReadOnly, ReadWrite };

class File : public Object {
 public:
  File() = default;
  /// Opens `path` (with file-access properties `fapl`, e.g. MPI-IO); throws RuntimeError.
  static File open(const std::string& path, Access access, hid_t fapl = H5P_DEFAULT);
  /// Creates `path`; replaces an existing file only with `overwrite`.
  static File create(const std::string& path, bool overwrite);
  [[nodiscard]] Group group(const std::string& name) const { return Group::open(get(), name); }
  void flush() const;
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  File(hid_t id, std::string path);
  std::string path_;
};

/// True when `path` is an HDF5 file (false for a missing or non-HDF5 file).
bool is_hdf5(const std::string& path);

/// Attribute helpers on any object. Strings are stored fixed-length (never in the global heap,
/// which a damaged file can make libhdf5 crash in); variable-length ones are still read.
void write_attr(hid_t obj, const std::string& name, const std::string& value);
void write_attr(hid_t obj, const std::string& name, std::int64_t value);
void write_attr(hid_t obj, const std::string& name, double value);
void write_attr(hid_t obj, const std::string& name, const std::vector<std::string>& values);
bool has_attr(hid_t obj, const std::string& name);
/// Readers check the attribute's type class and shape first; they throw RuntimeError.
std::string read_attr_string(hid_t obj, const std::string& name);
std::int64_t read_attr_int(hid_t obj, const std::string& name);
double read_attr_double(hid_t obj, const std::string& name);
std::vector<std::string> read_attr_strings(hid_t obj, const std::string& name);
/// Any scalar attribute as text ("-" when missing; doubles with `precision` digits).
std::string attr_text(hid_t obj, const std::string& name, int precision = 6);

/// A variable-length UTF-8 string type (reading schema 1 files only).
Handle vlen_string_type();
/// A fixed-length UTF-8 string type of `size` bytes (at least 1), NUL-padded.
Handle fixed_string_type(std::size_t size);
/// A string as stored in a fixed-length field: cut at its first NUL.
std::string unpad(const char* data, std::size_t size);

/// Creates dataset `name` in `parent`: contiguous, allocated at once (so ranks can write it in
/// parallel), filled with *fill (of type fill_type) or, when fill is null, never filled.
Handle create_dataset(hid_t parent, const char* name, hid_t type, const std::vector<hsize_t>& dims,
                      const void* fill = nullptr, hid_t fill_type = -1);

}  // namespace pmap::h5
