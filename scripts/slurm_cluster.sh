#!/usr/bin/env bash
# A throwaway single-node Slurm cluster in a temporary folder, for the tests and for trying the
# job scripts in slurm/ on a workstation. Everything lives under DIR: the munge key and socket,
# slurm.conf, state, spool, logs and PMIx temporary files; nothing under /etc or /var is
# touched and no system service is started.
#
#   scripts/slurm_cluster.sh start [DIR] [--cpus N] [--ttl SECONDS]
#        starts munged (as user munge), slurmctld and slurmd; prints the line to eval
#        (`export SLURM_CONF=DIR/etc/slurm.conf`) and writes it to DIR/env as well.
#        DIR defaults to a new mktemp -d folder. --cpus declares N CPUs on the node (default 8,
#        whatever the real core count: SlurmdParameters=config_overrides). --ttl starts a
#        watchdog that stops the cluster after that many seconds, in case nobody calls stop.
#   scripts/slurm_cluster.sh stop DIR [--keep]
#        cancels every job, stops every process this cluster started (daemons, slurmstepd,
#        job processes, the watchdog), by process id, and removes DIR (unless --keep).
#   scripts/slurm_cluster.sh status DIR
#        exit 0 when the node answers and is usable.
#
#   eval "$(scripts/slurm_cluster.sh start /tmp/slurm-demo)"
#   sbatch --wrap hostname; squeue; ...
#   scripts/slurm_cluster.sh stop /tmp/slurm-demo
#
# Exit codes: 0 ok; 1 the cluster failed to start (logs are printed; everything started was
# stopped again); 2 bad usage; 77 cannot run here (not root, Slurm or munge not installed), which
# ctest reports as SKIP. Needs root (slurmd launches jobs as their user) and the Debian packages
# slurmctld slurmd slurm-client munge (scripts/setup.sh installs them). Facts: DESIGN.md.
set -euo pipefail

