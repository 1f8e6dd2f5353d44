#include <algorithm>

#include "pmap/sink.hpp"

namespace pmap {

MemorySink::MemorySink(std::uint64_t rows, std::size_t k)
    : values(rows * k, 0.0), status(rows, static_cast<std::int8_t>(ItemStatus::NotRun)), k_(k) {}

void MemorySink::put(const RowBatch& batch) {
  // Rows are disjoint across blocks: no lock needed.
  const RowBlock& b = batch.rows;
  std::copy_n(b.value, b.count * k_, values.data() + b.begin * k_);
  std::copy_n(b.status, b.count, status.data() + b.begin);
}

void ErrorSink::put(const RowBatch& batch) {
  const RowBlock& b = batch.rows;
  for (const RowMessage& e : batch.errors) {
    std::lock_guard lock(mutex_);
    if (errors_.size() >= cap_) return;
    errors_.push_back({b.begin + e.j, b.item[e.j], e.text});
  }
}

std::vector<RowError> ErrorSink::take() {
  std::lock_guard lock(mutex_);
  return std::move(errors_);
}

}  // namespace pmap
