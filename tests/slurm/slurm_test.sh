#!/usr/bin/env bash
# The job scripts in slurm/ against a real (single-node, throwaway) Slurm cluster, and the
# scaling scripts. ctest runs one case per test (tests/slurm/CMakeLists.txt):
#
#   slurm_test.sh start | stop        the fixture: scripts/slurm_cluster.sh in a temp folder
#   slurm_test.sh scripts             static checks of slurm/*.sbatch (no cluster)
#   slurm_test.sh pmap srun|mpirun    pmap.sbatch, 8 ranks, pi: HDF5 equal to a local run
#   slurm_test.sh default             pmap.sbatch without arguments: the default job
#   slurm_test.sh hybrid srun|mpirun  hybrid.sbatch, 2 ranks x 4 threads from -c
#   slurm_test.sh signal srun|mpirun  scancel --batch --signal=USR1 mid-run: exit 75, checkpoint
#   slurm_test.sh requeue             USR1 -> 75 -> scontrol requeue -> --resume -> identical file
#   slurm_test.sh launcher-term       SIGTERM to mpirun in the job: exit 1, but the file says
#                                     interrupted -> 75 -> requeue -> --resume -> identical file
#   slurm_test.sh array-urls          a URL list sharded by a job array, merged = one run
#   slurm_test.sh array               job array with --shard, then pmap merge in a dependent job
#   slurm_test.sh elastic-stagger     pmap submit: 4 elastic tasks, at most 2 at once (--max-running):
#                                     the finishing job's merged file equals one run
#   slurm_test.sh elastic-cancel      a task killed mid-block (kill -9): the next task takes
#                                     its block over and keeps the rows it wrote
#   slurm_test.sh elastic-walltime    the wall-time warning (USR1 to the batch shell): the task
#                                     gives its block back (exit 75), the next one resumes it
#   slurm_test.sh elastic-resubmit    every task killed: the finishing job resubmits tasks for the
#                                     blocks left, and the second finishing job merges
#   slurm_test.sh elastic-urls        pmap submit -- urls: host blocks, merged = one run
#   slurm_test.sh scaling-sbatch      scaling.sbatch: CSV, table and plots from srun steps
#   slurm_test.sh scaling-local       scripts/scaling.sh with mpirun, no cluster
#
# Environment: PMAP_BIN (the binary under test, default build/pmap), PMAP_SLURM_STATE (where the
# fixture records its cluster and the cases keep their work folders). Exit 0 pass, 1 fail, 77
# skip (no cluster possible here, or a pmap feature the case needs is missing).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
state="${PMAP_SLURM_STATE:-${TMPDIR:-/tmp}/pmap-slurm-tests}"
pmap="${PMAP_BIN:-$root/build/pmap}"
py=/usr/bin/python3
case_name="${1:?usage: slurm_test.sh CASE [ARG]}"
arg="${2:-}"
work="$state/work/$case_name${arg:+-$arg}"
jobs=()
submitted=""
jid=""
cluster=""

log() { echo "slurm_test[$case_name${arg:+ $arg}]: $*"; }
skip() { log "SKIP: $*"; exit 77; }
fail() { log "FAIL: $*"; exit 1; }
h5check() { "$py" "$here/h5check.py" "$@"; }

# ---- the cluster ---------------------------------------------------------------------------
use_cluster() {
  [ -s "$state/cluster.dir" ] ||
    skip "no Slurm cluster: the slurm.cluster.start fixture did not start one (see its output for why)"
  cluster="$(cat "$state/cluster.dir")"
  export SLURM_CONF="$cluster/etc/slurm.conf"
  "$root/scripts/slurm_cluster.sh" status "$cluster" >/dev/null ||
    fail "the cluster in $cluster is not running (see $cluster/log)"
  rm -rf "$work"
  mkdir -p "$work/jobs"
  export PMAP_JOBS_ROOT="$work/jobs" PMAP_BIN="$pmap"
  unset PMAP_LAUNCHER PMAP_REQUEUE PMAP_JOB_DIR OMP_NUM_THREADS OMP_PLACES OMP_PROC_BIND \
        SLURM_JOB_ID SLURM_NTASKS SLURM_CPUS_PER_TASK
  trap on_exit EXIT
}

