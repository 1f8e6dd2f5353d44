// pmap — the results file (HDF5 schema v2): serial creation, parallel row writes, serial finalize.
//
// Crash consistency by construction: rank 0 creates every fixed-size dataset (contiguous, early
// allocation, status filled with -1) and flushes before any work starts; during the run all
// ranks only overwrite raw data in place (independent MPI-IO writes of finished chunks, status
// last); the variable-length tables and end-of-run attributes are added by rank 0 at the end.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "pmap/columns.hpp"
#include "pmap/h5.hpp"
#include "pmap/item_status.hpp"

namespace pmap {

/// Version of the results layout written into `/@schema_version`. 2: every string fixed-length
/// (attributes and table fields; 1 stored them variable-length, in HDF5's global heap).
inline constexpr std::int64_t kSchemaVersion = 2;

/// An attribute value (string, integer or double).
using AttrValue = std::variant<std::string, std::int64_t, double>;
/// Named attributes in the order they are written.
using Attrs = std::vector<std::pair<std::string, AttrValue>>;

/// What the file records about a compute run before it starts.
struct ComputeMeta {
  Attrs root;                        ///< pmap_version, created, command, mpi_ranks, omp_threads...
  Attrs compute;                     ///< kernel, args, schedule, chunk, items, space...
  std::vector<std::string> columns;  ///< names of the K value columns
  std::uint64_t items = 0;           ///< N
};

/// Creates (or with `overwrite`, replaces) the results file with the /compute group allocated.
/// Serial: call on one rank only, before the collective open.
void create_results_file(const std::string& path, const ComputeMeta& meta, bool overwrite);

/// A block of finished consecutive rows [begin, begin + count) to write.
struct RowBlock {
  std::uint64_t begin = 0;
  std::uint64_t count = 0;
  std::size_t columns = 0;
  const std::int64_t* item = nullptr;
  const double* value = nullptr;  ///< count x columns, row-major
  const std::int8_t* status = nullptr;
  const std::int32_t* rank = nullptr;
  const std::int32_t* thread = nullptr;
  const double* seconds = nullptr;
};

/// All ranks' handle on /compute for writing rows in parallel (MPI-IO, independent writes).
class ComputeWriter {
 public:
  /// Collective over `comm`: opens the file created by create_results_file.
  ComputeWriter(const std::string& path, MPI_Comm comm);
  /// Writes one block (thread-safe; status is written after the values it vouches for).
  void write(const RowBlock& rows);
  /// Collective close; throws on failure.
  void close();
  /// Seconds this rank spent inside write().
  [[nodiscard]] double write_seconds() const noexcept { return write_seconds_; }

 private:
  std::mutex mutex_;
  std::string path_;
  h5::File file_;
  std::optional<ComputeColumns> columns_;
  double write_seconds_ = 0;
};

/// One row of /compute/ranks.
struct RankRecord {
  std::int64_t items = 0;
  double busy_seconds = 0;
  double wall_seconds = 0;
  double write_seconds = 0;
  std::int32_t threads = 0;
  double max_rss_mib = 0;  ///< peak resident memory of the rank
  std::string host;
};

/// One row of /compute/errors.
struct ErrorRecord {
  std::int64_t item = 0;
  std::string message;
};

/// Rank 0, after the collective close: adds the run's attributes and the rank and error tables
/// (their strings fixed-length, as wide as the longest).
void finalize_results_file(const std::string& path, const std::string& group, const Attrs& attrs,
                           const std::vector<RankRecord>& ranks,
                           const std::vector<ErrorRecord>& errors);

/// Writes `attrs` onto object `obj`.
void write_attrs(hid_t obj, const Attrs& attrs);

/// The rows of `group`/errors (empty when the table does not exist yet); reads schema 1's
/// variable-length and schema 2's fixed-length messages, after checking the table's type.
std::vector<ErrorRecord> read_errors_table(const h5::Group& group);

}  // namespace pmap

namespace pmap {

/// Throws UsageError unless `path` can be created: its directory exists and is writable, the
/// file does not exist yet (or `overwrite` is set and it is a regular file), and the file system
/// has room for `needed_bytes` (0: do not check).
void check_output_path(const std::string& path, bool overwrite, std::uint64_t needed_bytes = 0);

/// Bytes a results file of `items` rows and `columns` value columns needs (with slack).
std::uint64_t results_file_bytes(std::uint64_t items, std::size_t columns);

}  // namespace pmap
