#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for atebm and builds it. Safe to run again: packages that
# are already installed are left alone (apt-get update runs only when something is missing),
# and the build is incremental.
#
#   ./scripts/setup.sh                                   # Release build into build/
#   ATEBM_CMAKE_ARGS="-DATEBM_SANITIZE=ON" ATEBM_BUILD_DIR=build-asan ./scripts/setup.sh
#
# ATEBM_CMAKE_ARGS: extra CMake arguments (split on spaces). ATEBM_BUILD_DIR: build folder,
# relative to the repository root unless absolute (default: build).
set -euo pipefail

say() { printf '==> %s\n' "$*"; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# ---- Debian packages ---------------------------------------------------------------------
# g++ brings its own OpenMP runtime (libgomp), so no libomp-dev. dataset-fashion-mnist is the
# default training data of the method's later issues. Open MPI launches and all-reduces
# data-parallel training (mpirun -np N atebm train ...).
packages=(build-essential cmake ninja-build pkg-config libfmt-dev libopenblas-dev libgtest-dev
          libgmock-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev libstb-dev zlib1g-dev
          dataset-fashion-mnist openmpi-bin libopenmpi-dev)

missing=()
for p in "${packages[@]}"; do
  # dpkg -s also lists removed-but-configured packages; only "install ok installed" counts.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  say "Debian packages: all ${#packages[@]} present"
else
  say "Debian packages: installing ${missing[*]}"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
fi

# ---- CUDA --------------------------------------------------------------------------------
# The toolkit lives outside PATH on a fresh machine; CMake finds nvcc through PATH.
if [[ -d /usr/local/cuda/bin && ":$PATH:" != *":/usr/local/cuda/bin:"* ]]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
if command -v nvcc >/dev/null 2>&1; then
  say "CUDA: found $(command -v nvcc) ($(nvcc --version | tail -n 1))"
else
  say "CUDA: nvcc not found, CMake will build the CPU backend only"
fi

# ---- configure + build -------------------------------------------------------------------
build_dir="${ATEBM_BUILD_DIR:-build}"
extra_args=()
if [[ -n "${ATEBM_CMAKE_ARGS:-}" ]]; then read -r -a extra_args <<<"$ATEBM_CMAKE_ARGS"; fi

# Release and CUDA ON are the defaults; ATEBM_CMAKE_ARGS comes last so it can override both.
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DATEBM_CUDA=ON "${extra_args[@]}")
say "Configuring $build_dir: cmake ${cmake_args[*]}"
cmake -S "$root" -B "$build_dir" "${cmake_args[@]}"

jobs="$(nproc)"
say "Building $build_dir with $jobs jobs"
ninja -C "$build_dir" -j "$jobs"
say "Done: $build_dir/atebm"
