// pmap — one event loop of the URL stage (see url_loop.hpp).
#include "url_loop.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <span>
#include <utility>

#include "url_request.hpp"

namespace pmap::detail {

namespace {

// Longest wait between looks at the stop flag.
constexpr long poll_slice_ms = 100;
// Connections a loop keeps alive for reuse, per slot (their share of kFdsPerUrlThread): enough
// for a list that cycles over a few dozen hosts to find its connections again.
constexpr long kept_connections_per_slot = 4;
constexpr std::string_view interrupted_text = "interrupted";
// Times a request the server never processed is sent again, whatever --retries says: not a
// retry of a failed request but of one that lost a race with its connection's end.
constexpr int max_replays = 3;

bool retryable_status(long status) {
  return status == 408 || status == 429 || status == 502 || status == 503 || status == 504;
}

/// Transport failures worth another try: the server refused, reset or went quiet mid-answer.
/// Timeouts are not among them: one already spent the URL's whole budget.
bool retryable_code(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

Verdict verdict_of(long status) {
  if (status == 200) return Verdict::Exists;
  if (status == 404) return Verdict::DoesNotExist;
  return Verdict::Unknown;
}

}  // namespace

UrlLoop::UrlLoop(int id, int slots, const UrlOptions& options, const CurlShareBank& shares,
                 const TlsTrust& trust, UrlQueue& queue, UrlRun& run)
    : id_(id),
      options_(options),
      shares_(shares),
      trust_(trust),
      queue_(queue),
      run_(run),
      random_(std::random_device{}()),
      multi_(make_curl_multi()),
      slots_(static_cast<std::size_t>(std::max(slots, 1))) {
  curl_check(curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS,
                               kept_connections_per_slot * static_cast<long>(slots_.size())),
             "CURLMOPT_MAXCONNECTS");
  curl_check(curl_multi_setopt(multi_.get(), CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX),
             "CURLMOPT_PIPELINING");
  cut_.reserve(slots_.size());
}

UrlLoop::~UrlLoop() {
  for (Slot& slot : slots_) {  // every handle out of the multi before either goes
    if (slot.state == State::Running) curl_multi_remove_handle(multi_.get(), slot.transfer->easy());
  }
}

void UrlLoop::wake() noexcept { curl_multi_wakeup(multi_.get()); }

void UrlLoop::run() noexcept {
  try {
    loop();
  } catch (...) {
    run_.fail(std::current_exception());  // never let an exception leave a loop's thread
  }
}

void UrlLoop::loop() {
  for (;;) {
    if (run_.stopping()) {
      interrupt_all();
      return;
    }
    start_due_waits();
    if (!done_) done_ = !fill();
    if (busy_ == 0 && done_) return;
    transfer_step();
    if (busy_ == 0 && done_) return;  // the last transfers just ended: no wait for sockets
    curl_check(curl_multi_poll(multi_.get(), nullptr, 0, poll_timeout_ms(), nullptr),
               "curl_multi_poll");
  }
}

/// Idle slots take jobs; false once the queue has nothing more for this loop.
bool UrlLoop::fill() {
  freed_ = false;
  for (Slot& slot : slots_) {
    if (slot.state != State::Idle) continue;
    switch (queue_.try_acquire(id_, slot.job)) {
      case UrlQueue::Take::Job:
        start_url(slot);
        break;
      case UrlQueue::Take::Empty:
        return true;
      case UrlQueue::Take::Done:
        return false;
    }
  }
  return true;
}

void UrlLoop::start_url(Slot& slot) {
  if (!slot.transfer) {
    slot.transfer = std::make_unique<UrlTransfer>(options_, trust_, &slot, cut_);
  }
  slot.request_url = to_request_url(slot.job.url).url;  // valid: checked before it was queued
  slot.shared = shares_.for_host(slot.job.host);
  slot.result = UrlResult{};
  slot.method = options_.method;
  slot.fell_back = false;
  slot.retries_done = 0;
  slot.replays_done = 0;
  slot.starved.emplace(options_.resource_wait);
  slot.started = Clock::now();
  ++busy_;
  start_attempt(slot);
}

void UrlLoop::start_attempt(Slot& slot) {
  slot.transfer->prepare(slot.request_url, slot.method, slot.shared);
  curl_check(curl_multi_add_handle(multi_.get(), slot.transfer->easy()), "curl_multi_add_handle");
  slot.state = State::Running;
}

/// Takes the slot's handle out of the multi handle (which ends its transfer if still running)
/// and acts on what the attempt came to.
void UrlLoop::end_attempt(Slot& slot, CURLcode code, bool cut, bool interrupted) {
  curl_multi_remove_handle(multi_.get(), slot.transfer->easy());
  slot.state = State::Waiting;  // until on_attempt decides
  on_attempt(slot, slot.transfer->finish(code, cut, interrupted));
}

void UrlLoop::on_attempt(Slot& slot, const UrlAttempt& attempt) {
  UrlResult& result = slot.result;
  if (attempt.starved) {  // not an answer, not an attempt: wait and make it again
    wait_then_retry(slot, slot.starved->next_wait(slot.job.url, attempt.error, random_));
    return;
  }
  ++result.attempts;
  if (attempt.unprocessed && slot.replays_done < max_replays) {
    replay(slot);
    return;
  }
  result.http_status = static_cast<std::int32_t>(attempt.status);
  result.final_url = attempt.final_url;
  if (attempt.interrupted) {
    result.verdict = Verdict::Unknown;
    result.error = interrupted_text;
    finish_url(slot);
    return;
  }
  if (attempt.complete && slot.method == HttpMethod::Head && !slot.fell_back &&
      (attempt.status == 405 || attempt.status == 501)) {
    slot.method = HttpMethod::Get;
    slot.fell_back = true;
    start_attempt(slot);
    return;
  }
  result.verdict = attempt.complete ? verdict_of(attempt.status) : Verdict::Unknown;
  result.error = attempt.complete ? std::string() : attempt.error;
  const bool transient =
      attempt.complete ? retryable_status(attempt.status) : retryable_code(attempt.code);
  if (!transient || slot.retries_done >= options_.retries) {
    finish_url(slot);
    return;
  }
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  const double backoff = std::min(
      options_.backoff_base * std::ldexp(1.0, std::min(slot.retries_done, 30)) * jitter(random_),
      options_.retry_after_cap);
  ++slot.retries_done;
  wait_then_retry(slot, attempt.retry_after > 0
                            ? std::min(attempt.retry_after, options_.retry_after_cap)
                            : backoff);
}

void UrlLoop::wait_then_retry(Slot& slot, double seconds) {
  slot.state = State::Waiting;
  slot.wake_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(seconds));
}

