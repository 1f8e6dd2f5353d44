#!/usr/bin/env bash
# Strong and weak scaling of a pmap command over layouts (MPI ranks x OpenMP threads), with
# repetitions: a CSV of every run, a markdown table and PNG plots (scripts/scaling_report.py).
#
#   scripts/scaling.sh [options] [--] [run] PMAP_RUN_ARGS...
#
#   scripts/scaling.sh --layouts "1x1 2x1 1x2" -- run --kernel spin --range 0:200 --arg seconds=0.01
#   scripts/scaling.sh --layouts auto --max-workers 8 -- run --kernel compute_x --range 0:400 --arg sleep=0.01
#   sbatch slurm/scaling.sbatch ...        (the same inside a Slurm allocation, with srun)
#
# Options
#   -l, --layouts "RxT ..."  ranks x threads per run (spaces or commas), or "auto": pure MPI,
#                            pure OpenMP and hybrid layouts at every power of two up to
#                            --max-workers (default: "auto")
#   -w, --max-workers N      for auto: default the CPUs (the allocation's inside Slurm, else
#                            nproc) for CPU-bound kernels; for sleep-based ones the allocation's
#                            CPUs inside Slurm, else 4 x nproc
#   -r, --reps N             repetitions of every layout and study (default 3; the table shows
#                            medians); runs are interleaved (rep 1 of every layout, then rep 2...)
#   -s, --study strong|weak|both   strong: the command's work at every layout; weak: the
#                            command's --range is the work of the smallest layout, and grows
#                            with the worker count (default both)
#   -k, --kind auto|cpu|sleep      cpu: CPU-bound kernels (spin, pi, mandelbrot) never get more
#                            workers than CPUs (the run is refused); sleep: compute_x measures
#                            concurrency, not CPU throughput (default auto: from --kernel)
#   --launcher auto|mpirun|srun    auto: srun inside a Slurm allocation, else mpirun
#   --pmap PATH              the binary (default: PMAP_BIN, else build/pmap of this repository)
#   -o, --out DIR            output folder (default ./scaling-<kernel>-<date>)
#   --title TEXT             heading of the table and plots
#   --keep-h5                keep every run's results file (default: deleted once read)
#   --no-warmup              skip the untimed first run (it warms the page cache and MPI)
#   --allow-oversubscribe    let CPU-bound layouts exceed the CPUs (the table says so)
#
# pmap's own --threads, --output and --force are set per run; do not pass them. Each run's
# figures come from its `pmap-report` line: wall_seconds (the compute stage, without MPI
# start-up, which is in launch_seconds), busy/write seconds, load imbalance, items/s, checksum.
#
# Outputs in DIR: runs.csv (every run), table.md, speedup.png, efficiency.png, breakdown.png,
# study.txt (machine, command, settings), logs/ (every run's output). Exit 0 when every run
# succeeded, 1 when some failed (still reported), 2 on bad usage. SIGINT/SIGTERM/SIGUSR1 stop the
# study after the current run is checkpointed, and the report covers what ran.
set -euo pipefail

prog="scaling.sh"
root="$(cd "$(dirname "$0")/.." && pwd)"
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }
die() { echo "$prog: error: $*" >&2; exit 2; }
say() { echo "$prog: $*" >&2; }

layouts_spec="auto" max_workers="" reps=3 study=both kind=auto launcher=auto
pmap_bin="${PMAP_BIN:-$root/build/pmap}" out="" title="" keep_h5=0 warmup=1 oversub=0
while [ $# -gt 0 ]; do
  case "$1" in
    -l|--layouts) layouts_spec="${2:?}"; shift 2 ;;
    -w|--max-workers) max_workers="${2:?}"; shift 2 ;;
    -r|--reps) reps="${2:?}"; shift 2 ;;
    -s|--study) study="${2:?}"; shift 2 ;;
    -k|--kind) kind="${2:?}"; shift 2 ;;
    --launcher) launcher="${2:?}"; shift 2 ;;
    --pmap) pmap_bin="${2:?}"; shift 2 ;;
    -o|--out) out="${2:?}"; shift 2 ;;
    --title) title="${2:?}"; shift 2 ;;
    --keep-h5) keep_h5=1; shift ;;
    --no-warmup) warmup=0; shift ;;
    --allow-oversubscribe) oversub=1; shift ;;
    -h|--help) usage 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1 (pmap's own options go after --)" ;;
    *) break ;;
  esac
