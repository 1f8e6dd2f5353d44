// pmap — `pmap merge OUT.h5 SHARD.h5...`: join the result files of a sharded job (job arrays).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pmap/results.hpp"

namespace pmap {

/// What a merge produced.
struct MergeReport {
  std::uint64_t items = 0, ok = 0, failed = 0, timed_out = 0;           ///< /compute rows
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

/// One finished block of an elastic job: its file holds rows [begin, end) of the job, and only
/// those (row 0 of the file is row `begin` of the job).
struct BlockFile {
  std::string path;
  std::uint64_t begin = 0, end = 0;
  std::string task;        ///< the task that finished it
  std::string taken_from;  ///< the tasks that held it before (comma-separated), if any
};

/// The /compute attributes of an elastic block's file that tie it to its job and its rows.
inline constexpr const char* kBlockJobFnv = "elastic_job_fnv";
inline constexpr const char* kBlockBegin = "elastic_begin";
inline constexpr const char* kBlockEnd = "elastic_end";

/// Checks that `blocks` cover rows [0, meta.items) exactly once, each file of the job of `meta`
/// (kernel, arguments, item kind, `job_fnv`) with exactly its rows, every one run; then writes
/// them as one results file with meta's attributes (the file a one-job run writes: the same
/// checksum) and a /compute/blocks table (block, begin, end, task, taken_from). Throws
/// UsageError naming the first problem; nothing is written then.
MergeReport merge_blocks(const std::string& output, const ComputeMeta& meta,
                         const std::string& job_fnv, const std::vector<BlockFile>& blocks,
                         bool force);

/// URL lists: merge_shards of the blocks' files (each the shard `block/blocks` of one list),
/// with a /urls/blocks table (block, urls, task, taken_from).
MergeReport merge_url_blocks(const std::string& output, const std::vector<BlockFile>& blocks,
                             bool force, const std::string& command);

}  // namespace pmap