script="$(readlink -f "$0")"
prog="slurm_cluster.sh"
die() { echo "$prog: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$script" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
skip() { echo "$prog: SKIP: $*" >&2; exit 77; }

# ---- checks: why this machine cannot run a cluster (exit 77) ------------------------------------
preflight() {
  [ "$(uname -s)" = Linux ] || skip "needs Linux"
  [ "$(id -u)" -eq 0 ] || skip "needs root (slurmd starts jobs as their user and munged runs as user munge)"
  local missing=()
  for cmd in munged slurmctld slurmd sbatch squeue scontrol sinfo scancel srun setpriv; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  [ ${#missing[@]} -eq 0 ] ||
    skip "missing ${missing[*]}; install the Debian packages slurmctld slurmd slurm-client munge (scripts/setup.sh does)"
  id munge >/dev/null 2>&1 || skip "no user 'munge' (install the Debian package munge)"
  local plugdir
  plugdir="$(dirname "$(readlink -f "$(command -v slurmd)")")/../lib/$(uname -m)-linux-gnu/slurm-wlm"
  if [ -d "$plugdir" ] && [ ! -e "$plugdir/mpi_pmix.so" ]; then
    skip "Slurm has no mpi/pmix plugin in $plugdir"
  fi
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Processes of this cluster that have no pid file: its slurmstepd (recognised by the cluster's
# SLURM_CONF, which slurmd passes on to them) and every process below them (batch scripts,
# launchers, job tasks). Nothing else: not the shell that called us, whatever its environment.
cluster_pids() {
  local conf="$1" p stepds=()
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [ "$({ cat "/proc/$p/comm"; } 2>/dev/null)" = slurmstepd ] || continue
    if { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qxF "SLURM_CONF=$conf"; then
      stepds+=("$p")
    fi
  done
  [ ${#stepds[@]} -gt 0 ] || return 0
  ps -e -o pid= -o ppid= | awk -v roots="${stepds[*]}" -v self=$$ '
    BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
    { parent[$1] = $2 }
    END {
      do {
        changed = 0
        for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 }
      } while (changed)
      for (p in keep) if (p != self) print p
    }'
}

alive() { kill -0 "$1" 2>/dev/null; }

# kill_wait SIGNAL_THEN_KILL_AFTER_SECONDS PID...
kill_wait() {
  local grace="$1"; shift
  local pid left=()
  for pid in "$@"; do alive "$pid" && kill -TERM "$pid" 2>/dev/null || true; done
  local i
  for ((i = 0; i < grace * 10; i++)); do
    left=()
    for pid in "$@"; do alive "$pid" && left+=("$pid"); done
    [ ${#left[@]} -eq 0 ] && return 0
    sleep 0.1
  done
  for pid in "${left[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  sleep 0.2
}

pid_of() { [ -s "$1/run/$2.pid" ] && cat "$1/run/$2.pid" || true; }

do_stop() {
  local dir="$1" keep="$2"
  [ -d "$dir" ] || { echo "$prog: $dir: no such cluster folder (nothing to stop)" >&2; return 0; }
  dir="$(readlink -f "$dir")"
  local conf="$dir/etc/slurm.conf"
  [ -f "$dir/.pmap-slurm-cluster" ] ||
    { echo "$prog: $dir was not made by $prog (no .pmap-slurm-cluster): left untouched" >&2; return 1; }
  # The watchdog first (its whole process group: the bash loop and its sleep), unless we are it.
  local wd
  wd="$(pid_of "$dir" watchdog)"
  if [ -n "$wd" ] && [ "$wd" != "${PMAP_SLURM_WATCHDOG_SELF:-}" ] && alive "$wd"; then
    kill -TERM -- "-$wd" 2>/dev/null || kill -TERM "$wd" 2>/dev/null || true
  fi
  local ctld slurmd munged
  ctld="$(pid_of "$dir" slurmctld)"; slurmd="$(pid_of "$dir" slurmd)"; munged="$(pid_of "$dir" munged)"
  # Cancel the jobs while the controller still answers, so slurmd cleans its steps up itself.
  if [ -n "$ctld" ] && alive "$ctld" && [ -f "$conf" ]; then
    local jobs
    jobs="$(SLURM_CONF="$conf" timeout 5 squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ' || true)"
    if [ -n "${jobs// /}" ]; then
      # shellcheck disable=SC2086
      SLURM_CONF="$conf" timeout 5 scancel $jobs 2>/dev/null || true
      local i
      for ((i = 0; i < 30; i++)); do
        [ -z "$(SLURM_CONF="$conf" timeout 5 squeue -h -o %A 2>/dev/null || true)" ] && break
        sleep 0.2
      done
    fi
  fi
  local daemons=()
  [ -n "$slurmd" ] && daemons+=("$slurmd")
  [ -n "$ctld" ] && daemons+=("$ctld")
  [ ${#daemons[@]} -gt 0 ] && kill_wait 5 "${daemons[@]}"
  # Whatever is left of the jobs: slurmstepd and tasks (by pid, found through SLURM_CONF).
  local rest=()
  [ -f "$conf" ] && mapfile -t rest < <(cluster_pids "$conf")
  [ ${#rest[@]} -gt 0 ] && kill_wait 3 "${rest[@]}"
  [ -n "$munged" ] && kill_wait 5 "$munged"
  # Report anything that survived: a leak must be loud.
  local survivors=()
  for pid in $munged "${daemons[@]}" "${rest[@]}"; do alive "$pid" && survivors+=("$pid"); done
  rest=()
  [ -f "$conf" ] && mapfile -t rest < <(cluster_pids "$conf")
  survivors+=("${rest[@]}")
  if [ ${#survivors[@]} -gt 0 ]; then
    echo "$prog: processes still alive after stop: ${survivors[*]}" >&2
    return 1
  fi
  if [ "$keep" = 0 ]; then
    rm -rf "$dir"
  fi
  echo "$prog: stopped the cluster in $dir" >&2
}

wait_ready() {
  local dir="$1" seconds="$2" i state
  for ((i = 0; i < seconds * 5; i++)); do
    for d in munged slurmctld slurmd; do
      alive "$(pid_of "$dir" $d)" || { echo "$prog: $d exited during start-up" >&2; return 1; }
    done
    state="$(SLURM_CONF="$dir/etc/slurm.conf" sinfo -h -o %t 2>/dev/null | head -1 || true)"
    case "$state" in
      idle|mix|alloc) return 0 ;;
    esac
    sleep 0.2
  done
  echo "$prog: the node did not become idle within ${seconds}s (state: '${state:-none}')" >&2
  return 1
}

show_logs() {
  local dir="$1" f
  for f in "$dir"/log/*; do
    [ -s "$f" ] || continue
    echo "---- $f (last 25 lines)" >&2
    tail -n 25 "$f" >&2
  done
}

starting=""
start_failed() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -n "$starting" ]; then
    show_logs "$starting"
    do_stop "$starting" 1 || true
    echo "$prog: start failed; everything it started was stopped; $starting kept for its logs" >&2
  fi
  exit "$rc"
}

do_start() {
  local dir="$1" cpus="$2" ttl="$3"
  preflight
  if [ -z "$dir" ]; then
    dir="$(mktemp -d "${TMPDIR:-/tmp}/pmap-slurm.XXXXXX")"
  else
    if [ -f "$dir/.pmap-slurm-cluster" ]; then
      echo "$prog: $dir holds a cluster already; stopping it first" >&2
      do_stop "$dir" 0 || die "could not stop the old cluster in $dir"
    fi
    mkdir -p "$dir"
  fi
  dir="$(readlink -f "$dir")"
  # munged refuses sockets and keys in folders others may write to; munge must reach its folder.
  chmod 0755 "$dir"
  mkdir -p "$dir"/{etc,run,log,state,spool,tmp,munge}
  touch "$dir/.pmap-slurm-cluster"
  chown munge:munge "$dir/munge"
  chmod 0711 "$dir/munge"
  local sock="$dir/munge/munge.socket.2"
  [ ${#sock} -lt 100 ] || die "$dir is too deep: the munge socket path must stay under 108 characters"

  # From here on, any failure stops whatever was started.
  starting="$dir"
  trap start_failed EXIT

  setpriv --reuid=munge --regid=munge --init-groups \
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 0400 "$dir/munge/munge.key"
  setsid setpriv --reuid=munge --regid=munge --init-groups \
    munged --foreground --socket="$sock" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
    --seed-file="$dir/munge/munged.seed" </dev/null >"$dir/log/munged.out" 2>&1 &
  echo $! >"$dir/run/munged.pid"
  local i
  for ((i = 0; i < 50; i++)); do [ -S "$sock" ] && break; sleep 0.1; done
  [ -S "$sock" ] || { cat "$dir/munge/munged.log" >&2 2>/dev/null || true; die "munged did not create $sock"; }

  local node ctld_port slurmd_port mem
  node="$(hostname -s)"
  ctld_port="$(free_port)"
  slurmd_port="$(free_port)"
  while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port="$(free_port)"; done
  mem=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 / 2 ))
  cat >"$dir/etc/slurm.conf" <<EOF
# Written by scripts/slurm_cluster.sh: a single-node test cluster in $dir
ClusterName=pmaptest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.daemon.pid
SlurmdPidFile=$dir/run/slurmd.daemon.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
TmpFS=$dir/tmp
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
SlurmdParameters=config_overrides
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=600
KillWait=10
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
SchedulerType=sched/backfill
MailProg=/bin/true
SchedulerParameters=sched_interval=1
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  # PMIx: keep srun --mpi=pmix's rendezvous files in the cluster folder too.
  printf 'PMIxCliTmpDirBase=%s\n' "$dir/tmp" >"$dir/etc/mpi.conf"
  export SLURM_CONF="$dir/etc/slurm.conf"

  setsid slurmctld -D -i -f "$SLURM_CONF" </dev/null >"$dir/log/slurmctld.out" 2>&1 &
  echo $! >"$dir/run/slurmctld.pid"
  setsid slurmd -D -f "$SLURM_CONF" -N "$node" </dev/null >"$dir/log/slurmd.out" 2>&1 &
  echo $! >"$dir/run/slurmd.pid"
  wait_ready "$dir" 30

  if [ "$ttl" -gt 0 ]; then
    # setsid: its own process group, so stop can end the loop and its sleep together.
    # shellcheck disable=SC2016  # expanded by the watchdog's own bash
    setsid bash -c 'sleep "$1" & wait $!; PMAP_SLURM_WATCHDOG_SELF=$$ exec "$2" stop "$3"' \
      watchdog "$ttl" "$script" "$dir" </dev/null >"$dir/log/watchdog.out" 2>&1 &
    echo $! >"$dir/run/watchdog.pid"
  fi
  trap - EXIT
  starting=""
  echo "export SLURM_CONF=$SLURM_CONF" >"$dir/env"
  echo "$prog: single-node cluster up in $dir: node $node, $cpus CPUs, partition debug," \
    "slurmctld port $ctld_port$( [ "$ttl" -gt 0 ] && echo ", watchdog ${ttl}s")" >&2
  cat "$dir/env"
}

do_status() {
  local dir="$1"
  [ -f "$dir/etc/slurm.conf" ] || { echo "$prog: $dir: no cluster here" >&2; return 1; }
  for d in munged slurmctld slurmd; do
    alive "$(pid_of "$dir" $d)" || { echo "$prog: $d is not running" >&2; return 1; }
  done
  SLURM_CONF="$dir/etc/slurm.conf" sinfo
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
dir="" cpus=8 ttl=0 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --cpus) cpus="${2:?--cpus needs a number}"; shift 2 ;;
    --ttl) ttl="${2:?--ttl needs seconds}"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage ;;
    -*) echo "$prog: unknown option $1" >&2; usage ;;
    *) [ -z "$dir" ] || usage; dir="$1"; shift ;;
  esac
done
[[ "$cpus" =~ ^[1-9][0-9]*$ ]] || die "--cpus $cpus: not a positive integer"
[[ "$ttl" =~ ^[0-9]+$ ]] || die "--ttl $ttl: not a number of seconds"
case "$cmd" in
  start) do_start "$dir" "$cpus" "$ttl" ;;
  stop) [ -n "$dir" ] || usage; do_stop "$dir" "$keep" ;;
  status) [ -n "$dir" ] || usage; do_status "$dir" ;;
  -h|--help|help) usage ;;
  *) usage ;;
esac
