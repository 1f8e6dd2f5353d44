// pmap — pure partitioning arithmetic: blocks, chunk-cyclic deals, chunk sizes.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace pmap {

/// A contiguous run of rows [begin, end) of the iteration space.
struct Chunk {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  [[nodiscard]] std::uint64_t size() const noexcept { return end - begin; }
  friend bool operator==(const Chunk&, const Chunk&) = default;
};

/// The rows a run must do, as sorted disjoint ranges (all rows; a shard; what --resume left),
/// numbered densely 0..size()-1 so the schedules can distribute them like a plain range.
class RowSet {
 public:
  RowSet() = default;
  /// Takes sorted, disjoint, non-empty ranges.
  explicit RowSet(std::vector<Chunk> ranges);
  /// Every row of [0, n).
  static RowSet all(std::uint64_t n);
  /// Number of rows.
  [[nodiscard]] std::uint64_t size() const noexcept { return prefix_.empty() ? 0 : prefix_.back(); }
  [[nodiscard]] const std::vector<Chunk>& ranges() const noexcept { return ranges_; }
  /// Row segments covering dense positions [tasks.begin, tasks.end).
  [[nodiscard]] std::vector<Chunk> segments(Chunk tasks) const;
  /// The rows of this set inside `window`.
  [[nodiscard]] RowSet intersect(Chunk window) const;

 private:
  std::vector<Chunk> ranges_;
  std::vector<std::uint64_t> prefix_;  // prefix_[i] = rows in ranges_[0..i]
};

/// Largest chunk pmap ever hands out: bounds the per-thread buffers (memory is O(chunk)).
inline constexpr std::uint64_t kMaxChunk = std::uint64_t{1} << 16;

/// Block `index` of `n` rows split into `parts` nearly equal blocks (the first n % parts get one
/// more).
Chunk block(std::uint64_t n, int parts, int index);

/// The j-th chunk dealt to `rank` when chunks of `chunk` rows go round-robin to `ranks`; nullopt
/// past the end.
std::optional<Chunk> cyclic_chunk(std::uint64_t n, std::uint64_t chunk, int ranks, int rank,
                                  std::uint64_t j);

/// Automatic chunk for the cyclic schedule: about 16 chunks per rank, within [1, kMaxChunk].
std::uint64_t auto_cyclic_chunk(std::uint64_t n, int ranks);

/// Upper bound of dynamic chunks: at least 4 chunks per worker so fast workers can balance
/// (automatic dynamic chunks are also at most guided_chunk(remaining, workers, 1)).
std::uint64_t balance_cap(std::uint64_t n, int workers);

/// Guided chunk: remaining / (2 x workers), at least `min_chunk`, within [1, kMaxChunk].
std::uint64_t guided_chunk(std::uint64_t remaining, int workers, std::uint64_t min_chunk);

/// Adapts one thread's chunk size to aim at `target_seconds` per chunk (joblib's
/// batch_size="auto" idea): starts at 1 item, grows at most 4x per chunk, shrinks at once.
class ChunkSizer {
 public:
  explicit ChunkSizer(double target_seconds = 0.1) : target_(target_seconds) {}
  /// The next chunk size this thread should ask for.
  [[nodiscard]] std::uint64_t desired() const noexcept { return desired_; }
  /// Records a finished chunk of `items` that took `seconds`.
  void record(std::uint64_t items, double seconds) noexcept;

 private:
  double target_;
  std::uint64_t desired_ = 1;
};

}  // namespace pmap
