// pmap — unit tests of the partitioning arithmetic: blocks, chunk-cyclic deals, chunk sizes.
#include "pmap/partition.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <random>
#include <vector>

namespace {

using pmap::Chunk;
using pmap::ChunkSizer;
using pmap::kMaxChunk;

constexpr std::uint64_t kMaxN = std::numeric_limits<std::uint64_t>::max();

// --- block --------------------------------------------------------------------------------------

TEST(Block, CoversEveryIndexOnceContiguousAndBalanced) {
  std::vector<std::uint64_t> sizes_n;
  for (std::uint64_t n = 0; n <= 70; ++n) sizes_n.push_back(n);
  for (std::uint64_t n : {99ULL, 1000ULL, 1001ULL, 1023ULL, 65537ULL, 1000003ULL}) {
    sizes_n.push_back(n);
  }
  for (const std::uint64_t n : sizes_n) {
    for (int parts = 1; parts <= 40; ++parts) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " parts=" << parts);
      std::uint64_t expected_begin = 0;
      std::uint64_t smallest = kMaxN;
      std::uint64_t largest = 0;
      for (int i = 0; i < parts; ++i) {
        const Chunk c = pmap::block(n, parts, i);
        ASSERT_EQ(c.begin, expected_begin) << "block " << i;  // contiguous, no gap or overlap
        ASSERT_LE(c.begin, c.end);
        // The first n % parts blocks get one more.
        const std::uint64_t want =
            n / static_cast<std::uint64_t>(parts) +
            (static_cast<std::uint64_t>(i) < n % static_cast<std::uint64_t>(parts) ? 1 : 0);
        ASSERT_EQ(c.size(), want) << "block " << i;
        smallest = std::min(smallest, c.size());
        largest = std::max(largest, c.size());
        expected_begin = c.end;
      }
      EXPECT_EQ(expected_begin, n);  // the blocks end exactly at n
      EXPECT_LE(largest - smallest, 1U);
    }
  }
}

TEST(Block, FewerItemsThanParts) {
  // n < parts: the first n blocks hold one item each, the rest are empty (and sit at n).
  for (int i = 0; i < 8; ++i) {
    const Chunk c = pmap::block(3, 8, i);
    if (i < 3) {
      EXPECT_EQ(c, (Chunk{static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(i) + 1}));
    } else {
      EXPECT_EQ(c.size(), 0U);
      EXPECT_EQ(c.begin, 3U);
    }
  }
}

TEST(Block, EmptySpace) {
  for (int i = 0; i < 4; ++i) EXPECT_EQ(pmap::block(0, 4, i), (Chunk{0, 0}));
}

TEST(Block, HugeSpace) {
  // Range::size() goes up to 2^64 - 1: blocks must not overflow.
  const int parts = 7;
  std::uint64_t begin = 0;
  for (int i = 0; i < parts; ++i) {
    const Chunk c = pmap::block(kMaxN, parts, i);
    EXPECT_EQ(c.begin, begin);
    EXPECT_GE(c.end, c.begin);
    begin = c.end;
  }
  EXPECT_EQ(begin, kMaxN);
}

// --- cyclic_chunk -------------------------------------------------------------------------------

TEST(CyclicChunk, CoversEveryIndexOnceAcrossRanks) {
  for (std::uint64_t n : {0ULL, 1ULL, 2ULL, 5ULL, 16ULL, 17ULL, 63ULL, 100ULL, 1000ULL, 1237ULL}) {
    for (std::uint64_t chunk : {1ULL, 2ULL, 3ULL, 7ULL, 10ULL, 64ULL, 5000ULL}) {
      for (int ranks = 1; ranks <= 6; ++ranks) {
        SCOPED_TRACE(testing::Message() << "n=" << n << " chunk=" << chunk << " ranks=" << ranks);
        std::vector<int> owner(n, -1);
        for (int rank = 0; rank < ranks; ++rank) {
          std::uint64_t j = 0;
          while (const auto c = pmap::cyclic_chunk(n, chunk, ranks, rank, j)) {
            ASSERT_LT(c->begin, c->end) << "empty chunk";
            ASSERT_LE(c->end, n);
            // Chunk k of the deal goes to rank k % ranks: its begin is k * chunk.
            const std::uint64_t k =
                j * static_cast<std::uint64_t>(ranks) + static_cast<std::uint64_t>(rank);
            EXPECT_EQ(c->begin, k * chunk);
            EXPECT_EQ(c->size(), std::min(chunk, n - c->begin));
            for (std::uint64_t i = c->begin; i < c->end; ++i) {
              ASSERT_EQ(owner[i], -1) << "index " << i << " dealt twice";
              owner[i] = rank;
            }
            ++j;
          }
          // Once past the end, it stays past the end.
          EXPECT_FALSE(pmap::cyclic_chunk(n, chunk, ranks, rank, j + 1).has_value());
          EXPECT_FALSE(pmap::cyclic_chunk(n, chunk, ranks, rank, j + 100).has_value());
        }
        EXPECT_EQ(std::count(owner.begin(), owner.end(), -1), 0) << "some index not dealt";
      }
    }
  }
}

