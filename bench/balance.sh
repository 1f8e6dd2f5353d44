#!/usr/bin/env bash
# Load balance on a family of workload shapes (issue 13): the skew kernel's profiles x pmap's
# schedules x layouts, as the ratio of wall time to the bound, next to OpenMP's own
# schedule(dynamic,1) and schedule(guided) in one process (bench/balance_omp.cpp, the same item
# costs) and GNU parallel (one process per item) where items are long enough for it.
#
#   ./bench/balance.sh                     everything (~30 min on 2 vCPUs with RUNS=3)
#   ONLY="schedules" ./bench/balance.sh    a part: schedules (every schedule at MEAN_ALL),
#                                          default (the default schedule at every mean in MEANS),
#                                          mandelbrot (issue 13's case: the whole 1024 x 2048
#                                          image, max_iter 2000, mpirun -np 2 x 1 thread, every
#                                          schedule and dynamic --chunk 1; MANDEL_RUNS runs each)
#   ./bench/balance_table.py bench/results/balance   re-print the tables from the raw runs
#
# bound = max(sum of item seconds / workers, longest item), from the run's own /compute/seconds;
# ratio = wall / bound, wall = the stage's wall_seconds from the pmap-report line (the OpenMP
# program reports the same figures; for GNU parallel, wall is the whole command's).
#
# Env knobs (defaults in brackets):
#   RUNS [3]              repetitions of every configuration (the tables give medians)
#   MANDEL_RUNS [5]       repetitions of every mandelbrot configuration
#   WORK [1.5]            bound in seconds a run aims at (items = WORK x 2 / mean)
#   PROFILES [all nine]   uniform increasing decreasing peak tail head bimodal pareto random
#   LAYOUTS ["proc 1x2 2x1"]  proc: one process, 2 threads (no mpirun); 1x2: mpirun -np 1
#                         --bind-to none, 2 threads; 2x1: mpirun -np 2, 1 thread a rank
#   MEAN_ALL [0.005]      mean item seconds of the every-schedule part
#   MEANS ["0.0002 0.005 0.05"]  mean item seconds of the default-schedule part
#   PARALLEL_MIN [0.02]   GNU parallel runs where the mean item is at least this (its per-job
#                         cost is a few ms)
#   PMAP [./build/pmap]   OMP [./build/bench/pmap_balance_omp]   PY [/usr/bin/python3]
#   PMAP_BEFORE [unset]   another pmap binary (an older build with the skew kernel): the default
#                         part runs it too, right after the same configuration ("pmap-before")
#   ANCHORS [1]           0: no OpenMP and GNU parallel runs
#   RESULTS [bench/results/balance]   LOAD_WAIT [0]  seconds to wait for idle CPUs first
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
WORK=${WORK:-1.5}
PROFILES=${PROFILES:-uniform increasing decreasing peak tail head bimodal pareto random}
LAYOUTS=${LAYOUTS:-proc 1x2 2x1}
MEAN_ALL=${MEAN_ALL:-0.005}
MEANS=${MEANS:-0.0002 0.005 0.05}
PARALLEL_MIN=${PARALLEL_MIN:-0.02}
PMAP=${PMAP:-./build/pmap}
OMP=${OMP:-./build/bench/pmap_balance_omp}
PY=${PY:-/usr/bin/python3}
RESULTS=${RESULTS:-bench/results/balance}
LOAD_WAIT=${LOAD_WAIT:-0}
MANDEL_RUNS=${MANDEL_RUNS:-5}
ONLY=${ONLY:-schedules default mandelbrot}
PMAP_BEFORE=${PMAP_BEFORE:-}
ANCHORS=${ANCHORS:-1}
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
source bench/lib.sh

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
unset OMP_NUM_THREADS || true
for tool in mpirun "$PMAP" "$OMP" "$PY"; do
  command -v "$tool" >/dev/null || { echo "balance.sh: '$tool' not found (cmake --build --preset release --target pmap pmap_balance_omp)" >&2; exit 2; }
