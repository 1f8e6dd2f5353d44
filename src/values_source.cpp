#include "pmap/values_source.hpp"

#include <algorithm>

#include "detail/fnv.hpp"
#include "pmap/error.hpp"

namespace pmap::detail {
namespace {

/// Rows of the caller's items, read through MapCall::field_values (never copied).
class ValuesSource final : public FieldSource {
 public:
  ValuesSource(const MapCall& call, std::vector<FieldSpec> specs)
      : call_(call), specs_(std::move(specs)) {
    // One pass: string widths and the fingerprint (the items are in memory already).
    const std::size_t k = specs_.size();
    std::vector<FieldValue> row(k);
    Fnv1a64 h;
    for (std::uint64_t r = 0; r < call_.n; ++r) {
      call_.field_values(call_.bound, r, row.data());
      for (std::size_t j = 0; j < k; ++j) {
        if (specs_[j].type == FieldType::Int) h.add(&row[j].i, sizeof row[j].i);
        if (specs_[j].type == FieldType::Float) h.add(&row[j].f, sizeof row[j].f);
        if (specs_[j].type == FieldType::String) {
          h.add(row[j].s);
          h.add("", 1);
          specs_[j].width = std::max(specs_[j].width, row[j].s.size());
        }
      }
    }
    for (auto& s : specs_) {
      h.add(s.name);
      if (s.type == FieldType::String) s.width = std::max<std::size_t>(s.width, 1);
    }
    fnv_ = h.hex();
  }

  [[nodiscard]] const std::vector<FieldSpec>& fields() const noexcept override { return specs_; }
  [[nodiscard]] std::uint64_t size() const noexcept override { return call_.n; }
  void read(std::uint64_t begin, std::uint64_t count, FieldBlock& out) const override {
    const std::size_t k = specs_.size();
    out.values.resize(count * k);
    out.item.resize(count);
    for (std::uint64_t r = 0; r < count; ++r) {
      call_.field_values(call_.bound, begin + r, out.values.data() + r * k);
      out.item[r] = static_cast<std::int64_t>(begin + r);
    }
  }
  [[nodiscard]] std::optional<std::uint64_t> row_of(std::int64_t item) const override {
    if (item < 0 || static_cast<std::uint64_t>(item) >= call_.n) return std::nullopt;
    return static_cast<std::uint64_t>(item);
  }
  [[nodiscard]] std::string_view kind() const noexcept override { return "values"; }
  [[nodiscard]] std::string fingerprint() const override { return fnv_; }
  [[nodiscard]] std::string describe() const override {
    std::string names;
    for (const auto& s : specs_) names += (names.empty() ? "" : ", ") + s.name;
    return "map over " + std::to_string(call_.n) + " items with fields " + names;
  }
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> attributes() const override {
    return {{"kind", "values"}};
  }

 private:
  const MapCall& call_;
  std::vector<FieldSpec> specs_;
  std::string fnv_;
};

}  // namespace

std::shared_ptr<const FieldSource> values_source(const MapCall& call,
                                                 const std::vector<std::string>& names) {
  if (call.field_values == nullptr) {
    throw UsageError(
        "pmap::MapOptions::field_names needs items that are std::tuple, std::pair "
        "or structs (up to 8 members) of numbers and strings, held in the range (a "
        "vector, a span)");
  }
  if (names.size() != call.field_types.size()) {
    throw UsageError("pmap::MapOptions::field_names has " + std::to_string(names.size()) +
                     " names for items of " + std::to_string(call.field_types.size()) + " members");
  }
  std::vector<FieldSpec> specs;
  for (std::size_t j = 0; j < names.size(); ++j) {
    if (!valid_field_name(names[j])) {
      throw UsageError("pmap::MapOptions::field_names: '" + names[j] +
                       "' is not a valid name (a letter or _, then letters, digits, _)");
    }
    for (const auto& s : specs) {
      if (s.name == names[j]) {
        throw UsageError("pmap::MapOptions::field_names: " + names[j] + " is given twice");
      }
    }
    specs.push_back({names[j], call.field_types[j], 0});
  }
  return std::make_shared<ValuesSource>(call, std::move(specs));
}

}  // namespace pmap::detail