TEST(CyclicChunk, ZeroChunkDealsNothing) {
  EXPECT_FALSE(pmap::cyclic_chunk(10, 0, 2, 0, 0).has_value());
}

TEST(CyclicChunk, RoundRobinOrder) {
  // n=10, chunk=3, 2 ranks: chunks [0,3) [3,6) [6,9) [9,10) go to ranks 0 1 0 1.
  EXPECT_EQ(pmap::cyclic_chunk(10, 3, 2, 0, 0), (Chunk{0, 3}));
  EXPECT_EQ(pmap::cyclic_chunk(10, 3, 2, 1, 0), (Chunk{3, 6}));
  EXPECT_EQ(pmap::cyclic_chunk(10, 3, 2, 0, 1), (Chunk{6, 9}));
  EXPECT_EQ(pmap::cyclic_chunk(10, 3, 2, 1, 1), (Chunk{9, 10}));
  EXPECT_FALSE(pmap::cyclic_chunk(10, 3, 2, 0, 2).has_value());
}

// BUG (src/partition.cpp:20): `(n + chunk - 1) / chunk` overflows when n is near 2^64 (a legal
// Range::size(), e.g. --range -9223372036854775808:9223372036854775807): the chunk count wraps to
// a tiny number and nothing is dealt. Expected: the first chunk is [0, chunk).
TEST(CyclicChunk, HugeSpaceDoesNotOverflow) {
  EXPECT_EQ(pmap::cyclic_chunk(kMaxN, kMaxChunk, 1, 0, 0), (Chunk{0, kMaxChunk}));
  EXPECT_EQ(pmap::cyclic_chunk(kMaxN, 2, 4, 3, 0), (Chunk{6, 8}));
}

// --- automatic chunk sizes ----------------------------------------------------------------------

TEST(AutoCyclicChunk, Bounds) {
  for (std::uint64_t n : std::initializer_list<std::uint64_t>{
           0ULL, 1ULL, 15ULL, 16ULL, 100ULL, 1000ULL, 123457ULL, 1ULL << 30, 1ULL << 40, kMaxN}) {
    for (int workers : {0, 1, 2, 3, 8, 64, 1000}) {
      const std::uint64_t c = pmap::auto_cyclic_chunk(n, workers);
      EXPECT_GE(c, 1U) << n << " " << workers;
      EXPECT_LE(c, kMaxChunk) << n << " " << workers;
    }
  }
  EXPECT_EQ(pmap::auto_cyclic_chunk(kMaxN, 1), kMaxChunk);
  EXPECT_EQ(pmap::auto_cyclic_chunk(0, 4), 1U);
}

TEST(AutoCyclicChunk, AboutThirtyTwoChunksPerWorker) {
  for (std::uint64_t n : {64ULL, 100ULL, 1000ULL, 99999ULL, 1000000ULL}) {
    for (int workers : {1, 2, 4}) {
      const std::uint64_t c = pmap::auto_cyclic_chunk(n, workers);
      const auto w = static_cast<std::uint64_t>(workers);
      if (c == kMaxChunk || n < pmap::kChunksPerWorker * w) continue;
      const std::uint64_t chunks = (n + c - 1) / c;
      EXPECT_GE(chunks, pmap::kChunksPerWorker * w) << n << " " << workers;
      EXPECT_LE(chunks, 2 * pmap::kChunksPerWorker * w) << n << " " << workers;
    }
  }
}

TEST(BalanceCap, Bounds) {
  for (std::uint64_t n : {0ULL, 1ULL, 3ULL, 4ULL, 100ULL, 4096ULL, 1ULL << 40}) {
    for (int workers : {0, 1, 2, 7, 16, 1024}) {
      const std::uint64_t cap = pmap::balance_cap(n, workers);
      EXPECT_GE(cap, 1U);
      EXPECT_LE(cap, kMaxChunk);
      const std::uint64_t w =
          pmap::kChunksPerWorker * static_cast<std::uint64_t>(std::max(workers, 1));
      if (cap < kMaxChunk) {
        // Smallest cap that still covers n in 32 chunks per worker: ceil(n / (32 workers)).
        EXPECT_EQ(cap, std::max<std::uint64_t>(1, (n + w - 1) / w)) << n << " " << workers;
      }
    }
  }
  EXPECT_EQ(pmap::balance_cap(100, 1), 4U);    // ceil(100 / 32)
  EXPECT_EQ(pmap::balance_cap(2048, 2), 32U);  // mandelbrot's rows on 2 workers
  EXPECT_EQ(pmap::balance_cap(1ULL << 40, 1), kMaxChunk);
}

