// pmap — libFuzzer target: tables (--input .csv/.tsv/.jsonl) and grid specs (--grid).
//
// Input: a first byte choosing what to fuzz, then the bytes. Tables (CSV, TSV or JSON Lines,
// with or without a forced type): open_table either throws UsageError with a printable message
// or opens a table whose every field name is valid, whose rows read in one block equal the rows
// read one at a time and in blocks of 3, whose integer and float values are finite, whose
// string values fit the field's width, and whose line numbers map back to their rows. Grid
// specs (the bytes split at '\n' into specs): make_grid throws UsageError or gives a grid whose
// first and last rows read alone equal those read in a block.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "pmap/error.hpp"
#include "pmap/grid.hpp"
#include "pmap/table.hpp"

namespace {

using pmap::fuzz::escaped;

/// Rows [begin, begin + n) as text, one string a row.
std::vector<std::string> rows_of(const pmap::FieldSource& t, std::uint64_t begin, std::uint64_t n) {
  pmap::FieldBlock b;
  t.read(begin, n, b);
  const std::size_t k = t.fields().size();
  PMAP_FUZZ_CHECK(b.values.size() == n * k && b.item.size() == n, "block shape");
  std::vector<std::string> out;
  for (std::uint64_t r = 0; r < n; ++r) {
    const pmap::Fields f(&t.fields(), b.values.data() + r * k);
    std::string row = std::to_string(b.item[r]);
    for (std::size_t j = 0; j < k; ++j) {
      const auto& spec = t.fields()[j];
      if (spec.type == pmap::FieldType::Float) PMAP_FUZZ_CHECK(std::isfinite(f.value(j).f), row);
      if (spec.type == pmap::FieldType::String) {
        PMAP_FUZZ_CHECK(f.value(j).s.size() <= spec.width, escaped(f.value(j).s));
      }
      row += '\x1f' + f.text(j);
    }
    out.push_back(row);
  }
  return out;
}

void check_table(const std::string& path, pmap::TableFormat format,
                 const std::vector<std::string>& forced) {
  std::shared_ptr<const pmap::FieldSource> t;
  try {
    t = pmap::open_table(path, format, forced);
  } catch (const pmap::UsageError& e) {
    PMAP_FUZZ_CHECK(pmap::fuzz::printable_utf8_text(e.what()), escaped(e.what()));
    return;
  }
  PMAP_FUZZ_CHECK(t->size() > 0 && !t->fields().empty(), "an open table has rows and fields");
  for (const auto& f : t->fields()) PMAP_FUZZ_CHECK(pmap::valid_field_name(f.name), f.name);
  const auto all = rows_of(*t, 0, t->size());
  std::vector<std::string> by3;
  for (std::uint64_t at = 0; at < t->size(); at += 3) {
    const auto part = rows_of(*t, at, std::min<std::uint64_t>(3, t->size() - at));
    by3.insert(by3.end(), part.begin(), part.end());
  }
  PMAP_FUZZ_CHECK(by3 == all, "blocks of 3 differ from one block");
  for (std::uint64_t r = 0; r < t->size(); ++r) {
    PMAP_FUZZ_CHECK(rows_of(*t, r, 1).front() == all[r], escaped(all[r]));
    pmap::FieldBlock b;
    t->read(r, 1, b);
    PMAP_FUZZ_CHECK(t->row_of(b.item[0]) == r, "row_of(line) of row " + std::to_string(r));
  }
  PMAP_FUZZ_CHECK(t->fingerprint() == pmap::open_table(path, format, forced)->fingerprint(),
                  "fingerprint");
}

void check_grid(std::string_view text) {
  std::vector<std::string> specs;
  for (std::size_t from = 0; from <= text.size();) {
    const auto nl = text.find('\n', from);
    specs.emplace_back(text.substr(from, nl == std::string_view::npos ? text.npos : nl - from));
    if (nl == std::string_view::npos) break;
    from = nl + 1;
  }
  std::shared_ptr<const pmap::FieldSource> g;
  try {
    g = pmap::make_grid(specs);
  } catch (const pmap::UsageError& e) {
    PMAP_FUZZ_CHECK(pmap::fuzz::printable_utf8_text(e.what()), escaped(e.what()));
    return;
  }
  PMAP_FUZZ_CHECK(g->size() > 0, "an empty grid was accepted");
  const std::uint64_t n = std::min<std::uint64_t>(g->size(), 64);
  const auto block = rows_of(*g, 0, n);
  for (std::uint64_t r = 0; r < n; ++r) PMAP_FUZZ_CHECK(rows_of(*g, r, 1).front() == block[r], "");
  const auto last = rows_of(*g, g->size() - 1, 1);
  PMAP_FUZZ_CHECK(g->row_of(static_cast<std::int64_t>(g->size() - 1)) == g->size() - 1, "row_of");
  (void)last;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static pmap::fuzz::MemFile file;
  if (size == 0) return 0;
  const std::uint8_t mode = data[0] % 8;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (mode == 7) {
    check_grid(rest);
    return 0;
  }
  const pmap::TableFormat formats[] = {pmap::TableFormat::Csv, pmap::TableFormat::Tsv,
                                       pmap::TableFormat::Jsonl};
  std::vector<std::string> forced;
  if (mode >= 3 && mode < 6)
    forced = {"a:" + std::string(mode == 3 ? "int" : mode == 4 ? "float" : "string")};
  check_table(file.write(data + 1, size - 1), formats[mode % 3], forced);
  return 0;
}
