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
#   KERNEL_FILTER=RE    which memory-bound kernel and training-iteration benchmarks run (default
#                       'BM_cuda_'; 'none': none)
#   CONV_FILTER=RE      which conv benchmarks run first (default 'conv2d_.*/n32/': all 663 at batch 32;
#                       'none': none)
#   CONV128_FILTER=RE   which run after them (default: at batch 128 the engine and cuDNN in TF32 and
#                       FP32 and the hand-written kernels (pipelined and channels-last in TF32 and
#                       FP32, teaching FP32), 433; 'none': no second conv run)
#   CONV_MIN_TIME=S     their --benchmark_min_time (default 0.002; it counts each call's share of
#                       a graph replay of 16, so the GPU runs about 32x longer)
#   SKIP_BENCH=1        tests only
#   SKIP_SANITIZER=1    no compute-sanitizer runs (memcheck, then racecheck, over the tests of the
#                       hand-written kernels; after the tests, when compute-sanitizer is there)
#   SKIP_TORCH=1        no PyTorch peer of the training iteration (bench/scripts/torch_at_iteration.py;
#                       it runs after the batch-32 conv benchmarks when python3 can import torch)
#   NCU_WAYS="WAY:KERNEL ..."  which conv ways Nsight Compute profiles, and the kernel to catch
#                       (default: igemm_nhwc128, igemm_nhwc64 on implicit_gemm_nhwc, igemm_pipe64 on
#                       implicit_gemm_pipelined)
#   SKIP_PROFILE=1      no Nsight Compute profile of the hand-written conv kernels (it runs after the
#                       benchmarks when ncu is there and a minute is left; best effort)
#   SKIP_TESTS=1        benchmarks only (with REUSE_BUILD=1: a second call after a SKIP_BENCH one)
#   REUSE_BUILD=1       keep BUILD_DIR and rebuild incrementally instead of wiping it
#   GPU_DEPS=DIR        bundled packages (default <repo>/.gpu-deps, used when it exists; 'none': never)
#   GPU_CHECK_EMULATED=1  a rehearsal without a GPU: the same steps against the emulated GPU
#                       (cuda_emu/; -DATEBM_CUDA_EMULATION=ON, no nvcc, cuDNN or NCCL needed) and
#                       tiny benchmark filters, to check this script end to end before a GPU
#                       session; its numbers are not GPU results (the block says so)
#   GPU_CHECK_BUDGET=S  wall-clock seconds for the whole script (default 480: the 8 minutes the
#                       issue allows, so that a 600 s `run` call leaves room; at most 600
#                       most 600 s); every step's time limit is cut to what is left, a step that no
#                       longer fits is skipped (and listed), and the summary is always printed
# Logs: in BUILD_DIR (gpu_check_*.log, the benchmark JSON, gpu_check_results.md); when $OUT is a
# folder (the `run` tool) they are also packed into $OUT/gpu_check_logs.tar.gz on exit.
# Exit status: 0 when everything built and passed; 1 when the configure or the build failed
# (the log's tail is printed; whatever did build is still tested), a test failed or ran out of
# time, the GPU tests all skipped although a GPU is there, or a benchmark binary crashed.
set -uo pipefail

START_TIME="$(date +%s)"
BUDGET="${GPU_CHECK_BUDGET:-480}"
# step_limit WANT: WANT seconds, or less so that 25 s stay for the summary; 0 when nothing is left.
step_limit() {
  local left=$((BUDGET - ($(date +%s) - START_TIME) - 25))
  if [ "$left" -ge "$1" ]; then echo "$1"; elif [ "$left" -gt 0 ]; then echo "$left"; else echo 0; fi
}

die() {
  echo "gpu_check: $*" >&2
  exit 1
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build-gpu-check}"
# On exit (also after die): the logs go to $OUT, the one folder a `run` call brings back.
save_logs() {
  [ -n "${OUT:-}" ] && [ -d "$OUT" ] && [ -d "$BUILD" ] || return 0
  (cd "$BUILD" && find . -maxdepth 1 -type f -name 'gpu_check_*' -print0 |
     tar -czf "$OUT/gpu_check_logs.tar.gz" --null -T -) 2>/dev/null || true
}
trap save_logs EXIT
JOBS="${JOBS:-$(nproc)}"
MIN_TIME="${BENCH_MIN_TIME:-0.05}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$JOBS}" OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

