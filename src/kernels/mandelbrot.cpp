// mandelbrot: one image row per item; the cost varies strongly from row to row, which makes it
// the load-balancing showcase.
#include <string>

#include "builtin.hpp"
#include "pmap/error.hpp"

namespace pmap::kernels {
namespace {

class Mandelbrot final : public BasicKernel {
 public:
  Mandelbrot()
      : BasicKernel("mandelbrot",
                    "row `item` of a width x height Mandelbrot image over [-2,0.5]x[-1.25,1.25]; "
                    "returns the row's total iterations, points inside, and the row's maximum",
                    {{"width", ArgType::Int, std::int64_t{2048}, "pixels per row"},
                     {"height", ArgType::Int, std::int64_t{2048}, "rows (items 0..height-1)"},
                     {"max_iter", ArgType::Int, std::int64_t{1000}, "iteration cap per pixel"}},
                    {"iterations", "inside", "max_iterations"}) {}

  void run(const Item& item, const BoundArgs& args, std::span<double> out,
           const KernelContext& ctx) const override {
    const auto width = args.get_int("width");
    const auto height = args.get_int("height");
    const auto max_iter = args.get_int("max_iter");
    if (width <= 0 || height <= 0 || max_iter <= 0) {
      throw ItemError("width, height and max_iter must be positive");
    }
    const auto row = item.as_int();
    if (row < 0 || row >= height) {
      throw ItemError("row " + std::to_string(row) + " is outside 0.." +
                      std::to_string(height - 1));
    }
    const double ci = -1.25 + 2.5 * (static_cast<double>(row) + 0.5) / static_cast<double>(height);
    std::int64_t total = 0;
    std::int64_t inside = 0;
    std::int64_t row_max = 0;
    for (std::int64_t px = 0; px < width; ++px) {
      if ((px & 63) == 0 && ctx.should_stop()) throw ItemError("stopped");
      const double cr = -2.0 + 2.5 * (static_cast<double>(px) + 0.5) / static_cast<double>(width);
      double zr = 0;
      double zi = 0;
      std::int64_t n = 0;
      while (n < max_iter && zr * zr + zi * zi <= 4.0) {
        const double t = zr * zr - zi * zi + cr;
        zi = 2.0 * zr * zi + ci;
        zr = t;
        ++n;
      }
      total += n;
      inside += (n == max_iter) ? 1 : 0;
      row_max = n > row_max ? n : row_max;
    }
    out[0] = static_cast<double>(total);
    out[1] = static_cast<double>(inside);
    out[2] = static_cast<double>(row_max);
  }
};

}  // namespace

std::unique_ptr<Kernel> make_mandelbrot() { return std::make_unique<Mandelbrot>(); }

}  // namespace pmap::kernels
