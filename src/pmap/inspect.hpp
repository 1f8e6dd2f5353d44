// pmap — `pmap inspect FILE.h5`: a summary of a results file.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace pmap {

/// Counts of /compute/status read back from a results file.
struct StatusCounts {
  std::uint64_t ok = 0, failed = 0, timed_out = 0, not_run = 0;
};

/// Reads /compute/status in bounded blocks; throws UsageError when the file is not pmap's.
StatusCounts count_status(const std::string& path);

/// The human summary printed by `pmap inspect` (counts by status, value summary per column,
/// timings, configuration, the URL stage if present). Throws UsageError for a missing file or
/// one that is not a pmap results file.
std::string inspect(const std::string& path);

}  // namespace pmap