EMULATED="${GPU_CHECK_EMULATED:-0}"
# ---- the GPU -----------------------------------------------------------------------------------
if [ "$EMULATED" = 1 ]; then
GPU_NAME="cuda_emu (emulated on the CPU: a rehearsal, not GPU results)"
GPU_COUNT=1 DRIVER=none ARCH=90 CUDA_VERSION=emulated NVCC=none CUDNN_DESC=cuda_emu
CUDNN_FLAGS=() NCCL_FLAGS=()
else
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
# cuDNN 9 dlopens the toolkit's libnvrtc and libcublasLt at run time (runtime-compiled engines):
# make sure the loader finds them even where ldconfig does not know the toolkit.
for d in "$CUDA_HOME_DIR/lib64" "$CUDA_HOME_DIR/targets/x86_64-linux/lib"; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" && break
done

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

fi  # EMULATED
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
STATUS=0
SUMMARY=()   # "binary|passed|failed|skipped|seconds"
FAILED_NAMES=()
GENERATOR=()
KEEP_GOING=(-- -k)  # make: build every target that can be built despite an error
command -v ninja >/dev/null && GENERATOR=(-G Ninja) && KEEP_GOING=(-- -k 0)
[ "${REUSE_BUILD:-0}" = 1 ] || rm -rf "$BUILD"
mkdir -p "$BUILD"
CONFIG_LOG="$BUILD/gpu_check_configure.log"
BUILD_LOG="$BUILD/gpu_check_build.log"
BACKEND_FLAGS=(-DATEBM_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DCMAKE_CUDA_COMPILER="$NVCC")
BACKEND_LINE="CUDA backend ON"
if [ "$EMULATED" = 1 ]; then
  BACKEND_FLAGS=(-DATEBM_CUDA_EMULATION=ON -DCMAKE_CXX_FLAGS_RELEASE=-O1)
  BACKEND_LINE="CUDA backend EMULATED"
fi
if ! cmake -S "$ROOT" -B "$BUILD" ${GENERATOR[@]+"${GENERATOR[@]}"} -DCMAKE_BUILD_TYPE=Release "${BACKEND_FLAGS[@]}" \
      -DATEBM_BUILD_BENCH=ON -DATEBM_EMULATED_GPU_TESTS=OFF \
      -DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST \
      ${CUDNN_FLAGS[@]+"${CUDNN_FLAGS[@]}"} ${NCCL_FLAGS[@]+"${NCCL_FLAGS[@]}"} ${DEPS_FLAGS[@]+"${DEPS_FLAGS[@]}"} >"$CONFIG_LOG" 2>&1; then
  tail -n 40 "$CONFIG_LOG" >&2
  die "configure failed (full log: $CONFIG_LOG)"
fi
if ! grep -q "$BACKEND_LINE" "$CONFIG_LOG"; then
  tail -n 40 "$CONFIG_LOG" >&2
  die "CMake did not enable the CUDA backend"
fi
grep "atebm:" "$CONFIG_LOG"
if [ -n "$DEPS_LD_PATH" ]; then  # where the bundled packages were found (all under .gpu-deps)
  echo "gpu_check: resolved $(sed -n -E 's/^(fmt_DIR|GTest_DIR|benchmark_DIR|ZLIB_LIBRARY|pkgcfg_lib_OPENBLAS_openblas):[A-Z]+=(.*)/\1=\2/p' \
    "$BUILD/CMakeCache.txt" | paste -sd' ')"
fi
grep -q "cuDNN .*NOTFOUND" "$CONFIG_LOG" && echo "gpu_check: WARNING: cuDNN not found; set CUDNN_ROOT"

TARGETS=(atebm_tests_cuda atebm_tests_engine atebm_tests_data atebm_tests_at_ebm atebm_tests_nn atebm_tests_ops atebm_bench_cuda)
[ "${SKIP_TESTS:-0}" != 1 ] && TARGETS+=(atebm)  # the training job below
# A failed build is not the end: every target that did build is still run (ninja -k 0), and
# binaries older than this stamp (a REUSE_BUILD leftover that failed to rebuild) are not.
BUILD_STAMP="$BUILD/gpu_check_build.stamp"
touch "$BUILD_STAMP"
BUILD_OK=1
SECONDS=0
limit="$(step_limit 420)"
if ! timeout -k 10 "$limit" cmake --build "$BUILD" -j "$JOBS" --target "${TARGETS[@]}" \
     ${KEEP_GOING[@]+"${KEEP_GOING[@]}"} >"$BUILD_LOG" 2>&1; then
  BUILD_OK=0
  STATUS=1
  grep -n -m 20 -E "error|Error" "$BUILD_LOG" >&2
  tail -n 40 "$BUILD_LOG" >&2
  echo "gpu_check: build FAILED or ran out of time after ${SECONDS}s (limit ${limit}s; full log: $BUILD_LOG);" \
       "running what was built" >&2
  SUMMARY+=("build|-|failed|-|$SECONDS")
