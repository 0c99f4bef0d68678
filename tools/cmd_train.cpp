// `atebm train --preset NAME | --config FILE [--out DIR] [--resume] [section.key=value ...]`:
// assembles the run's configuration (preset or file, then overrides), trains (at_ebm/train/
// trainer.h) and, unless train.sample_at_end=false, writes RUN/samples.png. Ctrl-C stops after
// the current iteration with a checkpoint; `--resume` continues a run folder exactly.
// Under mpirun (or an MPI scheduler) every process is one rank of a data-parallel run
// (at_ebm/train/trainer.h): rank 0 prints and writes, and an error on any rank ends the job.
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "at_ebm/train/presets.h"
#include "at_ebm/train/train_config.h"
#include "at_ebm/train/trainer.h"
#include "engine/error.h"
#include "nn/dist/distributed.h"
#include "nn/models/model_config.h"
#include "tools/commands.h"
#include "tools/train_finish.h"

namespace atebm::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct TrainArgs {
  std::string preset, config_file, out;
  bool resume = false;
  std::vector<std::string> overrides;
};

// runs/NAME-YYYYmmdd-HHMMSS: a new folder per run, so the same command can be run again.
std::string default_run_dir(const std::string& name) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  return "runs/" + name + "-" + stamp;
}

// Fields that may change when resuming: they do not affect what an iteration computes.
// What carries the gradients between ranks, for the banner.
std::string gradient_transport(const at_ebm::TrainConfig& cfg) {
  return cfg.train.device.starts_with("cuda") ? "MPI + NCCL" : "MPI";
}

