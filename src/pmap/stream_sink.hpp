// pmap — the C++ API's result stream (internal): finished rows travel to rank 0 in batches and
// meet the user's on_result callback there, in completion order, while the workers compute.
#pragma once

#include <mpi.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pmap/map.hpp"
#include "pmap/mpi.hpp"
#include "pmap/sink.hpp"

namespace pmap::detail {

inline constexpr int kStreamTagData = 1;
inline constexpr int kStreamTagDone = 2;

// --- streaming results to rank 0 ----------------------------------------------------------------

/// Record layout in a batch: row u64, status i8, message length u32, K doubles, message bytes.
constexpr std::size_t kRecordHeader = 8 + 1 + 4;

/// Ships finished items to rank 0 in batches and calls the callback there. Workers append to
/// their own slot (one uncontended mutex per item); a flusher thread per rank swaps the slots
/// every `interval`: ranks > 0 send the batch to rank 0 (Isend, tested with sleeps: no core
/// burnt), rank 0 delivers its own batches and the ones it receives. Memory is bounded: a worker
/// whose slot holds more than kSlotCap bytes waits for the flusher.
class StreamSink final : public RowSink {
 public:
  StreamSink(MPI_Comm comm, std::size_t k, std::function<void(const Completed&)> callback,
             std::chrono::milliseconds interval)
      : comm_(mpi::Comm::dup(comm)),
        rank_(comm_.rank()),
        size_(comm_.size()),
        k_(k),
        callback_(std::move(callback)),
        interval_(std::max(interval, std::chrono::milliseconds(1))) {
    for (auto& s : slots_) s.store(nullptr);
    thread_ = std::thread([this] { loop(); });
  }
  ~StreamSink() override { finish(); }
  StreamSink(const StreamSink&) = delete;
  StreamSink& operator=(const StreamSink&) = delete;

  void put(const RowBatch& batch) override {
    const RowBlock& b = batch.rows;
    auto message = batch.errors.begin();  // in row order
    for (std::uint64_t j = 0; j < b.count; ++j) {
      std::string_view error;
      if (message != batch.errors.end() && message->j == j) error = (message++)->text;
      push(b.begin + j, static_cast<ItemStatus>(b.status[j]), b.value + j * k_, error);
    }
  }

  /// Worker threads: one finished item.
  void push(std::uint64_t row, ItemStatus status, const double* values, std::string_view error) {
    Slot& s = slot();
    std::unique_lock lock(s.mutex);
    const std::size_t at = s.buf.size();
    const auto len = static_cast<std::uint32_t>(std::min<std::size_t>(error.size(), 4096));
    s.buf.resize(at + kRecordHeader + k_ * sizeof(double) + len);
    char* p = s.buf.data() + at;
    const auto st = static_cast<std::int8_t>(status);
    std::memcpy(p, &row, 8);
    std::memcpy(p + 8, &st, 1);
    std::memcpy(p + 9, &len, 4);
    std::memcpy(p + kRecordHeader, values, k_ * sizeof(double));
    if (len > 0) std::memcpy(p + kRecordHeader + k_ * sizeof(double), error.data(), len);
    if (s.buf.size() > kSlotCap) {
      // Back-pressure: wait until the flusher took the slot (the callback is slower than the
      // workers); the run is still correct, just paced by rank 0.
      wake_.notify_one();
      s.drained.wait(lock, [&] { return s.buf.size() <= kSlotCap || stopping_.load(); });
    }
  }

