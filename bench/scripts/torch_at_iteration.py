#!/usr/bin/env python3
"""PyTorch peer of one training iteration of the paper's CIFAR recipe, for comparison with

    bench/cuda/bench_elementwise_cuda.cpp: BM_cuda_at_iteration_resnet50_eager
                                           BM_cuda_at_iteration_resnet50_graph
                                           BM_cuda_at_iteration_resnet50_graph_full

The same work, written with stock PyTorch (no other package, no download):
  model   nn/models/resnet.{h,cpp} with the default nn::ResNetConfig{}, built by
          tools/torch_reference_models.py: CIFAR ResNet-50, normalise with the CIFAR mean/std
          (constants, not parameters) -> conv1 3x3/1 (no bias) -> bn1 -> ReLU -> Bottleneck
          stages [3, 4, 6, 3] of widths [64, 128, 256, 512] (expansion 4, first strides 1, 2, 2,
          2, 1x1 conv + BN shortcut when the shape changes) -> avg_pool2d(4) -> flatten ->
          linear(2048, 10).
          nn::freeze_batchnorm_stats(model, true): every BatchNorm2d normalises with its running
          statistics (eval behaviour) and never updates them; weight and bias still train.
  f(x)    nn::energy_logit: logit 0 of the model's output, [N] (nn/models/model_config.cpp).
  PGD     at_ebm::pgd / pgd_step_ (at_ebm/method/pgd.cpp) with PgdOptions{steps 5, step 0.1}:
          parameters frozen (at_ebm::FreezeParameters), g = grad(sum f(x), x), then
          pgd_update_ (ops/pgd_update.h, PgdStep defaults: L2, eps = inf, clamp [0, 1]):
          x <- clamp(x + 0.1 * g / (||g||_2 per sample + 1e-10), 0, 1); eps = inf: no projection.
  loss    at_ebm::adversarial_loss(f, real, fake, 0.01, true) (at_ebm/method/losses.cpp):
          real and fake run through the model separately; R1 = 0.5 * mean_i ||grad_x f(real_i)||^2
          with create_graph (double backward); BCE with logits of cat(f(real), f(fake)) against
          cat(ones, zeros); loss = BCE + 0.01 * R1; zero_grad (grads set to none), backward,
          Adam (nn/optim/adam.h: lr 5e-4, betas (0, 0.99), eps 1e-8, no weight decay).
  data    32 real + 32 p0 images [32, 3, 32, 32], U[0, 1), drawn once.
  TF32    on for float32 convolutions and matmuls: the engine's default (ops/math_mode.h).
  timing  as the C++ loops: 2 warm-up iterations, then 10 timed ones (--warmup, --iters), each
          ending in a device synchronisation; ms = wall clock per iteration (UseRealTime);
          pgd_ms = GPU time of the PGD part from two CUDA events (stop event synchronised, as
          GpuTimer does); images/s = 2 * 32 * iterations / seconds.
          eager: PGD (copies of p0 into x0 and x, 5 steps), then the loss step.
          graph: the 5-step loop captured once in place on fixed tensors x, x0 with
          torch.cuda.CUDAGraph (warm-up on a side stream, as PyTorch's docs require), replayed
          per iteration after refilling x, x0 from p0 (outside the timed PGD part); one untimed
          replay + loss step after the capture; the loss step stays eager.
          graph_full: the PGD loop as above and the loss + backward in a second graph (the
          gradients stay in the tensors the capture created), the Adam step eager.
  Each variant also runs with torch.backends.cudnn.benchmark off and on (algorithm search).

Differences that remain (the work is the same, its implementation is each framework's own):
  - Weights and data come from torch's RNG (seed 0), not the engine's Generator: other values,
    same shapes and distributions; the amount of work does not depend on the values.
  - pgd_update_ is one fused engine op computing the norms in double; here it is a few stock
    kernels (norm, add, div, addcmul, clamp) in float32.
  - Adam is torch.optim.Adam with its default implementation (multi-tensor "foreach" on CUDA);
    the engine runs one fused kernel per parameter tensor.
  - Kernels, cuDNN algorithm choice, the BN and double-backward formulas, the caching
    allocator and the graph memory pool are PyTorch's; the host side is Python + dispatcher.
  - CUDA graphs need CUDA: on --device cpu the graph variants are skipped, pgd_ms is wall clock
    and cudnn.benchmark has no effect.
"""
import argparse
import contextlib
import json
import pathlib
import sys
import time

