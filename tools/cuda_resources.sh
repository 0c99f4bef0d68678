#!/usr/bin/env bash
# Registers, spills and shared memory of every CUDA kernel, from ptxas (no GPU needed):
#   tools/cuda_resources.sh [ARCH] [FILE.cu ...]      (default: sm_90, every .cu of engine/ and ops/)
# A kernel that spills (bytes of spill stores/loads > 0) or needs more than 64 registers at 256
# threads per block (under 4 blocks per SM of 64K registers) is worth a look before a GPU session.
# Prints one line per kernel: registers, spill stores/loads, static shared memory, the name.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
arch="${1:-90}"
shift || true
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  mapfile -t files < <(cd "$root" && ls engine/cuda/*.cu ops/cuda/*.cu)
fi
nvcc="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
cudnn_inc="$(dirname "$(find / -name cudnn.h -not -path '*/cuda_emu/*' 2>/dev/null | head -n 1)")"
printf '%-6s %-6s %-6s %-8s %s\n' regs spillS spillL smem kernel
for f in "${files[@]}"; do
  # ptxas -v prints, per function: "Compiling entry function 'NAME' for 'sm_90'", then
  # "N bytes stack frame, S bytes spill stores, L bytes spill loads" and "Used R registers, ... X bytes smem".
  "$nvcc" -std=c++20 -O3 -DNDEBUG -DATEBM_WITH_CUDA -DFMT_USE_CONSTEXPR=1 -I"$root" -I"$cudnn_inc" \
    -isystem /usr/include/x86_64-linux-gnu/openblas-pthread --generate-code=arch=compute_"$arch",code=sm_"$arch" \
    -Xptxas -v -x cu -c "$root/$f" -o /dev/null 2>&1 |
    awk -v file="$f" '
      /Compiling entry function/ { match($0, /function '\''[^'\'']+'\''/); name = substr($0, RSTART + 10, RLENGTH - 11) }
      /spill stores/ {
        ss = $0; sub(/ bytes spill stores.*/, "", ss); sub(/.*, /, "", ss)
        sl = $0; sub(/ bytes spill loads.*/, "", sl); sub(/.*, /, "", sl)
      }
      /Used [0-9]+ registers/ {
        match($0, /Used [0-9]+ registers/); regs = substr($0, RSTART + 5, RLENGTH - 15)
        smem = 0; if (match($0, /[0-9]+ bytes smem/)) smem = substr($0, RSTART, RLENGTH - 11)
        cmd = "c++filt \"" name "\""; cmd | getline demangled; close(cmd)
        gsub(/\(anonymous namespace\)::/, "", demangled)
        sub(/\(.*/, "", demangled)
        printf "%-6s %-6s %-6s %-8s %s (%s)\n", regs, ss, sl, smem, demangled, file
      }'
done
