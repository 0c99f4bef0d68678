#!/usr/bin/env bash
# GPU check: build the CUDA backend for this machine's GPU, run the CUDA tests and benchmarks,
# print a summary table and a block ready to paste into bench/RESULTS.md.
#
#   tools/gpu_check.sh [BUILD_DIR]        default BUILD_DIR: <repo>/build-gpu-check (wiped first)
#
# Needs an NVIDIA GPU (nvidia-smi), the CUDA toolkit (nvcc; found on PATH or in
# /usr/local/cuda/bin), cuDNN 9 (with the toolkit, under $CUDNN_ROOT, or in a Python wheel:
# .../site-packages/nvidia/cudnn), CMake >= 3.25 and the packages the CPU build needs: installed
# (scripts/setup.sh), or bundled in <repo>/.gpu-deps by tools/gpu_deps.sh on a Debian 12 machine
# and carried along (the `run` tool: carry [".gpu-deps"], command `bash tools/gpu_check.sh`).
# Environment:
#   CUDA_ARCH=90        skip detection of the compute capability
#   CUDNN_ROOT=DIR      cuDNN install (DIR/include/cudnn.h, DIR/lib/libcudnn.so*)
#   JOBS=N              build jobs (default: nproc)
#   BENCH_MIN_TIME=S    --benchmark_min_time of the kernel/training benchmarks (default 0.05)
#   CONV_FILTER=RE      which conv benchmarks run (default 'conv2d_.*/n32/': batch 32 only)
#   CONV_MIN_TIME=S     their --benchmark_min_time (default 0.02)
#   SKIP_BENCH=1        tests only
#   SKIP_TESTS=1        benchmarks only (with REUSE_BUILD=1: a second call after a SKIP_BENCH one)
#   REUSE_BUILD=1       keep BUILD_DIR and rebuild incrementally instead of wiping it
#   GPU_DEPS=DIR        bundled packages (default <repo>/.gpu-deps, used when it exists; 'none': never)
# Exit status: 0 when everything built and passed; 1 when the configure or the build failed
# (the log's tail is printed), a test failed, the GPU tests all skipped although a GPU is
# there, or a benchmark binary crashed.
set -uo pipefail

die() {
  echo "gpu_check: $*" >&2
  exit 1
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build-gpu-check}"
JOBS="${JOBS:-$(nproc)}"
MIN_TIME="${BENCH_MIN_TIME:-0.05}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$JOBS}" OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

# ---- the GPU -----------------------------------------------------------------------------------
command -v nvidia-smi >/dev/null || die "nvidia-smi not found: this script needs a machine with an NVIDIA GPU"
GPU_NAME="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n1 | sed 's/^ *//;s/ *$//')"
[ -n "$GPU_NAME" ] || die "nvidia-smi lists no GPU"
GPU_COUNT="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | grep -c .)"
DRIVER="$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n1 | tr -d ' ')"
if [ -n "${CUDA_ARCH:-}" ]; then
  ARCH="$CUDA_ARCH"
else
  # "9.0" → "90"; drivers older than the compute_cap field print an error: fall back to 90 (Hopper).
  CAP="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d ' ')"
  if [[ "$CAP" =~ ^[0-9]+\.[0-9]+$ ]]; then
    ARCH="${CAP/./}"
  else
    ARCH=90
    echo "gpu_check: compute capability not reported, using 90"
  fi
fi

# ---- the toolkit -------------------------------------------------------------------------------
NVCC="$(command -v nvcc || true)"
[ -z "$NVCC" ] && [ -x /usr/local/cuda/bin/nvcc ] && NVCC=/usr/local/cuda/bin/nvcc
[ -n "$NVCC" ] || die "nvcc not found (put the CUDA toolkit's bin/ on PATH)"
CUDA_VERSION="$("$NVCC" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p' | head -n1)"
CUDA_HOME_DIR="$(dirname "$(dirname "$(readlink -f "$NVCC")")")"