BATCH = 32
PGD_STEPS = 5
STEP_SIZE = 0.1
NORM_FLOOR = 1e-10  # ops/kernels/pgd_math.h kNormFloor
R1_WEIGHT = 0.01
LR, BETAS, ADAM_EPS = 5e-4, (0.0, 0.99), 1e-8
PROG = "torch_at_iteration.py"


def fail_usage(msg):
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    sys.exit(2)


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse would print the usage first)
        fail_usage(message)


def parse_list(text, allowed, what):
    items = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in items if s not in allowed]
    if not items or bad:
        fail_usage(f"--{what}: expected a comma-separated subset of {','.join(allowed)}, got '{text}'")
    return list(dict.fromkeys(items))


def parse_args(argv):
    p = Parser(prog=PROG, description="PyTorch peer of BM_cuda_at_iteration_resnet50_{eager,graph,graph_full}.")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--iters", type=int, default=10, help="timed iterations (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="warm-up iterations (default 2, at least 1)")
    p.add_argument("--json", metavar="PATH", help="also write the results as a JSON list")
    p.add_argument("--variants", default="eager,graph,graph_full", help="eager,graph,graph_full (default all)")
    p.add_argument("--benchmark", default="off,on", help="cudnn.benchmark settings: off,on (default both)")
    a = p.parse_args(argv)
    if a.iters < 1:
        fail_usage(f"--iters must be >= 1, got {a.iters}")
    if a.warmup < 1:
        fail_usage(f"--warmup must be >= 1 (the graph capture needs a warmed-up loop), got {a.warmup}")
    a.variants = parse_list(a.variants, ["eager", "graph", "graph_full"], "variants")
    a.benchmark = parse_list(a.benchmark, ["off", "on"], "benchmark")
    return a


def build_model(torch, device):
    """The default nn::ResNetConfig{} model from tools/torch_reference_models.py (the project's
    independent PyTorch definition of its model families, same state-dict names as the engine),
    with its normalisation constants (plain CPU float64 attributes there) moved to the device in
    float32, so that the forward's .to(x.dtype) is a no-op there and no copy enters the graph."""
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools"))
    from torch_reference_models import build_model as reference_model
    model = reference_model({"arch": "resnet"})
    model.mean = model.mean.to(device=device, dtype=torch.float32)
    model.std = model.std.to(device=device, dtype=torch.float32)
    return model.to(device)


class Recipe:
    """make_recipe(): model with frozen BN statistics, Adam, f, and the fixed real/p0 batches."""

    def __init__(self, torch, device):
        self.torch = torch
        torch.manual_seed(0)
        self.model = build_model(torch, device)
        for m in self.model.modules():  # nn::freeze_batchnorm_stats(model, true)
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()
        self.params = list(self.model.parameters())
        self.opt = torch.optim.Adam(self.params, lr=LR, betas=BETAS, eps=ADAM_EPS, weight_decay=0.0)
        self.real = torch.rand(BATCH, 3, 32, 32, device=device)
        self.p0 = torch.rand(BATCH, 3, 32, 32, device=device)

    def f(self, x):  # nn::energy_logit
        return self.model(x)[:, 0]

    @contextlib.contextmanager
    def frozen(self):  # at_ebm::FreezeParameters
        saved = [p.requires_grad for p in self.params]
        for p in self.params:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p, flag in zip(self.params, saved):
                p.requires_grad_(flag)

    def pgd_steps(self, x, x0):
        """The loop of at_ebm::pgd in place on x (what the graph captures). x0 is not read:
        with eps = inf pgd_update_ neither projects nor reads it."""
        torch = self.torch
        with self.frozen():
            for _ in range(PGD_STEPS):
                with torch.enable_grad():
                    xg = x.detach().requires_grad_(True)
                    (g,) = torch.autograd.grad(self.f(xg).sum(), [xg])
                with torch.no_grad():  # pgd_update_, PgdStep{.step_size = 0.1}, L2, eps = inf
                    norm = torch.linalg.vector_norm(g.flatten(1), dim=1)
                    scale = (STEP_SIZE / (norm + NORM_FLOOR)).view(-1, 1, 1, 1)
                    x.addcmul_(g, scale).clamp_(0.0, 1.0)

    def pgd(self):  # at_ebm::pgd(f, p0, {steps 5, step 0.1}, params, gen): copies, then the loop
        x0 = self.p0.clone()
        x = x0.clone()
        self.pgd_steps(x, x0)
        return x

    def loss_step(self, fake):  # zero_grad, adversarial_loss, backward, Adam step
        self.opt.zero_grad(set_to_none=True)
        self.loss(fake).backward()
        self.opt.step()

    def loss(self, fake):  # at_ebm::adversarial_loss(f, real, fake, 0.01, true).loss
        torch, F = self.torch, self.torch.nn.functional
        xg = self.real.detach().requires_grad_(True)
        logits_real = self.f(xg)
        (gx,) = torch.autograd.grad(logits_real.sum(), [xg], create_graph=True)
        r1 = gx.square().sum() * (0.5 / xg.shape[0])
        logits_fake = self.f(fake)
        target = torch.cat([torch.ones(xg.shape[0], device=xg.device),
                            torch.zeros(fake.shape[0], device=xg.device)])
        bce = F.binary_cross_entropy_with_logits(torch.cat([logits_real, logits_fake]), target)
        return bce + r1 * R1_WEIGHT


