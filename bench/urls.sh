#!/usr/bin/env bash
# pmap URL-stage benchmarks (issue 3, "Benchmarks"), side by side with the Python/curl anchors of
# ../shared/bench (called in place, never copied), against one local C++ fixture server.
#
#   ./bench/urls.sh                            A, B and C (~10 min with RUNS=3 on 2 vCPUs, plus LOAD_WAIT)
#   ONLY="a" RUNS=1 WARMUP=0 ./bench/urls.sh   one section, one run (a smoke test)
#   PMAP=build-x/pmap FIXTURE=build-x/pmap_http_fixture ./bench/urls.sh   another build
#   ./bench/url_table.py bench/results/urls    re-print the tables from the raw results
#
# A  1,000 URLs (make_urls.py default mix: 70% 200, 15% 404, 5% 500, 5% 301 -> 200, 5% hang;
#    seed 42), server delay 50 ms, client timeout 2 s, C = 32 and 128: pmap as one process
#    (--threads C) and under `mpirun -np 2` (--threads C/2 each), against requests +
#    ThreadPoolExecutor, requests + joblib threading and curl --parallel (w4_url_check.py,
#    w4_curl.sh). Every verdict of every run is checked against the expected TSV (check_counts.py
#    on `--print`, and the HDF5 file row by row). Bounds from make_urls.py --bound C.
#    pmap runs with --threads C --per-host C --timeout 2 --retries 0: exactly one attempt per
#    URL like the anchors (with the default --retries 2 this mix would not be retried either:
#    500 and timeouts are final; only refused/reset connections would be).
# B  raw loopback throughput at zero delay (all /ok/N): pmap at C=32 against requests +
#    ThreadPoolExecutor at C=32 (fewer URLs: it is slow), then capacity probes on the same server
#    (curl --parallel, pmap at a higher concurrency) and the server's own CPU per request.
# C  10,000 / 30,000 / 100,000 URLs (all /ok/N) at concurrency 1,000 with 100 ms delay:
#    `mpirun -np 2` x 500 threads and one process x 1,000 threads, both writing the HDF5 file
#    (and, as a diagnosis, one process with --print and no file); wall against the bound
#    N x 0.1 s / 1,000, peak RSS per rank (/usr/bin/time around each rank) as the list grows.
#
# One server per section (same for every client of the section): tests/support/http_fixture.cpp
# with --anchor-routes (url_server.py's paths and semantics) and, so that pmap under mpirun has
# work on both ranks (it shards URLs by a hash of the host), --also-host 127.0.0.2: every other
# URL of the lists pmap gets under mpirun names host 127.0.0.2 (FNV-1a puts it on the other rank).
# Its /stats gives requests, the most in flight at once and its CPU time: the tables show the
# server's busy fraction and CPU per request (its capacity) next to every client.
#
# Env knobs (defaults in brackets):
#   RUNS [3]              timed runs per configuration (medians); runs are interleaved round-robin
#   WARMUP [1]            untimed warm-up rounds first (their verdicts are checked too)
#   ONLY ["a b c"]        sections to run
#   RESULTS [bench/results/urls]   raw results (runs.jsonl, bounds, machine, load, logs), urls.md
#   PMAP [build/pmap]     the binary under test; FIXTURE [build/pmap_http_fixture] the server
#   SNAPSHOT [1]          benchmark copies of PMAP and FIXTURE taken at the start
#   PY [/usr/bin/python3] Debian python with requests, joblib, h5py
#   ANCHORS [/work/shared/bench]   the anchor scripts (read-only, called in place)
#   A_N [1000] A_SEED [42] A_DELAY_MS [50] A_TIMEOUT [2] A_CONCS ["32 128"]
#   A_SYSTEMS ["pmap pmap_mpi tpe joblib curl"]   also: threadpool (multiprocessing ThreadPool),
#                         xargs (xargs -P curl, a process per URL)
#   B_N [20000] (pmap, curl) B_TPE_N [4000] (ThreadPoolExecutor) B_CONC [32] B_HICONC [128]
#   B_SYSTEMS ["pmap tpe curl pmap_hi curl_hi"]   *_hi: capacity probes at B_HICONC
#   C_NS ["10000 30000 100000"] C_DELAY_MS [100] C_CONC [1000] C_TIMEOUT [10]
#   C_LAYOUTS ["2x500 1x1000 1x1000:print"]   RANKSxTHREADS (RANKS x THREADS = C_CONC), with
#                         the results file; RxT:print = --print without a file (what the HDF5
#                         writes cost; a diagnosis, not a target row)
#   KEEP_H5 [0]           keep pmap's result files (else deleted once checked)
#   LOAD_WAIT [0]         seconds to wait, before each section, for the CPUs to be idle (<20% busy)
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS=${RUNS:-3}
WARMUP=${WARMUP:-1}
ONLY=${ONLY:-a b c}
RESULTS=${RESULTS:-bench/results/urls}
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
PMAP=$(abspath "${PMAP:-build/pmap}")
FIXTURE=$(abspath "${FIXTURE:-build/pmap_http_fixture}")
PY=${PY:-/usr/bin/python3}
ANCHORS=$(cd "${ANCHORS:-/work/shared/bench}" && pwd)
TABLE=$ROOT/bench/url_table.py
A_N=${A_N:-1000}; A_SEED=${A_SEED:-42}; A_DELAY_MS=${A_DELAY_MS:-50}; A_TIMEOUT=${A_TIMEOUT:-2}
A_CONCS=${A_CONCS:-32 128}
A_SYSTEMS=${A_SYSTEMS:-pmap pmap_mpi tpe joblib curl}
B_N=${B_N:-20000}; B_TPE_N=${B_TPE_N:-4000}; B_CONC=${B_CONC:-32}; B_HICONC=${B_HICONC:-128}
B_SYSTEMS=${B_SYSTEMS:-pmap tpe curl pmap_hi curl_hi}
C_NS=${C_NS:-10000 30000 100000}; C_DELAY_MS=${C_DELAY_MS:-100}; C_CONC=${C_CONC:-1000}
C_TIMEOUT=${C_TIMEOUT:-10}
C_LAYOUTS=${C_LAYOUTS:-2x500 1x1000 1x1000:print}
KEEP_H5=${KEEP_H5:-0}
LOAD_WAIT=${LOAD_WAIT:-0}

