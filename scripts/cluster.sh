#!/usr/bin/env bash
# A simulated cluster on one Linux machine, for the multinode tests and for trying pmap across
# "nodes" joined by a real (virtual) network: each node is a network namespace with its own
# hostname (a UTS namespace), its own eth0 and address on a private subnet, and no route out.
#
#   head   10.213.0.254  a login/service host: mpirun may start here, the URL test server and
#                        slurmctld live here
#   node1  10.213.0.1    compute nodes, each eth0 a veth pair whose other end is on the bridge
#   node2  10.213.0.2
#   ...
#   The bridge sits in a namespace of its own ("switch"), so the machine's own network (the
#   root namespace) gets no interface, address or route: the subnet exists only inside the
#   namespaces made here, and nothing on it can reach anything else.
#
#   scripts/cluster.sh up [--nodes N]    make the cluster (default 3 nodes, at most 9); exit 0
#                                        at once when it is up already
#   scripts/cluster.sh down              remove everything `up` made: processes running in the
#                                        cluster's namespaces (by pid), namespaces (and with
#                                        them the veths and the bridge), hostname mounts, the
#                                        state folder. Idempotent; also cleans up a failed `up`.
#   scripts/cluster.sh status            the hosts, their addresses and a ping between nodes
#   scripts/cluster.sh exec HOST CMD...  run CMD on HOST (node1.., head): its network and
#                                        hostname, the machine's files and processes
#   scripts/cluster.sh mpirun-args       print the mpirun options that run across the nodes
#   scripts/cluster.sh hosts             print "name address" of every host
#   scripts/cluster.sh pids HOST         print the pids of the processes running on HOST
#   scripts/cluster.sh counters          print "host rx_bytes tx_bytes" of every host's eth0
#   scripts/cluster.sh slurm-up [--nodes N] [--cpus C]
#                                        Slurm on the cluster: munged and slurmctld on head, one
#                                        slurmd on each of node1..nodeN (default 2 nodes, C=8
#                                        CPUs declared a node); prints `export SLURM_CONF=...`.
#                                        Clients reach slurmctld from head or the nodes:
#                                        scripts/cluster.sh exec head sbatch -N 2 ...
#   scripts/cluster.sh slurm-down        cancel every job, stop the Slurm daemons (down does too)
#
#   scripts/cluster.sh up
#   scripts/cluster.sh exec node1 mpirun -H node1:2,node2:2,node3:2 \
#       $(scripts/cluster.sh mpirun-args) build/pmap run --kernel pi --range 0:1000
#   scripts/cluster.sh down
#
# Open MPI reaches the other nodes through scripts/cluster_rsh.sh (`--mca plm_rsh_agent`), which
# enters the node's namespaces the way ssh would log in. The mount namespace is shared: every
# node sees the same files (like a cluster's shared file system), the same /tmp and /dev/shm
# (the per-node hostnames keep Open MPI's session folders and shared-memory names apart) and the
# same cores (so ranks must run with --bind-to none). What this does and does not prove:
# docs/multinode.md.
#
# Slurm on the cluster needs the Debian packages slurmctld slurmd slurm-client munge. Its files
# live in STATE/slurm: slurm.conf, the munge key and socket, state, spool/%n, TmpFS=tmp/%n (each
# node its own PMIx folders, as the file system is shared), logs.
#
# Environment: PMAP_CLUSTER (name, default pmapc: namespaces are pmapc-node1, ...),
# PMAP_CLUSTER_SUBNET (the first three octets, default 10.213.0), PMAP_CLUSTER_STATE (default
# /run/<name>). Exit codes: 0 ok; 1 failure (everything made was removed again); 2 bad usage;
# 77 namespaces cannot be made here (not root, not Linux, no iproute2/util-linux, no permission,
# e.g. an unprivileged container), which ctest reports as SKIP.
set -euo pipefail

prog="cluster.sh"
script="$(readlink -f "$0")"
name="${PMAP_CLUSTER:-pmapc}"
subnet="${PMAP_CLUSTER_SUBNET:-10.213.0}"
state="${PMAP_CLUSTER_STATE:-/run/$name}"
switch="$name-switch"
head_addr="$subnet.254"