done
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || die "--reps $reps: not a positive integer"
case "$study" in strong|weak|both) ;; *) die "--study $study: strong, weak or both" ;; esac
case "$kind" in auto|cpu|sleep) ;; *) die "--kind $kind: auto, cpu or sleep" ;; esac
[ -x "$pmap_bin" ] || die "$pmap_bin: no pmap binary (build it, or pass --pmap / PMAP_BIN)"

# ---- the pmap command ------------------------------------------------------------------------
args=("$@")
[ "${args[0]:-}" = run ] && args=("${args[@]:1}")
[ ${#args[@]} -gt 0 ] || args=(--kernel spin --range 0:200 --arg seconds=0.01)
kernel=compute_x range_at=-1
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    -k|--kernel) kernel="${args[i + 1]:-}" ;;
    --kernel=*) kernel="${args[i]#--kernel=}" ;;
    -r|--range) range_at=$((i + 1)) ;;
    --range=*) range_at=$i ;;
    -t|--threads|--threads=*|-o|--output|--output=*|-f|--force|--resume|--shard|--shard=*)
      die "scaling.sh sets ${args[i]%%=*} itself for every run: drop it" ;;
  esac
done
if [ "$kind" = auto ]; then
  case "$kernel" in compute_x) kind="sleep" ;; *) kind="cpu" ;; esac
fi
range_text=""
if [ "$range_at" -ge 0 ]; then
  range_text="${args[range_at]#--range=}"
fi
if [ "$study" != strong ]; then
  [ -n "$range_text" ] || die "weak scaling grows --range with the workers: give the command a --range (or --study strong)"
  [[ "$range_text" =~ ^(-?[0-9]+):(-?[0-9]+)(:(-?[0-9]+))?$ ]] ||
    die "--range $range_text: weak scaling needs integer START:STOP[:STEP]"
  r_start="${BASH_REMATCH[1]}" r_stop="${BASH_REMATCH[2]}" r_step="${BASH_REMATCH[4]:-1}"
  [ "$r_step" -ne 0 ] || die "--range step 0"
  if [ "$r_step" -gt 0 ]; then
    r_count=$(( r_stop > r_start ? (r_stop - r_start + r_step - 1) / r_step : 0 ))
  else
    r_count=$(( r_start > r_stop ? (r_start - r_stop - r_step - 1) / (-r_step) : 0 ))
  fi
  [ "$r_count" -gt 0 ] || die "--range $range_text is empty"
fi

# ---- where we run: launcher and CPUs -----------------------------------------------------------
in_slurm=0
[ -n "${SLURM_JOB_ID:-}" ] && in_slurm=1
if [ "$launcher" = auto ]; then
  if [ "$in_slurm" = 1 ]; then launcher=srun; else launcher=mpirun; fi
fi
case "$launcher" in mpirun|srun) ;; *) die "--launcher $launcher: auto, mpirun or srun" ;; esac
[ "$launcher" = srun ] && [ "$in_slurm" = 0 ] && die "--launcher srun needs a Slurm allocation (salloc or sbatch slurm/scaling.sbatch)"
host_cpus="$(nproc)"
if [ "$in_slurm" = 1 ]; then
  alloc_cpus=$(( ${SLURM_NTASKS:-1} * ${SLURM_CPUS_PER_TASK:-1} ))
  node_cpus="${SLURM_CPUS_ON_NODE:-$alloc_cpus}"
  nodes="${SLURM_JOB_NUM_NODES:-1}"
else
  alloc_cpus="$host_cpus" node_cpus="$host_cpus" nodes=1
fi
cpus="$alloc_cpus"   # what CPU-bound layouts may use
if [ "$nodes" = 1 ] && [ "$cpus" -gt "$host_cpus" ]; then
  [ "$kind" = cpu ] &&
    say "note: Slurm gave $cpus CPUs but this node runs $host_cpus at a time (nproc): CPU-bound layouts are limited to $host_cpus workers"
  cpus="$host_cpus"
fi
if [ -z "$max_workers" ]; then
  if [ "$kind" = cpu ]; then
    max_workers="$cpus"
  elif [ "$in_slurm" = 1 ]; then
    max_workers="$alloc_cpus"
  else
    max_workers=$((4 * host_cpus))   # sleep-based: concurrency beyond the cores, on purpose
  fi
fi
[[ "$max_workers" =~ ^[1-9][0-9]*$ ]] || die "--max-workers $max_workers: not a positive integer"

