#include "pmap/resume.hpp"

#include <algorithm>
#include <vector>

#include "pmap/columns.hpp"
#include "pmap/error.hpp"
#include "pmap/report.hpp"
#include "pmap/results_file.hpp"

namespace pmap {
namespace {

constexpr std::string_view kUse = "--resume";

/// The results file at `path` with its /compute, opened and checked for reading back.
struct ComputeFile {
  ResultsFile results;
  h5::Group group;
  ComputeColumns columns;

  explicit ComputeFile(const std::string& path, std::string_view use = kUse)
      : results(open_results_file(path, use, "; run once without --resume first")),
        group(require_compute(results, path, use)),
        columns(group) {}

  static h5::Group require_compute(const ResultsFile& r, const std::string& path,
                                   std::string_view use) {
    if (!r.compute) {
      throw UsageError(std::string(use) + " " + path + ": a pmap results file without a " +
                       "/compute stage; give the file of a `pmap run`");
    }
    return r.file.group("compute");
  }
};

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

/// Throws UsageError naming the first attribute of `identity` whose value differs.
void check_identity(const std::string& path, const h5::Group& g, const Attrs& expected,
                    const std::vector<std::string>& identity) {
  for (const auto& key : identity) {
    const auto it = std::find_if(expected.begin(), expected.end(),
                                 [&](const auto& kv) { return kv.first == key; });
    const std::string want = it == expected.end() ? "-" : value_text(it->second);
    const std::string have = h5::attr_text(g.get(), key, 17);
    if (want != have) {
      throw UsageError(std::string(kUse) + " " + path + ": " + key + " differs (file: " + have +
                       ", now: " + want +
                       "); resume with the same kernel, arguments and items, or start "
                       "over with --force");
    }
  }
}

/// Calls f(first row, statuses, values) for consecutive blocks of `window` (values only when
/// `with_values`).
template <typename F>
void for_each_block(const ComputeColumns& c, Chunk window, bool with_values, F&& f) {
  if (window.end > c.rows()) throw RuntimeError("the window is beyond /compute's rows");
  std::vector<std::int8_t> s;
  std::vector<double> v;
  for (std::uint64_t b = window.begin; b < window.end; b += kMaxChunk) {
    const auto n = std::min<std::uint64_t>(kMaxChunk, window.end - b);
    c[ComputeColumn::Status].read(H5T_NATIVE_INT8, b, n, 0, s);
    if (with_values) c[ComputeColumn::Value].read(H5T_NATIVE_DOUBLE, b, n, c.width(), v);
    f(b, s, v);
  }
}

}  // namespace

ResumePlan plan_resume(const std::string& path, const Attrs& expected,
                       const std::vector<std::string>& identity, bool retry_failed, Chunk window) {
  return read_results(path, kUse, [&] {
    const ComputeFile f(path);
    check_identity(path, f.group, expected, identity);
    ResumePlan plan;
    if (f.group.has_attr("runs")) plan.runs = h5::read_attr_int(f.group.get(), "runs");
    std::vector<Chunk> ranges;
    for_each_block(f.columns, window, false, [&](std::uint64_t b, const auto& s, const auto&) {
      for (std::uint64_t i = 0; i < s.size(); ++i) {
        const bool todo = s[i] < 0 || s[i] > 2 || (retry_failed && s[i] != 0);
        if (!todo) continue;
        if (!ranges.empty() && ranges.back().end == b + i) {
          ++ranges.back().end;
        } else {
          ranges.push_back({b + i, b + i + 1});
        }
      }
    });
    plan.todo = RowSet(std::move(ranges));
    plan.kept_errors = read_errors_table(f.group);  // filtered after the run: see status_at()
    return plan;
  });
}

StatusTally scan_results(const std::string& path, Chunk window, std::string_view use) {
  return read_results(path, use, [&] {
    const ComputeFile f(path, use);
    const std::size_t k = f.columns.width();
    StatusTally t;
    for_each_block(f.columns, window, true, [&](std::uint64_t b, const auto& s, const auto& v) {
      for (std::uint64_t i = 0; i < s.size(); ++i) {
        t.count_raw(s[i], s[i] == 0 ? row_checksum(b + i, v.data() + i * k, k) : 0);
      }
    });
    return t;
  });
}

std::vector<std::int8_t> status_at(const std::string& path,
                                   const std::vector<std::uint64_t>& rows) {
  std::vector<std::int8_t> out(rows.size(), -1);
  if (rows.empty()) return out;
  return read_results(path, kUse, [&] {
    const ComputeFile f(path);
    const std::vector<hsize_t> coords(rows.begin(), rows.end());
    f.columns[ComputeColumn::Status].read_points(H5T_NATIVE_INT8, coords, out.data());
    return out;
  });
}

std::vector<ErrorRecord> read_errors(const std::string& path, std::string_view use) {
  return read_results(path, use, [&] { return read_errors_table(ComputeFile(path, use).group); });
}

}  // namespace pmap
