#include "pmap/fields.hpp"

#include <charconv>
#include <cmath>
#include <string>

#include "detail/text.hpp"
#include "pmap/error.hpp"

namespace pmap {

std::string_view to_string(FieldType type) {
  switch (type) {
    case FieldType::Int:
      return "int64";
    case FieldType::Float:
      return "float64";
    case FieldType::String:
      return "string";
  }
  return "?";
}

bool valid_field_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  const auto alpha = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  if (!alpha(name.front())) return false;
  for (const char c : name) {
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::optional<std::size_t> Fields::find(std::string_view name) const noexcept {
  for (std::size_t j = 0; j < size(); ++j) {
    if ((*specs_)[j].name == name) return j;
  }
  return std::nullopt;
}

double Fields::as_double(std::size_t j) const {
  const FieldValue& v = values_[j];
  switch (spec(j).type) {
    case FieldType::Int:
      return static_cast<double>(v.i);
    case FieldType::Float:
      return v.f;
    case FieldType::String:
      break;
  }
  double d = 0;
  const auto [p, ec] = std::from_chars(v.s.data(), v.s.data() + v.s.size(), d);
  if (v.s.empty() || ec != std::errc() || p != v.s.data() + v.s.size() || !std::isfinite(d)) {
    throw ItemError("field " + spec(j).name + ": '" + detail::printable_utf8(v.s, 80) +
                    "' is not a number");
  }
  return d;
}

std::int64_t Fields::as_int(std::size_t j) const {
  const FieldValue& v = values_[j];
  if (spec(j).type == FieldType::Int) return v.i;
  if (spec(j).type == FieldType::Float) {
    if (v.f == std::floor(v.f) && std::abs(v.f) < 9.2e18) return static_cast<std::int64_t>(v.f);
    throw ItemError("field " + spec(j).name + ": " + text(j) + " is not an integer");
  }
  std::int64_t i = 0;
  const auto [p, ec] = std::from_chars(v.s.data(), v.s.data() + v.s.size(), i);
  if (v.s.empty() || ec != std::errc() || p != v.s.data() + v.s.size()) {
    throw ItemError("field " + spec(j).name + ": '" + detail::printable_utf8(v.s, 80) +
                    "' is not an integer");
  }
  return i;
}

std::string Fields::text(std::size_t j) const {
  const FieldValue& v = values_[j];
  if (!v.s.empty()) return std::string(v.s);  // a table's number as the table spells it
  char buf[32];
  switch (spec(j).type) {
    case FieldType::Int:
      return std::string(buf, std::to_chars(buf, buf + sizeof buf, v.i).ptr);
    case FieldType::Float:
      return std::string(buf, std::to_chars(buf, buf + sizeof buf, v.f).ptr);
    case FieldType::String:
      break;
  }
  return std::string(v.s);
}

}  // namespace pmap