# Open MPI as root; 2 ranks with 500 threads each on 2 cores needs no binding.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
MPIRUN=(mpirun --bind-to none)
unset OMP_NUM_THREADS || true
export no_proxy='*' NO_PROXY='*'   # loopback only, whatever the environment says

for tool in mpirun curl /usr/bin/time "$PMAP" "$FIXTURE" "$PY"; do
  command -v "$tool" >/dev/null || { echo "urls.sh: '$tool' not found (build it, or scripts/setup.sh --bench)" >&2; exit 2; }
done
for f in make_urls.py check_counts.py w4_url_check.py w4_curl.sh; do
  [ -r "$ANCHORS/$f" ] || { echo "urls.sh: $ANCHORS/$f missing (set ANCHORS)" >&2; exit 2; }
done
"$PY" -c 'import requests, joblib, h5py' 2>/dev/null || { echo "urls.sh: $PY lacks requests/joblib/h5py" >&2; exit 2; }

# 1,000 concurrent sockets in the clients (and the fixture, which raises its own limit): pmap
# uses ~3 descriptors per I/O thread (the socket and libcurl's wake-up pair).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((3 * C_CONC + 256)) ]; then
  echo "urls.sh: WARNING: ulimit -n is $(ulimit -n), below 3 x C_CONC + 256: section C may fail" >&2
fi

if [ "${SNAPSHOT:-1}" = 1 ]; then   # a rebuild during the run must not change the binaries
  cp "$PMAP" "$RESULTS/pmap"; PMAP_SOURCE=$PMAP; PMAP=$RESULTS/pmap
  cp "$FIXTURE" "$RESULTS/pmap_http_fixture"; FIXTURE_SOURCE=$FIXTURE; FIXTURE=$RESULTS/pmap_http_fixture
else
  PMAP_SOURCE=$PMAP; FIXTURE_SOURCE=$FIXTURE
