"""PyTorch definitions of the model families of atebm, written from their descriptions (the
model-config comments in nn/models/*.h and the paper's released code conventions), not from
the C++ code: an independent reference for fixtures and for checking converted checkpoints.

Offline tooling only (Python + torch); nothing in the build or the test suite imports it.
Used by tests/nn/fixtures/make_model_fixtures.py and tools/convert_pth.py, which also share
write_safetensors() below (no safetensors package needed); tools/convert_inception.py shares
write_safetensors() and state_mismatch().

Families, with state-dict names identical to atebm's model files:
  resnet                 the robustness library's CIFAR ResNet; the input normalisation
                         (x - mean) / std comes from the config and has no state-dict entries
  stargan_discriminator  the StarGAN-v2-style discriminator, ending in a 1x1 conv to
                         num_outputs (an nn.Linear on the 1x1 feature map, as a conv)
  mlp                    net = Sequential(Linear, act, ..., Linear)
"""
import json
import math
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

CIFAR10_MEAN = [0.4914, 0.4822, 0.4465]
CIFAR10_STD = [0.2023, 0.1994, 0.2010]

# Defaults of each family's config (what atebm's complete_config fills in).
_DEFAULTS = {
    "resnet": {"block": "bottleneck", "layers": [3, 4, 6, 3], "widths": [64, 128, 256, 512], "in_channels": 3,
               "num_classes": 10, "pool": 4, "mean": CIFAR10_MEAN, "std": CIFAR10_STD},
    "stargan_discriminator": {"img_size": 256, "max_conv_dim": 512, "num_outputs": 1},
    "mlp": {"dims": [2, 128, 128, 1], "activation": "leaky_relu", "slope": 0.2},
}


def complete_config(config):
    """The config with every missing field set to its default; unknown fields are errors."""
    arch = config.get("arch")
    if arch not in _DEFAULTS:
        raise ValueError(f"model config: unknown arch {arch!r} (expected one of {sorted(_DEFAULTS)})")
    defaults = dict(_DEFAULTS[arch])
    optional = {"mean", "std"} if arch == "stargan_discriminator" else set()  # absent: no normalisation
    unknown = set(config) - set(defaults) - optional - {"arch"}
    if unknown:
        raise ValueError(f"model config ({arch}): unknown fields {sorted(unknown)}")
    if arch == "resnet" and config.get("in_channels", 3) != 3:
        # Grey (or other) inputs have no conventional statistics: default to [-1, 1] scaling.
        defaults["mean"] = [0.5] * config["in_channels"]
        defaults["std"] = [0.5] * config["in_channels"]
    out = {"arch": arch}
    out.update(defaults)
    out.update(config)
    return out


# ---- robustness-library CIFAR ResNet --------------------------------------------------------

class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(in_planes, planes * self.expansion, stride)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.shortcut = _shortcut(in_planes, out_planes, stride)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        return F.relu(h + self.shortcut(x))


def _shortcut(in_planes, out_planes, stride):
    # Identity (an empty Sequential, no state) unless the block changes resolution or width.
    if stride == 1 and in_planes == out_planes:
        return nn.Sequential()
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False),
                         nn.BatchNorm2d(out_planes))


class RobustnessResNet(nn.Module):
    """[N, C, H, W] in [0, 1] -> [N, num_classes]; normalises with the config's mean/std first."""

    def __init__(self, block, layers, widths, in_channels, num_classes, pool, mean, std):
        super().__init__()
        block_cls = {"basic": BasicBlock, "bottleneck": Bottleneck}[block]
        self.pool = pool
        # Plain attributes, not buffers: the normalisation lives in the config, not the state dict.
        self.mean = torch.tensor(mean, dtype=torch.float64).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float64).view(1, -1, 1, 1)
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        in_planes = widths[0]
        for i, (n, w) in enumerate(zip(layers, widths)):
            blocks = []
            for j in range(n):
                stride = 2 if (j == 0 and i > 0) else 1
                blocks.append(block_cls(in_planes, w, stride))
                in_planes = w * block_cls.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.linear = nn.Linear(in_planes, num_classes)

    def forward(self, x):
        x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.layer4(self.layer3(self.layer2(self.layer1(h))))
        h = F.avg_pool2d(h, self.pool)
        return self.linear(torch.flatten(h, 1))


# ---- StarGAN-v2-style discriminator ---------------------------------------------------------

class ResBlk(nn.Module):
    """(shortcut + residual) / sqrt(2), both halving the resolution."""

    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.conv1 = nn.Conv2d(dim_in, dim_in, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        self.learned_shortcut = dim_in != dim_out
        if self.learned_shortcut:
            self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False)

    def forward(self, x):
        s = self.conv1x1(x) if self.learned_shortcut else x
        s = F.avg_pool2d(s, 2)
        r = self.conv1(F.leaky_relu(x, 0.2))
        r = self.conv2(F.leaky_relu(F.avg_pool2d(r, 2), 0.2))
        return (s + r) / math.sqrt(2.0)