else
  echo "gpu_check: built ${TARGETS[*]} in ${SECONDS}s"
fi
# built BINARY: true when BINARY exists and belongs to this build.
built() { [ -x "$1" ] && { [ "$BUILD_OK" = 1 ] || [ "$1" -nt "$BUILD_STAMP" ]; }; }

# ---- tests -------------------------------------------------------------------------------------
# run_tests LABEL LIMIT BINARY [gtest args...]: runs (at most LIMIT seconds, less when the budget
# is short), counts passed/failed/skipped from GoogleTest's tail.
run_tests() {
  local label="$1" limit bin="$3"
  limit="$(step_limit "$2")"
  shift 3
  local log="$BUILD/gpu_check_${label//[^A-Za-z0-9_]/_}.log"
  rm -f "$log"
  built "$bin" || { echo "gpu_check: $bin not built" >&2; STATUS=1; SUMMARY+=("$label|-|not built|-|-"); return; }
  if [ "$limit" -lt 10 ]; then
    echo "gpu_check: $label skipped: the time budget (GPU_CHECK_BUDGET=$BUDGET s) is spent" >&2
    STATUS=1
    SUMMARY+=("$label|-|no time|-|-")
    return
  fi
  local start=$SECONDS rc
  with_deps timeout -k 10 "$limit" "$bin" --gtest_color=no "$@" >"$log" 2>&1
  rc=$?
  local passed failed skipped
  passed="$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n1)"
  failed="$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*listed below.*/\1/p' "$log" | tail -n1)"
  skipped="$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*listed below.*/\1/p' "$log" | tail -n1)"
  passed="${passed:-0}" failed="${failed:-0}" skipped="${skipped:-0}"
  SUMMARY+=("$label|$passed|$failed|$skipped|$((SECONDS - start))")
  if [ "$rc" -ne 0 ]; then
    STATUS=1
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
      failed="$failed+timeout ${limit}s"
      SUMMARY[-1]="$label|$passed|$failed|$skipped|$((SECONDS - start))"
    elif [ "$failed" = 0 ]; then
      failed="crash (exit $rc)"
      SUMMARY[-1]="$label|$passed|$failed|$skipped|$((SECONDS - start))"
    fi
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
# The short filtered runs first, so that a slow or hanging atebm_tests_cuda cannot crowd them out.
if [ "${SKIP_TESTS:-0}" != 1 ]; then
run_tests "atebm_tests_engine (Cuda*, Pinned*)" 120 "$BUILD/tests/atebm_tests_engine" --gtest_filter='Cuda*:Pinned*'
run_tests "atebm_tests_data (*Pinned*)" 90 "$BUILD/tests/atebm_tests_data" --gtest_filter='*Pinned*'
run_tests "atebm_tests_at_ebm (GraphedPgd*)" 90 "$BUILD/tests/atebm_tests_at_ebm" --gtest_filter='GraphedPgd*'
run_tests "atebm_tests_ops (Conv2d.DeviceMismatch*)" 60 "$BUILD/tests/atebm_tests_ops" --gtest_filter='Conv2d.DeviceMismatch*'
run_tests "atebm_tests_nn (Nccl*, GradientAverager*)" 90 "$BUILD/tests/atebm_tests_nn" --gtest_filter='Nccl*:GradientAverager*'
run_tests "atebm_tests_cuda" 420 "$BUILD/tests/atebm_tests_cuda"

# compute-sanitizer over the tests of the hand-written kernels (both implicit-GEMM convs, the
# column sums, the measured cuDNN search): memcheck (out-of-bounds and misaligned accesses,
# leaks of device memory, API errors), then racecheck (shared-memory hazards between the
# threads of a block: what a missing __syncthreads or cp.async wait causes) on the pipelined
# kernel alone (racecheck is slow). Each is a test row: a hazard or memory error fails it.
run_sanitizer() {  # run_sanitizer TOOL LIMIT FILTER
  local tool="$1" want="$2" filter="$3" log="$BUILD/gpu_check_sanitizer_$1.log" limit start=$SECONDS rc
  local label="compute-sanitizer $tool"
  rm -f "$log"
  limit="$(step_limit "$want")"
  if ! built "$BUILD/tests/atebm_tests_cuda" || [ "$limit" -lt 20 ]; then
    SUMMARY+=("$label|-|not built or no time|-|-")
    return
  fi
  # memcheck with the allocator in exact mode (engine/cuda/cuda_allocator.h): every tensor its
  # own cudaMalloc of exactly its bytes, freed at once, so an overrun past a tensor's end or a
  # read after its free is seen (the cache's rounded, reused blocks would hide both).
  local exact=0
  [ "$tool" = memcheck ] && exact=1
  ATEBM_CUDA_NO_CACHE=$exact with_deps timeout -k 10 "$limit" "$SANITIZER" --tool "$tool" --error-exitcode 3 \
    --print-limit 20 "$BUILD/tests/atebm_tests_cuda" --gtest_color=no --gtest_brief=1 --gtest_filter="$filter" \
    >"$log" 2>&1
  rc=$?
  local summary
  summary="$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY|LEAK SUMMARY" "$log" | tail -n 1 | sed 's/^========= //')"
  if [ "$rc" -eq 0 ]; then
    SUMMARY+=("$label|1|0|0|$((SECONDS - start))")
  else
    STATUS=1
    SUMMARY+=("$label|0|exit $rc|0|$((SECONDS - start))")
    echo "gpu_check: $label FAILED (exit $rc; log $log): $summary" >&2
    grep -m 20 -E "^========= (Invalid|Race|Error|Program hit|  at )" "$log" >&2
  fi
  echo "gpu_check: $label: ${summary:-no summary line} (exit $rc, $((SECONDS - start)) s)"
}

