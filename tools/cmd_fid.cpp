// `atebm fid`: FID of generated samples (or any image set) against reference statistics or a
// reference image set, on pytorch-fid's Inception-v3 (its pt_inception weights converted to
// safetensors); optionally KID and the Inception Score. Prints the values, writes a JSON file.
// With --features classifier:FILE the features are instead the penultimate layer of a domain
// classifier (`atebm train-classifier`), which suits 28×28 grey data better: no Inception
// weights are needed, grey images stay grey, and the reference is converted to the samples' shape.
//
//   atebm fid --inception inception.safetensors --samples samples.npz --ref-stats cifar10_train.npz
//   atebm fid --inception inception.safetensors --samples-spec cifar10:/data:train --save-stats ref.npz
//   atebm fid --inception inception.safetensors --samples s.npy --ref cifar10:/data:test --kid --is --out r.json
//   atebm fid --features classifier:clf.safetensors --samples s.npz --ref fashion-mnist:test --kid
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "at_ebm/data/spec.h"
#include "at_ebm/fid/classifier.h"
#include "at_ebm/fid/fid_eval.h"
#include "at_ebm/fid/fid_stats.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "tools/cmd_common.h"
#include "tools/commands.h"

namespace atebm::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kConvert =
    "python3 tools/convert_inception.py pt_inception-2015-12-05-6726825d.pth inception.safetensors";

struct FidArgs {
  std::string features = "inception", inception, samples, samples_spec, ref_stats, ref, save_stats, out;
  int64_t n = 0, batch_size = 50, is_splits = 10;
  uint64_t seed = 0;
  bool kid = false, is = false;
  ModelChoice compute;  // only the compute options (add_compute_options); the model is Inception
};

struct ImageSet {
  std::string source;  // the file or spec, for messages and the JSON
  data::DatasetPtr images;
};

constexpr const char* kClassifierPrefix = "classifier:";

// Where the features come from: pytorch-fid's Inception (the default) or a domain classifier.
struct FeatureNet {
  std::unique_ptr<at_ebm::InceptionV3> inception;
  std::shared_ptr<nn::ResNet> classifier;
};

bool uses_classifier(const FidArgs& a) { return a.features.starts_with(kClassifierPrefix); }
std::string classifier_path(const FidArgs& a) { return a.features.substr(std::string(kClassifierPrefix).size()); }

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void check_args(const FidArgs& a) {
  check_usage(a.features == "inception" || (uses_classifier(a) && !classifier_path(a).empty()),
              "--features must be 'inception' or 'classifier:FILE' (a model file from `atebm train-classifier`), got '" +
                  a.features + "'");
  check_usage(!uses_classifier(a) || a.inception.empty(), "--inception is only used with --features inception");
  check_usage(!uses_classifier(a) || !a.is, "--is needs Inception's logits: it cannot be used with --features classifier:FILE");
  check_usage(a.samples.empty() != a.samples_spec.empty(),
              "give exactly one of --samples FILE and --samples-spec SPEC");
  check_usage(a.ref_stats.empty() || a.ref.empty(), "give at most one of --ref-stats FILE and --ref SPEC");
  check_usage(!a.ref_stats.empty() || !a.ref.empty() || !a.save_stats.empty(),
              "give --ref-stats FILE or --ref SPEC to compare with (or only --save-stats OUT.npz)");
  check_usage(!a.kid || !a.ref.empty(), "--kid compares features, not statistics: give the reference as --ref SPEC");
}

// One line that says what is missing and how to make it: the weights are not part of the project.
void check_weights(const std::string& path) {
  ATEBM_CHECK(!path.empty(),
              "fid needs pytorch-fid's Inception weights converted to safetensors: give --inception FILE, made with "
              "`{}`",
              kConvert);
  ATEBM_CHECK(std::filesystem::is_regular_file(path),
              "--inception {}: no such file; fid needs pytorch-fid's Inception weights converted to safetensors, made "
              "with `{}`",
              path, kConvert);
}

