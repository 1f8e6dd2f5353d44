#include "pmap/partition.hpp"

#include "pmap/error.hpp"

#include <algorithm>
#include <cmath>

namespace pmap {
namespace {

/// ceil(n / d) without the overflow of (n + d - 1) / d near 2^64.
std::uint64_t ceil_div(std::uint64_t n, std::uint64_t d) { return n / d + (n % d != 0 ? 1 : 0); }

}  // namespace

Chunk block(std::uint64_t n, int parts, int index) {
  const auto p = static_cast<std::uint64_t>(parts);
  const auto i = static_cast<std::uint64_t>(index);
  const std::uint64_t base = n / p;
  const std::uint64_t extra = n % p;
  const std::uint64_t begin = i * base + std::min(i, extra);
  return Chunk{begin, begin + base + (i < extra ? 1 : 0)};
}

std::optional<Chunk> cyclic_chunk(std::uint64_t n, std::uint64_t chunk, int ranks, int rank,
                                  std::uint64_t j) {
  const std::uint64_t k = j * static_cast<std::uint64_t>(ranks) + static_cast<std::uint64_t>(rank);
  if (chunk == 0 || k >= ceil_div(n, chunk)) return std::nullopt;
  const std::uint64_t begin = k * chunk;
  return Chunk{begin, std::min(n, begin + chunk)};
}

std::uint64_t auto_cyclic_chunk(std::uint64_t n, int workers) {
  const std::uint64_t per =
      n / (kChunksPerWorker * static_cast<std::uint64_t>(std::max(workers, 1)));
  return std::clamp<std::uint64_t>(per, 1, kMaxChunk);
}

std::uint64_t balance_cap(std::uint64_t n, int workers) {
  const std::uint64_t w = kChunksPerWorker * static_cast<std::uint64_t>(std::max(workers, 1));
  return std::clamp<std::uint64_t>(ceil_div(n, w), 1, kMaxChunk);
}

std::uint64_t tail_chunk(std::uint64_t remaining, int workers) {
  const std::uint64_t w = 2 * static_cast<std::uint64_t>(std::max(workers, 1));
  return std::clamp<std::uint64_t>(ceil_div(remaining, w), 1, kMaxChunk);
}

std::uint64_t guided_chunk(std::uint64_t remaining, int workers, std::uint64_t min_chunk) {
  const std::uint64_t w = 4 * static_cast<std::uint64_t>(std::max(workers, 1));
  const std::uint64_t g = ceil_div(remaining, w);
  return std::clamp<std::uint64_t>(std::max(g, min_chunk), 1, kMaxChunk);
}

RowSet::RowSet(std::vector<Chunk> ranges) : ranges_(std::move(ranges)) {
  std::uint64_t total = 0;
  prefix_.reserve(ranges_.size());
  for (const auto& r : ranges_) {
    total += r.size();
    prefix_.push_back(total);
  }
}

RowSet RowSet::all(std::uint64_t n) {
  if (n == 0) return RowSet{};
  return RowSet({Chunk{0, n}});
}

std::vector<Chunk> RowSet::segments(Chunk tasks) const {
  std::vector<Chunk> out;
  if (tasks.begin >= tasks.end) return out;
  // First range whose cumulative count exceeds tasks.begin.
  auto it = std::upper_bound(prefix_.begin(), prefix_.end(), tasks.begin);
  std::uint64_t pos = tasks.begin;
  for (auto i = static_cast<std::size_t>(it - prefix_.begin());
       i < ranges_.size() && pos < tasks.end; ++i) {
    const std::uint64_t before = prefix_[i] - ranges_[i].size();
    const std::uint64_t offset = pos - before;
    const std::uint64_t take = std::min(ranges_[i].size() - offset, tasks.end - pos);
    out.push_back({ranges_[i].begin + offset, ranges_[i].begin + offset + take});
    pos += take;
  }
  return out;
}

RowSet RowSet::intersect(Chunk window) const {
  std::vector<Chunk> out;
  for (const auto& r : ranges_) {
    const std::uint64_t b = std::max(r.begin, window.begin);
    const std::uint64_t e = std::min(r.end, window.end);
    if (b < e) out.push_back({b, e});
  }
  return RowSet(std::move(out));
}

void ChunkSizer::record(std::uint64_t items, double seconds) noexcept {
  if (items == 0) return;
  const double per_item = std::max(seconds, 1e-9) / static_cast<double>(items);
  const double ideal = target_ / per_item;
  const double grown = static_cast<double>(desired_) * 4.0;
  const double next = std::min(ideal, grown);
  desired_ =
      static_cast<std::uint64_t>(std::clamp(std::floor(next), 1.0, static_cast<double>(kMaxChunk)));
}

void check_shard(int index, int count) {
  if (count < 1 || index < 0 || index >= count) {
    throw UsageError("shard", std::to_string(index) + "/" + std::to_string(count),
                     "expected I/N with 0 <= I < N");
  }
}

}  // namespace pmap
