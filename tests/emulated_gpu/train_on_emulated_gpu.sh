#!/usr/bin/env bash
# The trainer's whole GPU path on cuda_emu (ctest: emulated_gpu.train): a tiny model trained with
# train.device=cuda (pinned batches, the PGD loop captured into a CUDA graph and replayed,
# checkpoints of device tensors), resumed, sampled on the device; its first iterations must match
# the same run on the CPU (TF32 is on for training, so within 1e-4 relative, not bitwise).
#   train_on_emulated_gpu.sh ATEBM OUT_DIR
set -euo pipefail
atebm="$1" out="$2"
rm -rf "$out"
mkdir -p "$out"
config() {  # config DEVICE
  cat <<JSON
{"model": {"arch": "resnet", "block": "basic", "layers": [1, 1, 1, 1], "widths": [8, 8, 16, 16],
           "in_channels": 1, "num_classes": 1, "pool": 2, "mean": [0.5], "std": [0.5]},
 "data": {"train": "smooth:256:seed=7", "p0": "uniform:256:seed=9", "shape": [1, 16, 16], "batch_size": 16},
 "attack": {"step_size": 0.3, "start_step": 2, "max_steps": 4},
 "loss": {"r1_weight": 0.1},
 "train": {"max_iters": 4, "checkpoint_every": 2, "device": "$1", "sample_at_end": false}}
JSON
}
config cuda >"$out/cuda.json"
config cpu >"$out/cpu.json"
"$atebm" train --config "$out/cuda.json" --out "$out/cuda"
"$atebm" train --out "$out/cuda" --resume train.max_iters=6
"$atebm" train --config "$out/cpu.json" --out "$out/cpu"
"$atebm" sample --run "$out/cuda" --n 8 --steps 4 --device cuda --npy "$out/samples.npy"
[ -s "$out/samples.npy" ] || { echo "no samples written" >&2; exit 1; }

lines=$(wc -l <"$out/cuda/metrics.jsonl")
[ "$lines" -eq 6 ] || { echo "expected 6 metric lines after the resume, got $lines" >&2; exit 1; }
loss_of() {  # loss_of FILE ITER
  grep "\"iter\":$2," "$1" | sed -E 's/.*"loss":([-0-9.eE+]+).*/\1/'
}
for it in 1 2 3 4; do
  a=$(loss_of "$out/cuda/metrics.jsonl" "$it") b=$(loss_of "$out/cpu/metrics.jsonl" "$it")
  if ! awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-4 * (b < 0 ? -b : b)) }'; then
    echo "iteration $it: loss $a on the emulated GPU, $b on the CPU (more than 1e-4 relative apart)" >&2
    exit 1
  fi
  echo "iteration $it: loss $a (emulated GPU) vs $b (CPU)"
done
