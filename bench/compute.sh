#!/usr/bin/env bash
# pmap compute-stage benchmarks, side by side with the Python anchors (/work/shared/bench).
#
#   ./bench/compute.sh                 all four benchmarks (~8-10 min with RUNS=3 on 2 vCPUs)
#   ONLY="w1 w4" ./bench/compute.sh    a subset (w1 launch, w2 per-item, w3 scaling, w4 balance)
#   ./bench/table.py bench/results     re-print the tables from raw results
#
# Env knobs (defaults in brackets):
#   RUNS [3]            repetitions per configuration (tables report medians)
#   RESULTS [bench/results]  raw results, logs, the compiled MPI hello, result files
#   PMAP [./build/pmap] the binary under test
#   PY [/usr/bin/python3]    Debian python with joblib, mpi4py, h5py (not the pyenv one)
#   ANCHORS [/work/shared/bench]  the anchor benchmark scripts (read-only, called in place)
#   W1_PS ["4 8"]       worker counts of W1
#   W1_ANCHORS ["tpe ppe mp_pool joblib_loky mpi_futures parallel"]  anchor systems timed in the
#                       same hyperfine run as pmap; "run_w1" instead calls $ANCHORS/run_w1.sh
#                       (every anchor system, +~4 min) with RESULTS=$RESULTS/anchor_w1; "" none
#   W1_DIAG [1]         also time the launch-cost ladder (pmap --version, MPI_Init_thread,
#                       parallel-HDF5 create/open) under the same mpirun
#   W2_NS ["1000000 10000000"]   item counts of W2
#   SNAPSHOT [1]        benchmark a copy of $PMAP taken at the start ($RESULTS/pmap)
#   W4_RANGES ["0:2048 0:1024"]  mandelbrot rows of W4: the whole image (the issue's workload;
#                       symmetric, so a 2-rank block split is balanced by luck) and its top half
#                       (cost rises towards the middle: the skewed case)
#   KEEP_H5 [0]         keep W2's large result files (else deleted after verification)
#   LOAD_WAIT [0]       seconds to wait, before each benchmark, for the CPUs to be idle (<20% busy)
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS=${RUNS:-3}
RESULTS=${RESULTS:-bench/results}
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
PMAP=${PMAP:-./build/pmap}
PMAP=$(cd "$(dirname "$PMAP")" && pwd)/$(basename "$PMAP")
PMAP_SOURCE=$PMAP
PY=${PY:-/usr/bin/python3}
ANCHORS=$(cd "${ANCHORS:-/work/shared/bench}" && pwd)
W1_PS=${W1_PS:-4 8}
W1_ANCHORS=${W1_ANCHORS-tpe ppe mp_pool joblib_loky mpi_futures parallel}
W1_DIAG=${W1_DIAG:-1}
W2_NS=${W2_NS:-1000000 10000000}
W4_RANGES=${W4_RANGES:-0:2048 0:1024}
KEEP_H5=${KEEP_H5:-0}
LOAD_WAIT=${LOAD_WAIT:-0}
ONLY=${ONLY:-w1 w2 w3 w4}

# Open MPI as root, and more ranks than cores (W1 runs 8 ranks on 2 cores).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
unset OMP_NUM_THREADS || true

for tool in hyperfine mpirun mpicc h5pcc /usr/bin/time "$PMAP" "$PY"; do
  command -v "$tool" >/dev/null || { echo "compute.sh: '$tool' not found (scripts/setup.sh --bench)" >&2; exit 2; }
done
"$PY" -c 'import h5py, numpy' 2>/dev/null || { echo "compute.sh: $PY lacks h5py/numpy" >&2; exit 2; }
# Benchmark a frozen copy: a rebuild of ./build during the ~8 minutes must not change the binary
# between runs (it links only shared system libraries, so the copy behaves identically).
if [ "${SNAPSHOT:-1}" = 1 ]; then
  cp "$PMAP" "$RESULTS/pmap"
  PMAP=$RESULTS/pmap
fi

# Every run starts in $RESULTS: pmap's default job adds the URL stage when ./data/urls.txt exists
# (it does in the repository), and these benchmarks time the compute stage only.
cd "$RESULTS"

. "$ROOT/bench/lib.sh"  # want, log, median, cpu_busy, check_load

# run_rep TAG LOG CMD...: one timed run; appends "TAG whole_wall=... <pmap-report fields>" to LOG.
run_rep() {
  local tag=$1 logf=$2 out t0 t1 rc=0
  shift 2
  t0=$EPOCHREALTIME
  out=$("$@" 2>>"$RESULTS/stderr.log") || rc=$?
  t1=$EPOCHREALTIME
  local rep
  rep=$(grep '^pmap-report ' <<<"$out" | head -1 || true)
  echo "$tag rc=$rc whole_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.6f", b-a}') ${rep#pmap-report }" >>"$logf"
  if [ "$rc" -ne 0 ]; then echo "compute.sh: '$*' exited $rc (see $RESULTS/stderr.log)" >&2; fi
}

