// pmap — the C++ API: map your own function over items on every MPI rank and OpenMP thread, the
// way joblib.Parallel or concurrent.futures map a Python function, with pmap's scheduling, HDF5
// results file, progress line, failure handling and run report.
//
//   #include <pmap/map.hpp>
//
//   double work(double x, double y) { return std::sqrt(x) * y; }
//
//   int main(int argc, char** argv) {
//     pmap::Session session(argc, argv);                  // MPI_Init_thread(MULTIPLE), threads
//     std::vector<double> xs(1000);
//     std::iota(xs.begin(), xs.end(), 0.0);
//     pmap::MapOptions opt;
//     opt.output = "work.h5";                             // the HDF5 file ("": none)
//     auto r = pmap::map(session, xs, pmap::partial(work, 2.0), opt);  // collective
//     if (session.is_root()) std::printf("%g %zu failed\n", r.values[10], r.failures.size());
//     return r.ok() ? 0 : 1;
//   }
//
// Run it like any MPI program: `mpirun -np 4 ./work` (or `./work` alone: one rank, all cores).
#pragma once

#include <mpi.h>

#include <array>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "pmap/fields.hpp"
#include "pmap/item_status.hpp"
#include "pmap/kernel.hpp"
#include "pmap/mpi.hpp"
#include "pmap/progress_mode.hpp"
#include "pmap/run_report.hpp"
#include "pmap/schedule_kind.hpp"
#include "pmap/session.hpp"

namespace pmap {

// --- options and results ------------------------------------------------------------------------

/// Where map() leaves the results besides the HDF5 file.
enum class Collect {
  EveryRank,  ///< every rank gets all values in item order (memory: N x K doubles per rank)
  Root,       ///< only rank 0 gets them; the others get empty vectors
  None,       ///< nobody: the results are in the file and the on_result stream (any N)
};

/// One finished item, as the on_result callback sees it on rank 0.
struct Completed {
  std::uint64_t index = 0;             ///< position of the item in `items`
  ItemStatus status = ItemStatus::Ok;  ///< Ok, or Failed when the function threw
  std::span<const double> values;      ///< the K numbers (NaN when the item failed)
  std::string_view error;              ///< the exception's what() when failed
  int rank = 0;                        ///< the rank that computed it
  [[nodiscard]] bool ok() const noexcept { return status == ItemStatus::Ok; }
  /// The values as the function's return type R (R{} when the item failed).
  template <class R>
  [[nodiscard]] R value() const;
};

/// Options of one map() call. Every rank must pass the same ones (the callback aside).
struct MapOptions {
  Schedule schedule = Schedule::Dynamic;  ///< across ranks: static, cyclic, dynamic, guided
  std::uint64_t chunk = 0;                ///< items per chunk; 0: automatic (~100 ms chunks)
  std::optional<int> threads;             ///< per rank; unset: the Session's default
  /// The HDF5 results file (schema of `pmap run`). Empty: no file at all; the values live in
  /// memory (see collect) and the on_result stream only, and nothing touches the disk.
  std::string output;
  bool force = false;   ///< overwrite an existing `output`
  bool resume = false;  ///< continue `output`, computing only the rows not done (Collect::None)
  ProgressMode progress = ProgressMode::None;  ///< tqdm-style line on rank 0 (Auto: on a tty)
  bool summary = false;  ///< rank 0 prints the run summary and the pmap-report line
  /// Names of the function's K numbers (default: "value", or v0, v1, ... for several).
  std::vector<std::string> columns;
  Collect collect = Collect::EveryRank;  ///< where the values go besides the file
  /// Rank 0: called for every finished item as results arrive (in completion order, one call at
  /// a time, from a pmap thread while the workers compute). Records travel in batches (see
  /// stream_interval), so memory stays bounded whatever N is. If it throws, it is not called
  /// again and map() throws RuntimeError on every rank once the run is over.
  std::function<void(const Completed&)> on_result;
  std::chrono::milliseconds stream_interval{50};  ///< how often ranks ship finished results
  std::uint64_t max_failures = 0;  ///< stop claiming work after this many failures (0: never)
  std::string name = "map";        ///< recorded as /compute@kernel
  /// Names of the members of tuple, pair or struct items (numbers and strings, at most 8 for a
  /// struct), recorded per item in /compute/params/NAME like a grid's or a table's fields
  /// (empty: items are not recorded).
  std::vector<std::string> field_names;
};

/// A failed item: its index and the exception's message.
struct ItemFailure {
  std::uint64_t index = 0;
  std::string message;
};

/// What map() returns (on every rank; see Collect for which ranks hold the values).
template <class R>
struct MapResult {
  std::vector<R> values;              ///< in item order; R{} where an item did not succeed
  std::vector<ItemStatus> status;     ///< in item order: Ok, Failed, or NotRun (stopped early)
  std::vector<ItemFailure> failures;  ///< every failed item, by index (on every rank)
  RunReport report;                   ///< the run's figures (identical on every rank)
  std::string output;                 ///< the results file, "" if none was written
  /// True when every item succeeded.
  [[nodiscard]] bool ok() const noexcept {
    return report.failed + report.timed_out + report.not_run == 0;
  }
  [[nodiscard]] std::size_t size() const noexcept { return values.size(); }
  [[nodiscard]] const R& operator[](std::size_t i) const { return values[i]; }
};

// --- bound arguments ----------------------------------------------------------------------------

/// functools.partial for the item's trailing arguments: partial(f, y, z)(x) calls f(x, y, z).
/// The bound values are copied. Numbers, booleans and strings among them are recorded in the
/// results file as /compute@args ({"arg1": y, "arg2": z}).
///
///   auto r = pmap::map(session, xs, pmap::partial(compute_x, 2.0));   // compute_x(x, 2.0)
///
/// A lambda does the same: `[y = 2.0](double x) { return compute_x(x, y); }`.
template <class F, class... Bound>
class Partial {
 public:
  constexpr explicit Partial(F f, Bound... bound) : f_(std::move(f)), bound_(std::move(bound)...) {}
  template <class Item>
  constexpr decltype(auto) operator()(Item&& item) const {
    return std::apply(
        [&](const Bound&... b) -> decltype(auto) {
          return std::invoke(f_, std::forward<Item>(item), b...);
        },
        bound_);
  }
  /// The bound values.
  [[nodiscard]] constexpr const std::tuple<Bound...>& bound() const noexcept { return bound_; }