# ---- training on the GPU (data-parallel over NCCL where possible) -----------------------------
# A few iterations of a tiny model on the GPU(s), the PGD loop replayed from a CUDA graph: with
# mpirun and NCCL, 1 rank, then one rank per GPU when there are several (issue 9); without them,
# one plain process (RANKS 0), so the trainer's GPU path runs all the same. One rank averages
# nothing (the gradient averager is a no-op for one rank); NCCL's own calls are exercised by
# atebm_tests_nn's Nccl* tests above, and all-reduces between ranks need one GPU per rank.
run_nccl_train() {  # run_nccl_train RANKS
  local ranks="$1" label="nccl train, $1 rank(s)" out="$BUILD/gpu_check_nccl_$1"
  [ "$ranks" = 0 ] && label="train, 1 process (no MPI)"
  local log="$BUILD/gpu_check_nccl_$1.log" start=$SECONDS limit
  rm -rf "$out" "$log"
  limit="$(step_limit 180)"
  if ! built "$BUILD/atebm" || [ "$limit" -lt 10 ]; then
    STATUS=1
    SUMMARY+=("$label|-|not built or no time|-|-")
    return
  fi
  local launch=(mpirun --allow-run-as-root --oversubscribe -np "$ranks")
  [ "$ranks" = 0 ] && launch=()
  if with_deps timeout -k 10 "$limit" ${launch[@]+"${launch[@]}"} "$BUILD/atebm" train \
       --config "$ROOT/tools/tiny_gpu_train.json" --out "$out" >"$log" 2>&1 && [ -f "$out/model.safetensors" ]; then
    SUMMARY+=("$label|1|0|0|$((SECONDS - start))")
  else
    STATUS=1
    SUMMARY+=("$label|0|1|0|$((SECONDS - start))")
    echo "gpu_check: $label FAILED (log $log)" >&2
    tail -n 15 "$log" >&2
  fi
}
if ! command -v mpirun >/dev/null; then
  echo "gpu_check: mpirun not found: training runs as one plain process, without NCCL (apt-get install openmpi-bin libopenmpi-dev)"
  run_nccl_train 0
