// pmap — the URL checker's window of jobs: hand-out in input order under a per-host limit,
// identical URLs merged while one of them waits or runs (private).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pmap::detail {

/// One producer adds jobs (distinct URLs, in input order) while workers take and finish them.
/// acquire() gives the oldest job whose host has fewer than per_host jobs running, so a worker
/// never idles behind a busy host while another host has work. Memory is bounded by the window:
/// add() waits while `window` jobs wait or run, unless a worker is idle (then up to 8 x window,
/// so a long run of one busy host cannot starve the other hosts' URLs behind it). Hosts are
/// forgotten once they have nothing waiting or running. O(log hosts) a job.
class UrlQueue {
 public:
  struct Job {
    std::uint64_t id;   ///< order of arrival
    std::size_t index;  ///< the caller's index of the first occurrence of the URL
    std::string url;
  };

  UrlQueue(int per_host, std::size_t window, std::function<bool()> stopping);

  /// Producer: true if `url` is waiting or running; `index` is then merged into that job.
  [[nodiscard]] bool merge(std::size_t index, std::string_view url);
  /// Producer: queues a new job once there is room; false (nothing queued) when stopping.
  bool add(std::size_t index, std::string url, std::string host);
  /// Producer: no more jobs; workers leave once the queue is empty.
  void close();

  /// Worker: the next job, or nullopt once the queue is closed and empty, or stopping.
  [[nodiscard]] std::optional<Job> acquire();
  /// Worker: frees the job's host slot and forgets its URL; returns the indices merged into it.
  std::vector<std::size_t> finish(const Job& job);

  /// Jobs added so far.
  [[nodiscard]] std::uint64_t added() const;

 private:
  struct Host;
  struct Entry {
    std::size_t index;
    std::string url;
    Host* host;
    std::vector<std::size_t> merged;
  };
  struct Host {
    std::string name;
    std::vector<std::uint64_t> waiting;  // job ids, oldest first from `head`
    std::size_t head = 0;
    int running = 0;
  };
  [[nodiscard]] bool has_room() const;
  [[nodiscard]] std::size_t low_water() const {
    return window_ - std::max<std::size_t>(1, window_ / 4);
  }

  mutable std::mutex mutex_;
  std::condition_variable work_;                   // a job became ready, or the queue closed
  std::condition_variable room_;                   // a job finished, or a worker went idle
  std::unordered_map<std::uint64_t, Entry> jobs_;  // waiting or running
  std::unordered_map<std::string_view, std::uint64_t> by_url_;  // keys live in jobs_' entries
  std::unordered_map<std::string, Host> hosts_;      // hosts with jobs waiting or running
  std::set<std::pair<std::uint64_t, Host*>> ready_;  // (oldest job, host) of hosts with a free slot
  std::uint64_t next_id_ = 0;
  std::size_t waiting_ = 0;  // jobs added and not yet acquired
  int idle_workers_ = 0;
  bool blocked_ = false;  // the producer waits for room
  bool closed_ = false;
  int per_host_;
  std::size_t window_;
  std::function<bool()> stopping_;
};

}  // namespace pmap::detail
