// Private: factories of the built-in kernels and a small base that stores their metadata.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pmap/kernel.hpp"

namespace pmap::kernels {

/// Holds the metadata every built-in kernel declares; subclasses implement run().
class BasicKernel : public Kernel {
 public:
  BasicKernel(std::string name, std::string description, std::vector<ArgSpec> args,
              std::vector<std::string> columns)
      : name_(std::move(name)),
        description_(std::move(description)),
        args_(std::move(args)),
        columns_(std::move(columns)) {}
  [[nodiscard]] std::string_view name() const override { return name_; }
  [[nodiscard]] std::string_view description() const override { return description_; }
  [[nodiscard]] const std::vector<ArgSpec>& arguments() const override { return args_; }
  [[nodiscard]] const std::vector<std::string>& columns() const override { return columns_; }

 private:
  std::string name_;
  std::string description_;
  std::vector<ArgSpec> args_;
  std::vector<std::string> columns_;
};

/// splitmix64: the seed mixer of the kernels' random streams (pi, skew).
inline std::uint64_t splitmix64(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// CPU time of the calling thread, in seconds.
inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

/// Burns `seconds` of this thread's CPU time (real work, not a sleep: oversubscribed threads
/// take longer in wall time, as real kernels do); returns early once ctx.should_stop().
inline void burn_cpu(double seconds, const KernelContext& ctx) {
  if (seconds <= 0) return;
  const double until = thread_cpu_seconds() + seconds;
  volatile double sink = 0;
  while (thread_cpu_seconds() < until && !ctx.should_stop()) {
    for (int i = 0; i < 2000; ++i) sink = sink + 1e-9 * i;
  }
}

std::unique_ptr<Kernel> make_compute_x();
std::unique_ptr<Kernel> make_spin();
std::unique_ptr<Kernel> make_pi();
std::unique_ptr<Kernel> make_mandelbrot();
std::unique_ptr<Kernel> make_skew();
std::unique_ptr<Kernel> make_exec();
std::unique_ptr<Kernel> make_worker();

}  // namespace pmap::kernels
