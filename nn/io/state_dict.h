#pragma once
// State dicts: named tensors, as PyTorch's Module.state_dict() lists them. load_into() is the
// one checked copy that every loader (Module::load_state_dict, checkpoint resume) goes through.
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace atebm::nn {

using StateDict = std::vector<std::pair<std::string, Tensor>>;

/// Copies each tensor of `src` into the tensor of the same name in `dst_named_tensors` (the
/// destinations keep their handles, devices and strides). strict: names missing from `src` and
/// names of `src` with no destination are errors; duplicate names, shape and dtype mismatches
/// always are. Every problem is collected into one atebm::Error, thrown before any destination
/// is modified.
void load_into(const StateDict& src, const StateDict& dst_named_tensors, bool strict = true);

}  // namespace atebm::nn
