// pmap — one event loop of the URL stage: a multi handle driving many requests at once (private).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "curl_handle.hpp"
#include "pmap/url_check.hpp"
#include "resource_wait.hpp"
#include "tls_trust.hpp"
#include "url_queue.hpp"
#include "url_run.hpp"
#include "url_transfer.hpp"

namespace pmap::detail {

/// A thread's event loop: up to `slots` URLs in flight on one multi handle, so that requests to
/// a host share its connections (kept between URLs), HTTP/2 streams share a connection, and the
/// CA store is parsed once per loop. Each slot takes a job from the queue, makes its attempts
/// (the Head->Get fallback, retries after a back-off or Retry-After, waits for descriptors) and
/// reports it; the loop wakes on sockets, on the next timer, when the queue has work for it
/// (wake()), and at least every 100 ms to look at the stop flag.
class UrlLoop {
 public:
  UrlLoop(int id, int slots, const UrlOptions& options, const CurlShareBank& shares,
          const TlsTrust& trust, UrlQueue& queue, UrlRun& run);
  UrlLoop(const UrlLoop&) = delete;
  UrlLoop& operator=(const UrlLoop&) = delete;
  ~UrlLoop();

  /// Runs until the queue is done and every slot is idle, or the run stops (slots in flight are
  /// then reported "interrupted"). Never throws: a failure goes to the run.
  void run() noexcept;

  /// Interrupts the loop's wait (thread-safe, callable from any thread).
  void wake() noexcept;

 private:
  using Clock = std::chrono::steady_clock;
  enum class State { Idle, Running, Waiting };
  struct Slot {
    std::unique_ptr<UrlTransfer> transfer;  // made on first use
    State state = State::Idle;
    UrlQueue::Job job;
    std::string request_url;
    CURLSH* shared = nullptr;  // the host's share object
    UrlResult result;
    HttpMethod method = HttpMethod::Get;
    bool fell_back = false;
    int retries_done = 0;
    int replays_done = 0;  // requests the server never processed, sent again
    std::optional<ResourceWait> starved;
    Clock::time_point started;
    Clock::time_point wake_at;
  };

  void loop();
  bool fill();
  void start_url(Slot& slot);
  void start_attempt(Slot& slot);
  void end_attempt(Slot& slot, CURLcode code, bool cut, bool interrupted);
  void on_attempt(Slot& slot, const UrlAttempt& attempt);
  void wait_then_retry(Slot& slot, double seconds);
  void replay(Slot& slot);
  void finish_url(Slot& slot);
  void transfer_step();
  void start_due_waits();
  void interrupt_all();
  [[nodiscard]] int poll_timeout_ms() const;

  int id_;
  const UrlOptions& options_;
  const CurlShareBank& shares_;
  const TlsTrust& trust_;
  UrlQueue& queue_;
  UrlRun& run_;
  std::mt19937_64 random_;
  CurlMulti multi_;  // declared before the slots: their easy handles go first
  std::vector<UrlTransfer*> cut_;
  std::vector<Slot> slots_;
  int busy_ = 0;      // slots not Idle
  bool done_ = false;  // the queue has nothing more for this loop
  bool freed_ = false;  // a slot became idle since the last fill()
};

}  // namespace pmap::detail
