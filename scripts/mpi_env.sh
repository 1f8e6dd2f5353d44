# Sourced by the scripts: Open MPI settings needed only on this kind of machine.
#   - as root, mpirun refuses to start without both ALLOW_RUN_AS_ROOT variables;
#   - more ranks than cores needs oversubscription (set only when asked for: pmap_mpi_env NP).
pmap_mpi_env() {
  local np="${1:-1}"
  if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
  if [ "$np" -gt "$(nproc)" ]; then
    export OMPI_MCA_rmaps_base_oversubscribe=1
  fi
}
