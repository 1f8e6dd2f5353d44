// spin: burns a calibrated amount of CPU time per item (the CPU-bound load of scaling studies).
#include "builtin.hpp"

namespace pmap::kernels {
namespace {

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
    burn_cpu(seconds, ctx);
  }
};

}  // namespace

std::unique_ptr<Kernel> make_spin() { return std::make_unique<Spin>(); }

}  // namespace pmap::kernels
