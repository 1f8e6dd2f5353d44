// pmap — a tqdm-style progress line for the whole job (rank 0), or plain log lines in batch jobs.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

#include "pmap/progress_mode.hpp"

namespace pmap {

/// Renders "label  45%|####5     | 4500/10000 [00:12<00:15, 372.1 it/s]".
std::string format_bar(std::string_view label, std::uint64_t done, std::uint64_t total,
                       double elapsed, int width = 10);

/// Formats seconds as MM:SS or H:MM:SS.
std::string format_duration(double seconds);

/// Thread-safe progress reporter writing to a FILE (stderr by default).
class Progress {
 public:
  Progress(ProgressMode mode, std::string label, std::uint64_t total, std::FILE* out = stderr);
  /// Reports `done` items so far; prints only when the mode says so.
  void update(std::uint64_t done);
  /// Final line (completes the bar).
  void finish(std::uint64_t done);
  [[nodiscard]] ProgressMode mode() const noexcept { return mode_; }

 private:
  ProgressMode mode_;
  std::string label_;
  std::uint64_t total_;
  std::FILE* out_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_log_;
  int last_decile_ = 0;
  bool finished_ = false;
};

}  // namespace pmap
