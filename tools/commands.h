#pragma once
// Subcommands of the `atebm` command line. Each add_*_command() registers its options on the
// parent app and returns a Command whose run() is called after parsing when that subcommand
// was given; run() returns the process exit code and may throw atebm::Error (main() turns it
// into "atebm: error: ..." and exit code 1).
#include <CLI/CLI.hpp>

#include <functional>

namespace atebm::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

/// `atebm gradcheck [--filter SUBSTR] [--first-order-only]`: the op table's gradient checks.
Command add_gradcheck_command(CLI::App& parent);
/// `atebm graph [--out FILE]`: the DOT picture of a small double-backward (R1) graph.
Command add_graph_command(CLI::App& parent);
/// `atebm toy2d [--out DIR] [--seed S] [key=value ...]`: the 2-D experiment of the paper (Fig. 1).
Command add_toy2d_command(CLI::App& parent);
/// `atebm train --preset NAME | --config FILE [--out DIR] [--resume] [key=value ...]`.
Command add_train_command(CLI::App& parent);
/// `atebm sample (--run DIR | --model FILE --p0 SPEC) [--n N] [--steps K] [--step-size L] [--grid PNG]
/// [--npy FILE | --npz FILE] [--frames DIR] ...`: generation by PGD from p0 samples.
Command add_sample_command(CLI::App& parent);
/// `atebm translate (--run DIR | --model FILE) --input SPEC [--steps K] [--grid PNG] [--npy FILE]`.
Command add_translate_command(CLI::App& parent);
/// `atebm denoise (--run DIR | --model FILE) --input SPEC [--sigma S] [--steps K] [--grid PNG]`.
Command add_denoise_command(CLI::App& parent);
/// `atebm inpaint (--run DIR | --model FILE) --input SPEC [--mask centre|random[:F]|PNG] [--grid PNG]`.
Command add_inpaint_command(CLI::App& parent);
/// `atebm energy --model CKPT --input X.npy [--grad] [--r1] [--dtype float64] --out OUT.npz`: f(x),
/// E = -f(x) and, on request, the input gradient and per-input R1 term.
Command add_energy_command(CLI::App& parent);
/// `atebm grads --model CKPT --real R.npy --fake F.npy [--r1 GAMMA] --out G.safetensors`: the loss
/// (BCE + gamma * R1) and its gradient for every parameter.
Command add_grads_command(CLI::App& parent);
/// `atebm ood (--run DIR | --model FILE) --in SPEC --ood SPEC [--ood SPEC ...] [--attack none|pgd|apgd]
/// [--eps E] [--steps N] [--restarts R] [--out RESULT.json]`: clean and worst-case OOD AUC.
Command add_ood_command(CLI::App& parent);
/// `atebm fid --inception W (--samples FILE | --samples-spec SPEC) (--ref-stats REF.npz | --ref SPEC) [--kid] [--is]`.
Command add_fid_command(CLI::App& parent);
/// `atebm train-classifier --data SPEC --test SPEC --out FILE [--epochs N] [--batch-size B] [--lr L]
/// [--optimizer adam|sgd] [--augment A] [--seed S] [--model-config JSON]`: a domain classifier for FID.
Command add_train_classifier_command(CLI::App& parent);

}  // namespace atebm::cli
