// `atebm toy2d [--out DIR] [--seed S] [key=value ...]`: the paper's 2-D experiment (Fig. 1).
// Prints the result as one line of JSON on stdout, then where the picture is. Options are the
// keys of Toy2dOptions (at_ebm/toy2d/toy2d.h); a bad key or value is a usage error (exit 2).
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "at_ebm/toy2d/toy2d.h"
#include "engine/error.h"
#include "tools/commands.h"

namespace atebm::cli {
namespace {

struct Toy2dArgs {
  std::string out = "toy2d";
  std::string seed;  // as given: checked like seed=S (CLI11 would wrap "-3" into 2^64 − 3)
  std::vector<std::string> overrides;
};

int run_toy2d_command(const Toy2dArgs& args) {
  at_ebm::Toy2dOptions options;
  try {
    nlohmann::json config = at_ebm::toy2d_default_config();
    for (const std::string& kv : args.overrides) at_ebm::apply_toy2d_override(config, kv);
    if (!args.seed.empty()) at_ebm::apply_toy2d_override(config, "seed=" + args.seed);
    options = at_ebm::Toy2dOptions::from_json(config);
  } catch (const Error& e) {
    fmt::print(stderr, "atebm: usage error: {} (see atebm toy2d --help)\n", e.what());
    return 2;
  }
  const at_ebm::Toy2dResult result = at_ebm::run_toy2d(options, args.out);
  fmt::print("{}\n", result.to_json().dump());
  fmt::print("wrote {} (and toy2d.json, config.json, model.safetensors in {})\n", result.png_path, args.out);
  return 0;
}

}  // namespace

Command add_toy2d_command(CLI::App& parent) {
  auto args = std::make_shared<Toy2dArgs>();
  CLI::App* sub = parent.add_subcommand("toy2d", "Train and plot the 2-D experiment (Gaussian p_data, uniform p0)");
  sub->add_option("--out", args->out, "Output folder for toy2d.png, toy2d.json, config.json, model.safetensors")
      ->capture_default_str();
  sub->add_option("--seed", args->seed, "Random seed, a non-negative integer (same as seed=S; wins over it)");
  sub->add_option("overrides", args->overrides,
                  "key=value options, e.g. sigma=0.3 p0=corner iterations=2000 model.dims=[2,64,64,1]");
  return {sub, [args] { return run_toy2d_command(*args); }};
}

}  // namespace atebm::cli
