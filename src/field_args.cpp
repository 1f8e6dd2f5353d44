#include "pmap/field_args.hpp"

#include "pmap/error.hpp"

namespace pmap {
namespace {

/// True when an argument of type `arg` can take every value of a field of type `field`.
bool compatible(ArgType arg, FieldType field) {
  switch (arg) {
    case ArgType::Int:
    case ArgType::Bool:
      return field == FieldType::Int;
    case ArgType::Double:
      return field != FieldType::String;
    case ArgType::String:
      return true;
  }
  return false;
}

}  // namespace

std::vector<FieldArg> bind_field_args(const Kernel& kernel, const std::vector<FieldSpec>& fields) {
  std::vector<FieldArg> out;
  for (std::size_t j = 0; j < fields.size(); ++j) {
    for (const ArgSpec& a : kernel.arguments()) {
      if (a.name != fields[j].name) continue;
      if (!compatible(a.type, fields[j].type)) {
        throw UsageError("fields", fields[j].name,
                         "the field is " + std::string(to_string(fields[j].type)) + " but kernel " +
                             std::string(kernel.name()) + " takes argument " + a.name + " as " +
                             std::string(to_string(a.type)) +
                             "; rename the field or give it values of that type");
      }
      out.push_back({a.name, j, a.type});
    }
  }
  return out;
}

ArgValue field_arg(const Fields& fields, const FieldArg& arg) {
  switch (arg.type) {
    case ArgType::Int:
      return fields.as_int(arg.field);
    case ArgType::Double:
      return fields.as_double(arg.field);
    case ArgType::String:
      return fields.text(arg.field);
    case ArgType::Bool: {
      const std::int64_t v = fields.as_int(arg.field);
      if (v != 0 && v != 1) {
        throw ItemError("field " + arg.name + ": " + std::to_string(v) + " is not a bool (0 or 1)");
      }
      return v == 1;
    }
  }
  return std::int64_t{0};
}

}  // namespace pmap
