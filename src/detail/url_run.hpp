// pmap — the shared state of one URL check run: the stop condition, the serialised callbacks and
// the first failure (private).
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <span>

#include "pmap/url_check.hpp"

namespace pmap::detail {

/// Calls of on_result and on_repeat are serialised; the first exception (from a callback or a
/// loop) is kept, stops the run and is rethrown by rethrow_if_failed().
class UrlRun {
 public:
  UrlRun(const std::function<void(std::size_t, const UrlResult&)>& on_result,
         const UrlChecker::OnRepeat& on_repeat, const std::atomic<bool>* stop)
      : on_result_(on_result), on_repeat_(on_repeat), stop_(stop) {}

  /// True once the caller asked to stop or something failed.
  [[nodiscard]] bool stopping() const noexcept {
    return failed_.load(std::memory_order_relaxed) ||
           (stop_ != nullptr && stop_->load(std::memory_order_relaxed));
  }

  /// Calls on_result for every index in `indices`.
  void report(std::span<const std::size_t> indices, const UrlResult& result) {
    const std::lock_guard lock(mutex_);
    if (error_) return;
    try {
      for (const std::size_t index : indices) on_result_(index, result);
    } catch (...) {
      fail_locked(std::current_exception());
    }
  }

  /// Calls on_repeat(index, first_index).
  void repeat(std::size_t index, std::size_t first_index) {
    const std::lock_guard lock(mutex_);
    if (error_) return;
    try {
      on_repeat_(index, first_index);
    } catch (...) {
      fail_locked(std::current_exception());
    }
  }

  /// Keeps the first failure and stops the run.
  void fail(std::exception_ptr error) {
    const std::lock_guard lock(mutex_);
    fail_locked(std::move(error));
  }

  void rethrow_if_failed() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void fail_locked(std::exception_ptr error) {
    if (!error_) error_ = std::move(error);
    failed_.store(true);
  }

  const std::function<void(std::size_t, const UrlResult&)>& on_result_;
  const UrlChecker::OnRepeat& on_repeat_;
  const std::atomic<bool>* stop_;
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::exception_ptr error_;
};

}  // namespace pmap::detail
