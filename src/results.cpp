#include "pmap/results.hpp"

#include <chrono>
#include <cstring>
#include <limits>

#include "pmap/error.hpp"
#include "pmap/mpi.hpp"

namespace pmap {
namespace {

void write_slab(hid_t dset, hid_t mem_type, std::uint64_t begin, std::uint64_t count,
                std::size_t columns, const void* data) {
  const int rank = columns > 0 ? 2 : 1;
  const hsize_t start[2] = {begin, 0};
  const hsize_t cnt[2] = {count, columns};
  h5::Handle fspace(H5Dget_space(dset), "dataset space");
  h5::check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, cnt, nullptr),
            "select rows");
  h5::Handle mspace(H5Screate_simple(rank, cnt, nullptr), "memory space");
  h5::check(H5Dwrite(dset, mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, data), "write rows");
}

}  // namespace

void write_attrs(hid_t obj, const Attrs& attrs) {
  for (const auto& [name, value] : attrs) {
    std::visit([&, n = name](const auto& v) { h5::write_attr(obj, n, v); }, value);
  }
}

void create_results_file(const std::string& path, const ComputeMeta& meta, bool overwrite) {
  h5::silence_errors();
  h5::Handle file(
      H5Fcreate(path.c_str(), overwrite ? H5F_ACC_TRUNC : H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT),
      "create " + path);
  write_attrs(file.get(), meta.root);
  h5::Handle group(H5Gcreate2(file.get(), "compute", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                   "create group /compute");
  write_attrs(group.get(), meta.compute);
  h5::write_attr(group.get(), "columns", meta.columns);
  const hsize_t n = meta.items;
  const hsize_t k = meta.columns.size();
  const std::int8_t not_run = static_cast<std::int8_t>(ItemStatus::NotRun);
  h5::create_dataset(group.get(), "item", H5T_STD_I64LE, {n});
  h5::create_dataset(group.get(), "value", H5T_IEEE_F64LE, {n, k});
  h5::create_dataset(group.get(), "status", H5T_STD_I8LE, {n}, &not_run, H5T_NATIVE_INT8);
  h5::create_dataset(group.get(), "rank", H5T_STD_I32LE, {n});
  h5::create_dataset(group.get(), "thread", H5T_STD_I32LE, {n});
  h5::create_dataset(group.get(), "seconds", H5T_IEEE_F64LE, {n});
  group.reset();
  h5::check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "flush " + path);
  file.close("close " + path);
}

ComputeWriter::ComputeWriter(const std::string& path, MPI_Comm comm) : path_(path) {
  h5::silence_errors();
  // One rank writes through HDF5's POSIX driver. MPI-IO buys nothing then, costs start-up
  // (Open MPI loads its file-system components), and in a singleton its shared-file-pointer
  // component mmaps a file in the session directory that concurrent singletons share
  // (/tmp/ompi.HOST.0/jf.0/1): one's teardown removed it under another, which then printed
  // "mca_sharedfp_sm_component_file_query: Error" (seen under ctest -j2).
  h5::Handle fapl(H5Pcreate(H5P_FILE_ACCESS), "file access properties");
  const bool mpio = mpi::size(comm) > 1;
  if (mpio) h5::check(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL), "set MPI-IO driver");
  file_ = h5::Handle(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get()),
                     "open " + path + (mpio ? " (MPI-IO)" : ""));
  const auto open = [&](const char* name) {
    return h5::Handle(H5Dopen2(file_.get(), name, H5P_DEFAULT), std::string("open ") + name);
  };
  item_ = open("/compute/item");
  value_ = open("/compute/value");
  status_ = open("/compute/status");
  rank_ = open("/compute/rank");
  thread_ = open("/compute/thread");
  seconds_ = open("/compute/seconds");
}

void ComputeWriter::write(const RowBlock& r) {
  if (r.count == 0) return;
  std::lock_guard lock(mutex_);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    write_slab(item_.get(), H5T_NATIVE_INT64, r.begin, r.count, 0, r.item);
    write_slab(value_.get(), H5T_NATIVE_DOUBLE, r.begin, r.count, r.columns, r.value);
    write_slab(rank_.get(), H5T_NATIVE_INT32, r.begin, r.count, 0, r.rank);
    write_slab(thread_.get(), H5T_NATIVE_INT32, r.begin, r.count, 0, r.thread);
    write_slab(seconds_.get(), H5T_NATIVE_DOUBLE, r.begin, r.count, 0, r.seconds);
    write_slab(status_.get(), H5T_NATIVE_INT8, r.begin, r.count, 0, r.status);
  } catch (const RuntimeError& e) {
    throw RuntimeError("writing results to " + path_ + ": " + e.what());
  }
  write_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void ComputeWriter::close() {
  std::lock_guard lock(mutex_);
  item_.close("close /compute/item");
  value_.close("close /compute/value");
  status_.close("close /compute/status");
  rank_.close("close /compute/rank");
  thread_.close("close /compute/thread");
  seconds_.close("close /compute/seconds");
  file_.close("close results file");
}

