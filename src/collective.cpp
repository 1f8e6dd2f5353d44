#include "pmap/collective.hpp"

namespace pmap {
namespace detail {

std::string message_of(const std::exception_ptr& error) {
  if (!error) return {};
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

}  // namespace detail

void agree_on_failure(MPI_Comm comm, const std::exception_ptr& error) {
  const int size = mpi::size(comm);
  const int first = all_min(comm, error ? mpi::rank(comm) : size);
  if (first == size) return;
  // A failure during the work is the run's, whatever its type: RuntimeError on every rank.
  std::string message = mpi::rank(comm) == first ? detail::message_of(error) : "";
  message = mpi::bcast_string(comm, message, first);
  throw RuntimeError("rank " + std::to_string(first) + ": " + message);
}

void agree_on_first_error(MPI_Comm comm, const std::exception_ptr& error) {
  const int size = mpi::size(comm);
  const int first = all_min(comm, error ? mpi::rank(comm) : size);
  if (first < size) mpi::agree_on_error(comm, error, first);
}

}  // namespace pmap
