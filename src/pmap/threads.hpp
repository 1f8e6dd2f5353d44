// pmap — how many OpenMP threads a rank uses.
#pragma once

#include <functional>
#include <optional>
#include <string>

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

}  // namespace pmap
