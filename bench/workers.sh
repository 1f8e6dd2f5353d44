#!/usr/bin/env bash
# pmap's worker kernel (a Python function in long-lived worker processes) side by side with the
# Python tools people use for the same job, in one run on this machine.
#
#   ./bench/workers.sh                      all three sections (~3 min with RUNS=3 on 2 vCPUs)
#   ONLY="trivial cpu" ./bench/workers.sh   a subset (trivial, compute_x, cpu)
#   bench/workers_table.py bench/results-workers    re-print the tables from the raw results
#
# Sections (functions in bench/workers_fns.py, the same code for every system):
#   trivial    `return x * 2` over N_TRIVIAL items at 2 workers: pmap (one process --threads 2,
#              and mpirun -np 2) vs mpi4py.futures (chunked map), multiprocessing.Pool.map and
#              joblib loky
#   compute_x  the tutorial's compute_x (sleep 0.8 s) over 1..10 at 8 workers: pmap (one process
#              --threads 8, and mpirun -np 8) vs ThreadPoolExecutor and mpi4py.futures
#   cpu        W3, sum of square roots (~15-20 ms an item) over N_CPU items at 1 and 2 workers:
#              pmap --threads P vs multiprocessing.Pool
# Two times per run: "whole" is the whole process (launcher, interpreters, pool start, the map,
# the results file); "inner" is the work alone, with every worker already started: pmap's stage
# wall time (pmap-report wall_seconds: items streamed, answers written to the HDF5 file), the
# anchors' map() after a warm-up (results in a Python list). Medians of RUNS runs.
#
# Env knobs (defaults in brackets):
#   RUNS [3]  RESULTS [bench/results-workers]  PMAP [./build/pmap]  PY [/usr/bin/python3: Debian's,
#   with mpi4py and joblib]  N_TRIVIAL [1000000]  N_CPU [200]  LOAD_WAIT [0] (seconds to wait for
#   idle CPUs before each section)
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS=${RUNS:-3}
RESULTS=${RESULTS:-bench/results-workers}
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
PMAP=${PMAP:-./build/pmap}
PMAP=$(cd "$(dirname "$PMAP")" && pwd)/$(basename "$PMAP")
PY=${PY:-/usr/bin/python3}
N_TRIVIAL=${N_TRIVIAL:-1000000}
N_CPU=${N_CPU:-200}
LOAD_WAIT=${LOAD_WAIT:-0}
ONLY=${ONLY:-trivial compute_x cpu}

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
unset OMP_NUM_THREADS || true
# The workers import workers_fns from bench/ and pmap_worker from python/ (as documented).
export PYTHONPATH="$ROOT/bench:$ROOT/python${PYTHONPATH:+:$PYTHONPATH}"

for tool in mpirun "$PMAP" "$PY"; do
  command -v "$tool" >/dev/null || { echo "workers.sh: '$tool' not found (scripts/setup.sh --bench)" >&2; exit 2; }
done
"$PY" -c 'import mpi4py, joblib' 2>/dev/null || { echo "workers.sh: $PY lacks mpi4py/joblib (scripts/setup.sh --bench)" >&2; exit 2; }

. "$ROOT/bench/lib.sh"  # want, log, median, cpu_busy, check_load
cd "$RESULTS"
RAW=$RESULTS/runs.txt
: >"$RAW"
: >"$RESULTS/load.txt"
: >"$RESULTS/stderr.log"
{
  echo "date=$(date -u +%FT%TZ)"
  echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs"
  echo "python=$("$PY" --version 2>&1) ($PY), mpi4py $("$PY" -c 'import mpi4py; print(mpi4py.__version__)'), joblib $("$PY" -c 'import joblib; print(joblib.__version__)')"
  echo "openmpi=$(mpirun --version | head -1)"
  echo "pmap=$("$PMAP" --version), git $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo '+dirty')"
  echo "runs=$RUNS n_trivial=$N_TRIVIAL n_cpu=$N_CPU"
} >"$RESULTS/machine.txt"
cat "$RESULTS/machine.txt" >&2

# pmap_run SECTION SYSTEM P ITEMS CMD...: one timed pmap run; inner = its stage wall time.
pmap_run() {
  local section=$1 system=$2 p=$3 items=$4 t0 t1 out rc=0 inner
  shift 4
  t0=$EPOCHREALTIME
  out=$("$@" 2>>"$RESULTS/stderr.log") || rc=$?
  t1=$EPOCHREALTIME
  inner=$(grep -o 'wall_seconds=[0-9.]*' <<<"$out" | head -1 | cut -d= -f2)
  [ "$rc" -eq 0 ] && grep -q " ok=$items " <<<"$out" || { echo "workers.sh: $system failed (rc $rc)" >&2; rc=1; }
  echo "section=$section system=$system P=$p items=$items rc=$rc whole=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.6f", b-a}') inner=${inner:-nan}" >>"$RAW"
}

