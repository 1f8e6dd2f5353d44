// pmap — the URL stage across ranks: URLs sharded by host, checked by each rank's event loops,
// results written into /urls of the results file in input order.
//
//   pmap::UrlJob job;
//   job.input = "data/urls.txt";
//   job.output = "pmap.h5";
//   pmap::UrlReport r = pmap::run_urls(job, MPI_COMM_WORLD);  // collective
#pragma once

#include <mpi.h>

#include <cstdint>
#include <optional>
#include <string>

#include "pmap/progress.hpp"
#include "pmap/url_check.hpp"

namespace pmap {

/// What a part of a URL list (cut by split_url_list) is part of: the list its results file
/// names as its own, so `pmap merge` joins the parts' files as shards of that list.
struct UrlListPart {
  std::string list;        ///< the whole list's path
  std::uint64_t urls = 0;  ///< its URL lines
  std::string list_fnv;    ///< its fingerprint, as the URL stage computes it
  int index = 0;           ///< the part: shard index/count of the list, cut by host
  int count = 1;
  std::string rows;  ///< file of int64 (native order): each URL's row in the whole list
};

/// Everything the URL stage needs.
struct UrlJob {
  std::string input;    ///< one URL a line; blank lines and # comments skipped
  UrlOptions options;   ///< threads are per rank; per_host holds across the job
  std::string output;   ///< results file; empty: write no file (--print only)
  bool force = false;   ///< replace an existing output file
  bool append = false;  ///< add /urls to an existing results file (after compute)
  bool print = false;   ///< rank 0 prints "URL - verdict" lines in input order
  bool resume = false;  ///< reopen `output`, check only rows not done (not checked, interrupted)
  int shard_index = 0;  ///< check only shard I of N: the URLs whose host hashes to I (job arrays)
  int shard_count = 1;
  /// The file holds only the shard's URLs, in list order, /urls/row giving each one's row in the
  /// list (elastic blocks: files that scale with the shard, not the list); false: every row.
  bool shard_rows_only = false;
  /// `input` is part `index` of a list cut by split_url_list: the file holds the part's URLs as
  /// shard index/count of that list (the list is read once to cut it, not once per part).
  std::optional<UrlListPart> part_of;
  ProgressMode progress = ProgressMode::Auto;
  std::string command;
  bool print_summary = true;
};

/// Figures of a finished URL stage (identical on every rank).
struct UrlReport {
  std::uint64_t urls = 0;  ///< URLs of the shard (of the list when not sharded)
  std::uint64_t exists = 0, does_not_exist = 0, unknown = 0, invalid = 0;
  std::uint64_t checked = 0;  ///< rows of the shard done for good (interrupted ones excluded)
  std::uint64_t resumed = 0;  ///< of them, rows an earlier run had done (--resume): kept, not run
  int ranks = 1, threads = 1;
  double wall_seconds = 0;
  bool interrupted = false;  ///< a stop (signal) on any rank ended the stage early
  [[nodiscard]] double urls_per_second() const {
    return wall_seconds > 0 ? static_cast<double>(urls) / wall_seconds : 0.0;
  }
  /// `pmap-report stage=urls key=value ...`
  [[nodiscard]] std::string line() const;
  [[nodiscard]] std::string summary() const;
};

/// Serial: cuts `input` into `parts` lists by host, exactly as `--shard b/parts` selects URLs:
/// DIR/part-B.txt (its URL lines, in list order) and DIR/part-B.rows (their rows in the list, as
/// UrlListPart::rows). Returns what the parts are part of (`index` 0; `rows` empty). Keeps at
/// most 200 files open (more parts: more passes over the list). Throws UsageError when `input`
/// cannot be read or DIR written.
UrlListPart split_url_list(const std::string& input, std::uint64_t parts, const std::string& dir);

/// Runs the URL stage (collective). Throws UsageError for a missing or unreadable input or an
/// unusable output, before anything is written.
UrlReport run_urls(const UrlJob& job, MPI_Comm comm);

}  // namespace pmap
