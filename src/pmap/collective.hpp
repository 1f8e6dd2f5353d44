// pmap — collective helpers (internal): run something on rank 0 and make its error every rank's,
// agree on a failure that happened on any rank, and typed reductions.
//
//   on_root(comm, [&] { create_file(path); });       // throws the same error on every rank
//   const double wall = all_max(comm, seconds_since(t0));
#pragma once

#include <mpi.h>

#include <cstdint>
#include <exception>
#include <string>
#include <type_traits>

#include "pmap/error.hpp"
#include "pmap/mpi.hpp"

namespace pmap {
namespace detail {

/// The message of an exception ("" when there is none).
std::string message_of(const std::exception_ptr& error);

template <class T>
MPI_Datatype mpi_type() {
  if constexpr (std::is_same_v<T, double>) {
    return MPI_DOUBLE;
  } else if constexpr (std::is_same_v<T, int>) {
    return MPI_INT;
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    return MPI_INT64_T;
  } else {
    static_assert(std::is_same_v<T, std::uint64_t>, "add the MPI type of T here");
    return MPI_UINT64_T;
  }
}

template <class T>
T all_reduce(MPI_Comm comm, T value, MPI_Op op) {
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, mpi_type<T>(), op, comm), "MPI_Allreduce");
  return value;
}

}  // namespace detail

/// Runs `fn` on rank 0 only; an error there is thrown on every rank with the same type
/// (UsageError or RuntimeError), message and subject. The other ranks sleep meanwhile, so that
/// oversubscribed ranks leave the cores to rank 0's file work. Collective.
template <class Fn>
void on_root(MPI_Comm comm, Fn&& fn) {
  std::exception_ptr error;
  if (mpi::rank(comm) == 0) {
    try {
      fn();
    } catch (...) {
      error = std::current_exception();
    }
  }
  mpi::agree_on_error(comm, error, 0);
}

/// Collective: when `error` is set on any rank, every rank throws RuntimeError with the lowest
/// such rank's message, prefixed with "rank N: ".
void agree_on_failure(MPI_Comm comm, const std::exception_ptr& error);

/// Collective: when `error` is set on any rank, every rank throws the lowest such rank's error
/// as that error (same type, exit code, subject and message: a UsageError stays one).
void agree_on_first_error(MPI_Comm comm, const std::exception_ptr& error);

/// Typed reductions over every rank of `comm` (collective).
template <class T>
T all_sum(MPI_Comm comm, T value) {
  return detail::all_reduce(comm, value, MPI_SUM);
}
template <class T>
T all_max(MPI_Comm comm, T value) {
  return detail::all_reduce(comm, value, MPI_MAX);
}
template <class T>
T all_min(MPI_Comm comm, T value) {
  return detail::all_reduce(comm, value, MPI_MIN);
}
/// True on every rank when `flag` is true on any.
inline bool any_rank(MPI_Comm comm, bool flag) { return all_max(comm, flag ? 1 : 0) != 0; }

}  // namespace pmap