# anchor_run SECTION SYSTEM P ITEMS CMD...: one timed anchor run; inner = its map() time.
anchor_run() {
  local section=$1 system=$2 p=$3 items=$4 t0 t1 out rc=0 inner
  shift 4
  t0=$EPOCHREALTIME
  out=$("$@" 2>>"$RESULTS/stderr.log") || rc=$?
  t1=$EPOCHREALTIME
  inner=$(grep -o '"map_s": [0-9.]*' <<<"$out" | head -1 | awk '{print $2}')
  [ "$rc" -eq 0 ] || echo "workers.sh: $system failed (rc $rc)" >&2
  echo "section=$section system=$system P=$p items=$items rc=$rc whole=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.6f", b-a}') inner=${inner:-nan}" >>"$RAW"
}

# W=(pmap arguments): the worker kernel on a function of workers_fns, then more arguments.
worker() {
  local fn=$1
  shift
  W=(run --kernel worker --arg "cmd=$PY -m pmap_worker workers_fns:$fn" --progress none --force "$@")
}
A=("$PY" "$ROOT/bench/workers_anchors.py")

if want trivial; then
  log "trivial: x * 2 over $N_TRIVIAL items, 2 workers"
  check_load trivial
  N=$N_TRIVIAL
  for _ in $(seq "$RUNS"); do
    worker double --range "0:$N" --threads 2 --output t1.h5
    pmap_run trivial "pmap worker, one process --threads 2" 2 "$N" "$PMAP" "${W[@]}"
    worker double --range "0:$N" --threads 1 --output t2.h5
    pmap_run trivial "pmap worker, mpirun -np 2" 2 "$N" \
      mpirun -np 2 --bind-to none "$PMAP" "${W[@]}"
    anchor_run trivial "mpi4py.futures, chunksize n/4P, mpirun -np 3" 2 "$N" \
      mpirun -np 3 "$PY" -m mpi4py.futures "$ROOT/bench/workers_anchors.py" --system mpi_futures --task double --n "$N" --workers 2
    anchor_run trivial "multiprocessing.Pool.map" 2 "$N" "${A[@]}" --system mp_pool --task double --n "$N" --workers 2
    anchor_run trivial "joblib loky, batch_size auto" 2 "$N" "${A[@]}" --system joblib_loky --task double --n "$N" --workers 2
  done
  check_load trivial-after nowait
fi

if want compute_x; then
  log "compute_x: 10 items x sleep 0.8 s, 8 workers"
  check_load compute_x
  for _ in $(seq "$RUNS"); do
    worker compute_x --range 1:11 --threads 8 --arg columns=x,y --output c1.h5
    pmap_run compute_x "pmap worker, one process --threads 8" 8 10 "$PMAP" "${W[@]}"
    worker compute_x --range 1:11 --threads 1 --arg columns=x,y --output c2.h5
    pmap_run compute_x "pmap worker, mpirun -np 8" 8 10 \
      mpirun -np 8 --bind-to none "$PMAP" "${W[@]}"
    anchor_run compute_x "ThreadPoolExecutor" 8 10 "${A[@]}" --system tpe --task compute_x --n 10 --workers 8
    anchor_run compute_x "mpi4py.futures, mpirun -np 9" 8 10 \
      mpirun -np 9 "$PY" -m mpi4py.futures "$ROOT/bench/workers_anchors.py" --system mpi_futures --task compute_x --n 10 --workers 8
  done
  check_load compute_x-after nowait
fi

if want cpu; then
  log "cpu: W3 sum of square roots over $N_CPU items, 1 and 2 workers"
  check_load cpu
  for _ in $(seq "$RUNS"); do
    for P in 1 2; do
      worker sqrt_sum --range "0:$N_CPU" --threads "$P" --output w3.h5
      pmap_run cpu "pmap worker --threads P" "$P" "$N_CPU" "$PMAP" "${W[@]}"
      anchor_run cpu "multiprocessing.Pool.map" "$P" "$N_CPU" "${A[@]}" --system mp_pool --task sqrt_sum --n "$N_CPU" --workers "$P"
    done
  done
  check_load cpu-after nowait
fi

rm -f "$RESULTS"/*.h5
"$PY" "$ROOT/bench/workers_table.py" "$RESULTS" | tee "$RESULTS/tables.md"
