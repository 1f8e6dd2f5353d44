#include "pmap/item_space.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>

#include "detail/fnv.hpp"
#include "detail/text.hpp"
#include "pmap/error.hpp"

namespace pmap {
namespace {

std::string_view trim(std::string_view s) {
  const auto* ws = " \t\r\n\f\v";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

bool parse_int64(std::string_view s, std::int64_t& out) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') {
    s.remove_prefix(1);
    if (!s.empty() && (s.front() == '-' || s.front() == '+')) return false;
  }
  if (s.empty()) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

/// Rows [begin, end) of another source, item values and fields unchanged.
class SliceSource final : public FieldSource {
 public:
  SliceSource(std::shared_ptr<const FieldSource> base, std::uint64_t begin, std::uint64_t end)
      : base_(std::move(base)), begin_(begin), end_(end) {}
  [[nodiscard]] const std::vector<FieldSpec>& fields() const noexcept override {
    return base_->fields();
  }
  [[nodiscard]] std::uint64_t size() const noexcept override { return end_ - begin_; }
  void read(std::uint64_t begin, std::uint64_t count, FieldBlock& out) const override {
    base_->read(begin_ + begin, count, out);
  }
  [[nodiscard]] std::optional<std::uint64_t> row_of(std::int64_t item) const override {
    const auto row = base_->row_of(item);
    if (!row || *row < begin_ || *row >= end_) return std::nullopt;
    return *row - begin_;
  }
  [[nodiscard]] std::string_view kind() const noexcept override { return base_->kind(); }
  [[nodiscard]] std::string fingerprint() const override {
    detail::Fnv1a64 h;
    h.add(base_->fingerprint());
    h.add(&begin_, sizeof begin_);
    h.add(&end_, sizeof end_);
    return h.hex();
  }
  [[nodiscard]] std::string describe() const override {
    return base_->describe() + " rows " + std::to_string(begin_) + ":" + std::to_string(end_);
  }
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> attributes() const override {
    return base_->attributes();
  }

 private:
  std::shared_ptr<const FieldSource> base_;
  std::uint64_t begin_, end_;
};

}  // namespace

std::uint64_t Range::size() const noexcept {
  // Unsigned arithmetic: stop - start may not fit in int64, but always fits in uint64.
  const auto ustart = static_cast<std::uint64_t>(start);
  const auto ustop = static_cast<std::uint64_t>(stop);
  if (step > 0 && stop > start) {
    return (ustop - ustart - 1) / static_cast<std::uint64_t>(step) + 1;
  }
  if (step < 0 && stop < start) {
    const std::uint64_t abs_step = std::uint64_t{0} - static_cast<std::uint64_t>(step);
    return (ustart - ustop - 1) / abs_step + 1;
  }
  return 0;
}

Range parse_range(std::string_view text) {
  const auto fail = [&](const std::string& why) {
    return UsageError("range", std::string(text), why);
  };
  std::vector<std::string_view> parts;
  std::size_t from = 0;
  while (true) {
    const auto colon = text.find(':', from);
    parts.push_back(text.substr(from, colon == std::string_view::npos ? text.npos : colon - from));
    if (colon == std::string_view::npos) break;
    from = colon + 1;
  }
  if (parts.size() < 2 || parts.size() > 3) {
    throw fail(
        "expected START:STOP or START:STOP:STEP (Python range semantics, e.g. 0:100 or "
        "10:0:-2)");
  }
  std::int64_t v[3] = {0, 0, 1};
  const char* names[3] = {"START", "STOP", "STEP"};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto part = trim(parts[i]);
    if (part.empty()) {
      if (i == 2) throw fail("STEP is empty (omit the second ':' for step 1)");
      throw fail(std::string(names[i]) + " is missing (expected an integer)");
    }
    if (!parse_int64(part, v[i])) {
      throw fail("'" + std::string(part) + "' is not an integer (" + names[i] +
                 " must be a 64-bit integer)");
    }
  }
  if (v[2] == 0) throw fail("STEP must not be zero");
  return Range{v[0], v[1], v[2]};
}

InputLines read_input(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw UsageError::cannot_open("input", path, std::strerror(errno),
                                  "; give a readable text file with one item a line");
  }
  InputLines lines;
  std::string line;
  std::int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (number == 1) detail::strip_utf8_bom(line);
    if (line.find('\0') != std::string::npos) {
      throw UsageError("input", path + ":" + std::to_string(number),
                       "contains a NUL byte; the input must be a text file, one item a line");
    }
    const auto t = trim(line);
    if (t.empty() || t.front() == '#') continue;
    lines.text.emplace_back(t);
    lines.line_number.push_back(number);
  }
  if (in.bad()) {
    throw UsageError("input", path, "read error (" + std::string(std::strerror(errno)) + ")");
  }
  return lines;
}

std::int64_t Item::as_int() const {
  if (!fields.empty()) return fields.as_int(0);
  if (!from_input) return value;
  std::int64_t v = 0;
  if (parse_int64(text, v)) return v;
  throw ItemError("line " + std::to_string(value) + ": '" + detail::printable_utf8(text, 80) +
                  "' is not an integer");
}