# cuDNN: the top-level CMakeLists.txt looks for cudnn.h / libcudnn next to the toolkit and under
# $CUDNN_ROOT. A pip wheel (nvidia-cudnn-cu12/13) has include/ and lib/ but only the versioned
# libcudnn.so.9, which find_library(cudnn) does not match: pass both paths explicitly, and put
# lib/ on LD_LIBRARY_PATH, because libcudnn.so.9 loads its engine libraries from there at run time.
CUDNN_FLAGS=()
CUDNN_DESC="with the toolkit"
find_cudnn_dir() {
  if [ -n "${CUDNN_ROOT:-}" ]; then echo "$CUDNN_ROOT"; return; fi
  for inc in "$CUDA_HOME_DIR/include" /usr/include /usr/include/x86_64-linux-gnu; do
    [ -f "$inc/cudnn.h" ] && return  # a system install CMake finds by itself
  done
  local py dir
  for py in python3 python; do
    command -v "$py" >/dev/null || continue
    dir="$("$py" -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null || true)"
    [ -n "$dir" ] && [ -f "$dir/include/cudnn.h" ] && { echo "$dir"; return; }
  done
  for dir in "${VIRTUAL_ENV:-/nonexistent}"/lib/python3*/site-packages/nvidia/cudnn \
             /opt/conda/lib/python3*/site-packages/nvidia/cudnn \
             /usr/local/lib/python3*/dist-packages/nvidia/cudnn /usr/lib/python3*/dist-packages/nvidia/cudnn \
             "$HOME"/.local/lib/python3*/site-packages/nvidia/cudnn; do
    [ -f "$dir/include/cudnn.h" ] && { echo "$dir"; return; }
  done
}
CUDNN_DIR="$(find_cudnn_dir)"
if [ -n "$CUDNN_DIR" ]; then
  CUDNN_LIB=""
  for cand in "$CUDNN_DIR"/lib/libcudnn.so "$CUDNN_DIR"/lib64/libcudnn.so "$CUDNN_DIR"/lib/libcudnn.so.[0-9]* \
              "$CUDNN_DIR"/lib64/libcudnn.so.[0-9]*; do
    [ -f "$cand" ] && { CUDNN_LIB="$cand"; break; }
  done
  [ -f "$CUDNN_DIR/include/cudnn.h" ] || die "cuDNN: no include/cudnn.h under $CUDNN_DIR"
  [ -n "$CUDNN_LIB" ] || die "cuDNN: no lib/libcudnn.so* under $CUDNN_DIR"
  CUDNN_FLAGS=(-DCUDNN_INCLUDE_DIR="$CUDNN_DIR/include" -DCUDNN_LIBRARY="$CUDNN_LIB")
  CUDNN_LIB_DIR="$(dirname "$CUDNN_LIB")"
  export LD_LIBRARY_PATH="$CUDNN_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  CUDNN_DESC="$CUDNN_LIB"
fi

# NCCL (the data-parallel job below): a system install CMake finds by itself, else PyTorch's
# nvidia/nccl wheel, whose library is only libnccl.so.2 (CMake's search looks for libnccl.so).
NCCL_FLAGS=()
if [ -z "${NCCL_ROOT:-}" ] && [ ! -f "$CUDA_HOME_DIR/include/nccl.h" ] && [ ! -f /usr/include/nccl.h ]; then
  for py in python3 python; do
    command -v "$py" >/dev/null || continue
    NCCL_ROOT="$("$py" -c 'import nvidia.nccl as m; print(list(m.__path__)[0])' 2>/dev/null || true)"
    [ -n "$NCCL_ROOT" ] && break
  done
