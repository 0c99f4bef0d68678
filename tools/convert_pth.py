#!/usr/bin/env python3
"""Converts PyTorch checkpoints of the paper's models (.pth / .pt) into atebm model files.

Usage (needs python3 + torch; run from anywhere):

  # The paper's CIFAR-10 model (robustness-library ResNet-50, logit 0 of a 10-way head):
  python3 tools/convert_pth.py model.pth cifar10.safetensors --arch resnet50
  # A ResNet-18 (basic blocks):
  python3 tools/convert_pth.py ckpt.pt r18.safetensors --arch resnet18
  # A 256x256 StarGAN-v2-style discriminator (AT-EBM's CelebA-HQ / AFHQ / Church models):
  python3 tools/convert_pth.py model.pth celebahq.safetensors --arch stargan-discriminator --img-size 256
  # Anything atebm's model configs describe (see nn/models/model_config.h):
  python3 tools/convert_pth.py ckpt.pth out.safetensors --config '{"arch": "mlp", "dims": [2, 128, 128, 1]}'
  # Also write a check input and the reference's logits, to compare with `atebm energy`:
  python3 tools/convert_pth.py model.pth cifar10.safetensors --arch resnet50 --check-dir check/

What is understood of the checkpoint:
  * the state dict is the file itself, or the first of its entries 'model', 'state_dict',
    'model_state_dict', 'net', 'discriminator' that is one (a whole pickled nn.Module works too);
  * 'module.' prefixes (nn.DataParallel, as the AT-EBM training script saves) are removed;
  * robustness-library checkpoints (AttackerModel: 'model.*', 'attacker.model.*',
    'normalizer.new_mean/new_std', ...): the 'model.' subtree is kept, the 'attacker.' copy
    dropped, and the normaliser's mean/std become the config's mean/std (which atebm applies
    inside the model, like the library's normaliser);
  * AT-EBM's discriminator ends in nn.Linear(512, K) named 'linear' on the 1x1 feature map; atebm's
    ends in the equivalent 1x1 conv main.<last>: its weight is reshaped [K, 512] -> [K, 512, 1, 1];
    StarGAN v2's own final 1x1 conv is taken as it is. num_outputs (num_classes) comes from it.
  * BatchNorm num_batches_tracked missing (checkpoints older than PyTorch 0.4.1) is set to 0.

Defaults: --arch resnet50 means the paper's CIFAR-10 model: bottleneck [3, 4, 6, 3], widths
64..512, 3 input channels, 4x4 average pooling, CIFAR-10 mean/std (0.4914, 0.4822, 0.4465) /
(0.2023, 0.1994, 0.2010) unless the checkpoint holds a normaliser; num_classes from the
checkpoint's last layer. --config fields override everything derived.

The converted tensors are checked against the state dict that tools/torch_reference_models.py
(an independent PyTorch definition of atebm's models) expects for the config: every name and
shape must match, or the script stops with one error listing the differences (exit code 1).
The output is float32 (num_batches_tracked int64) with the config in __metadata__["atebm.model"].

Note: AT-EBM's 256x256 models were trained on ImageNet-normalised input ((x - mean) / std with
mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225), applied outside the network). When the
script recognises such a checkpoint (by its 'linear' head) it puts these into the config's
mean/std, so atebm's discriminator normalises [0, 1] images the same way.

Loading uses torch.load(weights_only=True) where torch supports it; --unsafe-pickle allows a
full unpickle, for checkpoints that hold other Python objects (only for files you trust).
"""
import argparse
import json
import math
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import torch_reference_models as ref  # noqa: E402

STATE_DICT_KEYS = ("model", "state_dict", "model_state_dict", "net", "discriminator")

ARCHS = {
    "resnet50": {"arch": "resnet", "block": "bottleneck", "layers": [3, 4, 6, 3]},
    "resnet18": {"arch": "resnet", "block": "basic", "layers": [2, 2, 2, 2]},
    "stargan-discriminator": {"arch": "stargan_discriminator", "max_conv_dim": 512},
}


class ConversionError(Exception):
    pass


def load_checkpoint(path, unsafe_pickle):
    kwargs = {"map_location": "cpu"}
    if not unsafe_pickle:
        kwargs["weights_only"] = True
    try:
        return torch.load(path, **kwargs)
    except TypeError:  # a torch without weights_only
        kwargs.pop("weights_only", None)
        return torch.load(path, **kwargs)
    except Exception as e:  # noqa: BLE001 - torch raises several kinds for unpicklable content
        if unsafe_pickle:
            raise
        raise ConversionError(f"{path}: cannot be read with weights_only=True ({e}); if you trust the file, "
                              "run again with --unsafe-pickle") from e


