// MPI test support: a temp dir made by rank 0 and shared with every rank.
#pragma once

#include <mpi.h>

#include <memory>

#include "pmap/mpi.hpp"
#include "support/temp_dir.hpp"

namespace pmap::test {

/// Rank 0 creates a temporary directory and broadcasts its path; rank 0 removes it at the end.
inline std::unique_ptr<TempDir> shared_temp_dir(MPI_Comm comm = MPI_COMM_WORLD) {
  const int rank = mpi::rank(comm);
  std::string path;
  std::unique_ptr<TempDir> owner;
  if (rank == 0) {
    owner = std::make_unique<TempDir>();
    path = owner->path().string();
  }
  path = mpi::bcast_string(comm, path);
  if (rank == 0) return owner;
  return std::make_unique<TempDir>(path, false);
}

inline int world_rank() { return mpi::rank(MPI_COMM_WORLD); }
inline int world_size() { return mpi::size(MPI_COMM_WORLD); }

}  // namespace pmap::test
