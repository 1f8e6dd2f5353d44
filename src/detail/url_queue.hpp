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

/// One producer adds jobs (distinct URLs, in input order) while event loops take and finish them.
/// try_acquire() gives the oldest job whose host has fewer than per_host jobs running, so a loop
/// never idles behind a busy host while another host has work, preferring (among the oldest
/// few) a host that loop served last, so that each host's connections stay in one loop; it never blocks: a loop that
/// found nothing is "hungry" and is woken through the waker when a job becomes ready. Memory is
/// bounded by the window: add() waits while `window` jobs wait or run, unless a loop is hungry
/// (then up to 8 x window, so a long run of one busy host cannot starve the other hosts' URLs
/// behind it). Hosts are forgotten once they have nothing waiting or running. O(log hosts) a job.
class UrlQueue {
 public:
  struct Job {
    std::uint64_t id;   ///< order of arrival
    std::size_t index;  ///< the caller's index of the first occurrence of the URL
    std::string url;
    std::string host;  ///< lower-case host name, as given to add()
  };

  /// What try_acquire() found.
  enum class Take { Job, Empty, Done };

  /// `loops` callers of try_acquire(), numbered 0..loops-1; wake(loop) is called (under the
  /// queue's lock: it must not call back) when a job becomes ready while `loop` is hungry.
  UrlQueue(int per_host, std::size_t window, std::function<bool()> stopping, int loops,
           std::function<void(int loop)> wake);

  /// Producer: true if `url` is waiting or running; `index` is then merged into that job.
  [[nodiscard]] bool merge(std::size_t index, std::string_view url);
  /// Producer: queues a new job once there is room; false (nothing queued) when stopping.
  bool add(std::size_t index, std::string url, std::string host);
  /// Producer: no more jobs; workers leave once the queue is empty.
  void close();

  /// Loop `loop`: Job (*job set), Empty (nothing ready now; the loop is hungry until its next
  /// Job) or Done (closed and nothing waits, or stopping).
  [[nodiscard]] Take try_acquire(int loop, Job& job);
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
    int loop = -1;  // the loop that took its last job, -1 before the first
  };
  [[nodiscard]] bool has_room() const;
  std::set<std::pair<std::uint64_t, Host*>>::iterator pick(int loop);
  void wake_hungry();
  [[nodiscard]] std::size_t low_water() const {
    return window_ - std::max<std::size_t>(1, window_ / 4);
  }

  mutable std::mutex mutex_;
  std::condition_variable room_;                   // a job finished, or a loop went hungry
  std::unordered_map<std::uint64_t, Entry> jobs_;  // waiting or running
  std::unordered_map<std::string_view, std::uint64_t> by_url_;  // keys live in jobs_' entries
  std::unordered_map<std::string, Host> hosts_;      // hosts with jobs waiting or running
  std::set<std::pair<std::uint64_t, Host*>> ready_;  // (oldest job, host) of hosts with a free slot
  std::uint64_t next_id_ = 0;
  std::size_t waiting_ = 0;  // jobs added and not yet acquired
  int idle_workers_ = 0;          // hungry loops
  std::vector<char> hungry_;      // by loop
  std::function<void(int)> wake_;
  bool blocked_ = false;  // the producer waits for room
  bool closed_ = false;
  int per_host_;
  std::size_t window_;
  std::function<bool()> stopping_;
};

}  // namespace pmap::detail
