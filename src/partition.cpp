#include "pmap/partition.hpp"

#include <algorithm>
#include <cmath>

namespace pmap {

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
  if (chunk == 0 || k >= (n + chunk - 1) / chunk) return std::nullopt;
  const std::uint64_t begin = k * chunk;
  return Chunk{begin, std::min(n, begin + chunk)};
}

std::uint64_t auto_cyclic_chunk(std::uint64_t n, int ranks) {
  const std::uint64_t per = n / (16 * static_cast<std::uint64_t>(std::max(ranks, 1)));
  return std::clamp<std::uint64_t>(per, 1, kMaxChunk);
}

std::uint64_t balance_cap(std::uint64_t n, int workers) {
  const std::uint64_t w = 4 * static_cast<std::uint64_t>(std::max(workers, 1));
  return std::clamp<std::uint64_t>((n + w - 1) / w, 1, kMaxChunk);
}

std::uint64_t guided_chunk(std::uint64_t remaining, int workers, std::uint64_t min_chunk) {
  const std::uint64_t w = 2 * static_cast<std::uint64_t>(std::max(workers, 1));
  const std::uint64_t g = (remaining + w - 1) / w;
  return std::clamp<std::uint64_t>(std::max(g, min_chunk), 1, kMaxChunk);
}

void ChunkSizer::record(std::uint64_t items, double seconds) noexcept {
  if (items == 0) return;
  const double per_item = std::max(seconds, 1e-9) / static_cast<double>(items);
  const double ideal = target_ / per_item;
  const double grown = static_cast<double>(desired_) * 4.0;
  const double next = std::min(ideal, grown);
  desired_ = static_cast<std::uint64_t>(
      std::clamp(std::floor(next), 1.0, static_cast<double>(kMaxChunk)));
}

}  // namespace pmap
