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

}  // namespace atebm::cli
