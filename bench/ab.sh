#!/usr/bin/env bash
# Before/after: two pmap builds side by side on the workloads of bench/compute.sh (W1, W2, W3),
# bench/api.sh (B1 exec, B2 C++ API, B3 plugin) and bench/urls.sh (the local HTTP fixture),
# interleaved (each repetition runs both, the order alternating) so that the machine's noise hits
# both alike. Written for issue #11 (the engine refactor must not cost speed).
#
#   BEFORE=/work/wt-baseline/build AFTER=build ./bench/ab.sh
#   bench/ab_table.py bench/results/ab/ab.tsv          re-print the table
#
# The whole run holds /tmp/pmap-bench.lock (flock), so that two benchmarks on this machine never
# measure each other; a second ab.sh waits for the first.
#
# Env knobs (defaults in brackets):
#   BEFORE, AFTER          build trees, each with pmap, tests/pmap_example_sqrt_sum and
#                          pmap_http_fixture (the plugin: examples' libpmap_sample_kernels.so,
#                          taken from AFTER for both, its C ABI being unchanged; PLUGIN=path
#                          to choose another)
#   RUNS [5]               repetitions (the table reports medians and the spread of the ratios)
#   RESULTS [bench/results/ab]   ab.tsv (one line per run), logs, snapshots of both binaries
#   ONLY ["w1 w2 w3 b1 b2 b3 urls"]  a subset
#   LOAD_WAIT [0]          seconds to wait for idle CPUs (< 20% busy) before the run (bench/lib.sh)
# The command lines are those of compute.sh (W1-W3: plain mpirun, its default binding), api.sh
# and urls.sh; both builds accept every flag used here (BEFORE = 0afe9c7 included). W1 and B1 run
# `pmap` and `pmap run`, the two spellings of the compute stage both versions have.
# Metrics: "stage" = wall_seconds of the pmap-report line (the run without process start-up),
# "whole" = the whole command (mpirun and MPI start-up included), "map" = the C++ API's median
# map() time, "cpu" = user + system CPU seconds of the whole command and its processes (from
# /usr/bin/time; on a busy shared machine it moves far less than any wall time). Lower is better
# in every column.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$PWD
# The lock: re-run this script under flock. -o: the lock's descriptor is not inherited, so a
# child that outlives the run (the fixture until it sees end of file) cannot keep holding it.
if [ -z "${PMAP_BENCH_LOCKED:-}" ]; then
  echo "ab.sh: waiting for /tmp/pmap-bench.lock" >&2
  PMAP_BENCH_LOCKED=1 exec flock -o /tmp/pmap-bench.lock "$ROOT/bench/ab.sh" "$@"
fi
RUNS=${RUNS:-5}
ONLY=${ONLY:-w1 w2 w3 b1 b2 b3 urls}
RESULTS=${RESULTS:-bench/results/ab}
mkdir -p "$RESULTS/tmp"
RESULTS=$(cd "$RESULTS" && pwd)
TMP=$RESULTS/tmp
LOAD_WAIT=${LOAD_WAIT:-0}
. "$ROOT/scripts/mpi_env.sh"
pmap_mpi_env 4   # as root: allowed; W1 and W3 run 4 ranks on this machine's 2 cores
unset OMP_NUM_THREADS || true
MPIRUN=mpirun    # as compute.sh: Open MPI's default binding (none when oversubscribed)
. "$ROOT/bench/lib.sh"  # want, check_load

# Snapshots: a rebuild during the run must not change what is measured.
declare -A PMAP SQRT
: >"$RESULTS/sides.txt"
for side in before after; do
  tree=${BEFORE:-/work/wt-baseline/build}; [ "$side" = after ] && tree=${AFTER:-build}
  tree=$(cd "$tree" && pwd)
  mkdir -p "$RESULTS/$side"
  for f in pmap tests/pmap_example_sqrt_sum pmap_http_fixture; do
    [ -x "$tree/$f" ] || { echo "ab.sh: $tree/$f missing (build it)" >&2; exit 2; }
    cp "$tree/$f" "$RESULTS/$side/"
  done
  PMAP[$side]=$RESULTS/$side/pmap
  SQRT[$side]=$RESULTS/$side/pmap_example_sqrt_sum
  echo "$side: $tree ($(git -C "$tree/.." rev-parse --short HEAD 2>/dev/null || echo '?'))" \
    | tee -a "$RESULTS/sides.txt" >&2
done
PLUGIN=${PLUGIN:-$(find "${AFTER:-build}" -name libpmap_sample_kernels.so | head -1)}
if [ -n "$PLUGIN" ]; then cp "$PLUGIN" "$RESULTS/after/"; PLUGIN=$RESULTS/after/libpmap_sample_kernels.so; fi
FIXTURE=$RESULTS/after/pmap_http_fixture

