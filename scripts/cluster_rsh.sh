#!/usr/bin/env bash
# The "ssh" of the simulated cluster (scripts/cluster.sh): Open MPI calls it as its remote shell
# agent (`mpirun --mca plm_rsh_agent scripts/cluster_rsh.sh -H node1:2,node2:2 ...`) to start
# its daemon (orted) on another node, exactly as it would call `ssh HOST COMMAND...`.
#
#   cluster_rsh.sh [ssh options] HOST COMMAND...
#
# HOST is a host name of the cluster (node1, node2, ..., head) or its address on the cluster's
# subnet. The command runs in HOST's network and UTS namespaces (its eth0, its hostname), through
# /bin/sh -c with the words joined by spaces as ssh does, so the quoting Open MPI adds for a
# remote shell works unchanged. stdin, stdout, stderr and the exit code pass through, like ssh.
# Environment: PMAP_CLUSTER, PMAP_CLUSTER_STATE as for cluster.sh (inherited from mpirun).
set -eu

name="${PMAP_CLUSTER:-pmapc}"
state="${PMAP_CLUSTER_STATE:-/run/$name}"
prog="cluster_rsh.sh"

# Skip ssh-style options (Open MPI passes none to an agent it does not know, but be lenient).
while [ $# -gt 0 ]; do
  case "$1" in
    -[46AaCfGgKkMNnqsTtVvXxYy]) shift ;;
    -[BbcDEeFIiJLlmOopQRSWw]) shift 2 ;;
    -[BbcDEeFIiJLlmOopQRSWw]?*) shift ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || { echo "$prog: usage: $prog HOST COMMAND..." >&2; exit 255; }
host="$1"
shift
host="${host#*@}"   # user@host

[ -s "$state/hosts" ] || { echo "$prog: cluster $name is not up (no $state/hosts)" >&2; exit 255; }
node=""
while read -r h a; do
  if [ "$host" = "$h" ] || [ "$host" = "$a" ] || [ "${host%%.*}" = "$h" ]; then
    node="$h"
    break
  fi
done <"$state/hosts"
[ -n "$node" ] || { echo "$prog: $host: no such host in cluster $name" >&2; exit 255; }

# nsenter keeps the caller's mount namespace (shared files) and cgroup; ssh would start a login
# shell: start in the home folder as it does, keep the caller's environment (Open MPI passes what
# orted needs on its command line anyway).
cd "${HOME:-/}" 2>/dev/null || cd /
exec nsenter --net="/run/netns/$name-$node" --uts="$state/uts/$node" -- /bin/sh -c "$*"