bool resumable_override(const std::string& assignment) {
  static const char* allowed[] = {"train.max_iters=", "train.max_seconds=", "train.checkpoint_every=",
                                  "train.log_every=", "train.sample_at_end=", "train.overlap_allreduce=",
                                  "sample."};
  for (const char* a : allowed)
    if (assignment.rfind(a, 0) == 0) return true;
  return false;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  ATEBM_CHECK(in.good(), "cannot read config file '{}'", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

extern "C" void on_interrupt(int) { at_ebm::Trainer::request_stop(); }

int run_train(const TrainArgs& a) {
  const std::shared_ptr<nn::Communicator> comm = nn::init_distributed();
  const bool lead = comm->rank() == 0;
  json cfg_json;
  std::string out = a.out;
  // Everything up to a valid config is a usage problem (exit 2); what follows is a runtime one.
  try {
    if (a.resume) {
      if (!a.preset.empty() || !a.config_file.empty())
        throw CLI::ValidationError("--resume", "--resume takes the configuration from RUN/config.json; drop --preset/--config");
      if (out.empty()) throw CLI::ValidationError("--resume", "--resume needs --out RUN_DIR (the run to continue)");
      const std::string path = (fs::path(out) / "config.json").string();
      if (!fs::exists(path)) throw CLI::ValidationError("--resume", fmt::format("'{}' does not exist", path));
      cfg_json = nn::parse_json(read_text(path), path);
      for (const std::string& o : a.overrides)
        if (!resumable_override(o))
          throw CLI::ValidationError(o, "only train.max_iters, train.max_seconds, train.checkpoint_every, "
                                        "train.log_every, train.sample_at_end, train.overlap_allreduce and sample.* "
                                        "may change on --resume");
    } else {
      if (a.preset.empty() == a.config_file.empty())
        throw CLI::ValidationError("--preset/--config", "give exactly one of --preset NAME or --config FILE");
      if (!a.preset.empty()) {
        const at_ebm::Preset& p = at_ebm::find_preset(a.preset);
        if (p.name == "toy2d") {
          if (comm->size() > 1)
            throw CLI::ValidationError("--preset", "the toy2d preset trains in one process; run it without mpirun");
          return run_toy2d_preset(a.out.empty() ? default_run_dir("toy2d") : a.out, a.overrides);
        }
        cfg_json = p.config;
        for (const auto& [field, example] : p.required) {
          bool given = false;
          for (const std::string& o : a.overrides) given = given || o.rfind(field + "=", 0) == 0;
          if (!given)
            throw CLI::ValidationError(field, fmt::format("preset {} needs your data path: add {}={}", p.name, field, example));
        }
      } else {
        cfg_json = nn::parse_json(read_text(a.config_file), a.config_file);
      }
      if (out.empty()) out = default_run_dir(a.preset.empty() ? fs::path(a.config_file).stem().string() : a.preset);
      out = comm->broadcast(out, 0);  // the ranks' clocks may name different seconds
    }
    for (const std::string& o : a.overrides) at_ebm::apply_override(cfg_json, o);
    at_ebm::train_config_from_json(cfg_json);  // validate now: a bad field is a usage error
  } catch (const atebm::Error& e) {
    throw CLI::ValidationError(e.what());  // the message already says "config: ..." where it is one
  }
  const at_ebm::TrainConfig cfg = at_ebm::train_config_from_json(cfg_json);

  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  try {
    at_ebm::Trainer trainer(cfg, out, a.resume, {.comm = comm});
    if (lead) {
      fmt::print("training {} in {} ({}{})\n", cfg.preset.empty() ? "a custom config" : "preset " + cfg.preset, out,
                 a.resume ? "resumed" : "new run",
                 comm->size() > 1 ? fmt::format(", {} ranks over {}, global batch {}", comm->size(), gradient_transport(cfg),
                                                cfg.data.batch_size * comm->size())
                                  : "");
      std::fflush(stdout);  // before the progress lines on stderr, also when stdout is a pipe
    }
    const at_ebm::TrainResult r = trainer.run();
    if (lead) {
      fmt::print("done: {} iterations, K = {}, {:.1f} s of training ({}); model: {}\n", r.iterations, r.k, r.seconds,
                 r.stop_reason, (fs::path(out) / "model.safetensors").string());
      if (comm->size() > 1) {
        const double per_iter = 1e3 / std::max<double>(1, static_cast<double>(r.iterations));
        fmt::print("gradient all-reduce: {:.2f} ms per iteration after backward, {:.2f} ms inside it; {} of {} "
                   "buckets started during backward\n",
                   r.allreduce_seconds * per_iter, r.allreduce_hook_seconds * per_iter, r.buckets_overlapped,
                   r.buckets_total);
      }
      if (cfg.train.sample_at_end) write_end_of_run_samples(cfg, out);
    }
  } catch (const atebm::Error& e) {
    if (comm->size() == 1) throw;
    // The other ranks wait in a collective this rank will never reach: end them all.
    fmt::print(stderr, "atebm: error on rank {} of {}: {}\n", comm->rank(), comm->size(), e.what());
    std::fflush(stderr);
    comm->abort(1);
    throw;
  }
  return 0;
}

}  // namespace

Command add_train_command(CLI::App& parent) {
  auto args = std::make_shared<TrainArgs>();
  std::string preset_list;
  for (const at_ebm::Preset& p : at_ebm::presets()) preset_list += fmt::format("\n  {:<14} {}", p.name, p.description);
  CLI::App* app = parent.add_subcommand("train", "Train an energy model by progressive binary adversarial training");
  app->footer("Presets:" + preset_list +
              "\nOverrides: section.key=value, e.g. attack.step_size=0.5 train.max_iters=1000 "
              "data.p0='[\"uniform:1000\",\"smooth:1000\"]' (every field: at_ebm/train/train_config.h)");
  app->add_option("--preset", args->preset, "start from a named preset");
  app->add_option("--config", args->config_file, "start from a JSON config file")->check(CLI::ExistingFile);
  app->add_option("--out", args->out, "run folder (default runs/<preset or config name>-<date>-<time>)");
  app->add_flag("--resume", args->resume, "continue the run in --out exactly where its last checkpoint left it");
  app->add_option("overrides", args->overrides, "section.key=value overrides");
  return {app, [args] { return run_train(*args); }};
}

}  // namespace atebm::cli