elif ! grep -q "MPI ON" "$CONFIG_LOG" || ! grep -q "NCCL ON" "$CONFIG_LOG"; then
  echo "gpu_check: the build lacks MPI or NCCL (see the configure line above): training runs as one plain process"
  run_nccl_train 0
else
  run_nccl_train 1
  if [ "$GPU_COUNT" -gt 1 ]; then run_nccl_train "$GPU_COUNT"; fi
fi
fi

# ---- benchmarks --------------------------------------------------------------------------------
# Three runs of atebm_bench_cuda, each with its own time limit and JSON file (a run killed by
# its timeout leaves the others' numbers intact): the memory-bound kernels and the training
# iteration (BM_cuda_*); the conv trio at batch 32 (CONV_FILTER, 663 benchmarks); after the
# PyTorch peer, a subset at batch 128 (CONV128_FILTER, 433).
BENCH_ROWS=()
run_bench() {  # run_bench LABEL FILTER MIN_TIME TIMEOUT   (FILTER 'none': nothing)
  local label="$1" filter="$2" min_time="$3" limit rc
  local json="$BUILD/gpu_check_bench_$label.json" log="$BUILD/gpu_check_bench_$label.log"
  rm -f "$json" "$log"  # no numbers of an earlier call are reported as this one's
  [ "$filter" = none ] && return
  limit="$(step_limit "$4")"
  if ! built "$BUILD/bench/atebm_bench_cuda" || [ "$limit" -lt 20 ]; then
    STATUS=1
    echo "gpu_check: atebm_bench_cuda ($label) skipped: not built, or the time budget is spent" >&2
    BENCH_ROWS+=("| $label | skipped (not built or no time) | | | |")
    return
  fi
  echo "gpu_check: atebm_bench_cuda --benchmark_filter='$filter' (min time ${min_time}s, limit ${limit}s)"
  with_deps timeout -k 10 "$limit" "$BUILD/bench/atebm_bench_cuda" --benchmark_filter="$filter" --benchmark_min_time="$min_time" \
    --benchmark_out="$json" --benchmark_out_format=json 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  if [ "$rc" -ne 0 ]; then
    STATUS=1
    echo "gpu_check: atebm_bench_cuda ($label) exited with $rc$([ "$rc" = 124 ] && echo ' (time limit)')" >&2
    BENCH_ROWS+=("| $label | exit $rc | | | see $log |")
  fi
}
if [ "$EMULATED" = 1 ]; then
  # One size of a few kernels, the smallest conv shape and the channels-last kernel on a small
  # 1x1 one (the stem has 3 channels): the emulator runs them thread by thread, and the
  # ResNet-50 iteration would take hours.
  KERNEL_FILTER="${KERNEL_FILTER:-BM_cuda_(copy_d2d|add|sum_columns|max_columns)/16777216}"
  CONV_FILTER="${CONV_FILTER:-conv2d_.*/n32/3x3_s1_3to64_32x32|conv2d_forward/igemm_nhwc64/.*/n32/1x1_s1_64to64_32x32}"
  CONV128_FILTER="${CONV128_FILTER:-conv2d_forward/engine/tf32/n128/3x3_s1_3to64_32x32}"
  MIN_TIME="${BENCH_MIN_TIME:-0.001}" CONV_MIN_TIME="${CONV_MIN_TIME:-0.001}"
fi
# The PyTorch peer of BM_cuda_at_iteration_* (same model, batch, PGD steps, loss and optimiser;
# the script's docstring lists what differs), when this machine's python3 has torch with CUDA.
run_torch_peer() {
  local log="$BUILD/gpu_check_torch.log" limit
  rm -f "$log" "$BUILD/gpu_check_torch.json"
  if [ "$EMULATED" = 1 ] || [ "${SKIP_TORCH:-0}" = 1 ]; then return; fi
  if ! python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
    BENCH_ROWS+=("| torch_at_iteration | skipped: python3 has no torch with CUDA | | | |")
    return
  fi
  limit="$(step_limit 120)"
  if [ "$limit" -lt 40 ]; then
    BENCH_ROWS+=("| torch_at_iteration | skipped: no time | | | |")
    return
  fi
  echo "gpu_check: PyTorch peer bench/scripts/torch_at_iteration.py (limit ${limit}s)"
  PYTHONUNBUFFERED=1 timeout -k 10 "$limit" python3 "$ROOT/bench/scripts/torch_at_iteration.py" \
    --json "$BUILD/gpu_check_torch.json" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  # "torch_at_iteration/<variant>/cudnn_benchmark=B  ms=..  images/s=..  pgd_ms=.." -> one row each
  while IFS= read -r row; do BENCH_ROWS+=("$row"); done < <(awk '
    /^torch_at_iteration:/ { sub(/^torch_at_iteration: /, ""); print "| torch_at_iteration (peer) | | | | " $0 " |" }
    /^torch_at_iteration\// {
      ms = ""; other = ""
      for (i = 2; i <= NF; i++) { if ($i ~ /^ms=/) ms = substr($i, 4); else other = other (other == "" ? "" : ", ") $i }
      print "| " $1 " | " ms " ms | | | " other " |"
    }' "$log")
  [ "$rc" -eq 0 ] || BENCH_ROWS+=("| torch_at_iteration | exit $rc | | | see gpu_check_torch.log |")
}

