// pi: Monte Carlo estimate of pi; the random stream is keyed by (seed, item) only, so the value
// never depends on ranks, threads or the schedule.
#include <cstdint>

#include "builtin.hpp"
#include "pmap/error.hpp"

namespace pmap::kernels {
namespace {

/// xoshiro256** seeded through splitmix64.
class Xoshiro {
 public:
  explicit Xoshiro(std::uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
  }
  std::uint64_t next() {
    const std::uint64_t r = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return r;
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4]{};
};

class Pi final : public BasicKernel {
 public:
  Pi()
      : BasicKernel(
            "pi", "Monte Carlo estimate of pi from `samples` points; stream keyed by (seed, item)",
            {{"samples", ArgType::Int, std::int64_t{1000000}, "random points per item"},
             {"seed", ArgType::Int, std::int64_t{0}, "seed of the random streams"}},
            {"estimate", "hits"}) {}

  void run(const Item& item, const BoundArgs& args, std::span<double> out,
           const KernelContext& ctx) const override {
    const auto samples = args.get_int("samples");
    if (samples <= 0) throw ItemError("samples must be positive");
    std::uint64_t key = static_cast<std::uint64_t>(args.get_int("seed"));
    const std::uint64_t a = splitmix64(key);
    std::uint64_t k2 = a ^ static_cast<std::uint64_t>(item.as_int());
    Xoshiro rng(splitmix64(k2));
    std::int64_t hits = 0;
    for (std::int64_t i = 0; i < samples; ++i) {
      if ((i & 0xffff) == 0 && i != 0 && ctx.should_stop()) throw ItemError("stopped");
      const double x = rng.uniform();
      const double y = rng.uniform();
      hits += (x * x + y * y < 1.0) ? 1 : 0;
    }
    out[0] = 4.0 * static_cast<double>(hits) / static_cast<double>(samples);
    out[1] = static_cast<double>(hits);
  }
};

}  // namespace

std::unique_ptr<Kernel> make_pi() { return std::make_unique<Pi>(); }

}  // namespace pmap::kernels
