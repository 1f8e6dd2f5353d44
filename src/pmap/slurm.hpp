// pmap — what pmap reads from Slurm: the job's time left (squeue %L) and the shard of a job array.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace pmap {

/// Seconds in Slurm's time-left text ([D-]H:MM:SS or M:SS); < 0 if unlimited or not understood.
double parse_slurm_time_left(std::string_view text);

/// `time_left` minus a margin for the final write (at least 1 s); 0 (no deadline) if <= 0.
double deadline_from_time_left(double time_left);

/// Asks `squeue` for job `job_id`'s time left, killing it after `timeout_seconds`; < 0 if unknown.
double query_slurm_time_left(const std::string& job_id, double timeout_seconds,
                             const std::string& squeue = "squeue");

/// Block `index` of `count` of a sharded job (0 <= index < count).
struct Shard {
  int index = 0;
  int count = 1;
};

/// An environment lookup: the variable's value, or nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

/// The process environment (std::getenv) as an EnvLookup.
EnvLookup process_env();

/// "I/N", or if empty SLURM_ARRAY_TASK_* from `env`; nullopt if neither; UsageError if bad.
std::optional<Shard> parse_shard(std::string_view text, const EnvLookup& env);

}  // namespace pmap
