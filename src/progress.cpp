#include "pmap/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "pmap/error.hpp"

namespace pmap {

ProgressMode parse_progress(std::string_view text) {
  if (text == "auto") return ProgressMode::Auto;
  if (text == "bar") return ProgressMode::Bar;
  if (text == "log") return ProgressMode::Log;
  if (text == "none") return ProgressMode::None;
  throw UsageError("progress", std::string(text), "use auto, bar, log or none");
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", s / 60, s % 60);
  }
  return buf;
}

std::string format_bar(std::string_view label, std::uint64_t done, std::uint64_t total,
                       double elapsed, int width) {
  const double frac = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total - done) / rate : NAN;
  std::string bar;
  const double cells = frac * width;
  const int full = static_cast<int>(cells);
  for (int i = 0; i < width; ++i) {
    if (i < full) {
      bar += '#';
    } else if (i == full) {
      const int tenth = static_cast<int>((cells - full) * 10);
      bar += tenth > 0 ? static_cast<char>('0' + tenth) : ' ';
    } else {
      bar += ' ';
    }
  }
  char buf[256];
  std::snprintf(buf, sizeof buf, "%.*s %3d%%|%s| %llu/%llu [%s<%s, %.1f it/s]",
                static_cast<int>(label.size()), label.data(),
                total > 0 ? static_cast<int>(done * 100 / total) : 100, bar.c_str(),
                static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                format_duration(elapsed).c_str(),
                done >= total ? "00:00" : format_duration(eta).c_str(), rate);
  return buf;
}

Progress::Progress(ProgressMode mode, std::string label, std::uint64_t total, std::FILE* out)
    : mode_(mode), label_(std::move(label)), total_(total), out_(out) {
  if (mode_ == ProgressMode::Auto) {
    mode_ = isatty(fileno(out_)) ? ProgressMode::Bar : ProgressMode::Log;
  }
  start_ = last_log_ = std::chrono::steady_clock::now();
}

void Progress::update(std::uint64_t done) {
  if (mode_ == ProgressMode::None) return;
  std::lock_guard lock(mutex_);
  if (finished_) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  if (mode_ == ProgressMode::Bar) {
    std::fprintf(out_, "\r%s", format_bar(label_, done, total_, elapsed).c_str());
    std::fflush(out_);
    return;
  }
  const int decile = total_ > 0 ? static_cast<int>(done * 10 / total_) : 10;
  if (decile > last_decile_ || now - last_log_ >= std::chrono::seconds(30)) {
    if (done >= total_) return;  // the final line comes from finish()
    last_decile_ = decile;
    last_log_ = now;
    std::fprintf(out_, "%s\n", format_bar(label_, done, total_, elapsed).c_str());
    std::fflush(out_);
  }
}

void Progress::finish(std::uint64_t done) {
  if (mode_ == ProgressMode::None) return;
  std::lock_guard lock(mutex_);
  if (finished_) return;
  finished_ = true;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(out_, "%s%s\n", mode_ == ProgressMode::Bar ? "\r" : "",
               format_bar(label_, done, total_, elapsed).c_str());
  std::fflush(out_);
}

}  // namespace pmap
