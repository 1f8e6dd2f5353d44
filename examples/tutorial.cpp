// The tutorial's example with the C++ API: compute_x(x, y) sleeps and returns (x, y) for
// x = 1..10 with y bound like functools.partial; results stream to rank 0 as they finish, come
// back in order on every rank, and stay in tutorial.h5.
//
//   mpirun -np 4 ./tutorial            # 10 items of 0.8 s on 4 ranks: about 2.4 s
//   ./tutorial --sleep 0.05 --fail 7   # quicker, and item 7 throws to show a failure
#include <pmap/map.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

/// What compute_x returns: a struct of numbers becomes the columns x and y.
struct XY {
  double x;
  double y;
};

XY compute_x(int x, double y, double sleep_seconds, int fail) {
  std::this_thread::sleep_for(std::chrono::duration<double>(sleep_seconds));
  if (x == fail) throw std::runtime_error("item " + std::to_string(x) + " fails on purpose");
  return {static_cast<double>(x), y};
}

}  // namespace

int main(int argc, char** argv) {
  pmap::Session session(argc, argv);
  double sleep_seconds = 0.8;
  int fail = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--sleep") sleep_seconds = std::atof(argv[i + 1]);
    if (std::string(argv[i]) == "--fail") fail = std::atoi(argv[i + 1]);
  }

  std::vector<int> xs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  pmap::MapOptions opt;
  opt.output = "tutorial.h5";
  opt.force = true;
  opt.columns = {"x", "y"};
  opt.threads = 1;  // sleeping items: one per rank, as the tutorial's processes
  opt.on_result = [](const pmap::Completed& c) {  // rank 0, as results arrive
    if (c.ok()) {
      const XY v = c.value<XY>();
      std::printf("done: x=%g y=%g (rank %d)\n", v.x, v.y, c.rank);
    } else {
      std::printf("failed: item %llu: %s\n", static_cast<unsigned long long>(c.index),
                  std::string(c.error).c_str());
    }
    std::fflush(stdout);
  };
  const auto r = pmap::map(session, xs, pmap::partial(compute_x, 2.0, sleep_seconds, fail), opt);

  if (session.is_root()) {
    std::printf("results in order:");
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (r.status[i] == pmap::ItemStatus::Ok) {
        std::printf(" (%g, %g)", r.values[i].x, r.values[i].y);
      } else {
        std::printf(" (failed)");
      }
    }
    std::printf("\n%llu ok, %zu failed, %.2f s on %d ranks; results in %s\n",
                static_cast<unsigned long long>(r.report.ok), r.failures.size(),
                r.report.wall_seconds, session.size(), r.output.c_str());
  }
  return r.ok() ? 0 : 1;
}