done
"$PY" -c 'import h5py' 2>/dev/null || { echo "balance.sh: $PY lacks h5py (scripts/setup.sh --bench)" >&2; exit 2; }
RAW=$RESULTS/runs.tsv
[ -s "$RAW" ] || printf 'system\tlayout\tschedule\tprofile\tmean\tn\trun\twall\tbusy\tlongest\tworkers\tratio\n' >"$RAW"
H5=$RESULTS/run.h5

items_for() { awk -v w="$WORK" -v m="$1" 'BEGIN { n = int(w * 2 / m + 0.5); print (n < 20 ? 20 : n) }'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }
record() {  # SYSTEM LAYOUT SCHEDULE PROFILE MEAN N RUN WALL BUSY LONGEST WORKERS
  local ratio
  ratio=$(awk -v w="$8" -v b="$9" -v l="${10}" -v k="${11}" \
    'BEGIN { d = b / k; if (l > d) d = l; printf "%.4f", w / d }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" "$ratio" >>"$RAW"
  echo "  $1 $2 $3 $4 mean=$5 n=$6 run=$7: wall $8 s, ratio $ratio" >&2
}

pmap_run() {  # LAYOUT SCHEDULE PROFILE MEAN N RUN [BINARY SYSTEM]
  local layout=$1 schedule=$2 profile=$3 mean=$4 n=$5 run=$6 bin=${7:-$PMAP} system=${8:-pmap}
  local line longest
  local job=(run --kernel skew --arg "profile=$profile" --arg "mean=$mean" --arg "n=$n"
             --range "0:$n" --schedule "$schedule" --output "$H5" --force --progress none)
  case $layout in
    proc) line=$("$bin" "${job[@]}" --threads 2 | grep '^pmap-report') ;;
    1x2) line=$(mpirun -np 1 --bind-to none "$bin" "${job[@]}" --threads 2 | grep '^pmap-report') ;;
    2x1) line=$(mpirun -np 2 "$bin" "${job[@]}" --threads 1 | grep '^pmap-report') ;;
    *) echo "balance.sh: unknown layout $layout" >&2; exit 2 ;;
  esac
  longest=$("$PY" -c 'import h5py, sys; print(float(h5py.File(sys.argv[1], "r")["compute/seconds"][()].max()))' "$H5")
  record "$system" "$layout" "$schedule" "$profile" "$mean" "$n" "$run" "$(field wall_seconds "$line")" \
    "$(field busy_seconds "$line")" "$longest" "$(field workers "$line")"
}

omp_run() {  # SCHEDULE PROFILE MEAN N RUN
  local line
  line=$("$OMP" --profile "$2" --mean "$3" --n "$4" --schedule "$1" --chunk 1 --threads 2)
  record openmp proc "$1,1" "$2" "$3" "$4" "$5" "$(field wall_seconds "$line")" \
    "$(field busy_seconds "$line")" "$(field max_item_seconds "$line")" 2
}

parallel_run() {  # PROFILE MEAN N RUN: GNU parallel -j2, one process per item
  local t0 t1 out
  t0=$(date +%s.%N)
  out=$(seq 0 $(($3 - 1)) | parallel -j2 "$OMP" --profile "$1" --mean "$2" --n "$3" --item '{}')
  t1=$(date +%s.%N)
  record parallel proc "-j2" "$1" "$2" "$3" "$4" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.6f", b - a}')" \
    "$(awk -F'[= ]' '{s += $4} END {printf "%.6f", s}' <<<"$out")" \
    "$(awk -F'[= ]' '$4 > m {m = $4} END {printf "%.6f", m}' <<<"$out")" 2
}

