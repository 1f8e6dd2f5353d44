// pmap — kernels: the functions mapped over the iteration space, their arguments and registry.
//
//   const pmap::Kernel& k = pmap::find_kernel("pi");
//   pmap::BoundArgs args = pmap::bind_args(k, {"samples=100000"});
//   std::vector<double> out(k.columns().size());
//   k.run(space.at(0), args, out, ctx);
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "pmap/batch_runner.hpp"
#include "pmap/item_space.hpp"

namespace pmap {

/// Type of a kernel argument as declared by the kernel.
enum class ArgType { Int, Double, String, Bool };

/// Name of an ArgType ("int", "double", "string", "bool").
std::string_view to_string(ArgType type);

/// A bound argument value.
using ArgValue = std::variant<std::int64_t, double, std::string, bool>;

/// One declared kernel argument: name, type, default and a one-line help.
struct ArgSpec {
  std::string name;
  ArgType type = ArgType::Double;
  ArgValue default_value{0.0};
  std::string help;
};

/// Arguments bound to a kernel (functools.partial style): every declared argument has a value.
class BoundArgs {
 public:
  /// The value of `name` as an integer / double / string / bool (throws std::out_of_range).
  [[nodiscard]] std::int64_t get_int(const std::string& name) const;
  [[nodiscard]] double get_double(const std::string& name) const;
  [[nodiscard]] const std::string& get_string(const std::string& name) const;
  [[nodiscard]] bool get_bool(const std::string& name) const;
  /// All values, ordered by name.
  [[nodiscard]] const std::map<std::string, ArgValue>& values() const noexcept { return values_; }
  /// Canonical JSON object of the values (what /compute@args stores); bytes of string values
  /// that are not valid UTF-8 become U+FFFD.
  [[nodiscard]] std::string to_json() const;
  void set(const std::string& name, ArgValue value) { values_[name] = std::move(value); }

 private:
  std::map<std::string, ArgValue> values_;
};

/// What a kernel may consult while it runs an item: cancellation and deadline.
class KernelContext {
 public:
  KernelContext() = default;
  KernelContext(const std::atomic<bool>* stop, std::chrono::steady_clock::time_point deadline)
      : stop_(stop), deadline_(deadline) {}
  /// True once the item should stop early (job stopping or item deadline passed).
  [[nodiscard]] bool should_stop() const noexcept {
    return (stop_ != nullptr && stop_->load(std::memory_order_relaxed)) ||
           std::chrono::steady_clock::now() >= deadline_;
  }
  /// Sleeps for `seconds` in short slices, returning early (false) if should_stop().
  bool sleep_for(double seconds) const;

 private:
  const std::atomic<bool>* stop_ = nullptr;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
};

/// A kernel: `run(item, args) -> values`. Implementations must be thread-safe and deterministic:
/// the values may depend only on the item and the bound arguments.
class Kernel {
 public:
  virtual ~Kernel() = default;
  [[nodiscard]] virtual std::string_view name() const = 0;
  [[nodiscard]] virtual std::string_view description() const = 0;
  [[nodiscard]] virtual const std::vector<ArgSpec>& arguments() const = 0;
  /// Names of the K output columns.
  [[nodiscard]] virtual const std::vector<std::string>& columns() const = 0;
  /// Names of the output columns for these bound arguments (exec takes them from
  /// `--arg columns=a,b`); may throw UsageError for arguments that cannot run. Default: columns().
  [[nodiscard]] virtual std::vector<std::string> output_columns(const BoundArgs& args) const {
    (void)args;
    return columns();
  }
  /// Computes one item into `out` (size K). Throws (e.g. ItemError) to fail the item.
  virtual void run(const Item& item, const BoundArgs& args, std::span<double> out,
                   const KernelContext& ctx) const = 0;
  /// True when `--arg` may bind names the kernel does not declare (the worker kernel passes
  /// them on to its function); they are bound as strings. Default: false.
  [[nodiscard]] virtual bool takes_any_argument() const { return false; }
  /// Kernels that keep something alive between items (a process) start it here for `count`
  /// worker threads of this rank, before any item runs, and return one runner a thread; the
  /// engine then runs items through them instead of run(). Throws UsageError when they cannot
  /// start (nothing was written yet). Default: none.
  [[nodiscard]] virtual std::vector<std::unique_ptr<BatchRunner>> start_runners(
      const BoundArgs& args, const ItemSpace& space, int count) const {
    (void)args;
    (void)space;
    (void)count;
    return {};
  }
};

/// All built-in kernels, in display order.
const std::vector<std::unique_ptr<Kernel>>& builtin_kernels();

/// Adds a kernel to the registry (plugins; thread-safe). Throws UsageError when a kernel of that
/// name exists. Registered kernels live until the process exits.
const Kernel& register_kernel(std::unique_ptr<Kernel> kernel);

/// Kernels added with register_kernel, in registration order.
std::vector<const Kernel*> registered_kernels();

/// The kernel called `name` (built-in or registered); throws UsageError listing the kernels when
/// there is none.
const Kernel& find_kernel(std::string_view name);

/// Binds "key=value" strings to the kernel's declared arguments (defaults for the rest); throws
/// UsageError for an unknown key or a bad value, listing the valid arguments.
BoundArgs bind_args(const Kernel& kernel, const std::vector<std::string>& assignments);

/// Human-readable listing of the kernels, their arguments and columns (`pmap kernels`).
std::string describe_kernels();

}  // namespace pmap
