// pmap — the figures of a finished run, as pmap::map returns them and `pmap run` prints them.
//
//   auto r = pmap::map(session, xs, fn);
//   if (session.is_root()) std::puts(r.report.line().c_str());  // pmap-report stage=compute ...
#pragma once

#include <cstdint>
#include <string>

namespace pmap {

/// Figures of a finished stage, identical on every rank after run_compute returns.
struct RunReport {
  std::string stage = "compute";
  std::string kernel;
  std::string schedule;
  std::uint64_t chunk = 0;  ///< 0: automatic
  int ranks = 1;
  int threads = 1;          ///< per rank (maximum over ranks)
  int workers = 1;          ///< threads summed over ranks
  std::uint64_t items = 0;  ///< rows this file is responsible for (the shard's, or all)
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::uint64_t timed_out = 0;
  std::uint64_t not_run = 0;
  double wall_seconds = 0;
  double busy_seconds = 0;          ///< sum of item seconds over all items
  double parallel_efficiency = 0;   ///< busy / (wall x workers)
  double load_imbalance = 1;        ///< max rank busy / mean rank busy
  double write_seconds = 0;         ///< max over ranks of time in HDF5 writes (incl. create, close)
  std::uint64_t checksum = 0;       ///< order-independent hash of (row, values) of ok rows
  std::uint64_t remote_claims = 0;  ///< chunks claimed from rank 0's coordinator by other ranks
  double coordinator_seconds = 0;   ///< CPU time of rank 0's coordinator thread (0: none ran)
  double max_rss_mib = 0;           ///< peak resident memory of the largest rank
  int interrupted = 0;              ///< signal that stopped the run early (1: other stop), or 0
  std::string stop_reason;          ///< "", "signal", "max-failures" or "deadline"
  std::uint64_t ran = 0;            ///< items run by this invocation (less than items on resume)
  bool resumed = false;             ///< this invocation continued an existing file

  [[nodiscard]] double items_per_second() const {
    return wall_seconds > 0 ? static_cast<double>(items) / wall_seconds : 0.0;
  }
  /// `pmap-report key=value ...` (one line, no spaces inside values).
  [[nodiscard]] std::string line() const;
  /// A short human summary (several lines).
  [[nodiscard]] std::string summary() const;
};

}  // namespace pmap
