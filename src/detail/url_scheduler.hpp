// pmap — hands URL jobs to worker threads in input order under a per-host limit (private).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace pmap::detail {

/// Jobs are numbered 0..n-1 in input order; job j belongs to host job_hosts[j].
/// acquire() gives the lowest-numbered job whose host has fewer than per_host jobs running, so a
/// worker never idles behind a busy host while another host has work. O(log hosts) a job.
class UrlScheduler {
 public:
  UrlScheduler(std::vector<std::size_t> job_hosts, std::size_t host_count, int per_host,
               std::function<bool()> stopping);

  /// The next job to run, or nullopt once none is left or stopping() is true. While every host
  /// with work is at its limit it waits, checking stopping() at least every 100 ms.
  [[nodiscard]] std::optional<std::size_t> acquire();

  /// Marks a job acquired earlier as finished, freeing its host slot.
  void release(std::size_t job);

 private:
  static constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
  struct Host {
    std::size_t head = none;  // first job of this host not yet handed out
    std::size_t tail = none;
    int running = 0;
  };

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::size_t> job_host_;
  std::vector<std::size_t> next_of_host_;  // next job of the same host, or none
  std::vector<Host> hosts_;
  std::set<std::pair<std::size_t, std::size_t>> ready_;  // (head job, host) of hosts below limit
  std::size_t pending_ = 0;
  int per_host_;
  std::function<bool()> stopping_;
};

}  // namespace pmap::detail