say() { echo "$prog: $*" >&2; }
die() { say "error: $*"; exit 1; }
skip() { say "SKIP: $*"; exit 77; }
usage() { sed -n '2,/^set -euo/p' "$script" | sed '$d; s/^# \{0,1\}//' >&2; exit "${1:-2}"; }
# One change at a time (up, down, slurm-up, slurm-down): a lock on this script itself, so no
# lock file is left anywhere.
lock() { exec 9<"$script"; flock -w 120 9 || die "another cluster.sh holds the lock for 120 s"; }

[[ "$name" =~ ^[a-z][a-z0-9]{0,7}$ ]] || die "PMAP_CLUSTER=$name: 1-8 lower-case letters/digits"
[[ "$subnet" =~ ^(10|172|192)\.[0-9]{1,3}\.[0-9]{1,3}$ ]] ||
  die "PMAP_CLUSTER_SUBNET=$subnet: three octets of a private range, e.g. 10.213.0"

ns_of() { echo "$name-$1"; }                  # host -> network namespace name
uts_of() { echo "$state/uts/$1"; }            # host -> persistent UTS namespace (a bind mount)

# Hosts of a running cluster, "name address" a line (from the state folder).
hosts() { [ -s "$state/hosts" ] && cat "$state/hosts"; }

# ---- why namespaces cannot be made here (exit 77) ----------------------------------------------
preflight() {
  [ "$(uname -s)" = Linux ] || skip "network namespaces need Linux"
  [ "$(id -u)" -eq 0 ] || skip "needs root to make network namespaces (run the tests as root)"
  local cmd missing=()
  for cmd in ip nsenter unshare mount umount ping flock; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  [ ${#missing[@]} -eq 0 ] ||
    skip "missing ${missing[*]}: install the Debian packages iproute2 util-linux iputils-ping"
  local probe="$name-probe$$" err
  if ! err="$(ip netns add "$probe" 2>&1)"; then
    skip "cannot make a network namespace here (ip netns add: $err)"
  fi
  if ! err="$(ip -n "$probe" link add name pv0 type veth peer name pv1 2>&1 &&
              ip -n "$probe" link add name pbr type bridge 2>&1)"; then
    ip netns del "$probe" 2>/dev/null || true
    skip "cannot make veth pairs or bridges here ($err)"
  fi
  ip netns del "$probe"
  if ! err="$(unshare --uts true 2>&1)"; then
    skip "cannot make a UTS namespace here (unshare --uts: $err)"
  fi
}

# ---- teardown -----------------------------------------------------------------------------------
# Pids of the processes whose network namespace is the one of HOST.
pids_in() {
  local ns
  ns="$(ns_of "$1")"
  [ -e "/run/netns/$ns" ] || return 0
  ip netns pids "$ns" 2>/dev/null | grep -vx "$$" || true
}

our_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$name-" || true; }

kill_namespace_processes() {
  local ns pids=() p i
  for ns in $(our_namespaces); do
    while read -r p; do [ -n "$p" ] && [ "$p" != $$ ] && pids+=("$p"); done \
      < <(ip netns pids "$ns" 2>/dev/null || true)
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  say "stopping ${#pids[@]} processes still running on the cluster: ${pids[*]}"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for ((i = 0; i < 30; i++)); do
    local left=()
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left+=("$p"); done
    [ ${#left[@]} -eq 0 ] && return 0
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  sleep 0.2
}

do_down() {
  local quiet="${1:-0}" ns f rc=0
  if [ -d "$(slurm_dir)" ]; then do_slurm_down >/dev/null 2>&1 || true; fi
  # Every process on a node (ranks, orted, daemons, servers) runs in the node's network
  # namespace: stop them by pid before the namespaces go.
  kill_namespace_processes
  for ns in $(our_namespaces); do
    ip netns del "$ns" 2>/dev/null || { say "could not delete namespace $ns"; rc=1; }
  done
  if [ -d "$state/uts" ]; then
    for f in "$state"/uts/*; do
      [ -e "$f" ] || continue
      if mountpoint -q "$f" 2>/dev/null || grep -qF " $f " /proc/self/mountinfo; then
        umount "$f" 2>/dev/null || umount -l "$f" 2>/dev/null || { say "could not unmount $f"; rc=1; }
      fi
    done
  fi
  if [ -d "$state" ]; then
    [ -f "$state/.pmap-cluster" ] || [ ! -e "$state/hosts" ] ||
      { say "$state was not made by $prog: left untouched"; return 1; }
    rm -rf "$state" 2>/dev/null || { say "could not remove $state"; rc=1; }
  fi
  if [ -n "$(our_namespaces)" ]; then
    say "namespaces left over: $(our_namespaces | tr '\n' ' ')"
    rc=1
  fi
  [ "$quiet" = 1 ] || [ "$rc" -ne 0 ] || say "cluster $name is down (nothing of it is left)"
  return "$rc"
}

# ---- bring-up -----------------------------------------------------------------------------------
add_host() {   # add_host NAME ADDRESS: namespace, hostname, veth to the bridge, address
  local host="$1" addr="$2" ns port
  ns="$(ns_of "$host")"
  port="v$host"
  ip netns add "$ns"
  ip -n "$switch" link add name "$port" type veth peer name eth0 netns "$ns"
  ip -n "$switch" link set "$port" master br0
  ip -n "$switch" link set "$port" up
  # IPv4 only: no IPv6 link-local chatter in the byte counters, no IPv6 paths for Open MPI.
  # shellcheck disable=SC2016
  nsenter --net="/run/netns/$ns" sh -c \
    'for f in /proc/sys/net/ipv6/conf/*/disable_ipv6; do echo 1 >"$f"; done' 2>/dev/null || true
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" link set eth0 up
  # The UTS namespace stays alive as a bind mount of its nsfs file: no holder process needed.
  : >"$(uts_of "$host")"
  unshare --uts="$(uts_of "$host")" hostname "$host"
  echo "$host $addr" >>"$state/hosts"
}

do_up() {
  local nodes="$1" i
  preflight
  if [ -s "$state/hosts" ] && do_check 1; then
    say "cluster $name is up already ($(awk '{print $1}' "$state/hosts" | tr '\n' ' '))"
    return 0
  fi
  # Anything left by an earlier, failed run goes first.
  do_down 1 || die "could not clear what an earlier run left behind"
  trap 'rc=$?; if [ $rc -ne 0 ]; then say "bring-up failed; removing what was made"; do_down 1 || true; fi' EXIT
  mkdir -p "$state/uts"
  touch "$state/.pmap-cluster"
  : >"$state/hosts"
  ip netns add "$switch"
  ip -n "$switch" link set lo up
  ip -n "$switch" link add name br0 type bridge
  ip -n "$switch" link set br0 up
  for ((i = 1; i <= nodes; i++)); do add_host "node$i" "$subnet.$i"; done
  add_host head "$head_addr"
  # Wait for every node to reach every other (the bridge learns addresses on first use).
  do_check 0 || die "the nodes cannot reach each other"
  trap - EXIT
  say "cluster $name up: $(tr '\n' ' ' <"$state/hosts" | sed 's/ $//') on $subnet.0/24 (no route out)"
}

# Every host answers a ping from node1, and has the right hostname.
do_check() {
  local quiet="$1" host addr got ok=0 i
  [ -s "$state/hosts" ] || return 1
  while read -r host addr; do
    [ -e "/run/netns/$(ns_of "$host")" ] || { [ "$quiet" = 1 ] || say "$host: no namespace"; return 1; }
    got="$(nsenter --uts="$(uts_of "$host")" hostname 2>/dev/null || true)"
    [ "$got" = "$host" ] || { [ "$quiet" = 1 ] || say "$host: hostname is '$got'"; return 1; }
    ok=0
    for ((i = 0; i < 20; i++)); do
      if nsenter --net="/run/netns/$(ns_of node1)" ping -c 1 -W 1 -q "$addr" >/dev/null 2>&1; then ok=1; break; fi
      sleep 0.1
    done
    [ "$ok" = 1 ] || { [ "$quiet" = 1 ] || say "node1 cannot reach $host ($addr)"; return 1; }
  done <"$state/hosts"
}

do_status() {
  [ -s "$state/hosts" ] || { say "cluster $name is not up"; return 1; }
  local host addr
  printf '%-6s %-15s %-9s %s\n' host address hostname "eth0 rx/tx bytes"
  while read -r host addr; do
    printf '%-6s %-15s %-9s %s\n' "$host" "$addr" \
      "$(nsenter --uts="$(uts_of "$host")" hostname 2>/dev/null || echo '?')" \
      "$(counter "$host" rx)/$(counter "$host" tx)"
  done <"$state/hosts"
  echo "routes on node1: $(ip -n "$(ns_of node1)" route | tr '\n' ';')"
  do_check 0 && echo "every host answers node1: ok"
}

# Bytes received and sent by HOST's eth0 (the statistics of `ip -s link`).
counter() {
  ip -n "$(ns_of "$1")" -s link show eth0 2>/dev/null |
    awk -v want="$2" 'toupper($1) == toupper(want) ":" {getline; print $1; exit}'
}

# ---- Slurm across the nodes ---------------------------------------------------------------------
slurm_dir() { echo "$state/slurm"; }

slurm_pid() { local f; f="$(slurm_dir)/run/$1.pid"; if [ -s "$f" ]; then cat "$f"; fi; }

slurm_alive() {
  local d
  for d in munged slurmctld "$@"; do
    kill -0 "$(slurm_pid "$d")" 2>/dev/null || return 1
  done
}

on_head() { nsenter --net="/run/netns/$(ns_of head)" --uts="$(uts_of head)" -- "$@"; }

do_slurm_down() {
  local sd conf jobs i p f pids=()
  sd="$(slurm_dir)"
  [ -d "$sd" ] || { say "no Slurm on cluster $name (nothing to stop)"; return 0; }
  conf="$sd/etc/slurm.conf"
  if kill -0 "$(slurm_pid slurmctld)" 2>/dev/null; then
    # Cancel the jobs while the controller answers, so the slurmds clean their steps up.
    jobs="$(SLURM_CONF="$conf" timeout 5 on_head squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ' || true)"
    if [ -n "${jobs// /}" ]; then
      # shellcheck disable=SC2086
      SLURM_CONF="$conf" timeout 5 on_head scancel $jobs 2>/dev/null || true
      for ((i = 0; i < 30; i++)); do
        [ -z "$(SLURM_CONF="$conf" timeout 5 on_head squeue -h -o %A 2>/dev/null || true)" ] && break
        sleep 0.2
      done
    fi
  fi
  for f in "$sd"/run/*.pid; do
    [ -s "$f" ] || continue
    p="$(cat "$f")"
    if kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p" 2>/dev/null || true
      pids+=("$p")
    fi
  done
  for ((i = 0; i < 50 && ${#pids[@]} > 0; i++)); do
    local left=()
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left+=("$p"); done
    pids=("${left[@]}")
    [ ${#pids[@]} -eq 0 ] || sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  # Job steps and tasks left behind carry this SLURM_CONF (slurmd passes its own on).
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [ "$p" = $$ ] && continue
    if { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qxF "SLURM_CONF=$conf"; then
      kill -KILL "$p" 2>/dev/null || true
    fi
  done
  rm -rf "$sd"
  say "Slurm on cluster $name stopped"
}

slurm_preflight() {
  local cmd missing=()
  for cmd in munged slurmctld slurmd sbatch squeue scontrol sinfo scancel srun setpriv; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  [ ${#missing[@]} -eq 0 ] ||
    skip "missing ${missing[*]}; install the Debian packages slurmctld slurmd slurm-client munge"
  id munge >/dev/null 2>&1 || skip "no user 'munge' (install the Debian package munge)"
}

slurm_logs() {
  local f
  for f in "$(slurm_dir)"/log/*; do
    [ -s "$f" ] || continue
    echo "---- $f (last 20 lines)" >&2
    tail -n 20 "$f" >&2
  done
}

do_slurm_up() {
  local nodes="$1" cpus="$2" sd conf sock i h mem
  [ -s "$state/hosts" ] || die "cluster $name is not up: scripts/cluster.sh up first"
  slurm_preflight
  local want=()
  for ((i = 1; i <= nodes; i++)); do
    grep -q "^node$i " "$state/hosts" || die "cluster $name has no node$i (up --nodes $nodes)"
    want+=("slurmd.node$i")
  done
  sd="$(slurm_dir)"
  conf="$sd/etc/slurm.conf"
  if [ -f "$conf" ] && slurm_alive "${want[@]}"; then
    say "Slurm is up already on cluster $name"
    echo "export SLURM_CONF=$conf"
    return 0
  fi
  if [ -d "$sd" ]; then do_slurm_down >/dev/null 2>&1 || true; fi
  trap 'rc=$?; if [ $rc -ne 0 ]; then slurm_logs; do_slurm_down || true; fi' EXIT
  mkdir -p "$sd"/{etc,run,log,state,spool,tmp,munge}
  chmod 0755 "$sd"
  chown munge:munge "$sd/munge"
  chmod 0711 "$sd/munge"
  sock="$sd/munge/munge.socket.2"
  setpriv --reuid=munge --regid=munge --init-groups \
    dd if=/dev/urandom of="$sd/munge/munge.key" bs=1024 count=1 status=none
  chmod 0400 "$sd/munge/munge.key"
  # Daemons are started as simple commands in the background (not through a shell function),
  # so that $! is the daemon itself: nsenter and setsid exec, they do not fork here.
  # One munged for the whole cluster, on head: its socket is a file, which every node sees.
  nsenter --net="/run/netns/$(ns_of head)" --uts="$(uts_of head)" -- setsid setpriv --reuid=munge --regid=munge --init-groups \
    munged --foreground --socket="$sock" --key-file="$sd/munge/munge.key" \
    --pid-file="$sd/munge/munged.pid" --log-file="$sd/log/munged.log" \
    --seed-file="$sd/munge/munged.seed" 9<&- </dev/null >"$sd/log/munged.out" 2>&1 &
  echo $! >"$sd/run/munged.pid"
  for ((i = 0; i < 50; i++)); do [ -S "$sock" ] && break; sleep 0.1; done
  [ -S "$sock" ] || die "munged did not create $sock"
  mem=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 / (2 * nodes) ))
  {
    cat <<CONF
# Written by scripts/cluster.sh slurm-up: Slurm across the simulated nodes of cluster $name.
ClusterName=$name
SlurmctldHost=head($head_addr)
SlurmctldPort=6817
SlurmdPort=6818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$sd/state
SlurmdSpoolDir=$sd/spool/%n
SlurmctldPidFile=$sd/run/slurmctld.daemon.pid
SlurmdPidFile=$sd/run/slurmd.%n.daemon.pid
SlurmctldLogFile=$sd/log/slurmctld.log
SlurmdLogFile=$sd/log/slurmd.%n.log
TmpFS=$sd/tmp/%n
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
SchedulerParameters=sched_interval=1
CONF
    for ((i = 1; i <= nodes; i++)); do
      echo "NodeName=node$i NodeAddr=$subnet.$i CPUs=$cpus Boards=1 SocketsPerBoard=1" \
           "CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN"
    done
    echo "PartitionName=nodes Nodes=node[1-$nodes] Default=YES MaxTime=INFINITE State=UP"
  } >"$conf"
  for ((i = 1; i <= nodes; i++)); do mkdir -p "$sd/tmp/node$i" "$sd/spool/node$i"; done
  export SLURM_CONF="$conf"
  nsenter --net="/run/netns/$(ns_of head)" --uts="$(uts_of head)" -- setsid slurmctld -D -i -f "$conf" 9<&- </dev/null >"$sd/log/slurmctld.out" 2>&1 &
  echo $! >"$sd/run/slurmctld.pid"
  # nsenter, not `ip netns exec`, which remounts /sys and so hides /sys/fs/cgroup from slurmd.
  for ((i = 1; i <= nodes; i++)); do
    h="node$i"
    nsenter --net="/run/netns/$(ns_of "$h")" --uts="$(uts_of "$h")" -- \
      setsid slurmd -D -f "$conf" -N "$h" 9<&- </dev/null >"$sd/log/slurmd.$h.out" 2>&1 &
    echo $! >"$sd/run/slurmd.$h.pid"
  done
  local idle=0 states=""
  for ((i = 0; i < 150; i++)); do
    slurm_alive "${want[@]}" || die "a Slurm daemon exited during start-up"
    states="$(on_head sinfo -h -N -o '%N %t' 2>/dev/null || true)"
    idle="$(grep -cE ' (idle|mix|alloc)$' <<<"$states" || true)"
    [ "$idle" -eq "$nodes" ] && break
    sleep 0.2
  done
  [ "$idle" -eq "$nodes" ] || die "the nodes did not become idle within 30 s: $states"
  trap - EXIT
  echo "export SLURM_CONF=$conf" >"$sd/env"
  say "Slurm up on cluster $name: slurmctld and munged on head, slurmd on" \
    "$(awk '{print $1}' <<<"$states" | tr '\n' ' ')($cpus CPUs declared each)"
  cat "$sd/env"
}

do_exec() {
  local host="$1"; shift
  [ $# -gt 0 ] || usage
  if [ ! -e "/run/netns/$(ns_of "$host")" ] || [ ! -e "$(uts_of "$host")" ]; then
    die "no host '$host' in cluster $name (is it up? hosts: $(hosts | awk '{print $1}' | tr '\n' ' '))"
  fi
  # nsenter, not `ip netns exec`: the latter remounts /sys, which hides /sys/fs/cgroup.
  exec nsenter --net="/run/netns/$(ns_of "$host")" --uts="$(uts_of "$host")" -- "$@"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  up)
    nodes=3
    while [ $# -gt 0 ]; do
      case "$1" in
        --nodes) nodes="${2:?--nodes needs a number}"; shift 2 ;;
        *) usage ;;
      esac
    done
    [[ "$nodes" =~ ^[1-9]$ ]] || die "--nodes $nodes: 1 to 9"
    lock
    do_up "$nodes" ;;
  down) [ $# -eq 0 ] || usage; lock; do_down 0 ;;
  status) do_status ;;
  exec) [ $# -ge 2 ] || usage; do_exec "$@" ;;
  hosts) hosts ;;
  pids) [ $# -eq 1 ] || usage; pids_in "$1" ;;
  counters)
    hosts | while read -r host addr; do echo "$host $(counter "$host" rx) $(counter "$host" tx)"; done ;;
  mpirun-args)
    here="$(dirname "$script")"
    # --bind-to none: every node sees the same cores. mpi_yield_when_idle: the nodes share the
    # machine's cores, so ranks that poll for messages must yield them (a real node would not).
    echo "--bind-to none --mca plm_rsh_agent $here/cluster_rsh.sh" \
         "--mca btl_tcp_if_include $subnet.0/24 --mca oob_tcp_if_include $subnet.0/24" \
         "--mca mpi_yield_when_idle 1" ;;
  slurm-up)
    nodes=2 cpus=8
    while [ $# -gt 0 ]; do
      case "$1" in
        --nodes) nodes="${2:?--nodes needs a number}"; shift 2 ;;
        --cpus) cpus="${2:?--cpus needs a number}"; shift 2 ;;
        *) usage ;;
      esac
    done
    [[ "$nodes" =~ ^[1-9]$ ]] || die "--nodes $nodes: 1 to 9"
    [[ "$cpus" =~ ^[1-9][0-9]*$ ]] || die "--cpus $cpus: a positive number"
    lock
    do_slurm_up "$nodes" "$cpus" ;;
  slurm-down) lock; do_slurm_down ;;
  -h|--help|help) usage 0 ;;
  *) usage ;;
esac
