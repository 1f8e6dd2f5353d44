#!/usr/bin/env bash
# Measurements on the simulated cluster (not a test; for docs/scaling.md and docs/multinode.md):
#
#   tests/multinode/measure.sh latency [OUTDIR]   MPI round trip and pmap's cost per dynamic claim,
#                                                 inside one node (vader) and between two (tcp)
#   tests/multinode/measure.sh scaling [OUTDIR]   scripts/scaling.sh over 1, 2 and 3 nodes
#                                                 (1 and 2 ranks a node, compute_x sleeps)
#
# Needs the cluster up (scripts/cluster.sh up) and mpicc for the ping-pong. PMAP_BIN as in the
# tests. Prints markdown tables; the raw runs stay in OUTDIR (default $TMPDIR/pmap-measure).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cluster="$root/scripts/cluster.sh"
pmap="${PMAP_BIN:-$root/build/pmap}"
what="${1:?usage: measure.sh latency|scaling [OUTDIR]}"
out="${2:-${TMPDIR:-/tmp}/pmap-measure}"
py=/usr/bin/python3
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
unset OMP_NUM_THREADS SLURM_JOB_ID
"$cluster" status >/dev/null || { echo "measure.sh: the cluster is not up (scripts/cluster.sh up)" >&2; exit 1; }

on() {   # HOSTS mpirun-args... : mpirun from node1
  local hosts="$1"; shift
  # shellcheck disable=SC2046
  "$cluster" exec node1 mpirun -H "$hosts" $("$cluster" mpirun-args) "$@"
}

latency() {
  cat >"$out/pingpong.c" <<'C'
#include <mpi.h>
#include <stdio.h>
int main(int argc, char** argv) {
  int provided, rank, n = 20000;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  long buf[4] = {0};
  for (int round = 0; round < 2; ++round) {   /* round 0 warms up */
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int i = 0; i < n; ++i) {
      if (rank == 0) {
        MPI_Send(buf, 4, MPI_LONG, 1, 0, MPI_COMM_WORLD);
        MPI_Recv(buf, 4, MPI_LONG, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      } else if (rank == 1) {
        MPI_Recv(buf, 4, MPI_LONG, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Send(buf, 4, MPI_LONG, 0, 0, MPI_COMM_WORLD);
      }
    }
    if (round == 1 && rank == 0) printf("%.2f\n", (MPI_Wtime() - t0) / n * 1e6);
  }
  MPI_Finalize();
  return 0;
}
C
  mpicc -O2 -o "$out/pingpong" "$out/pingpong.c"
  local same=() other=() i
  for i in 1 2 3 4 5; do
    same+=("$(on node1:2 -np 2 "$out/pingpong")")
    other+=("$(on node1:1,node2:1 -np 2 "$out/pingpong")")
  done
  # pmap: rank 0 (the coordinator; its own worker sits in one 3 s item) and one claimer with
  # chunk 1 and zero-cost items: the claimer's wall / its items = one claim + one tiny HDF5 write.
  local n=2000 c_same=() c_other=()
  claim() {   # HOSTS TAG
    local job=(run --kernel compute_x --range "0:$n" --chunk 1 --threads 1 --progress none
               --output "$out/claims-$2.h5" --force)
    on "$1" -np 1 "$pmap" "${job[@]}" --arg sleep=3 : -np 1 "$pmap" "${job[@]}" --arg sleep=0 \
      >"$out/claims-$2.log" 2>&1
    "$py" -c "
import h5py, sys
r = h5py.File(sys.argv[1], 'r')['compute']['ranks'][()]
x = [x for x in r if int(x['rank']) == 1][0]
print('%.1f' % (float(x['wall_seconds']) / x['items'] * 1e6))
" "$out/claims-$2.h5"
  }
  for i in 1 2 3 4 5; do
    c_same+=("$(claim node1:2 same)")
    c_other+=("$(claim node1:1,node2:1 other)")
  done
  stats() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {printf "%s (%s-%s)", v[int((NR + 1) / 2)], v[1], v[NR]}'; }
  echo "| path | MPI ping-pong round trip, us | pmap: us per one-item chunk claimed and written |"
  echo "| --- | ---: | ---: |"
  echo "| inside node1 (vader) | $(stats "${same[@]}") | $(stats "${c_same[@]}") |"
  echo "| node2 -> node1 (tcp over veth + bridge) | $(stats "${other[@]}") | $(stats "${c_other[@]}") |"
  echo
  echo "median (min-max) of 5 runs; 2 ranks; Open MPI with mpi_yield_when_idle=1 (the simulated nodes share 2 cores)"
}

scaling() {
  local nodes hf layouts dir
  for nodes in 1 2 3; do
    hf="$out/hostfile.$nodes"
    : >"$hf"
    for ((i = 1; i <= nodes; i++)); do echo "node$i slots=2" >>"$hf"; done
    case "$nodes" in 1) layouts="1x1 2x1" ;; 2) layouts="2x1 4x1" ;; 3) layouts="3x1 6x1 6x2" ;; esac
    dir="$out/scaling-$nodes-nodes"
    rm -rf "$dir"
    # scripts/scaling.sh runs `mpirun -np R`: the cluster's options come in as OMPI_MCA_ variables,
    # ranks go round-robin over the hostfile's nodes (R=2 on 2 nodes: one each).
    # shellcheck disable=SC2046
    "$cluster" exec node1 env \
      OMPI_MCA_orte_default_hostfile="$hf" OMPI_MCA_rmaps_base_mapping_policy=node \
      OMPI_MCA_plm_rsh_agent="$root/scripts/cluster_rsh.sh" \
      OMPI_MCA_btl_tcp_if_include="$(mca_subnet)" OMPI_MCA_oob_tcp_if_include="$(mca_subnet)" \
      OMPI_MCA_mpi_yield_when_idle=1 \
      "$root/scripts/scaling.sh" --layouts "$layouts" --reps 3 --study strong --pmap "$pmap" \
      --out "$dir" --title "compute_x sleep 0.05 s x 240 items on $nodes simulated node(s)" \
      -- run --kernel compute_x --range 0:240 --arg sleep=0.05 >"$out/scaling-$nodes.log" 2>&1 ||
      { echo "scaling.sh on $nodes nodes failed: $(tail -5 "$out/scaling-$nodes.log")" >&2; exit 1; }
  done
  "$py" - "$out" <<'PY'
