#!/usr/bin/env python3
"""Converts pytorch-fid's Inception-v3 weights to the safetensors file atebm's FID uses.

One-time setup (needs python3 + torch; nothing else, no network access by this script):

  # 1. download the weights pytorch-fid uses (95 MB):
  #    https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth
  # 2. convert them:
  python3 tools/convert_inception.py pt_inception-2015-12-05-6726825d.pth inception_fid.safetensors

The input is a state dict (the file itself, or under 'state_dict' / 'model') of torchvision's
Inception3 with pytorch-fid's FID blocks, 1008 classes and no auxiliary classifier. The output
holds the same tensors under the same names (Conv2d_1a_3x3.conv.weight, ..., fc.bias), float32
(num_batches_tracked int64; set to 0 where the file predates it), with __metadata__
"atebm.inception" = "pt_inception-2015-12-05", the source file's name and its sha256.

Checks: every name and shape must match tools/torch_reference_inception.py (an independent
PyTorch definition of the network), which then loads the tensors strictly; otherwise the script
stops with one error listing the differences (exit code 1). A sha256 that does not start with
6726825d (the published file's) only warns: a re-saved copy has another hash but the same
values; FID values from other weights are not comparable with published ones.
"""
import argparse
import hashlib
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import torch_reference_inception as ref  # noqa: E402
import torch_reference_models as models  # noqa: E402  (write_safetensors, state_mismatch)

PUBLISHED_SHA256_PREFIX = "6726825d"
STATE_DICT_KEYS = ("state_dict", "model")


class ConversionError(Exception):
    pass


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_state(path, unsafe_pickle):
    kwargs = {"map_location": "cpu"}
    if not unsafe_pickle:
        kwargs["weights_only"] = True
    try:
        obj = torch.load(path, **kwargs)
    except TypeError:  # a torch without weights_only
        kwargs.pop("weights_only", None)
        obj = torch.load(path, **kwargs)
    except Exception as e:  # noqa: BLE001 - torch raises several kinds for unpicklable content
        if unsafe_pickle:
            raise
        raise ConversionError(f"{path}: cannot be read with weights_only=True ({e}); if you trust the file, "
                              "run again with --unsafe-pickle") from e
    for candidate in [obj] + [obj.get(k) for k in STATE_DICT_KEYS if isinstance(obj, dict)]:
        if isinstance(candidate, dict) and candidate and all(torch.is_tensor(v) for v in candidate.values()):
            return dict(candidate)
    raise ConversionError(f"{path}: holds a {type(obj).__name__}, not a state dict of tensors")


def check_against_reference(state, expected):
    mismatch = models.state_mismatch(state, expected, "the file")
    if not mismatch:
        return
    hint = ""
    if any(k.startswith("AuxLogits.") and k not in expected for k in state) or (
            "fc.weight" in state and state["fc.weight"].shape[0] == 1000):
        hint = ("\n  this looks like torchvision's ImageNet Inception-v3 (1000 classes, auxiliary classifier); "
                "FID needs pytorch-fid's pt_inception-2015-12-05-6726825d.pth")
    raise ConversionError(f"the file is not pytorch-fid's FID Inception-v3 ({len(state)} tensors, "
                          f"{len(expected)} expected):" + mismatch + hint)


def convert(args):
    digest = sha256_of(args.checkpoint)
    state = load_state(args.checkpoint, args.unsafe_pickle)
    n_source = len(state)
    expected = ref.expected_state()
    added = [k for k in expected if k.endswith("num_batches_tracked") and k not in state]
    for k in added:
        state[k] = torch.tensor(0, dtype=torch.int64)
    check_against_reference(state, expected)

    out = {k: state[k].to(torch.int64 if k.endswith("num_batches_tracked") else torch.float32) for k in expected}
    ref.FIDInceptionV3().load_state_dict(out, strict=True)  # the reference accepts them as they are
    metadata = {"atebm.inception": "pt_inception-2015-12-05",
                "atebm.converted_from": os.path.basename(args.checkpoint), "atebm.source_sha256": digest}
    models.write_safetensors(args.output, out, metadata)

    n_params = sum(t.numel() for k, t in out.items()
                   if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    print(f"{args.checkpoint}: {n_source} tensors, sha256 {digest}")
    if added:
        print(f"  set {len(added)} missing BatchNorm num_batches_tracked to 0")
    if not digest.startswith(PUBLISHED_SHA256_PREFIX):
        print(f"convert_inception: warning: the sha256 does not start with {PUBLISHED_SHA256_PREFIX} "
              "(pytorch-fid's published file); FID values from other weights are not comparable with "
              "published ones", file=sys.stderr)
    print(f"wrote {args.output}: {len(out)} tensors ({n_params} parameters)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth")
    p.add_argument("output", help="the safetensors file to write")
    p.add_argument("--unsafe-pickle", action="store_true", help="allow full unpickling (trusted files only)")
    args = p.parse_args(argv)
    try:
        convert(args)
    except (ConversionError, ValueError, RuntimeError, OSError) as e:
        print(f"convert_inception: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
