#include "pmap/threads.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "pmap/error.hpp"
#include "pmap/mpi.hpp"

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

/// " (this user may run N processes and threads, ulimit -u)", or "" when unlimited.
std::string nproc_note() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NPROC, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return "";
  return " (this user may run " + std::to_string(limit.rlim_cur) +
         " processes and threads at once, ulimit -u)";
}

/// Threads that wait until released, so that a probe holds them all alive at once.
class HeldThreads {
 public:
  HeldThreads() = default;
  HeldThreads(const HeldThreads&) = delete;
  HeldThreads& operator=(const HeldThreads&) = delete;
  ~HeldThreads() {
    {
      const std::lock_guard lock(mutex_);
      released_ = true;
    }
    wake_.notify_all();
    threads_.clear();  // joins
  }
  void add() {
    threads_.emplace_back([this] {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return released_; });
    });
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool released_ = false;
  std::vector<std::jthread> threads_;  // last: joined before the mutex goes
};

}  // namespace

std::string thread_start_failure(ThreadUse use, std::size_t index, std::size_t wanted,
                                 const std::system_error& error) {
  return std::string(use.stage) + ": cannot start thread " + std::to_string(index) + " of " +
         std::to_string(wanted) + ": " + error.code().message() + nproc_note() +
         "; lower the thread count (`" + std::string(use.field) + "`) or raise the limit";
}

void throw_thread_start_failure(ThreadUse use, std::size_t index, std::size_t wanted,
                                const std::system_error& error) {
  throw RuntimeError(thread_start_failure(use, index, wanted, error));
}

std::string probe_threads(int threads, ThreadUse use) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NPROC, &limit) == 0 && limit.rlim_cur == RLIM_INFINITY) return "";
  const auto wanted = static_cast<std::size_t>(std::max(threads, 1) + kHelperThreads);
  HeldThreads held;
  for (std::size_t i = 1; i <= wanted; ++i) {
    try {
      held.add();
    } catch (const std::system_error& error) {
      return thread_start_failure(use, i, wanted, error);
    }
  }
  return "";
}

void ensure_threads(MPI_Comm comm, int threads, ThreadUse use) {
  const std::string mine = probe_threads(threads, use);
  const int size = mpi::size(comm);
  int first = mine.empty() ? size : mpi::rank(comm);
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce");
  if (first == size) return;
  const std::string message = mpi::bcast_string(comm, mine, first);
  throw RuntimeError(size > 1 ? "rank " + std::to_string(first) + ": " + message : message);
}

ThreadChoice resolve_threads(std::optional<int> cli, int node_cores, int ranks_on_node,
                             const GetEnv& getenv) {
  const auto env = [&](const char* name) -> const char* {
    return getenv ? getenv(name) : std::getenv(name);
  };
  if (cli) {
    if (*cli < 1) throw UsageError::at_least("threads", *cli, 1);
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
