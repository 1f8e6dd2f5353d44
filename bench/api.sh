#!/usr/bin/env bash
# pmap for your own work, side by side with the anchors (/work/shared/bench):
#
#   B1 exec kernel    2000 x `true`, P = 2: pmap exec (mpirun -np 2 x 1 thread; 1 rank x 2 and
#                     x 4 threads) vs GNU parallel -j2, xargs -P2 and mpi4py.futures (2 workers);
#                     whole command timed by hyperfine -> tasks/s
#   B2 per item       N trivial items: the C++ API (pmap::map, results collected on every rank or
#                     only in the file) vs the CLI (spin --arg seconds=0): in-process time / N
#   B3 W3 cpu-bound   200 items of sum(sqrt(i*x)) for i < 200,000 with the C++ API (strict order,
#                     bit-identical to Python; simd partial sums) and a C plugin run by the CLI,
#                     at 1 and 2 workers, vs Numba prange (steady state) and ProcessPoolExecutor
#
#   ./bench/api.sh                  everything (~5 min on 2 vCPUs with RUNS=5)
#   ONLY="b1 b3" ./bench/api.sh     a subset
#
# Env knobs (defaults in brackets):
#   RUNS [5]               repetitions (medians are reported)
#   BUILD [build]          build tree with pmap, tests/pmap_example_sqrt_sum and
#                          tests/plugins/libpmap_sample_kernels.so (cmake --preset release)
#   RESULTS [bench/results/api]  raw results and logs
#   PY [/usr/bin/python3]  Debian python with mpi4py and numba
#   ANCHORS [/work/shared/bench]  the anchor scripts (w3_cpu.py)
#   NPAR [2000]            B1 tasks
#   N_ITEMS [1000000]      B2 items
#   LOAD_WAIT [0]          seconds to wait for idle CPUs (<20% busy) before each benchmark
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
BUILD=${BUILD:-build}
RESULTS=${RESULTS:-bench/results/api}
PY=${PY:-/usr/bin/python3}
ANCHORS=${ANCHORS:-/work/shared/bench}
NPAR=${NPAR:-2000}
N_ITEMS=${N_ITEMS:-1000000}
LOAD_WAIT=${LOAD_WAIT:-0}
ONLY=${ONLY:-b1 b2 b3}

mkdir -p "$RESULTS/tmp"
RESULTS=$(cd "$RESULTS" && pwd)
BUILD=$(cd "$BUILD" && pwd)
PMAP=$BUILD/pmap
SQRT=$BUILD/tests/pmap_example_sqrt_sum
PLUGIN=$BUILD/tests/plugins/libpmap_sample_kernels.so
TMP=$RESULTS/tmp

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
unset OMP_NUM_THREADS || true
MPIRUN="mpirun --bind-to none"

for tool in hyperfine mpirun parallel xargs "$PMAP" "$SQRT" "$PLUGIN" "$PY"; do
  [ -e "$tool" ] || command -v "$tool" >/dev/null || {
    echo "api.sh: '$tool' not found (build with: cmake --preset release && cmake --build --preset release)" >&2
    exit 2
  }
done

. bench/lib.sh  # want, log, median, cpu_busy, check_load

# Median of the hyperfine runs of command number $2 in $1 (JSON), in seconds.
hf_median() { "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][int(sys.argv[2])]['median'])" "$1" "$2"; }

# --- B1: the exec kernel as a process launcher --------------------------------------------------
if want b1; then
  check_load b1
  log "B1: $NPAR x true, P=2"
  cat > "$TMP/futures_true.py" <<EOF
import subprocess
from mpi4py.futures import MPIPoolExecutor
def run(_):
    return subprocess.run(["true"]).returncode
if __name__ == "__main__":
    with MPIPoolExecutor() as ex:
        assert sum(ex.map(run, range($NPAR), chunksize=1)) == 0