void finalize_results_file(const std::string& path, const std::string& group_name,
                           const Attrs& attrs, const std::vector<RankRecord>& ranks,
                           const std::vector<ErrorRecord>& errors) {
  h5::silence_errors();
  h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), "reopen " + path);
  h5::Handle group(H5Gopen2(file.get(), group_name.c_str(), H5P_DEFAULT), "open /" + group_name);
  write_attrs(group.get(), attrs);
  h5::Handle str = h5::vlen_string_type();

  // /<group>/ranks
  {
    struct Row {
      std::int32_t rank;
      std::int64_t items;
      double busy_seconds;
      double wall_seconds;
      double write_seconds;
      std::int32_t threads;
      double max_rss_mib;
      const char* host;
    };
    h5::Handle t(H5Tcreate(H5T_COMPOUND, sizeof(Row)), "compound type");
    h5::check(H5Tinsert(t.get(), "rank", HOFFSET(Row, rank), H5T_NATIVE_INT32), "insert");
    h5::check(H5Tinsert(t.get(), "items", HOFFSET(Row, items), H5T_NATIVE_INT64), "insert");
    h5::check(H5Tinsert(t.get(), "busy_seconds", HOFFSET(Row, busy_seconds), H5T_NATIVE_DOUBLE),
              "insert");
    h5::check(H5Tinsert(t.get(), "wall_seconds", HOFFSET(Row, wall_seconds), H5T_NATIVE_DOUBLE),
              "insert");
    h5::check(H5Tinsert(t.get(), "write_seconds", HOFFSET(Row, write_seconds), H5T_NATIVE_DOUBLE),
              "insert");
    h5::check(H5Tinsert(t.get(), "threads", HOFFSET(Row, threads), H5T_NATIVE_INT32), "insert");
    h5::check(H5Tinsert(t.get(), "max_rss_mib", HOFFSET(Row, max_rss_mib), H5T_NATIVE_DOUBLE),
              "insert");
    h5::check(H5Tinsert(t.get(), "host", HOFFSET(Row, host), str.get()), "insert");
    std::vector<Row> rows;
    for (std::size_t i = 0; i < ranks.size(); ++i) {
      const auto& r = ranks[i];
      rows.push_back({static_cast<std::int32_t>(i), r.items, r.busy_seconds, r.wall_seconds,
                      r.write_seconds, r.threads, r.max_rss_mib, r.host.c_str()});
    }
    if (H5Lexists(group.get(), "ranks", H5P_DEFAULT) > 0) {
      h5::check(H5Ldelete(group.get(), "ranks", H5P_DEFAULT), "delete old ranks table");
    }
    const hsize_t n = rows.size();
    h5::Handle space(H5Screate_simple(1, &n, nullptr), "ranks space");
    h5::Handle d(H5Dcreate2(group.get(), "ranks", t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                            H5P_DEFAULT),
                 "create ranks table");
    if (n > 0)
      h5::check(H5Dwrite(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()),
                "write ranks table");
  }
  // /<group>/errors
  {
    struct Row {
      std::int64_t item;
      const char* message;
    };
    h5::Handle t(H5Tcreate(H5T_COMPOUND, sizeof(Row)), "compound type");
    h5::check(H5Tinsert(t.get(), "item", HOFFSET(Row, item), H5T_NATIVE_INT64), "insert");
    h5::check(H5Tinsert(t.get(), "message", HOFFSET(Row, message), str.get()), "insert");
    std::vector<Row> rows;
    rows.reserve(errors.size());
    for (const auto& e : errors) rows.push_back({e.item, e.message.c_str()});
    if (H5Lexists(group.get(), "errors", H5P_DEFAULT) > 0) {
      h5::check(H5Ldelete(group.get(), "errors", H5P_DEFAULT), "delete old errors table");
    }
    const hsize_t n = rows.size();
    h5::Handle space(H5Screate_simple(1, &n, nullptr), "errors space");
    h5::Handle d(H5Dcreate2(group.get(), "errors", t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                            H5P_DEFAULT),
                 "create errors table");
    if (n > 0)
      h5::check(H5Dwrite(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()),
                "write errors table");
  }
  group.reset();
  file.close("close " + path);
}

}  // namespace pmap

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>

namespace pmap {

std::uint64_t results_file_bytes(std::uint64_t items, std::size_t columns) {
  const std::uint64_t per_row = 8 + 8 * columns + 1 + 4 + 4 + 8;
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
