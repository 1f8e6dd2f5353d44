// pmap — the compute stage: map a kernel over an item space on all ranks and threads, into HDF5.
//
//   pmap::ComputeJob job;
//   job.kernel = &pmap::find_kernel("pi");
//   job.args = pmap::bind_args(*job.kernel, {"samples=100000"});
//   job.space = pmap::ItemSpace(pmap::parse_range("0:1000"));
//   job.output = "pi.h5";
//   pmap::RunReport r = pmap::run_compute(job, MPI_COMM_WORLD);  // collective
#pragma once

#include <mpi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pmap/item_space.hpp"
#include "pmap/kernel.hpp"
#include "pmap/progress.hpp"
#include "pmap/report.hpp"
#include "pmap/schedule.hpp"
#include "pmap/version.hpp"  // kVersion, written to /@pmap_version

namespace pmap {

/// Everything a compute run needs; the CLI fills it, C++ users may fill it directly.
struct ComputeJob {
  const Kernel* kernel = nullptr;
  BoundArgs args;
  ItemSpace space;
  std::string space_spec;  ///< how the space was given ("range 0:10:1", "input data/x.txt")
  Schedule schedule = Schedule::Dynamic;
  std::uint64_t chunk = 0;     ///< 0: automatic (aims at ~100 ms chunks)
  std::optional<int> threads;  ///< per rank; unset: OMP_NUM_THREADS, SLURM_CPUS_PER_TASK, cores
  std::string output = "pmap.h5";
  bool force = false;  ///< overwrite an existing output file
  ProgressMode progress = ProgressMode::Auto;
  std::string command;        ///< the command line, recorded in the file
  bool print_summary = true;  ///< rank 0 prints the summary and the pmap-report line
  bool resume = false;        ///< reopen `output` and run only the rows not done yet
  bool retry_failed = false;  ///< with resume: also rerun failed and timed-out rows
  int shard_index = 0;        ///< run only block shard_index of shard_count (job arrays)
  int shard_count = 1;
  std::uint64_t max_failures = 0;  ///< stop claiming once this many items failed (0: never)
  double max_failures_fraction =
      0;                    ///< ... or this fraction of the items (from "--max-failures 5%")
  double item_timeout = 0;  ///< seconds; an item running longer gets status 2 (0: none)
  double deadline = 0;      ///< seconds from the start; no chunk that cannot finish
                            ///< before it is started (0: none)
  /// More /compute attributes for a fresh file (an elastic job's block says which it is).
  std::vector<std::pair<std::string, std::string>> extra_attrs;
};

/// Runs the compute stage (collective over `comm`). Throws UsageError (nothing written) for bad
/// setup, RuntimeError for I/O or MPI failures; per-item failures are counted in the report.
RunReport run_compute(const ComputeJob& job, MPI_Comm comm);

/// Current UTC time in ISO 8601 (for /@created).
std::string iso8601_now();

}  // namespace pmap
