// pmap — `pmap merge` for /urls: the shards of a URL list checked by a job array (private).
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "pmap/tally.hpp"

namespace pmap::detail {

/// What a URL shard says of itself (its /urls attributes).
struct UrlShard {
  std::string path;
  std::int64_t index = 0, count = 1;
  std::int64_t urls = 0;        ///< rows of the whole list
  std::int64_t shard_urls = 0;  ///< rows the shard owns
  std::int64_t checked = -1;    ///< rows of the shard done (-1: the run never finished)
  std::string list_fnv, method, input;
  std::vector<std::pair<std::string, double>> reals;       ///< timeout, wall_seconds
  std::vector<std::pair<std::string, std::int64_t>> ints;  ///< threads, retries, per_host
};

/// Reads /urls's attributes of a shard file; UsageError if it has none usable.
UrlShard read_url_shard(const std::string& path);

/// UsageError unless every shard checks the same list the same way and is complete.
void check_url_shards(const std::vector<UrlShard>& shards);

/// Serial: writes /urls into the open file `dst`, each row from the one shard that checked it
/// (UsageError if none or several did); returns the verdicts of the merged rows.
UrlTally merge_url_rows(hid_t dst, const std::vector<UrlShard>& shards,
                         const std::string& command);

}  // namespace pmap::detail
