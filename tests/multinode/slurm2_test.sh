#!/usr/bin/env bash
# A two-node Slurm on the simulated cluster (scripts/cluster.sh slurm-up): slurmctld and munged
# on head, slurmd on node1 and node2 (entered with nsenter), TmpFS per node; jobs submitted from
# head, as from a login node. Called by multinode_test.sh:
#
#   slurm2_test.sh slurm-up | slurm-down     the fixture
#   slurm2_test.sh slurm-job srun|mpirun     sbatch -N 2 slurm/hybrid.sbatch (its defaults: 2
#                                            ranks a node x 4 threads): ranks on both nodes,
#                                            results identical to a one-process run
#   slurm2_test.sh slurm-signal              the wall-time path across nodes: scancel --batch
#                                            --signal=USR1 -> every rank on both nodes stops ->
#                                            exit 75 -> scontrol requeue -> --resume -> identical
#   slurm2_test.sh slurm-elastic             pmap submit from head: 2 elastic tasks, one a node
#                                            (--exclusive); the task on node2 is killed (kill -9)
#                                            mid-block; its claim is recognised as abandoned
#                                            from the other node (squeue: its job is gone) and
#                                            taken over; the merged file equals one run
#
# Environment as multinode_test.sh. Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cluster="$root/scripts/cluster.sh"
pmap="${PMAP_BIN:-$root/build/pmap}"
base="${PMAP_MULTINODE_WORK:-${TMPDIR:-/tmp}/pmap-multinode}"
name="${PMAP_CLUSTER:-pmapc}"
py=/usr/bin/python3
case_name="${1:?usage: slurm2_test.sh CASE [ARG]}"
arg="${2:-}"
work="$base/$case_name${arg:+-$arg}"
conf="/run/$name/slurm/etc/slurm.conf"
jobs=()

log() { echo "multinode[$case_name${arg:+ $arg}]: $*"; }
skip() { log "SKIP: $*"; exit 77; }
fail() { log "FAIL: $*"; exit 1; }
h5() { "$py" "$here/h5tool.py" "$@"; }
head_do() { "$cluster" exec head "$@"; }   # a client command on the login node

unset OMP_NUM_THREADS OMP_PROC_BIND OMP_PLACES SLURM_JOB_ID SLURM_CPUS_PER_TASK SLURM_NTASKS \
      PMAP_LAUNCHER PMAP_REQUEUE PMAP_JOB_DIR
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# The simulated nodes share the machine's cores: ranks waiting for messages must yield them.
export OMPI_MCA_mpi_yield_when_idle=1

need_slurm() {
  need_cluster
  [ -f "$conf" ] || skip "no Slurm on the cluster: multinode.slurm.up did not start one (see its output)"
  export SLURM_CONF="$conf"
  head_do sinfo -h -o %t >/dev/null 2>&1 || fail "slurmctld on head does not answer"
  [ -f "$root/slurm/hybrid.sbatch" ] || skip "no slurm/hybrid.sbatch yet"
  rm -rf "$work"
  mkdir -p "$work/jobs"
  export PMAP_JOBS_ROOT="$work/jobs" PMAP_BIN="$pmap"
  trap on_exit EXIT
}

on_exit() {
  local rc=$? j
  for j in "${jobs[@]}"; do head_do scancel "$j" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
    local f
    for f in "$work"/*.out "$work"/jobs/*/attempts.log /run/"$name"/slurm/log/slurmctld.log \
             /run/"$name"/slurm/log/slurmd.node*.log; do
      [ -f "$f" ] || continue
      echo "---- $f (last 25 lines)"; tail -n 25 "$f"
    done
  fi
  exit "$rc"
}

submit() {   # [sbatch options] SCRIPT ARGS: sets jid
  local out
  out="$(cd "$work" && head_do sbatch --parsable -o "$work/%x-%j.out" "$@")" || fail "sbatch $* failed"
  jid="${out%%;*}"
  jobs+=("$jid")
}

field() { head_do scontrol -o show job "$1" 2>/dev/null | head -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"; }

terminal() {
  case "$1" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED) return 0 ;; esac
  return 1
}

wait_job() {   # JOBID SECONDS
  local start=$SECONDS st
  while :; do
    st="$(field "$1" JobState)"
    terminal "$st" && return 0
    [ $((SECONDS - start)) -lt "$2" ] || fail "job $1 not done after $2 s (state $st)"
    sleep 0.3
  done
}

expect_job() {   # JOBID STATE EXITCODE
  local st ec
  st="$(field "$1" JobState)" ec="$(field "$1" ExitCode)"
  if [ "$st" != "$2" ] || [ "$ec" != "$3" ]; then
    fail "job $1 ended $st with exit code $ec, expected $2 $3"
  fi
}

reference() {   # OUTPUT ARGS
  local out="$1"; shift
  "$pmap" run "$@" --threads 2 --output "$out" --force --progress none >"$out.log" 2>&1 ||
    fail "reference run failed: $(tail -5 "$out.log")"
}

