#pragma once
// Named starting configurations for `atebm train --preset NAME`. A preset is a partial config
// (train_config.h fills the rest with defaults); some need the user's data paths, listed in
// `required` with an example value, and the command refuses to start until they are given as
// key=value overrides.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace atebm::at_ebm {

struct Preset {
  std::string name;
  std::string description;  // one line for --help
  nlohmann::json config;
  /// Fields the user must set (dotted path → an example value).
  std::vector<std::pair<std::string, std::string>> required;
};

/// All presets, in the order --help lists them.
const std::vector<Preset>& presets();
/// Throws atebm::Error naming the known presets when `name` is not one of them.
const Preset& find_preset(const std::string& name);

}  // namespace atebm::at_ebm