double Item::as_double() const {
  if (!fields.empty()) return fields.as_double(0);
  if (!from_input) return static_cast<double>(value);
  const std::string s(trim(text));
  if (!s.empty()) {
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(s.c_str(), &end);
    if (end == s.c_str() + s.size() && errno != ERANGE && std::isfinite(v)) return v;
  }
  throw ItemError("line " + std::to_string(value) + ": '" + detail::printable_utf8(text, 80) +
                  "' is not a number");
}

std::string Item::to_text() const {
  if (!fields.empty()) {
    std::string out;
    for (std::size_t j = 0; j < fields.size(); ++j) {
      if (j > 0) out += ' ';
      out += fields.text(j);
    }
    return out;
  }
  return from_input ? std::string(text) : std::to_string(value);
}

const std::vector<FieldSpec>& ItemSpace::fields() const noexcept {
  static const std::vector<FieldSpec> none;
  return source_ ? source_->fields() : none;
}

std::string ItemSpace::kind() const {
  if (source_) return std::string(source_->kind());
  return from_input_ ? "input" : "range";
}

Item ItemSpace::at(std::uint64_t i) const noexcept {
  const std::uint64_t row = first_row_ + i;
  if (source_) return Item{row, static_cast<std::int64_t>(i), {}, false};
  if (from_input_) return Item{row, lines_.line_number[i], lines_.text[i], true};
  return Item{row, range_.at(i), {}, false};
}

void ItemSpace::read(std::uint64_t begin, std::uint64_t end, ItemBlock& block) const {
  const std::uint64_t n = end - begin;
  block.items.resize(n);
  if (!source_) {
    for (std::uint64_t j = 0; j < n; ++j) block.items[j] = at(begin + j);
    return;
  }
  source_->read(begin, n, block.fields);
  const auto& specs = source_->fields();
  const std::size_t k = specs.size();
  for (std::uint64_t j = 0; j < n; ++j) {
    block.items[j] = Item{first_row_ + begin + j,
                          block.fields.item[j],
                          {},
                          false,
                          Fields(&specs, block.fields.values.data() + j * k)};
  }
}

std::optional<std::uint64_t> ItemSpace::row_of(std::int64_t value) const {
  if (source_) return source_->row_of(value);
  if (from_input_) {
    const auto& ln = lines_.line_number;
    const auto it = std::lower_bound(ln.begin(), ln.end(), value);
    if (it == ln.end() || *it != value) return std::nullopt;
    return static_cast<std::uint64_t>(it - ln.begin());
  }
  const auto diff = static_cast<std::uint64_t>(value) - static_cast<std::uint64_t>(range_.start);
  const std::uint64_t step = range_.step > 0
                                 ? static_cast<std::uint64_t>(range_.step)
                                 : std::uint64_t{0} - static_cast<std::uint64_t>(range_.step);
  const std::uint64_t offset = range_.step > 0 ? diff : std::uint64_t{0} - diff;
  if (offset % step != 0) return std::nullopt;
  const std::uint64_t row = offset / step;
  if (row >= size_ || range_.at(row) != value) return std::nullopt;
  return row;
}

std::string ItemSpace::fingerprint() const {
  if (source_) return source_->fingerprint();
  detail::Fnv1a64 h;
  if (from_input_) {
    for (std::size_t i = 0; i < lines_.text.size(); ++i) {
      h.add(&lines_.line_number[i], sizeof(std::int64_t));
      h.add(lines_.text[i]);
    }
  } else {
    h.add(&range_.start, sizeof range_.start);
    h.add(&range_.stop, sizeof range_.stop);
    h.add(&range_.step, sizeof range_.step);
  }
  return h.hex();
}

ItemSpace ItemSpace::slice(std::uint64_t begin, std::uint64_t end) const {
  if (begin > end || end > size_) {
    throw UsageError("rows", std::to_string(begin) + ":" + std::to_string(end),
                     "outside the " + std::to_string(size_) + " items of " + describe());
  }
  ItemSpace part = slice_items(begin, end);
  part.first_row_ = first_row_ + begin;
  return part;
}

ItemSpace ItemSpace::slice_items(std::uint64_t begin, std::uint64_t end) const {
  if (source_) return ItemSpace(std::make_shared<SliceSource>(source_, begin, end));
  if (from_input_) {
    InputLines part;
    const auto b = static_cast<std::ptrdiff_t>(begin), e = static_cast<std::ptrdiff_t>(end);
    part.text.assign(lines_.text.begin() + b, lines_.text.begin() + e);
    part.line_number.assign(lines_.line_number.begin() + b, lines_.line_number.begin() + e);
    return ItemSpace(std::move(part));
  }
  Range r = range_;
  r.start = range_.at(begin);
  r.stop = range_.at(end);
  return ItemSpace(r);
}

std::string ItemSpace::describe() const {
  if (source_) return source_->describe();
  if (from_input_) return "input (" + std::to_string(size_) + " items)";
  return "range " + std::to_string(range_.start) + ":" + std::to_string(range_.stop) + ":" +
         std::to_string(range_.step) + " (" + std::to_string(size_) + " items)";
}

}  // namespace pmap