def is_state_dict(obj):
    return isinstance(obj, dict) and len(obj) > 0 and all(
        isinstance(k, str) and torch.is_tensor(v) for k, v in obj.items())


def find_state_dict(obj, path):
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict(), "a pickled module"
    if is_state_dict(obj):
        return obj, "the top level"
    if isinstance(obj, dict):
        for key in STATE_DICT_KEYS:
            if is_state_dict(obj.get(key)):
                return obj[key], f"entry '{key}'"
            if isinstance(obj.get(key), torch.nn.Module):
                return obj[key].state_dict(), f"entry '{key}' (a pickled module)"
        entries = ", ".join(f"'{k}'" for k in list(obj)[:12])
        raise ConversionError(f"{path}: no state dict at the top level or under {', '.join(STATE_DICT_KEYS)} "
                              f"(entries: {entries})")
    raise ConversionError(f"{path}: holds a {type(obj).__name__}, not a state dict")


def strip_prefix(state, prefix):
    """Removes `prefix` from the names that have it (repeatedly: nested DataParallel)."""
    out = {}
    for k, v in state.items():
        while k.startswith(prefix):
            k = k[len(prefix):]
        out[k] = v
    return out


def take_robustness_model(state, notes):
    """AttackerModel -> its 'model.' subtree; returns (state, mean, std) (None when absent)."""
    if not any(k.startswith("model.") for k in state):
        return state, None, None
    mean = state.get("normalizer.new_mean")
    std = state.get("normalizer.new_std")
    kept = {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}
    dropped = len(state) - len(kept)
    notes.append(f"robustness-library layout: kept {len(kept)} tensors of 'model.', dropped {dropped} "
                 "('attacker.' copy, normaliser)")
    if mean is None or std is None:
        return kept, None, None
    return kept, decimal_list(mean), decimal_list(std)


def decimal_list(t):
    """Values as the shortest decimals that round to them in t's dtype (float32 0.4914 -> 0.4914)."""
    if t.dtype == torch.float32:
        import numpy as np
        return [float(str(np.float32(v))) for v in t.flatten().tolist()]
    return [float(v) for v in t.flatten().tolist()]


def last_conv_index(config):
    """Index in main of the discriminator's final 1x1 conv: 0 conv, R ResBlks, lrelu, conv, lrelu, conv."""
    return int(round(math.log2(config["img_size"]))) - 2 + 4


def adapt_discriminator_head(state, config, notes):
    """AT-EBM's 'linear' [K, C] head -> main.<last> [K, C, 1, 1]; sets num_outputs from the head."""
    last = f"main.{last_conv_index(config)}"
    if "linear.weight" in state:
        w = state.pop("linear.weight")
        state[last + ".weight"] = w.reshape(w.shape[0], w.shape[1], 1, 1)
        if "linear.bias" in state:
            state[last + ".bias"] = state.pop("linear.bias")
        notes.append(f"AT-EBM head: linear.weight {list(w.shape)} -> {last}.weight {list(w.shape) + [1, 1]}")
        config.setdefault("mean", [0.485, 0.456, 0.406])
        config.setdefault("std", [0.229, 0.224, 0.225])
        notes.append("AT-EBM's 256x256 models expect ImageNet-normalised input: config mean/std set to ImageNet's")
    if last + ".weight" in state:
        config.setdefault("num_outputs", int(state[last + ".weight"].shape[0]))
    return state


def add_missing_batch_counts(state, expected, notes):
    added = [k for k in expected if k.endswith("num_batches_tracked") and k not in state]
    for k in added:
        state[k] = torch.tensor(0, dtype=torch.int64)
    if added:
        notes.append(f"set {len(added)} missing BatchNorm num_batches_tracked to 0")


def check_against(state, expected, config):
    mismatch = ref.state_mismatch(state, expected, "the checkpoint")
    if not mismatch:
        return
    raise ConversionError(
        f"the checkpoint does not match the architecture {json.dumps(config)} "
        f"({len(state)} tensors converted, {len(expected)} expected):" + mismatch
        + "\n  pick the matching --arch / --img-size, or describe the model with --config")