TEST(BalanceCap, MoreWorkersNeverRaiseTheCap) {
  for (std::uint64_t n : {10ULL, 1000ULL, 1000000ULL}) {
    std::uint64_t previous = kMaxN;
    for (int workers = 1; workers <= 64; ++workers) {
      const std::uint64_t cap = pmap::balance_cap(n, workers);
      EXPECT_LE(cap, previous);
      previous = cap;
    }
  }
}

// BUG (src/partition.cpp:32): `(n + w - 1) / w` overflows for n near 2^64: balance_cap(2^64-1, 1)
// returns 1 instead of kMaxChunk, so a huge space would be claimed one item at a time.
TEST(BalanceCap, HugeSpaceDoesNotOverflow) { EXPECT_EQ(pmap::balance_cap(kMaxN, 1), kMaxChunk); }

TEST(GuidedChunk, Bounds) {
  for (std::uint64_t remaining : {0ULL, 1ULL, 2ULL, 9ULL, 1000ULL, 1ULL << 40}) {
    for (int workers : {0, 1, 3, 16}) {
      for (std::uint64_t min_chunk : {0ULL, 1ULL, 5ULL, 100ULL}) {
        const std::uint64_t g = pmap::guided_chunk(remaining, workers, min_chunk);
        EXPECT_GE(g, 1U);
        EXPECT_GE(g, min_chunk);
        EXPECT_LE(g, kMaxChunk);
      }
    }
  }
  EXPECT_EQ(pmap::guided_chunk(1000, 5, 1), 50U);  // 1000 / (4 x 5)
  EXPECT_EQ(pmap::guided_chunk(1001, 5, 1), 51U);  // rounded up
  EXPECT_EQ(pmap::guided_chunk(10, 5, 4), 4U);     // at least min_chunk
  EXPECT_EQ(pmap::guided_chunk(0, 5, 0), 1U);
  EXPECT_EQ(pmap::guided_chunk(1ULL << 40, 1, 1), kMaxChunk);
  EXPECT_EQ(pmap::guided_chunk(10, 1, kMaxChunk * 4), kMaxChunk);  // kMaxChunk wins
}

TEST(GuidedChunk, NonIncreasingAsRemainingShrinks) {
  for (int workers : {1, 2, 3, 8}) {
    for (std::uint64_t min_chunk : {1ULL, 4ULL}) {
      for (std::uint64_t n : {1ULL, 37ULL, 1000ULL, 200000ULL}) {
        SCOPED_TRACE(testing::Message()
                     << "workers=" << workers << " min=" << min_chunk << " n=" << n);
        // Simulate the guided schedule: the chunks shrink and add up to n.
        std::uint64_t remaining = n;
        std::uint64_t previous = kMaxN;
        std::uint64_t total = 0;
        int steps = 0;
        while (remaining > 0) {
          const std::uint64_t g =
              std::min(remaining, pmap::guided_chunk(remaining, workers, min_chunk));
          ASSERT_GE(g, 1U);
          EXPECT_LE(g, previous);
          previous = g;
          total += g;
          remaining -= g;
          ASSERT_LT(++steps, 1000000);
        }
        EXPECT_EQ(total, n);
      }
      // And directly: a smaller remainder never yields a bigger chunk.
      std::uint64_t previous = kMaxN;
      for (std::uint64_t r = 300000; r-- > 0;) {
        if (r % 997 != 0 && r > 200) continue;
        const std::uint64_t g = pmap::guided_chunk(r, workers, min_chunk);
        EXPECT_LE(g, previous) << r;
        previous = g;
      }
    }
  }
}

// BUG (src/partition.cpp:37): `(remaining + w - 1) / w` overflows for remaining near 2^64:
// guided_chunk(2^64-1, 1, 1) returns 1 instead of kMaxChunk.
TEST(GuidedChunk, HugeRemainderDoesNotOverflow) {
  EXPECT_EQ(pmap::guided_chunk(kMaxN, 1, 1), kMaxChunk);
}

TEST(TailChunk, HalfAFairShareAndOneAtTheEnd) {
  EXPECT_EQ(pmap::tail_chunk(1000, 5), 100U);  // 1000 / (2 x 5)
  EXPECT_EQ(pmap::tail_chunk(1001, 5), 101U);  // rounded up
  EXPECT_EQ(pmap::tail_chunk(0, 3), 1U);
  EXPECT_EQ(pmap::tail_chunk(kMaxN, 1), kMaxChunk);
  // Simulated end of a run on 4 workers: every chunk at most half a fair share of what is left,
  // and the last 2 x workers items one at a time.
  std::uint64_t remaining = 5000;
  while (remaining > 0) {
    const std::uint64_t c = std::min(remaining, pmap::tail_chunk(remaining, 4));
    EXPECT_LE(c, (remaining + 7) / 8);
    if (remaining <= 8) {
      EXPECT_EQ(c, 1U) << remaining;
    }
    remaining -= c;
  }
}

