#include "pmap/inspect.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <sstream>
#include <vector>

#include "pmap/error.hpp"
#include "pmap/h5.hpp"
#include "pmap/partition.hpp"

namespace pmap {
namespace {

h5::Handle open_pmap_file(const std::string& path) {
  h5::silence_errors();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw UsageError(path + ": no such file (give a results file written by pmap)");
  }
  if (!h5::is_hdf5(path)) {
    throw UsageError(path + ": not an HDF5 file (give a results file written by pmap)");
  }
  h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "open " + path);
  if (!h5::has_attr(file.get(), "schema_version") || !h5::has_attr(file.get(), "pmap_version")) {
    throw UsageError(path + ": an HDF5 file, but not a pmap results file (no schema_version)");
  }
  return file;
}

std::uint64_t rows_of(hid_t dset) {
  h5::Handle space(H5Dget_space(dset), "dataset space");
  hsize_t dims[2] = {0, 0};
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  return dims[0];
}

/// Reads rows [begin, begin+count) of a 1-D or 2-D dataset.
template <typename T>
void read_rows(hid_t dset, hid_t mem_type, std::uint64_t begin, std::uint64_t count,
               std::size_t columns, std::vector<T>& out) {
  out.resize(count * std::max<std::size_t>(columns, 1));
  if (count == 0) return;
  const int rank = columns > 0 ? 2 : 1;
  const hsize_t start[2] = {begin, 0};
  const hsize_t cnt[2] = {count, columns};
  h5::Handle fspace(H5Dget_space(dset), "dataset space");
  h5::check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, cnt, nullptr),
            "select");
  h5::Handle mspace(H5Screate_simple(rank, cnt, nullptr), "memory space");
  h5::check(H5Dread(dset, mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, out.data()), "read");
}

std::string attr_text(hid_t obj, const char* name) {
  if (!h5::has_attr(obj, name)) return "-";
  h5::Handle a(H5Aopen(obj, name, H5P_DEFAULT), name);
  h5::Handle t(H5Aget_type(a.get()), "type");
  switch (H5Tget_class(t.get())) {
    case H5T_STRING:
      return h5::read_attr_string(obj, name);
    case H5T_INTEGER:
      return std::to_string(h5::read_attr_int(obj, name));
    case H5T_FLOAT: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.6g", h5::read_attr_double(obj, name));
      return buf;
    }
    default:
      return "?";
  }
}

}  // namespace

StatusCounts count_status(const std::string& path) {
  h5::Handle file = open_pmap_file(path);
  h5::Handle status(H5Dopen2(file.get(), "/compute/status", H5P_DEFAULT), "open /compute/status");
  const std::uint64_t n = rows_of(status.get());
  StatusCounts c;
  std::vector<std::int8_t> s;
  for (std::uint64_t b = 0; b < n; b += kMaxChunk) {
    const auto cnt = std::min<std::uint64_t>(kMaxChunk, n - b);
    read_rows(status.get(), H5T_NATIVE_INT8, b, cnt, 0, s);
    for (auto v : s) {
      if (v == 0)
        ++c.ok;
      else if (v == 1)
        ++c.failed;
      else if (v == 2)
        ++c.timed_out;
      else
        ++c.not_run;
    }
  }
  return c;
}

