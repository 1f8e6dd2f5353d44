#!/usr/bin/env bash
# Fuzzes pmap's parsers with libFuzzer (clang; ASan + UBSan): the --range parser, the --arg
# binder, --input files, URL lists and results files read back (tests/fuzz/). Not part of CI: run it by hand, e.g. before
# a release or after touching one of those parsers.
#
#   scripts/fuzz.sh                    every target for 10 minutes, one after the other
#   scripts/fuzz.sh range urls         only these targets (range, args, input, urls, results, table)
#   FUZZ_SECONDS=90 scripts/fuzz.sh    a short run
#
# Knobs (environment):
#   FUZZ_SECONDS=600   seconds per target (libFuzzer -max_total_time)
#   FUZZ_JOBS=1        libFuzzer processes per target (-jobs=N -workers=N; logs fuzz-<i>.log)
#   FUZZ_PARALLEL=1    targets fuzzed at the same time (2: two at a time)
#   FUZZ_RSS_MB=2048   memory limit per process (-rss_limit_mb)
#   FUZZ_TIMEOUT=10    seconds one input may take before it counts as a hang (-timeout)
#   FUZZ_MAX_LEN=      input size limit for every target (default: per target, see max_len)
#   FUZZ_BUILD_JOBS=2  parallel compile jobs
#
# What it does: installs clang and libFuzzer if missing (scripts/setup.sh --fuzz), configures
# and builds build-fuzz/ (PMAP_FUZZ=ON; only the fuzz targets), copies the seeds of
# tests/fuzz/corpus/<target> into the writable corpus build-fuzz/corpus/<target> (kept between
# runs, so later runs start where earlier ones stopped), runs each target with its dictionary
# tests/fuzz/<target>.dict, logs to build-fuzz/logs/<target>.log and prints a summary table.
# Findings (crash-*, leak-*, timeout-*, oom-* inputs) land in build-fuzz/artifacts/<target>/;
# reproduce one with  build-fuzz/tests/fuzz/pmap_fuzz_<target> <file>  and turn it into a unit
# test. Exit status: 0 when no target found anything, 1 otherwise.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"
FUZZ_SECONDS="${FUZZ_SECONDS:-600}"
FUZZ_JOBS="${FUZZ_JOBS:-1}"
FUZZ_PARALLEL="${FUZZ_PARALLEL:-1}"
FUZZ_RSS_MB="${FUZZ_RSS_MB:-2048}"
FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-10}"
FUZZ_MAX_LEN="${FUZZ_MAX_LEN:-}"
FUZZ_BUILD_JOBS="${FUZZ_BUILD_JOBS:-2}"

all_targets=(range args input urls results table)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  case " ${all_targets[*]} " in
    *" $t "*) ;;
    *) echo "fuzz.sh: unknown target '$t' (targets: ${all_targets[*]})" >&2; exit 2 ;;
  esac
done
for knob in FUZZ_SECONDS FUZZ_JOBS FUZZ_PARALLEL FUZZ_RSS_MB FUZZ_TIMEOUT FUZZ_BUILD_JOBS; do
  if ! [[ "${!knob}" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz.sh: $knob must be a positive integer, got '${!knob}'" >&2
    exit 2
  fi
done

# Largest input per target: a --range value is short; URL lists go past the 8 KiB URL limit.
max_len() {
  if [ -n "$FUZZ_MAX_LEN" ]; then echo "$FUZZ_MAX_LEN"; return; fi
  case "$1" in
    range) echo 128 ;;
    args) echo 1024 ;;
    input) echo 4096 ;;
    urls) echo 12288 ;;
    results) echo 65536 ;;
    table) echo 4096 ;;
  esac
}

"$root/scripts/setup.sh" --fuzz
mkdir -p "$build/logs"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DPMAP_FUZZ=ON -DPMAP_BUILD_TESTS=OFF \
  -DPMAP_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/logs/configure.log" 2>&1 ||
  { cat "$build/logs/configure.log" >&2; exit 1; }
build_targets=()
for t in "${targets[@]}"; do build_targets+=(--target "pmap_fuzz_$t"); done
cmake --build "$build" "${build_targets[@]}" -j"$FUZZ_BUILD_JOBS"

