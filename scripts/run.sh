#!/usr/bin/env bash
# Installs what is missing, builds pmap, and runs the default job:
#   mpirun -np 8 ./build/pmap      (compute_x over 1..10 with y=2, then the URL stage)
# into ./pmap.h5 (replaced on every run). Extra arguments go to pmap instead, e.g.
#   ./scripts/run.sh run --kernel pi --range 0:1000 --output pi.h5
# PMAP_NP sets the number of ranks (default 8).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target pmap -j "$(nproc)"
np="${PMAP_NP:-8}"
. scripts/mpi_env.sh
pmap_mpi_env "$np"
if [ $# -eq 0 ]; then
  set -- --force
fi
exec mpirun -np "$np" ./build/pmap "$@"
