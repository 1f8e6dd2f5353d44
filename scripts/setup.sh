#!/usr/bin/env bash
# Installs what pmap needs that is missing. Debian 12 / Ubuntu as root: apt-get, nothing else.
# Elsewhere (a cluster, no root) it lists what to provide: an MPI, a parallel HDF5 built with it,
# libcurl, CLI11, nlohmann-json, GoogleTest — usually `module load openmpi hdf5/parallel`.
#
#   scripts/setup.sh            build + test dependencies (tests start a real single-node and
#                               two-node Slurm, and network namespaces for a simulated cluster)
#   scripts/setup.sh --bench    also the benchmark anchors (joblib, mpi4py, GNU parallel, ...)
#   scripts/setup.sh --fuzz     also clang, libFuzzer and libomp for it (scripts/fuzz.sh)
set -euo pipefail

packages=(
  build-essential cmake pkg-config ca-certificates
  openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
  libcurl4-openssl-dev libidn2-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libcpp-httplib-dev
  python3 python3-h5py python3-numpy python3-matplotlib
  slurmctld slurmd slurm-client munge
  iproute2 iputils-ping util-linux procps
  nginx-light openssl
)
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=(python3-joblib python3-mpi4py python3-tqdm python3-requests python3-numba
                        parallel hyperfine curl time) ;;
    --fuzz) packages+=(clang libclang-rt-14-dev libomp-dev) ;;
    *) echo "setup.sh: unknown option '$arg' (use --bench or --fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup.sh: not a Debian/Ubuntu system; provide these yourself (e.g. module load):" >&2
  echo "  ${missing[*]}" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "setup.sh: missing packages and not root; run as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
