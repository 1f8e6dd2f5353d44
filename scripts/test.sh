#!/usr/bin/env bash
# Installs what is missing, builds pmap with warnings as errors, and runs every test through
# ctest: unit, mpi (mpiexec -n 1, 2, 4 and over TCP), cli (the binary end to end), urls. Then
# the same tests again under AddressSanitizer + UndefinedBehaviorSanitizer (skip with
# PMAP_SKIP_ASAN=1). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/mpi_env.sh
pmap_mpi_env 4
jobs="$(nproc)"

echo "== release build (-Werror) and tests"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
ctest --preset release --timeout 600

if [ "${PMAP_SKIP_ASAN:-0}" != 1 ]; then
  echo "== ASan + UBSan build and tests"
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$jobs"
  ctest --preset asan --timeout 900
fi
echo "== all tests passed"
