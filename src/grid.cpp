#include "pmap/grid.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include "detail/fnv.hpp"
#include "detail/text.hpp"
#include "pmap/error.hpp"
#include "pmap/item_space.hpp"

namespace pmap {
namespace {

/// How an axis makes its values.
enum class AxisKind { IntRange, Decimal, Linear, Log, List };

/// One axis: a name, its type, its size, and how value i is made.
struct Axis {
  std::string name;
  std::string spec;  // as given after '='
  FieldType type = FieldType::Int;
  AxisKind kind = AxisKind::List;
  std::uint64_t size = 0;
  std::int64_t start = 0, step = 1;  // IntRange; Decimal: scaled by `scale`
  double scale = 1;                  // Decimal: 10^decimals
  double a = 0, b = 0;               // Linear / Log: endpoints (exponents for Log)
  std::vector<FieldValue> list;      // List
  std::vector<std::string> words;    // List of strings: what `list` points into

  /// Values from..from+n-1 into out[0], out[stride], ...: one switch for the whole run.
  void fill(std::uint64_t from, std::uint64_t n, FieldValue* out, std::size_t stride) const {
    if (kind == AxisKind::IntRange) {
      for (std::uint64_t t = 0; t < n; ++t) out[t * stride] = FieldValue{at_int(from + t), 0, {}};
      return;
    }
    for (std::uint64_t t = 0; t < n; ++t) out[t * stride] = at(from + t);
  }

  [[nodiscard]] std::int64_t at_int(std::uint64_t i) const {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(start) +
                                     i * static_cast<std::uint64_t>(step));
  }

