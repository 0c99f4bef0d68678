#pragma once
// ConcatDataset: several datasets of one image shape seen as one, indices running through the
// first, then the second, ... (PyTorch's ConcatDataset). The p0 stream of a preset is often a
// mixture — e.g. resized grey photos plus several kinds of noise — and a config may therefore
// give p0 as one spec string or as a list of them.
#include <nlohmann/json.hpp>

#include "at_ebm/data/dataset.h"

namespace atebm::data {

/// Throws atebm::Error when `parts` is empty, a part is null or empty, or shapes differ (naming
/// the part and both shapes). Labels are kept; num_classes() is 0 unless every part has the same
/// number of classes.
DatasetPtr make_concat(std::vector<DatasetPtr> parts);

/// Opens a spec string, or a JSON array of spec strings (concatenated), for a model taking
/// `model` images (see open_dataset(spec, model)). `what` names the field in errors ("p0").
DatasetPtr open_datasets(const nlohmann::json& specs, const ImageShape& model, const std::string& what);

}  // namespace atebm::data
