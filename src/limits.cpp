// pmap — the limit on open files: raised at start-up, budgeted for the URL stage.
#include "pmap/limits.hpp"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <mutex>

namespace pmap {

namespace {

/// fs.nr_open: the most a process may set RLIMIT_NOFILE to (an "unlimited" hard limit cannot be
/// the soft one on Linux).
rlim_t nr_open() {
  std::ifstream in("/proc/sys/fs/nr_open");
  unsigned long long value = 0;
  if (in >> value && value > 0) return static_cast<rlim_t>(value);
  return 1U << 20;  // the kernel's default
}

}  // namespace

std::uint64_t raise_open_files_limit() noexcept {
  static std::once_flag once;
  try {
    std::call_once(once, [] {
      rlimit limit{};
      if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
      const rlim_t target = limit.rlim_max == RLIM_INFINITY ? nr_open() : limit.rlim_max;
      if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < target) {
        limit.rlim_cur = target;
        setrlimit(RLIMIT_NOFILE, &limit);  // on failure the old limit stays: budgeted below
      }
    });
  } catch (...) {  // std::call_once may throw std::system_error; the limit then stays
  }
  return open_files_limit();
}

std::uint64_t open_files_limit() noexcept {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  return limit.rlim_cur == RLIM_INFINITY ? static_cast<std::uint64_t>(nr_open())
                                         : static_cast<std::uint64_t>(limit.rlim_cur);
}

std::uint64_t open_files_in_use() noexcept {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return errno == EMFILE || errno == ENFILE ? open_files_limit() : 0;
  std::uint64_t count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count > 0 ? count - 1 : 0;  // not the descriptor of the listing itself
}

std::string FdBudget::reason() const {
  return std::to_string(requested) + " URL threads need about " +
         std::to_string(static_cast<std::uint64_t>(requested) * kFdsPerUrlThread + kFdReserve) +
         " open files but the limit is " + std::to_string(limit) + " (" + std::to_string(in_use) +
         " in use, hard limit reached): using " + std::to_string(threads) +
         " threads; raise the hard limit (ulimit -Hn, or ask your administrator) for more";
}

FdBudget fit_url_threads(int threads) noexcept {
  const std::uint64_t limit = raise_open_files_limit();
  return fit_url_threads(threads, limit, open_files_in_use());
}

FdBudget fit_url_threads(int threads, std::uint64_t limit, std::uint64_t in_use) noexcept {
  FdBudget budget;
  budget.requested = threads;
  budget.limit = limit;
  budget.in_use = in_use;
  const std::uint64_t used = in_use + kFdReserve;
  const std::uint64_t fit = limit > used ? (limit - used) / kFdsPerUrlThread : 0;
  budget.threads = static_cast<int>(
      std::clamp<std::uint64_t>(fit, 1, static_cast<std::uint64_t>(std::max(threads, 1))));
  return budget;
}

bool is_resource_errno(long error) noexcept {
  switch (error) {
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOBUFS:
    case EAGAIN:
    case EADDRNOTAVAIL:
      return true;
    default:
      return false;
  }
}

}  // namespace pmap
