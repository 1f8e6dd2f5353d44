// pmap — `pmap merge OUT.h5 SHARD.h5...`: join the result files of a sharded job (job arrays).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pmap {

/// What a merge produced.
struct MergeReport {
  std::uint64_t items = 0, ok = 0, failed = 0, timed_out = 0;  ///< /compute rows
  std::uint64_t urls = 0, exists = 0, does_not_exist = 0, unknown = 0;  ///< /urls rows
  int shards = 0;
  std::uint64_t checksum = 0;  ///< equals the checksum of an unsharded run of the same job
};

/// Checks that `shards` are exactly the shards 0..N-1 of one job (same kernel, arguments, items;
/// every shard once; every row of each shard run and none outside it; for /urls the same list
/// and every URL of each shard checked) and writes them as one results file (/compute, /urls or
/// both, as the shards have). Throws UsageError naming the first problem; nothing is written then.
MergeReport merge_shards(const std::string& output, const std::vector<std::string>& shards,
                         bool force, const std::string& command);

}  // namespace pmap
