// pmap — the URL checker's window of jobs (see url_queue.hpp).
#include "url_queue.hpp"

#include <chrono>
#include <utility>

namespace pmap::detail {

namespace {
// Longest wait between looks at the stop condition.
constexpr auto poll_interval = std::chrono::milliseconds(100);
// Beyond the window, how far the producer may read ahead while a worker has nothing to do.
constexpr std::size_t idle_window_factor = 8;
// Ready hosts a loop looks through for one of its own before it takes the oldest job.
constexpr std::size_t affinity_scan = 64;
}  // namespace

UrlQueue::UrlQueue(int per_host, std::size_t window, std::function<bool()> stopping, int loops,
                   std::function<void(int loop)> wake)
    : hungry_(static_cast<std::size_t>(std::max(loops, 1)), 0),
      wake_(std::move(wake)),
      per_host_(per_host),
      window_(window),
      stopping_(std::move(stopping)) {}

void UrlQueue::wake_hungry() {
  for (std::size_t loop = 0; loop < hungry_.size(); ++loop) {
    if (hungry_[loop] != 0 && wake_) wake_(static_cast<int>(loop));
  }
}

bool UrlQueue::merge(std::size_t index, std::string_view url) {
  const std::lock_guard lock(mutex_);
  const auto found = by_url_.find(url);
  if (found == by_url_.end()) return false;
  jobs_.at(found->second).merged.push_back(index);
  return true;
}

bool UrlQueue::has_room() const {
  if (jobs_.size() < window_) return true;
  return idle_workers_ > 0 && jobs_.size() < window_ * idle_window_factor;
}

bool UrlQueue::add(std::size_t index, std::string url, std::string host) {
  std::unique_lock lock(mutex_);
  if (!has_room()) {
    // Full: wait until a quarter of the window has drained (or a worker idles), so the
    // producer wakes once per batch of jobs, not once per finished job.
    blocked_ = true;
    while (!(jobs_.size() <= low_water() ||
             (idle_workers_ > 0 && jobs_.size() < window_ * idle_window_factor))) {
      if (stopping_()) {
        blocked_ = false;
        return false;
      }
      room_.wait_for(lock, poll_interval);
    }
    blocked_ = false;
  }
  if (stopping_()) return false;
  const std::uint64_t id = next_id_++;
  auto [host_it, new_host] = hosts_.try_emplace(host);
  Host& h = host_it->second;
  if (new_host) h.name = std::move(host);
  auto& entry = jobs_.emplace(id, Entry{index, std::move(url), &h, {}}).first->second;
  by_url_.emplace(entry.url, id);
  h.waiting.push_back(id);
  ++waiting_;
  // The host becomes ready with its first waiting job, if it has a free slot.
  if (h.waiting.size() - h.head == 1 && h.running < per_host_) {
    ready_.emplace(id, &h);
    wake_hungry();
  }
  return true;
}

void UrlQueue::close() {
  const std::lock_guard lock(mutex_);
  closed_ = true;
  wake_hungry();
}

UrlQueue::Take UrlQueue::try_acquire(int loop, Job& job) {
  const std::lock_guard lock(mutex_);
  char& hungry = hungry_.at(static_cast<std::size_t>(loop));
  if (stopping_()) return Take::Done;
  if (ready_.empty()) {
    // Nothing waits and nothing will come: the jobs still running need no more loops.
    if (closed_ && waiting_ == 0) return Take::Done;
    if (hungry == 0) {
      hungry = 1;
      ++idle_workers_;
      if (blocked_) room_.notify_one();  // a hungry loop lets the producer read further ahead
    }
    return Take::Empty;
  }
  if (hungry != 0) {
    hungry = 0;
    --idle_workers_;
  }
  const auto chosen = pick(loop);
  const auto [id, host] = *chosen;
  ready_.erase(chosen);
  host->loop = loop;
  ++host->head;
  ++host->running;
  if (host->head == host->waiting.size()) {
    host->waiting.clear();  // memory per host stays what waits
    host->head = 0;
  } else if (host->running < per_host_) {
    ready_.emplace(host->waiting[host->head], host);
  }
  if (--waiting_ == 0 && closed_) wake_hungry();  // hungry loops may leave now
  const Entry& entry = jobs_.at(id);
  job = Job{id, entry.index, entry.url, host->name};
  return Take::Job;
}

/// The oldest ready job of a host this loop served last (its connections and TLS session are in
/// this loop's multi handle) or of a host no loop has served, among the oldest few; else the
/// oldest: a loop with a free slot never waits while work is ready.
std::set<std::pair<std::uint64_t, UrlQueue::Host*>>::iterator UrlQueue::pick(int loop) {
  auto entry = ready_.begin();
  for (std::size_t seen = 0; entry != ready_.end() && seen < affinity_scan; ++entry, ++seen) {
    const int owner = entry->second->loop;
    if (owner == loop || owner < 0) return entry;
  }
  return ready_.begin();
}

std::vector<std::size_t> UrlQueue::finish(const Job& job) {
  const std::lock_guard lock(mutex_);
  const auto found = jobs_.find(job.id);
  if (found == jobs_.end()) return {};
  std::vector<std::size_t> merged = std::move(found->second.merged);
  Host& host = *found->second.host;
  by_url_.erase(found->second.url);
  jobs_.erase(found);
  --host.running;
  const bool has_waiting = host.head < host.waiting.size();
  if (has_waiting && host.running == per_host_ - 1) {
    ready_.emplace(host.waiting[host.head], &host);  // it just got a free slot back
    wake_hungry();
  } else if (!has_waiting && host.running == 0) {
    hosts_.erase(host.name);  // idle: forgotten, so memory does not grow with the hosts seen
  }
  if (blocked_ && jobs_.size() <= low_water()) room_.notify_one();
  return merged;
}

std::uint64_t UrlQueue::added() const {
  const std::lock_guard lock(mutex_);
  return next_id_;
}

}  // namespace pmap::detail