# ---------------------------------------------------------------------------------------------
# Machine description (for the README).
{
  echo "date=$(date -u +%FT%TZ)"
  echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  echo "hypervisor=$(lscpu | sed -n 's/^Hypervisor vendor: *//p')"
  echo "cpus=$(nproc)"
  echo "mem=$(free -g | awk '/^Mem:/{print $2" GiB"}')"
  echo "os=$(. /etc/os-release; echo "$PRETTY_NAME") (debian $(cat /etc/debian_version)), kernel $(uname -r)"
  echo "openmpi=$(mpirun --version | head -1)"
  echo "hdf5=$(dpkg-query -W -f='${Version}' libhdf5-openmpi-dev 2>/dev/null || h5pcc -showconfig | sed -n 's/.*HDF5 Version: *//p')"
  echo "compiler=$(c++ --version | head -1)"
  echo "hyperfine=$(hyperfine --version)"
  echo "python=$("$PY" --version 2>&1)"
  echo "pmap=$("$PMAP" --version), $PMAP_SOURCE built $(date -u -r "$PMAP_SOURCE" +%FT%TZ), sha256 $(sha256sum "$PMAP" | cut -c1-12), git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty')"
  echo "runs=$RUNS"
} >"$RESULTS/machine.txt"
cat "$RESULTS/machine.txt" >&2
: >"$RESULTS/stderr.log"
: >"$RESULTS/load.txt"

# ---------------------------------------------------------------------------------------------
# W1: the tutorial job (compute_x, 10 items, sleep 0.8 s), whole-process wall time.
if want w1; then
  log "W1 launch overhead: compute_x x10, sleep 0.8 s, P = $W1_PS"
  # The launch cost pmap cannot avoid: the same mpirun starting an empty MPI program. The ladder
  # (hello_mt, hello_h5) is the diagnosis: what MPI_THREAD_MULTIPLE and parallel HDF5 add.
  cat >"$RESULTS/hello.c" <<'EOF'
#include <mpi.h>
int main(int argc, char **argv) { MPI_Init(&argc, &argv); MPI_Finalize(); return 0; }
EOF
  cat >"$RESULTS/hello_mt.c" <<'EOF'
#include <mpi.h>
int main(int argc, char **argv) {
  int provided; MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  MPI_Finalize(); return provided == MPI_THREAD_MULTIPLE ? 0 : 1;
}
EOF
  cat >"$RESULTS/hello_h5.c" <<'EOF'
/* MPI_THREAD_MULTIPLE + what pmap does with parallel HDF5 around the work: rank 0 creates the
   file, then all ranks open it with MPI-IO and close it. argv[1]: the file. */