on_exit() {
  local rc=$?
  local j
  for j in "${jobs[@]}"; do
    scancel "$j" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
    log "---- diagnostics"
    for j in "${jobs[@]}"; do scontrol -o show job "$j" 2>/dev/null | head -n 5 || true; done
    local f
    for f in "$work"/*.out "$work"/jobs/*/attempts*.log "$work"/jobs/*/command*; do
      [ -f "$f" ] || continue
      echo "---- $f"; tail -n 40 "$f"
    done
    for f in "$cluster"/log/slurmctld.log "$cluster"/log/slurmd.log; do
      [ -f "$f" ] || continue
      echo "---- $f (last 15 lines)"; tail -n 15 "$f"
    done
  fi
  exit "$rc"
}

# submit [sbatch options] SCRIPT [args]: sets `submitted` to the job id (and remembers it, to
# cancel it whatever happens); the job's log goes to $work.
submit() {
  local out
  out="$(cd "$work" && sbatch --parsable -o "$work/%x-%j.out" "$@")" || fail "sbatch $* failed"
  submitted="${out%%;*}"
  jobs+=("$submitted")
}

# field JOBID NAME: one field of `scontrol show job` (first record).
field() {
  scontrol -o show job "$1" 2>/dev/null | head -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

terminal() {
  case "$1" in
    COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED) return 0 ;;
  esac
  return 1
}

# wait_job JOBID SECONDS: until every record of the job (all array tasks) is in a final state.
wait_job() {
  local jid="$1" limit="$2" start states s all
  start=$SECONDS
  while :; do
    states="$(scontrol -o show job "$jid" 2>/dev/null | tr ' ' '\n' | sed -n 's/^JobState=//p')"
    all=1
    [ -n "$states" ] || all=0
    for s in $states; do terminal "$s" || all=0; done
    [ "$all" = 1 ] && return 0
    [ $((SECONDS - start)) -lt "$limit" ] || fail "job $jid not done after ${limit}s (states: ${states:-none})"
    sleep 0.3
  done
}

expect_job() {   # JOBID STATE EXITCODE
  local st ec
  st="$(field "$1" JobState)" ec="$(field "$1" ExitCode)"
  [ "$st" = "$2" ] && [ "$ec" = "$3" ] || fail "job $1 ended $st with exit code $ec, expected $2 $3"
  log "job $1: $st, exit code $ec"
}

# wait_progress LOGFILE SECONDS: until pmap's log shows items done (its signal handlers are in).
wait_progress() {
  local f="$1" limit="$2" start=$SECONDS
  until grep -qE '^compute +[0-9]+%.* [1-9][0-9]*/[0-9]+ ' "$f" 2>/dev/null; do
    [ $((SECONDS - start)) -lt "$limit" ] || fail "no progress in $f after ${limit}s"
    sleep 0.2
  done
}

wait_array() {   # JID SECONDS: waits for every task of array job JID; each must end COMPLETED 0:0
  wait_job "$1" "$2"
  local rec st ec
  while read -r rec; do
    st="$(tr ' ' '\n' <<<"$rec" | sed -n 's/^JobState=//p')"
    ec="$(tr ' ' '\n' <<<"$rec" | sed -n 's/^ExitCode=//p')"
    [ "$st" = COMPLETED ] && [ "$ec" = 0:0 ] || fail "an array task ended $st $ec: $rec"
  done < <(scontrol -o show job "$1")
}
array_and_merge() {   # PMAP ARGS...: array.sbatch as 3 shards x 2 ranks, then its merge job
  local jid mid
  submit --array=0-2 -n 2 "$root/slurm/array.sbatch" "$@"
  jid="$submitted"
  submit --dependency="afterok:$jid" -n 1 -o "$work/merge-%j.out" "$root/slurm/array.sbatch" merge "$jid"
  mid="$submitted"
  log "submitted array job $jid ($1: 3 shards x 2 ranks) and merge job $mid (afterok)"
  wait_array "$jid" 120
  wait_job "$mid" 60
  expect_job "$mid" COMPLETED 0:0
  array_dir="$work/jobs/pmap-array-$jid"   # the shards and merged.h5
}
reference() {   # OUTPUT pmap run args...: the same run in one process, no Slurm
  local out="$1" a keep=() drop=0; shift
  for a in "$@"; do   # its own --progress
    if [ "$drop" = 1 ]; then drop=0; continue; fi
    if [ "$a" = --progress ]; then drop=1; continue; fi
    keep+=("$a")
  done
  "$pmap" run "${keep[@]}" --threads 4 --output "$out" --force --progress none >"$out.log" 2>&1 ||
    fail "reference run failed: $(cat "$out.log")"
}

need_resume() {
  "$pmap" run --help 2>&1 | grep -q -- '--resume' ||
    skip "pmap run has no --resume yet ($pmap run --help): the requeue/resume test waits for it"
}

need_shards() {
  "$pmap" run --help 2>&1 | grep -q -- '--shard' ||
    skip "pmap run has no --shard yet ($pmap run --help): the array + merge test waits for it"
  "$pmap" --help 2>&1 | grep -qE '^ +merge( |$)' ||
    skip "pmap has no merge subcommand yet ($pmap --help): the array + merge test waits for it"
}

check_launcher() {
  case "$1" in srun|mpirun) ;; *) fail "launcher '$1': srun or mpirun" ;; esac
}

# ---- the cases -----------------------------------------------------------------------------
case_start() {
  mkdir -p "$state"
  if [ -s "$state/cluster.dir" ]; then
    log "a cluster from an earlier run is still recorded: stopping it"
    "$root/scripts/slurm_cluster.sh" stop "$(cat "$state/cluster.dir")" || true
    rm -f "$state/cluster.dir"
  fi
  local dir rc=0
  dir="$(mktemp -d "${TMPDIR:-/tmp}/pmap-slurm.XXXXXX")"
  # --ttl: should ctest itself be killed before the cleanup fixture, nothing outlives 20 minutes.
  "$root/scripts/slurm_cluster.sh" start "$dir" --cpus 8 --ttl 1200 >"$state/cluster.env" || rc=$?
  if [ "$rc" -ne 0 ]; then
    [ "$rc" -eq 77 ] && rm -rf "$dir"
    exit "$rc"
  fi
  echo "$dir" >"$state/cluster.dir"
  SLURM_CONF="$dir/etc/slurm.conf" sinfo
}