/// Sends the request again on a new easy handle: libcurl counts its own reconnects per handle,
/// so a reused one would give up at once.
void UrlLoop::replay(Slot& slot) {
  ++slot.replays_done;
  std::erase(cut_, slot.transfer.get());
  slot.transfer = std::make_unique<UrlTransfer>(options_, trust_, &slot, cut_);
  start_attempt(slot);
}

void UrlLoop::finish_url(Slot& slot) {
  UrlResult& result = slot.result;
  result.seconds = std::chrono::duration<double>(Clock::now() - slot.started).count();
  result.url = std::move(slot.job.url);
  const std::size_t first = slot.job.index;
  run_.report(std::span(&first, 1), result);
  // Forgotten only once reported: a copy read later goes to on_repeat, after the result.
  const std::vector<std::size_t> merged = queue_.finish(slot.job);
  run_.report(merged, result);
  slot.state = State::Idle;
  --busy_;
  freed_ = true;
}

/// Lets curl move every transfer on, then ends those that are done or whose verdict is known.
void UrlLoop::transfer_step() {
  int running = 0;
  curl_check(curl_multi_perform(multi_.get(), &running), "curl_multi_perform");
  int queued = 0;
  while (const CURLMsg* message = curl_multi_info_read(multi_.get(), &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    void* owner = nullptr;
    curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &owner);
    const CURLcode code = message->data.result;  // read before the handle leaves the multi
    end_attempt(*static_cast<Slot*>(owner), code, false, false);
  }
  // The verdict is known at the final headers: the body is never waited for. Removing the
  // handle ends the transfer (an HTTP/2 stream is reset; an HTTP/1.1 connection whose body was
  // not all read is closed).
  std::vector<UrlTransfer*> cut;
  cut.swap(cut_);
  for (UrlTransfer* transfer : cut) {
    void* owner = nullptr;
    curl_easy_getinfo(transfer->easy(), CURLINFO_PRIVATE, &owner);
    Slot& slot = *static_cast<Slot*>(owner);
    if (slot.state == State::Running && transfer->final_headers()) {
      end_attempt(slot, CURLE_GOT_NOTHING, true, false);
    }
  }
  cut.clear();
  if (cut_.empty()) cut_.swap(cut);  // keep the reserved capacity
}

void UrlLoop::start_due_waits() {
  const auto now = Clock::now();
  for (Slot& slot : slots_) {
    if (slot.state == State::Waiting && slot.wake_at <= now) start_attempt(slot);
  }
}

/// Stopping: every URL in flight or waiting ends as "interrupted"; nothing new starts.
void UrlLoop::interrupt_all() {
  for (Slot& slot : slots_) {
    if (slot.state == State::Running) {
      end_attempt(slot, CURLE_GOT_NOTHING, false, true);
    } else if (slot.state == State::Waiting) {
      slot.result.verdict = Verdict::Unknown;
      slot.result.error = interrupted_text;
      finish_url(slot);
    }
  }
}

int UrlLoop::poll_timeout_ms() const {
  // A slot freed since the last fill() takes its next job without waiting for sockets.
  if (!cut_.empty() || (freed_ && !done_)) return 0;
  auto wait = std::chrono::milliseconds(poll_slice_ms);
  const auto now = Clock::now();
  for (const Slot& slot : slots_) {
    if (slot.state != State::Waiting) continue;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(slot.wake_at - now);
    wait = std::clamp(left, std::chrono::milliseconds(0), wait);
  }
  return static_cast<int>(wait.count());
}

}  // namespace pmap::detail
