// `atebm ood`: OOD detection with the model's score f(x) (higher = in-distribution). For every
// OOD set: the clean AUC (in-distribution test images vs OOD images) and the worst-case AUC after
// each OOD image was attacked to maximise f inside an ε-ball (default: the paper's Table 4
// protocol, APGD L2 ε = 1.0, 100 iterations, 5 restarts). Prints a table, writes a JSON file.
//
//   atebm ood --run DIR --in cifar10:/data:test --ood svhn... --ood uniform:1024@rgb
//   atebm ood --model m.safetensors --in fashion-mnist:test --ood mnist... --attack none --out r.json
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "at_ebm/ood/ood_eval.h"
#include "engine/error.h"
#include "tools/cmd_common.h"
#include "tools/commands.h"

namespace atebm::cli {
namespace {

struct OodArgs {
  ModelChoice model;
  std::string in, out, attack = "apgd", norm = "l2";
  std::vector<std::string> ood;
  int64_t n = 1024, steps = 100, restarts = 5, batch_size = 128;
  double eps = 1.0, step_size = 0.0;
  uint64_t seed = 0;
};

std::string attack_line(const at_ebm::OodAttack& a) {
  if (a.kind == at_ebm::OodAttackKind::None) return "attack: none (clean scores only)";
  const std::string norm = a.norm == PgdNorm::L2 ? "L2" : "Linf";
  if (a.kind == at_ebm::OodAttackKind::Apgd)
    return fmt::format("attack: APGD {} eps = {}, {} iterations, {} restarts", norm, a.eps, a.steps, a.restarts);
  const double step = a.step_size > 0.0 ? a.step_size : 2.5 * a.eps / static_cast<double>(a.steps);
  return fmt::format("attack: PGD {} eps = {}, {} steps of {}, {} restarts", norm, a.eps, a.steps, step, a.restarts);
}

// set | n | clean AUC | worst-case AUC | seconds, columns padded to their widest entry.
void print_table(const at_ebm::OodReport& r) {
  const bool attacked = r.options.attack.kind != at_ebm::OodAttackKind::None;
  std::vector<std::vector<std::string>> rows = {{"set", "n", "clean AUC", "worst-case AUC", "seconds"}};
  for (const at_ebm::OodSetResult& s : r.sets)
    rows.push_back({s.spec, std::to_string(s.n), fmt::format("{:.4f}", s.clean_auc),
                    attacked ? fmt::format("{:.4f}", s.worst_auc) : std::string("-"), fmt::format("{:.1f}", s.seconds)});
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  for (const auto& row : rows) {
    std::string line = fmt::format("{:<{}}", row[0], width[0]);
    for (size_t c = 1; c < row.size(); ++c) line += fmt::format("  {:>{}}", row[c], width[c]);
    fmt::print("{}\n", line);
  }
}

int run_ood(const OodArgs& args) {
  check_model_choice(args.model);
  check_usage(!args.ood.empty(), "give at least one --ood SPEC");
  check_usage(args.norm == "l2" || args.norm == "linf", fmt::format("--norm must be l2 or linf, got '{}'", args.norm));
  at_ebm::OodOptions opt{.n = args.n, .seed = args.seed, .batch_size = args.batch_size};
  try {
    opt.attack = {.kind = at_ebm::parse_attack_kind(args.attack),
                  .eps = args.eps,
                  .norm = args.norm == "l2" ? PgdNorm::L2 : PgdNorm::Linf,
                  .steps = args.steps,
                  .step_size = args.step_size,
                  .restarts = args.restarts};
    at_ebm::check_ood_options(opt);
  } catch (const Error& e) {
    throw CLI::ValidationError(e.what());
  }

  at_ebm::SamplingSetup setup = open_model(args.model);
  // --in fixes the image shape of a bare model file; the OOD sets are converted to it.
  const at_ebm::NamedDataset in{args.in, open_at_model_shape(setup, spec_json(args.in, "--in"), "--in")};
  std::vector<at_ebm::NamedDataset> ood;
  for (const std::string& spec : args.ood)
    ood.push_back({spec, open_at_model_shape(setup, spec_json(spec, "--ood"), "--ood")});

  fmt::print("in-distribution: {} ({}), {}\n", args.in, data::shape_str(setup.shape), attack_line(opt.attack));
  const at_ebm::OodReport report =
      at_ebm::evaluate_ood(at_ebm::model_score(*setup.model), setup.model->named_parameters(), in, ood, opt);
  fmt::print("{} in-distribution images scored in {:.1f} s (mean f {:.4f})\n", report.n_in, report.in_seconds,
             report.mean_in_score);
  print_table(report);

  std::string out = args.out;
  if (out.empty() && !args.model.run.empty()) out = run_path(args.model, "ood.json");
  if (out.empty()) {
    fmt::print("no JSON written (give --out FILE)\n");
    return 0;
  }
  nlohmann::json j = at_ebm::ood_report_json(report);
  j["model"] = args.model.run.empty() ? args.model.model : args.model.run;
  write_json_report(out, j);
  return 0;
}

}  // namespace

Command add_ood_command(CLI::App& parent) {
  auto a = std::make_shared<OodArgs>();
  CLI::App* sub = parent.add_subcommand(
      "ood", "OOD detection: clean and worst-case (attacked OOD images) ROC AUC of the model's score");
  add_model_options(*sub, a->model);
  sub->add_option("--in", a->in, "In-distribution test set: a dataset spec (or JSON list of specs)")->required();
  sub->add_option("--ood", a->ood, "An OOD set (dataset spec or JSON list of specs); repeat for several")
      ->required();
  sub->add_option("--n", a->n, "Images drawn from every set (fewer when a set holds fewer)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--seed", a->seed, "Which images are drawn, and the attack's random starts")->capture_default_str();
  sub->add_option("--attack", a->attack, "none | pgd | apgd")->capture_default_str();
  sub->add_option("--norm", a->norm, "l2 | linf")->capture_default_str();
  sub->add_option("--eps", a->eps, "Radius of the ball around each OOD image (the paper: 1.0, L2, for 32x32 inputs)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--steps", a->steps, "PGD steps, or APGD iterations per restart")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--step-size", a->step_size, "PGD step size λ (default: 2.5·eps/steps; APGD sets its own)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--restarts", a->restarts, "Restarts (random starts) of the attack")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--batch-size", a->batch_size, "Images per scoring / attack batch")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--out", a->out, "Write the results as JSON (default with --run: DIR/ood.json)");
  add_compute_options(*sub, a->model);
  return {sub, [a] { return run_ood(*a); }};
}

}  // namespace atebm::cli