fi
TMPD=$RESULTS/tmp
rm -rf "$TMPD"; mkdir -p "$TMPD"
# Peak RSS and CPU of each MPI rank: /usr/bin/time around the rank, one file per rank.
cat >"$RESULTS/rank_time.sh" <<'EOF'
#!/bin/sh
# rank_time.sh PREFIX CMD...: runs CMD under /usr/bin/time, writing "maxrss_kib wall user sys"
# to PREFIX.rank<MPI rank>.
prefix=$1; shift
exec /usr/bin/time -f '%M %e %U %S' -o "$prefix.rank${OMPI_COMM_WORLD_RANK:-0}" "$@"
EOF
chmod +x "$RESULTS/rank_time.sh"
RANK_TIME=$RESULTS/rank_time.sh

. "$ROOT/bench/lib.sh"  # want, log, median, cpu_busy, check_load

# ------------------------------------------------------------------------------ the fixture
FX_PID=""
PORT=""
stop_fixture() {
  if [ -n "$FX_PID" ]; then
    kill "$FX_PID" 2>/dev/null || true
    wait "$FX_PID" 2>/dev/null || true
  fi
  FX_PID=""
}
trap stop_fixture EXIT

start_fixture() {  # TAG ARGS...: one server for a section; sets PORT
  local tag=$1; shift
  stop_fixture
  "$FIXTURE" --anchor-routes --also-host 127.0.0.2 --max-seconds 3600 "$@" \
    </dev/null >"$RESULTS/fixture_$tag.out" 2>&1 &
  FX_PID=$!
  for _ in $(seq 100); do
    grep -q '^READY ' "$RESULTS/fixture_$tag.out" 2>/dev/null && break
    sleep 0.05
  done
  PORT=$(awk '/^READY /{print $2}' "$RESULTS/fixture_$tag.out")
  [ -n "$PORT" ] || { echo "urls.sh: the fixture did not start (see $RESULTS/fixture_$tag.out)" >&2; exit 1; }
  echo "fixture $tag: pid $FX_PID port $PORT args: $*" >&2
}

stats() { curl -s --max-time 5 "http://127.0.0.1:$PORT/stats" >"$1" || echo '{}' >"$1"; }

# Lists: make_urls.py (URL<TAB>expected), and a copy where every other URL names 127.0.0.2.
make_lists() {  # PREFIX make_urls.py-args...
  local p=$1; shift
  "$PY" "$ANCHORS/make_urls.py" --port "$PORT" --tsv "$@" >"$p.tsv"
  cut -f1 "$p.tsv" >"$p.txt"
  awk -F'\t' -v OFS='\t' 'NR % 2 == 0 { sub("//127\\.0\\.0\\.1:", "//127.0.0.2:", $1) } 1' "$p.tsv" >"$p.2h.tsv"
  cut -f1 "$p.2h.tsv" >"$p.2h.txt"
}

# run_one META TAG TSV CMD...: one timed run of a client; appends a JSON line to runs.jsonl.
# The command writes its stdout to $TMPD/TAG.out; TAG.h5, TAG.summary.json and TAG.time.rank*
# are picked up when the command made them.
run_one() {
  local meta=$1 tag=$2 tsv=$3 rc=0 t0 t1
  shift 3
  rm -f "$TMPD/$tag".* 2>/dev/null || true
  stats "$TMPD/$tag.stats0"
  curl -s --max-time 5 -o /dev/null "http://127.0.0.1:$PORT/reset" || true
  t0=$EPOCHREALTIME
  "$@" >"$TMPD/$tag.out" 2>>"$RESULTS/stderr.log" || rc=$?
  t1=$EPOCHREALTIME
  stats "$TMPD/$tag.stats1"
  "$PY" "$TABLE" record "meta=$meta" "t0=$t0" "t1=$t1" "rc=$rc" "out=$TMPD/$tag.out" "tsv=$tsv" \
    "checker=$ANCHORS/check_counts.py" "summary=$TMPD/$tag.summary.json" "h5=$TMPD/$tag.h5" \
    "time=$TMPD/$tag.time" "stats0=$TMPD/$tag.stats0" "stats1=$TMPD/$tag.stats1" \
    >>"$RESULTS/runs.jsonl"
  tail -1 "$RESULTS/runs.jsonl" | "$PY" -c '
import json, sys
r = json.loads(sys.stdin.read()); c = r.get("check") or r.get("check_h5") or {}
h = r.get("check_h5") or {}
print("  %-45s run %d: %.3f s whole, %s s in-process, wrong %s%s, rc %d" % (
    r["system"] + " C=" + str(r["conc"]) + " n=" + str(r["n"]), r["run"], r["whole_wall"],
    "%.3f" % r["stage_wall"] if "stage_wall" in r else "-", c.get("wrong"),
    " (h5 %s)" % h.get("wrong") if h else "", r["rc"]))' >&2
  [ "$KEEP_H5" = 1 ] || rm -f "$TMPD/$tag.h5"
}