  /// Every rank, after the run: ships what is left; on rank 0, returns once every rank's
  /// results were delivered. Idempotent, noexcept.
  void finish() noexcept {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(wake_mutex_);
      done_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  /// Rank 0: the callback's exception message, if it threw.
  [[nodiscard]] const std::string& callback_error() const noexcept { return callback_error_; }
  /// Rank 0: items delivered.
  [[nodiscard]] std::uint64_t delivered() const noexcept { return delivered_; }

 private:
  static constexpr std::size_t kMaxSlots = 512;
  static constexpr std::size_t kSlotCap = 8u << 20;
  struct Slot {
    std::mutex mutex;
    std::condition_variable drained;
    std::string buf;
  };

  Slot& slot() {
    const int tid = omp_get_thread_num();
    if (tid < 0 || static_cast<std::size_t>(tid) >= kMaxSlots) return shared_slot_;
    Slot* s = slots_[static_cast<std::size_t>(tid)].load(std::memory_order_acquire);
    if (s != nullptr) return *s;
    std::lock_guard lock(owned_mutex_);
    s = slots_[static_cast<std::size_t>(tid)].load(std::memory_order_acquire);
    if (s == nullptr) {
      owned_.push_back(std::make_unique<Slot>());
      s = owned_.back().get();
      slots_[static_cast<std::size_t>(tid)].store(s, std::memory_order_release);
    }
    return *s;
  }

  /// Takes every slot's records.
  std::string collect() {
    std::string batch;
    const auto take = [&batch](Slot& s) {
      {
        std::lock_guard lock(s.mutex);
        if (s.buf.empty()) return;
        if (batch.empty()) {
          batch.swap(s.buf);
        } else {
          batch.append(s.buf);
          s.buf.clear();
        }
      }
      s.drained.notify_all();
    };
    for (auto& p : slots_) {
      if (Slot* s = p.load(std::memory_order_acquire)) take(*s);
    }
    take(shared_slot_);
    return batch;
  }

  void deliver(const std::string& batch, int from) {
    std::size_t pos = 0;
    const std::size_t value_bytes = k_ * sizeof(double);
    std::vector<double> values(k_);
    while (pos + kRecordHeader + value_bytes <= batch.size()) {
      std::uint64_t row = 0;
      std::int8_t st = 0;
      std::uint32_t len = 0;
      std::memcpy(&row, batch.data() + pos, 8);
      std::memcpy(&st, batch.data() + pos + 8, 1);
      std::memcpy(&len, batch.data() + pos + 9, 4);
      std::memcpy(values.data(), batch.data() + pos + kRecordHeader, value_bytes);
      const std::string_view error(batch.data() + pos + kRecordHeader + value_bytes, len);
      pos += kRecordHeader + value_bytes + len;
      ++delivered_;
      if (!callback_error_.empty() || !callback_) continue;
      Completed c;
      c.index = row;
      c.status = static_cast<ItemStatus>(st);
      c.values = std::span<const double>(values.data(), k_);
      c.error = error;
      c.rank = from;
      try {
        callback_(c);
      } catch (const std::exception& e) {
        callback_error_ = e.what();
        if (callback_error_.empty()) callback_error_ = "exception";
      } catch (...) {
        callback_error_ = "unknown exception";
      }
    }
  }

  /// Sends a batch to rank 0 without burning a core while rank 0 is slow to receive.
  void send(const std::string& batch, int tag) {
    MPI_Request req = MPI_REQUEST_NULL;
    mpi::check(MPI_Isend(batch.data(), static_cast<int>(batch.size()), MPI_BYTE, 0, tag,
                         comm_.get(), &req),
               "MPI_Isend (results stream)");
    int flag = 0;
    auto pause = std::chrono::microseconds(20);
    while (true) {
      mpi::check(MPI_Test(&req, &flag, MPI_STATUS_IGNORE), "MPI_Test (results stream)");
      if (flag) return;
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(2000));
    }
  }

  /// Rank 0: receives whatever has arrived; returns true if something did.
  bool receive() {
    bool got = false;
    while (true) {
      int flag = 0;
      MPI_Status st;
      mpi::check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_.get(), &flag, &st),
                 "MPI_Iprobe (results stream)");
      if (!flag) return got;
      int count = 0;
      MPI_Get_count(&st, MPI_BYTE, &count);
      std::string batch(static_cast<std::size_t>(count), '\0');
      mpi::check(MPI_Recv(batch.data(), count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, comm_.get(),
                          MPI_STATUS_IGNORE),
                 "MPI_Recv (results stream)");
      if (st.MPI_TAG == kStreamTagDone) {
        ++ranks_done_;
      } else {
        deliver(batch, st.MPI_SOURCE);
      }
      got = true;
    }
  }

  void loop() noexcept {
    try {
      auto last_flush = std::chrono::steady_clock::now();
      while (true) {
        bool done = false;
        {
          std::unique_lock lock(wake_mutex_);
          // Rank 0 polls for incoming batches every 2 ms; other ranks only ship theirs.
          const auto wait = rank_ == 0 && size_ > 1
                                ? std::min(interval_, std::chrono::milliseconds(2))
                                : interval_;
          wake_.wait_for(lock, wait, [&] { return done_; });
          done = done_;
        }
        const auto now = std::chrono::steady_clock::now();
        if (rank_ == 0) {
          if (size_ > 1) receive();
          if (done || now - last_flush >= interval_) {
            deliver(collect(), 0);
            last_flush = now;
          }
          if (done) {
            // Every other rank sends DONE after its last batch (same sender: in order).
            auto pause = std::chrono::microseconds(50);
            while (ranks_done_ < size_ - 1) {
              if (!receive()) {
                std::this_thread::sleep_for(pause);
                pause = std::min(pause * 2, std::chrono::microseconds(2000));
              }
            }
            deliver(collect(), 0);
            break;
          }
        } else {
          if (done || now - last_flush >= interval_) {
            const std::string batch = collect();
            if (!batch.empty()) send(batch, kStreamTagData);
            last_flush = now;
          }
          if (done) {
            const std::string rest = collect();
            if (!rest.empty()) send(rest, kStreamTagData);
            send(std::string(), kStreamTagDone);
            break;
          }
        }
      }
    } catch (const std::exception& e) {
      if (callback_error_.empty()) callback_error_ = std::string("results stream: ") + e.what();
    }
    stopping_ = true;
    for (auto& p : slots_) {
      if (Slot* s = p.load()) s->drained.notify_all();
    }
    shared_slot_.drained.notify_all();
  }

  mpi::Comm comm_;
  int rank_;
  int size_;
  std::size_t k_;
  std::function<void(const Completed&)> callback_;
  std::chrono::milliseconds interval_;
  std::array<std::atomic<Slot*>, kMaxSlots> slots_;
  std::mutex owned_mutex_;
  std::vector<std::unique_ptr<Slot>> owned_;
  Slot shared_slot_;
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::atomic<bool> stopping_{false};
  int ranks_done_ = 0;
  std::uint64_t delivered_ = 0;
  std::string callback_error_;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace pmap::detail