  [[nodiscard]] FieldValue at(std::uint64_t i) const {
    FieldValue v;
    switch (kind) {
      case AxisKind::IntRange:
        v.i = at_int(i);
        break;
      case AxisKind::Decimal:
        v.f = static_cast<double>(start + static_cast<std::int64_t>(i) * step) / scale;
        break;
      case AxisKind::Linear:
      case AxisKind::Log: {
        const double t = i + 1 == size ? b
                                       : a + (b - a) * static_cast<double>(i) /
                                                 static_cast<double>(size > 1 ? size - 1 : 1);
        v.f = kind == AxisKind::Log ? std::pow(10.0, t) : t;
        break;
      }
      case AxisKind::List:
        v = list[i];
        break;
    }
    return v;
  }
};

/// Errors about one --grid NAME=SPEC, with the column (1-based) of the fault.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  [[noreturn]] void fail(std::size_t at, const std::string& why) const {
    throw UsageError("grid", detail::printable_utf8(text_, 200),
                     "column " + std::to_string(at + 1) + ": " + why +
                         " (expected NAME=START:STOP[:STEP], NAME=1,2,4, NAME=linspace(A,B,N) "
                         "or NAME=logspace(A,B,N))");
  }

  Axis parse() {
    const auto eq = text_.find('=');
    if (eq == std::string_view::npos) fail(0, "no '=' between the name and the values");
    Axis axis;
    axis.name = std::string(trim(text_.substr(0, eq)));
    if (!valid_field_name(axis.name)) {
      fail(0, "'" + detail::printable_utf8(axis.name, 80) +
                  "' is not a valid name (a letter or _, then letters, digits, _)");
    }
    const std::size_t from = eq + 1;
    axis.spec = std::string(text_.substr(from));
    const std::string_view spec = text_.substr(from);
    if (trim(spec).empty()) fail(from, "no values after '='");
    if (spec.starts_with("linspace(") || spec.starts_with("logspace(")) {
      function(axis, from);
    } else if (spec.find(':') != std::string_view::npos &&
               spec.find(',') == std::string_view::npos) {
      range(axis, from);
    } else {
      list(axis, from);
    }
    if (axis.size == 0) fail(from, "the axis has no values");
    return axis;
  }

 private:
  static std::string_view trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
  }
  static bool as_int(std::string_view s, std::int64_t& v) {
    if (s.starts_with('+')) s.remove_prefix(1);
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size();
  }
  static bool as_double(std::string_view s, double& v) {
    if (s.starts_with('+')) s.remove_prefix(1);
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size() && std::isfinite(v);
  }

  /// Comma- or colon-separated parts of text_[from, end), trimmed, with their columns.
  std::vector<std::pair<std::string_view, std::size_t>> split(std::size_t from, std::size_t end,
                                                              char sep) const {
    std::vector<std::pair<std::string_view, std::size_t>> parts;
    std::size_t at = from;
    while (true) {
      const auto next = std::min(text_.find(sep, at), end);
      const auto raw = text_.substr(at, next - at);
      const auto lead = raw.find_first_not_of(" \t");
      parts.emplace_back(trim(raw), at + (lead == std::string_view::npos ? 0 : lead));
      if (next >= end) break;
      at = next + 1;
    }
    return parts;
  }

  double number(std::pair<std::string_view, std::size_t> part, const char* what) const {
    double v = 0;
    if (part.first.empty()) fail(part.second, std::string(what) + " is missing");
    if (!as_double(part.first, v)) {
      fail(part.second,
           "'" + detail::printable_utf8(part.first, 80) + "' is not a number (" + what + ")");
    }
    return v;
  }

  void range(Axis& axis, std::size_t from) {
    const auto parts = split(from, text_.size(), ':');
    if (parts.size() > 3) fail(parts[3].second, "a range has at most START:STOP:STEP");
    const char* names[] = {"START", "STOP", "STEP"};
    std::int64_t iv[3] = {0, 0, 1};
    bool ints = true;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      (void)number(parts[i], names[i]);  // a clear message for anything that is not a number
      ints = ints && as_int(parts[i].first, iv[i]);
    }
    if (ints) {
      if (iv[2] == 0) fail(parts[2].second, "STEP must not be zero");
      const Range r{iv[0], iv[1], iv[2]};
      axis.kind = AxisKind::IntRange;
      axis.type = FieldType::Int;
      axis.start = iv[0];
      axis.step = iv[2];
      axis.size = r.size();
      return;
    }
    decimal_range(axis, parts);
  }

  /// Decimal START:STOP:STEP by count of steps: every value scaled to an integer by 10^d, where
  /// d is the most decimals given, so 0:1:0.1 has exactly 10 points and 0.3 is 3/10.
  void decimal_range(Axis& axis,
                     const std::vector<std::pair<std::string_view, std::size_t>>& parts) {
    int decimals = 0;
    for (const auto& [s, col] : parts) {
      if (s.find_first_of("eE") != std::string_view::npos) {
        fail(col, "write decimals without an exponent in a range (or use linspace)");
      }
      const auto dot = s.find('.');
      if (dot != std::string_view::npos)
        decimals = std::max<int>(decimals, static_cast<int>(s.size() - dot - 1));
    }
    if (decimals > 9) fail(parts[0].second, "more than 9 decimals; use linspace(A,B,N)");
    const double scale = std::pow(10.0, decimals);
    double v[3] = {0, 0, 1};
    const char* names[] = {"START", "STOP", "STEP"};
    for (std::size_t i = 0; i < parts.size(); ++i) v[i] = number(parts[i], names[i]);
    const auto scaled = [&](double x) {
      return static_cast<std::int64_t>(std::llround(x * scale));
    };
    if (std::abs(v[0]) * scale > 1e15 || std::abs(v[1]) * scale > 1e15) {
      fail(parts[0].second, "too many significant digits for a decimal range");
    }
    const std::int64_t start = scaled(v[0]), stop = scaled(v[1]), step = scaled(v[2]);
    if (step == 0)
      fail(parts.size() > 2 ? parts[2].second : parts[0].second, "STEP must not be zero");
    axis.kind = AxisKind::Decimal;
    axis.type = FieldType::Float;
    axis.start = start;
    axis.step = step;
    axis.scale = scale;
    axis.size = Range{start, stop, step}.size();
  }

  void function(Axis& axis, std::size_t from) {
    const bool log = text_.substr(from).starts_with("logspace(");
    const std::size_t open = from + 9;
    const auto close = text_.find(')', open);
    if (close == std::string_view::npos) fail(text_.size(), "')' is missing");
    if (!trim(text_.substr(close + 1)).empty()) fail(close + 1, "unexpected text after ')'");
    const auto parts = split(open, close, ',');
    if (parts.size() != 3) fail(open, "expected three arguments A,B,N");
    axis.a = number(parts[0], "A");
    axis.b = number(parts[1], "B");
    std::int64_t n = 0;
    if (!as_int(parts[2].first, n) || n < 1) {
      fail(parts[2].second, "N must be a positive integer, not '" +
                                detail::printable_utf8(parts[2].first, 80) + "'");
    }
    if (log && (axis.a > 308 || axis.b > 308))
      fail(parts[0].second, "10^A and 10^B must be finite");
    axis.kind = log ? AxisKind::Log : AxisKind::Linear;
    axis.type = FieldType::Float;
    axis.size = static_cast<std::uint64_t>(n);
  }

  void list(Axis& axis, std::size_t from) {
    const auto parts = split(from, text_.size(), ',');
    bool ints = true, numbers = true;
    for (const auto& [s, col] : parts) {
      if (s.empty()) fail(col, "an empty value in the list");
      std::int64_t i = 0;
      double d = 0;
      ints = ints && as_int(s, i);
      numbers = numbers && as_double(s, d);
    }
    axis.kind = AxisKind::List;
    axis.type = ints ? FieldType::Int : numbers ? FieldType::Float : FieldType::String;
    axis.words.reserve(parts.size());
    for (const auto& [s, col] : parts) axis.words.emplace_back(s);
    for (const auto& w : axis.words) {
      FieldValue v;
      if (ints) {
        (void)as_int(w, v.i);
      } else if (numbers) {
        (void)as_double(w, v.f);
      }
      axis.list.push_back(v);  // strings: the view is set once the axis has its home (Grid)
    }
    axis.size = parts.size();
  }

  std::string_view text_;
};

