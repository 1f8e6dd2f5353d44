// pmap — the outcome of one item, as /compute/status and pmap::map's results record it.
#pragma once

#include <cstdint>

namespace pmap {

/// Status values of /compute/status (and MapResult::status).
enum class ItemStatus : std::int8_t { NotRun = -1, Ok = 0, Failed = 1, TimedOut = 2 };

}  // namespace pmap
