// pmap — the waits of one URL whose requests fail for lack of descriptors, threads or memory
// (private).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <string>

#include "pmap/error.hpp"
#include "pmap/limits.hpp"

namespace pmap::detail {

/// A back-off of 50 ms doubling to 1 s (with jitter) while the budget lasts, then an error that
/// stops the run. Such failures are the machine's, never the URL's verdict.
class ResourceWait {
 public:
  explicit ResourceWait(double budget) : budget_(budget) {}

  [[nodiscard]] bool waited() const noexcept { return waits_ > 0; }

  /// Seconds to wait before the next request; throws pmap::RuntimeError once the budget is spent.
  double next_wait(const std::string& url, const std::string& error, std::mt19937_64& random) {
    using Clock = std::chrono::steady_clock;
    if (waits_++ == 0) start_ = Clock::now();
    const double spent = std::chrono::duration<double>(Clock::now() - start_).count();
    if (spent >= budget_) {
      throw RuntimeError("URL stage: " + url + ": " + error + ", still after " +
                         std::to_string(static_cast<int>(spent)) +
                         " s of retries: this process or the system is out of open files, "
                         "threads or memory (open files: " +
                         std::to_string(open_files_in_use()) + " in use, limit " +
                         std::to_string(open_files_limit()) +
                         "); lower the thread count (`urls.threads`), or raise the limits "
                         "(ulimit -n, ulimit -u)");
    }
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    const double wait =
        std::min(first_wait * std::ldexp(1.0, std::min(waits_ - 1, 30)), longest_wait);
    return std::min(wait * jitter(random), std::max(budget_ - spent, 0.0) + 0.001);
  }

 private:
  static constexpr double first_wait = 0.05;
  static constexpr double longest_wait = 1.0;
  double budget_;
  int waits_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace pmap::detail