/// The product of the axes, the last varying fastest.
class Grid final : public FieldSource {
 public:
  explicit Grid(std::vector<Axis> axes) : axes_(std::move(axes)) {
    size_ = 1;
    for (auto& a : axes_) {
      for (std::size_t k = 0; k < a.words.size() && a.type == FieldType::String; ++k) {
        a.list[k].s = a.words[k];  // the axis is in place: its words no longer move
      }
      std::size_t width = 0;
      for (const auto& w : a.words) width = std::max(width, w.size());
      specs_.push_back({a.name, a.type, a.type == FieldType::String ? width : 0});
      if (size_ > (std::uint64_t{1} << 62) / a.size) {
        throw UsageError("grid", detail::printable_utf8(a.name + "=" + a.spec, 200),
                         "the grid would have more than 2^62 items; split the sweep");
      }
      size_ *= a.size;
    }
  }

  [[nodiscard]] const std::vector<FieldSpec>& fields() const noexcept override { return specs_; }
  [[nodiscard]] std::uint64_t size() const noexcept override { return size_; }

  void read(std::uint64_t begin, std::uint64_t count, FieldBlock& out) const override {
    const std::size_t k = axes_.size();
    out.values.resize(count * k);
    out.item.resize(count);
    for (std::uint64_t r = 0; r < count; ++r) out.item[r] = static_cast<std::int64_t>(begin + r);
    // The digits of `begin` once; then runs of the last axis, the outer ones as an odometer:
    // no division per item.
    std::vector<std::uint64_t> digit(k);
    std::uint64_t rest = begin;
    for (std::size_t j = k; j-- > 0;) {
      digit[j] = rest % axes_[j].size;
      rest /= axes_[j].size;
    }
    std::vector<FieldValue> outer(k);
    for (std::size_t j = 0; j + 1 < k; ++j) outer[j] = axes_[j].at(digit[j]);
    const Axis& last = axes_[k - 1];
    for (std::uint64_t r = 0; r < count;) {
      const std::uint64_t n = std::min(count - r, last.size - digit[k - 1]);
      FieldValue* rows = out.values.data() + r * k;
      for (std::uint64_t t = 0; t < n; ++t) {
        for (std::size_t j = 0; j + 1 < k; ++j) rows[t * k + j] = outer[j];
      }
      last.fill(digit[k - 1], n, rows + (k - 1), k);
      r += n;
      digit[k - 1] = 0;
      for (std::size_t j = k - 1; j-- > 0;) {  // carry into the outer axes
        if (++digit[j] < axes_[j].size) {
          outer[j] = axes_[j].at(digit[j]);
          break;
        }
        digit[j] = 0;
        outer[j] = axes_[j].at(0);
      }
    }
  }

