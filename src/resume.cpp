#include "pmap/resume.hpp"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "pmap/error.hpp"
#include "pmap/h5.hpp"
#include "pmap/report.hpp"

namespace pmap {
namespace {

h5::Handle open_read(const std::string& path, unsigned flags = H5F_ACC_RDONLY) {
  h5::silence_errors();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw UsageError("--resume " + path + ": no such file (run once without --resume first)");
  }
  if (!h5::is_hdf5(path)) throw UsageError("--resume " + path + ": not an HDF5 file");
  h5::Handle f(H5Fopen(path.c_str(), flags, H5P_DEFAULT), "open " + path);
  if (!h5::has_attr(f.get(), "schema_version") || H5Lexists(f.get(), "compute", H5P_DEFAULT) <= 0) {
    throw UsageError("--resume " + path + ": not a pmap results file with a /compute stage");
  }
  return f;
}

std::string attr_as_text(hid_t obj, const std::string& name) {
  if (!h5::has_attr(obj, name)) return "(missing)";
  h5::Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), name);
  h5::Handle t(H5Aget_type(a.get()), "type");
  switch (H5Tget_class(t.get())) {
    case H5T_STRING:
      return h5::read_attr_string(obj, name);
    case H5T_INTEGER:
      return std::to_string(h5::read_attr_int(obj, name));
    case H5T_FLOAT:
      return std::to_string(h5::read_attr_double(obj, name));
    default:
      return "?";
  }
}

std::string value_text(const AttrValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::string>) {
          return x;
        } else {
          return std::to_string(x);
        }
      },
      v);
}

template <typename T>
void read_block(hid_t dset, hid_t type, std::uint64_t begin, std::uint64_t count,
                std::size_t columns, std::vector<T>& out) {
  out.resize(count * std::max<std::size_t>(columns, 1));
  if (count == 0) return;
  const int rank = columns > 0 ? 2 : 1;
  const hsize_t start[2] = {begin, 0};
  const hsize_t cnt[2] = {count, columns};
  h5::Handle fs(H5Dget_space(dset), "space");
  h5::check(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, start, nullptr, cnt, nullptr), "select");
  h5::Handle ms(H5Screate_simple(rank, cnt, nullptr), "memory space");
  h5::check(H5Dread(dset, type, ms.get(), fs.get(), H5P_DEFAULT, out.data()), "read");
}

}  // namespace

ResumePlan plan_resume(const std::string& path, const Attrs& expected,
                       const std::vector<std::string>& identity, bool retry_failed, Chunk window) {
  h5::Handle f = open_read(path);
  h5::Handle g(H5Gopen2(f.get(), "compute", H5P_DEFAULT), "open /compute");
  if (h5::read_attr_int(f.get(), "schema_version") != kSchemaVersion) {
    throw UsageError("--resume " + path + ": schema_version " +
                     attr_as_text(f.get(), "schema_version") + " differs from this pmap's " +
                     std::to_string(kSchemaVersion));
  }
  for (const auto& key : identity) {
    const auto it = std::find_if(expected.begin(), expected.end(),
                                 [&](const auto& kv) { return kv.first == key; });
    const std::string want = it == expected.end() ? "(missing)" : value_text(it->second);
    const std::string have = attr_as_text(g.get(), key);
    if (want != have) {
      throw UsageError("--resume " + path + ": " + key + " differs (file: " + have +
                       ", now: " + want +
                       "); resume with the same kernel, arguments and items, or start "
                       "over with --force");
    }
  }
  ResumePlan plan;
  if (h5::has_attr(g.get(), "runs")) plan.runs = h5::read_attr_int(g.get(), "runs");
  h5::Handle status(H5Dopen2(g.get(), "status", H5P_DEFAULT), "open /compute/status");
  std::vector<Chunk> ranges;
  std::vector<std::int8_t> s;
  for (std::uint64_t b = window.begin; b < window.end; b += kMaxChunk) {
    const auto cnt = std::min<std::uint64_t>(kMaxChunk, window.end - b);
    read_block(status.get(), H5T_NATIVE_INT8, b, cnt, 0, s);
    for (std::uint64_t i = 0; i < cnt; ++i) {
      const bool todo = s[i] < 0 || s[i] > 2 || (retry_failed && s[i] != 0);
      if (!todo) continue;
      const std::uint64_t row = b + i;
      if (!ranges.empty() && ranges.back().end == row) {
        ++ranges.back().end;
      } else {
        ranges.push_back({row, row + 1});
      }
    }
  }
  plan.todo = RowSet(std::move(ranges));
  plan.kept_errors = read_errors(path);  // filtered after the run: see status_at()
  return plan;
}