fi
if [ -n "${NCCL_ROOT:-}" ] && [ -f "$NCCL_ROOT/include/nccl.h" ]; then
  for cand in "$NCCL_ROOT"/lib/libnccl.so "$NCCL_ROOT"/lib/libnccl.so.[0-9]*; do
    if [ -f "$cand" ]; then
      NCCL_FLAGS=(-DNCCL_INCLUDE_DIR="$NCCL_ROOT/include" -DNCCL_LIBRARY="$cand")
      NCCL_LIB_DIR="$(dirname "$cand")"
      export LD_LIBRARY_PATH="$NCCL_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      break
    fi
  done
fi

echo "gpu_check: $GPU_NAME (sm_$ARCH), driver $DRIVER, CUDA $CUDA_VERSION ($NVCC), cuDNN $CUDNN_DESC, $JOBS jobs"

# ---- bundled packages (tools/gpu_deps.sh) ------------------------------------------------------
# <repo>/.gpu-deps holds Debian 12's fmt, GoogleTest, Google Benchmark, OpenBLAS, CLI11,
# nlohmann-json, stb, zlib and pkgconf for a machine without them. Everything is pointed at
# explicitly (a non-Debian CMake would not look in lib/x86_64-linux-gnu by itself); the headers
# come first through -isystem. The binaries get the folder's lib dirs as DT_RPATH (old-style,
# which also covers libopenblas's own libgfortran), so that GoogleTest's test discovery at build
# time runs them; the test and benchmark runs get them on LD_LIBRARY_PATH as well.
DEPS="${GPU_DEPS:-$ROOT/.gpu-deps}"
DEPS_FLAGS=()
DEPS_LD_PATH=""
if [ "$DEPS" != none ] && [ -d "$DEPS/usr" ]; then
  DEPS="$(cd "$DEPS" && pwd)"  # CMake and the RPATH need it absolute
  DEPS_USR="$DEPS/usr"
  DEPS_LIB="$DEPS_USR/lib/x86_64-linux-gnu"
  DEPS_BLAS="$DEPS_LIB/openblas-pthread"
  # gpu_deps.sh stores libopenblas xz-compressed: unpack in place (xz, or Python's lzma).
  while IFS= read -r -d '' packed; do
    if command -v xz >/dev/null; then
      xz -dc "$packed" >"${packed%.xz}.part"
    else
      python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
        "$packed" "${packed%.xz}.part"
    fi || die "cannot unpack $packed (needs xz or python3)"
    mv "${packed%.xz}.part" "${packed%.xz}" && rm -f "$packed"
  done < <(find "$DEPS" -name '*.xz' -print0)
  for f in "$DEPS_LIB/cmake/fmt" "$DEPS_LIB/cmake/GTest" "$DEPS_LIB/cmake/benchmark" "$DEPS_LIB/libz.so" \
           "$DEPS_BLAS/libopenblas.so" "$DEPS_BLAS/pkgconfig/openblas.pc" "$DEPS_USR/bin/pkg-config"; do
    [ -e "$f" ] || die "$DEPS is incomplete (no ${f#"$DEPS"/}): run tools/gpu_deps.sh again"
  done
  export PKG_CONFIG_PATH="$DEPS_BLAS/pkgconfig:$DEPS_LIB/pkgconfig:$DEPS_USR/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  PKG_CONFIG_DESC="$(command -v pkg-config || true)"
  if [ -z "$PKG_CONFIG_DESC" ]; then
    PKG_CONFIG_DESC="$DEPS_USR/bin/pkg-config"
    DEPS_FLAGS+=(-DPKG_CONFIG_EXECUTABLE="$PKG_CONFIG_DESC")
  fi
  DEPS_LD_PATH="$DEPS_LIB:$DEPS_BLAS"
  DEPS_FLAGS+=(-DCMAKE_PREFIX_PATH="$DEPS_USR" -Dfmt_DIR="$DEPS_LIB/cmake/fmt" -DGTest_DIR="$DEPS_LIB/cmake/GTest"
               -Dbenchmark_DIR="$DEPS_LIB/cmake/benchmark"
               -DZLIB_INCLUDE_DIR="$DEPS_USR/include" -DZLIB_LIBRARY="$DEPS_LIB/libz.so"
               -DCMAKE_CXX_FLAGS="${CXXFLAGS:+$CXXFLAGS }-isystem $DEPS_USR/include"
               -DCMAKE_CUDA_FLAGS="${CUDAFLAGS:+$CUDAFLAGS }-isystem $DEPS_USR/include"
               -DCMAKE_BUILD_RPATH="$DEPS_LIB;$DEPS_BLAS"
               -DCMAKE_EXE_LINKER_FLAGS="${LDFLAGS:+$LDFLAGS }-Wl,--disable-new-dtags -Wl,-rpath-link,$DEPS_LD_PATH")
  echo "gpu_check: using the bundled packages in $DEPS ($(grep -c . "$DEPS/PACKAGES" 2>/dev/null || echo '?') Debian 12 packages; pkg-config: $PKG_CONFIG_DESC)"