class PgdTimer:
    """GpuTimer: CUDA events on the current stream, the stop event synchronised; wall clock on CPU."""

    def __init__(self, torch, cuda):
        self.torch, self.cuda = torch, cuda
        if cuda:
            self.a = torch.cuda.Event(enable_timing=True)
            self.b = torch.cuda.Event(enable_timing=True)

    def start(self):
        if self.cuda:
            self.a.record()
        else:
            self.t = time.perf_counter()

    def stop_seconds(self):
        if not self.cuda:
            return time.perf_counter() - self.t
        self.b.record()
        self.b.synchronize()
        return self.a.elapsed_time(self.b) / 1e3


def run_eager(torch, r, cuda, warmup, iters):
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for _ in range(warmup):
        r.loss_step(r.pgd())
    sync()
    timer, pgd_s = PgdTimer(torch, cuda), 0.0
    t0 = time.perf_counter()
    for _ in range(iters):
        timer.start()
        fake = r.pgd()
        pgd_s += timer.stop_seconds()
        r.loss_step(fake)
        sync()
    return time.perf_counter() - t0, pgd_s


def run_graphed(torch, r, warmup, iters, graph_loss):
    """The graph variants. PGD: the K-step loop captured in place on fixed tensors x, x0 and
    replayed per iteration after refilling them from p0 (outside the timed PGD part).
    graph_loss False ("graph"): the loss step stays eager. True ("graph_full",
    BM_cuda_at_iteration_resnet50_graph_full): the loss + backward in a second graph (the
    gradients land in the tensors the capture created, as with at_ebm::GraphedLossStep), only
    the Adam step eager."""
    x, x0 = torch.empty_like(r.p0), torch.empty_like(r.p0)

    def load_start():
        x.copy_(r.p0)
        x0.copy_(r.p0)

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up off the capture's way: handles, workspaces, algorithms
        for _ in range(warmup):
            load_start()
            r.pgd_steps(x, x0)
            r.loss_step(x)
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    pgd_graph = torch.cuda.CUDAGraph()
    load_start()
    with torch.cuda.graph(pgd_graph):
        r.pgd_steps(x, x0)
    if graph_loss:
        loss_graph = torch.cuda.CUDAGraph()
        r.opt.zero_grad(set_to_none=True)  # backward in the capture creates the gradients
        with torch.cuda.graph(loss_graph):
            r.loss(x).backward()

        def loss_step():
            loss_graph.replay()
            r.opt.step()
    else:
        def loss_step():
            r.loss_step(x)
    load_start()
    pgd_graph.replay()
    loss_step()
    torch.cuda.synchronize()
    timer, pgd_s = PgdTimer(torch, True), 0.0
    t0 = time.perf_counter()
    for _ in range(iters):
        load_start()
        timer.start()
        pgd_graph.replay()
        pgd_s += timer.stop_seconds()
        loss_step()
        torch.cuda.synchronize()
    return time.perf_counter() - t0, pgd_s


