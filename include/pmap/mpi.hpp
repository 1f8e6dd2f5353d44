// pmap — RAII for the MPI environment and communicators, with check-and-throw.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <exception>
#include <string>
#include <type_traits>

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

/// MPI_Bcast of `bytes` bytes at `data` from `root`, checked.
void bcast_bytes(MPI_Comm comm, void* data, std::size_t bytes, int root = 0);

/// Broadcasts one value of a trivially copyable type from `root` (collective, checked): every
/// rank returns the root's value.
///   const double left = pmap::mpi::bcast_value(comm, rank == 0 ? ask_squeue() : -1.0);
template <class T>
[[nodiscard]] T bcast_value(MPI_Comm comm, T value, int root = 0) {
  static_assert(std::is_trivially_copyable_v<T>, "bcast_value sends the value's bytes");
  bcast_bytes(comm, &value, sizeof value, root);
  return value;
}

/// Broadcasts a string from `root`.
std::string bcast_string(MPI_Comm comm, std::string s, int root = 0);

/// Completes a request, sleeping between tests (backing off to 1 ms) instead of spinning: for
/// waits behind work on other ranks, so that oversubscribed waiters leave them the cores.
void wait_sleeping(MPI_Request& request, MPI_Status* status = nullptr);

/// MPI_Bcast that waits with wait_sleeping (for waits behind serial work on `root`).
void bcast_sleeping(void* buf, int count, MPI_Datatype type, int root, MPI_Comm comm);

/// Collective: broadcasts the exception `error` from `root` (null there: none) and, when there is
/// one, throws it on every rank as the same error: same type (UsageError, RuntimeError; any
/// other exception becomes RuntimeError), exit code, subject, value and detail. The ranks that
/// wait sleep (wait_sleeping). `error` is read on `root` only.
///   std::exception_ptr error;
///   if (rank == 0) try { create_file(); } catch (...) { error = std::current_exception(); }
///   pmap::mpi::agree_on_error(comm, error);
void agree_on_error(MPI_Comm comm, const std::exception_ptr& error, int root = 0);

/// Every rank's `mine`, concatenated in rank order: on `root` only (the others get ""), or on
/// every rank when root < 0 (collective).
std::string gather_bytes(MPI_Comm comm, const std::string& mine, int root);

/// This process's host name.
std::string host_name();

}  // namespace pmap::mpi
