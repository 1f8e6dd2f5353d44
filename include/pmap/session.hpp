// pmap — the Session: how a process starts MPI for pmap, the same way for the `pmap` command and
// for a program that uses the C++ API.
//
//   int main(int argc, char** argv) {
//     pmap::Session session(argc, argv);  // MPI_Init_thread(MULTIPLE), checked; signal handlers
//     if (session.is_root()) std::puts("rank 0 prints");
//   }                                     // MPI_Finalize (unless someone else initialised MPI)
#pragma once

#include <mpi.h>

#include <memory>
#include <optional>
#include <string>

#include "pmap/mpi.hpp"

namespace pmap {

/// How a Session sets up MPI and threads.
struct SessionOptions {
  /// OpenMP threads per rank for every map (unless MapOptions::threads says otherwise); unset:
  /// OMP_NUM_THREADS, else SLURM_CPUS_PER_TASK, else the node's cores / ranks on the node.
  std::optional<int> threads;
  /// SIGINT, SIGTERM and SIGUSR1 stop a running map cleanly: items in flight are dropped (status
  /// -1), the file stays valid and the result says `report.stop_reason == "signal"`.
  bool handle_signals = true;
  /// The ranks that share the work (duplicated; MPI_COMM_WORLD by default).
  MPI_Comm comm = MPI_COMM_WORLD;
};

/// MPI (initialised with MPI_THREAD_MULTIPLE, checked, finalised at the end unless someone else
/// initialised it) and the defaults of every map. One per process, created first in main():
///
///   pmap::Session session(argc, argv);
///   if (session.is_root()) std::puts("rank 0 prints");
///
/// Before MPI starts, a process that no launcher started (a singleton: `./app`, not `mpirun
/// ./app`) is set up to start fast: no runtime daemon, no network transports, no hardware probes
/// (Open MPI's MCA and hwloc environment variables; other MPIs ignore them). A launched process
/// only skips hwloc's probe of X displays. Variables the user set always win.
class Session {
 public:
  /// Initialises MPI from main's arguments (which MPI may edit).
  Session(int& argc, char**& argv, SessionOptions options = {});
  /// Initialises MPI without the command line.
  explicit Session(SessionOptions options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// The session's communicator (a duplicate of SessionOptions::comm).
  [[nodiscard]] MPI_Comm comm() const noexcept { return comm_.get(); }
  [[nodiscard]] int rank() const noexcept { return rank_; }
  [[nodiscard]] int size() const noexcept { return size_; }
  /// True on rank 0, the rank that prints and receives streamed results.
  [[nodiscard]] bool is_root() const noexcept { return rank_ == 0; }
  [[nodiscard]] const SessionOptions& options() const noexcept { return options_; }
  /// The command line, recorded in every results file (/@command).
  [[nodiscard]] const std::string& command() const noexcept { return command_; }

  /// `argv` joined by spaces, as Session::command() records it.
  [[nodiscard]] static std::string command_line(int argc, const char* const* argv);
  /// True when a launcher (mpirun, srun, hydra) started this process; usable before MPI starts.
  [[nodiscard]] static bool launched() noexcept;
  /// This process's rank as its launcher tells it (0 when none did); usable before MPI starts,
  /// e.g. so that only rank 0 prints a usage error found before the Session exists.
  [[nodiscard]] static int launcher_rank() noexcept;

 private:
  void init(int& argc, char**& argv);
  SessionOptions options_;
  std::unique_ptr<mpi::Environment> env_;  // declared before comm_: freed after it
  mpi::Comm comm_;
  int rank_ = 0;
  int size_ = 1;
  std::string command_;
};

}  // namespace pmap
