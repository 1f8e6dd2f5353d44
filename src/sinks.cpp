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
  for (std::uint64_t j = 0; j < b.count; ++j) {
    if (b.status[j] == static_cast<std::int8_t>(ItemStatus::Ok)) continue;
    std::lock_guard lock(mutex_);
    if (errors_.size() >= cap_) return;
    errors_.push_back({b.begin + j, b.item[j], batch.errors[j]});
  }
}

std::vector<RowError> ErrorSink::take() {
  std::lock_guard lock(mutex_);
  return std::move(errors_);
}

}  // namespace pmap
