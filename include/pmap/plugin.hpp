// pmap — kernel plugins: shared libraries that add kernels through the C ABI of plugin_abi.h.
//
//   pmap::load_plugin("./libmykernel.so");            // registers its kernels
//   const pmap::Kernel& k = pmap::find_kernel("mykernel");
//
// On the command line: `pmap run --plugin ./libmykernel.so --kernel mykernel ...` and
// `pmap kernels --plugin ./libmykernel.so`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pmap/kernel.hpp"

namespace pmap {

/// A plugin opened and checked, its kernels not registered yet.
struct OpenedPlugin {
  std::string path;
  std::string name;     ///< as the plugin calls itself
  std::string version;  ///< the plugin's own version string
  /// Its kernels; each keeps the library loaded for as long as it lives.
  std::vector<std::unique_ptr<Kernel>> kernels;
};

/// Opens the shared library `path` (dlopen, RTLD_NOW | RTLD_LOCAL), checks its ABI version and
/// validates every kernel it declares. Throws UsageError naming the file and the problem: it
/// cannot be loaded (missing, not a shared library, unresolved symbols), it is not a pmap plugin
/// (no pmap_plugin_abi_version), it was built for another ABI version, pmap_plugin_init is
/// missing or returns NULL, or a kernel definition is invalid.
OpenedPlugin open_plugin(const std::string& path);

/// open_plugin(path), then register_kernel() for each kernel; returns the kernels' names.
/// Throws UsageError as open_plugin does, or when a kernel's name is taken.
std::vector<std::string> load_plugin(const std::string& path);

}  // namespace pmap
