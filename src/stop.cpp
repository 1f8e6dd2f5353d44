#include "pmap/stop.hpp"

#include <csignal>

namespace pmap {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free, "stop flag must be lock-free for handlers");

extern "C" void on_stop_signal(int sig) {
  g_signal.store(sig, std::memory_order_relaxed);
  g_stop.store(true, std::memory_order_relaxed);
}

}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGUSR1}) sigaction(sig, &sa, nullptr);
}

void request_stop(int signal) noexcept {
  if (signal != 0) g_signal.store(signal, std::memory_order_relaxed);
  g_stop.store(true, std::memory_order_relaxed);
}

bool stop_requested() noexcept { return g_stop.load(std::memory_order_relaxed); }
int stop_signal() noexcept { return g_signal.load(std::memory_order_relaxed); }
const std::atomic<bool>* stop_flag() noexcept { return &g_stop; }

void reset_stop() noexcept {
  g_stop.store(false);
  g_signal.store(0);
}

}  // namespace pmap
