// pmap — where finished rows go (internal). The engine decides each row's outcome once and hands
// the same block to every sink: the HDF5 file, the API's memory, its result stream, the error
// table. Sinks are called from worker threads at once: put() must be thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "pmap/results.hpp"

namespace pmap {

/// The message of a row that did not succeed, by its index in the block.
struct RowMessage {
  std::uint64_t j = 0;
  std::string text;
};

/// A block of finished consecutive rows and the messages of those that did not succeed (in row
/// order; ok rows carry none, so a block of 10^5 good rows costs no strings).
struct RowBatch {
  RowBlock rows;
  std::span<const RowMessage> errors;
};

/// Receives finished rows.
class RowSink {
 public:
  virtual ~RowSink() = default;
  /// One block of rows (thread-safe).
  virtual void put(const RowBatch& batch) = 0;
  /// Collective end of the work: flushes and closes (default: nothing).
  virtual void close() {}
};

/// The results file's /compute rows (parallel HDF5, independent writes).
class FileSink final : public RowSink {
 public:
  FileSink(const std::string& path, MPI_Comm comm) : writer_(path, comm) {}
  void put(const RowBatch& batch) override { writer_.write(batch.rows); }
  void close() override { writer_.close(); }
  [[nodiscard]] double write_seconds() const noexcept { return writer_.write_seconds(); }

 private:
  ComputeWriter writer_;
};

/// Values and status in item order, in memory (the C++ API's Collect).
class MemorySink final : public RowSink {
 public:
  MemorySink(std::uint64_t rows, std::size_t k);
  void put(const RowBatch& batch) override;
  std::vector<double> values;       ///< rows x k
  std::vector<std::int8_t> status;  ///< rows, -1 where not run

 private:
  std::size_t k_;
};

/// A failed or timed-out row: its row, its item value and the message.
struct RowError {
  std::uint64_t row = 0;
  std::int64_t item = 0;
  std::string message;
};

/// The messages of the rows that did not succeed, up to a cap per rank.
class ErrorSink final : public RowSink {
 public:
  explicit ErrorSink(std::size_t cap = 100000) : cap_(cap) {}
  void put(const RowBatch& batch) override;
  /// The errors recorded (call after the work).
  [[nodiscard]] std::vector<RowError> take();

 private:
  std::size_t cap_;
  std::mutex mutex_;
  std::vector<RowError> errors_;
};

/// The sinks of a run, fed in order.
class SinkSet {
 public:
  void add(RowSink* sink) {
    if (sink != nullptr) sinks_.push_back(sink);
  }
  void put(const RowBatch& batch) const {
    for (RowSink* s : sinks_) s->put(batch);
  }
  void close() const {
    for (RowSink* s : sinks_) s->close();
  }

 private:
  std::vector<RowSink*> sinks_;
};

}  // namespace pmap
