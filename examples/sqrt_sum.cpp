// The CPU-bound benchmark function (W3) with the C++ API: 200 items, item x = 1..200, each the
// sum of sqrt(i * x) for i < 200,000, mapped over every rank and thread.
//
//   mpirun -np 2 ./sqrt_sum                      # 2 ranks, threads from the cores per rank
//   ./sqrt_sum --threads 2 --repeat 5            # one rank, 2 threads, best of 5 maps
//   ./sqrt_sum --output w3.h5                    # keep the HDF5 results file
//   ./sqrt_sum --kernel strict                   # Python's order of additions, bit for bit
//
// Two versions of the function: `strict` adds the terms in order, like the Python (and Numba)
// reference, so the values are identical bit for bit; `simd` (the default) lets the compiler
// keep several partial sums in vector registers (`#pragma omp simd reduction`; an AVX2 clone is
// picked at run time on x86-64), which changes the last bits (relative difference ~1e-15). The
// build compiles this file with -fno-math-errno: sqrt of a non-negative number never sets errno,
// and without the flag GCC does not vectorise sqrt.
//
// Prints the map time of each repetition and one parsable line; exits 1 if a value differs from
// a serial recomputation (a self-check, like LULESH's) or from the strict sum by more than 1e-12.
#include <pmap/map.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace {

/// sum(math.sqrt(i * x) for i in range(terms)): the same additions in the same order as the
/// Python reference, so the values agree bit for bit.
double sqrt_sum_strict(double x, long terms) {
  double s = 0.0;
  for (long i = 0; i < terms; ++i) s += std::sqrt(static_cast<double>(i) * x);
  return s;
}

/// The same sum with the additions reassociated into vector lanes.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default")))
#endif
double
sqrt_sum_simd(double x, long terms) {
  double s = 0.0;
  const int n = static_cast<int>(terms);  // an int converts to double in vector registers
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; ++i) s += std::sqrt(static_cast<double>(i) * x);
  return s;
}

struct Args {
  std::optional<int> threads;
  long items = 200;
  long terms = 200000;
  int repeat = 1;
  std::string output;
  bool strict = false;
  pmap::Collect collect = pmap::Collect::EveryRank;
  std::uint64_t chunk = 0;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (v == nullptr) {
      std::fprintf(stderr, "sqrt_sum: %s needs a value\n", k.c_str());
      std::exit(2);
    }
    if (k == "--threads") {
      a.threads = std::atoi(v);
    } else if (k == "--items") {
      a.items = std::atol(v);
    } else if (k == "--terms") {
      a.terms = std::atol(v);
    } else if (k == "--repeat") {
      a.repeat = std::max(1, std::atoi(v));
    } else if (k == "--output") {
      a.output = v;
    } else if (k == "--chunk") {
      a.chunk = std::strtoull(v, nullptr, 10);
    } else if (k == "--collect" && std::strcmp(v, "none") == 0) {
      a.collect = pmap::Collect::None;  // results only in the file (no self-check)
    } else if (k == "--collect" && std::strcmp(v, "every") == 0) {
      a.collect = pmap::Collect::EveryRank;
    } else if (k == "--collect" && std::strcmp(v, "root") == 0) {
      a.collect = pmap::Collect::Root;
    } else if (k == "--kernel" && (std::strcmp(v, "strict") == 0 || std::strcmp(v, "simd") == 0)) {
      a.strict = std::strcmp(v, "strict") == 0;
    } else {
      std::fprintf(stderr,
                   "usage: sqrt_sum [--threads N] [--items N] [--terms M] [--repeat R] "
                   "[--output FILE.h5] [--kernel simd|strict] [--collect every|root|none] "
                   "[--chunk N]\n");
      std::exit(2);
    }
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  pmap::Session session(argc, argv);
  const Args a = parse(argc, argv);
  double (*const sqrt_sum)(double, long) = a.strict ? sqrt_sum_strict : sqrt_sum_simd;

  std::vector<double> xs(static_cast<std::size_t>(a.items));
  for (std::size_t j = 0; j < xs.size(); ++j) xs[j] = static_cast<double>(j + 1);

  pmap::MapOptions opt;
  opt.threads = a.threads;
  opt.columns = {"sum"};
  opt.name = "sqrt_sum";
  opt.force = true;
  opt.collect = a.collect;
  opt.chunk = a.chunk;  // 0: automatic
  std::vector<double> times;
  pmap::MapResult<double> r;
  for (int rep = 0; rep < a.repeat; ++rep) {
    opt.output = rep + 1 == a.repeat ? a.output : std::string();  // keep the last run's file
    const auto t0 = std::chrono::steady_clock::now();
    r = pmap::map(session, xs, pmap::partial(sqrt_sum, a.terms), opt);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

  // Self-check on every rank: three values recomputed serially, exactly equal, and within 1e-12
  // of the strict order.
  int bad = r.ok() ? 0 : 1;
  for (const std::size_t j : {std::size_t{0}, xs.size() / 2, xs.size() - 1}) {
    if (j >= r.values.size()) continue;
    const double strict = sqrt_sum_strict(xs[j], a.terms);
    if (r.values[j] != sqrt_sum(xs[j], a.terms)) bad = 1;
    if (std::fabs(r.values[j] - strict) > 1e-12 * std::fabs(strict)) bad = 1;
  }
  double checksum = 0;
  for (const double v : r.values) checksum += v;
  if (session.is_root()) {
    std::vector<double> sorted = times;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < times.size(); ++i)
      std::printf("map %zu: %.4f s\n", i + 1, times[i]);
    std::printf(
        "sqrt_sum kernel=%s ranks=%d threads=%d items=%ld terms=%ld map_seconds_min=%.4f "
        "map_seconds_median=%.4f run_wall_seconds=%.4f checksum=%.9e check=%s\n",
        a.strict ? "strict" : "simd", session.size(), r.report.threads, a.items, a.terms,
        sorted.front(), sorted[sorted.size() / 2], r.report.wall_seconds, checksum,
        bad ? "FAILED" : "ok");
  }
  return bad;
}
