// pmap — kernel arguments from item fields (internal): a field named like a kernel argument gives
// that argument per item, functools.partial in reverse (compute_x over --grid y=1,2,3).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "pmap/fields.hpp"
#include "pmap/kernel.hpp"

namespace pmap {

/// A kernel argument taken from field `field` of every item.
struct FieldArg {
  std::string name;
  std::size_t field = 0;
  ArgType type = ArgType::Double;
};

/// The arguments of `kernel` that `fields` give; throws UsageError (subject "fields") for a
/// field whose type the argument cannot take (a float for an int, a string for a number).
std::vector<FieldArg> bind_field_args(const Kernel& kernel, const std::vector<FieldSpec>& fields);

/// The value of argument `arg` from one item's fields (throws ItemError for a bool not 0 or 1).
ArgValue field_arg(const Fields& fields, const FieldArg& arg);

}  // namespace pmap