fi

# with_deps CMD...: runs CMD with the bundled libraries (if any) first on LD_LIBRARY_PATH.
with_deps() {
  if [ -n "$DEPS_LD_PATH" ]; then
    LD_LIBRARY_PATH="$DEPS_LD_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"
  else
    "$@"
  fi
}

# ---- configure + build -------------------------------------------------------------------------
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
[ "${REUSE_BUILD:-0}" = 1 ] || rm -rf "$BUILD"
mkdir -p "$BUILD"
CONFIG_LOG="$BUILD/gpu_check_configure.log"
BUILD_LOG="$BUILD/gpu_check_build.log"
if ! cmake -S "$ROOT" -B "$BUILD" ${GENERATOR[@]+"${GENERATOR[@]}"} -DCMAKE_BUILD_TYPE=Release -DATEBM_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DCMAKE_CUDA_COMPILER="$NVCC" -DATEBM_BUILD_BENCH=ON \
      ${CUDNN_FLAGS[@]+"${CUDNN_FLAGS[@]}"} ${NCCL_FLAGS[@]+"${NCCL_FLAGS[@]}"} ${DEPS_FLAGS[@]+"${DEPS_FLAGS[@]}"} >"$CONFIG_LOG" 2>&1; then
  tail -n 40 "$CONFIG_LOG" >&2
  die "configure failed (full log: $CONFIG_LOG)"
fi
if ! grep -q "CUDA backend ON" "$CONFIG_LOG"; then
  tail -n 40 "$CONFIG_LOG" >&2
  die "CMake did not enable the CUDA backend"
fi
grep "atebm:" "$CONFIG_LOG"
if [ -n "$DEPS_LD_PATH" ]; then  # where the bundled packages were found (all under .gpu-deps)
  echo "gpu_check: resolved $(sed -n -E 's/^(fmt_DIR|GTest_DIR|benchmark_DIR|ZLIB_LIBRARY|pkgcfg_lib_OPENBLAS_openblas):[A-Z]+=(.*)/\1=\2/p' \
    "$BUILD/CMakeCache.txt" | paste -sd' ')"
fi
grep -q "cuDNN .*NOTFOUND" "$CONFIG_LOG" && echo "gpu_check: WARNING: cuDNN not found; set CUDNN_ROOT"

TARGETS=(atebm atebm_tests_cuda atebm_tests_engine atebm_tests_data atebm_tests_at_ebm atebm_bench_cuda)
SECONDS=0
if ! cmake --build "$BUILD" -j "$JOBS" --target "${TARGETS[@]}" >"$BUILD_LOG" 2>&1; then
  grep -n -m 20 -E "error|Error" "$BUILD_LOG" >&2
  tail -n 40 "$BUILD_LOG" >&2
  die "build failed (full log: $BUILD_LOG)"
fi
echo "gpu_check: built ${TARGETS[*]} in ${SECONDS}s"