class StarGANDiscriminator(nn.Module):
    """[N, 3, S, S] -> [N, num_outputs]; the input is normalised by (x - mean) / std first when the
    config gives mean and std (the paper's 256x256 models: ImageNet statistics), else used as given.

    dim_in defaults to 2^14 / img_size, as in StarGAN v2 and atebm's config; the override
    exists only so that fixtures can hold a tiny instance of the same wiring."""

    def __init__(self, img_size, max_conv_dim, num_outputs, dim_in=None, mean=None, std=None):
        super().__init__()
        self.mean = None if not mean else torch.tensor(mean, dtype=torch.float64).view(1, -1, 1, 1)
        self.std = None if not std else torch.tensor(std, dtype=torch.float64).view(1, -1, 1, 1)
        dim_in = dim_in if dim_in is not None else 2 ** 14 // img_size
        layers = [nn.Conv2d(3, dim_in, 3, 1, 1)]
        dim_out = dim_in
        for _ in range(int(round(math.log2(img_size))) - 2):
            dim_out = min(2 * dim_in, max_conv_dim)
            layers.append(ResBlk(dim_in, dim_out))
            dim_in = dim_out
        layers += [nn.LeakyReLU(0.2), nn.Conv2d(dim_out, dim_out, 4, 1, 0), nn.LeakyReLU(0.2),
                   nn.Conv2d(dim_out, num_outputs, 1, 1, 0)]
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        if self.mean is not None:
            x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        return self.main(x).flatten(1)


# ---- MLP ------------------------------------------------------------------------------------

class MLP(nn.Module):
    def __init__(self, dims, activation, slope):
        super().__init__()
        layers = []
        for i in range(len(dims) - 1):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if i + 2 < len(dims):
                layers.append(nn.ReLU() if activation == "relu" else nn.LeakyReLU(slope))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def build_model(config, **overrides):
    """The module a config (atebm's JSON format) describes, with torch's default init."""
    c = complete_config(config)
    if c["arch"] == "resnet":
        return RobustnessResNet(c["block"], c["layers"], c["widths"], c["in_channels"], c["num_classes"],
                                c["pool"], c["mean"], c["std"])
    if c["arch"] == "stargan_discriminator":
        return StarGANDiscriminator(c["img_size"], c["max_conv_dim"], c["num_outputs"], mean=c.get("mean"),
                                    std=c.get("std"), **overrides)
    return MLP(c["dims"], c["activation"], c["slope"])


def expected_state(config):
    """{name: shape} of the state dict an atebm model file with this config must hold."""
    return {k: tuple(v.shape) for k, v in build_model(config).state_dict().items()}


def state_mismatch(state, expected, source):
    """How the state dict {name: tensor} differs from expected {name: shape}: lines listing the
    missing, unexpected and wrongly shaped tensors (10 of each at most; `source` names where the
    shapes come from, e.g. "the checkpoint"), or "" when they match."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k}: {list(state[k].shape)} in {source}, {list(expected[k])} expected"
             for k in expected if k in state and tuple(state[k].shape) != expected[k]]

    def listing(title, items):
        shown = "\n    ".join(items[:10]) + ("\n    ..." if len(items) > 10 else "")
        return f"\n  {len(items)} {title}:\n    {shown}" if items else ""
    return listing("missing", missing) + listing("unexpected", unexpected) + listing("with the wrong shape", wrong)


# ---- safetensors writing --------------------------------------------------------------------

_SAFETENSORS_DTYPES = {torch.float32: ("F32", "<f4"), torch.float64: ("F64", "<f8"), torch.int64: ("I64", "<i8")}


def write_safetensors(path, tensors, metadata):
    """Writes {name: tensor} in the safetensors layout: the u64 length of a JSON header (padded
    with spaces to a multiple of 8), the header {"__metadata__": {str: str}, name: {"dtype",
    "shape", "data_offsets"}}, then each tensor's little-endian bytes, largest elements first so
    that every tensor stays aligned to its element size."""
    header = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    chunks, offset = [], 0
    for name in sorted(tensors, key=lambda k: (-tensors[k].element_size(), k)):
        t = tensors[name].detach().cpu().contiguous()
        if t.dtype not in _SAFETENSORS_DTYPES:
            raise ValueError(f"write_safetensors: tensor {name!r} has unsupported dtype {t.dtype}")
        code, np_dtype = _SAFETENSORS_DTYPES[t.dtype]
        data = t.numpy().astype(np_dtype, copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


def read_safetensors(path):
    """({name: tensor}, metadata) of a safetensors file (F32, F64, I64, BOOL), for scripts that
    must run without the `safetensors` package."""
    import numpy as np
    codes = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "BOOL": np.bool_}
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    metadata = header.pop("__metadata__", {})
    data = blob[8 + n:]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = np.dtype(codes[info["dtype"]]).newbyteorder("<")
        array = np.frombuffer(data[begin:end], dtype=dtype).reshape(info["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors, metadata
