#!/usr/bin/env bash
# Registers, spills and shared memory of every CUDA kernel, from ptxas (no GPU needed):
#   tools/cuda_resources.sh [ARCH] [FILE.cu ...]      (default: sm_90, every .cu of engine/ and ops/)
# A kernel that spills (bytes of spill stores/loads > 0) or needs more than 64 registers at 256
# threads per block (under 4 blocks per SM of 64K registers) is worth a look before a GPU session.
# Prints one line per kernel: registers, spill stores/loads, static shared memory, the static
# SASS size in instructions (its .text section in the cubin, 16 bytes per instruction from
# sm_70 on: no disassembler needed; it counts code, not what runs, but a change that shortens
# an unrolled inner loop shows), the name.
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
printf '%-6s %-6s %-6s %-8s %-6s %s\n' regs spillS spillL smem sass kernel
cubin="$(mktemp --suffix=.cubin)"
trap 'rm -f "$cubin"' EXIT
for f in "${files[@]}"; do
  # ptxas -v prints, per function: "Compiling entry function 'NAME' for 'sm_90'", then
  # "N bytes stack frame, S bytes spill stores, L bytes spill loads" and "Used R registers, ... X bytes smem".
  "$nvcc" -std=c++20 -O3 -DNDEBUG -DATEBM_WITH_CUDA -DFMT_USE_CONSTEXPR=1 -I"$root" -I"$cudnn_inc" \
    -isystem /usr/include/x86_64-linux-gnu/openblas-pthread --generate-code=arch=compute_"$arch",code=sm_"$arch" \
    -Xptxas -v -x cu -cubin "$root/$f" -o "$cubin" 2>&1 |
    awk -v file="$f" -v cubin="$cubin" '
      function hex(h,   v, i) {  # mawk has no strtonum
        v = 0
        for (i = 1; i <= length(h); ++i) v = v * 16 + index("0123456789abcdef", tolower(substr(h, i, 1))) - 1
        return v
      }
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
        kernels[++n] = name; line[n] = sprintf("%-6s %-6s %-6s %-8s", regs, ss, sl, smem)
        label[n] = demangled " (" file ")"
      }
      END {
        # The cubin exists once ptxas is done, i.e. now: section .text.NAME, size in hex (field 6).
        cmd = "readelf -S -W \"" cubin "\" 2>/dev/null"
        while ((cmd | getline l) > 0) {
          k = split(l, f, " ")
          for (i = 1; i <= k; ++i)
            if (f[i] ~ /^\.text\./) { size[substr(f[i], 7)] = f[i + 4]; break }
        }
        close(cmd)
        for (i = 1; i <= n; ++i) {
          sass = (kernels[i] in size) ? sprintf("%d", hex(size[kernels[i]]) / 16) : "?"
          printf "%s %-6s %s\n", line[i], sass, label[i]
        }
      }'
done