# ---- tests -------------------------------------------------------------------------------------
STATUS=0
SUMMARY=()   # "binary|passed|failed|skipped|seconds"
FAILED_NAMES=()

# run_tests LABEL BINARY [gtest args...]: runs, counts passed/failed/skipped from GoogleTest's tail.
run_tests() {
  local label="$1" bin="$2"
  shift 2
  local log="$BUILD/gpu_check_${label//[^A-Za-z0-9_]/_}.log"
  [ -x "$bin" ] || { echo "gpu_check: $bin missing" >&2; STATUS=1; SUMMARY+=("$label|-|-|-|-"); return; }
  local start=$SECONDS rc
  with_deps timeout 600 "$bin" --gtest_color=no "$@" >"$log" 2>&1
  rc=$?
  local passed failed skipped
  passed="$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n1)"
  failed="$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*listed below.*/\1/p' "$log" | tail -n1)"
  skipped="$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*listed below.*/\1/p' "$log" | tail -n1)"
  passed="${passed:-0}" failed="${failed:-0}" skipped="${skipped:-0}"
  SUMMARY+=("$label|$passed|$failed|$skipped|$((SECONDS - start))")
  if [ "$rc" -ne 0 ]; then
    STATUS=1
    [ "$failed" = 0 ] && failed="crash (exit $rc)" && SUMMARY[-1]="$label|$passed|$failed|$skipped|$((SECONDS - start))"
    echo "gpu_check: $label FAILED (exit $rc; log $log)" >&2
    while IFS= read -r l; do
      FAILED_NAMES+=("$label: $l")
    done < <(grep -E "^\[  FAILED  \] [A-Za-z]" "$log" | sort -u | sed 's/^\[  FAILED  \] //')
    tail -n 15 "$log" >&2
  fi
  # Tests skip themselves without a visible device: on this machine that is a failure.
  if grep -q -E "no CUDA device visible|built without the CUDA backend" "$log"; then
    STATUS=1
    echo "gpu_check: $label skipped tests for lack of a CUDA device although nvidia-smi sees one" >&2
    grep -m 3 -E "no CUDA device visible|built without the CUDA backend" "$log" >&2
  fi
}

# Tests and the NCCL job (skipped with SKIP_TESTS=1; the block is not indented because it holds a
# here-document).
if [ "${SKIP_TESTS:-0}" != 1 ]; then
run_tests "atebm_tests_cuda" "$BUILD/tests/atebm_tests_cuda"
run_tests "atebm_tests_engine (Cuda*, Pinned*)" "$BUILD/tests/atebm_tests_engine" --gtest_filter='Cuda*:Pinned*'
run_tests "atebm_tests_data (*Pinned*)" "$BUILD/tests/atebm_tests_data" --gtest_filter='*Pinned*'
run_tests "atebm_tests_at_ebm (GraphedPgd*)" "$BUILD/tests/atebm_tests_at_ebm" --gtest_filter='GraphedPgd*'

