// pmap — libFuzzer target: binding --arg KEY=VALUE strings to a kernel's declared arguments.
//
// Input: one byte choosing the kernel (the built-ins, then a kernel declaring one argument of
// every type), then the assignments separated by NUL bytes (argv strings never contain one).
// bind_args must bind exactly what a reference accepts (KEY=VALUE with a declared KEY; ints are
// decimal int64 without '+'; bools true/1/yes/false/0/no; doubles finite) or throw UsageError;
// the bound values must have the declared types, survive a textual round trip through bind_args
// again, and survive to_json() (parsed back; strings exactly when they are UTF-8).
// output_columns() may only throw UsageError (exec checks its command template there).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fuzz_support.hpp"
#include "pmap/error.hpp"
#include "pmap/kernel.hpp"

namespace {

using pmap::ArgType;
using pmap::ArgValue;
using pmap::fuzz::escaped;

/// One argument of every type, with defaults no built-in has (an empty string, a negative int).
class AllTypesKernel final : public pmap::Kernel {
 public:
  [[nodiscard]] std::string_view name() const override { return "fuzz_all_types"; }
  [[nodiscard]] std::string_view description() const override { return "fuzz kernel"; }
  [[nodiscard]] const std::vector<pmap::ArgSpec>& arguments() const override { return args_; }
  [[nodiscard]] const std::vector<std::string>& columns() const override { return columns_; }
  void run(const pmap::Item& /*item*/, const pmap::BoundArgs& /*args*/, std::span<double> out,
           const pmap::KernelContext& /*ctx*/) const override {
    out[0] = 0;
  }

