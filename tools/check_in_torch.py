#!/usr/bin/env python3
"""Loads an atebm model file into the equivalent PyTorch module and compares the scores.

Usage (needs python3 + torch; nothing else in the project does):

  atebm energy --model M.safetensors --input X.npy --out E.npz
  python3 tools/check_in_torch.py M.safetensors --input X.npy --energy E.npz

The model file's config (metadata "atebm.model") picks the module from
tools/torch_reference_models.py (independent PyTorch definitions of atebm's models); the
state dict is loaded with load_state_dict(strict=True), exactly as a PyTorch user would after
safetensors.torch.load_file. With --input/--energy, the module's logit 0 on X (float64, eval
mode) is compared with the `logit` array atebm wrote, and the largest difference is printed.
Exit code 0 when the load is strict-clean and (if compared) the relative difference is below
--tol; 1 otherwise.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference_models as ref  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", help="atebm model file (.safetensors)")
    p.add_argument("--input", help=".npy of inputs given to `atebm energy`")
    p.add_argument("--energy", help=".npz written by `atebm energy` for the same inputs")
    p.add_argument("--tol", type=float, default=1e-4, help="largest relative difference accepted")
    a = p.parse_args(argv)

    tensors, metadata = ref.read_safetensors(a.model)
    if "atebm.model" not in metadata:
        print(f"{a.model}: no atebm.model config in the metadata", file=sys.stderr)
        return 1
    config = json.loads(metadata["atebm.model"])
    module = ref.build_model(config)
    module.load_state_dict(tensors, strict=True)  # raises listing missing/unexpected keys
    print(f"{a.model}: {len(tensors)} tensors loaded strictly into {type(module).__name__} ({config['arch']})")
    if not (a.input and a.energy):
        return 0
    x = np.load(a.input)
    if x.dtype == np.uint8:
        x = x.astype(np.float64) / 255.0
    x = torch.from_numpy(x.astype(np.float64))
    if x.dim() == 3:
        x = x.unsqueeze(1)
    module = module.double().eval()
    with torch.no_grad():
        ours = module(x)[:, 0].numpy()
    theirs = np.load(a.energy)["logit"].astype(np.float64)
    rel = np.max(np.abs(ours - theirs)) / max(1e-12, np.max(np.abs(ours)))
    print(f"logit 0 on {len(ours)} inputs: max |torch - atebm| / max |torch| = {rel:.3g}")
    return 0 if rel < a.tol else 1


if __name__ == "__main__":
    sys.exit(main())