 private:
  F f_;
  std::tuple<Bound...> bound_;
};

/// Binds trailing arguments of `f` (see Partial).
template <class F, class... Args>
constexpr auto partial(F&& f, Args&&... args) {
  return Partial<std::decay_t<F>, std::decay_t<Args>...>(std::forward<F>(f),
                                                         std::forward<Args>(args)...);
}

// --- conversion of results to numbers (compile time) --------------------------------------------

namespace detail {

/// prefix followed by the decimal i (no `"literal" + std::string`: GCC 12 -Wrestrict trips on
/// it at -O2 in user code).
inline std::string numbered(std::string prefix, std::size_t i) {
  prefix += std::to_string(i);
  return prefix;
}

/// Converts to any arithmetic type: used to count an aggregate's fields.
struct AnyNumber {
  template <class T>
  requires std::is_arithmetic_v<T>
  constexpr operator T() const noexcept {  // NOLINT(google-explicit-constructor)
    return T{};
  }
};

template <class T, class Seq, class = void>
struct BraceInitWith : std::false_type {};
template <class T, std::size_t... I>
struct BraceInitWith<T, std::index_sequence<I...>,
                     std::void_t<decltype(T{(static_cast<void>(I), AnyNumber{})...})>>
    : std::true_type {};

/// Number of fields of an aggregate of numbers (the largest N with T{n1, ..., nN} valid).
template <class T, std::size_t N = 9>
constexpr std::size_t aggregate_arity() {
  if constexpr (N == 0) {
    return 0;
  } else if constexpr (BraceInitWith<T, std::make_index_sequence<N>>::value) {
    return N;
  } else {
    return aggregate_arity<T, N - 1>();
  }
}

template <class T>
struct IsStdArray : std::false_type {};
template <class T, std::size_t N>
struct IsStdArray<std::array<T, N>> : std::true_type {};
template <class T>
struct IsTupleLike : std::false_type {};
template <class... T>
struct IsTupleLike<std::tuple<T...>> : std::true_type {};
template <class A, class B>
struct IsTupleLike<std::pair<A, B>> : std::true_type {};

template <class T>
inline constexpr bool kIsAggregateStruct =
    std::is_class_v<T>&& std::is_aggregate_v<T> && !IsStdArray<T>::value && !std::is_union_v<T>;

/// Calls f(fields...) with references to the fields of an aggregate of up to 8 numbers.
template <std::size_t N, class T, class F>
constexpr decltype(auto) with_fields(T& v, F&& f) {
  if constexpr (N == 1) {
    auto& [a] = v;
    return f(a);
  } else if constexpr (N == 2) {
    auto& [a, b] = v;
    return f(a, b);
  } else if constexpr (N == 3) {
    auto& [a, b, c] = v;
    return f(a, b, c);
  } else if constexpr (N == 4) {
    auto& [a, b, c, d] = v;
    return f(a, b, c, d);
  } else if constexpr (N == 5) {
    auto& [a, b, c, d, e] = v;
    return f(a, b, c, d, e);
  } else if constexpr (N == 6) {
    auto& [a, b, c, d, e, g] = v;
    return f(a, b, c, d, e, g);
  } else if constexpr (N == 7) {
    auto& [a, b, c, d, e, g, h] = v;
    return f(a, b, c, d, e, g, h);
  } else {
    static_assert(N == 8, "pmap::map: a result struct may have at most 8 fields");
    auto& [a, b, c, d, e, g, h, i] = v;
    return f(a, b, c, d, e, g, h, i);
  }
}

/// A double back to the arithmetic type it came from (saturating; NaN -> 0 for integers).
template <class T>
constexpr T from_double(double d) noexcept {
  if constexpr (std::is_same_v<T, bool>) {
    return d != 0;
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(d);
  } else {
    if (d != d) return T{};
    if (d <= static_cast<double>(std::numeric_limits<T>::min())) {
      return std::numeric_limits<T>::min();
    }
    if (d >= static_cast<double>(std::numeric_limits<T>::max())) {
      return std::numeric_limits<T>::max();
    }
    return static_cast<T>(d);
  }
}

/// How many numbers a result type R is: a number (K = 1), std::array<number, K>,
/// std::pair / std::tuple of numbers, or an aggregate struct of up to 8 numbers.
template <class R>
consteval std::size_t number_count() {
  if constexpr (std::is_arithmetic_v<R>) {
    return 1;
  } else if constexpr (IsStdArray<R>::value) {
    static_assert(std::is_arithmetic_v<typename R::value_type>,
                  "pmap::map: a std::array result must hold numbers");
    return std::tuple_size_v<R>;
  } else if constexpr (IsTupleLike<R>::value) {
    return std::tuple_size_v<R>;
  } else if constexpr (kIsAggregateStruct<R>) {
    constexpr std::size_t n = aggregate_arity<R>();
    static_assert(n >= 1 && n <= 8,
                  "pmap::map: a result struct needs 1 to 8 fields, all numbers (no arrays, "
                  "nested structs or base classes)");
    return n;
  } else {
    static_assert(std::is_arithmetic_v<R>,
                  "pmap::map: the function must return a number, a std::tuple/std::pair/"
                  "std::array of numbers, or a struct of up to 8 numbers");
    return 0;
  }
}

/// How a result type R maps to its K doubles and back.
template <class R>
struct Numbers {
  static constexpr std::size_t size = number_count<R>();

