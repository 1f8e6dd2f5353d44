// pmap — how many OpenMP threads a rank uses.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace pmap {

/// The thread count and where it came from ("--threads", "OMP_NUM_THREADS", ...).
struct ThreadChoice {
  int threads = 1;
  std::string source;
};

/// Environment lookup (std::getenv by default; tests pass their own).
using GetEnv = std::function<const char*(const char*)>;

/// --threads, else OMP_NUM_THREADS, else SLURM_CPUS_PER_TASK, else node cores / ranks on the node
/// (at least 1): never silently more CPU-bound threads than cores. Throws UsageError for a
/// malformed value.
ThreadChoice resolve_threads(std::optional<int> cli, int node_cores, int ranks_on_node,
                             const GetEnv& getenv = nullptr);

/// Cores online on this node.
int node_cores();
/// Cores this process may run on (its affinity mask).
int affinity_cores();

/// Threads a stage starts besides its workers (coordinator, progress, stop watcher, flusher):
/// ensure_threads() checks these too.
inline constexpr int kHelperThreads = 4;

/// Whose threads: the stage named in messages and the job field that sets its thread count.
struct ThreadUse {
  std::string_view stage;
  std::string_view field;
};
inline constexpr ThreadUse kComputeThreads{"compute stage", "threads"};
inline constexpr ThreadUse kUrlThreads{"URL stage", "urls.threads"};

/// The message for a thread that could not start, e.g. "URL stage: cannot start
/// thread 513 of 1500: Resource temporarily unavailable (this user may run 512 processes and
/// threads, ulimit -u); lower the thread count (`urls.threads`) or raise the limit".
[[nodiscard]] std::string thread_start_failure(ThreadUse use, std::size_t index,
                                               std::size_t wanted, const std::system_error& error);
/// Throws pmap::RuntimeError(thread_start_failure(...)).
[[noreturn]] void throw_thread_start_failure(ThreadUse use, std::size_t index, std::size_t wanted,
                                             const std::system_error& error);

/// Nonempty when `threads` + kHelperThreads threads cannot run at once in this process now
/// (they are started, held until all run, then joined): the message of
/// throw_thread_start_failure. Cheap when RLIMIT_NPROC is unlimited (nothing is started).
[[nodiscard]] std::string probe_threads(int threads, ThreadUse use);

/// probe_threads() on every rank of `comm` (collective): if any rank cannot start its threads,
/// every rank throws pmap::RuntimeError with the first such rank's message, before any work
/// starts (OpenMP would otherwise end the process from inside the parallel region).
///   pmap::ensure_threads(comm, threads, pmap::kComputeThreads);
void ensure_threads(MPI_Comm comm, int threads, ThreadUse use);

}  // namespace pmap
