// pmap — `pmap submit` and `pmap status`: an elastic job on Slurm, in one command (private).
//
// submit makes the job folder (under $PMAP_JOBS_ROOT, default ${SCRATCH:-$HOME}/pmap-jobs), the
// ledger, two small batch scripts in it (task.sh: one elastic task; finish.sh: the finishing
// step), then sbatch's a job array of N tasks (%M at once) and a finishing job that depends on
// the array (afterany). The finishing job merges the blocks into FOLDER/merged.h5, or when
// blocks are left (every task died) submits tasks for them again, up to --max-resubmits times.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pmap::elastic {

/// What `pmap submit` was asked for (kept in FOLDER/submit.conf for resubmissions).
struct SubmitOptions {
  int jobs = 4;                       ///< array tasks
  int nodes = 1;                      ///< nodes per task
  int ntasks = 1;                     ///< MPI ranks per task (srun when > 1)
  int cpus = 1;                       ///< CPUs per rank (threads)
  std::string time = "01:00:00";      ///< wall time per task
  int max_running = 0;                ///< %M throttle (0: none)
  int signal_seconds = 60;            ///< --signal=B:USR1@S: give back before the wall time
  std::uint64_t block_rows = 0;       ///< rows a block (0: about 8 blocks a task)
  int max_resubmits = 2;              ///< automatic resubmissions by the finishing job
  std::string folder;                 ///< empty: a new folder under PMAP_JOBS_ROOT
  std::vector<std::string> sbatch;    ///< more sbatch options (partition, account, ...)
  std::vector<std::string> run_args;  ///< `run ...` as given after `--`
  std::string pmap_bin;               ///< absolute path of this pmap
};

/// The job ids and folder of a submission.
struct Submitted {
  std::string folder, array_job, finish_job;
  int tasks = 0;
};

/// Writes FOLDER's job files (submit.conf, job.args, task.sh, finish.sh). The ledger must exist.
void write_job_files(const SubmitOptions& o);
/// Reads FOLDER/submit.conf and job.args back; UsageError when FOLDER is not an elastic job.
SubmitOptions read_job_files(const std::string& folder);
/// sbatch's the array of `tasks` elastic tasks and the finishing job; RuntimeError naming
/// sbatch's message when it refuses.
Submitted submit_tasks(const SubmitOptions& o, int tasks);
/// How many times the finishing job resubmitted (FOLDER/resubmits), and count one more.
int resubmits(const std::string& folder);
void count_resubmit(const std::string& folder);

/// `pmap status FOLDER`: blocks and items done, failed, not run; claims by task; rate; end.
std::string status_text(const std::string& folder);

/// A new job folder: $PMAP_JOBS_ROOT/pmap-elastic-<date>-<pid>.
std::string new_job_folder();

}  // namespace pmap::elastic