def new_tf32_api(torch):  # torch >= 2.9: fp32_precision strings (allow_tf32 is deprecated there)
    conv = getattr(torch.backends.cudnn, "conv", None)
    return hasattr(torch.backends.cuda.matmul, "fp32_precision") and hasattr(conv, "fp32_precision")


def set_tf32(torch, on):
    """The engine's allow_tf32() default (true) for float32 convolutions and matmuls."""
    if new_tf32_api(torch):
        mode = "tf32" if on else "ieee"
        torch.backends.cuda.matmul.fp32_precision = mode
        torch.backends.cudnn.conv.fp32_precision = mode
    else:
        torch.backends.cuda.matmul.allow_tf32 = on
        torch.backends.cudnn.allow_tf32 = on


def tf32_state(torch):
    """What the two switches read back, for the header: 'matmul=<..>,conv=<..>'."""
    if new_tf32_api(torch):
        return (f"matmul={torch.backends.cuda.matmul.fp32_precision},"
                f"conv={torch.backends.cudnn.conv.fp32_precision}")
    return f"matmul={int(torch.backends.cuda.matmul.allow_tf32)},conv={int(torch.backends.cudnn.allow_tf32)}"


def main(argv):
    args = parse_args(argv)
    try:
        import torch
    except ImportError as e:
        print(f"{PROG}: cannot import torch: {e}", file=sys.stderr)
        return 1
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        print(f"{PROG}: --device cuda but torch sees no CUDA device (use --device cpu)", file=sys.stderr)
        return 1
    device = torch.device(args.device)
    if cuda:
        set_tf32(torch, True)
        dev_name = torch.cuda.get_device_name(device)
    else:
        dev_name = f"cpu ({torch.get_num_threads()} threads)"
    cudnn = str(torch.backends.cudnn.version()) if torch.backends.cudnn.is_available() else "none"
    params = sum(p.numel() for p in build_model(torch, "cpu").parameters())
    print(f"torch_at_iteration: torch={torch.__version__} cuda={torch.version.cuda} cudnn={cudnn} "
          f"device=\"{dev_name}\" tf32={tf32_state(torch) if cuda else 'n/a'} params={params} "
          f"batch={BATCH}+{BATCH} "
          f"pgd_steps={PGD_STEPS} warmup={args.warmup} iters={args.iters}", flush=True)

    results, failed = [], False
    for bench in args.benchmark:
        torch.backends.cudnn.benchmark = bench == "on"
        for variant in args.variants:
            name = f"torch_at_iteration/{variant}/cudnn_benchmark={int(bench == 'on')}"
            row = {"name": name, "torch": torch.__version__, "cudnn": cudnn, "device": dev_name,
                   "iters": args.iters, "warmup": args.warmup, "params": params}
            if variant != "eager" and not cuda:
                print(f"{name}  skipped: CUDA graphs need --device cuda", flush=True)
                continue
            try:
                r = Recipe(torch, device)  # a fresh recipe per benchmark, as make_recipe()
                if variant == "eager":
                    wall, pgd_s = run_eager(torch, r, cuda, args.warmup, args.iters)
                else:
                    wall, pgd_s = run_graphed(torch, r, args.warmup, args.iters, variant == "graph_full")
            except Exception as e:  # report, keep going (the C++ bench reports an error likewise)
                msg = " ".join(f"{type(e).__name__}: {e}".split())
                print(f"{name}  error: {msg}", flush=True)
                row.update(ms=None, images_per_s=None, pgd_ms=None, error=msg)
                results.append(row)
                failed = True
                if cuda:
                    with contextlib.suppress(Exception):  # the device may be in an error state
                        torch.cuda.synchronize()
                continue
            row.update(ms=1e3 * wall / args.iters, images_per_s=2 * BATCH * args.iters / wall,
                       pgd_ms=1e3 * pgd_s / args.iters)
            print(f"{name}  ms={row['ms']:.3f}  images/s={row['images_per_s']:.1f}  pgd_ms={row['pgd_ms']:.3f}",
                  flush=True)
            results.append(row)
            del r
            if cuda:
                torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
            fh.write("\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
