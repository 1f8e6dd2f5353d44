// pmap — tables: an input file with a header line (CSV, TSV) or JSON Lines, whose columns become
// the items' fields. The file is read once to check it, infer each column's type and index it;
// afterwards rows are parsed on demand, a block at a time, so a table of 10^7 rows costs each
// rank its index (16 bytes per 1,024 rows) and the block it is working on, never the file.
//
//   job.space = pmap::ItemSpace(pmap::open_table("cases.csv", pmap::TableFormat::Auto, {}));
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pmap/fields.hpp"

namespace pmap {

/// How an input file is read.
enum class TableFormat { Auto, Lines, Csv, Tsv, Jsonl };

/// Parses --format ("csv", "tsv", "jsonl", "lines"; "" is Auto); throws UsageError otherwise.
TableFormat parse_table_format(std::string_view text);

/// The format of `path`: `format` unless Auto, else by extension (.csv, .tsv/.tab, .jsonl/
/// .ndjson); anything else is Lines (one item a line, as pmap always read --input).
TableFormat resolve_table_format(const std::string& path, TableFormat format);

/// Opens the table `path` (Csv, Tsv or Jsonl), with column types forced by "NAME:int|float|string"
/// entries. Throws UsageError ("input FILE:LINE:COLUMN: ...") for a ragged row, a value not of
/// its column's type, a duplicate or invalid name, a missing header or no rows.
std::shared_ptr<const FieldSource> open_table(const std::string& path, TableFormat format,
                                              const std::vector<std::string>& forced);

}  // namespace pmap