FileTotals scan_results(const std::string& path, Chunk window) {
  h5::Handle f = open_read(path);
  h5::Handle status(H5Dopen2(f.get(), "/compute/status", H5P_DEFAULT), "open status");
  h5::Handle value(H5Dopen2(f.get(), "/compute/value", H5P_DEFAULT), "open value");
  h5::Handle vs(H5Dget_space(value.get()), "space");
  hsize_t dims[2] = {0, 0};
  H5Sget_simple_extent_dims(vs.get(), dims, nullptr);
  const std::size_t k = dims[1];
  FileTotals t;
  std::vector<std::int8_t> s;
  std::vector<double> v;
  for (std::uint64_t b = window.begin; b < window.end; b += kMaxChunk) {
    const auto cnt = std::min<std::uint64_t>(kMaxChunk, window.end - b);
    read_block(status.get(), H5T_NATIVE_INT8, b, cnt, 0, s);
    read_block(value.get(), H5T_NATIVE_DOUBLE, b, cnt, k, v);
    for (std::uint64_t i = 0; i < cnt; ++i) {
      switch (s[i]) {
        case 0:
          ++t.ok;
          t.checksum += row_checksum(b + i, v.data() + i * k, k);
          break;
        case 1:
          ++t.failed;
          break;
        case 2:
          ++t.timed_out;
          break;
        default:
          ++t.not_run;
      }
    }
  }
  return t;
}

std::vector<std::int8_t> status_at(const std::string& path,
                                   const std::vector<std::uint64_t>& rows) {
  std::vector<std::int8_t> out(rows.size(), -1);
  if (rows.empty()) return out;
  h5::Handle f = open_read(path);
  h5::Handle d(H5Dopen2(f.get(), "/compute/status", H5P_DEFAULT), "open /compute/status");
  h5::Handle fs(H5Dget_space(d.get()), "space");
  std::vector<hsize_t> coords(rows.begin(), rows.end());
  h5::check(H5Sselect_elements(fs.get(), H5S_SELECT_SET, coords.size(), coords.data()), "select");
  const hsize_t n = rows.size();
  h5::Handle ms(H5Screate_simple(1, &n, nullptr), "memory space");
  h5::check(H5Dread(d.get(), H5T_NATIVE_INT8, ms.get(), fs.get(), H5P_DEFAULT, out.data()),
            "read /compute/status");
  return out;
}

std::vector<ErrorRecord> read_errors(const std::string& path) {
  h5::silence_errors();
  h5::Handle f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "open " + path);
  std::vector<ErrorRecord> out;
  if (H5Lexists(f.get(), "/compute/errors", H5P_DEFAULT) <= 0) return out;
  h5::Handle d(H5Dopen2(f.get(), "/compute/errors", H5P_DEFAULT), "open /compute/errors");
  struct Row {
    std::int64_t item;
    char* message;
  };
  h5::Handle str = h5::vlen_string_type();
  h5::Handle type(H5Tcreate(H5T_COMPOUND, sizeof(Row)), "compound");
  h5::check(H5Tinsert(type.get(), "item", HOFFSET(Row, item), H5T_NATIVE_INT64), "insert");
  h5::check(H5Tinsert(type.get(), "message", HOFFSET(Row, message), str.get()), "insert");
  h5::Handle space(H5Dget_space(d.get()), "space");
  const auto n = H5Sget_simple_extent_npoints(space.get());
  std::vector<Row> rows(static_cast<std::size_t>(std::max<hssize_t>(n, 0)));
  if (n > 0) {
    h5::check(H5Dread(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()),
              "read errors");
  }
  for (const auto& r : rows) out.push_back({r.item, r.message ? r.message : ""});
  if (n > 0) H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, rows.data());
  return out;
}

}  // namespace pmap
