// The FID Inception-v3 behind the InceptionV3 interface: builds InceptionNet (inception_blocks.h)
// at full width, loads pytorch-fid's weights from safetensors, and runs pytorch-fid's input
// pipeline.
//
// Resize convention: PyTorch's F.interpolate(x, size=(299, 299), mode='bilinear',
// align_corners=False) without antialiasing, exactly what pytorch-fid's InceptionV3 does
// (half-pixel centres, src = (dst + 0.5)·in/299 − 0.5, clamped at the border), so that features
// and FID values agree with pytorch-fid's — the reference implementation people compare against.
// (TensorFlow's original FID code resized with TF1's resize_bilinear, another convention; values
// differ slightly from pytorch-fid's for images that are not 299×299, and we follow pytorch-fid.)
#include "at_ebm/fid/inception.h"

#include <filesystem>
#include <set>
#include <vector>

#include "at_ebm/fid/inception_blocks.h"
#include "engine/autograd/grad_mode.h"
#include "nn/io/safetensors.h"
#include "ops/ops.h"

namespace atebm::at_ebm {
namespace {

using inception::InceptionNet;
using inception::InceptionWidths;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class FidInception final : public InceptionV3 {
 public:
  FidInception(uint64_t seed, DType dtype) {
    ATEBM_CHECK(is_floating(dtype), "InceptionV3: dtype must be float32 or float64; got {}", dtype);
    Generator gen(seed);
    net_ = std::make_shared<InceptionNet>(InceptionWidths{}, gen, dtype);
    probe_ = net_->state_dict().front().second;
  }

  InceptionOutputs features(const Tensor& images) override {
    NoGradGuard no_grad;
    ATEBM_CHECK(images.defined() && images.dim() == 4 && images.size(1) == 3 && images.size(0) >= 1,
                "InceptionV3: expected images [N, 3, H, W] with N >= 1; got {}",
                images.defined() ? shape_str(images.shape()) : "an undefined tensor");
    Tensor x = images;
    if (x.dtype() != probe_.dtype() || x.device() != probe_.device()) x = copy_to(x, probe_.device(), probe_.dtype());
    check_unit_range(x);
    if (net_->is_training()) net_->eval();  // BatchNorm must use the running statistics
    return net_->outputs(inception::preprocess(x));
  }

  nn::Module& module() override { return *net_; }

 private:
  // Images in [0, 255] (or [−1, 1]) instead of [0, 1] give features without meaning, and FID
  // values that look plausible: refuse them.
  static void check_unit_range(const Tensor& x) {
    const Tensor flat = reshape(x, {-1});
    const double lo = min(flat, 0).values.item(), hi = max(flat, 0).values.item();
    ATEBM_CHECK(lo >= 0.0 && hi <= 1.0, "InceptionV3: expected images with values in [0, 1]; got values in [{}, {}]",
                lo, hi);
  }

  std::shared_ptr<InceptionNet> net_;
  Tensor probe_;  // a parameter handle: the module's current dtype and device
};

// The file's tensors as the module's state: floating tensors converted to `dtype`, and
// num_batches_tracked (absent from files saved before PyTorch 0.4.1; never used in eval mode)
// taken from the module when the file lacks it.
nn::NamedTensors as_module_state(const nn::SafetensorsFile& file, const nn::Module& module, DType dtype) {
  nn::NamedTensors state;
  std::set<std::string> in_file;
  for (const auto& [name, t] : file.tensors) {
    in_file.insert(name);
    const bool convert = t.dtype() != dtype && is_floating(t.dtype());
    state.emplace_back(name, convert ? copy_to(t, Device::cpu(), dtype) : t);
  }
  for (const auto& [name, t] : module.state_dict()) {
    if (ends_with(name, ".num_batches_tracked") && !in_file.contains(name)) state.emplace_back(name, t);
  }
  return state;
}

// A file that shares no name with the network (another model, or torchvision's Inception
// without conversion) gets a short message instead of one line per missing tensor.
void check_not_another_model(const nn::SafetensorsFile& file, const nn::Module& module, const std::string& path,
                             const std::string& how) {
  std::set<std::string> expected;
  for (const auto& [name, t] : module.state_dict()) expected.insert(name);
  std::vector<std::string> names;
  for (const auto& [name, t] : file.tensors) {
    if (expected.contains(name)) return;
    if (names.size() < 5) names.push_back(name);
  }
  ATEBM_FAIL("InceptionV3: '{}' holds none of the FID Inception-v3 tensors (expected names like "
             "Conv2d_1a_3x3.conv.weight; the file has {} tensors: {}{}); {}",
             path, file.tensors.size(), fmt::join(names, ", "), file.tensors.size() > names.size() ? ", ..." : "",
             how);
}

}  // namespace

std::unique_ptr<InceptionV3> InceptionV3::load(const std::string& path, DType dtype) {
  const std::string how =
      "download pytorch-fid's pt_inception-2015-12-05-6726825d.pth and convert it with "
      "tools/convert_inception.py (see the README)";
  ATEBM_CHECK(std::filesystem::is_regular_file(path), "InceptionV3: weight file '{}' {}; {}", path,
              std::filesystem::exists(path) ? "is not a regular file" : "does not exist", how);
  const nn::SafetensorsFile file = nn::load_safetensors(path);
  auto model = std::make_unique<FidInception>(0, dtype);
  check_not_another_model(file, model->module(), path, how);
  try {
    NoGradGuard no_grad;
    model->module().load_state_dict(as_module_state(file, model->module(), dtype), /*strict=*/true);
  } catch (const Error& e) {
    ATEBM_FAIL("InceptionV3: '{}' does not hold the FID Inception-v3 weights ({}): {}", path, how, e.what());
  }
  return model;
}

std::unique_ptr<InceptionV3> InceptionV3::random(uint64_t seed, DType dtype) {
  return std::make_unique<FidInception>(seed, dtype);
}

}  // namespace atebm::at_ebm