check_two_nodes() {   # FILE: ranks 0,1 on node1 and 2,3 on node2, 4 threads each
  local ranks
  ranks="$(h5 ranks "$1")"
  [ "$(awk '{printf "%s:%s ", $2, $3}' <<<"$ranks")" = "node1:4 node1:4 node2:4 node2:4 " ] ||
    fail "expected 2 ranks x 4 threads on node1 and node2: $ranks"
  [ "$(awk '$2 == "node2" {n += $4} END {print n + 0}' <<<"$ranks")" -gt 0 ] ||
    fail "the ranks on node2 ran nothing: $ranks"
}

need_cluster() {
  [ -s "/run/$name/hosts" ] || skip "no simulated cluster (see multinode.cluster.up)"
}

case_up() {
  need_cluster
  "$cluster" slurm-up --nodes 2 --cpus 8
  SLURM_CONF="$conf" head_do sinfo -N
}

case_down() {
  need_cluster
  "$cluster" slurm-down
}

case_job() {
  local launcher="$1"
  case "$launcher" in srun|mpirun) ;; *) fail "launcher '$launcher': srun or mpirun" ;; esac
  need_slurm
  local args=(run --kernel compute_x --range 0:96 --arg sleep=0.05 --progress log)
  reference "$work/ref.h5" --kernel compute_x --range 0:96 --arg sleep=0
  local before after
  before="$("$cluster" counters)"
  PMAP_LAUNCHER="$launcher" submit -N 2 "$root/slurm/hybrid.sbatch" "${args[@]}"
  log "submitted sbatch -N 2 slurm/hybrid.sbatch (2 ranks a node x 4 threads) as job $jid, launcher $launcher"
  wait_job "$jid" 90
  after="$("$cluster" counters)"
  expect_job "$jid" COMPLETED 0:0
  local out="$work/pmap-hybrid-$jid.out" dir="$work/jobs/pmap-hybrid-$jid"
  [ "$(field "$jid" NodeList)" = "node[1-2]" ] || fail "job ran on $(field "$jid" NodeList)"
  case "$launcher" in
    srun) grep -q "command: srun --mpi=pmix --ntasks=4 --cpus-per-task=4 " "$out" || fail "srun not called as expected" ;;
    mpirun) grep -q "command: mpirun -np 4 --bind-to none " "$out" || fail "mpirun not called as expected" ;;
  esac
  grep -q '^pmap-report .* ranks=4 threads=4 workers=16 ' "$out" || fail "no pmap-report line for 4 x 4"
  check_two_nodes "$dir/pmap.h5"
  h5 same "$work/ref.h5" "$dir/pmap.h5" || fail "results differ from a one-process run"
  local b a
  b="$(awk '$1 == "node2" {print $3}' <<<"$before")" a="$(awk '$1 == "node2" {print $3}' <<<"$after")"
  log "job $jid on node[1-2] via $launcher: $(h5 ranks "$dir/pmap.h5" | awk '{printf "rank %s %s %s threads %s items; ", $1, $2, $3, $4}')node2 sent $((a - b)) bytes"
}

case_signal() {
  need_slurm
  local n=160 args
  args=(run --kernel compute_x --range "0:$n" --arg sleep=0.2 --progress log)
  reference "$work/ref.h5" --kernel compute_x --range 0:$n --arg sleep=0
  PMAP_REQUEUE=1 submit -N 2 "$root/slurm/hybrid.sbatch" "${args[@]}"
  local out="$work/pmap-hybrid-$jid.out" dir="$work/jobs/pmap-hybrid-$jid" start=$SECONDS
  log "submitted job $jid (PMAP_REQUEUE=1); waiting for progress, then scancel --batch --signal=USR1"
  until grep -qE '^compute +[0-9]+%.* [1-9][0-9]*/[0-9]+ ' "$out" 2>/dev/null; do
    [ $((SECONDS - start)) -lt 60 ] || fail "no progress in $out"
    sleep 0.2
  done
  sleep 0.3
  head_do scancel --batch --signal=USR1 "$jid" || fail "scancel --batch --signal=USR1 failed"
  local restarts st
  start=$SECONDS
  while :; do
    restarts="$(field "$jid" Restarts)" st="$(field "$jid" JobState)"
    [ "${restarts:-0}" -ge 1 ] && [ "$st" = PENDING ] && break
    terminal "$st" && fail "job $jid ended $st (exit $(field "$jid" ExitCode)) instead of requeueing"
    [ $((SECONDS - start)) -lt 60 ] || fail "job $jid not requeued within 60 s (state $st)"
    sleep 0.3
  done
  # Slurm holds a requeued job (BeginTime ~2 min) and slurmd refuses a credential revoked in the
  # same second: wait 2 s, then release it.
  sleep 2
  head_do scontrol update JobId="$jid" StartTime=now
  wait_job "$jid" 120
  expect_job "$jid" COMPLETED 0:0
  grep -q '^attempt=1 .* exit=75 ' "$dir/attempts.log" || fail "attempt 1 did not exit 75: $(cat "$dir/attempts.log")"
  grep -q '^attempt=2 .* exit=0 ' "$dir/attempts.log" || fail "attempt 2 did not exit 0: $(cat "$dir/attempts.log")"
  grep -q "command: srun .* --resume$" "$out" || fail "attempt 2 did not --resume"
  local first second done_before
  first="$(grep '^pmap-report ' "$out" | sed -n 1p)" second="$(grep '^pmap-report ' "$out" | sed -n 2p)"
  grep -q ' stop_reason=signal ' <<<"$first" || fail "attempt 1 did not stop on the signal: $first"
  done_before="$(sed -n 's/.* ok=\([0-9]*\) .*/\1/p' <<<"$first")"
  grep -q " ran=$((n - done_before)) " <<<"$second" || fail "attempt 2 should run $((n - done_before)) items: $second"
  check_two_nodes "$dir/pmap.h5"
  h5 same "$work/ref.h5" "$dir/pmap.h5" || fail "the requeued and resumed file differs from a one-process run"
  log "USR1 to the batch shell on node1 -> srun -> ranks on node1 and node2: attempt 1 exit 75 with" \
    "$done_before/$n done, requeued, attempt 2 --resume ran $((n - done_before)): identical"
}