if [ "${SKIP_BENCH:-0}" != 1 ]; then
  # The issue's own rows first (kernels, training iteration, conv at batch 32), then the peer
  # (a third-party script that could stall: it must not eat the conv time), then batch 128.
  run_bench kernels "${KERNEL_FILTER:-BM_cuda_}" "$MIN_TIME" 240
  run_bench conv "${CONV_FILTER:-conv2d_.*/n32/}" "${CONV_MIN_TIME:-0.002}" 300
  run_torch_peer
  CONV128_FILTER="${CONV128_FILTER:-conv2d_.*/((engine|cudnn|igemm_pipe|igemm_nhwc64|igemm_nhwc128)/(tf32|fp32)|igemm/fp32)/n128/}"
  run_bench conv128 "$CONV128_FILTER" "${CONV_MIN_TIME:-0.002}" 150
  if command -v python3 >/dev/null; then
    # Kernel rows one by one; conv rows per (pass, way, precision, batch): the summed GPU time of
    # the ResNet-50 conv shapes (one pass over the network's distinct convs) and the TFLOP/s of
    # that sum.
    shopt -s nullglob
    BENCH_JSON=("$BUILD"/gpu_check_bench_*.json)
    shopt -u nullglob
    while IFS= read -r row; do BENCH_ROWS+=("$row"); done < <(python3 - ${BENCH_JSON[@]+"${BENCH_JSON[@]}"} <<'PY'
import json, sys
from collections import OrderedDict
skip = {"name", "run_name", "run_type", "repetitions", "repetition_index", "threads", "iterations", "real_time",
        "cpu_time", "time_unit", "family_index", "per_family_instance_index", "aggregate_name", "label",
        "error_occurred", "error_message", "GB/s", "pct_of_copy", "TFLOP/s"}
def num(v):
    return f"{v:.4g}" if isinstance(v, (int, float)) else str(v)
conv = OrderedDict()
rate = {}  # (pass, way, precision, batch, shape) -> TFLOP/s
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
            g = conv.setdefault(group, [0.0, 0.0, 0, 0.0, 0.0])  # GPU s, work, shapes, eager us, host us
            g[0] += t
            g[1] += b.get("TFLOP/s", 0.0) * t
            g[2] += 1
            g[3] += b.get("eager_us", 0.0)
            g[4] += b.get("host_us", 0.0)
            parts = name.split("/")
            if len(parts) >= 5:
                rate[tuple(parts[:5])] = b.get("TFLOP/s", 0.0)
            continue
        other = ", ".join(f"{k}={num(v)}" for k, v in b.items() if k not in skip and isinstance(v, (int, float)))
        if b.get("label"):
            other = (other + "; " if other else "") + b["label"]
        print(f"| {name} | {b['real_time']:.4g} {b.get('time_unit', '')} | {num(b['GB/s']) if 'GB/s' in b else ''} | "
              f"{num(b['pct_of_copy']) if 'pct_of_copy' in b else ''} | {other} |")
# Per (pass, way, precision, batch): the summed GPU time of the ResNet-50 conv shapes (one pass
# over the network's distinct convs, from graph replays) with the TFLOP/s of that sum, and the
# summed eager and host-issue times.
for group, (t, work, n, eager, host) in conv.items():
    print(f"| {group} (sum of {n} shapes) | {t * 1e3:.4g} ms | | | TFLOP/s={num(work / t if t > 0 else 0.0)}, "
          f"eager {eager / 1e3:.4g} ms, host {host / 1e3:.4g} ms |")
# The engine against raw cuDNN on the same algorithms (target: within 5%), and the measured
# algorithm search against the heuristic one, on the sums above.
for group, (t, work, n, eager, host) in conv.items():
    p, way, prec, batch = group.split("/")
    for other, what in (("cudnn", "engine vs cudnn"), ("engine", "engine_measured vs engine")):
        mine = way == ("engine" if other == "cudnn" else "engine_measured")
        ref = conv.get(f"{p}/{other}/{prec}/{batch}")
        if not mine or not ref or ref[0] <= 0 or ref[3] <= 0:
            continue
        print(f"| {p}/{prec}/{batch}: {what} | GPU {100 * (t / ref[0] - 1):+.1f}% | | | "
              f"eager {100 * (eager / ref[3] - 1):+.1f}%, host {host / n:.3g} vs {ref[4] / ref[2]:.3g} us/call |")
# The hand-written forward kernels against cuDNN shape by shape on the 3x3 layers (the target:
# >= 50% of cuDNN's TFLOP/s there).
for (p, way, prec, batch, shape), r in rate.items():
    if p != "conv2d_forward" or way != "cudnn" or not shape.startswith("3x3") or r <= 0:
        continue
    mine = [f"{w} {100 * rate[(p, w, prec, batch, shape)] / r:.0f}%"
            for w in ("igemm", "igemm_pipe", "igemm_pipe64", "igemm_pipe128", "igemm_pipe128w8", "igemm_nhwc64",
                      "igemm_nhwc128")
            if (p, w, prec, batch, shape) in rate]
    if mine:
        print(f"| {p}/{prec}/{batch}/{shape}: of cuDNN | {num(r)} TFLOP/s | | | {', '.join(mine)} |")
PY
)
  else
    while IFS= read -r l; do
      BENCH_ROWS+=("| \`$l\` | | | | |")
    done < <(cat "$BUILD"/gpu_check_bench_*.log 2>/dev/null | grep -E "^(BM_|conv2d)")
  fi
