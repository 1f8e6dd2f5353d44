#include "pmap/threads.hpp"

#include <sched.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <string_view>

#include "pmap/error.hpp"

namespace pmap {
namespace {

int parse_count(std::string_view text, const std::string& where) {
  // OMP_NUM_THREADS may be a list ("4,2" for nested levels): the first level is ours.
  const auto comma = text.find(',');
  if (comma != std::string_view::npos) text = text.substr(0, comma);
  int v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v < 1) {
    throw UsageError(where + "='" + std::string(text) + "': expected a positive integer");
  }
  return v;
}

}  // namespace

ThreadChoice resolve_threads(std::optional<int> cli, int node_cores, int ranks_on_node,
                             const GetEnv& getenv) {
  const auto env = [&](const char* name) -> const char* {
    return getenv ? getenv(name) : std::getenv(name);
  };
  if (cli) {
    if (*cli < 1) throw UsageError("--threads " + std::to_string(*cli) + ": must be at least 1");
    return {*cli, "--threads"};
  }
  for (const char* name : {"OMP_NUM_THREADS", "SLURM_CPUS_PER_TASK"}) {
    if (const char* v = env(name); v != nullptr && *v != '\0') {
      return {parse_count(v, name), name};
    }
  }
  const int share = ranks_on_node > 0 ? node_cores / ranks_on_node : node_cores;
  return {share > 1 ? share : 1, "cores/ranks on node"};
}

int node_cores() {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

int affinity_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return node_cores();
  return CPU_COUNT(&set);
}

}  // namespace pmap
