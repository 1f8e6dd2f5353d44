// pmap — per-host-limited, input-ordered job hand-out for the URL workers.
#include "url_scheduler.hpp"

#include <chrono>
#include <utility>

namespace pmap::detail {

UrlScheduler::UrlScheduler(std::vector<std::size_t> job_hosts, std::size_t host_count, int per_host,
                           std::function<bool()> stopping)
    : job_host_(std::move(job_hosts)),
      next_of_host_(job_host_.size(), none),
      hosts_(host_count),
      pending_(job_host_.size()),
      per_host_(per_host),
      stopping_(std::move(stopping)) {
  for (std::size_t job = 0; job < job_host_.size(); ++job) {
    Host& host = hosts_.at(job_host_[job]);
    if (host.tail == none) {
      host.head = job;
    } else {
      next_of_host_[host.tail] = job;
    }
    host.tail = job;
  }
  for (std::size_t id = 0; id < hosts_.size(); ++id) {
    if (hosts_[id].head != none) ready_.emplace(hosts_[id].head, id);
  }
}

std::optional<std::size_t> UrlScheduler::acquire() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopping_()) return std::nullopt;
    if (!ready_.empty()) {
      const auto [job, id] = *ready_.begin();
      ready_.erase(ready_.begin());
      Host& host = hosts_[id];
      host.head = next_of_host_[job];
      if (host.head == none) host.tail = none;
      ++host.running;
      if (host.head != none && host.running < per_host_) ready_.emplace(host.head, id);
      if (--pending_ == 0) wake_.notify_all();  // idle workers may leave now
      return job;
    }
    if (pending_ == 0) return std::nullopt;
    wake_.wait_for(lock, std::chrono::milliseconds(100));
  }
}

void UrlScheduler::release(std::size_t job) {
  const std::lock_guard lock(mutex_);
  const std::size_t id = job_host_.at(job);
  Host& host = hosts_[id];
  --host.running;
  // The host is in ready_ exactly when it has work and a free slot: it just got its first one.
  if (host.head != none && host.running == per_host_ - 1) {
    ready_.emplace(host.head, id);
    wake_.notify_one();
  }
}

}  // namespace pmap::detail
