// compute_x: the tutorial's example, `sleep(0.8); return (x, y)`.
#include <string>

#include "builtin.hpp"
#include "pmap/error.hpp"

namespace pmap::kernels {
namespace {

class ComputeX final : public BasicKernel {
 public:
  ComputeX()
      : BasicKernel("compute_x", "the tutorial's example: sleeps `sleep` seconds, returns (x, y)",
                    {{"y", ArgType::Double, 2.0, "second output, bound like functools.partial"},
                     {"sleep", ArgType::Double, 0.8, "seconds to sleep per item"},
                     {"fail_every", ArgType::Int, std::int64_t{0},
                      "fail items whose x is a multiple of this (0: never); for tests and demos"}},
                    {"x", "y"}) {}

  void run(const Item& item, const BoundArgs& args, std::span<double> out,
           const KernelContext& ctx) const override {
    // Over a sweep, x is the field called x (else the first field, or the item itself).
    const auto field = item.fields.find("x");
    const double x = field ? item.fields.as_double(*field) : item.as_double();
    const auto every = args.get_int("fail_every");
    const auto x_int = [&] { return field ? item.fields.as_int(*field) : item.as_int(); };
    if (every > 0 && x_int() % every == 0) {
      throw ItemError("x=" + std::to_string(x_int()) +
                      " is a multiple of fail_every=" + std::to_string(every));
    }
    ctx.sleep_for(args.get_double("sleep"));
    out[0] = x;
    out[1] = args.get_double("y");
  }
};

}  // namespace

std::unique_ptr<Kernel> make_compute_x() { return std::make_unique<ComputeX>(); }

}  // namespace pmap::kernels
