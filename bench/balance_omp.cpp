// OpenMP's own schedules on the skew kernel's item costs, for bench/balance.sh: one process,
// `#pragma omp parallel for schedule(runtime)` over the very kernel object pmap runs, so every
// item burns the same CPU time as under pmap.
//
//   pmap_balance_omp --profile tail --mean 0.005 --n 600 --schedule dynamic --threads 2
//   pmap_balance_omp --profile tail --mean 0.005 --n 600 --item 17    (one item: a GNU parallel
//   job)
//
// Prints one line: omp-report schedule=dynamic,1 threads=2 items=N wall_seconds=W
// busy_seconds=B max_item_seconds=M (busy = sum of the item seconds, as pmap reports it).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "pmap/error.hpp"
#include "pmap/kernel.hpp"

namespace {

struct Options {
  std::string profile = "uniform";
  std::string mean = "0.001";
  std::int64_t n = 1000;
  std::string seed = "0";
  std::string schedule = "dynamic";  // dynamic (chunk 1), guided (chunk 1) or static
  int chunk = 1;
  int threads = 2;
  std::int64_t item = -1;  // >= 0: run this one item only
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const std::string value = argv[i + 1];
    if (key == "--profile") {
      o.profile = value;
    } else if (key == "--mean") {
      o.mean = value;
    } else if (key == "--n") {
      o.n = std::stoll(value);
    } else if (key == "--seed") {
      o.seed = value;
    } else if (key == "--schedule") {
      o.schedule = value;
    } else if (key == "--chunk") {
      o.chunk = std::stoi(value);
    } else if (key == "--threads") {
      o.threads = std::stoi(value);
    } else if (key == "--item") {
      o.item = std::stoll(value);
    } else {
      throw pmap::UsageError(key + ": unknown option (see the head of bench/balance_omp.cpp)");
    }
  }
  if (argc % 2 == 0) throw pmap::UsageError("options come in pairs: --key value");
  if (o.schedule != "dynamic" && o.schedule != "guided" && o.schedule != "static") {
    throw pmap::UsageError("--schedule " + o.schedule + ": use dynamic, guided or static");
  }
  return o;
}

double run_item(const pmap::Kernel& k, const pmap::BoundArgs& args, std::int64_t i) {
  pmap::Item item;
  item.row = static_cast<std::uint64_t>(i);
  item.value = i;
  std::vector<double> out(3);
  const auto t0 = std::chrono::steady_clock::now();
  k.run(item, args, out, pmap::KernelContext());
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void run_all(const Options& o, const pmap::Kernel& k, const pmap::BoundArgs& args) {
  const omp_sched_t kind = o.schedule == "dynamic"  ? omp_sched_dynamic
                           : o.schedule == "guided" ? omp_sched_guided
                                                    : omp_sched_static;
  omp_set_schedule(kind, o.schedule == "static" ? 0 : o.chunk);
  std::vector<double> seconds(static_cast<std::size_t>(o.n));
  const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(runtime) num_threads(o.threads)
  for (std::int64_t i = 0; i < o.n; ++i)
    seconds[static_cast<std::size_t>(i)] = run_item(k, args, i);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double busy = 0;
  for (const double s : seconds) busy += s;
  const double longest = seconds.empty() ? 0 : *std::max_element(seconds.begin(), seconds.end());
  std::printf(
      "omp-report schedule=%s,%d threads=%d items=%lld wall_seconds=%.6f busy_seconds=%.6f "
      "max_item_seconds=%.6f\n",
      o.schedule.c_str(), o.schedule == "static" ? 0 : o.chunk, o.threads,
      static_cast<long long>(o.n), wall, busy, longest);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    const pmap::Kernel& k = pmap::find_kernel("skew");
    const auto args = pmap::bind_args(k, {"profile=" + o.profile, "mean=" + o.mean,
                                          "n=" + std::to_string(o.n), "seed=" + o.seed});
    (void)k.output_columns(args);  // checks the profile and the numbers
    if (o.item >= 0) {
      std::printf("item=%lld seconds=%.6f\n", static_cast<long long>(o.item),
                  run_item(k, args, o.item));
    } else {
      run_all(o, k, args);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pmap_balance_omp: %s\n", e.what());
    return 2;
  }
}