# ---- data-parallel training over NCCL ----------------------------------------------------------
# A few iterations of a tiny model on the GPU(s): 1 rank, then one rank per GPU when there are
# several (issue 9). Needs mpirun and a build with NCCL; says why when it cannot run.
run_nccl_train() {  # run_nccl_train RANKS
  local ranks="$1" label="nccl train, $1 rank(s)" out="$BUILD/gpu_check_nccl_$1"
  local log="$BUILD/gpu_check_nccl_$1.log" start=$SECONDS
  rm -rf "$out"
  cat >"$BUILD/gpu_check_tiny.json" <<'JSON'
{"model": {"arch": "resnet", "block": "basic", "layers": [1, 1, 1, 1], "widths": [8, 8, 16, 16],
           "in_channels": 1, "num_classes": 1, "pool": 1, "mean": [0.5], "std": [0.5]},
 "data": {"train": "smooth:256:seed=7", "p0": "uniform:256:seed=9", "shape": [1, 16, 16], "batch_size": 16},
 "attack": {"step_size": 0.3, "start_step": 2, "max_steps": 4},
 "loss": {"r1_weight": 0.1},
 "train": {"max_iters": 8, "checkpoint_every": 4, "device": "cuda", "sample_at_end": false}}
JSON
  if with_deps timeout 300 mpirun --allow-run-as-root --oversubscribe -np "$ranks" "$BUILD/atebm" train \
       --config "$BUILD/gpu_check_tiny.json" --out "$out" >"$log" 2>&1 && [ -f "$out/model.safetensors" ]; then
    SUMMARY+=("$label|1|0|0|$((SECONDS - start))")
  else
    STATUS=1
    SUMMARY+=("$label|0|1|0|$((SECONDS - start))")
    echo "gpu_check: $label FAILED (log $log)" >&2
    tail -n 15 "$log" >&2
  fi
}
if ! command -v mpirun >/dev/null; then
  echo "gpu_check: mpirun not found: the NCCL training job is skipped (apt-get install openmpi-bin libopenmpi-dev)"
elif ! grep -q "NCCL ON" "$CONFIG_LOG"; then
  echo "gpu_check: the build has no NCCL (see the configure line above): the NCCL training job is skipped"
else
  run_nccl_train 1
  if [ "$GPU_COUNT" -gt 1 ]; then run_nccl_train "$GPU_COUNT"; fi
fi
fi

# ---- benchmarks --------------------------------------------------------------------------------
# Two runs of atebm_bench_cuda, each with its own time limit and JSON file (a run killed by its
# timeout leaves the other's numbers intact): the memory-bound kernels and the training
# iteration (BM_cuda_*), then the conv trio at batch 32 (CONV_FILTER; 322 benchmarks; the
# batch-128 half doubles the time). Together about 3-5 minutes on an H200.
BENCH_ROWS=()
run_bench() {  # run_bench LABEL FILTER MIN_TIME TIMEOUT
  local label="$1" filter="$2" min_time="$3" limit="$4" rc
  local json="$BUILD/gpu_check_bench_$label.json" log="$BUILD/gpu_check_bench_$label.log"
  echo "gpu_check: atebm_bench_cuda --benchmark_filter='$filter' (min time ${min_time}s, limit ${limit}s)"
  with_deps timeout "$limit" "$BUILD/bench/atebm_bench_cuda" --benchmark_filter="$filter" --benchmark_min_time="$min_time" \
    --benchmark_out="$json" --benchmark_out_format=json 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  if [ "$rc" -ne 0 ]; then
    STATUS=1
    echo "gpu_check: atebm_bench_cuda ($label) exited with $rc$([ "$rc" = 124 ] && echo ' (time limit)')" >&2
    BENCH_ROWS+=("| $label | exit $rc | | | see $log |")
  fi
}
if [ "${SKIP_BENCH:-0}" != 1 ]; then
  run_bench kernels 'BM_cuda_' "$MIN_TIME" 240
  run_bench conv "${CONV_FILTER:-conv2d_.*/n32/}" "${CONV_MIN_TIME:-0.02}" 300
  if command -v python3 >/dev/null; then
    # Kernel rows one by one; conv rows per (pass, way, precision, batch): the summed GPU time of
    # the ResNet-50 conv shapes (one pass over the network's distinct convs) and the TFLOP/s of
    # that sum.
    while IFS= read -r row; do BENCH_ROWS+=("$row"); done < <(python3 - "$BUILD"/gpu_check_bench_*.json <<'PY'
import json, sys
from collections import OrderedDict
skip = {"name", "run_name", "run_type", "repetitions", "repetition_index", "threads", "iterations", "real_time",
        "cpu_time", "time_unit", "family_index", "per_family_instance_index", "aggregate_name", "label",
        "error_occurred", "error_message", "GB/s", "pct_of_copy", "TFLOP/s"}
def num(v):
    return f"{v:.4g}" if isinstance(v, (int, float)) else str(v)
conv = OrderedDict()
for path in sys.argv[1:]:
    try:
        data = json.load(open(path))
    except (OSError, ValueError):
        print(f"| {path} | unreadable JSON (run killed?) | | | |")
        continue
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate":
            continue
        name = b["name"]
        if b.get("error_occurred"):
            print(f"| {name} | error | | | {b.get('error_message', '')} |")
            continue
        if name.startswith("conv2d"):
            group = "/".join(name.split("/")[:4])
            t = b["real_time"] * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b.get("time_unit", "ns")]
            g = conv.setdefault(group, [0.0, 0.0, 0])
            g[0] += t
            g[1] += b.get("TFLOP/s", 0.0) * t
            g[2] += 1
            continue
        other = ", ".join(f"{k}={num(v)}" for k, v in b.items() if k not in skip and isinstance(v, (int, float)))
        if b.get("label"):
            other = (other + "; " if other else "") + b["label"]
        print(f"| {name} | {b['real_time']:.4g} {b.get('time_unit', '')} | {num(b['GB/s']) if 'GB/s' in b else ''} | "
              f"{num(b['pct_of_copy']) if 'pct_of_copy' in b else ''} | {other} |")
