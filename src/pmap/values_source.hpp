// pmap — the C++ API's tuple items as fields (internal): pmap::map over a vector of tuples or
// pairs with MapOptions::field_names records each member in /compute/params.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pmap/fields.hpp"
#include "pmap/map.hpp"

namespace pmap::detail {

/// The fields of `call`'s items under `names`; throws UsageError for a name that is invalid or
/// repeated, or a count that is not the items' number of members.
std::shared_ptr<const FieldSource> values_source(const MapCall& call,
                                                 const std::vector<std::string>& names);

}  // namespace pmap::detail
