// pmap — one task of an elastic job, and the end of the job (private).
//
// A task (`pmap run ... --elastic FOLDER`, one process or the ranks of one Slurm job) claims
// blocks of the item space from the folder's ledger and runs each one with the ordinary engine
// into the block's own file, which holds only the block's rows; it stops claiming at a signal
// (the wall-time warning, scancel) or its deadline and gives back the block it was running (its
// rows written so far stay: the next owner resumes the file). The finishing step merges the
// block files into one results file equal to a one-job run.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "elastic/ledger.hpp"
#include "pmap/compute.hpp"
#include "pmap/merge.hpp"
#include "pmap/url_stage.hpp"

namespace pmap::elastic {

/// How a task runs.
struct TaskOptions {
  std::string folder;            ///< the job folder (ledger, blocks)
  std::uint64_t block_rows = 0;  ///< for a new ledger; 0: about 64 blocks
  double heartbeat = 10;         ///< seconds between heartbeats
  Liveness alive;                ///< when another task's claim counts as abandoned
};

/// What a task did.
struct TaskReport {
  std::string task;
  std::uint64_t blocks = 0, rows = 0, failed = 0, takeovers = 0, resumed_rows = 0;
  bool stopped = false;       ///< a signal or the deadline ended it (exit 75)
  bool gave_back = false;     ///< it gave a block back
  double wall = 0, busy = 0;  ///< seconds: the task, and inside blocks
  double claim_seconds = 0;   ///< inside the ledger
  std::uint64_t claims = 0;
};

/// Runs one task of the elastic job of `job` (collective over `comm`; rank 0 talks to the
/// ledger). `job.output` is ignored: blocks go to the folder. Throws UsageError for a folder of
/// another job.
TaskReport run_task(const ComputeJob& job, const TaskOptions& options, MPI_Comm comm);

/// The finished blocks of FOLDER, in order, as merge_blocks takes them; UsageError naming the
/// blocks not done (with what `pmap status` would say) when some are missing.
std::vector<BlockFile> finished_blocks(const Ledger& ledger);

/// Merges the blocks of FOLDER into `output` (serial). UsageError when blocks are missing.
MergeReport merge_job(const ComputeJob& job, const std::string& folder, const std::string& output,
                      bool force, const std::string& command);

/// URL lists: a block is one of `blocks` host buckets (the URLs whose host hashes to it, as
/// `--shard b/blocks` cuts them, so per-host limits hold across tasks); each block's file holds
/// only the block's URLs (/urls/row: their rows in the list), and the finish is `pmap merge`'s
/// check and join of them, with /urls/blocks. UsageError for a folder of another list.
Ledger url_ledger_for(const UrlJob& job, const std::string& folder, std::uint64_t blocks);
TaskReport run_url_task(const UrlJob& job, const TaskOptions& options, MPI_Comm comm);
MergeReport merge_url_job(const UrlJob& job, const std::string& folder, const std::string& output,
                          const std::string& command);

/// The ledger for `job` in `folder` (created when missing, with `block_rows` or about 64 blocks).
Ledger ledger_for(const ComputeJob& job, const std::string& folder, std::uint64_t block_rows);

}  // namespace pmap::elastic