import csv, statistics, sys, glob, os
out = sys.argv[1]
rows = []
for nodes in (1, 2, 3):
    runs = list(csv.DictReader(open(f"{out}/scaling-{nodes}-nodes/runs.csv")))
    for layout in dict.fromkeys(r["layout"] for r in runs):
        rs = [r for r in runs if r["layout"] == layout and r["exit_code"] == "0"]
        ranks, threads = int(rs[0]["ranks"]), int(rs[0]["threads"])
        rows.append((nodes, ranks, threads,
                     statistics.median(float(r["wall_seconds"]) for r in rs),
                     statistics.median(float(r["launch_seconds"]) for r in rs),
                     statistics.median(float(r["load_imbalance"]) for r in rs),
                     statistics.median(int(r["remote_claims"]) for r in rs),
                     {r["checksum"] for r in rs}))
base = rows[0][3]
print("| nodes | ranks (per node) | threads | workers | wall s (median of 3) | speedup | efficiency | imbalance | remote claims | mpirun total s |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for nodes, ranks, threads, wall, launch, imb, claims, sums in rows:
    w = ranks * threads
    per = ranks // nodes if ranks >= nodes else 1
    print(f"| {nodes} | {ranks} ({per}) | {threads} | {w} | {wall:.3f} | {base / wall:.2f} | "
          f"{base / wall / w:.0%} | {imb:.2f} | {claims:.0f} | {launch:.2f} |")
allsums = set().union(*(r[7] for r in rows))
print()
print(f"checksums: {' '.join(sorted(allsums))} ({'all equal' if len(allsums) == 1 else 'DIFFER'})")
PY
}

mca_subnet() { "$cluster" mpirun-args | sed -n 's/.*btl_tcp_if_include \([^ ]*\).*/\1/p'; }

case "$what" in
  latency) latency ;;
  scaling) scaling ;;
  *) echo "usage: measure.sh latency|scaling [OUTDIR]" >&2; exit 2 ;;
esac