#include <hdf5.h>
#include <mpi.h>
int main(int argc, char **argv) {
  int provided, rank; MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) { hid_t f = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT); H5Fclose(f); }
  MPI_Barrier(MPI_COMM_WORLD);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS); H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL);
  hid_t f = H5Fopen(argv[1], H5F_ACC_RDWR, fapl); H5Fclose(f); H5Pclose(fapl);
  MPI_Finalize(); return 0;
}
EOF
  mpicc -O2 -o "$RESULTS/hello" "$RESULTS/hello.c"
  mpicc -O2 -o "$RESULTS/hello_mt" "$RESULTS/hello_mt.c"
  h5pcc -O2 -o "$RESULTS/hello_h5" "$RESULTS/hello_h5.c" 2>>"$RESULTS/stderr.log"
  # hello_mt linked with Debian's parallel HDF5 but calling none of it: what merely loading it
  # (and the 31 more libraries it pulls in, libcurl's among them) costs at MPI_Init.
  h5pcc -O2 -o "$RESULTS/hello_mt_linked" "$RESULTS/hello_mt.c" -Wl,--no-as-needed -lhdf5 \
    2>>"$RESULTS/stderr.log"

  for P in $W1_PS; do
    check_load "w1_P$P"
    out="$RESULTS/w1"
    pm="$PMAP --force --progress none"
    cmds=(
      -n "pmap, mpirun -np $P P=$P"               "mpirun -np $P $pm --output $out-np$P.h5"
      -n "empty MPI program, mpirun -np $P P=$P"  "mpirun -np $P $RESULTS/hello"
      -n "pmap --threads $P, one process P=$P"     "$pm --threads $P --output $out-t$P.h5"
      -n "pmap, mpirun -np $P, sleep=0 P=$P"       "mpirun -np $P $pm --arg sleep=0 --output $out-np$P-s0.h5"
      -n "pmap --threads $P, sleep=0 P=$P"         "$pm --threads $P --arg sleep=0 --output $out-t$P-s0.h5"
    )
    if [ "$W1_DIAG" = 1 ]; then
      cmds+=(
        -n "diag: mpirun -np $P pmap --version (launch + exec, no MPI_Init) P=$P" "mpirun -np $P $PMAP --version"
        -n "diag: MPI_Init_thread(MULTIPLE) program, mpirun -np $P P=$P"         "mpirun -np $P $RESULTS/hello_mt"
        -n "diag: same, only linked with libhdf5 (no call), mpirun -np $P P=$P"  "mpirun -np $P $RESULTS/hello_mt_linked"
        -n "diag: + parallel HDF5 create/open/close, mpirun -np $P P=$P"         "mpirun -np $P $RESULTS/hello_h5 $out-h5diag.h5"
      )
      if [ "$P" = "${W1_PS%% *}" ]; then   # one-process ladder: independent of P, timed once
        cmds+=(
          -n "diag1: pmap --version, one process (exec + loading pmap's libraries)" "$PMAP --version"
          -n "diag1: empty MPI program, singleton as pmap starts it (ess isolated, pml ob1)" \
             "OMPI_MCA_ess_singleton_isolated=1 OMPI_MCA_pml=ob1 $RESULTS/hello"
          -n "diag1: empty MPI program, plain singleton" "$RESULTS/hello"
          -n "diag1: MPI_Init_thread(MULTIPLE) program, singleton as pmap starts it" \
             "OMPI_MCA_ess_singleton_isolated=1 OMPI_MCA_pml=ob1 $RESULTS/hello_mt"
          -n "diag1: + parallel HDF5 create/open/close, singleton as pmap starts it" \
             "OMPI_MCA_ess_singleton_isolated=1 OMPI_MCA_pml=ob1 $RESULTS/hello_h5 $out-h5diag1.h5"
        )
      fi
    fi
    S="$PY $ANCHORS/w1_seed_sleep.py --quiet --n 10"
    for a in $W1_ANCHORS; do
      case $a in
        run_w1) ;;
        tpe)        cmds+=(-n "anchor: ThreadPoolExecutor P=$P" "$S --system tpe --workers $P") ;;
        ppe)        cmds+=(-n "anchor: ProcessPoolExecutor P=$P" "$S --system ppe --workers $P") ;;
        mp_pool)    cmds+=(-n "anchor: multiprocessing.Pool.map P=$P" "$S --system mp_pool --workers $P") ;;
        joblib_loky) cmds+=(-n "anchor: joblib loky P=$P" "$S --system joblib_loky --workers $P") ;;
        joblib_threading) cmds+=(-n "anchor: joblib threading P=$P" "$S --system joblib_threading --workers $P") ;;
        mpi_futures) cmds+=(-n "anchor: mpi4py.futures, mpirun -np $((P+1)) P=$P"
                            "mpirun -np $((P+1)) $PY -m mpi4py.futures $ANCHORS/w1_seed_sleep.py --quiet --n 10 --system mpi_futures --workers $P") ;;
        mpi_spawn)  cmds+=(-n "anchor: mpi4py.futures, singleton + Comm_spawn P=$P" "mpirun -np 1 $S --system mpi_spawn --workers $P") ;;
        parallel)   cmds+=(-n "anchor: GNU parallel -j$P sleep 0.8 P=$P"
                           "parallel --will-cite -j$P 'sleep 0.8; echo \"({}, 2)\"' ::: \$(seq 1 10) >/dev/null") ;;
        *) echo "compute.sh: unknown W1 anchor '$a'" >&2; exit 2 ;;
      esac
    done
    hyperfine --warmup 1 --runs "$RUNS" --style basic --export-json "$RESULTS/w1_P$P.json" "${cmds[@]}" \
      >"$RESULTS/w1_P$P.hyperfine.txt"
    grep -E '^(Benchmark|  Time)' "$RESULTS/w1_P$P.hyperfine.txt" >&2 || true
    check_load "w1_P$P-after" nowait
  done

  if [[ " $W1_ANCHORS " == *" run_w1 "* ]]; then
    log "W1 anchors: $ANCHORS/run_w1.sh (all Python systems) -> $RESULTS/anchor_w1"
    check_load "w1_anchor"
    mkdir -p "$RESULTS/anchor_w1"
    RESULTS="$RESULTS/anchor_w1" RUNS=$RUNS PY=$PY PS="$W1_PS" "$ANCHORS/run_w1.sh" >/dev/null
  fi
fi

