#include "pmap/results.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <limits>

#include "detail/file_in_use.hpp"
#include "pmap/error.hpp"
#include "pmap/mpi.hpp"

namespace pmap {
namespace {

/// A compound table `name` in `group` (replacing an older one): `rows` of `type`, from `data`.
void write_table(hid_t group, const char* name, hid_t type, std::size_t rows, const void* data) {
  if (H5Lexists(group, name, H5P_DEFAULT) > 0) {
    h5::check(H5Ldelete(group, name, H5P_DEFAULT), std::string("replace table ") + name);
  }
  const hsize_t n = rows;
  h5::Handle space(H5Screate_simple(1, &n, nullptr), std::string("space of ") + name);
  h5::Handle d(
      H5Dcreate2(group, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      std::string("create table ") + name);
  if (n > 0) {
    h5::check(H5Dwrite(d.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
              std::string("write table ") + name);
  }
}

/// Adds `name` at `offset` of compound `t`.
void member(hid_t t, const char* name, std::size_t offset, hid_t type) {
  h5::check(H5Tinsert(t, name, offset, type), std::string("table field ") + name);
}

/// /<group>/ranks: one row per rank, host as a fixed-length string as wide as the longest.
void write_ranks_table(hid_t group, const std::vector<RankRecord>& ranks) {
  struct Row {
    std::int32_t rank, threads;
    std::int64_t items;
    double busy_seconds, wall_seconds, write_seconds, max_rss_mib;
  };
  std::size_t host_len = 1;
  for (const auto& r : ranks) host_len = std::max(host_len, r.host.size());
  const std::size_t row_bytes = sizeof(Row) + host_len;
  h5::Handle host = h5::fixed_string_type(host_len);
  h5::Handle t(H5Tcreate(H5T_COMPOUND, row_bytes), "ranks table type");
  member(t.get(), "rank", offsetof(Row, rank), H5T_NATIVE_INT32);
  member(t.get(), "items", offsetof(Row, items), H5T_NATIVE_INT64);
  member(t.get(), "busy_seconds", offsetof(Row, busy_seconds), H5T_NATIVE_DOUBLE);
  member(t.get(), "wall_seconds", offsetof(Row, wall_seconds), H5T_NATIVE_DOUBLE);
  member(t.get(), "write_seconds", offsetof(Row, write_seconds), H5T_NATIVE_DOUBLE);
  member(t.get(), "threads", offsetof(Row, threads), H5T_NATIVE_INT32);
  member(t.get(), "max_rss_mib", offsetof(Row, max_rss_mib), H5T_NATIVE_DOUBLE);
  member(t.get(), "host", sizeof(Row), host.get());
  std::vector<char> buf(ranks.size() * row_bytes, '\0');
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    const auto& r = ranks[i];
    const Row row{static_cast<std::int32_t>(i), r.threads,       r.items,      r.busy_seconds,
                  r.wall_seconds,               r.write_seconds, r.max_rss_mib};
    std::memcpy(buf.data() + i * row_bytes, &row, sizeof row);
    std::memcpy(buf.data() + i * row_bytes + sizeof row, r.host.data(), r.host.size());
  }
  write_table(group, "ranks", t.get(), ranks.size(), buf.data());
}

/// /<group>/errors: item and message, the message fixed-length as wide as the longest.
void write_errors_table(hid_t group, const std::vector<ErrorRecord>& errors) {
  std::size_t len = 1;
  for (const auto& e : errors) len = std::max(len, e.message.size());
  const std::size_t row_bytes = sizeof(std::int64_t) + len;
  h5::Handle text = h5::fixed_string_type(len);
  h5::Handle t(H5Tcreate(H5T_COMPOUND, row_bytes), "errors table type");
  member(t.get(), "item", 0, H5T_NATIVE_INT64);
  member(t.get(), "message", sizeof(std::int64_t), text.get());
  std::vector<char> buf(errors.size() * row_bytes, '\0');
  for (std::size_t i = 0; i < errors.size(); ++i) {
    std::memcpy(buf.data() + i * row_bytes, &errors[i].item, sizeof(std::int64_t));
    std::memcpy(buf.data() + i * row_bytes + sizeof(std::int64_t), errors[i].message.data(),
                errors[i].message.size());
  }
  write_table(group, "errors", t.get(), errors.size(), buf.data());
}

/// The message field of a stored errors table, checked: its string type, or throws.
h5::Handle message_field(hid_t table_type) {
  if (H5Tget_class(table_type) != H5T_COMPOUND || H5Tget_nmembers(table_type) != 2) {
    throw RuntimeError("table errors has the wrong type");
  }
  const int item = H5Tget_member_index(table_type, "item");
  const int message = H5Tget_member_index(table_type, "message");
  if (item < 0 || message < 0 || H5Tget_member_class(table_type, static_cast<unsigned>(item)) !=
                                     H5T_INTEGER) {
    throw RuntimeError("table errors has the wrong fields");
  }
  h5::Handle field(H5Tget_member_type(table_type, static_cast<unsigned>(message)), "field type");
  const std::size_t size = H5Tget_size(field.get());
  if (H5Tget_class(field.get()) != H5T_STRING || size == 0 || size > (std::size_t{1} << 20)) {
    throw RuntimeError("table errors: message is not a string");
  }
  return field;
}

}  // namespace

void write_attrs(hid_t obj, const Attrs& attrs) {
  for (const auto& [name, value] : attrs) {
    std::visit([&, n = name](const auto& v) { h5::write_attr(obj, n, v); }, value);
  }
}

void create_results_file(const std::string& path, const ComputeMeta& meta, bool overwrite) {
  h5::File file = h5::File::create(path, overwrite);
  write_attrs(file.get(), meta.root);
  h5::Group group = h5::Group::create(file.get(), "compute");
  write_attrs(group.get(), meta.compute);
  h5::write_attr(group.get(), "columns", meta.columns);
  create_compute_columns(group.get(), meta.items, meta.columns.size());
  create_params(group.get(), meta.items, meta.fields, meta.params);
  group.reset();
  file.flush();
  file.close("close " + path);
}

ComputeWriter::ComputeWriter(const std::string& path, MPI_Comm comm) : path_(path) {
  // One rank writes through HDF5's POSIX driver. MPI-IO buys nothing then, costs start-up
  // (Open MPI loads its file-system components), and in a singleton its shared-file-pointer
  // component mmaps a file in the session directory that concurrent singletons share
  // (/tmp/ompi.HOST.0/jf.0/1): one's teardown removed it under another, which then printed
  // "mca_sharedfp_sm_component_file_query: Error" (seen under ctest -j2).
  h5::Handle fapl(H5Pcreate(H5P_FILE_ACCESS), "file access properties");
  if (mpi::size(comm) > 1) {
    h5::check(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL), "set MPI-IO driver");
  } else {
    // No sieve buffer: the POSIX driver would keep up to 64 KiB of finished rows (a small file
    // whole) in this process until close, and a kill -9 would lose them; written straight
    // through, they reach the page cache, survive the process, and --resume or an elastic
    // takeover keeps them (one write a column a chunk: chunks are ~100 ms).
    h5::check(H5Pset_sieve_buf_size(fapl.get(), 0), "set sieve buffer size");
  }
  file_ = h5::File::open(path, h5::Access::ReadWrite, fapl.get());
  const h5::Group compute = file_.group("compute");
  columns_.emplace(compute);
  params_.emplace(compute.get(), columns_->rows());
}

void ComputeWriter::write(const RowBlock& r) {
  if (r.count == 0) return;
  std::lock_guard lock(mutex_);
  const auto t0 = std::chrono::steady_clock::now();
  // In kComputeColumns' order: status last, after the cells it vouches for.
  const void* cells[] = {r.item, r.value, r.rank, r.thread, r.seconds, r.status};
  try {
    if (r.params != nullptr && !params_->fields().empty()) params_->write(r.begin, r.count, r.params);
    for (std::size_t i = 0; i < kComputeColumns.size(); ++i) {
      const Column& c = kComputeColumns[i];
      const h5::Handle mem = memory_type(c.cell);
      (*columns_)[static_cast<ComputeColumn>(i)].write(mem.get(), r.begin, r.count,
                                                       c.per_value ? r.columns : 0, cells[i]);
    }
  } catch (const RuntimeError& e) {
    throw RuntimeError("writing results to " + path_ + ": " + e.what());
  }
  write_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void ComputeWriter::close() {
  std::lock_guard lock(mutex_);
  if (columns_) columns_->close();
  if (params_) params_->close();
  columns_.reset();
  params_.reset();
  file_.close("close results file");
}

void finalize_results_file(const std::string& path, const std::string& group_name,
                           const Attrs& attrs, const std::vector<RankRecord>& ranks,
                           const std::vector<ErrorRecord>& errors) {
  h5::File file = h5::File::open(path, h5::Access::ReadWrite);
  h5::Group group = file.group(group_name);
  write_attrs(group.get(), attrs);
  write_ranks_table(group.get(), ranks);
  write_errors_table(group.get(), errors);
  group.reset();
  file.close("close " + path);
}

std::vector<ErrorRecord> read_errors_table(const h5::Group& group) {
  std::vector<ErrorRecord> out;
  if (!group.has("errors")) return out;
  const h5::Dataset d = group.dataset("errors");
  const h5::Handle stored = d.type();
  const h5::Handle field = message_field(stored.get());
  const auto rows = d.dims();
  if (rows.size() != 1) throw RuntimeError("table errors has the wrong shape");
  const bool vlen = H5Tis_variable_str(field.get()) > 0;
  const std::size_t len = vlen ? sizeof(char*) : H5Tget_size(field.get());
  const std::size_t row_bytes = sizeof(std::int64_t) + len;
  const h5::Handle text = vlen ? h5::vlen_string_type() : h5::fixed_string_type(len);
  h5::Handle t(H5Tcreate(H5T_COMPOUND, row_bytes), "errors table type");
  member(t.get(), "item", 0, H5T_NATIVE_INT64);
  member(t.get(), "message", sizeof(std::int64_t), text.get());
  // In blocks: memory bounded whatever size a damaged file claims.
  constexpr std::uint64_t kBlock = 4096;
  std::vector<char> buf;
  for (std::uint64_t b = 0; b < rows[0]; b += kBlock) {
    const std::uint64_t n = std::min<std::uint64_t>(kBlock, rows[0] - b);
    buf.assign(n * row_bytes, '\0');
    d.read(t.get(), b, n, 0, static_cast<void*>(buf.data()));
    for (std::size_t i = 0; i < n; ++i) {
      const char* row = buf.data() + i * row_bytes;
      ErrorRecord e;
      std::memcpy(&e.item, row, sizeof e.item);
      if (vlen) {
        const char* p = nullptr;
        std::memcpy(&p, row + sizeof e.item, sizeof p);
        e.message = p ? p : "";
      } else {
        e.message = h5::unpad(row + sizeof e.item, len);
      }
      out.push_back(std::move(e));
    }
    if (vlen) {
      const hsize_t count = n;
      h5::Handle space(H5Screate_simple(1, &count, nullptr), "space");
      H5Dvlen_reclaim(t.get(), space.get(), H5P_DEFAULT, buf.data());
    }
  }
  return out;
}

}  // namespace pmap

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>

namespace pmap {

std::uint64_t results_file_bytes(std::uint64_t items, std::size_t columns,
                                 std::uint64_t param_bytes) {
  const std::uint64_t per_row = 8 + 8 * columns + 1 + 4 + 4 + 8 + param_bytes;
  return items * per_row + (std::uint64_t{1} << 20);  // + metadata and tables
}

void check_output_path(const std::string& path, bool overwrite, std::uint64_t needed_bytes) {
  namespace fs = std::filesystem;
  if (path.empty()) throw UsageError("output", "", "the file name is empty");
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw UsageError("output", path,
                     "directory '" + dir.string() + "' does not exist; create it first (mkdir -p " +
                         dir.string() + ")");
  }
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    throw UsageError("output", path,
                     "directory '" + dir.string() + "' is not writable; choose another `output`");
  }
  if (fs::exists(p, ec)) {
    if (!fs::is_regular_file(p, ec)) {
      throw UsageError("output", path, "exists and is not a regular file");
    }
    if (!overwrite) throw UsageError::file_exists("output", path);
    // HDF5 truncates a file it creates before it tries its lock: a run, merge or reader still
    // using the file would lose it.
    if (const auto holder = detail::file_in_use(path)) {
      throw UsageError("output", path,
                       "in use by " + *holder +
                           ": wait for it to end, or choose another `output`; nothing was changed");
    }
  }
  struct statvfs fs_info {};
  if (needed_bytes > 0 && statvfs(dir.c_str(), &fs_info) == 0) {
    const std::uint64_t free_bytes =
        static_cast<std::uint64_t>(fs_info.f_bavail) * static_cast<std::uint64_t>(fs_info.f_frsize);
    const std::uint64_t existing = fs::exists(p, ec) ? fs::file_size(p, ec) : 0;
    if (free_bytes + existing < needed_bytes) {
      const auto mib = [](std::uint64_t b) { return std::to_string((b + (1 << 20) - 1) >> 20); };
      throw UsageError("output", path,
                       "needs about " + mib(needed_bytes) + " MiB but only " + mib(free_bytes) +
                           " MiB are free in '" + dir.string() +
                           "'; free space or choose another `output`");
    }
  }
}

}  // namespace pmap
