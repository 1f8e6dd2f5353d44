#include "pmap/table.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "detail/child_process.hpp"
#include "detail/fnv.hpp"
#include "detail/record_parser.hpp"
#include "detail/text.hpp"
#include "pmap/error.hpp"

namespace pmap {
namespace {

constexpr std::uint64_t kIndexEvery = 1024;   // rows between two index entries
constexpr std::size_t kReadBytes = 1U << 20;  // the scan's read size

/// FNV-1a 64 fed 8 bytes at a time (the scan hashes every byte of a table that may be GBs):
/// the table's fingerprint, compared only with itself.
class WordHash {
 public:
  void add(const char* p, std::size_t n) noexcept {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::uint64_t w = 0;
      std::memcpy(&w, p + i, 8);
      mix(w);
    }
    for (; i < n; ++i) mix(static_cast<unsigned char>(p[i]));
  }
  [[nodiscard]] std::string hex() const {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
    return buf;
  }

 private:
  void mix(std::uint64_t w) noexcept {
    h_ ^= w;
    h_ *= 0x100000001b3ULL;
  }
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

/// Where row i * kIndexEvery starts.
struct IndexEntry {
  std::uint64_t offset = 0;
  std::uint64_t line = 1;
};

bool parse_int(std::string_view s, std::int64_t& v) {
  if (s.starts_with('+')) s.remove_prefix(1);
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

bool parse_float(std::string_view s, double& v) {
  if (s.starts_with('+')) s.remove_prefix(1);
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size() && std::isfinite(v);
}

/// Digits with an optional sign: an integer however wide.
bool integer_syntax(std::string_view s) {
  if (s.starts_with('+') || s.starts_with('-')) s.remove_prefix(1);
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

/// The table file, opened read-only (close-on-exec: exec kernels never inherit it).
/// Not blocking on a FIFO without a writer: a table must be a regular file, it is read twice.
detail::Fd open_table_file(const std::string& path) {
  detail::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    throw UsageError::cannot_open("input", path, std::strerror(errno),
                                  "; give a readable table (CSV, TSV or JSON Lines)");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw UsageError("input", path,
                     std::string(S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file") +
                         ": a table is read more than once (checked, then rows on demand); give "
                         "a file (save a pipe's output to one first)");
  }
  return fd;
}

/// What the scan learns about one column.
struct ColumnScan {
  bool ints = true, numbers = true;    // every value so far parses as one
  bool seen = false, strings = false;  // JSON: whether values came, and of which kind
  std::optional<FieldType> forced;
  std::size_t width = 0;
};

/// A cell as it reaches a column: text (CSV) or a JSON value.
struct Cell {
  std::string_view text;
  const nlohmann::ordered_json* json = nullptr;
  std::uint64_t column = 1;
};

/// The table: its fields, an index every kIndexEvery rows, rows parsed on demand.
class Table final : public FieldSource {
 public:
  Table(std::string path, TableFormat format, const std::vector<std::string>& forced)
      : path_(std::move(path)), format_(format), fd_(open_table_file(path_)) {
    scan(forced);
  }

  [[nodiscard]] const std::vector<FieldSpec>& fields() const noexcept override { return specs_; }
  [[nodiscard]] std::uint64_t size() const noexcept override { return rows_; }

  void read(std::uint64_t begin, std::uint64_t count, FieldBlock& out) const override {
    const std::size_t k = specs_.size();
    out.values.assign(count * k, FieldValue{});
    out.item.assign(count, 0);
    out.text.clear();
    if (count == 0) return;
    std::vector<std::pair<std::size_t, std::size_t>> strings;  // (value index, text offset)
    std::string scratch;
    std::uint64_t row = 0;
    const auto take = [&](std::uint64_t line, const std::vector<Cell>& cells) {
      out.item[row] = static_cast<std::int64_t>(line);
      for (std::size_t j = 0; j < k; ++j) {
        FieldValue& v = out.values[row * k + j];
        convert(j, line, cells[j], v, scratch);
        // A CSV/TSV number keeps its spelling too: {id} of "007" or "1.50" is what the table
        // says, not the typed value's shortest form (7, 1.5).
        if (specs_[j].type != FieldType::String && cells[j].json == nullptr) v.s = cells[j].text;
        if (!v.s.empty()) {
          strings.emplace_back(row * k + j, out.text.size());
          out.text.append(v.s);
        }
      }
      ++row;
    };
    rows_from(begin, count, take);
    if (row != count) throw RuntimeError("input", path_, "changed while the job ran");
    for (std::size_t s = 0; s < strings.size(); ++s) {  // the text no longer moves
      auto& v = out.values[strings[s].first];
      v.s = std::string_view(out.text).substr(strings[s].second, v.s.size());
    }
  }

  [[nodiscard]] std::optional<std::uint64_t> row_of(std::int64_t item) const override {
    const auto line = static_cast<std::uint64_t>(item);
    const auto it =
        std::upper_bound(index_.begin(), index_.end(), line,
                         [](std::uint64_t l, const IndexEntry& e) { return l < e.line; });
    if (it == index_.begin() || item < 1) return std::nullopt;
    const std::uint64_t first = static_cast<std::uint64_t>(it - index_.begin() - 1) * kIndexEvery;
    const std::uint64_t n = std::min(kIndexEvery, rows_ - first);
    std::optional<std::uint64_t> found;
    std::uint64_t r = first;
    rows_from(first, n, [&](std::uint64_t l, const std::vector<Cell>&) {
      if (l == line) found = r;
      ++r;
    });
    return found;
  }

  [[nodiscard]] std::string_view kind() const noexcept override { return "table"; }
  [[nodiscard]] std::string fingerprint() const override {
    detail::Fnv1a64 h;
    h.add(fnv_);
    for (const auto& f : specs_) {
      h.add(f.name);
      h.add(to_string(f.type));
    }
    return h.hex();
  }
  [[nodiscard]] std::string describe() const override {
    std::string cols;
    for (const auto& f : specs_)
      cols += (cols.empty() ? "" : ", ") + f.name + " " + std::string(to_string(f.type));
    return "table " + path_ + " (" + std::to_string(rows_) + " items: " + cols + ")";
  }
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> attributes() const override {
    return {{"kind", "table"},
            {"table", path_},
            {"table_fnv", fnv_},
            {"format", format_ == TableFormat::Csv   ? "csv"
                       : format_ == TableFormat::Tsv ? "tsv"
                                                     : "jsonl"},
            {"rows", std::to_string(rows_)}};
  }

 private:
  [[noreturn]] void fail(std::uint64_t line, std::uint64_t column, const std::string& why) const {
    throw UsageError("input", path_ + ":" + std::to_string(line) + ":" + std::to_string(column),
                     why);
  }

  // --- the scan: header, types, widths, index, fingerprint ---------------------------------

  void scan(const std::vector<std::string>& forced) {
    WordHash h;
    std::vector<ColumnScan> cols;
    std::uint64_t rows = 0;
    bool header = true;
    const auto on_row = [&](std::uint64_t offset, std::uint64_t line,
                            const std::vector<Cell>& cells, bool is_header) {
      if (is_header) {  // the header's cells are the fields' names
        header = false;
        for (const Cell& c : cells) add_name(std::string(trim(c.text)), line, c.column);
        cols.resize(specs_.size());
        force_types(forced, cols);
        return true;
      }
      if (rows % kIndexEvery == 0) index_.push_back({offset, line});
      for (std::size_t j = 0; j < cells.size(); ++j) observe(cols[j], j, line, cells[j]);
      ++rows;
      return true;
    };
    each_record(0, 1, nullptr, &h, on_row);
    if (header) fail(1, 1, "empty: a table needs a header line naming its columns");
    if (rows == 0) fail(1, 1, "has a header but no rows");
    rows_ = rows;
    fnv_ = h.hex();
    for (std::size_t j = 0; j < specs_.size(); ++j) {
      const ColumnScan& c = cols[j];
      specs_[j].type = c.forced                  ? *c.forced
                       : c.strings || !c.numbers ? FieldType::String
                       : c.ints                  ? FieldType::Int
                                                 : FieldType::Float;
      specs_[j].width = specs_[j].type == FieldType::String ? std::max<std::size_t>(c.width, 1) : 0;
    }
  }

  void force_types(const std::vector<std::string>& forced, std::vector<ColumnScan>& cols) {
    for (const auto& f : forced) {
      const auto colon = f.find(':');
      const std::string name = f.substr(0, colon);
      const std::string type = colon == std::string::npos ? "" : f.substr(colon + 1);
      std::optional<FieldType> t;
      if (type == "int" || type == "int64") t = FieldType::Int;
      if (type == "float" || type == "float64" || type == "double") t = FieldType::Float;
      if (type == "string" || type == "str") t = FieldType::String;
      if (!t) throw UsageError("field", f, "expected NAME:int, NAME:float or NAME:string");
      std::size_t j = 0;
      while (j < specs_.size() && specs_[j].name != name) ++j;
      if (j == specs_.size()) {
        throw UsageError("field", f, "the table " + path_ + " has no column " + name);
      }
      cols[j].forced = t;
    }
  }

  /// Folds one cell into its column's type and width; a forced type must fit, and a JSON column
  /// must not mix numbers and strings.
  void observe(ColumnScan& c, std::size_t j, std::uint64_t line, const Cell& cell) const {
    std::int64_t i = 0;
    double d = 0;
    bool is_int = false, is_num = false, is_str = true;
    std::string json_text;  // JSON only: the value as text (CSV cells are text already)
    std::string_view text = cell.text;
    if (cell.json != nullptr) {
      const auto& v = *cell.json;
      is_int = v.is_number_integer();
      is_num = v.is_number();
      is_str = v.is_string();
      json_text = is_str ? v.get<std::string>() : v.dump();
      text = json_text;
      if (!is_num && !is_str) {
        fail(line, cell.column,
             "column " + specs_[j].name + ": " + json_text + " is neither a number nor a string");
      }
      if (c.seen && is_str != c.strings && c.forced != FieldType::String) {
        fail(line, cell.column,
             "column " + specs_[j].name + ": " + detail::printable_utf8(v.dump(), 80) +
                 " is not of the column's type (" + (c.strings ? "strings" : "numbers") +
                 " above)");
      }
      c.strings = is_str;
    } else {
      // Parse only while the column may still be of that type (or must be): most cells of a
      // string column are then never parsed at all.
      is_int = (c.ints || c.forced == FieldType::Int) && parse_int(cell.text, i);
      // An integer too wide for int64 (a 20-digit id) is text: as a float it would lose digits.
      if (!is_int && (c.numbers || c.forced == FieldType::Float)) {
        const bool wide_int = c.forced != FieldType::Float && integer_syntax(cell.text);
        is_num = wide_int ? parse_int(cell.text, i) : parse_float(cell.text, d);
      }
      is_num = is_num || is_int;
      is_str = !is_num;
    }
    c.seen = true;
    c.ints = c.ints && is_int;
    c.numbers = c.numbers && is_num;
    const auto bad = [&](const char* what, const char* type) {
      fail(line, cell.column,
           "column " + specs_[j].name + ": '" + detail::printable_utf8(text, 80) + "' is not " +
               what + " (--field " + specs_[j].name + ":" + type + ")");
    };
    if (c.forced == FieldType::Int && !is_int) bad("an integer", "int");
    if (c.forced == FieldType::Float && !is_num) bad("a number", "float");
    c.width = std::max(c.width, text.size());
  }

  // --- records: CSV/TSV through RecordParser, JSON Lines a line at a time --------------------

  /// Calls on_row(offset, line, cells, is_header) for each record of bytes [offset, end) of the
  /// file (header first when offset is 0), checking the shape; `h` gets every byte when given.
  template <typename F>
  void each_record(std::uint64_t offset, std::uint64_t line, const std::uint64_t* end, WordHash* h,
                   F&& on_row) const {
    if (format_ == TableFormat::Jsonl) return each_json(offset, line, end, h, on_row);
    std::vector<Cell> cells;
    std::string buf(kReadBytes, '\0');
    std::uint64_t at = offset;
    detail::RecordParser parser(format_ == TableFormat::Tsv ? '\t' : ',', offset, line);
    bool done = false;
    bool need_header = specs_.empty();
    const auto on_record = [&](const detail::Record& r) {
      if (done) return;
      if (r.open_quote) fail(r.line, 1, "a quoted field is not closed before the end of the file");
      cells.clear();
      for (const auto& f : r.fields) cells.push_back({f.text, nullptr, f.column});
      if (need_header) {  // the scan, once: the header names the fields
        need_header = false;
        done = !on_row(r.offset, r.line, cells, true);
        return;
      }
      if (r.fields.size() != specs_.size()) {
        fail(r.line,
             r.fields.size() > specs_.size() ? r.fields[specs_.size()].column
                                             : r.fields.back().column,
             "ragged row: " + std::to_string(r.fields.size()) + " fields, the header has " +
                 std::to_string(specs_.size()));
      }
      done = !on_row(r.offset, r.line, cells, false);
    };
    while (!done && (end == nullptr || at < *end)) {
      const std::size_t n = read_at(at, end, buf.data());
      if (n == 0) break;
      std::size_t skip = 0;
      if (at == 0 && n >= 3 && std::memcmp(buf.data(), "\xEF\xBB\xBF", 3) == 0) skip = 3;  // BOM
      if (h != nullptr) h->add(buf.data(), n);
      if (skip > 0) parser = detail::RecordParser(format_ == TableFormat::Tsv ? '\t' : ',', 3, 1);
      parser.feed(buf.data() + skip, n - skip, on_record);
      at += n;
    }
    if (!done) parser.finish(on_record);
  }

  /// Reads up to kReadBytes at `at` (not past *end) into `buf`; 0 at the end of the file.
  std::size_t read_at(std::uint64_t at, const std::uint64_t* end, char* buf) const {
    const std::size_t want =
        end == nullptr ? kReadBytes
                       : static_cast<std::size_t>(std::min<std::uint64_t>(kReadBytes, *end - at));
    const ssize_t n = ::pread(fd_.get(), buf, want, static_cast<off_t>(at));
    if (n < 0) throw RuntimeError("input", path_, std::strerror(errno));
    return static_cast<std::size_t>(n);
  }

  void add_name(const std::string& name, std::uint64_t line, std::uint64_t column) {
    if (!valid_field_name(name)) {
      fail(line, column,
           "'" + detail::printable_utf8(name, 80) +
               "' is not a valid column name (a letter or _, then letters, digits, _; at most 64)");
    }
    for (const auto& s : specs_) {
      if (s.name == name) fail(line, column, "the column name " + name + " appears twice");
    }
    specs_.push_back({name, FieldType::String, 0});
  }

  template <typename F>
  void each_json(std::uint64_t offset, std::uint64_t line, const std::uint64_t* end, WordHash* h,
                 F&& on_row) const {
    std::string buf(kReadBytes, '\0');
    std::string pending;
    std::uint64_t at = offset, line_start = offset;
    std::vector<Cell> cells;
    bool done = false;
    const auto one_line = [&](std::string_view text) {
      const std::uint64_t this_line = line++;
      const std::uint64_t this_offset = line_start;
      line_start += text.size() + 1;
      if (done || trim(text).empty() || text == "\r") return;
      done = !json_row(text, this_offset, this_line, cells, on_row);
    };
    while (!done && (end == nullptr || at < *end)) {
      const std::size_t n = read_at(at, end, buf.data());
      if (n == 0) break;
      if (h != nullptr) h->add(buf.data(), n);
      pending.append(buf.data(), n);
      at += n;
      std::size_t from = 0;
      for (auto nl = pending.find('\n'); nl != std::string::npos && !done;
           nl = pending.find('\n', from)) {
        one_line(std::string_view(pending).substr(from, nl - from));
        from = nl + 1;
      }
      pending.erase(0, from);
    }
    if (!done && !pending.empty()) one_line(pending);
  }

  template <typename F>
  bool json_row(std::string_view text, std::uint64_t offset, std::uint64_t line,
                std::vector<Cell>& cells, F&& on_row) const {
    nlohmann::ordered_json obj;
    try {
      obj = nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      fail(line, e.byte, "not valid JSON (" + detail::printable_utf8(e.what(), 300) + ")");
    }
    if (!obj.is_object()) fail(line, 1, "each line must be a JSON object {\"name\": value, ...}");
    if (specs_.empty()) {  // the scan: the first object's keys name the fields
      if (obj.empty()) fail(line, 1, "the first object has no fields");
      cells.clear();
      for (const auto& [key, value] : obj.items())
        cells.push_back({key, nullptr, column_of(text, key)});
      if (!on_row(offset, line, cells, true)) return false;
    }
    cells.assign(specs_.size(), Cell{});
    for (std::size_t j = 0; j < specs_.size(); ++j) {
      const auto it = obj.find(specs_[j].name);
      if (it == obj.end())
        fail(line, 1, "ragged row: no field " + specs_[j].name + " (the first row has it)");
      cells[j] = {{}, &*it, column_of(text, specs_[j].name)};
    }
    if (obj.size() != specs_.size()) {
      for (const auto& member : obj.items()) {
        const std::string& key = member.key();  // not a structured binding: clang < 16 cannot
                                                // capture one in the lambda below
        if (std::none_of(specs_.begin(), specs_.end(),
                         [&](const FieldSpec& s) { return s.name == key; })) {
          fail(line, column_of(text, key),
               "ragged row: field " + detail::printable_utf8(key, 80) + " is not in the first row");
        }
      }
    }
    return on_row(offset, line, cells, false);
  }

  static std::uint64_t column_of(std::string_view text, const std::string& key) {
    const auto at = text.find("\"" + key + "\"");
    return at == std::string_view::npos ? 1 : at + 1;
  }

  /// Calls f(line, cells) for rows [first, first + count).
  template <typename F>
  void rows_from(std::uint64_t first, std::uint64_t count, F&& f) const {
    const std::uint64_t b0 = first / kIndexEvery;
    const std::uint64_t b1 = (first + count - 1) / kIndexEvery + 1;
    const std::uint64_t end = b1 < index_.size() ? index_[b1].offset : ~std::uint64_t{0};
    std::uint64_t row = b0 * kIndexEvery;
    each_record(
        index_[b0].offset, index_[b0].line, &end, nullptr,
        [&](std::uint64_t, std::uint64_t line, const std::vector<Cell>& cells, bool header) {
          if (header) return true;
          if (row >= first + count) return false;
          if (row++ >= first) f(line, cells);
          return true;
        });
  }

  /// A cell as its column's type (checked by the scan; a file changed since fails the run).
  void convert(std::size_t j, std::uint64_t line, const Cell& c, FieldValue& v,
               std::string& scratch) const {
    const FieldType t = specs_[j].type;
    if (c.json != nullptr) {
      if (t == FieldType::Int && c.json->is_number_integer())
        v.i = c.json->get<std::int64_t>();
      else if (t == FieldType::Float && c.json->is_number())
        v.f = c.json->get<double>();
      else if (t == FieldType::String) {
        scratch = c.json->is_string() ? c.json->get<std::string>() : c.json->dump();
        v.s = scratch;
      } else
        throw RuntimeError("input", path_ + ":" + std::to_string(line),
                           "changed while the job ran");
      return;
    }
    bool ok = true;
    if (t == FieldType::Int) ok = parse_int(c.text, v.i);
    if (t == FieldType::Float) ok = parse_float(c.text, v.f);
    if (t == FieldType::String) v.s = c.text;
    if (!ok)
      throw RuntimeError("input", path_ + ":" + std::to_string(line), "changed while the job ran");
  }

  std::string path_;
  TableFormat format_;
  detail::Fd fd_;
  std::vector<FieldSpec> specs_;
  std::vector<IndexEntry> index_;
  std::uint64_t rows_ = 0;
  std::string fnv_;
};

}  // namespace

TableFormat parse_table_format(std::string_view text) {
  if (text.empty() || text == "auto") return TableFormat::Auto;
  if (text == "csv") return TableFormat::Csv;
  if (text == "tsv") return TableFormat::Tsv;
  if (text == "jsonl" || text == "ndjson") return TableFormat::Jsonl;
  if (text == "lines") return TableFormat::Lines;
  throw UsageError("format", std::string(text), "expected csv, tsv, jsonl or lines");
}

TableFormat resolve_table_format(const std::string& path, TableFormat format) {
  if (format != TableFormat::Auto) return format;
  const auto dot = path.rfind('.');
  std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (ext == "csv") return TableFormat::Csv;
  if (ext == "tsv" || ext == "tab") return TableFormat::Tsv;
  if (ext == "jsonl" || ext == "ndjson") return TableFormat::Jsonl;
  return TableFormat::Lines;
}

std::shared_ptr<const FieldSource> open_table(const std::string& path, TableFormat format,
                                              const std::vector<std::string>& forced) {
  if (format == TableFormat::Auto || format == TableFormat::Lines) {
    throw UsageError("format", "lines", "a table is CSV, TSV or JSON Lines");
  }
  return std::make_shared<Table>(path, format, forced);
}

}  // namespace pmap
