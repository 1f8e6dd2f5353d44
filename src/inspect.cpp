#include "pmap/inspect.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <sstream>
#include <vector>

#include "detail/url_file.hpp"
#include "pmap/columns.hpp"
#include "pmap/error.hpp"
#include "pmap/h5.hpp"
#include "pmap/params.hpp"
#include "pmap/partition.hpp"
#include "pmap/results_file.hpp"
#include "pmap/tally.hpp"

namespace pmap {
namespace {

constexpr const char* kUse = "inspect";

std::string format(const char* fmt, double a, double b = 0, double c = 0) {
  char line[160];
  std::snprintf(line, sizeof line, fmt, a, b, c);
  return line;
}

/// Min, mean and max of each value column over the ok rows, and the item seconds of every row
/// that ran.
struct ComputeSummary {
  StatusTally tally;
  std::vector<double> min, max, sum;
  double seconds_sum = 0, seconds_max = 0;

  explicit ComputeSummary(std::size_t k)
      : min(k, std::numeric_limits<double>::infinity()),
        max(k, -std::numeric_limits<double>::infinity()),
        sum(k, 0.0) {}

  void add(std::int8_t status, const double* values, double seconds) {
    tally.count_raw(status);
    if (status == static_cast<std::int8_t>(ItemStatus::Ok)) {
      for (std::size_t j = 0; j < sum.size(); ++j) {
        min[j] = std::min(min[j], values[j]);
        max[j] = std::max(max[j], values[j]);
        sum[j] += values[j];
      }
    }
    if (status >= 0 && status <= 2) {
      seconds_sum += seconds;
      seconds_max = std::max(seconds_max, seconds);
    }
  }
};

ComputeSummary summarize_rows(const ComputeColumns& cols) {
  const std::size_t k = cols.width();
  ComputeSummary sum(k);
  std::vector<std::int8_t> s;
  std::vector<double> v, t;
  for (std::uint64_t b = 0; b < cols.rows(); b += kMaxChunk) {
    const auto n = std::min<std::uint64_t>(kMaxChunk, cols.rows() - b);
    cols[ComputeColumn::Status].read(H5T_NATIVE_INT8, b, n, 0, s);
    cols[ComputeColumn::Value].read(H5T_NATIVE_DOUBLE, b, n, k, v);
    cols[ComputeColumn::Seconds].read(H5T_NATIVE_DOUBLE, b, n, 0, t);
    for (std::uint64_t i = 0; i < n; ++i) sum.add(s[i], v.data() + i * k, t[i]);
  }
  return sum;
}

void print_values(std::ostream& os, const ComputeSummary& sum,
                  const std::vector<std::string>& columns) {
  if (sum.tally.ok == 0) return;
  char line[256];
  std::snprintf(line, sizeof line, "  %-16s %14s %14s %14s\n", "column", "min", "mean", "max");
  os << line;
  for (std::size_t j = 0; j < sum.sum.size() && j < columns.size(); ++j) {
    std::snprintf(line, sizeof line, "  %-16s %14.6g %14.6g %14.6g\n", columns[j].c_str(),
                  sum.min[j], sum.sum[j] / static_cast<double>(sum.tally.ok), sum.max[j]);
    os << line;
  }
}

void print_run(std::ostream& os, const h5::Group& g) {
  const auto a = [&](const char* name) { return h5::attr_text(g.get(), name); };
  if (!g.has_attr("wall_seconds")) {
    os << "  run: not finished (no end-of-run record: interrupted or still running)\n";
    return;
  }
  os << "  run: wall " << a("wall_seconds") << " s, " << a("items_per_second")
     << " items/s, efficiency " << a("parallel_efficiency") << ", imbalance " << a("load_imbalance")
     << ", write " << a("write_seconds") << " s\n";
  // The truth about a stop, whatever a launcher returned.
  const std::string stop = a("stop_reason");
  if (stop == "signal" || stop == "deadline") {
    os << "  stop_reason=" << stop << ": interrupted: finish with --resume\n";
  } else if (stop != "none" && stop != "-") {
    os << "  stop_reason=" << stop << ": stopped early\n";
  }
}

void print_errors(std::ostream& os, const h5::Group& g) {
  const auto errors = read_errors_table(g);
  if (errors.empty()) return;
  os << "  errors (" << errors.size() << "):\n";
  for (std::size_t i = 0; i < errors.size() && i < 5; ++i) {
    os << "    item " << errors[i].item << ": " << errors[i].message << "\n";
  }
}

/// The items' fields (/compute/params): where they come from, each one's type and range over
/// the rows that ran.
void print_fields(std::ostream& os, const h5::Group& g, const ComputeColumns& cols) {
  const ParamColumns params(g.get(), cols.rows());
  const auto& fields = params.fields();
  if (fields.empty()) return;
  std::string source;
  for (const auto& [key, value] : read_param_attributes(g.get())) {
    if (key == "grid" || key == "table") source = key + " " + value;
    if (key == "table_fnv") source += " (fnv " + value + ")";
  }
  os << "  fields: " << fields.size() << (source.empty() ? "" : ", from " + source) << "\n";
  const std::size_t k = fields.size();
  std::vector<double> lo(k, std::numeric_limits<double>::infinity()), hi(k, -lo[0]);
  std::vector<std::int8_t> s;
  FieldBlock b;
  for (std::uint64_t at = 0; at < cols.rows(); at += kMaxChunk) {
    const auto n = std::min<std::uint64_t>(kMaxChunk, cols.rows() - at);
    cols[ComputeColumn::Status].read(H5T_NATIVE_INT8, at, n, 0, s);
    params.read(at, n, b);
    for (std::uint64_t r = 0; r < n; ++r) {
      if (s[r] < 0) continue;  // not run: its params were never written
      const Fields f(&fields, b.values.data() + r * k);
      for (std::size_t j = 0; j < k; ++j) {
        if (fields[j].type == FieldType::String) continue;
        lo[j] = std::min(lo[j], f.as_double(j));
        hi[j] = std::max(hi[j], f.as_double(j));
      }
    }
  }
  char line[256];
  for (std::size_t j = 0; j < k; ++j) {
    const std::string type(to_string(fields[j].type));
    if (fields[j].type == FieldType::String) {
      std::snprintf(line, sizeof line, "    %-16s %-8s %zu bytes\n", fields[j].name.c_str(),
                    type.c_str(), fields[j].width);
    } else if (lo[j] <= hi[j]) {
      std::snprintf(line, sizeof line, "    %-16s %-8s %g .. %g\n", fields[j].name.c_str(),
                    type.c_str(), lo[j], hi[j]);
    } else {
      std::snprintf(line, sizeof line, "    %-16s %-8s\n", fields[j].name.c_str(), type.c_str());
    }
    os << line;
  }
}

void print_compute(std::ostream& os, const h5::Group& g) {
  const auto a = [&](const char* name) { return h5::attr_text(g.get(), name); };
  os << "compute: kernel " << a("kernel") << ", args " << a("args") << "\n  space " << a("space")
     << ", schedule " << a("schedule") << ", chunk "
     << (a("chunk") == "0" ? std::string("auto") : a("chunk")) << "\n";
  const auto columns = h5::read_attr_strings(g.get(), "columns");
  const ComputeColumns cols(g);
  if (columns.size() != cols.width()) throw RuntimeError("attribute columns does not match value");
  const ComputeSummary sum = summarize_rows(cols);
  const StatusTally& c = sum.tally;
  os << "  status: " << cols.rows() << " items: " << c.ok << " ok, " << c.failed << " failed, "
     << c.timed_out << " timed out, " << c.not_run << " not run\n";
  print_fields(os, g, cols);
  print_values(os, sum, columns);
  const double ran = static_cast<double>(c.ran());
  os << format("  item seconds: total %.3f, mean %.6f, max %.6f\n", sum.seconds_sum,
               ran > 0 ? sum.seconds_sum / ran : 0.0, sum.seconds_max);
  print_run(os, g);
  print_errors(os, g);
}

/// Verdicts of /urls, the requests made and the slowest URL.
struct UrlSummary {
  UrlTally tally;
  std::uint64_t not_checked = 0, requests = 0;
  double slowest = 0;
};

UrlSummary summarize_urls(const detail::UrlDatasets& d) {
  UrlSummary sum;
  std::vector<std::int8_t> v;
  std::vector<std::int32_t> a;
  std::vector<double> t;
  for (std::uint64_t b = 0; b < d.rows(); b += kMaxChunk) {
    const auto n = std::min<std::uint64_t>(kMaxChunk, d.rows() - b);
    d[detail::UrlColumn::Verdict].read(H5T_NATIVE_INT8, b, n, 0, v);
    d[detail::UrlColumn::Attempts].read(H5T_NATIVE_INT32, b, n, 0, a);
    d[detail::UrlColumn::Seconds].read(H5T_NATIVE_DOUBLE, b, n, 0, t);
    for (std::uint64_t i = 0; i < n; ++i) {
      if (v[i] < 0 || v[i] > 2) {
        ++sum.not_checked;
        continue;
      }
      sum.tally.count(v[i]);
      sum.requests += static_cast<std::uint64_t>(std::max(a[i], 0));
      sum.slowest = std::max(sum.slowest, t[i]);
    }
  }
  return sum;
}

/// Finished when every URL of the shard (of the list) is checked for good; files of older
/// versions, without `checked`, by their final wall time.
void print_url_run(std::ostream& os, const h5::Group& g) {
  const auto int_attr = [&](const char* name) -> std::int64_t {
    return g.has_attr(name) ? h5::read_attr_int(g.get(), name) : -1;
  };
  const std::int64_t checked = int_attr("checked");
  const std::int64_t shard_urls = int_attr("shard_urls");
  if (int_attr("shard_count") > 1) {
    os << "  shard " << int_attr("shard_index") << "/" << int_attr("shard_count") << ": "
       << shard_urls << " of the list's " << int_attr("urls") << " URLs"
       << (g.has(detail::kUrlListRowColumn.name) ? ", only these in the file (/urls/row: their "
                                                   "rows in the list)"
                                                 : "")
       << "\n";
  }
  if (g.has("blocks")) {
    os << "  blocks: " << h5::Dataset::open(g.get(), "blocks").dims().at(0)
       << " (which task checked which block: /urls/blocks)\n";
  }
  if (g.has_attr("merged_from")) os << "  merged from " << int_attr("merged_from") << " shards\n";
  const bool finished = shard_urls >= 0 ? checked >= shard_urls : g.has_attr("wall_seconds");
  if (!finished) {
    os << "  run: not finished (" << std::max<std::int64_t>(checked, 0) << " of " << shard_urls
       << " URLs checked; interrupted, killed or still running): "
       << "pmap urls ... --resume completes it\n";
    return;
  }
  os << "  run: finished";
  if (g.has_attr("wall_seconds")) {
    os << ", wall " << h5::attr_text(g.get(), "wall_seconds") << " s, "
       << h5::attr_text(g.get(), "urls_per_second") << " URLs/s";
  }
  os << "\n";
}

void print_urls(std::ostream& os, const h5::File& f) {
  const h5::Group g = f.group("urls");
  const detail::UrlDatasets d(f.get());
  const UrlSummary sum = summarize_urls(d);
  const UrlTally& t = sum.tally;
  const auto a = [&](const char* name) { return h5::attr_text(g.get(), name); };
  os << "urls: " << d.rows() << " URLs from " << a("input") << " (timeout " << a("timeout")
     << " s, " << a("threads") << " threads, per host " << a("per_host") << ")\n";
  os << "  verdicts: " << t.exists << " exists, " << t.does_not_exist << " does not exist, "
     << t.unknown << " unknown, " << sum.not_checked << " not checked\n";
  os << format("  requests: %.0f, slowest URL %.3f s\n", static_cast<double>(sum.requests),
               sum.slowest);
  print_url_run(os, g);
}

}  // namespace

std::string inspect(const std::string& path) {
  return read_results(path, kUse, [&] {
    const ResultsFile r = open_results_file(path, kUse, " (give a results file written by pmap)");
    const h5::File& f = r.file;
    const auto a = [&](const char* name) { return h5::attr_text(f.get(), name); };
    std::ostringstream os;
    os << path << ": pmap results, schema " << r.schema << ", written by pmap " << a("pmap_version")
       << " on " << a("created") << "\n";
    os << "  command: " << a("command") << "\n";
    if (a("mpi_ranks") == "0") {  // pmap merge and elastic jobs: the parts ran in many layouts
      os << "  layout:  merged from shards or blocks (each ran in its own layout)\n";
    } else {
      os << "  layout:  " << a("mpi_ranks") << " ranks x " << a("omp_threads") << " threads\n";
    }
    if (r.compute) print_compute(os, f.group("compute"));
    if (r.urls) print_urls(os, f);
    return os.str();
  });
}

}  // namespace pmap
