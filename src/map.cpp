#include "pmap/map.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

#include "detail/keyed_text.hpp"
#include "pmap/compute.hpp"
#include "pmap/error.hpp"
#include "pmap/stop.hpp"

namespace pmap {
namespace detail {
namespace {

constexpr std::size_t kMaxFailures = 100000;  // per rank, as run_compute keeps
constexpr int kTagData = 1;
constexpr int kTagDone = 2;

// --- streaming results to rank 0 ----------------------------------------------------------------

/// Record layout in a batch: row u64, status i8, message length u32, K doubles, message bytes.
constexpr std::size_t kRecordHeader = 8 + 1 + 4;

/// Ships finished items to rank 0 in batches and calls the callback there. Workers append to
/// their own slot (one uncontended mutex per item); a flusher thread per rank swaps the slots
/// every `interval`: ranks > 0 send the batch to rank 0 (Isend, tested with sleeps: no core
/// burnt), rank 0 delivers its own batches and the ones it receives. Memory is bounded: a worker
/// whose slot holds more than kSlotCap bytes waits for the flusher.
class Streamer {
 public:
  Streamer(MPI_Comm comm, std::size_t k, std::function<void(const Completed&)> callback,
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
  ~Streamer() { finish(); }
  Streamer(const Streamer&) = delete;
  Streamer& operator=(const Streamer&) = delete;

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
      if (st.MPI_TAG == kTagDone) {
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
            if (!batch.empty()) send(batch, kTagData);
            last_flush = now;
          }
          if (done) {
            const std::string rest = collect();
            if (!rest.empty()) send(rest, kTagData);
            send(std::string(), kTagDone);
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

// --- the kernel that runs the user's function ---------------------------------------------------

class MapKernel final : public Kernel {
 public:
  MapKernel(const MapCall& call, std::string name, std::vector<std::string> columns)
      : call_(call), name_(std::move(name)), columns_(std::move(columns)) {
    for (const auto& [key, value] : call.args.values()) {
      args_.push_back({key,
                       std::holds_alternative<std::int64_t>(value) ? ArgType::Int
                       : std::holds_alternative<double>(value)     ? ArgType::Double
                       : std::holds_alternative<bool>(value)       ? ArgType::Bool
                                                                   : ArgType::String,
                       value, "bound with pmap::partial"});
    }
  }
  [[nodiscard]] std::string_view name() const override { return name_; }
  [[nodiscard]] std::string_view description() const override {
    return "a C++ function mapped with pmap::map";
  }
  [[nodiscard]] const std::vector<ArgSpec>& arguments() const override { return args_; }
  [[nodiscard]] const std::vector<std::string>& columns() const override { return columns_; }

  /// Where finished items go besides run_compute's file.
  void collect_into(double* values, std::int8_t* status) {
    values_ = values;
    status_ = status;
  }
  void stream_into(Streamer* s) { streamer_ = s; }

  void run(const Item& item, const BoundArgs& /*args*/, std::span<double> out,
           const KernelContext& /*ctx*/) const override {
    const std::uint64_t row = item.row;
    const std::size_t k = out.size();
    std::string error;
    try {
      call_.eval(call_.bound, row, out.data());
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "exception with an empty message";
    } catch (...) {
      error = "exception not derived from std::exception";
    }
    if (!error.empty()) {
      std::fill(out.begin(), out.end(), std::numeric_limits<double>::quiet_NaN());
      {
        std::lock_guard lock(failures_mutex_);
        if (failures_.size() < kMaxFailures) failures_.push_back({row, error});
      }
      if (status_ != nullptr) {
        std::fill_n(values_ + row * k, k, std::numeric_limits<double>::quiet_NaN());
        status_[row] = static_cast<std::int8_t>(ItemStatus::Failed);
      }
      if (streamer_ != nullptr) streamer_->push(row, ItemStatus::Failed, out.data(), error);
      throw ItemError(error);  // run_compute records status 1 and the message in the file
    }
    // A stop (signal) while the item ran: run_compute drops it (status -1); so do we.
    if (stop_requested()) return;
    if (status_ != nullptr) {
      std::copy(out.begin(), out.end(), values_ + row * k);
      status_[row] = static_cast<std::int8_t>(ItemStatus::Ok);
    }
    if (streamer_ != nullptr) streamer_->push(row, ItemStatus::Ok, out.data(), {});
  }

  [[nodiscard]] std::vector<ItemFailure> take_failures() {
    std::lock_guard lock(failures_mutex_);
    return std::move(failures_);
  }

 private:
  const MapCall& call_;
  std::string name_;
  std::vector<std::string> columns_;
  std::vector<ArgSpec> args_;
  double* values_ = nullptr;
  std::int8_t* status_ = nullptr;
  Streamer* streamer_ = nullptr;
  mutable std::mutex failures_mutex_;
  mutable std::vector<ItemFailure> failures_;
};

// --- helpers ------------------------------------------------------------------------------------

/// The item space: a Range when the items are evenly spaced integers (or not integers: then
/// the index), else a table of the integer values (line_number), up to kMaxItemTable items.
constexpr std::uint64_t kMaxItemTable = std::uint64_t{1} << 22;

ItemSpace make_space(const MapCall& call, std::string& spec) {
  const std::uint64_t n = call.n;
  if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    throw UsageError("pmap::map: too many items");
  }
  const auto index_space = [&] {
    spec = "map over " + std::to_string(n) + " " + call.item_type + " (item = index)";
    return ItemSpace(Range{0, static_cast<std::int64_t>(n), 1});
  };
  if (call.item_value == nullptr || n == 0) return index_space();
  const std::int64_t first = call.item_value(call.bound, 0);
  bool even = true;
  std::int64_t step = 1;
  if (n > 1) {
    const std::int64_t second = call.item_value(call.bound, 1);
    if (__builtin_sub_overflow(second, first, &step) || step == 0) even = false;
    std::int64_t expect = second;
    for (std::uint64_t i = 2; even && i < n; ++i) {
      if (__builtin_add_overflow(expect, step, &expect) ||
          call.item_value(call.bound, i) != expect) {
        even = false;
      }
    }
  }
  if (even) {
    std::int64_t stop = 0;
    if (!__builtin_mul_overflow(static_cast<std::int64_t>(n), step, &stop) &&
        !__builtin_add_overflow(first, stop, &stop)) {
      const Range r{first, stop, step};
      if (r.size() == n) {
        spec = "map over " + std::to_string(n) + " integers " + std::to_string(first) + ":" +
               std::to_string(stop) + ":" + std::to_string(step);
        return ItemSpace(r);
      }
    }
  }
  if (n > kMaxItemTable) return index_space();
  InputLines lines;
  lines.text.resize(n);
  lines.line_number.resize(n);
  for (std::uint64_t i = 0; i < n; ++i) lines.line_number[i] = call.item_value(call.bound, i);
  spec = "map over " + std::to_string(n) + " integers (item = value)";
  return ItemSpace(std::move(lines));
}

/// Gathers every rank's collected rows into `values`/`status` (every rank or rank 0).
void exchange(MPI_Comm comm, std::size_t k, bool every_rank, std::vector<double>& values,
              std::vector<std::int8_t>& status) {
  const int size = mpi::size(comm);
  const int rank = mpi::rank(comm);
  const std::uint64_t n = status.size();
  std::vector<std::uint64_t> rows;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (status[i] != static_cast<std::int8_t>(ItemStatus::NotRun)) rows.push_back(i);
  }
  if (rows.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw RuntimeError("pmap::map: too many results per rank to gather; use Collect::None");
  }
  std::vector<double> mine_values(rows.size() * k);
  std::vector<std::int8_t> mine_status(rows.size());
  for (std::size_t j = 0; j < rows.size(); ++j) {
    std::copy_n(values.data() + rows[j] * k, k, mine_values.data() + j * k);
    mine_status[j] = status[rows[j]];
  }
  const int count = static_cast<int>(rows.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  if (every_rank) {
    mpi::check(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm), "MPI_Allgather");
  } else {
    mpi::check(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm), "MPI_Gather");
  }
  std::uint64_t total = 0;
  for (int r = 0; r < size; ++r) {
    if (total > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
      throw RuntimeError("pmap::map: too many results to gather; use Collect::None");
    }
    displs[static_cast<std::size_t>(r)] = static_cast<int>(total);
    total += static_cast<std::uint64_t>(counts[static_cast<std::size_t>(r)]);
  }
  const bool receives = every_rank || rank == 0;
  std::vector<std::uint64_t> all_rows(receives ? total : 0);
  std::vector<std::int8_t> all_status(receives ? total : 0);
  std::vector<double> all_values(receives ? total * k : 0);
  MPI_Datatype row_type = MPI_DATATYPE_NULL;
  mpi::check(MPI_Type_contiguous(static_cast<int>(k), MPI_DOUBLE, &row_type),
             "MPI_Type_contiguous");
  mpi::check(MPI_Type_commit(&row_type), "MPI_Type_commit");
  struct TypeGuard {
    MPI_Datatype* t;
    ~TypeGuard() { MPI_Type_free(t); }
  } guard{&row_type};
  if (every_rank) {
    mpi::check(MPI_Allgatherv(rows.data(), count, MPI_UINT64_T, all_rows.data(), counts.data(),
                              displs.data(), MPI_UINT64_T, comm),
               "MPI_Allgatherv");
    mpi::check(MPI_Allgatherv(mine_status.data(), count, MPI_INT8_T, all_status.data(),
                              counts.data(), displs.data(), MPI_INT8_T, comm),
               "MPI_Allgatherv");
    mpi::check(MPI_Allgatherv(mine_values.data(), count, row_type, all_values.data(), counts.data(),
                              displs.data(), row_type, comm),
               "MPI_Allgatherv");
  } else {
    mpi::check(MPI_Gatherv(rows.data(), count, MPI_UINT64_T, all_rows.data(), counts.data(),
                           displs.data(), MPI_UINT64_T, 0, comm),
               "MPI_Gatherv");
    mpi::check(MPI_Gatherv(mine_status.data(), count, MPI_INT8_T, all_status.data(), counts.data(),
                           displs.data(), MPI_INT8_T, 0, comm),
               "MPI_Gatherv");
    mpi::check(MPI_Gatherv(mine_values.data(), count, row_type, all_values.data(), counts.data(),
                           displs.data(), row_type, 0, comm),
               "MPI_Gatherv");
  }
  if (!receives) {
    values.clear();
    values.shrink_to_fit();
    status.clear();
    status.shrink_to_fit();
    return;
  }
  for (std::size_t j = 0; j < total; ++j) {
    const std::uint64_t row = all_rows[j];
    status[row] = all_status[j];
    std::copy_n(all_values.data() + j * k, k, values.data() + row * k);
  }
}

/// Every rank's failures on every rank, sorted by index.
std::vector<ItemFailure> allgather_failures(MPI_Comm comm, const std::vector<ItemFailure>& mine) {
  std::string buf;
  for (const auto& f : mine) detail::append_keyed(buf, f.index, f.message);
  std::vector<ItemFailure> out;
  detail::for_each_keyed(mpi::gather_bytes(comm, buf, -1),
                         [&](std::uint64_t index, std::string_view text) {
                           out.push_back({index, std::string(text)});
                         });
  std::sort(out.begin(), out.end(),
            [](const ItemFailure& a, const ItemFailure& b) { return a.index < b.index; });
  return out;
}

}  // namespace

MapRaw run_map(Session& session, const MapCall& call, const MapOptions& options) {
  MPI_Comm comm = session.comm();
  const int rank = session.rank();
  const int size = session.size();

  // Checks that need no communication: identical on every rank.
  std::vector<std::string> columns = options.columns.empty() ? call.columns : options.columns;
  if (columns.size() != call.columns.size()) {
    throw UsageError("pmap::MapOptions::columns has " + std::to_string(columns.size()) +
                     " names but the function returns " + std::to_string(call.columns.size()) +
                     " numbers");
  }
  for (const auto& c : columns) {
    if (c.empty()) throw UsageError("pmap::MapOptions::columns: a column name is empty");
  }
  if (options.threads && *options.threads < 1) {
    throw UsageError("pmap::MapOptions::threads must be at least 1");
  }
  if (options.resume && options.collect != Collect::None) {
    throw UsageError(
        "pmap::MapOptions::resume needs collect = Collect::None: rows done by an earlier run are "
        "only in the file");
  }
  if (options.resume && options.output.empty()) {
    throw UsageError("pmap::MapOptions::resume needs the output file to continue");
  }
  if (options.name.empty()) throw UsageError("pmap::MapOptions::name must not be empty");
  const std::size_t k = columns.size();

  MapKernel kernel(call, options.name, columns);
  ComputeJob job;
  job.kernel = &kernel;
  job.args = call.args;
  job.space = make_space(call, job.space_spec);
  job.schedule = options.schedule;
  job.chunk = options.chunk;
  job.threads = options.threads ? options.threads : session.options().threads;
  job.progress = options.progress;
  job.print_summary = options.summary;
  job.command = session.command();
  job.resume = options.resume;
  job.max_failures = options.max_failures;

  job.output = options.output;  // empty: no file, the results live in memory only
  job.force = options.force;

  MapRaw raw;
  // Collect::Root: every rank keeps its own rows until they are gathered on rank 0.
  const bool collect_here = options.collect != Collect::None;
  if (collect_here) {
    raw.values.assign(call.n * k, 0.0);
    raw.status.assign(call.n, static_cast<std::int8_t>(ItemStatus::NotRun));
    kernel.collect_into(raw.values.data(), raw.status.data());
  }
  // The callback may be set on rank 0 only: whether to stream is agreed collectively.
  int streaming = options.on_result ? 1 : 0;
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &streaming, 1, MPI_INT, MPI_MAX, comm), "MPI_Allreduce");
  std::unique_ptr<Streamer> streamer;
  if (streaming != 0) {
    streamer = std::make_unique<Streamer>(comm, k, rank == 0 ? options.on_result : nullptr,
                                          options.stream_interval);
    kernel.stream_into(streamer.get());
  }

  try {
    raw.report = run_compute(job, comm);
  } catch (...) {
    if (streamer) streamer->finish();  // every rank throws (run_compute's errors are collective)
    throw;
  }
  if (streamer) {
    streamer->finish();
    const std::string message = mpi::bcast_string(comm, streamer->callback_error());
    if (!message.empty()) throw RuntimeError("pmap::map: the on_result callback threw: " + message);
  }
  if (collect_here && size > 1) {
    exchange(comm, k, options.collect == Collect::EveryRank, raw.values, raw.status);
  }
  raw.failures = allgather_failures(comm, kernel.take_failures());
  raw.output = job.output;
  return raw;
}

}  // namespace detail
}  // namespace pmap