fi

# ---- compute-sanitizer (after the benchmarks: slow, and a check, not a number) ----------------
SANITIZER="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)"
if [ "$EMULATED" != 1 ] && [ "${SKIP_TESTS:-0}" != 1 ] && [ "${SKIP_SANITIZER:-0}" != 1 ] && [ -n "$SANITIZER" ]; then
  run_sanitizer memcheck 90 '*ImplicitGemm*:*CudaColumnReduce*:CudnnAlgoSearch*'
  run_sanitizer racecheck 60 '*ImplicitGemmConv*pipelined*resnet3x3*:*ImplicitGemmConv*pipelined*split_uneven*:*ImplicitGemmConv*pipelined*channels_last_partial*'
fi

# ---- one kernel profile (best effort) ---------------------------------------------------------
# Nsight Compute on the hand-written conv kernels (NCU_WAYS), one 3x3 layer (128 -> 128 channels at
# 16x16, batch 32): where its time goes (tensor pipe, issue slots, stalls, occupancy), to steer
# the next change to it. Skipped without ncu or with under 60 s left; a failure (ncu cannot read
# the counters on every runtime) is reported but does not fail the check.
if [ "$EMULATED" != 1 ] && [ "${SKIP_BENCH:-0}" != 1 ] && [ "${SKIP_PROFILE:-0}" != 1 ]; then
  NCU="$(command -v ncu || ls -d /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -n 1 || true)"
  PROFILE_LOG="$BUILD/gpu_check_ncu.log"
  rm -f "$PROFILE_LOG"
  if [ -z "$NCU" ] || [ ! -x "$NCU" ]; then
    BENCH_ROWS+=("| ncu profile | skipped: no ncu | | | |")
  elif [ "$(step_limit 120)" -lt 60 ] || ! built "$BUILD/bench/atebm_bench_cuda"; then
    BENCH_ROWS+=("| ncu profile | skipped: not built or no time | | | |")
  else
    # NCU_WAYS: benchmark way:kernel-name pairs to profile.
    for pair in ${NCU_WAYS:-igemm_nhwc128:implicit_gemm_nhwc igemm_nhwc64:implicit_gemm_nhwc igemm_pipe64:implicit_gemm_pipelined}; do
      way="${pair%%:*}" kernel="${pair#*:}"
      limit="$(step_limit 60)"
      [ "$limit" -lt 20 ] && break
      echo "gpu_check: ncu on $kernel, way $way (limit ${limit}s)"
      # --launch-skip 1: the benchmark's warm-up call; one launch is profiled (replayed per section).
      if with_deps timeout -k 10 "$limit" "$NCU" --clock-control none --kernel-name "regex:$kernel" \
           --launch-skip 1 --launch-count 1 --section SpeedOfLight --section Occupancy --section LaunchStats \
           --section WarpStateStats --section ComputeWorkloadAnalysis "$BUILD/bench/atebm_bench_cuda" \
           --benchmark_filter="conv2d_forward/$way/tf32/n32/3x3_s1_128to128_16x16" \
           --benchmark_min_time=0.001 >>"$PROFILE_LOG" 2>&1; then
        BENCH_ROWS+=("| ncu profile, $way | ok | | | gpu_check_ncu.log |")
      else
        BENCH_ROWS+=("| ncu profile, $way | failed (best effort) | | | gpu_check_ncu.log |")
      fi
    done
    grep -E "^ +(Duration|Compute \(SM\) Throughput|Memory Throughput|Registers Per Thread|Achieved Occupancy|Issue Slots Busy|Executed Ipc Active)" \
      "$PROFILE_LOG" 2>/dev/null | head -n 20 || true
  fi
