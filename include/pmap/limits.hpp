// pmap — the process's limit on open files: raised once at start-up, then budgeted.
//
//   pmap::raise_open_files_limit();            // soft RLIMIT_NOFILE -> hard, once per process
//   const pmap::FdBudget b = pmap::fit_url_threads(1500);
//   if (b.threads < 1500) { /* lowered: b.reason() says why */ }
#pragma once

#include <cstdint>
#include <string>

namespace pmap {

/// Descriptors one URL request in flight (a "URL thread") may hold at once: the resolver's socket
/// pair while a name resolves (2), the connection in use (1) and its share of the connections its
/// event loop keeps alive for reuse (CURLMOPT_MAXCONNECTS 4 per request slot); the loops' own
/// wake-up socket pairs (a few) come out of kFdReserve.
inline constexpr std::uint64_t kFdsPerUrlThread = 7;
/// Descriptors kept free beyond those open when the budget is made: the results file, the input
/// list, MPI's shared memory and sockets, logs.
inline constexpr std::uint64_t kFdReserve = 64;

/// Raises the soft limit on open files to the hard limit (capped by fs.nr_open), as Go's runtime
/// and nginx do, once per process; later calls do nothing. Never throws: if the limit cannot be
/// raised it stays as it was. Returns the soft limit in force afterwards.
std::uint64_t raise_open_files_limit() noexcept;

/// The soft limit on open files now.
[[nodiscard]] std::uint64_t open_files_limit() noexcept;

/// Descriptors this process has open now (entries of /proc/self/fd; 0 where unknown).
[[nodiscard]] std::uint64_t open_files_in_use() noexcept;

/// How many URL worker threads fit in the open-files limit.
struct FdBudget {
  int requested = 0;         ///< threads asked for
  int threads = 0;           ///< threads that fit (== requested unless lowered); at least 1
  std::uint64_t limit = 0;   ///< soft limit on open files (after raising it)
  std::uint64_t in_use = 0;  ///< descriptors open when the budget was made
  [[nodiscard]] bool lowered() const noexcept { return threads < requested; }
  /// "1500 URL threads need ~10564 open files but the limit is 1024 (58 in use): using 137 ..."
  [[nodiscard]] std::string reason() const;
};

/// Raises the limit (raise_open_files_limit) and fits `threads` URL workers into what is free:
/// (limit - in use - kFdReserve) / kFdsPerUrlThread, at least 1.
[[nodiscard]] FdBudget fit_url_threads(int threads) noexcept;

/// The same arithmetic on given figures (for tests).
[[nodiscard]] FdBudget fit_url_threads(int threads, std::uint64_t limit,
                                       std::uint64_t in_use) noexcept;

/// True for an errno that says the process or the system ran out of something (descriptors,
/// threads, memory, buffers, local ports), not that the remote end failed: EMFILE, ENFILE,
/// ENOMEM, ENOBUFS, EAGAIN, EADDRNOTAVAIL.
[[nodiscard]] bool is_resource_errno(long error) noexcept;

}  // namespace pmap
