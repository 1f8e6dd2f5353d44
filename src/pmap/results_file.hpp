// pmap — opening a results file someone gives us (inspect, --resume, merge, --append) and
// knowing what it is; the root attributes every new file gets.
//
// A file given to pmap may be anything: missing, not HDF5, another program's HDF5, a pmap file of
// another schema, or damaged (truncated, bytes flipped). Every one of those is bad input:
// UsageError (exit 2) naming the file and what to do, never a crash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pmap/error.hpp"
#include "pmap/h5.hpp"
#include "pmap/results.hpp"

namespace pmap {

/// Oldest schema this pmap reads (1: variable-length strings; 2: fixed-length strings).
inline constexpr std::int64_t kOldestReadableSchema = 1;

/// An open pmap results file and what it holds.
struct ResultsFile {
  h5::File file;
  std::int64_t schema = 0;
  bool compute = false;  ///< has /compute
  bool urls = false;     ///< has /urls
};

/// Opens the pmap results file `path` for `use` (what reads it, as messages start:
/// "inspect", "resume", "merge"), after checking that it exists, is HDF5, opens, and carries a
/// schema this pmap reads. `hint` ends each message (what to do instead). Throws UsageError.
ResultsFile open_results_file(const std::string& path, std::string_view use,
                              const std::string& hint, h5::Access access = h5::Access::ReadOnly);

/// Runs `read` (which reads `path`) and turns an HDF5 failure into UsageError: a results file
/// that cannot be read as pmap wrote it is damaged input, not a failure of the run.
template <typename F>
auto read_results(const std::string& path, std::string_view use, F&& read) {
  try {
    return read();
  } catch (const RuntimeError& e) {
    throw UsageError(std::string(use) + " " + path +
                     ": damaged or not written by pmap, cannot be read (" + e.what() +
                     "); give an intact results file");
  }
}

/// Attributes of the root of a new results file (one place for all of them).
Attrs root_attributes(const std::string& command, int ranks, int threads);

}  // namespace pmap