meta() {  # section system role conc n run ranks threads delay_ms timeout target layout
  printf '{"section":"%s","system":"%s","role":"%s","conc":%d,"n":%d,"run":%d,"ranks":%d,"threads":%d,"delay_ms":%d,"timeout":%s,"target":%s,"layout":"%s"}' "$@"
}

pmap_cmd() {  # TAG RANKS THREADS PER_HOST TIMEOUT LIST FILE(1|0) [extra pmap args]: in CMD[]
  local tag=$1 ranks=$2 threads=$3 per_host=$4 timeout=$5 list=$6 file=$7
  shift 7
  local args=(urls --input "$list" --threads "$threads" --per-host "$per_host" --timeout "$timeout"
              --retries 0 --progress none "$@")
  [ "$file" = 1 ] && args+=(--output "$TMPD/$tag.h5" --force)
  if [ "$ranks" -gt 1 ]; then
    CMD=("${MPIRUN[@]}" -np "$ranks" "$RANK_TIME" "$TMPD/$tag.time" "$PMAP" "${args[@]}")
  else
    CMD=("$RANK_TIME" "$TMPD/$tag.time" "$PMAP" "${args[@]}")
  fi
}

# ------------------------------------------------------------------------------ machine
{
  echo "date=$(date -u +%FT%TZ)"
  echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cpus (nproc), hypervisor $(lscpu | sed -n 's/^Hypervisor vendor: *//p')"
  echo "load at start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "mem=$(free -g | awk '/^Mem:/{print $2" GiB"}')"
  echo "os=$(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r)"
  echo "limits=ulimit -n $(ulimit -n), net.core.somaxconn $(cat /proc/sys/net/core/somaxconn), ephemeral ports $(tr '\t' - </proc/sys/net/ipv4/ip_local_port_range)"
  echo "openmpi=$(mpirun --version | head -1)"
  echo "curl=$(curl --version | head -1 | cut -d' ' -f1-3)"
  echo "python=$("$PY" --version 2>&1), requests $("$PY" -c 'import requests; print(requests.__version__)'), joblib $("$PY" -c 'import joblib; print(joblib.__version__)')"
  echo "pmap=$("$PMAP" --version), $PMAP_SOURCE built $(date -u -r "$PMAP_SOURCE" +%FT%TZ), sha256 $(sha256sum "$PMAP" | cut -c1-12), git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty')"
  echo "fixture=$FIXTURE_SOURCE, sha256 $(sha256sum "$FIXTURE" | cut -c1-12) (one thread, epoll, timers in a heap behind one timerfd)"
  echo "runs=$RUNS timed (+$WARMUP warm-up), medians; rounds interleave the clients"
} >"$RESULTS/machine.txt"
cat "$RESULTS/machine.txt" >&2
: >"$RESULTS/stderr.log"
: >"$RESULTS/load.txt"
: >"$RESULTS/runs.jsonl"
: >"$RESULTS/bounds.txt"

