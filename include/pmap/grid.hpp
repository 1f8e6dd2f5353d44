// pmap — grids: the Cartesian product of named axes, never materialised (item i's fields are
// computed from i by mixed radix, the last axis varying fastest, as itertools.product).
//
//   pmap::ComputeJob job;
//   job.space = pmap::ItemSpace(pmap::make_grid({"x=1:11", "y=1,2,3"}));  // 30 items
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pmap/fields.hpp"

namespace pmap {

/// A grid of axes "NAME=SPEC", SPEC one of START:STOP[:STEP] (integers, or decimals by count of
/// steps: 0:1:0.1 has 10 points), a list 1,2,4,8 (numbers or words), linspace(A,B,N) or
/// logspace(A,B,N). Throws UsageError (subject "grid", the column of the fault) for a bad spec,
/// a duplicate or invalid name, an empty axis or a product beyond 2^62 items.
std::shared_ptr<const FieldSource> make_grid(const std::vector<std::string>& specs);

}  // namespace pmap