  [[nodiscard]] std::optional<std::uint64_t> row_of(std::int64_t item) const override {
    if (item < 0 || static_cast<std::uint64_t>(item) >= size_) return std::nullopt;
    return static_cast<std::uint64_t>(item);
  }
  [[nodiscard]] std::string_view kind() const noexcept override { return "grid"; }

  [[nodiscard]] std::string fingerprint() const override {
    detail::Fnv1a64 h;
    for (const auto& a : axes_) {
      h.add(a.name);
      h.add("=", 1);
      const auto type = static_cast<int>(a.type);
      h.add(&type, sizeof type);
      h.add(&a.size, sizeof a.size);
      // Ranges by their parameters, lists by their values: what the items are, not how the
      // spec was spelled (1:4 and 1,2,3 are the same axis).
      const std::uint64_t n =
          a.kind == AxisKind::List ? a.size : std::min<std::uint64_t>(a.size, 3);
      for (std::uint64_t i = 0; i < n; ++i) add_value(h, a, a.at(i));
      if (a.size > 3) add_value(h, a, a.at(a.size - 1));
    }
    return h.hex();
  }

  [[nodiscard]] std::string describe() const override {
    return "grid " + specs_text() + " (" + std::to_string(size_) + " items)";
  }

  [[nodiscard]] std::vector<std::pair<std::string, std::string>> attributes() const override {
    return {{"kind", "grid"}, {"grid", specs_text()}};
  }

 private:
  static void add_value(detail::Fnv1a64& h, const Axis& a, const FieldValue& v) {
    if (a.type == FieldType::Int) h.add(&v.i, sizeof v.i);
    if (a.type == FieldType::Float) h.add(&v.f, sizeof v.f);
    if (a.type == FieldType::String) {
      h.add(v.s);
      h.add("", 1);
    }
  }
  [[nodiscard]] std::string specs_text() const {
    std::string s;
    for (const auto& a : axes_) s += (s.empty() ? "" : " ") + a.name + "=" + a.spec;
    return s;
  }

  std::vector<Axis> axes_;
  std::vector<FieldSpec> specs_;
  std::uint64_t size_ = 0;
};

}  // namespace

std::shared_ptr<const FieldSource> make_grid(const std::vector<std::string>& specs) {
  if (specs.empty()) throw UsageError("grid", "", "no axes given");
  std::vector<Axis> axes;
  for (const auto& text : specs) {
    Axis a = Parser(text).parse();
    for (const auto& b : axes) {
      if (b.name == a.name) {
        throw UsageError("grid", detail::printable_utf8(text, 200),
                         "column 1: the name " + a.name + " is given twice");
      }
    }
    axes.push_back(std::move(a));
  }
  return std::make_shared<Grid>(std::move(axes));
}

}  // namespace pmap