# ------------------------------------------------------------------------------ A
if want a; then
  log "A: $A_N URLs, delay ${A_DELAY_MS} ms, timeout ${A_TIMEOUT} s, C = $A_CONCS: $A_SYSTEMS"
  check_load A
  start_fixture A --delay-ms "$A_DELAY_MS" --hang 30
  L=$TMPD/a_urls
  make_lists "$L" --n "$A_N" --seed "$A_SEED"
  delay_s=$(awk -v d="$A_DELAY_MS" 'BEGIN{print d/1000}')
  for C in $A_CONCS; do
    line=$("$PY" "$ANCHORS/make_urls.py" --port "$PORT" --n "$A_N" --seed "$A_SEED" --delay "$delay_s" \
             --timeout "$A_TIMEOUT" --bound "$C" 2>&1 >/dev/null)
    echo "$line" >&2
    simple=$(sed -n 's/.*lower bound at C=[0-9]*: .* = \([0-9.]*\) s;.*/\1/p' <<<"$line")
    inorder=$(sed -n 's/.*in-order greedy pool.*: \([0-9.]*\) s$/\1/p' <<<"$line")
    split=$("$PY" "$TABLE" bound "$L.2h.txt" "$C" "$delay_s" "$A_TIMEOUT" 2)
    echo "A C=$C simple=$simple inorder=$inorder $split" >>"$RESULTS/bounds.txt"
  done
  for run in $(seq $((1 - WARMUP)) "$RUNS"); do
    for C in $A_CONCS; do
      for sys in $A_SYSTEMS; do
        tag=a_${sys}_C${C}
        case $sys in
          pmap)
            pmap_cmd "$tag" 1 "$C" "$C" "$A_TIMEOUT" "$L.txt" 1 --print
            run_one "$(meta A "pmap, one process, --threads $C" pmap "$C" "$A_N" "$run" 1 "$C" "$A_DELAY_MS" "$A_TIMEOUT" true 1x$C)" \
              "$tag" "$L.tsv" "${CMD[@]}" ;;
          pmap_mpi)
            pmap_cmd "$tag" 2 $((C / 2)) "$C" "$A_TIMEOUT" "$L.2h.txt" 1 --print
            run_one "$(meta A "pmap, mpirun -np 2 x --threads $((C / 2))" pmap_mpi "$C" "$A_N" "$run" 2 $((C / 2)) "$A_DELAY_MS" "$A_TIMEOUT" false 2x$((C / 2)))" \
              "$tag" "$L.2h.tsv" "${CMD[@]}" ;;
          tpe|joblib|threadpool)
            pysys=$sys; label="requests + ThreadPoolExecutor($C)"
            [ "$sys" = joblib ] && { pysys=joblib_threading; label="requests + joblib threading($C)"; }
            [ "$sys" = threadpool ] && label="requests + multiprocessing ThreadPool($C)"
            run_one "$(meta A "$label" "$sys" "$C" "$A_N" "$run" 1 "$C" "$A_DELAY_MS" "$A_TIMEOUT" false py)" \
              "$tag" "$L.tsv" "$RANK_TIME" "$TMPD/$tag.time" "$PY" "$ANCHORS/w4_url_check.py" --system "$pysys" \
              --workers "$C" --timeout "$A_TIMEOUT" --summary "$TMPD/$tag.summary.json" "$L.tsv" ;;
          curl|xargs)
            mode=parallel; label="curl --parallel --parallel-max $C"
            [ "$sys" = xargs ] && { mode=xargs; label="xargs -P $C curl"; }
            run_one "$(meta A "$label" "$sys" "$C" "$A_N" "$run" 1 "$C" "$A_DELAY_MS" "$A_TIMEOUT" false sh)" \
              "$tag" "$L.tsv" "$RANK_TIME" "$TMPD/$tag.time" "$ANCHORS/w4_curl.sh" "$mode" "$L.tsv" "$C" "$A_TIMEOUT" ;;
          *) echo "urls.sh: unknown A system $sys" >&2; exit 2 ;;
        esac
      done
    done
  done
  stats "$RESULTS/fixture_A_stats.json"
  check_load A-after nowait
  stop_fixture
fi

