# slurm/common.sh — the steps the job scripts in slurm/ share. Not a job script: each *.sbatch
# sets `me` (its name) and sources this file (found as the top of each script says), then calls
# the steps it needs:
#
#   pmap_require_job HINT       exit 2 outside a Slurm job, with how to submit
#   pmap_trap_signals           forward USR1/TERM/INT to the launcher (call it first)
#   pmap_find_binary            pmap_bin: PMAP_BIN, else $SLURM_SUBMIT_DIR/build/pmap, else PATH
#   pmap_read_layout            launcher (PMAP_LAUNCHER), ntasks, threads, restarts
#   pmap_parse_args ARGS...     args (a subcommand first) and output (--output, if given)
#   pmap_resume_on_restart      a requeued attempt continues the file the last one left
#   pmap_place_threads          OMP_NUM_THREADS and pinning; Open MPI's root variables
#   pmap_build_command          cmd: srun, mpirun or pmap alone with the arguments
#   pmap_run_forwarding         run "${cmd[@]}" in the background until it has really ended: rc
#   pmap_attempt LOG EXITFILE FIELDS...  the attempt: run, then rc from the results file, logged
#   pmap_requeue_if_interrupted requeue (PMAP_REQUEUE=1) when the file says the run stopped early
#
# Whether a run stopped early is read from the results file, never from the launcher's exit
# code: Open MPI's mpirun exits 1 on SIGTERM and SIGINT even when every rank wrote its checkpoint
# and exited 75 (README, "Exit codes"); the file's stop_reason, which `pmap inspect` prints as
# "interrupted: finish with --resume", is the truth.

say() { echo "$me: $*"; }
die() { echo "$me: error: $*" >&2; exit 2; }

pmap_require_job() {   # HINT: how to submit the script
  [ -n "${SLURM_JOB_ID:-}" ] || die "not inside a Slurm job; submit it: $1"
}

# ---- signals ---------------------------------------------------------------------------------
# Trapped first, so that none is lost while the script prepares: Slurm's B:USR1 (the wall-time
# warning) reaches only this shell. It is forwarded to the launcher as SIGUSR1 (srun and mpirun
# pass SIGUSR1 on to every rank; pmap checkpoints on it); `wait` returns early when a trapped
# signal arrives, so pmap_run_forwarding waits again until the launcher is really gone. TERM or
# INT to this shell means the job is being cancelled (scancel, preemption): never requeued.
launcher_pid=""
signalled=0
cancelled=0
on_signal="asking pmap to checkpoint (SIGUSR1 to the launcher)"
forward() {
  signalled=1
  case "$1" in TERM|INT) cancelled=1 ;; esac
  say "got SIG$1: $on_signal"
  [ -n "$launcher_pid" ] && kill -USR1 "$launcher_pid" 2>/dev/null || true
}
pmap_trap_signals() {
  trap 'forward USR1' USR1
  trap 'forward TERM' TERM
  trap 'forward INT' INT
}

# ---- what to run -----------------------------------------------------------------------------
pmap_find_binary() {
  pmap_bin="${PMAP_BIN:-}"
  if [ -z "$pmap_bin" ]; then
    if [ -x "${SLURM_SUBMIT_DIR:-.}/build/pmap" ]; then
      pmap_bin="${SLURM_SUBMIT_DIR:-.}/build/pmap"
    elif command -v pmap >/dev/null 2>&1; then
      pmap_bin="$(command -v pmap)"
    else
      die "no pmap binary: set PMAP_BIN, or submit from the source tree (build/pmap), or put pmap on PATH"
    fi
  fi
  [ -x "$pmap_bin" ] || die "PMAP_BIN=$pmap_bin is not an executable"
}

pmap_read_layout() {
  launcher="${PMAP_LAUNCHER:-srun}"
  case "$launcher" in srun|mpirun|none) ;; *) die "PMAP_LAUNCHER=$launcher: use srun, mpirun or none" ;; esac
  ntasks="${SLURM_NTASKS:-1}"
  threads="${SLURM_CPUS_PER_TASK:-1}"
  restarts="${SLURM_RESTART_COUNT:-0}"
}

# pmap's arguments: a subcommand first (run when none); `output` is the --output given, if any.
pmap_parse_args() {
  args=("$@")
  case "${args[0]:-}" in
    run|urls|kernels|inspect|merge|-h|--help|-V|--version) ;;
    *) args=(run "${args[@]}") ;;
  esac
  output=""
  local i
  for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
      -o|--output) output="${args[i + 1]:-}" ;;
      --output=*) output="${args[i]#--output=}" ;;
    esac
  done
}

# args without --force and --resume (to resume, or to print the command that resumes).
pmap_args_to_resume() {
  local a
  resume_args=()
  for a in "${args[@]}"; do
    case "$a" in -f|--force|--resume) ;; *) resume_args+=("$a") ;; esac
  done
  resume_args+=(--resume)
}

# A requeued attempt resumes the file the previous attempt left (and must not --force it away).
pmap_resume_on_restart() {
  if [ "$restarts" -gt 0 ] && { [ "${args[0]}" = run ] || [ "${args[0]}" = urls ]; } &&
     [ -f "$output" ]; then
    pmap_args_to_resume
    args=("${resume_args[@]}")
  fi
}