case_stop() {
  if [ ! -s "$state/cluster.dir" ]; then
    log "no cluster recorded: nothing to stop"
    return 0
  fi
  local dir
  dir="$(cat "$state/cluster.dir")"
  "$root/scripts/slurm_cluster.sh" stop "$dir"
  rm -f "$state/cluster.dir" "$state/cluster.env"
}

case_scripts() {   # static checks: every script parses, keeps the conventions, shares common.sh
  local common="$root/slurm/common.sh" s f out rc
  bash -n "$common" || fail "$common does not parse"
  local shared
  shared="$(sed -n 's/^\([a-z_]*\)() {.*/\1/p' "$common")"
  [ -n "$shared" ] || fail "no functions found in $common"
  for s in "$root"/slurm/*.sbatch; do
    bash -n "$s" || fail "$s does not parse"
    grep -q '^set -euo pipefail$' "$s" || fail "$s lacks set -euo pipefail"
    grep -q '^#SBATCH --signal=B:USR1@120$' "$s" || fail "$s lacks #SBATCH --signal=B:USR1@120"
    [ "$(sed -n 2p "$s" | cut -c1-2)" = "# " ] || fail "$s does not start with its comment block"
    grep -q '^source "$slurm_dir/common.sh"$' "$s" || fail "$s does not source slurm/common.sh"
    for f in $shared; do   # the shared steps live in common.sh only, never copied back
      ! grep -q "^ *$f() " "$s" || fail "$s defines $f(), which slurm/common.sh already has"
    done
    # Outside a job each script finds common.sh and refuses instead of running on a login node.
    rc=0
    out="$(env -u SLURM_JOB_ID bash "$s" run 2>&1)" || rc=$?
    [ "$rc" -eq 2 ] && grep -q "not inside a Slurm job" <<<"$out" ||
      fail "$(basename "$s") outside Slurm: exit $rc, '$out'"
  done
  # A copy elsewhere (Slurm runs one from its spool folder) finds common.sh through
  # PMAP_SLURM_DIR, and without it says what is missing.
  local copy
  copy="$(mktemp -d)"
  cp "$root/slurm/pmap.sbatch" "$copy/"
  rc=0
  out="$(env -u SLURM_JOB_ID PMAP_SLURM_DIR="$root/slurm" bash "$copy/pmap.sbatch" 2>&1)" || rc=$?
  [ "$rc" -eq 2 ] && grep -q "not inside a Slurm job" <<<"$out" ||
    fail "a copy with PMAP_SLURM_DIR: exit $rc, '$out'"
  rc=0
  out="$(cd "$copy" && env -u SLURM_JOB_ID -u PMAP_SLURM_DIR bash "$copy/pmap.sbatch" 2>&1)" || rc=$?
  rm -rf "$copy"
  [ "$rc" -eq 2 ] && grep -q "slurm/common.sh not found" <<<"$out" ||
    fail "a copy without common.sh: exit $rc, '$out'"
  log "slurm/*.sbatch: parse, conventions, source slurm/common.sh (no copied steps), refuse outside Slurm"
}

case_pmap() {
  local launcher="$1"; check_launcher "$launcher"; use_cluster
  local args=(run --kernel pi --range 0:200 --arg samples=20000 --progress log)
  reference "$work/ref.h5" "${args[@]:1}"
  local jid
  PMAP_LAUNCHER="$launcher" submit "$root/slurm/pmap.sbatch" "${args[@]}"
  jid="$submitted"
  log "submitted pmap.sbatch (defaults: 8 tasks x 1 CPU) as job $jid, launcher $launcher"
  wait_job "$jid" 120
  expect_job "$jid" COMPLETED 0:0
  local dir="$work/jobs/pmap-$jid" out="$work/pmap-$jid.out"
  [ "$(cat "$dir/exit_code")" = 0 ] || fail "exit_code file says $(cat "$dir/exit_code")"
  case "$launcher" in
    srun) grep -q "command: srun --mpi=pmix --ntasks=8 --cpus-per-task=1 " "$out" ||
            fail "srun was not called with --mpi=pmix --ntasks=8 --cpus-per-task=1" ;;
    mpirun) grep -q "command: mpirun -np 8 " "$out" || fail "mpirun was not called with -np 8" ;;
  esac
  grep -q '^pmap-report .* ranks=8 threads=1 workers=8 ' "$out" || fail "no pmap-report line for 8 x 1"
  h5check complete "$dir/pmap.h5" --ranks 8 --threads 1
  h5check same "$work/ref.h5" "$dir/pmap.h5"
}

case_default() {   # `sbatch slurm/pmap.sbatch` with no arguments, from the source tree
  use_cluster
  submit --chdir="$root" "$root/slurm/pmap.sbatch"
  local jid="$submitted"
  log "submitted pmap.sbatch without arguments (the default job) as job $jid"
  wait_job "$jid" 120
  expect_job "$jid" COMPLETED 0:0
  local urls
  urls="$(grep -cvE '^[[:space:]]*(#|$)' "$root/data/urls.txt")"
  h5check default "$work/jobs/pmap-$jid/pmap.h5" "$urls"
}

case_hybrid() {
  local launcher="$1"; check_launcher "$launcher"; use_cluster
  local args=(run --kernel compute_x --range 0:48 --arg sleep=0.05 --progress log)
  reference "$work/ref.h5" "${args[@]:1}"
  local jid
  PMAP_LAUNCHER="$launcher" submit -N 1 --ntasks-per-node=2 -c 4 "$root/slurm/hybrid.sbatch" "${args[@]}"
  jid="$submitted"
  log "submitted hybrid.sbatch -N 1 --ntasks-per-node=2 -c 4 as job $jid, launcher $launcher"
  wait_job "$jid" 120
  expect_job "$jid" COMPLETED 0:0
  local dir="$work/jobs/pmap-hybrid-$jid" out="$work/pmap-hybrid-$jid.out"
  grep -q '^pmap-report .* ranks=2 threads=4 workers=8 ' "$out" || fail "no pmap-report line for 2 x 4"
  case "$launcher" in
    srun) grep -q "command: srun --mpi=pmix --ntasks=2 --cpus-per-task=4 " "$out" ||
            fail "srun was not called with --ntasks=2 --cpus-per-task=4" ;;
    mpirun) grep -q "command: mpirun -np 2 --bind-to none " "$out" ||
              fail "mpirun was not called with -np 2 --bind-to none" ;;
  esac
  # task/none confines no task to its CPUs, so the script must not pin threads.
  grep -q "OMP_PROC_BIND=false" "$out" || fail "OMP_PROC_BIND should be false under task/none"
  [ "$(h5check attr "$dir/pmap.h5" threads_source)" = OMP_NUM_THREADS ] ||
    fail "threads did not come from OMP_NUM_THREADS (SLURM_CPUS_PER_TASK)"
  h5check complete "$dir/pmap.h5" --ranks 2 --threads 4
  h5check same "$work/ref.h5" "$dir/pmap.h5"
}

# Submits a run long enough to interrupt, waits until pmap computes, sends the wall-time signal
# the way Slurm does (to the batch shell only). Sets jid.
submit_and_signal() {
  submit "$@"
  jid="$submitted"
  log "submitted job $jid; waiting for pmap to compute, then scancel --batch --signal=USR1"
  wait_progress "$work/pmap-$jid.out" 60
  sleep 0.3
  scancel --batch --signal=USR1 "$jid" || fail "scancel --batch --signal=USR1 $jid failed"
}

case_signal() {
  local launcher="$1"; check_launcher "$launcher"; use_cluster
  PMAP_LAUNCHER="$launcher" submit_and_signal -n 4 "$root/slurm/pmap.sbatch" \
    run --kernel compute_x --range 0:80 --arg sleep=0.2 --progress log
  wait_job "$jid" 90
  local st
  st="$(field "$jid" JobState)"
  [ "$st" != COMPLETED ] || fail "job $jid completed before the signal took effect"
  expect_job "$jid" FAILED 75:0
  local dir="$work/jobs/pmap-$jid" out="$work/pmap-$jid.out"
  grep -q "got SIGUSR1" "$out" || fail "the batch script did not see SIGUSR1"
  [ "$(cat "$dir/exit_code")" = 75 ] || fail "exit_code file says $(cat "$dir/exit_code"), expected 75"
  grep -q "finish it with: sbatch slurm/pmap.sbatch .* --resume" "$out" || fail "no resume hint"
  h5check partial "$dir/pmap.h5"
}

# Waits until job $jid requeued itself, releases it, and waits for its second attempt to end
# COMPLETED 0:0.
requeue_and_finish() {
  # Slurm holds a requeued batch job for ~2 minutes (BeginTime); release it at once.
  local start=$SECONDS restarts st
  while :; do
    restarts="$(field "$jid" Restarts)" st="$(field "$jid" JobState)"
    [ "${restarts:-0}" -ge 1 ] && [ "$st" = PENDING ] && break
    terminal "$st" && fail "job $jid ended $st (exit $(field "$jid" ExitCode)) instead of requeueing"
    [ $((SECONDS - start)) -lt 60 ] || fail "job $jid was not requeued within 60s (state $st)"
    sleep 0.3
  done
  # Not at once: slurmd refuses to relaunch a job whose credential it revoked in the same second
  # ("Job credential revoked"), which is why Slurm holds requeued jobs in the first place.
  sleep 2
  log "job $jid requeued (Restarts=$restarts); releasing it now instead of in ~2 minutes"
  scontrol update JobId="$jid" StartTime=now
  wait_job "$jid" 120
  expect_job "$jid" COMPLETED 0:0
  [ "$(field "$jid" Restarts)" = 1 ] || fail "expected exactly one requeue"
}

# After requeue_and_finish of pmap.sbatch over compute_x 0:80 with LAUNCHER: attempt 1 stopped
# (exit 75), attempt 2 resumed and ran only the rest, the file is complete and equals ref.h5.
check_resumed() {   # LAUNCHER
  local dir="$work/jobs/pmap-$jid" out="$work/pmap-$jid.out"
  [ "$(grep -c '' "$dir/attempts.log")" = 2 ] || fail "expected 2 attempts: $(cat "$dir/attempts.log")"
  grep -q '^attempt=1 .* exit=75 ' "$dir/attempts.log" || fail "attempt 1 did not exit 75"
  grep -q '^attempt=2 .* exit=0 ' "$dir/attempts.log" || fail "attempt 2 did not exit 0"
  grep -q "command: $1 .* --resume$" "$out" || fail "attempt 2 did not run with --resume"
  # Attempt 2 ran only what attempt 1 had not finished. Attempt 1's pmap-report line is missing
  # when mpirun was killed (it stops relaying output): then attempt 2 must have run some, not all.
  local reports second ran done_before
  reports="$(grep -c '^pmap-report ' "$out")"
  second="$(grep '^pmap-report ' "$out" | tail -n 1)"
  grep -q " resumed=1 " <<<"$second" || fail "attempt 2 did not resume: $second"
  ran="$(sed -n 's/.* ran=\([0-9]*\) .*/\1/p' <<<"$second")"
  if [ "$reports" = 2 ]; then
    done_before="$(grep '^pmap-report ' "$out" | head -n 1 | sed -n 's/.* ok=\([0-9]*\) .*/\1/p')"
    [ "$ran" = $((80 - done_before)) ] ||
      fail "attempt 2 should run the $((80 - done_before)) items left: $second"
  else
    [ "${ran:-0}" -gt 0 ] && [ "$ran" -lt 80 ] || fail "attempt 2 should run some items, not all: $second"
    done_before=$((80 - ran))
  fi
  log "attempt 1 finished $done_before items, attempt 2 ran the other $ran"
  h5check complete "$dir/pmap.h5" --ranks 4 --threads 1
  h5check same "$work/ref.h5" "$dir/pmap.h5"
}