EOF
  out="--output $TMP/exec.h5 --force --progress none"
  hyperfine --warmup 1 --runs "$RUNS" --export-json "$RESULTS/b1.json" \
    -n "pmap exec, mpirun -np 2 x 1 thread" \
       "$MPIRUN -np 2 $PMAP run --kernel exec --arg cmd=true --range 0:$NPAR --threads 1 $out" \
    -n "pmap exec, 1 rank x 2 threads" \
       "$PMAP run --kernel exec --arg cmd=true --range 0:$NPAR --threads 2 $out" \
    -n "pmap exec, 1 rank x 4 threads" \
       "$PMAP run --kernel exec --arg cmd=true --range 0:$NPAR --threads 4 $out" \
    -n "GNU parallel -j2" "parallel --will-cite -j2 true ::: \$(seq $NPAR)" \
    -n "xargs -P2 -n1 (process-spawn floor)" "seq $NPAR | xargs -P2 -n1 true" \
    -n "mpi4py.futures, mpirun -np 3 (2 workers), chunksize 1" \
       "$MPIRUN -np 3 $PY -m mpi4py.futures $TMP/futures_true.py" \
    > "$RESULTS/b1.log" 2>&1
  {
    echo "| B1: $NPAR x \`true\`, 2 workers | median wall [s] | tasks/s |"
    echo "|---|---:|---:|"
    "$PY" - "$RESULTS/b1.json" "$NPAR" <<'EOF'
import json, sys
n = int(sys.argv[2])
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"| {r['command']} | {r['median']:.3f} | {n / r['median']:,.0f} |")
EOF
  } | tee "$RESULTS/b1.md"
fi

