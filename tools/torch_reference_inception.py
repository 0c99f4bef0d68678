"""PyTorch definition of the FID Inception-v3 (pytorch-fid's `pt_inception-2015-12-05` network),
written from the architecture's description (pytorch-fid's FIDInceptionA/C/E_1/E_2 patches of
torchvision's Inception3), without torchvision: an independent reference for
tools/convert_inception.py (names and shapes) and tests/fid/fixtures/make_inception_fixture.py.

Offline tooling only (Python + torch); nothing in the build or the test suite imports it.

State-dict names are torchvision's Inception3 names with aux_logits=False and 1008 classes, i.e.
those of pytorch-fid's weight file: Conv2d_1a_3x3.conv.weight, Conv2d_1a_3x3.bn.running_mean, ...,
Mixed_7c.branch_pool.bn.num_batches_tracked, fc.weight, fc.bias.

`divisor` divides every channel count except the 3 input channels (1 = the real network); the
fixture uses a thin copy (divisor 16) with the real wiring, kernels, strides and spatial sizes.

Input pipeline (pytorch-fid's InceptionV3 with resize_input and normalize_input):
  x in [0, 1] -> F.interpolate(x, (299, 299), mode='bilinear', align_corners=False) -> 2x - 1.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

INPUT_SIZE = 299
NUM_CLASSES = 1008
BN_EPS = 0.001


class BasicConv2d(nn.Module):
    """conv (no bias) -> BatchNorm (eps 0.001) -> ReLU."""

    def __init__(self, cin, cout, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def avg_pool_3x3_same(x):
    # TensorFlow's average pool: padded zeros are not counted in the mean.
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(nn.Module):
    def __init__(self, cin, pool_features, d):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64 // d, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48 // d, 1)
        self.branch5x5_2 = BasicConv2d(48 // d, 64 // d, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64 // d, 1)
        self.branch3x3dbl_2 = BasicConv2d(64 // d, 96 // d, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96 // d, 96 // d, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features // d, 1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(avg_pool_3x3_same(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17."""

    def __init__(self, cin, d):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384 // d, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64 // d, 1)
        self.branch3x3dbl_2 = BasicConv2d(64 // d, 96 // d, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96 // d, 96 // d, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, 3, stride=2)
        return torch.cat([b3, bd, bp], 1)


class FIDInceptionC(nn.Module):
    """Factorised 7x7 convolutions (1x7 then 7x1)."""

    def __init__(self, cin, c7, d):
        super().__init__()
        c7 //= d
        self.branch1x1 = BasicConv2d(cin, 192 // d, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192 // d, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192 // d, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192 // d, 1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for i in range(1, 6):
            bd = getattr(self, f"branch7x7dbl_{i}")(bd)
        bp = self.branch_pool(avg_pool_3x3_same(x))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8."""

    def __init__(self, cin, d):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192 // d, 1)
        self.branch3x3_2 = BasicConv2d(192 // d, 320 // d, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192 // d, 1)
        self.branch7x7x3_2 = BasicConv2d(192 // d, 192 // d, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192 // d, 192 // d, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192 // d, 192 // d, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        bp = F.max_pool2d(x, 3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class FIDInceptionE(nn.Module):
    """Expanded filter bank. pool = 'avg' (FIDInceptionE_1: average pool without the padding) or
    'max' (FIDInceptionE_2: a 3x3 max pool, stride 1, padding 1)."""

    def __init__(self, cin, d, pool):
        super().__init__()
        assert pool in ("avg", "max")
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320 // d, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384 // d, 1)
        self.branch3x3_2a = BasicConv2d(384 // d, 384 // d, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384 // d, 384 // d, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448 // d, 1)
        self.branch3x3dbl_2 = BasicConv2d(448 // d, 384 // d, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384 // d, 384 // d, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384 // d, 384 // d, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192 // d, 1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        t = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(t), self.branch3x3_2b(t)], 1)
        t = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(t), self.branch3x3dbl_3b(t)], 1)
        pooled = avg_pool_3x3_same(x) if self.pool == "avg" else F.max_pool2d(x, 3, stride=1, padding=1)
        bp = self.branch_pool(pooled)
        return torch.cat([b1, b3, bd, bp], 1)


class FIDInceptionV3(nn.Module):
    """[N, 3, 299, 299] in [-1, 1] -> (pool [N, 2048/d], logits [N, num_classes])."""

    def __init__(self, divisor=1, num_classes=NUM_CLASSES):
        super().__init__()
        d = divisor
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32 // d, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32 // d, 32 // d, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32 // d, 64 // d, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64 // d, 80 // d, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80 // d, 192 // d, 3)
        self.Mixed_5b = FIDInceptionA(192 // d, 32, d)
        self.Mixed_5c = FIDInceptionA(256 // d, 64, d)
        self.Mixed_5d = FIDInceptionA(288 // d, 64, d)
        self.Mixed_6a = InceptionB(288 // d, d)
        self.Mixed_6b = FIDInceptionC(768 // d, 128, d)
        self.Mixed_6c = FIDInceptionC(768 // d, 160, d)
        self.Mixed_6d = FIDInceptionC(768 // d, 160, d)
        self.Mixed_6e = FIDInceptionC(768 // d, 192, d)
        self.Mixed_7a = InceptionD(768 // d, d)
        self.Mixed_7b = FIDInceptionE(1280 // d, d, "avg")
        self.Mixed_7c = FIDInceptionE(2048 // d, d, "max")
        self.fc = nn.Linear(2048 // d, num_classes)

    def forward(self, x):
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, "Mixed_" + name)(x)
        pool = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return pool, self.fc(pool)


def preprocess(images):
    """pytorch-fid's input pipeline: [N, 3, H, W] in [0, 1] -> [N, 3, 299, 299] in [-1, 1]."""
    x = F.interpolate(images, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return 2 * x - 1


def expected_state(divisor=1, num_classes=NUM_CLASSES):
    """{name: shape} of the state dict (the names of pytorch-fid's weight file)."""
    return {k: tuple(v.shape) for k, v in FIDInceptionV3(divisor, num_classes).state_dict().items()}
