#!/usr/bin/env bash
# The trainer's whole GPU path on cuda_emu (ctest: emulated_gpu.train): a tiny model trained with
# train.device=cuda (pinned batches, the PGD loop and the loss step captured into CUDA graphs and replayed,
# checkpoints of device tensors), resumed, sampled on the device (with the run's CUDA math settings
# unless options replace them); its first iterations must match
# the same run on the CPU (TF32 is on for training, so within 1e-4 relative, not bitwise). And two
# iterations with the hand-written pipelined conv forward (train.conv_algo), likewise.
#   train_on_emulated_gpu.sh ATEBM OUT_DIR
set -euo pipefail
atebm="$1" out="$2"
rm -rf "$out"
mkdir -p "$out"
# The GPU check's tiny run (tools/tiny_gpu_train.json), 4 iterations, on each device.
config="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tools/tiny_gpu_train.json"
short=(train.max_iters=4 train.checkpoint_every=2)
"$atebm" train --config "$config" --out "$out/cuda" "${short[@]}"
"$atebm" train --out "$out/cuda" --resume train.max_iters=6
"$atebm" train --config "$config" --out "$out/cpu" "${short[@]}" train.device=cpu
"$atebm" train --config "$config" --out "$out/igemm" train.max_iters=2 train.conv_algo=implicit_gemm_pipelined
# Sampling runs with the math its run was trained with (train.tf32, conv_algo, cudnn_algo_search),
# unless options replace it; on a GPU the command says which.
expect_line() {  # expect_line TEXT FILE
  grep -qF "$1" "$2" || { echo "expected '$1' in the output of sample:" >&2; cat "$2" >&2; exit 1; }
}
"$atebm" sample --run "$out/cuda" --n 8 --steps 4 --device cuda --npy "$out/samples.npy" | tee "$out/sample.log"
[ -s "$out/samples.npy" ] || { echo "no samples written" >&2; exit 1; }
expect_line "cuda:0: TF32 on, conv forward cudnn, cuDNN algorithms heuristic" "$out/sample.log"
"$atebm" sample --run "$out/igemm" --n 2 --steps 1 --device cuda --npy "$out/igemm.npy" | tee "$out/igemm.log"
expect_line "conv forward implicit_gemm_pipelined" "$out/igemm.log"
"$atebm" sample --run "$out/igemm" --n 2 --steps 1 --device cuda --npy "$out/igemm.npy" --no-tf32 --conv-algo cudnn \
  | tee "$out/igemm.log"
expect_line "cuda:0: TF32 off, conv forward cudnn," "$out/igemm.log"

lines=$(wc -l <"$out/cuda/metrics.jsonl")
[ "$lines" -eq 6 ] || { echo "expected 6 metric lines after the resume, got $lines" >&2; exit 1; }
loss_of() {  # loss_of FILE ITER
  grep "\"iter\":$2," "$1" | sed -E 's/.*"loss":([-0-9.eE+]+).*/\1/'
}
compare() {  # compare RUN ITERS...: RUN's losses against the CPU run's
  local run="$1" it a b
  shift
  for it in "$@"; do
    a=$(loss_of "$out/$run/metrics.jsonl" "$it") b=$(loss_of "$out/cpu/metrics.jsonl" "$it")
    if ! awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-4 * (b < 0 ? -b : b)) }'; then
      echo "$run, iteration $it: loss $a on the emulated GPU, $b on the CPU (more than 1e-4 relative apart)" >&2
      exit 1
    fi
    echo "$run, iteration $it: loss $a (emulated GPU) vs $b (CPU)"
  done
}
compare cuda 1 2 3 4
compare igemm 1 2
