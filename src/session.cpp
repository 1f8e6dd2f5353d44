#include "pmap/session.hpp"

#include <cstdlib>

#include "pmap/error.hpp"
#include "pmap/stop.hpp"

namespace pmap {
namespace {

/// True when a launcher (mpirun, srun, hydra) started this process.
bool launched() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

}  // namespace

Session::Session(int& argc, char**& argv, SessionOptions options) : options_(options) {
  for (int i = 0; i < argc && argv != nullptr; ++i) {
    if (i > 0) command_ += ' ';
    command_ += argv[i];
  }
  init(argc, argv);
}

Session::Session(SessionOptions options) : options_(options) {
  static char name[] = "pmap";
  static char* args[] = {name, nullptr};
  int argc = 1;
  char** argv = args;
  command_ = "pmap::Session";
  init(argc, argv);
}

void Session::init(int& argc, char**& argv) {
  if (options_.threads && *options_.threads < 1) {
    throw UsageError("pmap::SessionOptions::threads must be at least 1");
  }
  // Started without mpirun, a singleton needs no runtime daemon (as `pmap` itself does).
  if (!launched()) {
    setenv("OMPI_MCA_ess_singleton_isolated", "1", 0);
    setenv("OMPI_MCA_pml", "ob1", 0);
  }
  env_ = std::make_unique<mpi::Environment>(argc, argv);
  comm_ = mpi::Comm::dup(options_.comm);
  rank_ = comm_.rank();
  size_ = comm_.size();
  if (options_.handle_signals) install_stop_handlers();
}

Session::~Session() = default;

}  // namespace pmap
