// pmap — `pmap inspect FILE.h5`: a summary of a results file.
#pragma once

#include <string>

namespace pmap {

/// The human summary printed by `pmap inspect` (counts by status, value summary per column,
/// timings, configuration, the URL stage if present). Throws UsageError for a missing file, one
/// that is not a pmap results file, or a damaged one.
std::string inspect(const std::string& path);

}  // namespace pmap