# one SIDE WORKLOAD REP METRIC CMD...: runs CMD, appends "workload side rep metric seconds" and
# the same with metric "cpu".
one() {
  local side=$1 workload=$2 rep=$3 metric=$4; shift 4
  local start end out value
  start=$(date +%s.%N)
  out=$(/usr/bin/time -f '%U %S' -o "$TMP/cpu" "$@" 2>>"$RESULTS/stderr.log") \
    || { echo "ab.sh: $workload ($side) failed: $*" >&2; exit 1; }
  end=$(date +%s.%N)
  case $metric in
    whole) value=$(echo "$end - $start" | bc) ;;
    stage) value=$(echo "$out" | grep -o 'wall_seconds=[0-9.]*' | head -1 | cut -d= -f2) ;;
    map) value=$(echo "$out" | grep -o 'map_seconds_median=[0-9.]*' | head -1 | cut -d= -f2) ;;
  esac
  [ -n "$value" ] || { echo "ab.sh: no $metric figure from: $*" >&2; echo "$out" >&2; exit 1; }
  printf '%s\t%s\t%s\t%s\t%s\n' "$workload" "$side" "$rep" "$metric" "$value" >>"$RESULTS/ab.tsv"
  printf '%s\t%s\t%s\tcpu\t%s\n' "$workload" "$side" "$rep" \
    "$(awk '{ print $1 + $2 }' "$TMP/cpu")" >>"$RESULTS/ab.tsv"
}

# round REP SIDE: every workload once with SIDE's binaries.
round() {
  local r=$1 s=$2 p=${PMAP[$2]} q=${SQRT[$2]} o="--force --progress none --output $TMP/$2.h5"
  if want w1; then
    one "$s" "W1 default job, sleep=0, mpirun -np 4" "$r" whole $MPIRUN -np 4 "$p" --arg sleep=0 $o
    one "$s" "W1 default job, sleep=0, --threads 4" "$r" whole "$p" --threads 4 --arg sleep=0 $o
  fi
  if want w2; then
    for n in 1000000 10000000; do
      one "$s" "W2 spin seconds=0 x $n, mpirun -np 2" "$r" stage \
        $MPIRUN -np 2 "$p" --kernel spin --arg seconds=0 --range "0:$n" $o
    done
  fi
  if want w3; then
    local w3=(--kernel spin --arg seconds=0.01 --range 0:400)
    one "$s" "W3 spin 0.01 s x 400, 1x1" "$r" stage $MPIRUN -np 1 "$p" "${w3[@]}" --threads 1 $o
    one "$s" "W3 spin 0.01 s x 400, 2x1" "$r" stage $MPIRUN -np 2 "$p" "${w3[@]}" --threads 1 $o
    one "$s" "W3 spin 0.01 s x 400, 4x1 (2 cores)" "$r" stage $MPIRUN -np 4 "$p" "${w3[@]}" --threads 1 $o
    one "$s" "W3 spin 0.01 s x 400, 1x2" "$r" stage "$p" "${w3[@]}" --threads 2 $o
  fi
  if want b1; then
    one "$s" "B1 exec true x 2000, 1x2" "$r" whole "$p" run --kernel exec --arg cmd=true \
      --range 0:2000 --threads 2 $o
  fi
  if want b2; then
    one "$s" "B2 C++ API 10^6 trivial items, 1x2" "$r" map "$q" --items 1000000 --terms 0 \
      --repeat 3 --threads 2 --collect every
  fi
  if want b3; then   # api.sh's B3 through the C++ API (the example is the same source in both)
    one "$s" "B3 C++ API sqrt_sum strict x 200, 1x2" "$r" map "$q" --threads 2 --kernel strict \
      --repeat 3
  fi
  if want b3 && [ -n "$PLUGIN" ]; then
    one "$s" "B3 C plugin sqrt_sum x 200, 1x2" "$r" stage "$p" run --plugin "$PLUGIN" \
      --kernel sqrt_sum --range 1:201 --threads 2 $o
  fi
  if want urls; then
    one "$s" "URLs 20,000 over 20 hosts (fixture), 64 threads" "$r" stage "$p" urls \
      --input "$RESULTS/urls.txt" --threads 64 --per-host 64 --retries 0 $o
  fi
}

if want urls; then  # the local fixture on 127.0.0.1-20 (every URL answers 200 or 404)
  # shellcheck disable=SC2046  # one --also-host per address, split on purpose
  exec 9> >(exec "$FIXTURE" --port 0 --host 127.0.0.1 $(for i in $(seq 2 20); do echo --also-host 127.0.0.$i; done) \
                   --anchor-routes --max-seconds 7200 >"$RESULTS/fixture.out" 2>&1)
  for _ in $(seq 100); do grep -q '^READY' "$RESULTS/fixture.out" 2>/dev/null && break; sleep 0.1; done
  port=$(awk '/^READY/ { print $2 }' "$RESULTS/fixture.out")
  [ -n "$port" ] || { cat "$RESULTS/fixture.out" >&2; exit 1; }
  awk -v p="$port" 'BEGIN { for (i = 0; i < 20000; ++i)
      printf "http://127.0.0.%d:%d/%s/%d\n", 1 + i % 20, p, (i % 10 == 0 ? "missing" : "ok"), i }' \
    >"$RESULTS/urls.txt"
fi

printf 'workload\tside\trep\tmetric\tseconds\n' >"$RESULTS/ab.tsv"
: >"$RESULTS/load.txt"
check_load ab-start
round 0 before; round 0 after   # warm-up (page cache, loader), rep 0, left out of the table
for r in $(seq "$RUNS"); do
  if (( r % 2 )); then round "$r" before; round "$r" after; else round "$r" after; round "$r" before; fi
  echo "ab.sh: repetition $r of $RUNS done" >&2
  check_load "ab-rep$r" nowait
done
/usr/bin/python3 "$ROOT/bench/ab_table.py" "$RESULTS/ab.tsv" | tee "$RESULTS/table.md"
