// spin: burns a calibrated amount of CPU time per item (the CPU-bound load of scaling studies).
#include <ctime>

#include "builtin.hpp"

namespace pmap::kernels {
namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

class Spin final : public BasicKernel {
 public:
  Spin()
      : BasicKernel("spin",
                    "burns `seconds` of CPU time (this thread's) per item; returns x "
                    "(the calibrated CPU-bound load of scaling studies)",
                    {{"seconds", ArgType::Double, 0.01, "CPU seconds per item (0: no work)"}},
                    {"x"}) {}

  void run(const Item& item, const BoundArgs& args, std::span<double> out,
           const KernelContext& ctx) const override {
    const double seconds = args.get_double("seconds");
    out[0] = item.as_double();
    if (seconds <= 0) return;
    const double until = thread_cpu_seconds() + seconds;
    volatile double sink = 0;
    while (thread_cpu_seconds() < until && !ctx.should_stop()) {
      for (int i = 0; i < 2000; ++i) sink = sink + 1e-9 * i;
    }
  }
};

}  // namespace

std::unique_ptr<Kernel> make_spin() { return std::make_unique<Spin>(); }

}  // namespace pmap::kernels