# ---- layouts -------------------------------------------------------------------------------------
layouts=()
if [ "$layouts_spec" = auto ]; then
  for ((w = 1; w <= max_workers; w *= 2)); do
    for ((r = w; r >= 1; r /= 2)); do
      t=$((w / r))
      # A rank's threads stay on its node (srun -c cannot exceed a node; CPU-bound never should).
      if [ "$t" -gt "$node_cpus" ] && { [ "$launcher" = srun ] || [ "$kind" = cpu ]; }; then continue; fi
      layouts+=("${r}x${t}")
    done
  done
else
  for l in ${layouts_spec//,/ }; do
    [[ "$l" =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]] || die "layout '$l': use RANKSxTHREADS, e.g. 2x4"
    layouts+=("$l")
  done
fi
[ ${#layouts[@]} -gt 0 ] || die "no layouts"
base_workers=""
for l in "${layouts[@]}"; do
  w=$(( ${l%x*} * ${l#*x} ))
  if [ "$kind" = cpu ] && [ "$w" -gt "$cpus" ] && [ "$oversub" = 0 ]; then
    die "layout $l has $w workers but only $cpus CPUs: a CPU-bound study beyond the CPUs measures the OS scheduler, not pmap (use a sleep-based kernel, e.g. --kernel compute_x, or --allow-oversubscribe)"
  fi
  if [ -z "$base_workers" ] || [ "$w" -lt "$base_workers" ]; then base_workers=$w; fi
done

out="${out:-$PWD/scaling-$kernel-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out/logs" "$out/h5"
out="$(cd "$out" && pwd)"
csv="$out/runs.csv"

# ---- launching one run -----------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMP_PROC_BIND="${OMP_PROC_BIND:-false}"   # ranks are unbound (--bind-to none): don't pin
launch_prefix() {   # ranks threads -> the launcher's words, in the array `prefix`
  local r="$1" t="$2"
  case "$launcher" in
    mpirun)
      prefix=(mpirun -np "$r" --bind-to none -x OMP_PROC_BIND)
      local slots="${SLURM_NTASKS:-$host_cpus}"
      [ "$in_slurm" = 1 ] || slots="$host_cpus"
      if [ "$r" -gt "$slots" ]; then prefix+=(--oversubscribe); fi ;;
    srun)
      prefix=(srun --mpi="${PMAP_MPI:-pmix}" --ntasks="$r" --cpus-per-task="$t")
      [ "$kind" = sleep ] && prefix+=(--overcommit) ;;
  esac
}

weak_args() {   # workers -> args with --range scaled to workers / base_workers
  local w="$1" count stop
  count=$(( (r_count * w + base_workers / 2) / base_workers ))
  stop=$(( r_start + count * r_step ))
  wargs=("${args[@]}")
  if [[ "${wargs[range_at]}" == --range=* ]]; then
    wargs[range_at]="--range=$r_start:$stop:$r_step"
  else
    wargs[range_at]="$r_start:$stop:$r_step"
  fi
}

current_pid=""
stopping=0
interrupted=0
on_signal() {
  stopping=1
  interrupted=1
  say "got SIG$1: stopping after the current run"
  [ -n "$current_pid" ] && kill -USR1 "$current_pid" 2>/dev/null || true
}
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal USR1' USR1

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

failures=0
run_one() {   # study layout rep [record]
  local st="$1" layout="$2" rep="$3" record="${4:-1}"
  local r="${layout%x*}" t="${layout#*x}" w
  w=$((r * t))
  local run_args=("${args[@]}")
  if [ "$st" = weak ]; then weak_args "$w"; run_args=("${wargs[@]}"); fi
  local tag="$st-$layout-$rep"
  [ "$record" = 1 ] || tag="warmup"
  local h5="$out/h5/$tag.h5" log="$out/logs/$tag.log"
  launch_prefix "$r" "$t"
  local cmd=("${prefix[@]}" "$pmap_bin" run "${run_args[@]}" --threads "$t" --output "$h5" --force
             --progress none)
  printf '%s\n' "${cmd[*]}" >"$log"
  local t0 t1 rc=0
  t0="$(date +%s.%N)"
  "${cmd[@]}" >>"$log" 2>&1 &
  current_pid=$!
  wait "$current_pid" || rc=$?
  while [ "$interrupted" = 1 ]; do interrupted=0; rc=0; wait "$current_pid" || rc=$?; done
  current_pid=""
  t1="$(date +%s.%N)"
  local line
  line="$(grep '^pmap-report ' "$log" | tail -n 1 || true)"
  [ "$keep_h5" = 1 ] || rm -f "$h5"
  if [ "$record" != 1 ]; then return 0; fi
  local got_r got_t
  got_r="$(field ranks "$line")" got_t="$(field threads "$line")"
  if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
    failures=$((failures + 1))
    say "run $tag failed (exit $rc); see $log"
  elif [ "$got_r" != "$r" ] || [ "$got_t" != "$t" ]; then
    failures=$((failures + 1))
    say "run $tag ran as ${got_r}x${got_t}, not $layout; see $log"
    rc=wrong-layout  # not an exit code: pmap's own codes (3: the run failed) stay unambiguous
  fi
  local launch
  launch="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
  local v=()
  for k in items ok wall_seconds items_per_second busy_seconds parallel_efficiency \
           load_imbalance write_seconds remote_claims max_rss_mib checksum; do
    v+=("$(field "$k" "$line")")
  done
  local IFS=,
  echo "$st,$kind,$launcher,$layout,$r,$t,$w,$rep,$rc,${v[*]},$launch" >>"$csv"
  unset IFS
  say "$(printf '%-6s %-6s rep %d: wall %ss (launch %ss), %s items/s, exit %s' \
        "$st" "$layout" "$rep" "$(field wall_seconds "$line")" "$launch" \
        "$(field items_per_second "$line")" "$rc")"
}

# How many CPUs the machine really delivers (shared nodes, VMs with noisy neighbours): one busy
# process per CPU burns 0.5 s of CPU time; capacity = CPUs x 0.5 s / the slowest one's wall time.
cpu_capacity() {
  local py=/usr/bin/python3
  [ -x "$py" ] || py="$(command -v python3 || true)"
  [ -n "$py" ] || { echo ""; return; }
  "$py" - "$host_cpus" <<'PY' 2>/dev/null || echo ""
import multiprocessing as mp, sys, time
def burn(_):
    t0, c0 = time.perf_counter(), time.process_time()
    while time.process_time() - c0 < 0.5:
        pass
    return time.perf_counter() - t0
n = int(sys.argv[1])
with mp.Pool(n) as pool:
    walls = pool.map(burn, range(n))
print(f"{n * 0.5 / max(walls):.2f}")
PY
}

studies=()
case "$study" in both) studies=(strong weak) ;; *) studies=("$study") ;; esac
echo "study,kind,launcher,layout,ranks,threads,workers,rep,exit_code,items,ok,wall_seconds,items_per_second,busy_seconds,parallel_efficiency,load_imbalance,write_seconds,remote_claims,max_rss_mib,checksum,launch_seconds" >"$csv"
{
  echo "title=${title:-pmap $kernel scaling}"
  echo "command=pmap run ${args[*]}"
  echo "kernel=$kernel"
  echo "kind=$kind"
  echo "launcher=$launcher"
  echo "host=$(hostname -s)"
  echo "host_cpus=$host_cpus"
  echo "cpus=$cpus"
  echo "alloc_cpus=$alloc_cpus"
  echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
  echo "nice=$(nice)"
  echo "cpu_capacity_start=$(cpu_capacity)"
  echo "nodes=$nodes"
  echo "slurm_job=${SLURM_JOB_ID:-}"
  echo "reps=$reps"
  echo "layouts=${layouts[*]}"
  echo "base_workers=$base_workers"
  echo "pmap_version=$("$pmap_bin" --version 2>/dev/null | head -n 1)"
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null)"
} >"$out/study.txt"

say "$kind-bound study of pmap run ${args[*]}"
say "layouts ${layouts[*]}; ${studies[*]}; $reps reps; launcher $launcher; $alloc_cpus CPUs ($host_cpus on this host); into $out"
if [ "$warmup" = 1 ]; then run_one "${studies[0]}" "${layouts[0]}" 0 0; fi
for ((rep = 1; rep <= reps && stopping == 0; rep++)); do
  for st in "${studies[@]}"; do
    for layout in "${layouts[@]}"; do
      [ "$stopping" = 0 ] || break
      run_one "$st" "$layout" "$rep"
    done
  done
done
trap - INT TERM USR1
{
  echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
  echo "cpu_capacity_end=$(cpu_capacity)"
} >>"$out/study.txt"
[ "$keep_h5" = 1 ] || rmdir "$out/h5" 2>/dev/null || true

py=/usr/bin/python3
[ -x "$py" ] || py="$(command -v python3)"
"$py" "$root/scripts/scaling_report.py" "$out"
say "wrote $out/runs.csv, $out/table.md and the plots in $out"
[ "$failures" -eq 0 ] || { say "$failures runs failed"; exit 1; }