// --- ChunkSizer ---------------------------------------------------------------------------------

TEST(ChunkSizer, StartsAtOne) {
  EXPECT_EQ(ChunkSizer().desired(), 1U);
  EXPECT_EQ(ChunkSizer(5.0).desired(), 1U);
}

TEST(ChunkSizer, GrowsAtMostFourTimesPerRecord) {
  ChunkSizer sizer(0.1);
  // 1 ms per item: the ideal is 100 items; the sizer gets there by x4 steps.
  std::vector<std::uint64_t> seen;
  for (int i = 0; i < 6; ++i) {
    const std::uint64_t d = sizer.desired();
    seen.push_back(d);
    sizer.record(d, 0.001 * static_cast<double>(d));
  }
  ASSERT_GE(seen.size(), 4U);
  EXPECT_EQ(seen[0], 1U);
  EXPECT_EQ(seen[1], 4U);
  EXPECT_EQ(seen[2], 16U);
  EXPECT_EQ(seen[3], 64U);
  EXPECT_NEAR(static_cast<double>(seen[4]), 100.0, 1.0);
  EXPECT_NEAR(static_cast<double>(seen[5]), 100.0, 1.0);
}

TEST(ChunkSizer, ConvergesNearTargetOverPerItem) {
  for (double per_item : {1e-6, 1e-4, 2.5e-3, 0.01, 0.03}) {
    for (double target : {0.05, 0.1, 0.2}) {
      ChunkSizer sizer(target);
      for (int i = 0; i < 30; ++i) {
        sizer.record(sizer.desired(), per_item * static_cast<double>(sizer.desired()));
      }
      const double ideal = std::min(target / per_item, static_cast<double>(kMaxChunk));
      EXPECT_NEAR(static_cast<double>(sizer.desired()), ideal, std::max(1.0, 0.02 * ideal))
          << "per_item=" << per_item << " target=" << target;
    }
  }
}

TEST(ChunkSizer, SlowItemsKeepChunksAtOne) {
  ChunkSizer sizer(0.1);
  for (int i = 0; i < 5; ++i) {
    sizer.record(sizer.desired(), 0.8 * static_cast<double>(sizer.desired()));
    EXPECT_EQ(sizer.desired(), 1U);
  }
}

TEST(ChunkSizer, ShrinksAtOnceOnASlowChunk) {
  ChunkSizer sizer(0.1);
  for (int i = 0; i < 20; ++i)
    sizer.record(sizer.desired(), 1e-5 * static_cast<double>(sizer.desired()));
  ASSERT_GE(sizer.desired(), 5000U);
  // One chunk of 10,000 items that took 100 s (10 ms an item): next chunk is ~10 items.
  sizer.record(10000, 100.0);
  EXPECT_NEAR(static_cast<double>(sizer.desired()), 10.0, 1.0);
  sizer.record(10, 50.0);  // 5 s an item: one item at a time
  EXPECT_EQ(sizer.desired(), 1U);
}

TEST(ChunkSizer, NeverExceedsMaxChunk) {
  ChunkSizer sizer(10.0);
  for (int i = 0; i < 50; ++i) {
    sizer.record(sizer.desired(), 0.0);  // instantaneous items
    EXPECT_LE(sizer.desired(), kMaxChunk);
  }
  EXPECT_EQ(sizer.desired(), kMaxChunk);
}

TEST(ChunkSizer, IgnoresEmptyChunks) {
  ChunkSizer sizer(0.1);
  sizer.record(1, 0.001);
  const std::uint64_t before = sizer.desired();
  sizer.record(0, 123.0);
  EXPECT_EQ(sizer.desired(), before);
}

TEST(ChunkSizer, RandomTimingsRespectInvariants) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> log_per_item(-9.0, 1.0);
  ChunkSizer sizer(0.1);
  for (int i = 0; i < 10000; ++i) {
    const std::uint64_t before = sizer.desired();
    const std::uint64_t items = 1 + rng() % (2 * before);
    const double seconds = std::pow(10.0, log_per_item(rng)) * static_cast<double>(items);
    sizer.record(items, seconds);
    const std::uint64_t after = sizer.desired();
    ASSERT_GE(after, 1U);
    ASSERT_LE(after, kMaxChunk);
    ASSERT_LE(after, 4 * before) << "grew more than 4x in one record";
  }
}

}  // namespace
