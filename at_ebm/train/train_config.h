#pragma once
// The configuration of a training run, as stored in RUN/config.json. Every field has a default
// (the struct initialisers below); a preset (presets.h) fills in a set of them, a config file
// replaces what it names, and command-line overrides `section.key=value` replace single fields.
// Unknown keys, wrong types and inconsistent values are errors that name the field.
//
//   {"preset": "fashion-mnist",
//    "model":  {...model config, see nn/models/model_config.h...},
//    "data":   {"train": SPEC, "p0": SPEC | [SPEC, ...], "shape": [C, H, W], "batch_size": 32,
//               "augment": "crop=4,flip", "p0_augment": "...", "workers": 2},
//    "attack": {"step_size": λ, "start_step": 0, "max_steps": 25, "epochs_per_step": 1,
//               "auc_threshold": 0.8, "auc_window": 100, "eps": "inf", "norm": "l2"},
//    "indist_attack": {"steps": 0, "step_size": λ, "eps": "inf"},
//    "loss":   {"r1_weight": γ, "r1_interval": 1},
//    "optim":  {"name": "adam"|"sgd", "lr": ..., "beta1", "beta2", "eps", "momentum", "nesterov",
//               "weight_decay", "schedule": "constant"},
//    "train":  {"max_iters": 0, "max_seconds": 0, "seed": 0, "threads": 0, "device": "cpu", "cuda_graph": true,
//               "tf32": true, "conv_algo": "cudnn", "cudnn_algo_search": "heuristic",
//               "overlap_allreduce": true, "checkpoint_every": 500, "log_every": 50, "sample_at_end": true},
//    "sample": {"steps": 32, "step_size": 0.2, "n": 64, "batch_size": 64, "seed": 0, "p0": null}}
//
// Radii accept a number or "inf" (JSON has no infinity). max_iters = 0 and max_seconds = 0 mean
// "no limit" (the run then ends when stopped with Ctrl-C, which still writes a checkpoint).
#include <nlohmann/json.hpp>

#include <limits>
#include <string>
#include <vector>

namespace atebm::at_ebm {

struct DataConfig {
  nlohmann::json train = "fashion-mnist:train";  // the p_data spec (or a list of specs)
  nlohmann::json p0 = "uniform:60000";           // the p0 spec (or a list of specs)
  std::vector<int64_t> shape = {1, 28, 28};      // the model's input [C, H, W]
  int64_t batch_size = 32;                       // m: real images per iteration (and as many p0)
  std::string augment;                           // p_data augmentation (data/augment.h text form)
  std::string p0_augment;
  int64_t workers = 2;                           // loader threads per stream
};

struct AttackConfig {
  double step_size = 0.1;  // λ of Eq. 8
  int64_t start_step = 0;  // K of the first level
  int64_t max_steps = 25;  // K of the last level
  int64_t epochs_per_step = 1;
  double auc_threshold = 0.8;
  int64_t auc_window = 100;
  double eps = std::numeric_limits<double>::infinity();
  std::string norm = "l2";  // "l2" | "linf"
};

struct IndistAttackConfig {
  int64_t steps = 0;  // descent steps on the real batch before the loss (official CIFAR-10: 5)
  double step_size = 0.1;
  double eps = std::numeric_limits<double>::infinity();
};

struct LossConfig {
  double r1_weight = 0.01;  // γ
  int64_t r1_interval = 1;  // lazy R1: computed every N iterations, weighted by N
};

struct OptimConfig {
  std::string name = "adam";
  double lr = 5e-4;
  double beta1 = 0.0, beta2 = 0.99, eps = 1e-8;  // Adam
  double momentum = 0.9;                         // SGD
  bool nesterov = true;                          // SGD
  double weight_decay = 0.0;
  std::string schedule = "constant";             // nn/optim/lr_schedule.h
};

struct RunConfig {
  int64_t max_iters = 0;     // 0: no limit
  double max_seconds = 0.0;  // 0: no limit; counts training time across resumes
  uint64_t seed = 0;
  int64_t threads = 0;       // 0: the engine's default (OMP_NUM_THREADS or all cores)
  std::string device = "cpu";  // "cpu", "cuda" or "cuda:N"; under MPI, "cuda" is cuda:LOCAL_RANK
  bool cuda_graph = true;      // on CUDA, replay the PGD loops (pgd_graph.h) and, with one rank, the loss
                               // step's loss + backward (loss_graph.h) from captured graphs
  bool tf32 = true;            // on CUDA, float32 matmuls and convs may use TF32 tensor cores (ops/math_mode.h)
  std::string conv_algo = "cudnn";  // conv2d forward on CUDA: "cudnn", "implicit_gemm" or
                                    // "implicit_gemm_pipelined" (the hand-written kernels, ops/math_mode.h)
  std::string cudnn_algo_search = "heuristic";  // "heuristic" (same algorithms every run) or "measured"
                                                // (time cuDNN's candidates once per shape; ops/math_mode.h)
  bool overlap_allreduce = true;  // several ranks: all-reduce gradients during backward (grad_sync.h)
  int64_t checkpoint_every = 500;
  int64_t log_every = 50;    // plain progress lines when stderr is not a terminal
  bool sample_at_end = true; // write RUN/samples.png with the sample settings when done
};

struct SampleConfig {
  int64_t steps = 32;
  double step_size = 0.2;
  int64_t n = 64;
  int64_t batch_size = 64;
  uint64_t seed = 0;
  nlohmann::json p0 = nullptr;  // null: data.p0
};

struct TrainConfig {
  std::string preset;  // informational: which preset the run started from ("" for none)
  nlohmann::json model;
  DataConfig data;
  AttackConfig attack;
  IndistAttackConfig indist_attack;
  LossConfig loss;
  OptimConfig optim;
  RunConfig train;
  SampleConfig sample;
};

/// Parses and validates; throws atebm::Error naming the field ("attack.step_size: ...").
TrainConfig train_config_from_json(const nlohmann::json& j);
/// Every field, with the model config completed (what RUN/config.json holds).
nlohmann::json train_config_to_json(const TrainConfig& c);

/// Applies "section.key=value" (value parsed as JSON when it is valid JSON, else as a string;
/// "model.widths=[8,16,32,64]" works) to a config JSON. Throws naming the override when it has no
/// '=', an empty key, or a path through a non-object.
void apply_override(nlohmann::json& config, const std::string& assignment);

/// A radius field: a non-negative number or "inf".
double parse_radius(const nlohmann::json& v, const std::string& field);

}  // namespace atebm::at_ebm
