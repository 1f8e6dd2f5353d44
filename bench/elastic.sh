#!/usr/bin/env bash
# bench/elastic.sh — one workload three ways, as a busy cluster starts them: one 4-rank job, 4
# fixed array shards whose starts are staggered, 4 elastic tasks with the same stagger. Wall time
# from the first start to the merged file, each task's idle time (its wall minus the time its
# items ran), and the ledger's cost per claim. Then the claim cost alone (block of 1 row).
#
#   flock /tmp/pmap-bench.lock bench/elastic.sh            # RUNS=3 STAGGER=3 ITEMS=96 SLEEP=0.25
#
# Queue waits are modelled, not waited for in Slurm: task i starts i*STAGGER s after the first
# (a queue that gives one node now and one more every STAGGER s). The 4-rank job needs all four
# at once, so it starts when the last one is free (3*STAGGER), its best case. The kernel sleeps
# (compute_x, SLEEP s an item, 1 thread a task): the 2 cores of this machine are not the limit.
set -euo pipefail
cd "$(dirname "$0")/.."
PMAP="${PMAP:-build/pmap}"
RUNS="${RUNS:-3}" STAGGER="${STAGGER:-3}" ITEMS="${ITEMS:-96}" SLEEP="${SLEEP:-0.25}"
RESULTS="${RESULTS:-$(mktemp -d /tmp/pmap-bench-elastic.XXXXXX)}"
ONLY="${ONLY:-all}" LOAD_WAIT="${LOAD_WAIT:-60}"
source bench/lib.sh
. scripts/mpi_env.sh
pmap_mpi_env 4
export OMP_NUM_THREADS=1
args=(run --kernel compute_x --range "0:$ITEMS" --arg "sleep=$SLEEP" --threads 1 --progress none)
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b - a}'; }
busy_of() { sed -n 's/.*busy_seconds=\([0-9.]*\).*/\1/p' "$1" | head -n 1; }

one_job() {   # run -> wall to the file; idle per rank from the report
  local dir="$1" t0 t1
  t0=$(now)
  sleep "$(awk -v s="$STAGGER" 'BEGIN{print 3*s}')"
  mpirun -np 4 --bind-to none "$PMAP" "${args[@]}" --output "$dir/one.h5" >"$dir/one.log" 2>&1
  t1=$(now)
  local wall busy
  wall=$(sed -n 's/.* wall_seconds=\([0-9.]*\).*/\1/p' "$dir/one.log")
  busy=$(busy_of "$dir/one.log")
  echo "one_job wall_to_file=$(elapsed "$t0" "$t1") idle_per_task=$(awk -v w="$wall" -v b="$busy" 'BEGIN{printf "%.2f", w - b/4}') node_seconds=$(awk -v w="$wall" 'BEGIN{printf "%.1f", 4*w}')"
}

shards() {
  local dir="$1" t0 t1 i pids=() idle=0 held=0
  t0=$(now)
  for i in 0 1 2 3; do
    ( sleep "$(awk -v s="$STAGGER" -v i="$i" 'BEGIN{print i*s}')"
      ts=$(now)
      "$PMAP" "${args[@]}" --shard "$i/4" --output "$dir/shard-$i.h5" >"$dir/shard-$i.log" 2>&1
      echo "$(elapsed "$ts" "$(now)")" >"$dir/shard-$i.wall" ) &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i"; done
  "$PMAP" merge "$dir/merged-shards.h5" "$dir"/shard-?.h5 >/dev/null
  t1=$(now)
  for i in 0 1 2 3; do
    idle=$(awk -v a="$idle" -v w="$(cat "$dir/shard-$i.wall")" -v b="$(busy_of "$dir/shard-$i.log")" 'BEGIN{print a + w - b}')
    held=$(awk -v a="$held" -v w="$(cat "$dir/shard-$i.wall")" 'BEGIN{print a + w}')
  done
  echo "shards wall_to_file=$(elapsed "$t0" "$t1") idle_per_task=$(awk -v a="$idle" 'BEGIN{printf "%.2f", a/4}') node_seconds=$(awk -v h="$held" 'BEGIN{printf "%.1f", h}')"
}

