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

/// Throws UsageError (subject "shard") unless 0 <= index < count.
void check_shard(int index, int count);

/// The j-th chunk dealt to `rank` when chunks of `chunk` rows go round-robin to `ranks`; nullopt
/// past the end.
std::optional<Chunk> cyclic_chunk(std::uint64_t n, std::uint64_t chunk, int ranks, int rank,
                                  std::uint64_t j);

/// Chunks per worker that the automatic sizes aim at, at least: enough that a cost that rises
/// within a chunk, or a worker that starts late, costs little of the run (1/32 of a worker's share
/// at most), few enough that per-chunk costs (a claim, a write) stay negligible.
inline constexpr std::uint64_t kChunksPerWorker = 32;

/// Automatic chunk for the cyclic schedule: about kChunksPerWorker chunks per worker (`workers`
/// = threads over all ranks: a rank's threads share its chunks), within [1, kMaxChunk].
std::uint64_t auto_cyclic_chunk(std::uint64_t n, int workers);

/// Upper bound of automatic dynamic chunks: n / (kChunksPerWorker x workers), rounded up, so that
/// a chunk sized on cheap items cannot hold a large share of the work when the cost rises.
std::uint64_t balance_cap(std::uint64_t n, int workers);

/// The end game of automatic chunks: what is left / (2 x workers), rounded up. Chunks shrink as
/// the work runs out and the last items go out one at a time.
std::uint64_t tail_chunk(std::uint64_t remaining, int workers);

/// Guided chunk: remaining / (4 x workers), rounded up, at least `min_chunk`, within
/// [1, kMaxChunk]. (OpenMP's remaining / workers puts half the work in the first few chunks: a
/// costly stretch at the start then decides the run.)
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