case_requeue() {   # the wall-time warning: USR1 -> 75 -> scontrol requeue -> --resume
  need_resume
  use_cluster
  local args=(run --kernel compute_x --range 0:80 --arg sleep=0.2 --progress log)
  reference "$work/ref.h5" "${args[@]:1}"
  PMAP_LAUNCHER=srun PMAP_REQUEUE=1 submit_and_signal -n 4 "$root/slurm/pmap.sbatch" "${args[@]}"
  requeue_and_finish
  check_resumed srun
}

# SIGTERM to mpirun itself inside the job (kill, a watchdog, a node agent): the ranks checkpoint
# but mpirun exits 1. The script reads the file (stop_reason=signal, via pmap inspect), exits 75
# and requeues; the next attempt --resumes to a complete file.
case_launcher_term() {
  need_resume
  use_cluster
  local args=(run --kernel compute_x --range 0:80 --arg sleep=0.2 --progress log)
  reference "$work/ref.h5" "${args[@]:1}"
  PMAP_LAUNCHER=mpirun PMAP_REQUEUE=1 submit -n 4 "$root/slurm/pmap.sbatch" "${args[@]}"
  jid="$submitted"
  log "submitted job $jid; waiting for pmap to compute, then SIGTERM to its mpirun"
  wait_progress "$work/pmap-$jid.out" 60
  local pid="" p
  for p in $(scontrol listpids "$jid" 2>/dev/null | awk 'NR > 1 { print $1 }'); do
    [ "$(ps -o comm= -p "$p" 2>/dev/null)" = mpirun ] && pid="$p"
  done
  [ -n "$pid" ] || fail "no mpirun among the processes of job $jid: $(scontrol listpids "$jid" 2>&1)"
  kill -TERM "$pid"
  requeue_and_finish
  local dir="$work/jobs/pmap-$jid"
  grep -q '^attempt=1 .* exit=75 launcher_exit=1 ' "$dir/attempts.log" ||
    fail "attempt 1: expected mpirun's exit 1 read as 75 from the file: $(cat "$dir/attempts.log")"
  grep -q "the launcher exited 1, but .* says the run stopped early" "$work/pmap-$jid.out" ||
    fail "the script did not say why it exits 75"
  check_resumed mpirun
}

