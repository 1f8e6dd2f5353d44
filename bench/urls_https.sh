#!/usr/bin/env bash
# pmap URL stage over HTTPS against a real web server (issue 17; section D of bench/urls.sh).
#
#   ./bench/urls_https.sh                        every row, RUNS=3 (~20 min on 2 vCPUs)
#   NS=1000 RUNS=1 ./bench/urls_https.sh         the 1,000-URL rows once (a smoke test)
#
# Server: Debian's nginx (tests/support/nginx_fixture.sh, WORKERS=auto) on 127.0.0.1-50, TLS
# from a test CA made for the run and given to every client (pmap --cacert, curl and requests
# through CURL_CA_BUNDLE / REQUESTS_CA_BUNDLE; the system never trusts it), static pages only
# (every verdict "exists", checked for every run), nginx's default 1,000 requests a connection.
# Rows: N URLs (NS: 1,000 and 100,000) over 1 host or 50 hosts (127.0.0.1..50, cycled), served
# over HTTP/1.1 (the TLS port without h2) or HTTP/2 (ALPN), plus plain HTTP over 50 hosts.
# Clients, all at concurrency C=64, timeout 10 s, no retries:
#   pmap     build/pmap urls --threads 64 --per-host 64 --retries 0 --print (no HDF5 file)
#   curl     curl --parallel --parallel-max 64 -L (HTTP/2 multiplexed where offered)
#   requests requests.get + ThreadPoolExecutor(64) (../shared/bench/w4_url_check.py, in place);
#            HTTP/1.1 only (requests has no HTTP/2), 1,000-URL rows only (100,000 would take
#            ~30 min a run)
# Measured with /usr/bin/time: wall, CPU (user + sys) and peak RSS; medians of RUNS runs,
# interleaved round-robin. Results: $RESULTS/runs.tsv (every run) and $RESULTS/table.md.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
NS=${NS:-1000 100000}
C=${C:-64}
PY=${PY:-/usr/bin/python3}
ANCHORS=$(cd "${ANCHORS:-/work/shared/bench}" && pwd)
RESULTS=${RESULTS:-bench/results/urls_https}
mkdir -p "$RESULTS"; RESULTS=$(cd "$RESULTS" && pwd)
PMAP=$RESULTS/pmap
cp "${PMAP_BIN:-build/pmap}" "$PMAP"  # a rebuild during the run must not change the binary
for tool in /usr/bin/time curl nginx; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
    { echo "urls_https.sh: $tool missing (scripts/setup.sh --bench)" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- the server: started in the background, stopped when its stdin (our fd 9) closes
exec 9> >(WORKERS=auto exec "$ROOT/tests/support/nginx_fixture.sh" "$RESULTS/nginx" >"$RESULTS/nginx.out" 2>&1)
for _ in $(seq 200); do grep -q '^READY ' "$RESULTS/nginx.out" 2>/dev/null && break; sleep 0.05; done
grep -q '^READY ' "$RESULTS/nginx.out" || { cat "$RESULTS/nginx.out" >&2; exit 1; }
info() { awk -v k="$1" '$1 == k { print $2 }' "$RESULTS/nginx.out"; }
CA=$(info CA)
declare -A PORT=([http]=$(info HTTP) [h1]=$(info HTTPS1) [h2]=$(info HTTPS2))

make_list() {  # N HOSTS PROTO -> path of the list
  local n=$1 hosts=$2 proto=$3 scheme=https file
  [ "$proto" = http ] && scheme=http
  file=$RESULTS/list_${n}_${hosts}_${proto}.txt
  awk -v n="$n" -v h="$hosts" -v s="$scheme" -v p="${PORT[$proto]}" 'BEGIN {
    for (i = 0; i < n; ++i) printf "%s://127.0.0.%d:%d/page.html?n=%d\n", s, 1 + i % h, p, i }' \
    >"$file"
  echo "$file"
}

run_client() {  # SYSTEM LIST -> prints "wall cpu rss_kib exists"
  local system=$1 list=$2 out=$RESULTS/out.txt time=$RESULTS/time.txt
  case $system in
    pmap) /usr/bin/time -f '%e %U %S %M' -o "$time" "$PMAP" urls --input "$list" --threads "$C" \
            --per-host "$C" --timeout 10 --retries 0 --cacert "$CA" --print --progress none \
            >"$out" 2>>"$RESULTS/stderr.log" || true ;;
    curl) awk '{ print "url = \"" $1 "\"\noutput = \"/dev/null\"" }' "$list" >"$RESULTS/curl.cfg"
          CURL_CA_BUNDLE=$CA /usr/bin/time -f '%e %U %S %M' -o "$time" curl -s -L --parallel \
            --parallel-max "$C" --max-time 10 -w '%{url} %{http_code}\n' -K "$RESULTS/curl.cfg" \
            2>>"$RESULTS/stderr.log" | awk '{ print $1 " - " ($2 == "200" ? "exists" : "other") }' \
            >"$out" || true ;;
    requests) REQUESTS_CA_BUNDLE=$CA /usr/bin/time -f '%e %U %S %M' -o "$time" "$PY" \
            "$ANCHORS/w4_url_check.py" --system tpe --workers "$C" --timeout 10 --out "$out" \
            "$list" >/dev/null 2>>"$RESULTS/stderr.log" || true ;;
  esac
  read -r wall user sys rss < <(tail -1 "$time")
  echo "$wall $(echo "$user + $sys" | bc) $rss $(grep -c -- ' - exists$' "$out" || true)"
}

echo -e "n\thosts\tproto\tsystem\trun\twall_s\tcpu_s\trss_kib\texists" >"$RESULTS/runs.tsv"
rows=()
for n in $NS; do
  for hosts in 1 50; do for proto in h1 h2; do rows+=("$n $hosts $proto"); done; done
  rows+=("$n 50 http")
done
for run in $(seq "$RUNS"); do
  for row in "${rows[@]}"; do
    read -r n hosts proto <<<"$row"
    list=$(make_list "$n" "$hosts" "$proto")
    systems="pmap curl"
    [ "$n" -le 1000 ] && [ "$proto" != h2 ] && systems+=" requests"
    for system in $systems; do
      read -r wall cpu rss exists < <(run_client "$system" "$list")
      echo -e "$n\t$hosts\t$proto\t$system\t$run\t$wall\t$cpu\t$rss\t$exists" >>"$RESULTS/runs.tsv"
      printf '%7s URLs %2s hosts %-4s %-8s run %d: %6.2f s wall %6.2f s CPU %7d KiB, %s exist\n' \
        "$n" "$hosts" "$proto" "$system" "$run" "$wall" "$cpu" "$rss" "$exists" >&2
    done
  done
done
"$PY" "$ROOT/bench/url_https_table.py" "$RESULTS/runs.tsv" | tee "$RESULTS/table.md"