for group, (t, work, n) in conv.items():
    print(f"| {group} (sum of {n} shapes) | {t * 1e3:.4g} ms | | | TFLOP/s={num(work / t if t > 0 else 0.0)} |")
PY
)
  else
    while IFS= read -r l; do
      BENCH_ROWS+=("| \`$l\` | | | | |")
    done < <(grep -h -E "^(BM_|conv2d)" "$BUILD"/gpu_check_bench_*.log)
  fi
fi

# ---- summary -----------------------------------------------------------------------------------
DATE="$(date -u +%Y-%m-%d)"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ] && COMMIT="$COMMIT+local changes"

echo
echo "==================== gpu_check summary ===================="
printf "%-30s %8s %8s %8s %6s\n" "test binary" "passed" "failed" "skipped" "sec"
for row in "${SUMMARY[@]}"; do
  IFS='|' read -r name p f s t <<<"$row"
  printf "%-30s %8s %8s %8s %6s\n" "$name" "$p" "$f" "$s" "$t"
done
for n in ${FAILED_NAMES[@]+"${FAILED_NAMES[@]}"}; do echo "  failed: $n"; done
if [ "${#BENCH_ROWS[@]}" -gt 0 ]; then
  echo
  echo "benchmark | time | GB/s | % of copy | other"
  for r in ${BENCH_ROWS[@]+"${BENCH_ROWS[@]}"}; do echo "$r"; done
fi

echo
echo "---- paste into bench/RESULTS.md ----"
cat <<EOF
### $DATE — $GPU_NAME (sm_$ARCH)

Driver $DRIVER, CUDA $CUDA_VERSION, cuDNN: $CUDNN_DESC, commit $COMMIT, \`tools/gpu_check.sh\`
(benchmark min time ${MIN_TIME}s; conv: ${CONV_MIN_TIME:-0.02}s, filter \`${CONV_FILTER:-conv2d_.*/n32/}\`).

| test binary | passed | failed | skipped |
|---|---|---|---|
EOF
for row in "${SUMMARY[@]}"; do
  IFS='|' read -r name p f s t <<<"$row"
  echo "| $name | $p | $f | $s |"
done
if [ "${#BENCH_ROWS[@]}" -gt 0 ]; then
  echo
  echo "| benchmark | time | GB/s | % of copy | other |"
  echo "|---|---|---|---|---|"
  for r in ${BENCH_ROWS[@]+"${BENCH_ROWS[@]}"}; do echo "$r"; done
fi
echo "---- end ----"

[ "$STATUS" -eq 0 ] && echo "gpu_check: OK" || echo "gpu_check: FAILED (see above)" >&2
exit "$STATUS"