# ---------------------------------------------------------------------------------------------
# W2: per-item overhead, 10^6 and 10^7 empty items at -np 2, every result in the HDF5 file.
if want w2; then
  log "W2 per-item overhead: spin seconds=0, N = $W2_NS, mpirun -np 2"
  check_load w2
  : >"$RESULTS/w2.txt"
  w2_once() {  # N REP
    local n=$1 r=$2 h5="$RESULTS/w2_n$1.h5" tf="$RESULTS/w2_n$1_r$2.time"
    rm -f "$h5" "$tf"
    sync
    # /usr/bin/time wraps each rank (not mpirun): its %M is that rank's peak RSS.
    run_rep "n=$n rep=$r" "$RESULTS/w2.txt" \
      mpirun -np 2 /usr/bin/time -a -o "$tf" -f "rank_rss_kib=%M rank_wall=%e rank_user=%U rank_sys=%S" \
      "$PMAP" --kernel spin --arg seconds=0 --range "0:$n" --force --progress none --output "$h5"
    local rss
    rss=$(grep -o 'rank_rss_kib=[0-9]*' "$tf" | cut -d= -f2 | paste -sd, -)
    sed -i "\$s/\$/ rank_rss_kib=$rss/" "$RESULTS/w2.txt"
  }
  first=${W2_NS%% *}
  w2_once "$first" 0   # warm-up (page cache, dynamic loader), recorded as rep=0 and ignored
  for r in $(seq 1 "$RUNS"); do
    for n in $W2_NS; do w2_once "$n" "$r"; done
  done
  for n in $W2_NS; do
    "$PY" "$ROOT/bench/table.py" verify "$RESULTS/w2_n$n.h5" "$n" | tee -a "$RESULTS/w2_verify.txt" >&2
    [ "$KEEP_H5" = 1 ] || rm -f "$RESULTS/w2_n$n.h5"
  done
  check_load w2-after nowait
fi

# ---------------------------------------------------------------------------------------------
# W3: CPU-bound scaling, spin 0.01 s x 400 items (4 s of CPU).
if want w3; then
  log "W3 CPU-bound scaling: spin seconds=0.01 x 400"
  check_load w3
  : >"$RESULTS/w3.txt"
  args=(--kernel spin --arg seconds=0.01 --range 0:400 --force --progress none)
  w3_round() {  # REP: every configuration once, interleaved so that noise hits all alike
    local r=$1
    run_rep "config=1x1 launcher=none rep=$r" "$RESULTS/w3.txt" "$PMAP" "${args[@]}" --threads 1 --output "$RESULTS/w3_1x1.h5"
    run_rep "config=1x1 launcher=mpirun rep=$r" "$RESULTS/w3.txt" mpirun -np 1 "$PMAP" "${args[@]}" --threads 1 --output "$RESULTS/w3_1x1m.h5"
    run_rep "config=2x1 launcher=mpirun rep=$r" "$RESULTS/w3.txt" mpirun -np 2 "$PMAP" "${args[@]}" --threads 1 --output "$RESULTS/w3_2x1.h5"
    run_rep "config=1x2 launcher=none rep=$r" "$RESULTS/w3.txt" "$PMAP" "${args[@]}" --threads 2 --output "$RESULTS/w3_1x2.h5"
  }
  w3_round 0   # warm-up
  for r in $(seq 1 "$RUNS"); do w3_round "$r"; done
  check_load w3-after nowait
fi

# ---------------------------------------------------------------------------------------------
# W4: load balance, mandelbrot 2048 rows (width 2048, max_iter 1000) at -np 2, four schedules.
if want w4; then
  log "W4 load balance: mandelbrot rows $W4_RANGES, mpirun -np 2, static/cyclic/dynamic/guided"
  check_load w4
  : >"$RESULTS/w4.txt"
  margs=(--kernel mandelbrot --force --progress none)
  w4_round() {
    local r=$1 s range
    for range in $W4_RANGES; do
      for s in static cyclic dynamic guided; do
        run_rep "range=$range schedule=$s ranks=2 rep=$r" "$RESULTS/w4.txt" \
          mpirun -np 2 "$PMAP" "${margs[@]}" --range "$range" --schedule "$s" --output "$RESULTS/w4_$s.h5"
      done
      # One worker: its wall / 2 is a lower bound measured without any scheduling at all.
      run_rep "range=$range schedule=serial ranks=1 rep=$r" "$RESULTS/w4.txt" \
        "$PMAP" "${margs[@]}" --range "$range" --threads 1 --output "$RESULTS/w4_serial.h5"
    done
  }
  w4_round 0
  for r in $(seq 1 "$RUNS"); do w4_round "$r"; done
  check_load w4-after nowait
fi

log "tables"
"$PY" "$ROOT/bench/table.py" "$RESULTS" | tee "$RESULTS/tables.md"
