// pmap — RAII for the MPI environment and communicators, with check-and-throw.
#pragma once

#include <mpi.h>

#include <string>

namespace pmap::mpi {

/// Throws RuntimeError with `what` and MPI's error string unless rc == MPI_SUCCESS.
void check(int rc, const char* what);

/// Initialises MPI with MPI_THREAD_MULTIPLE (checked) and finalises it on destruction.
///   pmap::mpi::Environment env(argc, argv);
class Environment {
 public:
  Environment(int& argc, char**& argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
  /// The thread level MPI provided.
  [[nodiscard]] int thread_level() const noexcept { return provided_; }

 private:
  int provided_ = MPI_THREAD_SINGLE;
  bool owns_ = false;
};

/// An owned communicator (freed on destruction); errors return instead of aborting.
class Comm {
 public:
  Comm() = default;
  /// Duplicates `parent` (collective over it).
  static Comm dup(MPI_Comm parent);
  /// The ranks of `parent` that share this node's memory (collective).
  static Comm split_shared(MPI_Comm parent);
  ~Comm();
  Comm(Comm&& other) noexcept : comm_(other.comm_) { other.comm_ = MPI_COMM_NULL; }
  Comm& operator=(Comm&& other) noexcept;
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  [[nodiscard]] MPI_Comm get() const noexcept { return comm_; }
  [[nodiscard]] int rank() const;
  [[nodiscard]] int size() const;

 private:
  explicit Comm(MPI_Comm c) : comm_(c) {}
  MPI_Comm comm_ = MPI_COMM_NULL;
};

/// Rank and size of `comm`.
int rank(MPI_Comm comm);
int size(MPI_Comm comm);

/// Broadcasts a string from `root`.
std::string bcast_string(MPI_Comm comm, std::string s, int root = 0);

/// Completes a request, sleeping between tests (backing off to 1 ms) instead of spinning: for
/// waits behind work on other ranks, so that oversubscribed waiters leave them the cores.
void wait_sleeping(MPI_Request& request, MPI_Status* status = nullptr);

/// MPI_Bcast that waits with wait_sleeping (for waits behind serial work on `root`).
void bcast_sleeping(void* buf, int count, MPI_Datatype type, int root, MPI_Comm comm);

/// Every rank's `mine`, concatenated in rank order: on `root` only (the others get ""), or on
/// every rank when root < 0 (collective).
std::string gather_bytes(MPI_Comm comm, const std::string& mine, int root);

/// This process's host name.
std::string host_name();

}  // namespace pmap::mpi
