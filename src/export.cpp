#include "pmap/export.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "pmap/columns.hpp"
#include "pmap/params.hpp"
#include "pmap/results_file.hpp"

namespace pmap {
namespace {

constexpr const char* kUse = "export";
constexpr std::uint64_t kBlock = 4096;

std::string number(double v) {
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

const char* status_name(std::int8_t s) {
  switch (s) {
    case 0:
      return "ok";
    case 1:
      return "failed";
    case 2:
      return "timed_out";
    default:
      return "not_run";
  }
}

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (const char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

/// One row of the table, as read.
struct Row {
  std::uint64_t row = 0;
  std::int64_t item = 0;
  Fields fields;
  const double* values = nullptr;
  std::int8_t status = -1;
  const std::string* error = nullptr;
};

/// Writes rows in one format; value columns named like a field or a fixed column get "value.".
class Writer {
 public:
  Writer(ExportFormat format, std::ostream& out, const std::vector<FieldSpec>& fields,
         const std::vector<std::string>& columns)
      : format_(format), out_(out) {
    std::vector<std::string> taken{"item", "status", "error"};
    for (const auto& f : fields) taken.push_back(f.name);
    for (const auto& c : columns) {
      const bool clash = std::find(taken.begin(), taken.end(), c) != taken.end();
      names_.push_back(clash ? "value." + c : c);
    }
    if (format_ != ExportFormat::Csv) return;
    out_ << "item";
    for (const auto& f : fields) out_ << ',' << f.name;
    for (const auto& n : names_) out_ << ',' << csv_cell(n);
    out_ << ",status,error\n";
  }

  /// Print only: how many rows did not run (another shard's, or cut short), said once.
  void finish() {
    if (format_ == ExportFormat::Print && not_run_ > 0) {
      out_ << "(" << not_run_ << (not_run_ == 1 ? " item" : " items") << " not run)\n";
    }
  }

  void put(const Row& r) {
    if (format_ == ExportFormat::Csv) return csv(r);
    if (format_ == ExportFormat::Jsonl) return jsonl(r);
    print(r);
  }

 private:
  bool ok(const Row& r) const { return r.status == 0; }
  /// A row that never ran has no item value or fields in the file: they are left empty.
  bool ran(const Row& r) const { return r.status >= 0; }

  void csv(const Row& r) {
    if (ran(r)) out_ << r.item;
    for (std::size_t j = 0; j < r.fields.size(); ++j) {
      out_ << ',' << (ran(r) ? csv_cell(r.fields.text(j)) : std::string());
    }
    for (std::size_t j = 0; j < names_.size(); ++j) {
      out_ << ',';
      if (ok(r)) out_ << number(r.values[j]);
    }
    out_ << ',' << status_name(r.status) << ',' << (r.error ? csv_cell(*r.error) : "") << '\n';
  }

  void jsonl(const Row& r) {
    nlohmann::ordered_json j;
    j["item"] = ran(r) ? nlohmann::ordered_json(r.item) : nlohmann::ordered_json(nullptr);
    for (std::size_t f = 0; f < r.fields.size(); ++f) {
      const FieldValue& v = r.fields.value(f);
      const FieldType t = r.fields.spec(f).type;
      auto& slot = j[r.fields.spec(f).name];
      if (!ran(r)) continue;  // null
      if (t == FieldType::Int) slot = v.i;
      if (t == FieldType::Float) slot = v.f;
      if (t == FieldType::String) slot = std::string(v.s);
    }
    for (std::size_t c = 0; c < names_.size(); ++c) {
      if (ok(r) && std::isfinite(r.values[c])) {
        j[names_[c]] = r.values[c];
      } else {
        j[names_[c]] = nullptr;
      }
    }
    j["status"] = status_name(r.status);
    if (r.error) j["error"] = *r.error;
    out_ << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
  }

  void print(const Row& r) {
    if (!ran(r)) {
      ++not_run_;
      return;
    }
    std::string line;
    for (std::size_t j = 0; j < r.fields.size(); ++j) {
      if (j > 0) line += ' ';
      line += r.fields.spec(j).name;
      line += '=';
      line += r.fields.text(j);
    }
    if (r.fields.empty()) line = std::to_string(r.item);
    line += " -> ";
    if (ok(r)) {
      line += "(";
      for (std::size_t j = 0; j < names_.size(); ++j) {
        if (j > 0) line += ", ";
        line += number(r.values[j]);
      }
      line += ")";
    } else {
      line += status_name(r.status);
      if (r.error) line += ": " + *r.error;
    }
    out_ << line << '\n';
  }

  ExportFormat format_;
  std::ostream& out_;
  std::vector<std::string> names_;
  std::uint64_t not_run_ = 0;
};

std::uint64_t export_compute(const ResultsFile& f, const std::string& path, ExportFormat format,
                             std::ostream& out) {
  if (!f.compute) {
    throw UsageError(std::string(kUse) + " " + path +
                     ": a pmap results file without a /compute stage; give the file of a "
                     "`pmap run`");
  }
  const h5::Group g = f.file.group("compute");
  const ComputeColumns cols(g);
  const ParamColumns params(g.get(), cols.rows());
  const auto columns = h5::read_attr_strings(g.get(), "columns");
  std::map<std::int64_t, std::string> errors;
  for (auto& e : read_errors_table(g)) errors[e.item] = std::move(e.message);
  Writer w(format, out, params.fields(), columns);
  const std::size_t k = cols.width();
  const std::size_t nf = params.fields().size();
  std::vector<std::int64_t> item;
  std::vector<double> value;
  std::vector<std::int8_t> status;
  FieldBlock fb;
  for (std::uint64_t b = 0; b < cols.rows(); b += kBlock) {
    const auto n = std::min(kBlock, cols.rows() - b);
    cols[ComputeColumn::Item].read(H5T_NATIVE_INT64, b, n, 0, item);
    cols[ComputeColumn::Value].read(H5T_NATIVE_DOUBLE, b, n, k, value);
    cols[ComputeColumn::Status].read(H5T_NATIVE_INT8, b, n, 0, status);
    if (nf > 0) params.read(b, n, fb);
    for (std::uint64_t r = 0; r < n; ++r) {
      Row row{b + r,
              item[r],
              nf ? Fields(&params.fields(), fb.values.data() + r * nf) : Fields(),
              value.data() + r * k,
              status[r],
              nullptr};
      if (row.status == 1 || row.status == 2) {
        const auto it = errors.find(row.item);
        if (it != errors.end()) row.error = &it->second;
      }
      w.put(row);
    }
  }
  w.finish();
  return cols.rows();
}

}  // namespace

std::uint64_t export_results(const std::string& path, ExportFormat format, std::ostream& out) {
  const ResultsFile f = open_results_file(path, kUse, "; give a results file of `pmap run`");
  return read_results(path, kUse, [&] { return export_compute(f, path, format, out); });
}

}  // namespace pmap
