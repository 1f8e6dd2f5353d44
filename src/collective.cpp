#include "pmap/collective.hpp"

namespace pmap {
namespace detail {

ErrorInfo describe(const std::exception_ptr& error) {
  if (!error) return {};
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    return {static_cast<int>(e.code()), e.what()};
  } catch (const std::exception& e) {
    return {static_cast<int>(ExitCode::ItemsFailed), e.what()};
  } catch (...) {
    return {static_cast<int>(ExitCode::ItemsFailed), "unknown error"};
  }
}

void throw_agreed(MPI_Comm comm, ErrorInfo info, int root) {
  mpi::bcast_sleeping(&info.code, 1, MPI_INT, root, comm);
  if (info.code == 0) return;
  info.message = mpi::bcast_string(comm, info.message, root);
  if (info.code == static_cast<int>(ExitCode::Usage)) throw UsageError(info.message);
  throw RuntimeError(info.message);
}

}  // namespace detail

void agree_on_failure(MPI_Comm comm, const std::exception_ptr& error) {
  const int size = mpi::size(comm);
  const int first = all_min(comm, error ? mpi::rank(comm) : size);
  if (first == size) return;
  // A failure during the work is the run's, whatever its type: RuntimeError on every rank.
  std::string message = mpi::rank(comm) == first ? detail::describe(error).message : "";
  message = mpi::bcast_string(comm, message, first);
  throw RuntimeError("rank " + std::to_string(first) + ": " + message);
}

}  // namespace pmap