# --- B2: per-item overhead, C++ API vs CLI ------------------------------------------------------
if want b2; then
  check_load b2
  log "B2: $N_ITEMS trivial items, in-process"
  : > "$RESULTS/b2.txt"
  # b2_row LABEL cli|api COMMAND...: RUNS runs; records the median run_compute wall time (the
  # CLI's wall_seconds, the API's report.wall_seconds) and, for the API, the whole map() call.
  b2_row() {
    local label=$1 kind=$2; shift 2
    local times=() wholes=() out t w m wm=-
    for _ in $(seq "$RUNS"); do
      out=$("$@")
      if [ "$kind" = cli ]; then
        t=$(echo "$out" | grep -o 'wall_seconds=[0-9.]*' | head -1 | cut -d= -f2)
        w=0
      else
        t=$(echo "$out" | grep -o 'run_wall_seconds=[0-9.]*' | cut -d= -f2)
        w=$(echo "$out" | grep -o 'map_seconds_median=[0-9.]*' | cut -d= -f2)
      fi
      times+=("$t")
      wholes+=("$w")
    done
    m=$(printf '%s\n' "${times[@]}" | median)
    [ "$kind" = cli ] || wm=$(printf '%s\n' "${wholes[@]}" | median)
    echo "$label|$m|$wm" | tee -a "$RESULTS/b2.txt" >&2
  }
  cli() { echo "$PMAP run --kernel spin --arg seconds=0 --range 0:$N_ITEMS --output $TMP/b2.h5 --force --progress none $*"; }
  api() { echo "$SQRT --items $N_ITEMS --terms 0 --repeat 1 $*"; }
  for layout in "1x1" "1x2" "2x1"; do
    r=${layout%x*}; t=${layout#*x}
    pre=""; [ "$r" -gt 1 ] && pre="$MPIRUN -np $r"
    # shellcheck disable=SC2046
    b2_row "CLI (spin seconds=0) $layout" cli $pre $(cli --threads "$t")
    # shellcheck disable=SC2046
    b2_row "C++ API, results only in the file $layout" api $pre $(api --threads "$t" --collect none)
    # shellcheck disable=SC2046
    b2_row "C++ API, results on every rank $layout" api $pre $(api --threads "$t" --collect every)
  done
  {
    echo "| B2: $N_ITEMS trivial items (ranks x threads) | run wall [s] | per item [us] | whole map() call [s] |"
    echo "|---|---:|---:|---:|"
    while IFS='|' read -r label secs whole; do
      awk -v l="$label" -v s="$secs" -v w="$whole" -v n="$N_ITEMS" \
        'BEGIN{printf "| %s | %.3f | %.3f | %s |\n", l, s, s / n * 1e6, (w == "-" ? "-" : sprintf("%.3f", w))}'
    done < "$RESULTS/b2.txt"
  } | tee "$RESULTS/b2.md"
fi

# --- B3: W3, the CPU-bound function -------------------------------------------------------------
if want b3; then
  check_load b3
  log "B3: W3 200 x sum(sqrt(i*x)), i < 200000"
  : > "$RESULTS/b3.txt"
  for kernel in strict simd; do
    for layout in "1x1" "1x2" "2x1"; do
      r=${layout%x*}; t=${layout#*x}
      pre=""; [ "$r" -gt 1 ] && pre="$MPIRUN -np $r"
      # One process, RUNS maps: the median map time (steady state, as Numba's run time).
      line=$($pre "$SQRT" --threads "$t" --kernel "$kernel" --repeat "$RUNS" | grep '^sqrt_sum')
      echo "$line" >> "$RESULTS/b3.log"
      m=$(echo "$line" | grep -o 'map_seconds_median=[0-9.]*' | cut -d= -f2)
      echo "pmap::map, $kernel kernel, in-process|$layout|$m" | tee -a "$RESULTS/b3.txt" >&2
    done
  done
  # The C plugin through the CLI (strict order, as compiled by the C compiler at -O3).
  for layout in "1x1" "1x2" "2x1"; do
    r=${layout%x*}; t=${layout#*x}
    pre=""; [ "$r" -gt 1 ] && pre="$MPIRUN -np $r"
    times=()
    for _ in $(seq "$RUNS"); do
      times+=("$($pre "$PMAP" run --plugin "$PLUGIN" --kernel sqrt_sum --range 1:201 \
                 --threads "$t" --output "$TMP/b3.h5" --force --progress none \
               | grep -o 'wall_seconds=[0-9.]*' | head -1 | cut -d= -f2)")
    done
    echo "pmap run --plugin (C, strict), in-process|$layout|$(printf '%s\n' "${times[@]}" | median)" \
      | tee -a "$RESULTS/b3.txt" >&2
  done
  # Whole process (MPI start-up included), hyperfine.
  hyperfine --warmup 1 --runs "$RUNS" --export-json "$RESULTS/b3_whole.json" \
    -n "pmap::map simd, whole process, 1x1" "$SQRT --threads 1" \
    -n "pmap::map simd, whole process, 1x2" "$SQRT --threads 2" \
    -n "pmap::map strict, whole process, 1x1" "$SQRT --threads 1 --kernel strict" \
    -n "pmap::map strict, whole process, 1x2" "$SQRT --threads 2 --kernel strict" \
    -n "ProcessPoolExecutor, whole process, P=1" "$PY $ANCHORS/w3_cpu.py --system ppe --workers 1" \
    -n "ProcessPoolExecutor, whole process, P=2" "$PY $ANCHORS/w3_cpu.py --system ppe --workers 2" \
    > "$RESULTS/b3_whole.log" 2>&1
  for i in 0 1 2 3 4 5; do
    name=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][$i]['command'])" "$RESULTS/b3_whole.json")
    echo "${name%, *}|${name##*, }|$(hf_median "$RESULTS/b3_whole.json" $i)" | tee -a "$RESULTS/b3.txt" >&2
  done
  # Numba's steady state (compile excluded), as the anchors measured it.
  for P in 1 2; do
    runs=()
    for _ in $(seq "$RUNS"); do
      runs+=("$("$PY" "$ANCHORS/w3_cpu.py" --system numba --workers "$P" --report 2>&1 \
                | grep -o 'run median [0-9.]*' | awk '{print $3}')")
    done
    echo "Numba prange, steady state (compile excluded)|P=$P|$(printf '%s\n' "${runs[@]}" | median)" \
      | tee -a "$RESULTS/b3.txt" >&2
  done
  {
    echo "| B3: W3 (200 x sum(sqrt(i*x)), i < 200,000) | workers (ranks x threads) | median [s] |"
    echo "|---|---|---:|"
    while IFS='|' read -r label layout secs; do
      printf '| %s | %s | %.4f |\n' "$label" "$layout" "$secs"
    done < "$RESULTS/b3.txt"
  } | tee "$RESULTS/b3.md"
fi
rm -f "$TMP"/*.h5
