#include "pmap/tally.hpp"

#include "pmap/mpi.hpp"

namespace pmap {
namespace {

/// Sums `n` consecutive uint64 fields over `comm` in place.
void sum_fields(std::uint64_t* first, int n, MPI_Comm comm) {
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, first, n, MPI_UINT64_T, MPI_SUM, comm), "MPI_Allreduce");
}

}  // namespace

StatusTally StatusTally::reduce(MPI_Comm comm) const {
  std::array<std::uint64_t, 5> f = {ok, failed, timed_out, not_run, checksum};
  sum_fields(f.data(), static_cast<int>(f.size()), comm);
  return {f[0], f[1], f[2], f[3], f[4]};
}

UrlTally UrlTally::reduce(MPI_Comm comm) const {
  std::array<std::uint64_t, 5> f = {exists, does_not_exist, unknown, invalid, interrupted};
  sum_fields(f.data(), static_cast<int>(f.size()), comm);
  return {f[0], f[1], f[2], f[3], f[4]};
}

}  // namespace pmap
