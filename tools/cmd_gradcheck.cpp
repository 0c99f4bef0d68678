// `atebm gradcheck`: runs gradcheck (and gradgradcheck) over the op table (ops/op_table.h) and
// prints one aligned row per case, then "N passed, M failed". Exit 0 only when all pass.
#include <fmt/format.h>

#include <memory>
#include <string>

#include "ops/op_table.h"
#include "tools/commands.h"

namespace atebm::cli {
namespace {

struct GradcheckArgs {
  std::string filter;  // substring of "op shapes"
  bool first_order_only = false;
};

int run_gradcheck(const GradcheckArgs& args) {
  const std::vector<OpCase>& table = op_table();
  std::vector<size_t> picked;
  size_t op_w = 2, shapes_w = 6;
  for (size_t i = 0; i < table.size(); ++i) {
    if ((table[i].op + " " + table[i].shapes).find(args.filter) == std::string::npos) continue;
    picked.push_back(i);
    op_w = std::max(op_w, table[i].op.size());
    shapes_w = std::max(shapes_w, table[i].shapes.size());
  }
  ATEBM_CHECK(!picked.empty(), "gradcheck: no op-table case matches --filter '{}' ({} cases in the table)",
              args.filter, table.size());

  fmt::print("{:>3}  {:<{}}  {:<{}}  {:>10}  {:>10}  {}\n", "#", "op", op_w, "shapes", shapes_w, "err1 (abs)",
             "err2 (abs)", "result");
  int passed = 0, failed = 0;
  for (size_t i : picked) {
    const OpCase& c = table[i];
    const OpCaseCheck r = check_op_case(c, !args.first_order_only);
    const std::string err2 = r.second_run ? fmt::format("{:10.2e}", r.second.max_abs) : fmt::format("{:>10}", "-");
    fmt::print("{:>3}  {:<{}}  {:<{}}  {:10.2e}  {}  {}\n", i, c.op, op_w, c.shapes, shapes_w, r.first.max_abs, err2,
               r.ok() ? "PASS" : "FAIL");
    if (!r.first.ok) fmt::print("       first order: {}\n", r.first.message);
    if (!r.second.ok) fmt::print("       second order: {}\n", r.second.message);
    (r.ok() ? passed : failed) += 1;
  }
  fmt::print("{} passed, {} failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace

Command add_gradcheck_command(CLI::App& parent) {
  auto args = std::make_shared<GradcheckArgs>();
  CLI::App* sub = parent.add_subcommand(
      "gradcheck", "Check every op's gradients (and second derivatives) against finite differences, in float64");
  sub->add_option("--filter", args->filter, "Only cases whose \"op shapes\" contains this substring");
  sub->add_flag("--first-order-only", args->first_order_only, "Skip gradgradcheck");
  return {sub, [args] { return run_gradcheck(*args); }};
}

}  // namespace atebm::cli
