# Shared by bench/*.sh (sourced after they cd to the repository): section selection, logging,
# medians, and the load check that every benchmark records before it runs.
# Needs: ONLY (sections to run), LOAD_WAIT (seconds to wait for idle CPUs), RESULTS (directory).

want() { [[ " $ONLY " == *" $1 "* ]]; }
log() { printf '\n=== %s\n' "$*" >&2; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# CPU busy fraction over 1 s, from /proc/stat (the load average lags by minutes).
cpu_busy() {
  local busy total
  read -r _ a1 a2 a3 a4 a5 a6 a7 a8 _ < /proc/stat   # user nice system idle iowait irq softirq steal
  sleep 1
  read -r _ b1 b2 b3 b4 b5 b6 b7 b8 _ < /proc/stat
  busy=$(( (b1+b2+b3+b6+b7+b8) - (a1+a2+a3+a6+a7+a8) ))   # steal counts as busy (a shared VM)
  total=$(( busy + (b4+b5) - (a4+a5) ))
  awk -v a="$busy" -v b="$total" 'BEGIN{printf "%.2f", (b>0 ? a/b : 0)}'
}

# Records the machine's load before a benchmark in $RESULTS/load.txt, after waiting up to
# LOAD_WAIT s for the CPUs to be idle (< 20% busy); warns when they are not ("nowait": record
# only, e.g. after a benchmark).
check_load() {  # TAG [nowait]
  local tag=$1 busy waited=0 maxwait=$LOAD_WAIT top
  [ "${2:-}" = nowait ] && maxwait=0
  busy=$(cpu_busy)
  while awk -v b="$busy" 'BEGIN{exit !(b > 0.20)}' && [ "$waited" -lt "$maxwait" ]; do
    sleep 4; waited=$((waited + 5)); busy=$(cpu_busy)
  done
  top=$(top -bn1 | sed -n '8,10p' | awk '{printf "%s(%s%%) ", $12, $9}')
  echo "bench=$tag cpu_busy_1s=$busy loadavg=\"$(cut -d' ' -f1-3 /proc/loadavg)\" waited=$waited top=\"$top\"" \
    | tee -a "$RESULTS/load.txt" >&2
  if [ "${2:-}" != nowait ] && awk -v b="$busy" 'BEGIN{exit !(b > 0.20)}'; then
    echo "$(basename "$0"): WARNING: CPUs ${busy} busy before $tag: numbers will be noisy (LOAD_WAIT=600 to wait)" >&2
  fi
}
