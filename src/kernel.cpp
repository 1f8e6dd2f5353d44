#include "pmap/kernel.hpp"

#include <charconv>
#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "kernels/builtin.hpp"
#include "pmap/error.hpp"

namespace pmap {
namespace {

std::string value_to_string(const ArgValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return x;
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          std::ostringstream os;
          os << x;
          return os.str();
        } else {
          return std::to_string(x);
        }
      },
      v);
}

std::string valid_arguments(const Kernel& kernel) {
  std::string out;
  for (const auto& a : kernel.arguments()) {
    if (!out.empty()) out += ", ";
    out += a.name + " (" + std::string(to_string(a.type)) + ", default " +
           value_to_string(a.default_value) + ")";
  }
  return out.empty() ? std::string("none") : out;
}

ArgValue parse_value(const Kernel& kernel, const ArgSpec& spec, const std::string& text) {
  const auto fail = [&](const std::string& why) -> UsageError {
    return UsageError("args", spec.name + "=" + text,
                      why + " (kernel " + std::string(kernel.name()) +
                          " takes: " + valid_arguments(kernel) + ")");
  };
  switch (spec.type) {
    case ArgType::Int: {
      std::int64_t v = 0;
      const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (text.empty() || ec != std::errc() || p != text.data() + text.size()) {
        throw fail("'" + text + "' is not an integer");
      }
      return v;
    }
    case ArgType::Double: {
      double v = 0;
      std::size_t used = 0;
      try {
        v = std::stod(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (text.empty() || used != text.size() || !std::isfinite(v)) {
        throw fail("'" + text + "' is not a finite number");
      }
      return v;
    }
    case ArgType::Bool:
      if (text == "true" || text == "1" || text == "yes") return true;
      if (text == "false" || text == "0" || text == "no") return false;
      throw fail("'" + text + "' is not a boolean (true/false)");
    case ArgType::String:
      return text;
  }
  throw fail("unsupported type");
}

}  // namespace

std::string_view to_string(ArgType type) {
  switch (type) {
    case ArgType::Int:
      return "int";
    case ArgType::Double:
      return "double";
    case ArgType::String:
      return "string";
    case ArgType::Bool:
      return "bool";
  }
  return "?";
}

std::int64_t BoundArgs::get_int(const std::string& name) const {
  return std::get<std::int64_t>(values_.at(name));
}
double BoundArgs::get_double(const std::string& name) const {
  return std::get<double>(values_.at(name));
}
const std::string& BoundArgs::get_string(const std::string& name) const {
  return std::get<std::string>(values_.at(name));
}
bool BoundArgs::get_bool(const std::string& name) const { return std::get<bool>(values_.at(name)); }

std::string BoundArgs::to_json() const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [name, value] : values_) {
    auto& slot = j[name];  // not captured by name: clang < 16 cannot capture structured bindings
    std::visit([&slot](const auto& x) { slot = x; }, value);
  }
  // String arguments are bytes (a command may name a Latin-1 file): invalid UTF-8 becomes U+FFFD
  // here instead of a json::type_error that would fail the whole run.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

bool KernelContext::sleep_for(double seconds) const {
  using clock = std::chrono::steady_clock;
  const auto until = clock::now() + std::chrono::duration_cast<clock::duration>(
                                        std::chrono::duration<double>(seconds));
  while (true) {
    if (should_stop()) return false;
    const auto now = clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(
        std::min<clock::duration>(until - now, std::chrono::milliseconds(20)));
  }
}

const std::vector<std::unique_ptr<Kernel>>& builtin_kernels() {
  static const std::vector<std::unique_ptr<Kernel>> kernels = [] {
    std::vector<std::unique_ptr<Kernel>> k;
    k.push_back(kernels::make_compute_x());
    k.push_back(kernels::make_spin());
    k.push_back(kernels::make_pi());
    k.push_back(kernels::make_mandelbrot());
    k.push_back(kernels::make_skew());
    k.push_back(kernels::make_exec());
    k.push_back(kernels::make_worker());
    return k;
  }();
  return kernels;
}

namespace {
/// Kernels added at run time (plugins): never removed, so references stay valid.
struct Registry {
  std::mutex mutex;
  std::vector<std::unique_ptr<Kernel>> kernels;
};
Registry& registry() {
  static Registry r;
  return r;
}
}  // namespace

const Kernel& register_kernel(std::unique_ptr<Kernel> kernel) {
  if (!kernel) throw UsageError("register_kernel: no kernel");
  for (const auto& k : builtin_kernels()) {
    if (k->name() == kernel->name()) {
      throw UsageError("kernel " + std::string(kernel->name()) +
                       ": a built-in kernel has that name");
    }
  }
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  for (const auto& k : r.kernels) {
    if (k->name() == kernel->name()) {
      throw UsageError("kernel " + std::string(kernel->name()) + ": already registered");
    }
  }
  r.kernels.push_back(std::move(kernel));
  return *r.kernels.back();
}

std::vector<const Kernel*> registered_kernels() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<const Kernel*> out;
  for (const auto& k : r.kernels) out.push_back(k.get());
  return out;
}

const Kernel& find_kernel(std::string_view name) {
  std::string names;
  for (const auto& k : builtin_kernels()) {
    if (k->name() == name) return *k;
    names += (names.empty() ? "" : ", ") + std::string(k->name());
  }
  for (const Kernel* k : registered_kernels()) {
    if (k->name() == name) return *k;
    names += (names.empty() ? "" : ", ") + std::string(k->name());
  }
  throw UsageError("kernel", std::string(name),
                   "unknown kernel (available: " + names + "; `pmap kernels` describes them)");
}

BoundArgs bind_args(const Kernel& kernel, const std::vector<std::string>& assignments) {
  BoundArgs bound;
  for (const auto& spec : kernel.arguments()) bound.set(spec.name, spec.default_value);
  for (const auto& a : assignments) {
    const auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw UsageError("args", a,
                       "expected KEY=VALUE (kernel " + std::string(kernel.name()) +
                           " takes: " + valid_arguments(kernel) + ")");
    }
    const std::string key = a.substr(0, eq);
    const std::string text = a.substr(eq + 1);
    const ArgSpec* spec = nullptr;
    for (const auto& s : kernel.arguments()) {
      if (s.name == key) spec = &s;
    }
    if (spec == nullptr && kernel.takes_any_argument()) {
      bound.set(key, text);
      continue;
    }
    if (spec == nullptr) {
      throw UsageError("args", a,
                       "kernel " + std::string(kernel.name()) + " has no argument '" + key +
                           "' (valid: " + valid_arguments(kernel) + ")");
    }
    bound.set(key, parse_value(kernel, *spec, text));
  }
  return bound;
}

std::string describe_kernels() {
  std::ostringstream os;
  std::vector<const Kernel*> all;
  for (const auto& k : builtin_kernels()) all.push_back(k.get());
  for (const Kernel* k : registered_kernels()) all.push_back(k);
  for (const Kernel* k : all) {
    os << k->name() << "\n    " << k->description() << "\n    arguments:";
    if (k->arguments().empty()) os << " none";
    os << "\n";
    for (const auto& a : k->arguments()) {
      os << "      " << a.name << " (" << to_string(a.type) << ", default "
         << value_to_string(a.default_value) << ")  " << a.help << "\n";
    }
    os << "    columns: ";
    for (std::size_t i = 0; i < k->columns().size(); ++i) {
      os << (i ? ", " : "") << k->columns()[i];
    }
    os << "\n\n";
  }
  return os.str();
}

}  // namespace pmap