fi

# ---- summary -----------------------------------------------------------------------------------
# The block for bench/RESULTS.md (long: every benchmark row) first, also saved as
# gpu_check_results.md; the short test table last, since a `run` call returns the output's end.
DATE="$(date -u +%Y-%m-%d)"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ] && COMMIT="$COMMIT+local changes"

{
  [ "$EMULATED" = 1 ] && echo "REHEARSAL ON THE EMULATED GPU (GPU_CHECK_EMULATED=1): do not paste into bench/RESULTS.md"
  echo "### $DATE — $GPU_NAME (sm_$ARCH)"
  echo
  echo "Driver $DRIVER, CUDA $CUDA_VERSION, cuDNN: $CUDNN_DESC, commit $COMMIT, \`tools/gpu_check.sh\`"
  echo "(benchmark min time ${MIN_TIME}s; conv: ${CONV_MIN_TIME:-0.002}s, filters \`${CONV_FILTER:-conv2d_.*/n32/}\`"
  echo "then \`${CONV128_FILTER:-none}\`)."
  echo
  echo "| test binary | passed | failed | skipped |"
  echo "|---|---|---|---|"
  for row in ${SUMMARY[@]+"${SUMMARY[@]}"}; do
    IFS='|' read -r name p f s t <<<"$row"
    echo "| $name | $p | $f | $s |"
  done
  if [ "${#BENCH_ROWS[@]}" -gt 0 ]; then
    echo
    echo "| benchmark | time | GB/s | % of copy | other |"
    echo "|---|---|---|---|---|"
    for r in "${BENCH_ROWS[@]}"; do echo "$r"; done
  fi
} >"$BUILD/gpu_check_results.md"
echo
echo "---- paste into bench/RESULTS.md (also in $BUILD/gpu_check_results.md) ----"
cat "$BUILD/gpu_check_results.md"
echo "---- end ----"

echo
echo "==================== gpu_check summary ($(( $(date +%s) - START_TIME ))s of a ${BUDGET}s budget) ===================="
echo "$GPU_NAME (sm_$ARCH), driver $DRIVER, CUDA $CUDA_VERSION, cuDNN $CUDNN_DESC"
printf "%-36s %8s %14s %8s %6s\n" "test binary" "passed" "failed" "skipped" "sec"
for row in ${SUMMARY[@]+"${SUMMARY[@]}"}; do
  IFS='|' read -r name p f s t <<<"$row"
  printf "%-36s %8s %14s %8s %6s\n" "$name" "$p" "$f" "$s" "$t"
done
for n in ${FAILED_NAMES[@]+"${FAILED_NAMES[@]}"}; do echo "  failed: $n"; done
[ "${#BENCH_ROWS[@]}" -gt 0 ] && echo "benchmarks: ${#BENCH_ROWS[@]} rows above"

[ "$STATUS" -eq 0 ] && echo "gpu_check: OK" || echo "gpu_check: FAILED (see above)" >&2
exit "$STATUS"
