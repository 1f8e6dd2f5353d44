#include "pmap/session.hpp"

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "pmap/error.hpp"
#include "pmap/stop.hpp"

namespace pmap {
namespace {

/// A session directory of this process's own, for an isolated singleton: they all get job family
/// 0, so by default they share <tmp>/ompi.<host>.<uid>/jf.0, and when one finishing removes it
/// while another creates its subdirectory, that one dies in orte_init ("A call to mkdir was
/// unable to create the desired directory: .../jf.0/1"; seen with two pmap runs started at
/// once). MPI_Finalize removes the directory.
std::string singleton_session_dir() {
  const char* tmp = std::getenv("TMPDIR");
  const std::string base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  return base + "/ompi." + mpi::host_name() + "." + std::to_string(getuid()) + "/pmap." +
         std::to_string(getpid());
}

/// Started without a launcher, a singleton MPI needs no runtime daemon and no network
/// transport: Open MPI otherwise spends ~0.35 s forking orted and probing UCX. MPI_Init then took
/// ~30 ms more than needed for one process, measured on Debian 12: hwloc reading every PCI
/// device's config space and its GL plugin probing X displays :0-:9 (I/O locality only matters
/// to network transports), the shared-memory BTL, MTLs (unused under ob1), and
/// collective/one-sided/topology components a singleton does not need. Launched runs only skip
/// the GL probe. setenv(..., 0): the user's own settings always win.
void prefer_fast_start() {
  if (Session::launched()) {
    setenv("HWLOC_COMPONENTS", "-gl", 0);
    return;
  }
  setenv("HWLOC_COMPONENTS", "-gl,-opencl,-pci,-linuxio", 0);
  setenv("OMPI_MCA_ess_singleton_isolated", "1", 0);
  setenv("OMPI_MCA_orte_jobfam_session_dir", singleton_session_dir().c_str(), 0);
  setenv("OMPI_MCA_pml", "ob1", 0);
  setenv("OMPI_MCA_btl", "self", 0);
  setenv("OMPI_MCA_mtl", "^ofi,psm,psm2", 0);
  setenv("OMPI_MCA_coll", "self,basic,libnbc", 0);
  setenv("OMPI_MCA_osc", "pt2pt", 0);
  setenv("OMPI_MCA_topo", "basic", 0);
}

}  // namespace

bool Session::launched() noexcept {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

int Session::launcher_rank() noexcept {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"}) {
    if (const char* v = std::getenv(name)) return std::atoi(v);
  }
  return 0;
}

std::string Session::command_line(int argc, const char* const* argv) {
  std::string command;
  for (int i = 0; i < argc && argv != nullptr; ++i) {
    if (i > 0) command += ' ';
    command += argv[i];
  }
  return command;
}

Session::Session(int& argc, char**& argv, SessionOptions options)
    : options_(options), command_(command_line(argc, argv)) {
  init(argc, argv);
}

Session::Session(SessionOptions options) : options_(options), command_("pmap::Session") {
  static char name[] = "pmap";
  static char* args[] = {name, nullptr};
  int argc = 1;
  char** argv = args;
  init(argc, argv);
}

void Session::init(int& argc, char**& argv) {
  if (options_.threads && *options_.threads < 1) {
    throw UsageError("pmap::SessionOptions::threads must be at least 1");
  }
  prefer_fast_start();
  env_ = std::make_unique<mpi::Environment>(argc, argv);
  comm_ = mpi::Comm::dup(options_.comm);
  rank_ = comm_.rank();
  size_ = comm_.size();
  if (options_.handle_signals) install_stop_handlers();
}

Session::~Session() = default;

}  // namespace pmap