case_elastic() {
  need_slurm
  local args=(run --kernel compute_x --range 0:120 --arg sleep=0.1 --chunk 1 --progress log)
  reference "$work/ref.h5" --kernel compute_x --range 0:120 --arg sleep=0
  local out folder array_jid finish_jid
  # Heartbeats every second: a claim whose owner is 3 s late is checked with squeue.
  out="$(cd "$work" && PMAP_ELASTIC_HEARTBEAT=1 head_do "$pmap" submit --jobs 2 --block-rows 10 \
         --time 5 --exclusive -- "${args[@]}" 2>&1)" || fail "pmap submit failed: $out"
  echo "$out"
  folder="$(sed -n 's/^pmap submit: job folder //p' <<<"$out" | head -n 1)"
  array_jid="$(sed -n 's/^pmap submit: [0-9]* elastic tasks: array job //p' <<<"$out" | head -n 1)"
  finish_jid="$(sed -n 's/^pmap submit: finishing job \([0-9]*\).*/\1/p' <<<"$out" | head -n 1)"
  [ -n "$array_jid" ] && [ -n "$finish_jid" ] || fail "no job ids from pmap submit"
  jobs+=("$array_jid" "$finish_jid")
  # Both tasks running, one a node; then kill -9 the one on node2 (its claim names host and pid).
  local start=$SECONDS f victim="" pid
  while [ -z "$victim" ]; do
    for f in "$folder"/ledger/claims/*.*; do
      [ -f "$f" ] && grep -q '^host=node2$' "$f" && victim="$f"
    done
    [ $((SECONDS - start)) -lt 60 ] || fail "no claim from node2 after 60 s: $(cat "$folder"/task-*.out)"
    sleep 0.2
  done
  sleep 1
  pid="$(sed -n 's/^pid=//p' "$victim")"
  kill -9 "$pid" || fail "cannot kill pmap $pid on node2"
  log "kill -9 of the task on node2 (pmap $pid, claim $(basename "$victim"))"
  wait_job "$finish_jid" 180
  # The finishing job may have resubmitted (if the node1 task ended first): follow it.
  local fin="$folder/finish-$finish_jid.out" next
  next="$(sed -n 's/^pmap submit: finishing job \([0-9]*\).*/\1/p' "$fin" | head -n 1)"
  if [ -n "$next" ]; then
    jobs+=("$next")
    wait_job "$next" 180
    fin="$folder/finish-$next.out"
  fi
  cat "$fin"
  grep -q '^pmap finish: merged' "$fin" || fail "no merge: $(cat "$fin")"
  # Taken over by the task still running on node1 (squeue: the node2 task's job is gone), not
  # only after a resubmission.
  grep -h 'taken over from' "$folder"/task-"$array_jid"_*.out ||
    fail "the task on node1 took nothing over: $(cat "$folder"/task-*.out)"
  grep -h '^pmap task: .* on node' "$folder"/task-*.out
  h5 same "$work/ref.h5" "$folder/merged.h5" || fail "the merged file differs from a one-process run"
  log "task on node2 killed; its block taken over from node1; merged file identical to one run"
}

case "$case_name" in
  slurm-elastic) case_elastic ;;
  slurm-up) case_up ;;
  slurm-down) case_down ;;
  slurm-job) case_job "$arg" ;;
  slurm-signal) case_signal ;;
  *) echo "slurm2_test.sh: unknown case '$case_name'" >&2; exit 2 ;;
esac