# ---- threads and placement -------------------------------------------------------------------
pmap_root_mpi_env() {   # Open MPI refuses root without both (test clusters, containers)
  if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
}

pmap_place_threads() {
  export OMP_NUM_THREADS="$threads"
  local task_plugin
  task_plugin="$(scontrol show config 2>/dev/null | awk -F' = ' '/^TaskPlugin /{print $2}')"
  if [ -z "${OMP_PROC_BIND:-}" ] && [ -z "${OMP_PLACES:-}" ]; then
    if [ "$launcher" = srun ] && [[ "$task_plugin" == *affinity* || "$task_plugin" == *cgroup* ]]; then
      export OMP_PLACES=cores OMP_PROC_BIND=close   # each task owns its cores: pin threads inside
    else
      export OMP_PROC_BIND=false                     # ranks not confined: let the kernel spread
    fi
  fi
  pmap_root_mpi_env
}

pmap_build_command() {
  local extra opts v
  read -r -a extra <<<"${PMAP_LAUNCHER_ARGS:-}"
  case "$launcher" in
    srun) cmd=(srun --mpi="${PMAP_MPI:-pmix}" --ntasks="$ntasks" --cpus-per-task="$threads"
               "${extra[@]}" "$pmap_bin" "${args[@]}") ;;
    mpirun)
      opts=()
      [ "$threads" -gt 1 ] && opts=(--bind-to none)   # a rank's threads need more than one core
      for v in OMP_NUM_THREADS OMP_PROC_BIND OMP_PLACES; do [ -n "${!v:-}" ] && opts+=(-x "$v"); done
      cmd=(mpirun -np "$ntasks" "${opts[@]}" "${extra[@]}" "$pmap_bin" "${args[@]}") ;;
    none) cmd=("${extra[@]}" "$pmap_bin" "${args[@]}") ;;
  esac
}

# ---- running ---------------------------------------------------------------------------------
# Runs "${cmd[@]}" in the background and waits until it has really ended; rc is its exit code
# (75 without starting it when a signal came first).
pmap_run_forwarding() {
  rc=0
  if [ "$signalled" = 1 ]; then
    say "signalled before ${cmd[0]##*/} started: not starting it"
    rc=75
    return 0
  fi
  "${cmd[@]}" &
  launcher_pid=$!
  wait "$launcher_pid" || rc=$?
  while [ "$signalled" = 1 ]; do
    signalled=0
    rc=0
    wait "$launcher_pid" || rc=$?
  done
}

# True when FILE was written since START (seconds since the epoch) and says the run stopped early
# and --resume finishes it: /compute's stop_reason signal or deadline, or /urls not all checked.
pmap_file_interrupted() {   # FILE START
  [ -n "$1" ] && [ -f "$1" ] && [ "$(stat -c %Y "$1")" -ge "$2" ] || return 1
  "$pmap_bin" inspect "$1" 2>/dev/null |
    grep -qE 'interrupted: finish with --resume|--resume completes it'
}

# pmap_attempt LOG EXITFILE FIELDS...: runs the command, takes rc from the results file when it
# says the run stopped early (75, whatever the launcher returned), appends "attempt=... exit=rc
# launcher_exit=... FIELDS" to LOG and writes rc to EXITFILE.
pmap_attempt() {
  local log="$1" exit_file="$2" start end launcher_rc
  shift 2
  start="$(date +%s)"
  pmap_run_forwarding
  trap - USR1 TERM INT
  end="$(date +%s)"
  launcher_rc="$rc"
  interrupted=0
  if pmap_file_interrupted "$output" "$start"; then
    interrupted=1
    [ "$rc" -eq 75 ] || say "the launcher exited $rc, but $output says the run stopped early: exit 75"
    rc=75
  fi
  echo "attempt=$((restarts + 1)) start=$start end=$end seconds=$((end - start)) exit=$rc launcher_exit=$launcher_rc $*" >>"$log"
  echo "$rc" >"$exit_file"
  say "pmap exited $rc after $((end - start)) s (launcher: $launcher_rc)"
}

# With PMAP_REQUEUE=1: requeues the job, and exits 75, when the results file says this attempt
# stopped early (wall-time warning, the job's deadline, a signal to the launcher) and the job is
# not being cancelled, at most PMAP_MAX_REQUEUES (5) times. The next attempt --resumes.
pmap_requeue_if_interrupted() {
  [ "${PMAP_REQUEUE:-0}" = 1 ] && [ "$interrupted" = 1 ] || return 0
  if [ "$cancelled" = 1 ]; then
    say "not requeueing: the job is being cancelled"
  elif [ "$restarts" -ge "${PMAP_MAX_REQUEUES:-5}" ]; then
    say "not requeueing: already requeued $restarts times (PMAP_MAX_REQUEUES=${PMAP_MAX_REQUEUES:-5})"
  else
    say "checkpoint written; requeueing job $SLURM_JOB_ID (attempt $((restarts + 2)) will --resume)"
    scontrol requeue "$SLURM_JOB_ID"
    exit 75   # Slurm ends this attempt itself; the job goes back to PENDING
  fi
}
