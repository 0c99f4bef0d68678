#!/usr/bin/env bash
# Data-parallel scaling of `atebm train` on this machine (issue 9): iterations/s of the
# fashion-mnist preset's model at the same global batch, run as
#   1 process  × 1 thread       (the baseline)
#   1 process  × 2 threads      (the peer: OpenMP inside one process on the same cores)
#   2 ranks    × 1 thread each  (mpirun -np 2; each rank half the batch, gradients all-reduced
#                                during backward; then again with train.overlap_allreduce=false)
# plus the gradient all-reduce time per iteration that `atebm train` reports: the wait after
# backward (what backward did not hide) and the time spent inside backward packing and starting
# buckets (nn/dist/grad_sync.h overlaps the all-reduce with backward).
# K is held fixed (attack.start_step = attack.max_steps = K) so every configuration does the
# same work per iteration; the first WARMUP iterations are excluded from the rate.
#
#   bench/scripts/mpi_scaling.sh [BUILD_DIR] [ITERS] [K] [GLOBAL_BATCH]
set -euo pipefail
build="${1:-build}"
iters="${2:-30}"
k="${3:-5}"
batch="${4:-64}"
warmup=5
atebm="$build/atebm"
[[ -x "$atebm" ]] || { echo "no $atebm: build first (./scripts/setup.sh)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "mpirun not found: install openmpi-bin (./scripts/setup.sh)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

common=(--preset fashion-mnist "train.max_iters=$iters" "train.checkpoint_every=1000000" "train.sample_at_end=false"
        "attack.start_step=$k" "attack.max_steps=$k" "train.log_every=1000000")

# it/s after the warm-up, from metrics.jsonl's cumulative training seconds.
rate() {
  python3 - "$1" "$warmup" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
w = int(sys.argv[2])
t0, t1 = lines[w - 1]["seconds"], lines[-1]["seconds"]
print(f"{(len(lines) - w) / (t1 - t0):.3f}")
PY
}

run() {  # name ranks threads [extra overrides...]
  local name="$1" ranks="$2" threads="$3" out="$work/$1"
  local extra=("${@:4}")
  local per_rank=$((batch / ranks))
  local log="$work/$name.log"
  if [[ "$ranks" == 1 ]]; then
    OMP_NUM_THREADS="$threads" OMP_WAIT_POLICY=passive "$atebm" train "${common[@]}" --out "$out" \
      "train.threads=$threads" "data.batch_size=$per_rank" >"$log" 2>&1
  else
    OMP_NUM_THREADS="$threads" OMP_WAIT_POLICY=passive OMPI_MCA_btl_vader_single_copy_mechanism=none \
      mpirun --allow-run-as-root --oversubscribe -np "$ranks" "$atebm" train "${common[@]}" --out "$out" \
      "train.threads=$threads" "data.batch_size=$per_rank" ${extra[@]+"${extra[@]}"} >"$log" 2>&1
  fi
  local r
  r="$(rate "$out")"
  local after inside
  after="$(grep -o '[0-9.]* ms per iteration after backward' "$log" | cut -d' ' -f1 || true)"
  inside="$(grep -o '[0-9.]* ms inside it' "$log" | cut -d' ' -f1 || true)"
  printf '| %-22s | %5s | %7s | %9s | %8s | %14s | %14s |\n' "$name" "$ranks" "$threads" "$r" \
    "$(python3 -c "print(f'{$r * $batch:.1f}')")" "${after:--}" "${inside:--}"
}

echo "global batch $batch (m = $batch / ranks per rank), K = $k, $iters iterations ($warmup warm-up), $(nproc) cores"
printf '| %-22s | %5s | %7s | %9s | %8s | %14s | %14s |\n' configuration ranks threads "it/s" "img/s" \
  "sync ms after" "sync ms inside"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "------------------------" "-------" "---------" "-----------" "----------" \
  "----------------" "----------------"
run "1 process, 1 thread" 1 1
run "1 process, 2 threads" 1 2
run "2 ranks, 1 thread each" 2 1
run "2 ranks, no overlap" 2 1 train.overlap_allreduce=false