anchors() {  # PROFILE MEAN N RUN
  [ "$ANCHORS" = 1 ] || return 0
  omp_run dynamic "$1" "$2" "$3" "$4"
  omp_run guided "$1" "$2" "$3" "$4"
  if awk -v m="$2" -v p="$PARALLEL_MIN" 'BEGIN { exit !(m >= p) }'; then
    parallel_run "$1" "$2" "$3" "$4"
  fi
}

if want schedules; then
  check_load "balance-schedules"
  n=$(items_for "$MEAN_ALL")
  for profile in $PROFILES; do
    for run in $(seq 1 "$RUNS"); do
      for layout in $LAYOUTS; do
        for s in static cyclic dynamic guided; do pmap_run "$layout" "$s" "$profile" "$MEAN_ALL" "$n" "$run"; done
      done
      anchors "$profile" "$MEAN_ALL" "$n" "$run"
    done
  done
  check_load "balance-schedules-after" nowait
fi

if want default; then
  check_load "balance-default"
  for mean in $MEANS; do
    done_above=0
    [ "$mean" = "$MEAN_ALL" ] && want schedules && done_above=1
    [ "$done_above" = 1 ] && [ -z "$PMAP_BEFORE" ] && continue
    n=$(items_for "$mean")
    for profile in $PROFILES; do
      for run in $(seq 1 "$RUNS"); do
        for layout in $LAYOUTS; do
          [ "$done_above" = 1 ] || pmap_run "$layout" dynamic "$profile" "$mean" "$n" "$run"
          [ -z "$PMAP_BEFORE" ] || pmap_run "$layout" dynamic "$profile" "$mean" "$n" "$run" "$PMAP_BEFORE" pmap-before
        done
        [ "$done_above" = 1 ] || anchors "$profile" "$mean" "$n" "$run"
      done
    done
  done
  check_load "balance-default-after" nowait
fi
if want mandelbrot; then
  # Issue 13's case: the image static splits evenly by symmetry, where the default used to lose
  # 14% to static. Wall, load imbalance and remote claims from the pmap-report line; the bound
  # from the run's own item seconds, as above.
  check_load "balance-mandelbrot"
  MRAW=$RESULTS/mandelbrot.tsv
  [ -s "$MRAW" ] ||
    printf 'schedule\tchunk\trun\twall\tbusy\tlongest\tworkers\tratio\tload_imbalance\tremote_claims\n' >"$MRAW"
  for run in $(seq 1 "$MANDEL_RUNS"); do
    for sc in static cyclic dynamic:auto dynamic:1 guided; do
      s=${sc%%:*} c=auto
      [ "$s" = "$sc" ] || c=${sc#*:}
      chunk=()
      [ "$c" = auto ] || chunk=(--chunk "$c")
      line=$(mpirun -np 2 "$PMAP" run --kernel mandelbrot --arg width=1024 --arg height=2048 \
        --arg max_iter=2000 --range 0:2048 --threads 1 --schedule "$s" "${chunk[@]}" \
        --output "$H5" --force --progress none | grep '^pmap-report')
      longest=$("$PY" -c 'import h5py, sys; print(float(h5py.File(sys.argv[1], "r")["compute/seconds"][()].max()))' "$H5")
      wall=$(field wall_seconds "$line") busy=$(field busy_seconds "$line") workers=$(field workers "$line")
      ratio=$(awk -v w="$wall" -v b="$busy" -v l="$longest" -v k="$workers" \
        'BEGIN { d = b / k; if (l > d) d = l; printf "%.4f", w / d }')
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$c" "$run" "$wall" "$busy" "$longest" \
        "$workers" "$ratio" "$(field load_imbalance "$line")" "$(field remote_claims "$line")" >>"$MRAW"
      echo "  mandelbrot $s chunk=$c run=$run: wall $wall s, ratio $ratio, imbalance" \
        "$(field load_imbalance "$line"), remote claims $(field remote_claims "$line")" >&2
    done
  done
  check_load "balance-mandelbrot-after" nowait
fi
rm -f "$H5"
"$PY" bench/balance_table.py "$RESULTS"