# ------------------------------------------------------------------------------ B
if want b; then
  log "B: zero delay, $B_N URLs (ThreadPoolExecutor: $B_TPE_N), C = $B_CONC: $B_SYSTEMS"
  check_load B
  start_fixture B --delay-ms 0
  L=$TMPD/b_urls
  make_lists "$L" --n "$B_N" --ok 1 --missing 0 --error 0 --redirect 0 --hang 0
  head -n "$B_TPE_N" "$L.tsv" >"$L.tpe.tsv"
  for run in $(seq $((1 - WARMUP)) "$RUNS"); do
    for sys in $B_SYSTEMS; do
      tag=b_$sys
      case $sys in
        pmap|pmap_hi)
          C=$B_CONC; [ "$sys" = pmap_hi ] && C=$B_HICONC
          label="pmap, one process, --threads $C"; [ "$sys" = pmap_hi ] && label="probe: $label"
          pmap_cmd "$tag" 1 "$C" "$C" 10 "$L.txt" 1
          run_one "$(meta B "$label" "$sys" "$C" "$B_N" "$run" 1 "$C" 0 10 false 1x$C)" "$tag" "$L.tsv" "${CMD[@]}" ;;
        tpe)
          run_one "$(meta B "requests + ThreadPoolExecutor($B_CONC)" tpe "$B_CONC" "$B_TPE_N" "$run" 1 "$B_CONC" 0 10 false py)" \
            "$tag" "$L.tpe.tsv" "$RANK_TIME" "$TMPD/$tag.time" "$PY" "$ANCHORS/w4_url_check.py" --system tpe \
            --workers "$B_CONC" --timeout 10 --summary "$TMPD/$tag.summary.json" "$L.tpe.tsv" ;;
        curl|curl_hi)
          C=$B_CONC; [ "$sys" = curl_hi ] && C=$B_HICONC
          label="curl --parallel --parallel-max $C"; [ "$sys" = curl_hi ] && label="probe: $label"
          run_one "$(meta B "$label" "$sys" "$C" "$B_N" "$run" 1 "$C" 0 10 false sh)" \
            "$tag" "$L.tsv" "$RANK_TIME" "$TMPD/$tag.time" "$ANCHORS/w4_curl.sh" parallel "$L.tsv" "$C" 10 ;;
        *) echo "urls.sh: unknown B system $sys" >&2; exit 2 ;;
      esac
    done
  done
  stats "$RESULTS/fixture_B_stats.json"
  check_load B-after nowait
  stop_fixture
fi

# ------------------------------------------------------------------------------ C
if want c; then
  log "C: $C_NS URLs at concurrency $C_CONC, delay ${C_DELAY_MS} ms: $C_LAYOUTS"
  check_load C
  start_fixture C --delay-ms "$C_DELAY_MS"
  for N in $C_NS; do
    make_lists "$TMPD/c_urls_$N" --n "$N" --ok 1 --missing 0 --error 0 --redirect 0 --hang 0
  done
  for N in $C_NS; do
    L=$TMPD/c_urls_$N
    for run in $(seq $((1 - WARMUP)) "$RUNS"); do
      for layout in $C_LAYOUTS; do
        shape=${layout%%:*}; ranks=${shape%x*}; threads=${shape#*x}
        tag=c_${shape}_$N; file=1; target=true; extra=(); role=pmap
        if [ "$ranks" -gt 1 ]; then label="pmap, mpirun -np $ranks x --threads $threads"; else label="pmap, one process, --threads $threads"; fi
        if [ "$layout" != "$shape" ]; then   # RxT:print: diagnosis, --print instead of the HDF5 file
          tag=${tag}_print; file=0; target=false; extra=(--print); role=pmap_print; label="$label, --print, no HDF5 file (diagnosis)"
        fi
        pmap_cmd "$tag" "$ranks" "$threads" "$C_CONC" "$C_TIMEOUT" "$L.2h.txt" "$file" "${extra[@]}"
        run_one "$(meta C "$label" "$role" "$((ranks * threads))" "$N" "$run" "$ranks" "$threads" "$C_DELAY_MS" "$C_TIMEOUT" "$target" "$label")" \
          "$tag" "$L.2h.tsv" "${CMD[@]}"
      done
    done
  done
  stats "$RESULTS/fixture_C_stats.json"
  check_load C-after nowait
  stop_fixture
fi

"$PY" "$TABLE" "$RESULTS" | tee "$RESULTS/urls.md"