// Features of a set, with a progress line every tenth of it (a CPU pass over 50 000 images is long).
at_ebm::InceptionFeatures features_of(FeatureNet& net, const ImageSet& set, const FidArgs& a, bool logits,
                                      const std::string& what) {
  const int64_t total = a.n == 0 ? set.images->size() : std::min(a.n, set.images->size());
  fmt::print("{}: {} ({} of {} images, {})\n", what, set.source, total, set.images->size(),
             data::shape_str(set.images->shape()));
  std::fflush(stdout);
  const auto t0 = Clock::now();
  int64_t next_report = total / 10;
  at_ebm::FeatureOptions opt{.n = a.n, .seed = a.seed, .batch_size = a.batch_size, .logits = logits};
  opt.progress = [&](int64_t done, int64_t n) {
    if (done < next_report || done == n) return;
    fmt::print("  {} / {} images, {:.0f} s\n", done, n, seconds_since(t0));
    std::fflush(stdout);
    next_report = done + n / 10;
  };
  at_ebm::InceptionFeatures f;
  if (net.classifier)
    f.pool = at_ebm::classifier_features(*net.classifier, *set.images, opt);
  else
    f = at_ebm::inception_features(*net.inception, *set.images, opt);
  fmt::print("  {} images in {:.1f} s\n", total, seconds_since(t0));
  return f;
}

FeatureNet open_feature_net(const FidArgs& a, Device device) {
  FeatureNet net;
  if (uses_classifier(a)) {
    net.classifier = at_ebm::load_classifier(classifier_path(a));
    net.classifier->to(device);
  } else {
    check_weights(a.inception);
    net.inception = at_ebm::InceptionV3::load(a.inception);
    net.inception->module().to(device);
  }
  return net;
}

// The images to evaluate. A classifier takes its own channel count: a spec is converted to it
// (keeping the stored size); a samples file must already have it.
ImageSet open_samples(const FidArgs& a, const FeatureNet& net) {
  if (!a.samples.empty()) return {a.samples, at_ebm::open_samples_file(a.samples)};
  data::DatasetPtr images = data::open_dataset(a.samples_spec);
  if (net.classifier && images->shape().c != net.classifier->config().in_channels) {
    const data::ImageShape s = images->shape();
    images = data::open_dataset(a.samples_spec, {net.classifier->config().in_channels, s.h, s.w});
  }
  return {a.samples_spec, images};
}

// The reference images: for Inception as stored (it resizes everything to 299×299), for a
// classifier converted to the samples' shape, so both sets are seen alike.
data::DatasetPtr open_reference(const FidArgs& a, const FeatureNet& net, const ImageSet& samples) {
  return net.classifier ? data::open_dataset(a.ref, samples.images->shape()) : data::open_dataset(a.ref);
}