case_array() {
  need_shards
  use_cluster
  local args=(run --kernel pi --range 0:90 --arg samples=20000 --progress log)
  reference "$work/ref.h5" "${args[@]:1}"
  array_and_merge "${args[@]}"
  local dir="$array_dir" i
  for i in 0 1 2; do
    [ -f "$dir/shard-000$i-of-0003.h5" ] || fail "missing shard $i: $(ls "$dir")"
    [ "$(cat "$dir/exit_code-$i")" = 0 ] || fail "shard $i exit $(cat "$dir/exit_code-$i")"
  done
  h5check complete "$dir/merged.h5"
  h5check same "$work/ref.h5" "$dir/merged.h5"
  # pmap merge refuses an incomplete set (one shard missing).
  local rc=0
  "$pmap" merge "$work/incomplete.h5" "$dir/shard-0000-of-0003.h5" "$dir/shard-0001-of-0003.h5" \
    >"$work/incomplete.log" 2>&1 || rc=$?
  [ "$rc" -ne 0 ] || fail "pmap merge accepted 2 of 3 shards"
  log "pmap merge with a shard missing: exit $rc ($(head -n 1 "$work/incomplete.log"))"
}

# ---- elastic jobs (pmap submit) ---------------------------------------------------------------
# elastic_submit ARGS...: pmap submit ARGS; sets folder, array_jid, finish_jid (both cancelled at
# exit whatever happens).
elastic_submit() {
  local out
  out="$(cd "$work" && "$pmap" submit "$@" 2>&1)" || fail "pmap submit $* failed: $out"
  echo "$out" >"$work/submit.log"
  echo "$out"
  folder="$(sed -n 's/^pmap submit: job folder //p' <<<"$out" | head -n 1)"
  array_jid="$(sed -n 's/^pmap submit: [0-9]* elastic tasks: array job //p' <<<"$out" | head -n 1)"
  finish_jid="$(sed -n 's/^pmap submit: finishing job \([0-9]*\).*/\1/p' <<<"$out" | head -n 1)"
  [ -d "$folder" ] && [ -n "$array_jid" ] && [ -n "$finish_jid" ] || fail "pmap submit printed: $out"
  jobs+=("$array_jid" "$finish_jid")
}

