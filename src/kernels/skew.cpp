// skew: burns a CPU cost per item that follows a chosen profile (the shapes of load balancing):
// uniform, increasing, decreasing, a peak in the middle, a few huge items at the end or at the
// start, bimodal, heavy-tailed (Pareto) and random. The cost is deterministic from (item, seed,
// profile, mean, n), and so are the values, whatever the ranks, threads or schedule.
#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "builtin.hpp"
#include "pmap/error.hpp"

namespace pmap::kernels {
namespace {

/// The profiles, in the order `pmap kernels` lists them.
constexpr std::array<std::string_view, 9> kProfiles = {
    "uniform", "increasing", "decreasing", "peak", "tail", "head", "bimodal", "pareto", "random"};

/// Items at each end that the tail and head profiles make huge: 1% of the period, at least one.
std::int64_t few(std::int64_t n) { return std::max<std::int64_t>(1, n / 100); }

/// Cost of the huge items of tail/head relative to the others.
constexpr double kHuge = 30.0;

/// The draw of an item: uniform in [0, 1), keyed by (seed, item) only.
double draw(std::int64_t seed, std::int64_t item) {
  std::uint64_t s = static_cast<std::uint64_t>(seed);
  std::uint64_t k = splitmix64(s) ^ static_cast<std::uint64_t>(item);
  return static_cast<double>(splitmix64(k) >> 11) * 0x1.0p-53;
}

/// Weight of the item at position p of a period of n (mean 1 over the period, or in
/// expectation for the random profiles); u is the item's draw.
double weight(std::string_view profile, std::int64_t p, std::int64_t n, double u) {
  const double x = (static_cast<double>(p) + 0.5) / static_cast<double>(n);
  if (profile == "uniform") return 1.0;
  if (profile == "increasing") return 0.1 + 1.8 * x;
  if (profile == "decreasing") return 0.1 + 1.8 * (1.0 - x);
  if (profile == "peak") {
    // A Gaussian bump (sigma 0.08) on a floor of 0.2; the bump carries 80% of the work.
    constexpr double kSigma = 0.08;
    const double area = kSigma * std::sqrt(2.0 * M_PI) * std::erf(0.5 / (kSigma * std::sqrt(2.0)));
    const double z = (x - 0.5) / kSigma;
    return 0.2 + 0.8 / area * std::exp(-0.5 * z * z);
  }
  if (profile == "tail" || profile == "head") {
    const std::int64_t c = few(n);
    const double base = static_cast<double>(n) / (static_cast<double>(n - c) + kHuge * c);
    const bool huge = profile == "tail" ? p >= n - c : p < c;
    return huge ? kHuge * base : base;
  }
  if (profile == "bimodal") return u < 0.2 ? 4.0 : 0.25;  // 20% heavy: 0.2 x 4 + 0.8 x 0.25 = 1
  if (profile == "pareto") {
    // Pareto with alpha 1.5 (infinite variance), capped at 100 x its minimum; E[min(X, 100)]
    // = 3 - 100^-0.5 / 0.5 = 2.8 for a minimum of 1.
    return std::min(std::pow(1.0 - u, -1.0 / 1.5), 100.0) / 2.8;
  }
  if (profile == "random") return 2.0 * u;  // uniform in [0, 2)
  throw ItemError("unknown profile '" + std::string(profile) + "'");
}

std::string profile_list() {
  std::string s;
  for (const auto p : kProfiles) s += (s.empty() ? "" : ", ") + std::string(p);
  return s;
}

class Skew final : public BasicKernel {
 public:
  Skew()
      : BasicKernel(
            "skew",
            "burns CPU time per item following a cost profile over a period of n items (item i "
            "sits at position i mod n): " +
                profile_list() +
                "; tail/head: the last/first 1% cost 30x the rest. Returns x, the planned CPU "
                "seconds and the item's draw in [0,1) (keyed by seed and item). Without "
                "--range/--input it runs over 0..n-1",
            {{"mean", ArgType::Double, 0.001, "mean CPU seconds per item over the period"},
             {"profile", ArgType::String, std::string("uniform"), "the cost shape (see above)"},
             {"n", ArgType::Int, std::int64_t{1000}, "items in one period of the profile"},
             {"seed", ArgType::Int, std::int64_t{0}, "seed of the random profiles"}},
            {"x", "seconds", "draw"}) {}

  std::vector<std::string> output_columns(const BoundArgs& args) const override {
    const auto& profile = args.get_string("profile");
    if (std::find(kProfiles.begin(), kProfiles.end(), profile) == kProfiles.end()) {
      throw UsageError("args", "profile=" + profile,
                       "unknown profile (kernel skew takes: " + profile_list() + ")");
    }
    if (args.get_int("n") < 1) {
      throw UsageError("args", "n=" + std::to_string(args.get_int("n")),
                       "must be at least 1 (items per period)");
    }
    const double mean = args.get_double("mean");
    if (!(mean >= 0) || !std::isfinite(mean)) {
      throw UsageError("args", "mean=" + std::to_string(mean),
                       "must be a finite number of seconds, at least 0");
    }
    return columns();
  }

  void run(const Item& item, const BoundArgs& args, std::span<double> out,
           const KernelContext& ctx) const override {
    const std::int64_t x = item.as_int();
    const std::int64_t n = args.get_int("n");
    const double mean = args.get_double("mean");
    if (n < 1 || !(mean >= 0)) throw ItemError("n must be at least 1 and mean at least 0");
    const std::int64_t p = ((x % n) + n) % n;
    const double u = draw(args.get_int("seed"), x);
    const double seconds = mean * weight(args.get_string("profile"), p, n, u);
    out[0] = static_cast<double>(x);
    out[1] = seconds;
    out[2] = u;
    burn_cpu(seconds, ctx);
  }
};

}  // namespace

std::unique_ptr<Kernel> make_skew() { return std::make_unique<Skew>(); }

}  // namespace pmap::kernels
