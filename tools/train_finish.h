#pragma once
// Pieces of `atebm train` that reach beyond the trainer: the end-of-run sample grid and the
// toy2d preset (which trains the 2-D experiment instead of an image model).
#include <string>
#include <vector>

#include "at_ebm/train/train_config.h"

namespace atebm::cli {

/// Generates cfg.sample.n images from the run's p0 (sample.p0, else data.p0) with the sample
/// settings and writes RUN/samples.png; prints its path.
void write_end_of_run_samples(const at_ebm::TrainConfig& cfg, const std::string& run_dir);

/// `atebm train --preset toy2d [--out DIR] [key=value ...]`: runs the 2-D experiment with
/// the overrides applied to its default options; prints the result JSON. Returns the exit code.
int run_toy2d_preset(const std::string& out_dir, const std::vector<std::string>& overrides);

}  // namespace atebm::cli
