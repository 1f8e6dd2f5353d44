// pmap — a results file's /compute as one table (internal): item, fields, values, status and
// error in item order, for `pmap export` (CSV, JSON Lines) and `pmap run --print`. Read in blocks:
// memory stays flat whatever the number of rows.
//
//   export_results("pmap.h5", ExportFormat::Csv, std::cout);
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace pmap {

/// How export_results writes the table.
enum class ExportFormat { Csv, Jsonl, Print };

/// Writes /compute of the results file `path` to `out` (Print: "x=1 y=2 -> (1, 2)" lines, as the
/// tutorial prints its results); returns the rows written. UsageError for a file that is not a
/// readable pmap results file with a /compute stage.
std::uint64_t export_results(const std::string& path, ExportFormat format, std::ostream& out);

}  // namespace pmap
