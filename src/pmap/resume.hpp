// pmap — reading a results file back for --resume and for checks: what is left to run, and
// file-wide totals.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pmap/partition.hpp"
#include "pmap/results.hpp"
#include "pmap/tally.hpp"

namespace pmap {

/// What --resume found in an existing results file.
struct ResumePlan {
  RowSet todo;                           ///< rows to run (status -1; with retry_failed also 1, 2)
  std::vector<ErrorRecord> kept_errors;  ///< errors of rows that are not run again
  std::int64_t runs = 1;                 ///< runs recorded so far in the file
};

/// Rank 0: checks that `path` holds the same job as `expected` (every attribute named in
/// `identity`) and lists the rows of `window` still to run. Throws UsageError naming the first
/// difference, or when the file is missing or not pmap's.
ResumePlan plan_resume(const std::string& path, const Attrs& expected,
                       const std::vector<std::string>& identity, bool retry_failed, Chunk window);

/// `use` starts the messages about a file that cannot be read ("--resume", "merge:").
/// Rank 0: counts by status and the order-independent checksum of the ok rows of `window`,
/// streaming /compute/status and /compute/value in bounded blocks.
StatusTally scan_results(const std::string& path, Chunk window, std::string_view use = "--resume");

/// /compute/status at the given rows (any order), read with one point selection.
std::vector<std::int8_t> status_at(const std::string& path, const std::vector<std::uint64_t>& rows);

/// All rows of /compute/errors (empty when the table does not exist yet).
std::vector<ErrorRecord> read_errors(const std::string& path, std::string_view use = "--resume");

}  // namespace pmap
