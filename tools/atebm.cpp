// atebm: the command line of the engine. Thin by design: parse options, call the library.
// Exit codes: 0 success, 1 runtime error (atebm::Error), 2 usage error.
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine/error.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"atebm: an autodiff engine for energy-based models with adversarial training"};
  app.require_subcommand(1);
  const std::vector<atebm::cli::Command> commands = {atebm::cli::add_gradcheck_command(app),
                                                     atebm::cli::add_graph_command(app),
                                                     atebm::cli::add_toy2d_command(app),
                                                     atebm::cli::add_train_command(app),
                                                     atebm::cli::add_sample_command(app),
                                                     atebm::cli::add_translate_command(app),
                                                     atebm::cli::add_denoise_command(app),
                                                     atebm::cli::add_inpaint_command(app),
                                                     atebm::cli::add_energy_command(app),
                                                     atebm::cli::add_grads_command(app),
                                                     atebm::cli::add_ood_command(app),
                                                     atebm::cli::add_fid_command(app),
                                                     atebm::cli::add_train_classifier_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, and the conventional usage-error code (CLI11's own codes vary by error kind).
    // CLI11 reports a misspelt subcommand as "a subcommand is required"; name it instead.
    std::string what = e.what();
    if (argc > 1 && argv[1][0] != '-' &&
        std::none_of(commands.begin(), commands.end(), [&](const auto& c) { return c.app->get_name() == argv[1]; }))
      what = fmt::format("unknown subcommand '{}'", argv[1]);
    fmt::print(stderr, "atebm: usage error: {} (see atebm --help)\n", what);
    return 2;
  }
  try {
    for (const atebm::cli::Command& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const CLI::Error& e) {
    // A command found a usage problem after parsing (an invalid combination or config field).
    fmt::print(stderr, "atebm: usage error: {} (see atebm {} --help)\n", e.what(), argv[1]);
    return 2;
  } catch (const atebm::Error& e) {
    fmt::print(stderr, "atebm: error: {}\n", e.what());
    return 1;
  }
  return 2;  // unreachable: require_subcommand(1) guarantees one parsed subcommand
}
