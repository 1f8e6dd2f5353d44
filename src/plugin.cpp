#include "pmap/plugin.hpp"

#include <dlfcn.h>

#include <array>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <utility>

#include "pmap/error.hpp"
#include "pmap/plugin_abi.h"

namespace pmap {
namespace {

/// An open dlopen handle, closed when the last kernel of the plugin goes.
class Library {
 public:
  explicit Library(void* handle) : handle_(handle) {}
  ~Library() {
    if (handle_ != nullptr) dlclose(handle_);
  }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  [[nodiscard]] void* symbol(const char* name) const noexcept { return dlsym(handle_, name); }

 private:
  void* handle_;
};

std::string dl_error() {
  const char* e = dlerror();
  return e != nullptr ? std::string(e) : std::string("unknown error");
}

ArgType to_arg_type(std::int32_t t) {
  switch (t) {
    case PMAP_ARG_INT:
      return ArgType::Int;
    case PMAP_ARG_DOUBLE:
      return ArgType::Double;
    case PMAP_ARG_STRING:
      return ArgType::String;
    case PMAP_ARG_BOOL:
      return ArgType::Bool;
    default:
      throw std::invalid_argument("unknown type " + std::to_string(t));
  }
}

/// Parses a plugin's default value text with --arg's rules; throws std::invalid_argument.
ArgValue parse_default(ArgType type, const std::string& text) {
  switch (type) {
    case ArgType::Int: {
      std::int64_t v = 0;
      const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (text.empty() || ec != std::errc() || p != text.data() + text.size()) {
        throw std::invalid_argument("'" + text + "' is not an integer");
      }
      return v;
    }
    case ArgType::Double: {
      std::size_t used = 0;
      double v = 0;
      try {
        v = std::stod(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (text.empty() || used != text.size() || !std::isfinite(v)) {
        throw std::invalid_argument("'" + text + "' is not a finite number");
      }
      return v;
    }
    case ArgType::Bool:
      if (text == "true" || text == "1" || text == "yes") return true;
      if (text == "false" || text == "0" || text == "no") return false;
      throw std::invalid_argument("'" + text + "' is not a boolean");
    case ArgType::String:
      return text;
  }
  throw std::invalid_argument("unsupported type");
}

bool valid_name(const char* s) {
  if (s == nullptr || *s == '\0') return false;
  for (const char* p = s; *p != '\0'; ++p) {
    const char c = *p;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

std::string abi_text() { return "supports version " + std::to_string(PMAP_PLUGIN_ABI_VERSION); }

int should_stop_thunk(const pmap_context* c) {
  return static_cast<const KernelContext*>(c->host)->should_stop() ? 1 : 0;
}

/// A kernel implemented by a plugin's pmap_kernel_def.
class PluginKernel final : public Kernel {
 public:
  static constexpr std::size_t kMaxArgs = 64;

  PluginKernel(std::shared_ptr<Library> lib, const pmap_kernel_def& def, std::string origin)
      : lib_(std::move(lib)), def_(def), name_(def.name) {
    description_ = def.description != nullptr ? def.description : "";
    description_ += " [plugin " + origin + "]";
    if (def.n_args > kMaxArgs) {
      throw std::invalid_argument("declares " + std::to_string(def.n_args) +
                                  " arguments, at most " + std::to_string(kMaxArgs) +
                                  " are allowed");
    }
    for (std::size_t i = 0; i < def.n_args; ++i) {
      const pmap_arg_spec& a = def.args[i];
      if (!valid_name(a.name)) {
        throw std::invalid_argument("argument #" + std::to_string(i + 1) + " has no valid name");
      }
      ArgSpec spec;
      spec.name = a.name;
      try {
        spec.type = to_arg_type(a.type);
        spec.default_value =
            parse_default(spec.type, a.default_value != nullptr ? a.default_value : "");
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument("argument " + spec.name + ": " + e.what());
      }
      spec.help = a.help != nullptr && *a.help != '\0' ? a.help : "(no help)";
      for (const auto& other : args_) {
        if (other.name == spec.name) {
          throw std::invalid_argument("argument " + spec.name + " is declared twice");
        }
      }
      args_.push_back(std::move(spec));
    }
    for (std::size_t i = 0; i < def.n_columns; ++i) {
      if (def.columns[i] == nullptr || *def.columns[i] == '\0') {
        throw std::invalid_argument("column #" + std::to_string(i + 1) + " has no name");
      }
      columns_.emplace_back(def.columns[i]);
    }
  }

  [[nodiscard]] std::string_view name() const override { return name_; }
  [[nodiscard]] std::string_view description() const override { return description_; }
  [[nodiscard]] const std::vector<ArgSpec>& arguments() const override { return args_; }
  [[nodiscard]] const std::vector<std::string>& columns() const override { return columns_; }

  void run(const Item& item, const BoundArgs& args, std::span<double> out,
           const KernelContext& ctx) const override {
    std::array<pmap_arg_value, kMaxArgs> values{};
    for (std::size_t i = 0; i < args_.size(); ++i) {
      const ArgSpec& spec = args_[i];
      pmap_arg_value& v = values[i];
      v = pmap_arg_value{spec.name.c_str(), def_.args[i].type, 0, 0.0, ""};
      const ArgValue& a = args.values().at(spec.name);
      if (const auto* iv = std::get_if<std::int64_t>(&a)) {
        v.i = *iv;
        v.d = static_cast<double>(*iv);
      } else if (const auto* dv = std::get_if<double>(&a)) {
        v.d = *dv;
      } else if (const auto* bv = std::get_if<bool>(&a)) {
        v.i = *bv ? 1 : 0;
      } else if (const auto* sv = std::get_if<std::string>(&a)) {
        v.s = sv->c_str();
      }
    }
    // NUL-terminated for C: the item's text and its fields' names and values.
    const std::string text = item.fields.empty() ? std::string(item.text) : item.to_text();
    std::vector<std::string> field_text(item.fields.size());
    std::vector<pmap_field> fields(item.fields.size());
    for (std::size_t j = 0; j < fields.size(); ++j) {
      const FieldSpec& f = item.fields.spec(j);
      const FieldValue& v = item.fields.value(j);
      field_text[j] = item.fields.text(j);
      fields[j] = pmap_field{f.name.c_str(), static_cast<std::int32_t>(f.type), v.i,
                             f.type == FieldType::Int ? static_cast<double>(v.i) : v.f,
                             field_text[j].c_str()};
    }
    const pmap_item it{
        item.row,      item.value,   text.c_str(), text.size(), item.from_input ? 1 : 0,
        fields.size(), fields.data()};
    const pmap_context c{&should_stop_thunk, &ctx};
    char error[1024] = {};
    const int rc = def_.run(def_.user_data, &it, values.data(), args_.size(), out.data(),
                            out.size(), &c, error, sizeof error);
    if (rc != 0) {
      error[sizeof error - 1] = '\0';
      throw ItemError(error[0] != '\0'
                          ? std::string(error)
                          : name_ + " failed (plugin returned " + std::to_string(rc) + ")");
    }
  }

 private:
  std::shared_ptr<Library> lib_;  // keeps the code of def_.run loaded
  pmap_kernel_def def_;
  std::string name_;
  std::string description_;
  std::vector<ArgSpec> args_;
  std::vector<std::string> columns_;
};

}  // namespace

namespace {

UsageError plugin_error(const std::string& path, const std::string& why) {
  return UsageError("plugin", path, why);
}

/// dlopen()s the file at `path` (a bare name is taken from the current directory).
std::shared_ptr<Library> load_library(const std::string& path) {
  // A name without a slash would be searched in the library path, not here: make it a path.
  std::string where = path;
  std::error_code ec;
  if (path.find('/') == std::string::npos && std::filesystem::exists(path, ec)) where = "./" + path;
  if (!std::filesystem::exists(where, ec)) throw plugin_error(path, "no such file");
  if (std::filesystem::is_directory(where, ec)) {
    throw plugin_error(path, "is a directory, not a shared library");
  }
  dlerror();
  void* handle = dlopen(where.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    throw plugin_error(path, "cannot load it as a shared library: " + dl_error());
  }
  return std::make_shared<Library>(handle);
}

/// The library's pmap_plugin, after checking its ABI version, its init function and its size.
const pmap_plugin& checked_plugin(const std::string& path, Library& lib) {
  const auto fail = [&](const std::string& why) { return plugin_error(path, why); };
  dlerror();
  auto* version_fn =
      reinterpret_cast<pmap_plugin_abi_version_fn>(lib.symbol(PMAP_PLUGIN_ABI_VERSION_SYMBOL));
  if (version_fn == nullptr) {
    throw fail(std::string("not a pmap plugin: missing symbol ") + PMAP_PLUGIN_ABI_VERSION_SYMBOL +
               " (a plugin includes <pmap/plugin_abi.h> and uses "
               "PMAP_PLUGIN_DECLARE_ABI_VERSION())");
  }
  const std::uint32_t version = version_fn();
  if (version != PMAP_PLUGIN_ABI_VERSION) {
    throw fail("plugin ABI version mismatch: the plugin was built for version " +
               std::to_string(version) + ", this pmap " + abi_text() +
               ": rebuild the plugin against this pmap's <pmap/plugin_abi.h>");
  }
  // ABI 1.1's handshake: a plugin that asks learns that items carry their fields.
  using minor_fn = std::uint32_t (*)(std::uint32_t);
  if (auto* minor = reinterpret_cast<minor_fn>(lib.symbol(PMAP_PLUGIN_ABI_MINOR_SYMBOL))) {
    (void)minor(PMAP_PLUGIN_ABI_MINOR);
  }
  auto* init_fn = reinterpret_cast<pmap_plugin_init_fn>(lib.symbol(PMAP_PLUGIN_INIT_SYMBOL));
  if (init_fn == nullptr) {
    throw fail(std::string("missing symbol ") + PMAP_PLUGIN_INIT_SYMBOL +
               " (every plugin exports `const pmap_plugin* pmap_plugin_init(void)`)");
  }
  const pmap_plugin* p = init_fn();
  if (p == nullptr) throw fail(std::string(PMAP_PLUGIN_INIT_SYMBOL) + " returned NULL");
  if (p->abi_version != PMAP_PLUGIN_ABI_VERSION) {
    throw fail("plugin ABI version mismatch: its pmap_plugin struct says version " +
               std::to_string(p->abi_version) + ", this pmap " + abi_text());
  }
  if (p->struct_size < sizeof(pmap_plugin)) {
    throw fail("its pmap_plugin struct is " + std::to_string(p->struct_size) +
               " bytes, ABI version 1 needs " + std::to_string(sizeof(pmap_plugin)));
  }
  if (p->n_kernels == 0 || p->kernels == nullptr) throw fail("it declares no kernels");
  return *p;
}

}  // namespace

OpenedPlugin open_plugin(const std::string& path) {
  const auto fail = [&](const std::string& why) { return plugin_error(path, why); };
  auto lib = load_library(path);
  const pmap_plugin& p = checked_plugin(path, *lib);
  OpenedPlugin out;
  out.path = path;
  out.name = p.name != nullptr ? p.name : "";
  out.version = p.version != nullptr ? p.version : "";
  const std::string origin =
      std::filesystem::path(path).filename().string() +
      (out.name.empty() ? std::string() : ": " + out.name + " " + out.version);
  for (std::size_t i = 0; i < p.n_kernels; ++i) {
    const pmap_kernel_def& def = p.kernels[i];
    const std::string label = valid_name(def.name) ? "kernel " + std::string(def.name)
                                                   : "kernel #" + std::to_string(i + 1);
    if (!valid_name(def.name)) throw fail(label + " has no valid name ([A-Za-z0-9_.-]+)");
    if (def.run == nullptr) throw fail(label + " has no run function");
    if (def.n_columns == 0 || def.columns == nullptr) throw fail(label + " declares no columns");
    if (def.n_args > 0 && def.args == nullptr) {
      throw fail(label + " declares arguments but no array");
    }
    for (const auto& k : out.kernels) {
      if (k->name() == def.name) throw fail(label + " is declared twice");
    }
    try {
      out.kernels.push_back(std::make_unique<PluginKernel>(lib, def, origin));
    } catch (const std::invalid_argument& e) {
      throw fail(label + ": " + e.what());
    }
  }
  return out;
}

std::vector<std::string> load_plugin(const std::string& path) {
  OpenedPlugin p = open_plugin(path);
  std::vector<std::string> names;
  for (auto& k : p.kernels) {
    const std::string name(k->name());
    try {
      register_kernel(std::move(k));
    } catch (const UsageError& e) {
      throw UsageError("plugin", path, e.what());
    }
    names.push_back(name);
  }
  return names;
}

}  // namespace pmap
