#!/usr/bin/env bash
# Parameter sweeps (issue 14): what items with fields cost, side by side with plain items.
#
#   S1 grid vs range   a 10^7-point grid (--grid a=0:10000 --grid b=0:1000) through a trivial
#                      built-in kernel (spin seconds=0) against the same number of items over a
#                      plain range, and a one-axis grid (--grid a=0:N: one field, to separate
#                      the cost of a field from that of the grid), mpirun -np 2, interleaved
#                      runs, medians of pmap's own wall (pmap-report wall_seconds) and of the
#                      whole process
#   S2 big table       a 10^7-row CSV (x int, y float, tag string; ~216 MB) through the same
#                      kernel at -np 2: peak RSS per rank (/usr/bin/time %M around each rank)
#                      and the time to the first item (process start to the work's start:
#                      whole wall - pmap's wall), against a 10^7-item range
#
#   ./bench/sweeps.sh               both (~3 min on 2 vCPUs with RUNS=5)
#   ONLY=s2 ./bench/sweeps.sh       one of them
#
# The whole run holds /tmp/pmap-bench.lock (flock), as bench/ab.sh does, so that two benchmarks
# on this machine never measure each other; a second one waits for the first.
#
# Env knobs (defaults in brackets):
#   RUNS [5]                      repetitions (medians are reported; one warm-up run first)
#   BUILD [build]                 build tree with pmap (cmake --preset release)
#   RESULTS [bench/results/sweeps]  raw results and logs
#   N [10000000]                  items of S1 and rows of S2
#   LOAD_WAIT [0]                 seconds to wait for idle CPUs (<20% busy) before each part
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$PWD
if [ -z "${PMAP_BENCH_LOCKED:-}" ]; then
  echo "sweeps.sh: waiting for /tmp/pmap-bench.lock" >&2
  PMAP_BENCH_LOCKED=1 exec flock -o /tmp/pmap-bench.lock "$ROOT/bench/sweeps.sh" "$@"
fi

RUNS=${RUNS:-5}
BUILD=${BUILD:-build}
RESULTS=${RESULTS:-bench/results/sweeps}
N=${N:-10000000}
LOAD_WAIT=${LOAD_WAIT:-0}
ONLY=${ONLY:-s1 s2}
PY=${PY:-/usr/bin/python3}

mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
PMAP=$(cd "$BUILD" && pwd)/pmap
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
unset OMP_NUM_THREADS || true
for tool in mpirun /usr/bin/time "$PMAP" "$PY"; do
  command -v "$tool" >/dev/null || { echo "sweeps.sh: '$tool' not found" >&2; exit 2; }
done
cp "$PMAP" "$RESULTS/pmap"  # a frozen copy: a rebuild during the run must not change it
PMAP=$RESULTS/pmap
cd "$RESULTS"
. "$ROOT/bench/lib.sh"  # want, log, median, check_load
: >"$RESULTS/load.txt"
: >"$RESULTS/stderr.log"
{
  echo "date=$(date -u +%FT%TZ)"
  echo "cpus=$(nproc)"
  echo "pmap=$("$PMAP" --version), git $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo '+dirty')"
  echo "runs=$RUNS n=$N"
} >"$RESULTS/machine.txt"

# one TAG LOG ARGS...: one run at -np 2, each rank under /usr/bin/time; appends
# "TAG rc= whole_wall= rank_rss_kib=a,b <pmap-report fields>" to LOG.
one() {
  local tag=$1 logf=$2 tf=$RESULTS/rank.time out t0 t1 rc=0
  shift 2
  rm -f "$tf" out.h5
  sync
  t0=$EPOCHREALTIME
  out=$(mpirun -np 2 /usr/bin/time -a -o "$tf" -f "%M" "$PMAP" "$@" --force --progress none \
        --output out.h5 2>>"$RESULTS/stderr.log") || rc=$?
  t1=$EPOCHREALTIME
  local rep rss
  rep=$(grep '^pmap-report ' <<<"$out" | head -1 || true)
  rss=$(paste -sd, - <"$tf")
  echo "$tag rc=$rc whole_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.6f", b-a}') rank_rss_kib=$rss ${rep#pmap-report }" >>"$logf"
  [ "$rc" -eq 0 ] || echo "sweeps.sh: $tag exited $rc (see $RESULTS/stderr.log)" >&2
}

if want s1; then
  log "S1 grid vs range: $N items, spin seconds=0, mpirun -np 2"
  check_load s1
  : >s1.txt
  b=$((N / 10000))
  grid=(--kernel spin --arg seconds=0 --grid a=0:10000 --grid "b=0:$b")
  grid1=(--kernel spin --arg seconds=0 --grid "a=0:$N")
  range=(--kernel spin --arg seconds=0 --range "0:$N")
  one "kind=grid rep=0" s1.txt "${grid[@]}"
  one "kind=range rep=0" s1.txt "${range[@]}"
  for r in $(seq 1 "$RUNS"); do  # interleaved: drift in the machine's load hits all alike
    one "kind=grid rep=$r" s1.txt "${grid[@]}"
    one "kind=range rep=$r" s1.txt "${range[@]}"
    one "kind=grid1 rep=$r" s1.txt "${grid1[@]}"
  done
  check_load s1-after nowait
fi

if want s2; then
  log "S2 table of $N rows: memory per rank, time to the first item"
  if [ ! -s "table_$N.csv" ]; then
    awk -v n="$N" 'BEGIN{print "x,y,tag"; for (i = 0; i < n; i++) printf "%d,%.1f,t%d\n", i, i * 0.5, i % 97}' \
      >"table_$N.csv"
  fi
  echo "csv_bytes=$(stat -c %s "table_$N.csv")" >s2_file.txt
  check_load s2
  : >s2.txt
  table=(--kernel spin --arg seconds=0 --input "table_$N.csv")
  range=(--kernel spin --arg seconds=0 --range "0:$N")
  one "kind=table rep=0" s2.txt "${table[@]}"
  one "kind=range rep=0" s2.txt "${range[@]}"
  for r in $(seq 1 "$RUNS"); do
    one "kind=table rep=$r" s2.txt "${table[@]}"
    one "kind=range rep=$r" s2.txt "${range[@]}"
  done
  check_load s2-after nowait
fi
rm -f out.h5 rank.time
"$PY" "$ROOT/bench/sweeps_table.py" "$RESULTS"
