#!/usr/bin/env bash
# Installs what is missing, builds pmap with warnings as errors, and runs every test through
# ctest: unit, mpi (mpiexec -n 1, 2, 4 and over TCP), cli (the binary end to end), urls, faults,
# multinode, slurm. Then: a checkout in a path with a space and non-ASCII characters is
# configured and pmap built and run there; as root, the release suite runs again as an
# unprivileged user (PMAP_TEST_USER, default pmap-ci, made with useradd -m) from a clone in its
# 0700 home with a soft limit of 1,024 open files (skip with PMAP_SKIP_UNPRIVILEGED=1); then the
# fast suites under AddressSanitizer + UndefinedBehaviorSanitizer (skip with PMAP_SKIP_ASAN=1).
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/mpi_env.sh
pmap_mpi_env 4
jobs="$(nproc)"

# Copies this checkout's files (tracked and untracked, not ignored; the working tree as it is)
# into the new directory $1.
copy_checkout() {
  mkdir -p "$1"
  if git rev-parse --git-dir >/dev/null 2>&1; then
    git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$1"
  else
    tar --exclude='./build*' -cf - . | tar -xf - -C "$1"
  fi
}

echo "== release build (-Werror) and tests"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
ctest --preset release --timeout 600

echo "== a checkout in a path with a space and non-ASCII characters: configure, build pmap, run"
spaced_root="$(mktemp -d)"
spaced="$spaced_root/pmap checkout é"
copy_checkout "$spaced"
(cd "$spaced" && cmake --preset release >/dev/null && cmake --build --preset release -j "$jobs" --target pmap >/dev/null)
printf '3\n1\n2\n' >"$spaced/entrées 1.txt"
"$spaced/build/pmap" run --kernel compute_x --input "$spaced/entrées 1.txt" --arg sleep=0 \
  --progress none --output "$spaced/résultats 1.h5" >/dev/null
summary="$("$spaced/build/pmap" inspect "$spaced/résultats 1.h5")"
grep -q "3 items: 3 ok" <<<"$summary" || { echo "unexpected: $summary" >&2; exit 1; }
rm -rf "$spaced_root"

# The cluster user's path: not root, a clone in a private (0700) home directory, the default
# soft limit of 1,024 open files (hard limit higher), no apt; README's `cmake --preset release`,
# build, `ctest`. Whatever needs root (Slurm, namespaces) reports SKIP there.
if [ "$(id -u)" -eq 0 ] && [ "${PMAP_SKIP_UNPRIVILEGED:-0}" != 1 ]; then
  user="${PMAP_TEST_USER:-pmap-ci}"
  echo "== release build and tests again as user $user (0700 home, ulimit -Sn 1024, no apt)"
  id "$user" >/dev/null 2>&1 || useradd -m "$user"
  home="$(getent passwd "$user" | cut -d: -f6)"
  chmod 0700 "$home"
  rm -rf "$home/pmap"
  copy_checkout "$home/pmap"
  chown -R "$user:" "$home/pmap"
  su "$user" -s /bin/bash -c "set -e; cd ~/pmap; ulimit -Sn 1024
    cmake --preset release >/dev/null
    cmake --build --preset release -j $jobs
    ctest --preset release --timeout 600"
fi

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