int run_fid(const FidArgs& a) {
  check_args(a);
  if (a.compute.threads > 0) set_num_threads(a.compute.threads);
  const Device device = Device::parse(a.compute.device);
  apply_math_options(a.compute, MathMode{}, device);
  const auto t0 = Clock::now();
  FeatureNet net = open_feature_net(a, device);

  const ImageSet samples = open_samples(a, net);
  const at_ebm::InceptionFeatures fs = features_of(net, samples, a, a.is, "samples");
  const at_ebm::FeatureStats stats = at_ebm::feature_stats(fs.pool);
  nlohmann::json j = {{"features", a.features},
                      {"samples", {{"source", samples.source}, {"n", fs.pool.size(0)}}},
                      {"batch_size", a.batch_size},
                      {"seed", a.seed}};
  if (!net.classifier) j["inception"] = a.inception;
  if (!a.save_stats.empty()) {
    at_ebm::save_stats(a.save_stats, stats);
    fmt::print("wrote the statistics of the samples (mu [{}], sigma [{}, {}], float64) to {}\n", stats.dim, stats.dim,
               stats.dim, a.save_stats);
    j["samples"]["stats"] = a.save_stats;
  }

  if (!a.ref_stats.empty() || !a.ref.empty()) {
    std::optional<at_ebm::InceptionFeatures> fr;
    at_ebm::FeatureStats ref;
    if (!a.ref.empty()) {
      fr = features_of(net, {a.ref, open_reference(a, net, samples)}, a, false, "reference");
      ref = at_ebm::feature_stats(fr->pool);
      j["reference"] = {{"source", a.ref}, {"n", fr->pool.size(0)}};
    } else {
      ref = at_ebm::load_stats(a.ref_stats);
      fmt::print("reference: statistics {} (dimension {})\n", a.ref_stats, ref.dim);
      j["reference"] = {{"stats", a.ref_stats}};
    }
    const at_ebm::FrechetResult fid = at_ebm::frechet_distance(stats, ref);
    if (fid.offset)
      fmt::print(
          "note: the covariance product is singular (fewer images than feature dimensions?); added {}·I to "
          "both covariances, as pytorch-fid does\n",
          fid.eps);
    fmt::print("FID: {:.4f}\n", fid.fid);
    j["fid"] = fid.fid;
    j["fid_offset"] = fid.offset ? nlohmann::json(fid.eps) : nlohmann::json(nullptr);
    if (a.kid) {
      const at_ebm::KidOptions ko{.seed = a.seed};
      const at_ebm::MeanStd kid = at_ebm::kernel_inception_distance(fs.pool, fr->pool, ko);
      const int64_t m = std::min({ko.subset_size, fs.pool.size(0), fr->pool.size(0)});
      fmt::print("KID: {:.6f} ± {:.6f} ({} subsets of {})\n", kid.mean, kid.std, ko.subsets, m);
      j["kid"] = {{"mean", kid.mean}, {"std", kid.std}, {"subsets", ko.subsets}, {"subset_size", m}};
    }
  }
  if (a.is) {
    const at_ebm::MeanStd is = at_ebm::inception_score(fs.logits, a.is_splits);
    fmt::print("IS: {:.4f} ± {:.4f} ({} splits)\n", is.mean, is.std, a.is_splits);
    j["is"] = {{"mean", is.mean}, {"std", is.std}, {"splits", a.is_splits}};
  }
  j["seconds"] = seconds_since(t0);
  if (!a.out.empty()) write_json_report(a.out, j);
  return 0;
}

}  // namespace

Command add_fid_command(CLI::App& parent) {
  auto a = std::make_shared<FidArgs>();
  CLI::App* sub = parent.add_subcommand(
      "fid", "FID (and optionally KID, Inception Score) of samples against reference statistics or images");
  sub->add_option("--features", a->features,
                  "inception (pytorch-fid's Inception-v3), or classifier:FILE (the penultimate features of a "
                  "classifier from `atebm train-classifier`, for small grey images)")
      ->capture_default_str();
  sub->add_option("--inception", a->inception,
                  fmt::format("pytorch-fid's Inception weights as safetensors (make them with: {})", kConvert));
  sub->add_option("--samples", a->samples, "Samples as .npy, or .npz with 'samples' (float32 [N, C, H, W] in [0, 1])");
  sub->add_option("--samples-spec", a->samples_spec, "The images to evaluate as a dataset spec instead of a file");
  sub->add_option("--ref-stats", a->ref_stats,
                  "Reference statistics .npz (mu, sigma), e.g. from pytorch-fid or --save-stats");
  sub->add_option("--ref", a->ref, "Reference images as a dataset spec (needed for --kid)");
  sub->add_option("--n", a->n, "Images drawn from each set (default: all)")->check(CLI::PositiveNumber);
  sub->add_option("--seed", a->seed, "Which images --n draws, and the KID subsets")->capture_default_str();
  sub->add_option("--batch-size", a->batch_size, "Images per network forward")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--save-stats", a->save_stats, "Write the samples' statistics (mu, sigma) as .npz");
  sub->add_flag("--kid", a->kid, "Also the Kernel Inception Distance (100 subsets of 1000; needs --ref SPEC)");
  sub->add_flag("--is", a->is, "Also the Inception Score of the samples");
  sub->add_option("--is-splits", a->is_splits, "Splits of the Inception Score")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--out", a->out, "Write the results as JSON");
  add_compute_options(*sub, a->compute);
  return {sub, [a] { return run_fid(*a); }};
}

}  // namespace atebm::cli
