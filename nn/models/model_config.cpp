#include "nn/models/model_config.h"

#include <set>

#include "nn/models/discriminator.h"
#include "nn/models/mlp.h"
#include "nn/models/resnet.h"
#include "ops/ops.h"

namespace atebm::nn {
namespace {

using nlohmann::json;

void check_fields(const json& cfg, const std::string& arch, const std::set<std::string>& allowed) {
  ATEBM_CHECK(cfg.is_object(), "model config: expected a JSON object, got {}", cfg.dump());
  for (const auto& [key, value] : cfg.items())
    ATEBM_CHECK(key == "arch" || allowed.count(key), "model config ({}): unknown field '{}' (allowed: arch, {})", arch,
                key, fmt::join(allowed, ", "));
}

template <typename T>
void read(const json& cfg, const char* field, T& out, const std::string& arch) {
  if (!cfg.contains(field)) return;
  try {
    out = cfg.at(field).get<T>();
  } catch (const json::exception& e) {
    ATEBM_FAIL("model config ({}): field '{}' has the wrong type ({}): {}", arch, field, cfg.at(field).dump(), e.what());
  }
}

ResNetConfig resnet_config(const json& cfg) {
  check_fields(cfg, "resnet", {"block", "layers", "widths", "in_channels", "num_classes", "pool", "mean", "std"});
  ResNetConfig r;
  read(cfg, "block", r.block, "resnet");
  read(cfg, "layers", r.layers, "resnet");
  read(cfg, "widths", r.widths, "resnet");
  read(cfg, "in_channels", r.in_channels, "resnet");
  read(cfg, "num_classes", r.num_classes, "resnet");
  read(cfg, "pool", r.pool, "resnet");
  if (r.in_channels != 3 && !cfg.contains("mean")) r.mean.assign(static_cast<size_t>(std::max<int64_t>(r.in_channels, 0)), 0.5);
  if (r.in_channels != 3 && !cfg.contains("std")) r.std.assign(static_cast<size_t>(std::max<int64_t>(r.in_channels, 0)), 0.5);
  read(cfg, "mean", r.mean, "resnet");
  read(cfg, "std", r.std, "resnet");
  return r;
}

DiscriminatorConfig disc_config(const json& cfg) {
  check_fields(cfg, "stargan_discriminator", {"img_size", "max_conv_dim", "num_outputs", "mean", "std"});
  DiscriminatorConfig d;
  read(cfg, "img_size", d.img_size, "stargan_discriminator");
  read(cfg, "max_conv_dim", d.max_conv_dim, "stargan_discriminator");
  read(cfg, "num_outputs", d.num_outputs, "stargan_discriminator");
  read(cfg, "mean", d.mean, "stargan_discriminator");
  read(cfg, "std", d.std, "stargan_discriminator");
  return d;
}

MlpConfig mlp_config(const json& cfg) {
  check_fields(cfg, "mlp", {"dims", "activation", "slope"});
  MlpConfig m;
  read(cfg, "dims", m.dims, "mlp");
  read(cfg, "activation", m.activation, "mlp");
  read(cfg, "slope", m.slope, "mlp");
  return m;
}

std::string arch_of(const json& cfg) {
  ATEBM_CHECK(cfg.is_object(), "model config: expected a JSON object, got {}", cfg.dump());
  ATEBM_CHECK(cfg.contains("arch") && cfg.at("arch").is_string(),
              "model config: missing string field 'arch' (one of resnet, stargan_discriminator, mlp)");
  return cfg.at("arch").get<std::string>();
}

}  // namespace

std::shared_ptr<Module> build_model(const json& config, Generator& gen, DType dtype) {
  const std::string arch = arch_of(config);
  if (arch == "resnet") return std::make_shared<ResNet>(resnet_config(config), gen, dtype);
  if (arch == "stargan_discriminator") return std::make_shared<StarGANDiscriminator>(disc_config(config), gen, dtype);
  if (arch == "mlp") return std::make_shared<Mlp>(mlp_config(config), gen, dtype);
  ATEBM_FAIL("model config: unknown arch '{}' (expected resnet, stargan_discriminator or mlp)", arch);
}

json complete_config(const json& config) {
  const std::string arch = arch_of(config);
  if (arch == "resnet") {
    const ResNetConfig r = resnet_config(config);
    return {{"arch", arch},        {"block", r.block}, {"layers", r.layers}, {"widths", r.widths},
            {"in_channels", r.in_channels}, {"num_classes", r.num_classes}, {"pool", r.pool},
            {"mean", r.mean},      {"std", r.std}};
  }
  if (arch == "stargan_discriminator") {
    const DiscriminatorConfig d = disc_config(config);
    json j = {{"arch", arch}, {"img_size", d.img_size}, {"max_conv_dim", d.max_conv_dim}, {"num_outputs", d.num_outputs}};
    if (!d.mean.empty()) {  // absent means "no normalisation", so older files keep their config
      j["mean"] = d.mean;
      j["std"] = d.std;
    }
    return j;
  }
  if (arch == "mlp") {
    const MlpConfig m = mlp_config(config);
    return {{"arch", arch}, {"dims", m.dims}, {"activation", m.activation}, {"slope", m.slope}};
  }
  ATEBM_FAIL("model config: unknown arch '{}' (expected resnet, stargan_discriminator or mlp)", arch);
}

json parse_json(const std::string& text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    ATEBM_FAIL("{}: invalid JSON: {}", what, e.what());
  }
}

Tensor energy_logit(Module& model, const Tensor& x) {
  const Tensor out = model.forward(x);
  ATEBM_CHECK(out.dim() == 2 && out.size(1) >= 1, "energy_logit: the model returned shape {}, expected [N, outputs]",
              shape_str(out.shape()));
  return select(out, 1, 0);
}

}  // namespace atebm::nn