# kill_claimers: kill -9 the pmap processes holding claims in $folder (their pid is in the claim:
# what a node failure or the OOM killer does; scancel would let them give their blocks back).
kill_claimers() {
  local f pid
  for f in "$folder"/ledger/claims/*.*; do
    pid="$(sed -n 's/^pid=//p' "$f")"
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && log "kill -9 of pmap $pid (claim $(basename "$f"))"
  done
  return 0
}

# wait_log FILE PATTERN SECONDS
wait_log() {
  local start=$SECONDS
  until grep -qE "$2" "$1" 2>/dev/null; do
    [ $((SECONDS - start)) -lt "$3" ] || fail "no '$2' in $1 after ${3}s: $(cat "$1" 2>/dev/null)"
    sleep 0.2
  done
}

elastic_check_merged() {   # REFERENCE
  local merged="$folder/merged.h5"
  [ -f "$merged" ] || fail "no merged file in $folder: $(ls "$folder"; cat "$folder"/finish-*.out)"
  h5check complete "$merged"
  h5check same "$1" "$merged"
  log "merged file equals one run: checksum $(h5check attr "$merged" checksum)"
  "$pmap" status "$folder" | tee "$work/status.txt"
  grep -q "0 not run" "$work/status.txt" || fail "status says items are not run"
}

case_elastic_stagger() {
  use_cluster
  local args=(run --kernel compute_x --range 0:48 --arg sleep=0.1 --progress log)
  reference "$work/ref.h5" "${args[@]:1}"
  elastic_submit --jobs 4 --max-running 2 --block-rows 4 --time 5 --ntasks-per-job 2 -- "${args[@]}"
  wait_job "$array_jid" 150
  wait_job "$finish_jid" 60
  expect_job "$finish_jid" COMPLETED 0:0
  local f n=0
  for f in "$folder"/task-*.out; do
    n=$((n + 1))
    grep -q '^pmap-elastic task=' "$f" || fail "$f has no pmap-elastic line: $(cat "$f")"
    grep -q 'pmap task: exit 0' "$f" || fail "$f did not exit 0: $(cat "$f")"
    grep -q 'srun --mpi=pmix --ntasks=2' "$f" || fail "$f: the task's 2 ranks were not started with srun"
    grep '^pmap-elastic' "$f" | sed "s/^/  /"
  done
  [ "$n" = 4 ] || fail "expected 4 task logs, found $n: $(ls "$folder")"
  # At most 2 ran at once: the last two started after one of the first two ended.
  elastic_check_merged "$work/ref.h5"
  cat "$folder"/finish-*.out
}

case_elastic_cancel() {
  use_cluster
  local args=(run --kernel compute_x --range 0:40 --arg sleep=0.1 --chunk 1 --progress log)
  reference "$work/ref.h5" "${args[@]:1}"
  elastic_submit --jobs 2 --max-running 1 --block-rows 20 --time 5 -- "${args[@]}"
  local first="$folder/task-${array_jid}_0.out"
  wait_log "$first" 'pmap elastic: block 0 rows' 60
  sleep 1.2
  kill_claimers
  log "killed task ${array_jid}_0 mid-block"
  wait_job "$array_jid" 150
  wait_job "$finish_jid" 60
  expect_job "$finish_jid" COMPLETED 0:0
  local second="$folder/task-${array_jid}_1.out"
  grep -q 'taken over from' "$second" || fail "task 1 took nothing over: $(cat "$second")"
  grep -Eq 'resumed_rows=[1-9]' "$second" || fail "the dead task's rows were not kept: $(cat "$second")"
  grep -E 'taken over|^pmap-elastic' "$second" | sed "s/^/  /"
  elastic_check_merged "$work/ref.h5"
}

case_elastic_walltime() {
  use_cluster
  local args=(run --kernel compute_x --range 0:40 --arg sleep=0.1 --chunk 1 --progress log)
  reference "$work/ref.h5" "${args[@]:1}"
  elastic_submit --jobs 2 --max-running 1 --block-rows 10 --time 5 -- "${args[@]}"
  local first="$folder/task-${array_jid}_0.out" second="$folder/task-${array_jid}_1.out"
  wait_log "$first" 'pmap elastic: block 1 rows' 60
  sleep 0.5
  # What --signal=B:USR1@S does at the wall time (DESIGN: test it with scancel --batch).
  scancel --batch --signal=USR1 "${array_jid}_0"
  log "sent the wall-time warning (USR1) to task ${array_jid}_0"
  wait_job "$array_jid" 150
  wait_job "$finish_jid" 60
  expect_job "$finish_jid" COMPLETED 0:0
  grep -q 'given back with' "$first" || fail "task 0 gave nothing back: $(cat "$first")"
  grep -q 'pmap task: exit 75' "$first" || fail "task 0 did not exit 75: $(cat "$first")"
  grep -q 'given back by' "$second" || fail "task 1 did not take the given-back block: $(cat "$second")"
  grep -E 'given back|^pmap-elastic' "$first" "$second" | sed "s/^/  /"
  elastic_check_merged "$work/ref.h5"
}

case_elastic_urls() {   # a URL list in host blocks, as array-urls; no server needed
  use_cluster
  local list="$work/urls.txt" i
  { for i in $(seq 1 24); do echo "http://127.0.0.$i:1/page-$i"; done
    echo "not a url"; echo "ftp://example.com/x"; echo "http://127.0.0.3:1/page-3"; } >"$list"
  local args=(urls --input "$list" --retries 0 --timeout 2 --progress log)
  "$pmap" "${args[@]}" --output "$work/ref.h5" --force >"$work/ref.log" 2>&1 ||
    fail "reference URL run failed: $(cat "$work/ref.log")"
  elastic_submit --jobs 3 --max-running 2 --time 5 -- "${args[@]}"
  wait_job "$array_jid" 150
  wait_job "$finish_jid" 60
  expect_job "$finish_jid" COMPLETED 0:0
  cat "$folder"/finish-*.out
  h5check same-urls "$folder/merged.h5" "$work/ref.h5"
  "$pmap" status "$folder"
}

case_elastic_resubmit() {
  use_cluster
  local args=(run --kernel compute_x --range 0:30 --arg sleep=0.1 --progress log)
  reference "$work/ref.h5" "${args[@]:1}"
  elastic_submit --jobs 2 --block-rows 5 --time 5 --max-resubmits 1 -- "${args[@]}"
  wait_log "$folder/task-${array_jid}_0.out" 'pmap elastic: block' 60
  wait_log "$folder/task-${array_jid}_1.out" 'pmap elastic: block' 60
  sleep 0.5
  kill_claimers
  log "killed every task of array job $array_jid"
  wait_job "$array_jid" 60
  wait_job "$finish_jid" 60
  expect_job "$finish_jid" COMPLETED 0:0
  local fin="$folder/finish-$finish_jid.out" again second_finish
  grep -q 'resubmitting (1 of 1)' "$fin" || fail "the finishing job did not resubmit: $(cat "$fin")"
  cat "$fin"
  again="$(sed -n 's/^pmap submit: [0-9]* elastic tasks: array job //p' "$fin")"
  second_finish="$(sed -n 's/^pmap submit: finishing job \([0-9]*\).*/\1/p' "$fin")"
  [ -n "$again" ] && [ -n "$second_finish" ] || fail "no resubmitted job ids in $fin"
  jobs+=("$again" "$second_finish")
  wait_job "$again" 150
  wait_job "$second_finish" 60
  expect_job "$second_finish" COMPLETED 0:0
  grep -h 'taken over from' "$folder"/task-"$again"_*.out | sed "s/^/  /" ||
    fail "the resubmitted tasks took nothing over"
  elastic_check_merged "$work/ref.h5"
  cat "$folder/finish-$second_finish.out"
}