 private:
  std::vector<pmap::ArgSpec> args_ = {{"n", ArgType::Int, std::int64_t{-1}, "an int"},
                                      {"x", ArgType::Double, 0.25, "a double"},
                                      {"s", ArgType::String, std::string(), "a string"},
                                      {"b", ArgType::Bool, true, "a bool"}};
  std::vector<std::string> columns_ = {"v"};
};

std::size_t type_index(ArgType type) {
  switch (type) {
    case ArgType::Int:
      return 0;
    case ArgType::Double:
      return 1;
    case ArgType::String:
      return 2;
    case ArgType::Bool:
      return 3;
  }
  return 99;
}

const pmap::ArgSpec* find_spec(const pmap::Kernel& kernel, std::string_view name) {
  const pmap::ArgSpec* found = nullptr;
  for (const auto& spec : kernel.arguments()) {
    if (spec.name == name) found = &spec;
  }
  return found;
}

/// What the reference says of one assignment: bound to this value, rejected, or (a double)
/// accepted only if finite, which is checked on the result instead.
enum class Verdict { Valid, Invalid, DoubleMaybe };

Verdict reference(const pmap::Kernel& kernel, const std::string& a, ArgValue& value) {
  const std::size_t eq = a.find('=');
  if (eq == std::string::npos || eq == 0) return Verdict::Invalid;
  const pmap::ArgSpec* spec = find_spec(kernel, std::string_view(a).substr(0, eq));
  if (spec == nullptr) return Verdict::Invalid;
  const std::string text = a.substr(eq + 1);
  switch (spec->type) {
    case ArgType::Int: {
      const auto v = pmap::fuzz::ref_int64(text, false);
      if (!v) return Verdict::Invalid;
      value = *v;
      return Verdict::Valid;
    }
    case ArgType::Bool:
      if (text == "true" || text == "1" || text == "yes") {
        value = true;
      } else if (text == "false" || text == "0" || text == "no") {
        value = false;
      } else {
        return Verdict::Invalid;
      }
      return Verdict::Valid;
    case ArgType::String:
      value = text;
      return Verdict::Valid;
    case ArgType::Double:
      if (text.empty()) return Verdict::Invalid;
      return Verdict::DoubleMaybe;
  }
  return Verdict::Invalid;
}

/// A value as --arg text that binds back to the same value.
std::string canonical(const ArgValue& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", *d);
    return buf;
  }
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  return std::get<std::string>(v);
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

/// Equal values of equal types; doubles bit for bit (-0.0 is not 0.0).
bool same(const ArgValue& a, const ArgValue& b) {
  if (a.index() != b.index()) return false;
  if (const auto* x = std::get_if<double>(&a)) return same_bits(*x, std::get<double>(b));
  return a == b;
}

void check_json(const pmap::BoundArgs& bound, const std::string& kernel) {
  const std::string text = bound.to_json();
  const auto j = nlohmann::json::parse(text);  // to_json must write valid JSON
  PMAP_FUZZ_CHECK(j.is_object() && j.size() == bound.values().size(), kernel + ": " + text);
  for (const auto& [name, value] : bound.values()) {
    PMAP_FUZZ_CHECK(j.contains(name), kernel + ": " + text + " lacks " + name);
    const auto& jv = j.at(name);
    bool ok = false;
    if (const auto* i = std::get_if<std::int64_t>(&value)) {
      ok = jv.is_number_integer() && jv.get<std::int64_t>() == *i;
    } else if (const auto* d = std::get_if<double>(&value)) {
      ok = jv.is_number_float() && same_bits(jv.get<double>(), *d);
    } else if (const auto* b = std::get_if<bool>(&value)) {
      ok = jv.is_boolean() && jv.get<bool>() == *b;
    } else {  // bytes that are not UTF-8 become U+FFFD: only valid text survives exactly
      const std::string& v = std::get<std::string>(value);
      ok = jv.is_string() && (jv.get<std::string>() == v || !pmap::fuzz::valid_utf8(v));
    }
    PMAP_FUZZ_CHECK(ok, kernel + ": " + name + " in " + escaped(text));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const AllTypesKernel all_types;
  const auto& builtins = pmap::builtin_kernels();
  const std::size_t choice = data[0] % (builtins.size() + 1);
  const pmap::Kernel& kernel =
      choice < builtins.size() ? *builtins[choice] : static_cast<const pmap::Kernel&>(all_types);
  const std::string name(kernel.name());

  std::vector<std::string> assignments;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  for (std::size_t from = 0; from <= rest.size() && assignments.size() < 32;) {
    const std::size_t nul = rest.find('\0', from);
    assignments.emplace_back(
        rest.substr(from, nul == std::string_view::npos ? rest.npos : nul - from));
    if (nul == std::string_view::npos) break;
    from = nul + 1;
  }

  // The reference's view: any invalid assignment must fail the binding; doubles are judged below.
  bool any_invalid = false;
  bool any_double = false;
  std::map<std::string, std::optional<ArgValue>> last;  // last assignment per key (nullopt: double)
  for (const auto& a : assignments) {
    ArgValue value;
    const Verdict v = reference(kernel, a, value);
    any_invalid = any_invalid || v == Verdict::Invalid;
    any_double = any_double || v == Verdict::DoubleMaybe;
    if (v == Verdict::Valid) last[a.substr(0, a.find('='))] = value;
    if (v == Verdict::DoubleMaybe) last[a.substr(0, a.find('='))] = std::nullopt;
  }

  std::optional<pmap::BoundArgs> bound;
  try {
    bound = pmap::bind_args(kernel, assignments);
  } catch (const pmap::UsageError& e) {
    const std::string_view what = e.what();
    PMAP_FUZZ_CHECK(e.subject() == "args" && what.starts_with("args "), escaped(what));
    PMAP_FUZZ_CHECK(
        any_invalid || any_double,
        name + ": rejected, but the reference accepts every assignment: " + escaped(what));
    return 0;
  }
  PMAP_FUZZ_CHECK(!any_invalid, name + ": accepted an assignment the reference rejects");

  // Every declared argument has a value of its type; the assigned ones have the assigned value.
  const auto& values = bound->values();
  PMAP_FUZZ_CHECK(values.size() == kernel.arguments().size(), name);
  for (const auto& spec : kernel.arguments()) {
    const auto it = values.find(spec.name);
    PMAP_FUZZ_CHECK(it != values.end() && it->second.index() == type_index(spec.type),
                    name + ": " + spec.name);
    const auto assigned = last.find(spec.name);
    if (assigned == last.end()) {
      PMAP_FUZZ_CHECK(same(it->second, spec.default_value), name + ": default of " + spec.name);
    } else if (assigned->second) {
      PMAP_FUZZ_CHECK(same(it->second, *assigned->second),
                      name + ": " + spec.name + " bound to " + escaped(canonical(it->second)));
    } else {
      PMAP_FUZZ_CHECK(std::isfinite(std::get<double>(it->second)), name + ": " + spec.name);
    }
  }

  // The canonical text of every value binds back to the same values.
  std::vector<std::string> again;
  for (const auto& [key, value] : values) again.push_back(key + "=" + canonical(value));
  const pmap::BoundArgs rebound = pmap::bind_args(kernel, again);
  for (const auto& [key, value] : values) {
    PMAP_FUZZ_CHECK(same(rebound.values().at(key), value),
                    name + ": " + key + "=" + escaped(canonical(value)) + " does not bind back");
  }

  check_json(*bound, name);

  try {
    const std::vector<std::string> columns = kernel.output_columns(*bound);
    PMAP_FUZZ_CHECK(!columns.empty(), name);
    for (const auto& c : columns) PMAP_FUZZ_CHECK(!c.empty(), name + ": an empty column name");
  } catch (const pmap::UsageError& e) {
    PMAP_FUZZ_CHECK(std::string_view(e.what()).starts_with("--"), escaped(e.what()));
  }
  return 0;
}
