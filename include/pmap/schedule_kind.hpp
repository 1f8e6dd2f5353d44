// pmap — the names of the ways the iteration space is shared across ranks.
//
//   pmap::MapOptions opt;
//   opt.schedule = pmap::parse_schedule("guided");
#pragma once

#include <string_view>

namespace pmap {

/// How chunks are assigned to ranks.
enum class Schedule { Static, Cyclic, Dynamic, Guided };

/// Parses "static|cyclic|dynamic|guided"; throws UsageError otherwise.
Schedule parse_schedule(std::string_view text);
std::string_view to_string(Schedule s);

}  // namespace pmap