  static void write(const R& r, double* out) {
    if constexpr (std::is_arithmetic_v<R>) {
      out[0] = static_cast<double>(r);
    } else if constexpr (IsStdArray<R>::value) {
      for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<double>(r[i]);
    } else if constexpr (IsTupleLike<R>::value) {
      std::apply(
          [out](const auto&... x) {
            static_assert((std::is_arithmetic_v<std::remove_cvref_t<decltype(x)>> && ...),
                          "pmap::map: tuple and pair results must hold numbers");
            std::size_t i = 0;
            ((out[i++] = static_cast<double>(x)), ...);
          },
          r);
    } else {
      with_fields<size>(r, [out](const auto&... x) {
        static_assert((std::is_arithmetic_v<std::remove_cvref_t<decltype(x)>> && ...),
                      "pmap::map: every field of a result struct must be a number");
        std::size_t i = 0;
        ((out[i++] = static_cast<double>(x)), ...);
      });
    }
  }

  static R read(const double* in) {
    R r{};
    if constexpr (std::is_arithmetic_v<R>) {
      r = from_double<R>(in[0]);
    } else if constexpr (IsStdArray<R>::value) {
      for (std::size_t i = 0; i < size; ++i) {
        r[i] = from_double<typename R::value_type>(in[i]);
      }
    } else if constexpr (IsTupleLike<R>::value) {
      std::apply(
          [in](auto&... x) {
            std::size_t i = 0;
            ((x = from_double<std::remove_cvref_t<decltype(x)>>(in[i++])), ...);
          },
          r);
    } else {
      with_fields<size>(r, [in](auto&... x) {
        std::size_t i = 0;
        ((x = from_double<std::remove_cvref_t<decltype(x)>>(in[i++])), ...);
      });
    }
    return r;
  }
};

/// The type-erased description of one map() call (filled by the template, run by run_map).
struct MapCall {
  std::uint64_t n = 0;
  std::vector<std::string> columns;  ///< default names; MapOptions::columns overrides them
  /// Computes item `row` into out[0 .. K); throws to fail the item.
  void (*eval)(const void* bound, std::uint64_t row, double* out) = nullptr;
  const void* bound = nullptr;
  /// The integer value of item `row` (for /compute/item), or null: the index is stored.
  std::int64_t (*item_value)(const void* bound, std::uint64_t row) = nullptr;
  std::string item_type;               ///< for /compute@space
  BoundArgs args;                      ///< recorded as /compute@args
  std::vector<FieldType> field_types;  ///< of a tuple, pair or struct item's members (else empty)
  /// Writes the members of item `row` into out[0 .. field_types.size()) (strings point into it).
  void (*field_values)(const void* bound, std::uint64_t row, FieldValue* out) = nullptr;
};

/// The field type of a member type (integers, floating point, else strings).
template <class U>
constexpr FieldType field_type_of() {
  if constexpr (std::is_integral_v<U>) return FieldType::Int;
  if constexpr (std::is_floating_point_v<U>) return FieldType::Float;
  return FieldType::String;
}
template <class U>
inline constexpr bool kFieldable =
    std::is_arithmetic_v<U> || std::is_convertible_v<const U&, std::string_view>;

/// Converts to a number or a string: used to count a struct item's members.
struct AnyField {
  template <class T>
  requires(std::is_arithmetic_v<T> || std::is_same_v<T, std::string> ||
           std::is_same_v<T, std::string_view>)
  operator T() const {  // NOLINT(google-explicit-constructor)
    return T{};
  }
};
template <class T, class Seq, class = void>
struct BraceInitWithFields : std::false_type {};
template <class T, std::size_t... I>
struct BraceInitWithFields<T, std::index_sequence<I...>,
                           std::void_t<decltype(T{(static_cast<void>(I), AnyField{})...})>>
    : std::true_type {};
/// Members of a struct of numbers and strings (the largest N <= 8 with T{f1, ..., fN} valid).
template <class T, std::size_t N = 8>
constexpr std::size_t field_arity() {
  if constexpr (N == 0) {
    return 0;
  } else if constexpr (BraceInitWithFields<T, std::make_index_sequence<N>>::value) {
    return N;
  } else {
    return field_arity<T, N - 1>();
  }
}
/// Tells whether every member of a struct is a number or a string (through with_fields).
struct AllFieldable {
  template <class... M>
  std::bool_constant<(kFieldable<std::remove_cvref_t<M>> && ...)> operator()(M&...) const;
};

/// Items whose members can be recorded as fields: a tuple or pair, or a struct of up to 8
/// members, of numbers and strings. apply(item, f) calls f(members...).
template <class T, class = void>
struct FieldMembers : std::false_type {};
template <class... T>
struct FieldMembers<std::tuple<T...>> {
  static constexpr bool value = (kFieldable<T> && ...);
  static std::vector<FieldType> types() { return {field_type_of<T>()...}; }
  template <class F>
  static void apply(const std::tuple<T...>& item, F&& f) {
    std::apply(f, item);
  }
};
template <class A, class B>
struct FieldMembers<std::pair<A, B>> {
  static constexpr bool value = kFieldable<A> && kFieldable<B>;
  static std::vector<FieldType> types() { return {field_type_of<A>(), field_type_of<B>()}; }
  template <class F>
  static void apply(const std::pair<A, B>& item, F&& f) {
    f(item.first, item.second);
  }
};
template <class T>
struct FieldMembers<T, std::enable_if_t<kIsAggregateStruct<T> && !IsTupleLike<T>::value &&
                                        (field_arity<T>() > 0)>> {
  static constexpr std::size_t kArity = field_arity<T>();
  static constexpr bool value =
      decltype(with_fields<kArity>(std::declval<const T&>(), AllFieldable{}))::value;
  static std::vector<FieldType> types() {
    const T probe{};  // an aggregate: its members' types, through a value of it
    return with_fields<kArity>(probe, [](const auto&... m) {
      return std::vector<FieldType>{field_type_of<std::remove_cvref_t<decltype(m)>>()...};
    });
  }
  template <class F>
  static void apply(const T& item, F&& f) {
    with_fields<kArity>(item, f);
  }
};

/// One member as a field value.
template <class T>
FieldValue to_field(const T& v) {
  FieldValue f;
  if constexpr (std::is_integral_v<T>) {
    f.i = static_cast<std::int64_t>(v);
  } else if constexpr (std::is_floating_point_v<T>) {
    f.f = static_cast<double>(v);
  } else {
    f.s = std::string_view(v);
  }
  return f;
}

/// What run_map leaves for the template to convert.
struct MapRaw {
  std::vector<double> values;       ///< N x K (empty unless collected on this rank)
  std::vector<std::int8_t> status;  ///< N (likewise)
  std::vector<ItemFailure> failures;
  RunReport report;
  std::string output;
};

/// Runs the call (collective over the session's communicator).
MapRaw run_map(Session& session, const MapCall& call, const MapOptions& options);

/// Records the numbers, booleans and strings among partial()'s bound values as arg1, arg2, ...
template <class T>
void record_arg(BoundArgs& args, std::size_t i, const T& v) {
  const std::string name = numbered("arg", i + 1);
  if constexpr (std::is_same_v<T, bool>) {
    args.set(name, v);
  } else if constexpr (std::is_integral_v<T>) {
    args.set(name, static_cast<std::int64_t>(v));
  } else if constexpr (std::is_floating_point_v<T>) {
    args.set(name, static_cast<double>(v));
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    args.set(name, std::string(std::string_view(v)));
  }
}

template <class F>
struct IsPartial : std::false_type {};
template <class F, class... B>
struct IsPartial<Partial<F, B...>> : std::true_type {};

template <class F>
BoundArgs bound_args_of(const F& f) {
  BoundArgs args;
  if constexpr (IsPartial<F>::value) {
    std::apply(
        [&args](const auto&... b) {
          std::size_t i = 0;
          (record_arg(args, i++, b), ...);
        },
        f.bound());
  }
  return args;
}

}  // namespace detail

template <class R>
R Completed::value() const {
  if (values.size() != detail::Numbers<R>::size) {
    std::string what = detail::numbered("pmap::Completed::value: the result has ", values.size());
    what += " numbers, the requested type ";
    what += std::to_string(detail::Numbers<R>::size);
    throw std::invalid_argument(what);
  }
  return ok() ? detail::Numbers<R>::read(values.data()) : R{};
}

/// The result type of map(session, items, fn): what fn returns for an item, without cv/ref.
template <class Items, class Fn>
using map_result_t =
    std::remove_cvref_t<std::invoke_result_t<const std::remove_reference_t<Fn>&,
                                             std::ranges::range_reference_t<Items>>>;

// --- map ----------------------------------------------------------------------------------------

/// Maps `fn` over `items` on every rank and thread of the session, like joblib's
/// `Parallel()(delayed(fn)(x) for x in items)`; collective: every rank calls it with the same
/// items and options.
///
/// * `items`: any random-access sized range (std::vector, std::span, std::array,
///   std::views::iota(0, n), ...), addressed by index and never copied; /compute/item holds the
///   index, or the value for integer items.
/// * Tuple, pair or struct items of numbers and strings are recorded as fields
///   (/compute/params) under MapOptions::field_names, one name a member: map over a table of
///   cases.
/// * `fn(item)`: any callable returning a number, a std::tuple / std::pair / std::array of
///   numbers, or a struct of up to 8 numbers (K columns). It runs concurrently on many threads:
///   it must be thread-safe. An exception fails only its item (status 1, message in
///   /compute/errors and in `failures`). Bind extra arguments with pmap::partial or a lambda.
/// * Results: in item order in `values` (see MapOptions::collect), every item's `status`, and
///   the HDF5 file of `pmap run` (MapOptions::output). Integers travel as doubles: exact up to
///   2^53.
///
///   pmap::Session session(argc, argv);
///   struct Stats { double mean; std::int64_t hits; };
///   auto r = pmap::map(session, std::views::iota(0, 1000), [](int i) { return Stats{...}; });
///   for (std::size_t i = 0; i < r.size(); ++i) use(r.values[i].mean, r.status[i]);
template <class Items, class Fn>
MapResult<map_result_t<Items, Fn>> map(Session& session, Items&& items, Fn&& fn,
                                       const MapOptions& options = {}) {
  using ItemsRange = std::remove_reference_t<Items>;
  static_assert(
      std::ranges::random_access_range<ItemsRange> && std::ranges::sized_range<ItemsRange>,
      "pmap::map: items must be a random-access sized range (vector, span, array, "
      "iota, ...)");
  using R = map_result_t<Items, Fn>;
  using N = detail::Numbers<R>;
  using F = std::remove_reference_t<Fn>;
  struct Bound {
    ItemsRange* items;
    const F* fn;
  };
  const Bound bound{&items, &fn};

  detail::MapCall call;
  call.n = static_cast<std::uint64_t>(std::ranges::size(items));
  if constexpr (N::size == 1) {
    call.columns = {"value"};
  } else {
    for (std::size_t i = 0; i < N::size; ++i) call.columns.push_back(detail::numbered("v", i));
  }
  call.bound = &bound;
  call.eval = [](const void* p, std::uint64_t row, double* out) {
    const auto& b = *static_cast<const Bound*>(p);
    auto it = std::ranges::begin(*b.items);
    N::write(std::invoke(*b.fn, it[static_cast<std::ranges::range_difference_t<ItemsRange>>(row)]),
             out);
  };
  using Value = std::ranges::range_value_t<ItemsRange>;
  if constexpr (std::is_integral_v<Value> && !std::is_same_v<Value, bool>) {
    call.item_value = [](const void* p, std::uint64_t row) -> std::int64_t {
      const auto& b = *static_cast<const Bound*>(p);
      auto it = std::ranges::begin(*b.items);
      return static_cast<std::int64_t>(
          it[static_cast<std::ranges::range_difference_t<ItemsRange>>(row)]);
    };
    call.item_type = "integers";
  } else {
    call.item_type = "items";
  }
  call.args = detail::bound_args_of(fn);
  using Ref = std::ranges::range_reference_t<ItemsRange>;
  if constexpr (detail::FieldMembers<Value>::value && std::is_lvalue_reference_v<Ref>) {
    call.field_types = detail::FieldMembers<Value>::types();
    call.field_values = [](const void* p, std::uint64_t row, FieldValue* out) {
      const auto& b = *static_cast<const Bound*>(p);
      auto it = std::ranges::begin(*b.items);
      const auto& item = it[static_cast<std::ranges::range_difference_t<ItemsRange>>(row)];
      detail::FieldMembers<Value>::apply(item, [out](const auto&... x) {
        std::size_t j = 0;
        ((out[j++] = detail::to_field(x)), ...);
      });
    };
  }

  detail::MapRaw raw = detail::run_map(session, call, options);
  MapResult<R> out;
  out.report = std::move(raw.report);
  out.output = std::move(raw.output);
  out.failures = std::move(raw.failures);
  if (!raw.status.empty()) {
    out.values.reserve(raw.status.size());
    out.status.reserve(raw.status.size());
    for (std::size_t i = 0; i < raw.status.size(); ++i) {
      const auto s = static_cast<ItemStatus>(raw.status[i]);
      out.status.push_back(s);
      out.values.push_back(s == ItemStatus::Ok ? N::read(raw.values.data() + i * N::size) : R{});
    }
  }
  return out;
}

}  // namespace pmap