std::string inspect(const std::string& path) {
  h5::Handle file = open_pmap_file(path);
  std::ostringstream os;
  const hid_t f = file.get();
  os << path << ": pmap results, schema " << attr_text(f, "schema_version") << ", written by pmap "
     << attr_text(f, "pmap_version") << " on " << attr_text(f, "created") << "\n";
  os << "  command: " << attr_text(f, "command") << "\n";
  os << "  layout:  " << attr_text(f, "mpi_ranks") << " ranks x " << attr_text(f, "omp_threads")
     << " threads\n";
  if (H5Lexists(f, "compute", H5P_DEFAULT) > 0) {
    h5::Handle g(H5Gopen2(f, "compute", H5P_DEFAULT), "open /compute");
    const hid_t c = g.get();
    os << "compute: kernel " << attr_text(c, "kernel") << ", args " << attr_text(c, "args")
       << "\n  space " << attr_text(c, "space") << ", schedule " << attr_text(c, "schedule")
       << ", chunk " << (attr_text(c, "chunk") == "0" ? "auto" : attr_text(c, "chunk")) << "\n";
    const auto columns = h5::read_attr_strings(c, "columns");
    h5::Handle status(H5Dopen2(c, "status", H5P_DEFAULT), "open /compute/status");
    h5::Handle value(H5Dopen2(c, "value", H5P_DEFAULT), "open /compute/value");
    h5::Handle secs(H5Dopen2(c, "seconds", H5P_DEFAULT), "open /compute/seconds");
    const std::uint64_t n = rows_of(status.get());
    const std::size_t k = columns.size();
    StatusCounts counts;
    std::vector<double> vmin(k, std::numeric_limits<double>::infinity());
    std::vector<double> vmax(k, -std::numeric_limits<double>::infinity());
    std::vector<double> vsum(k, 0.0);
    double sec_sum = 0, sec_max = 0;
    std::vector<std::int8_t> s;
    std::vector<double> v, t;
    for (std::uint64_t b = 0; b < n; b += kMaxChunk) {
      const auto cnt = std::min<std::uint64_t>(kMaxChunk, n - b);
      read_rows(status.get(), H5T_NATIVE_INT8, b, cnt, 0, s);
      read_rows(value.get(), H5T_NATIVE_DOUBLE, b, cnt, k, v);
      read_rows(secs.get(), H5T_NATIVE_DOUBLE, b, cnt, 0, t);
      for (std::uint64_t i = 0; i < cnt; ++i) {
        switch (s[i]) {
          case 0:
            ++counts.ok;
            for (std::size_t j = 0; j < k; ++j) {
              const double x = v[i * k + j];
              vmin[j] = std::min(vmin[j], x);
              vmax[j] = std::max(vmax[j], x);
              vsum[j] += x;
            }
            break;
          case 1:
            ++counts.failed;
            break;
          case 2:
            ++counts.timed_out;
            break;
          default:
            ++counts.not_run;
            continue;
        }
        sec_sum += t[i];
        sec_max = std::max(sec_max, t[i]);
      }
    }
    os << "  status: " << n << " items: " << counts.ok << " ok, " << counts.failed << " failed, "
       << counts.timed_out << " timed out, " << counts.not_run << " not run\n";
    if (counts.ok > 0) {
      char line[256];
      std::snprintf(line, sizeof line, "  %-16s %14s %14s %14s\n", "column", "min", "mean", "max");
      os << line;
      for (std::size_t j = 0; j < k; ++j) {
        std::snprintf(line, sizeof line, "  %-16s %14.6g %14.6g %14.6g\n", columns[j].c_str(),
                      vmin[j], vsum[j] / static_cast<double>(counts.ok), vmax[j]);
        os << line;
      }
    }
    const std::uint64_t ran = counts.ok + counts.failed + counts.timed_out;
    char line[256];
    std::snprintf(line, sizeof line, "  item seconds: total %.3f, mean %.6f, max %.6f\n", sec_sum,
                  ran ? sec_sum / static_cast<double>(ran) : 0.0, sec_max);
    os << line;
    if (h5::has_attr(c, "wall_seconds")) {
      os << "  run: wall " << attr_text(c, "wall_seconds") << " s, "
         << attr_text(c, "items_per_second") << " items/s, efficiency "
         << attr_text(c, "parallel_efficiency") << ", imbalance " << attr_text(c, "load_imbalance")
         << ", write " << attr_text(c, "write_seconds") << " s\n";
      // The truth about a stop, whatever a launcher returned (mpirun exits 1 on SIGTERM).
      const std::string stop = attr_text(c, "stop_reason");
      if (stop == "signal" || stop == "deadline") {
        os << "  stop_reason=" << stop << ": interrupted: finish with --resume\n";
      } else if (stop != "none" && stop != "-") {
        os << "  stop_reason=" << stop << ": stopped early\n";
      }
    } else {
      os << "  run: not finished (no end-of-run record: interrupted or still running)\n";
    }
    if (H5Lexists(c, "errors", H5P_DEFAULT) > 0) {
      h5::Handle e(H5Dopen2(c, "errors", H5P_DEFAULT), "open /compute/errors");
      const auto ne = rows_of(e.get());
      if (ne > 0) {
        struct Row {
          std::int64_t item;
          char* message;
        };
        h5::Handle str = h5::vlen_string_type();
        h5::Handle type(H5Tcreate(H5T_COMPOUND, sizeof(Row)), "compound");
        H5Tinsert(type.get(), "item", HOFFSET(Row, item), H5T_NATIVE_INT64);
        H5Tinsert(type.get(), "message", HOFFSET(Row, message), str.get());
        const std::uint64_t show = std::min<std::uint64_t>(ne, 5);
        std::vector<Row> rows;
        read_rows(e.get(), type.get(), 0, show, 0, rows);
        os << "  errors (" << ne << "):\n";
        for (const auto& r : rows) {
          os << "    item " << r.item << ": " << (r.message ? r.message : "") << "\n";
        }
        const hsize_t cnt = show;
        h5::Handle ms(H5Screate_simple(1, &cnt, nullptr), "space");
        H5Dvlen_reclaim(type.get(), ms.get(), H5P_DEFAULT, rows.data());
      }
    }
  }
  if (H5Lexists(f, "urls", H5P_DEFAULT) > 0) {
    h5::Handle g(H5Gopen2(f, "urls", H5P_DEFAULT), "open /urls");
    h5::Handle verdict(H5Dopen2(g.get(), "verdict", H5P_DEFAULT), "open /urls/verdict");
    h5::Handle attempts(H5Dopen2(g.get(), "attempts", H5P_DEFAULT), "open /urls/attempts");
    h5::Handle secs(H5Dopen2(g.get(), "seconds", H5P_DEFAULT), "open /urls/seconds");
    const std::uint64_t m = rows_of(verdict.get());
    std::uint64_t counts[4] = {0, 0, 0, 0};  // exists, does not exist, unknown, not checked
    std::uint64_t requests = 0;
    double sec_max = 0;
    std::vector<std::int8_t> v;
    std::vector<std::int32_t> a;
    std::vector<double> t;
    for (std::uint64_t b = 0; b < m; b += kMaxChunk) {
      const auto cnt = std::min<std::uint64_t>(kMaxChunk, m - b);
      read_rows(verdict.get(), H5T_NATIVE_INT8, b, cnt, 0, v);
      read_rows(attempts.get(), H5T_NATIVE_INT32, b, cnt, 0, a);
      read_rows(secs.get(), H5T_NATIVE_DOUBLE, b, cnt, 0, t);
      for (std::uint64_t i = 0; i < cnt; ++i) {
        const int idx = v[i] >= 0 && v[i] <= 2 ? v[i] : 3;
        ++counts[idx];
        if (idx != 3) {
          requests += static_cast<std::uint64_t>(std::max(a[i], 0));
          sec_max = std::max(sec_max, t[i]);
        }
      }
    }
    os << "urls: " << m << " URLs from " << attr_text(g.get(), "input") << " (timeout "
       << attr_text(g.get(), "timeout") << " s, " << attr_text(g.get(), "threads")
       << " threads, per host " << attr_text(g.get(), "per_host") << ")\n";
    os << "  verdicts: " << counts[0] << " exists, " << counts[1] << " does not exist, "
       << counts[2] << " unknown, " << counts[3] << " not checked\n";
    char line[160];
    std::snprintf(line, sizeof line, "  requests: %llu, slowest URL %.3f s\n",
                  static_cast<unsigned long long>(requests), sec_max);
    os << line;
    // Finished when every URL of the shard (of the list) is checked for good; files of older
    // versions, without `checked`, by their final wall time.
    const auto int_attr = [&](const char* name) -> std::int64_t {
      return h5::has_attr(g.get(), name) ? h5::read_attr_int(g.get(), name) : -1;
    };
    const std::int64_t checked = int_attr("checked");
    const std::int64_t shard_urls = int_attr("shard_urls");
    const bool finished =
        shard_urls >= 0 ? checked >= shard_urls : h5::has_attr(g.get(), "wall_seconds");
    if (int_attr("shard_count") > 1) {
      os << "  shard " << int_attr("shard_index") << "/" << int_attr("shard_count") << ": "
         << shard_urls << " of the list's URLs\n";
    }
    if (h5::has_attr(g.get(), "merged_from")) {
      os << "  merged from " << int_attr("merged_from") << " shards\n";
    }
    if (finished) {
      os << "  run: finished";
      if (h5::has_attr(g.get(), "wall_seconds")) {
        os << ", wall " << attr_text(g.get(), "wall_seconds") << " s, "
           << attr_text(g.get(), "urls_per_second") << " URLs/s";
      }
      os << "\n";
    } else {
      os << "  run: not finished (" << std::max<std::int64_t>(checked, 0) << " of " << shard_urls
         << " URLs checked; interrupted, killed or still running): "
         << "pmap urls ... --resume completes it\n";
    }
  }
  return os.str();
}

}  // namespace pmap
