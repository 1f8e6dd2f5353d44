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
  # Open MPI's plugins stay loaded (no dlclose) and stacks are unwound fully, so its one-time
  # allocations are attributed to its libraries, which tests/support/lsan.supp names; nothing
  # of pmap's own is suppressed.
  export OMPI_MCA_mca_base_component_disable_dlclose=1
  export LSAN_OPTIONS="suppressions=$PWD/tests/support/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0"
  export ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  cmake --preset asan >/dev/null
  # Only what the sanitized suites below run (keeps CI within its time on 2 cores).
  cmake --build --preset asan -j "$jobs" --target pmap pmap_unit_tests pmap_mpi_tests \
    pmap_cli_tests pmap_url_tests pmap_http_fixture pmap_example_sqrt_sum
  # The fast, in-process and end-to-end suites; the fault, cluster and Slurm suites ran above and
  # exercise the same code paths through the binary. Left out too: the two determinism sweeps
  # (Cli.Deterministic*: dozens of mpiexec launches of paths the other cli tests run once each,
  # ~64 s under ASan), which keeps CI well within its 20 minutes on 2 cores.
  ctest --preset asan --timeout 900 -L "unit|mpi|cli|urls" -E '^Cli\.Deterministic'
fi
echo "== all tests passed"