check_study() {   # DIR RUNS
  local dir="$1" runs="$2" f
  for f in runs.csv table.md study.txt speedup.png efficiency.png breakdown.png; do
    [ -s "$dir/$f" ] || fail "scaling output $dir/$f missing or empty"
  done
  [ "$(($(grep -c '' "$dir/runs.csv") - 1))" = "$runs" ] || fail "runs.csv: expected $runs runs: $(cat "$dir/runs.csv")"
  awk -F, 'NR > 1 && $9 != 0 { bad = 1 } END { exit bad }' "$dir/runs.csv" ||
    fail "some runs failed: $(cat "$dir/runs.csv")"
  grep -q '^## Strong scaling' "$dir/table.md" || fail "table.md has no strong scaling table"
  grep -q '^## Weak scaling' "$dir/table.md" || fail "table.md has no weak scaling table"
  grep -q '^## Ranks versus threads' "$dir/table.md" || fail "table.md has no ranks-vs-threads table"
  grep -q 'Sleep-based' "$dir/table.md" || fail "table.md does not say the study is sleep-based"
  grep -q '^Self-check: every run produced checksum' "$dir/table.md" || fail "checksums differ"
  local png
  for png in "$dir"/*.png; do
    [ "$(head -c 4 "$png" | tail -c 3)" = PNG ] || fail "$png is not a PNG"
  done
  log "scaling study in $dir: $runs runs, table and 3 plots"
}

case_array_urls() {   # a URL list split by a job array, merged; no server needed
  use_cluster
  local list="$work/urls.txt" i
  # Refused connections on 24 loopback hosts (spread over the shards by host), invalid lines
  # and a duplicate: every verdict is known without a network, and quickly.
  { for i in $(seq 1 24); do echo "http://127.0.0.$i:1/page-$i"; done
    echo "not a url"; echo "ftp://example.com/x"; echo "http://127.0.0.3:1/page-3"; } >"$list"
  local args=(urls --input "$list" --retries 0 --timeout 2 --progress log)
  "$pmap" "${args[@]}" --output "$work/ref.h5" --force >"$work/ref.log" 2>&1 ||
    fail "reference URL run failed: $(cat "$work/ref.log")"
  array_and_merge "${args[@]}"
  local dir="$array_dir" total=0 n
  for i in 0 1 2; do
    [ -f "$dir/shard-000$i-of-0003.h5" ] || fail "missing URL shard $i: $(ls "$dir")"
    n="$("$py" -c 'import sys, h5py; print(int(h5py.File(sys.argv[1])["urls"].attrs["shard_urls"]))' \
          "$dir/shard-000$i-of-0003.h5")" || fail "shard $i: no shard_urls"
    total=$((total + n))
  done
  [ "$total" -eq 27 ] || fail "the URL shards own $total rows, the list has 27"
  h5check same-urls "$dir/merged.h5" "$work/ref.h5"
}

case_scaling_sbatch() {
  use_cluster
  local jid
  PMAP_HOME="$root" PMAP_SCALING_REPS=1 PMAP_SCALING_LAYOUTS="1x1 2x1 1x2 4x1 2x2" \
    submit -n 4 "$root/slurm/scaling.sbatch" run --kernel compute_x --range 0:40 --arg sleep=0.02
  jid="$submitted"
  log "submitted scaling.sbatch -n 4 as job $jid"
  wait_job "$jid" 150
  expect_job "$jid" COMPLETED 0:0
  grep -q "launcher srun" "$work/pmap-scaling-$jid.out" || fail "the study did not use srun"
  check_study "$work/jobs/pmap-scaling-$jid" 10
}

case_scaling_local() {
  rm -rf "$work"
  mkdir -p "$work"
  unset SLURM_JOB_ID
  "$root/scripts/scaling.sh" --layouts "1x1 2x1 1x2 2x2" --reps 1 --no-warmup --out "$work/study" \
    --pmap "$pmap" -- run --kernel compute_x --range 0:20 --arg sleep=0.02 ||
    fail "scaling.sh failed"
  check_study "$work/study" 8
  # A CPU-bound layout beyond the cores is refused, not silently oversubscribed.
  local rc=0 out
  out="$("$root/scripts/scaling.sh" --layouts "1x1 $(( $(nproc) * 2 ))x1" --reps 1 --out "$work/refused" \
         --pmap "$pmap" -- run --kernel spin --range 0:4 2>&1)" || rc=$?
  [ "$rc" -eq 2 ] && grep -q "CPU-bound study beyond the CPUs" <<<"$out" ||
    fail "an oversubscribed CPU-bound layout was not refused (exit $rc): $out"
  log "oversubscribed CPU-bound layout refused"
}

case "$case_name" in
  start|stop|scripts) ;;
  *) [ -x "$pmap" ] || fail "no pmap binary at $pmap (build it first)" ;;
esac
case "$case_name" in
  start) case_start ;;
  stop) case_stop ;;
  scripts) case_scripts ;;
  pmap) case_pmap "$arg" ;;
  default) case_default ;;
  hybrid) case_hybrid "$arg" ;;
  signal) case_signal "$arg" ;;
  requeue) case_requeue ;;
  launcher-term) case_launcher_term ;;
  array) case_array ;;
  array-urls) case_array_urls ;;
  elastic-stagger) case_elastic_stagger ;;
  elastic-cancel) case_elastic_cancel ;;
  elastic-walltime) case_elastic_walltime ;;
  elastic-resubmit) case_elastic_resubmit ;;
  elastic-urls) case_elastic_urls ;;
  scaling-sbatch) case_scaling_sbatch ;;
  scaling-local) case_scaling_local ;;
  *) fail "unknown case '$case_name'" ;;
esac
log "PASS"