def build_config(args, state, norm_mean, norm_std):
    if args.config:
        text = open(args.config).read() if os.path.isfile(args.config) else args.config
        user = json.loads(text)
    else:
        user = {}
    # Without --arch and without an arch in --config: the paper's CIFAR-10 model.
    arch = args.arch or (None if "arch" in user else "resnet50")
    config = dict(ARCHS[arch]) if arch else {}
    config.update(user)
    if config["arch"] == "stargan_discriminator":
        if args.img_size is not None:
            config["img_size"] = args.img_size
        config.setdefault("img_size", 256)
    if config["arch"] == "resnet":
        if norm_mean is not None and "mean" not in user:
            config["mean"], config["std"] = norm_mean, norm_std
        if "linear.weight" in state and "num_classes" not in user:
            config["num_classes"] = int(state["linear.weight"].shape[0])
        if "conv1.weight" in state and "in_channels" not in user:
            config["in_channels"] = int(state["conv1.weight"].shape[1])
    return config


def convert(args):
    notes = []
    obj = load_checkpoint(args.checkpoint, args.unsafe_pickle)
    state, where = find_state_dict(obj, args.checkpoint)
    n_source = len(state)
    state = strip_prefix(dict(state), "module.")
    state, norm_mean, norm_std = take_robustness_model(state, notes)

    config = build_config(args, state, norm_mean, norm_std)
    if config["arch"] == "stargan_discriminator":
        state = adapt_discriminator_head(state, config, notes)
    config = ref.complete_config(config)
    expected = ref.expected_state(config)
    add_missing_batch_counts(state, expected, notes)
    check_against(state, expected, config)

    out = {}
    for k in expected:  # the reference's order; the writer sorts anyway
        t = state[k]
        out[k] = t.to(torch.int64) if k.endswith("num_batches_tracked") else t.to(torch.float32)
    metadata = {"atebm.model": json.dumps(config), "atebm.converted_from": os.path.basename(args.checkpoint)}
    ref.write_safetensors(args.output, out, metadata)

    n_params = sum(t.numel() for k, t in out.items() if not k.endswith(("running_mean", "running_var",
                                                                        "num_batches_tracked")))
    print(f"{args.checkpoint}: {n_source} tensors (state dict at {where})")
    for n in notes:
        print(f"  {n}")
    print(f"wrote {args.output}: {len(out)} tensors ({n_params} parameters), config {json.dumps(config)}")
    if args.check_dir:
        write_check(args.check_dir, config, out)


def write_check(directory, config, state):
    """A random input and the reference model's float64 logits, for comparing with `atebm energy`."""
    import numpy as np
    os.makedirs(directory, exist_ok=True)
    model = ref.build_model(config)
    model.load_state_dict(state, strict=True)
    model = model.double().eval()
    gen = torch.Generator().manual_seed(0)
    if config["arch"] == "mlp":
        x = torch.randn(4, config["dims"][0], generator=gen)
    else:
        c = 3 if config["arch"] == "stargan_discriminator" else config["in_channels"]
        size = config.get("img_size", 32)
        x = torch.rand(4, c, size, size, generator=gen)
    with torch.no_grad():
        logits = model(x.double())
    np.save(os.path.join(directory, "input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(directory, "expected_logit.npy"), logits[:, 0].numpy())
    print(f"wrote {directory}/input.npy and expected_logit.npy (reference f = {logits[:, 0].tolist()}); compare with\n"
          f"  atebm energy --model <output> --input {directory}/input.npy --dtype float64 --out {directory}/ours.npz")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="the PyTorch checkpoint (.pth / .pt)")
    p.add_argument("output", help="the atebm model file to write (.safetensors)")
    p.add_argument("--arch", choices=sorted(ARCHS),
                   help="the architecture (default: resnet50, the paper's CIFAR-10 model, unless --config names one)")
    p.add_argument("--img-size", type=int, help="the discriminator's image size (default 256)")
    p.add_argument("--config", help="model config JSON (text or file); its fields override --arch's")
    p.add_argument("--check-dir", help="also write a check input and the reference logits to this folder")
    p.add_argument("--unsafe-pickle", action="store_true", help="allow full unpickling (trusted files only)")
    args = p.parse_args(argv)
    try:
        convert(args)
    except (ConversionError, ValueError, OSError) as e:
        print(f"convert_pth: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