export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Fuzzes one target; writes its summary row to logs/<target>.row.
run_target() {
  local t=$1
  local bin="$build/tests/fuzz/pmap_fuzz_$t"
  local corpus="$build/corpus/$t"
  local artifacts="$build/artifacts/$t"
  local log="$build/logs/$t.log"
  local jobdir="$build/logs/$t.jobs"
  mkdir -p "$corpus" "$artifacts"
  local seed
  for seed in "$root/tests/fuzz/corpus/$t/"*; do  # new seeds join; the grown corpus stays
    [ -e "$corpus/${seed##*/}" ] || cp "$seed" "$corpus/"
  done
  local stamp="$build/logs/$t.start"
  touch "$stamp"
  local args=(-max_total_time="$FUZZ_SECONDS" -max_len="$(max_len "$t")"
              -rss_limit_mb="$FUZZ_RSS_MB" -timeout="$FUZZ_TIMEOUT" -print_final_stats=1
              -artifact_prefix="$artifacts/")
  [ -f "$root/tests/fuzz/$t.dict" ] && args+=(-dict="$root/tests/fuzz/$t.dict")
  # A damaged results file makes libhdf5 malloc what its headers claim (4 GiB seen) before the
  # read past the end fails: virtual memory never touched (pmap inspect peaks at 16 MB on it),
  # so only resident memory (-rss_limit_mb) is a finding there, not the size of one malloc.
  [ "$t" = results ] && args+=(-malloc_limit_mb=1048576)
  local logs=("$log") workdir="$build/logs" i
  if [ "$FUZZ_JOBS" -gt 1 ]; then  # each job logs to fuzz-<i>.log in the working directory
    args+=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
    rm -rf "$jobdir" && mkdir -p "$jobdir"
    workdir=$jobdir
    logs=()
    for ((i = 0; i < FUZZ_JOBS; i++)); do logs+=("$jobdir/fuzz-$i.log"); done
  fi
  echo "fuzz.sh: $t for ${FUZZ_SECONDS}s (log $log)"
  local start end rc=0
  start=$(date +%s)
  # Leaks inside HDF5 and MPI (their one-time allocations; libhdf5's on error paths of a damaged
  # file, target results) are suppressed as in the sanitized tests; pmap's own are findings.
  # A huge malloc returns NULL as glibc's does (a damaged file makes libhdf5 ask for 2^56 bytes
  # and handle the failure) instead of counting as a crash.
  (cd "$workdir" && LSAN_OPTIONS="suppressions=$root/tests/support/lsan.supp:print_suppressions=0" \
    ASAN_OPTIONS="allocator_may_return_null=1" exec "$bin" "${args[@]}" "$corpus") >"$log" 2>&1 || rc=$?
  end=$(date +%s)

  # Figures from libFuzzer's final stats (summed over jobs) and its last status line.
  local execs=0 rate=0 cov=0 found n
  for f in "${logs[@]}"; do
    [ -f "$f" ] || continue
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$f" | tail -1)
    execs=$((execs + ${n:-0}))
    n=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$f" | tail -1)
    rate=$((rate + ${n:-0}))
    n=$(grep -o 'cov: [0-9]*' "$f" | tail -1 | cut -d' ' -f2 || true)
    [ "${n:-0}" -gt "$cov" ] && cov=$n
  done
  found=$(find "$artifacts" -maxdepth 1 -type f -newer "$stamp" \
            \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) |
          wc -l)
  local status=ok
  if [ "$found" -gt 0 ]; then
    status=FOUND
  elif [ "$rc" -ne 0 ]; then
    status="exit $rc"
  fi
  printf '%s %s %s %s %s %s %s %s\n' "$t" "$((end - start))" "$execs" "$rate" \
    "$(find "$corpus" -type f | wc -l)" "$cov" "$found" "$status" >"$build/logs/$t.row"
  echo "fuzz.sh: $t done: $status"
}

running=0
for t in "${targets[@]}"; do
  rm -f "$build/logs/$t.row"
  if [ "$FUZZ_PARALLEL" -le 1 ]; then
    run_target "$t"
  else
    run_target "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$FUZZ_PARALLEL" ]; then
      wait -n || true
      running=$((running - 1))
    fi
  fi
done
wait

failed=0
echo
printf '%-7s %8s %12s %8s %8s %6s %8s  %s\n' target seconds execs exec/s corpus cov findings status
for t in "${targets[@]}"; do
  if [ ! -f "$build/logs/$t.row" ]; then
    printf '%-7s %8s %12s %8s %8s %6s %8s  %s\n' "$t" - - - - - - "no result"
    failed=1
    continue
  fi
  read -r name secs execs rate corpus cov found status <"$build/logs/$t.row"
  printf '%-7s %8s %12s %8s %8s %6s %8s  %s\n' "$name" "$secs" "$execs" "$rate" "$corpus" \
    "$cov" "$found" "$status"
  [ "$status" = ok ] || failed=1
done
if [ "$failed" -ne 0 ]; then
  echo
  echo "fuzz.sh: findings in $build/artifacts/<target>/ (logs in $build/logs/); reproduce with"
  echo "  $build/tests/fuzz/pmap_fuzz_<target> <artifact>"
fi
exit "$failed"