elastic() {
  local dir="$1" t0 t1 i pids=() idle=0 claims=0 claim_s=0 held=0
  "$PMAP" submit --no-sbatch --jobs 4 --folder "$dir/job" -- "${args[@]}" >/dev/null
  t0=$(now)
  for i in 0 1 2 3; do
    ( sleep "$(awk -v s="$STAGGER" -v i="$i" 'BEGIN{print i*s}')"
      "$PMAP" "${args[@]}" --elastic "$dir/job" >"$dir/task-$i.log" 2>&1 ) &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i"; done
  "$PMAP" submit --finish "$dir/job" >/dev/null
  t1=$(now)
  for i in 0 1 2 3; do
    line=$(grep '^pmap-elastic' "$dir/task-$i.log")
    w=$(sed -n 's/.* wall=\([0-9.e-]*\).*/\1/p' <<<"$line")
    b=$(sed -n 's/.* busy=\([0-9.e-]*\).*/\1/p' <<<"$line")
    # busy includes each block's start and file: the items' own time is blocks x rows x SLEEP
    r=$(sed -n 's/.* rows=\([0-9]*\).*/\1/p' <<<"$line")
    idle=$(awk -v a="$idle" -v w="$w" -v r="$r" -v s="$SLEEP" 'BEGIN{print a + w - r*s}')
    held=$(awk -v a="$held" -v w="$w" 'BEGIN{print a + w}')
    claims=$((claims + $(sed -n 's/.* claims=\([0-9]*\).*/\1/p' <<<"$line")))
    claim_s=$(awk -v a="$claim_s" -v c="$(sed -n 's/.* claim_seconds=\([0-9.e-]*\).*/\1/p' <<<"$line")" 'BEGIN{print a + c}')
  done
  echo "elastic wall_to_file=$(elapsed "$t0" "$t1") idle_per_task=$(awk -v a="$idle" 'BEGIN{printf "%.2f", a/4}') claims=$claims claim_ms=$(awk -v c="$claim_s" -v n="$claims" 'BEGIN{printf "%.3f", 1000*c/n}') blocks=$(ls "$dir/job/blocks" | wc -l) node_seconds=$(awk -v h="$held" 'BEGIN{printf "%.1f", h}')"
}

claim_cost() {   # claims alone: 2,000 blocks of one item, no work
  local dir="$1"
  "$PMAP" submit --no-sbatch --jobs 1 --block-rows 1 --folder "$dir/claims" -- run --kernel spin \
    --range 0:2000 --arg seconds=0 --threads 1 --progress none >/dev/null
  "$PMAP" run --kernel spin --range 0:2000 --arg seconds=0 --threads 1 --progress none \
    --elastic "$dir/claims" >"$dir/claims.log" 2>&1
  grep '^pmap-elastic' "$dir/claims.log" | sed 's/.*\( claims=.*\) remaining.*/claim_cost tasks=1\1/'
  # The same under contention: 8 tasks at once on one folder.
  local i pids=() n=0 s=0
  "$PMAP" submit --no-sbatch --jobs 8 --block-rows 1 --folder "$dir/claims8" -- run --kernel spin \
    --range 0:2000 --arg seconds=0 --threads 1 --progress none >/dev/null
  for i in 0 1 2 3 4 5 6 7; do
    "$PMAP" run --kernel spin --range 0:2000 --arg seconds=0 --threads 1 --progress none \
      --elastic "$dir/claims8" >"$dir/claims8-$i.log" 2>&1 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i"; done
  for i in 0 1 2 3 4 5 6 7; do
    line=$(grep '^pmap-elastic' "$dir/claims8-$i.log")
    n=$((n + $(sed -n 's/.* claims=\([0-9]*\).*/\1/p' <<<"$line")))
    s=$(awk -v a="$s" -v c="$(sed -n 's/.* claim_seconds=\([0-9.e-]*\).*/\1/p' <<<"$line")" 'BEGIN{print a + c}')
  done
  echo "claim_cost tasks=8 claims=$n claim_ms=$(awk -v c="$s" -v n="$n" 'BEGIN{printf "%.3f", 1000*c/n}') blocks_done=$(ls "$dir/claims8/blocks" | grep -vc part)"
}

check_load elastic
for run in $(seq 1 "$RUNS"); do
  d="$RESULTS/run$run"
  mkdir -p "$d"
  one_job "$d" | tee -a "$RESULTS/results.txt"
  shards "$d" | tee -a "$RESULTS/results.txt"
  elastic "$d" | tee -a "$RESULTS/results.txt"
done
claim_cost "$RESULTS" | tee -a "$RESULTS/results.txt"
check_load elastic-after nowait
echo "results in $RESULTS/results.txt"
