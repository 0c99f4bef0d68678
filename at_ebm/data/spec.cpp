#include "at_ebm/data/spec.h"

#include <cstdlib>
#include <filesystem>
#include <map>

#include "at_ebm/data/cifar.h"
#include "at_ebm/data/convert.h"
#include "at_ebm/data/file_bytes.h"
#include "at_ebm/data/idx.h"
#include "at_ebm/data/image_folder.h"
#include "at_ebm/data/npy.h"
#include "at_ebm/data/parse_util.h"
#include "at_ebm/data/synthetic.h"
#include "at_ebm/data/tiny_images.h"
#include "engine/error.h"

namespace atebm::data {

namespace {

struct KindInfo {
  const char* name;
  const char* usage;
};

// One line of usage per kind: the order of spec_help() and of "expected one of".
constexpr KindInfo kKinds[] = {
    {"fashion-mnist", "fashion-mnist[:DIR]:train|test   Fashion-MNIST IDX files (default DIR: $ATEBM_FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist)"},
    {"mnist", "mnist[:DIR]:train|test           MNIST-style IDX files {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (also KMNIST; default DIR: $ATEBM_MNIST_DIR or /usr/share/datasets/mnist)"},
    {"idx", "idx:IMAGES[:LABELS]              an IDX image file (uint8, N x H x W) and optional IDX label file, gzip or raw"},
    {"cifar10", "cifar10:DIR:train|test           CIFAR-10 binary batches in DIR or DIR/cifar-10-batches-bin"},
    {"cifar100", "cifar100:DIR:train|test          CIFAR-100 binary train.bin/test.bin in DIR or DIR/cifar-100-binary (fine labels)"},
    {"folder", "folder:PATH[:SUBDIR]             PNG/JPEG/BMP images in a folder or .tar/.tar.gz/.tgz, class subfolders optional"},
    {"tinyimages", "tinyimages:FILE[:exclude=LIST]   80 Million Tiny Images tiny_images.bin; LIST: record numbers from 1 to drop"},
    {"npy", "npy:FILE[:nchw|nhwc]             a .npy array (N,H,W), (N,C,H,W) or (N,H,W,C), uint8 or float in [0, 1]"},
    {"npz", "npz:FILE:KEY[:nchw|nhwc]         array KEY of a .npz archive"},
    {"uniform", "uniform:N[:seed=S]               N images of uniform noise in [0, 1)"},
    {"gaussian", "gaussian:N[:clip|rescale][:mean=M][:std=S][:seed=S]   N images of N(M, S^2) noise (default 0.5, 0.25, clip)"},
    {"smooth", "smooth:N[:cells=K][:seed=S]      N smooth random images (K x K grids interpolated, K in [2, 7] by default)"},
    {"constant", "constant:N:V                     N images with every value V in [0, 1]"},
};

constexpr const char* kOptionsHelp =
    "options: @grey (or @gray), @rgb, @size=N or @size=HxW (bilinear, antialiased when shrinking), @first=N";

const KindInfo* find_kind(const std::string& k) {
  for (const auto& i : kKinds)
    if (k == i.name) return &i;
  return nullptr;
}

std::string kind_names() {
  std::string s;
  for (const auto& i : kKinds) s += std::string(s.empty() ? "" : ", ") + i.name;
  return s;
}

[[noreturn]] void spec_fail(const DatasetSpec& s, const std::string& what) {
  const KindInfo* k = find_kind(s.kind);
  ATEBM_FAIL("dataset spec \"{}\": {}; expected {}", s.text, what, k ? k->usage : kind_names());
}

// Positional fields and key=value fields of a source, checked against what the kind accepts.
struct Fields {
  std::vector<std::string> pos;
  std::map<std::string, std::string> keyed;
};

Fields split_fields(const DatasetSpec& s, size_t min_pos, size_t max_pos, std::initializer_list<const char*> keys) {
  Fields f;
  for (const auto& v : s.fields) {
    const auto eq = v.find('=');
    if (eq == std::string::npos) {
      if (v.empty()) spec_fail(s, "empty field");
      f.pos.push_back(v);
      continue;
    }
    const std::string k = v.substr(0, eq);
    bool ok = false;
    for (const char* a : keys) ok |= k == a;
    if (!ok) spec_fail(s, fmt::format("unknown key \"{}\"", k));
    if (f.keyed.count(k)) spec_fail(s, fmt::format("key \"{}\" given twice", k));
    f.keyed[k] = v.substr(eq + 1);
  }
  if (f.pos.size() < min_pos || f.pos.size() > max_pos)
    spec_fail(s, fmt::format("{} positional field{} given", f.pos.size(), f.pos.size() == 1 ? "" : "s"));
  return f;
}

bool parse_split(const DatasetSpec& s, const std::string& v) {
  if (v == "train") return true;
  if (v == "test") return false;
  spec_fail(s, fmt::format("split \"{}\" is neither train nor test", v));
}

std::string env_or(const char* var, const char* fallback) {
  const char* v = std::getenv(var);
  return v && *v ? v : fallback;
}

DatasetPtr open_mnist_style(const DatasetSpec& s, const std::string& default_dir) {
  const Fields f = split_fields(s, 1, 2, {});
  const std::string dir = f.pos.size() == 2 ? f.pos[0] : default_dir;
  const bool train = parse_split(s, f.pos.back());
  const std::string stem = train ? "train" : "t10k";
  auto find = [&](const std::string& base) {
    const std::string p = first_existing({dir + "/" + base + ".gz", dir + "/" + base});
    ATEBM_CHECK(!p.empty(), "dataset spec \"{}\": {}/{}[.gz] not found{}", s.text, dir, base,
                s.kind == "fashion-mnist" ? " (install Debian's dataset-fashion-mnist or set ATEBM_FASHION_MNIST_DIR)" : "");
    return p;
  };
  const std::string images = find(stem + "-images-idx3-ubyte");
  return open_idx(images, find(stem + "-labels-idx1-ubyte"));
}

NpyLayout npy_layout(const DatasetSpec& s, const Fields& f, size_t at) {
  if (f.pos.size() <= at) return NpyLayout::Auto;
  if (f.pos[at] == "nchw") return NpyLayout::NCHW;
  if (f.pos[at] == "nhwc") return NpyLayout::NHWC;
  spec_fail(s, fmt::format("layout \"{}\" is neither nchw nor nhwc", f.pos[at]));
}

uint64_t seed_of(const DatasetSpec& s, const Fields& f) {
  if (!f.keyed.count("seed")) return 0;
  return static_cast<uint64_t>(parse_int(f.keyed.at("seed"), fmt::format("dataset spec \"{}\" seed", s.text), 0,
                                         INT64_MAX));
}

// Builds the source with the options it handles itself (folders decode and resize per image;
// synthetic sets are generated at the requested shape); `synth` is the default synthetic shape.
DatasetPtr open_source(const DatasetSpec& s, const ImageShape& synth) {
  const std::string ctx = fmt::format("dataset spec \"{}\"", s.text);
  const std::string& k = s.kind;
  if (k == "fashion-mnist") return open_mnist_style(s, default_fashion_mnist_dir());
  if (k == "mnist") return open_mnist_style(s, env_or("ATEBM_MNIST_DIR", "/usr/share/datasets/mnist"));
  if (k == "idx") {
    const Fields f = split_fields(s, 1, 2, {});
    return open_idx(f.pos[0], f.pos.size() > 1 ? f.pos[1] : "");
  }
  if (k == "cifar10" || k == "cifar100") {
    const Fields f = split_fields(s, 2, 2, {});
    return open_cifar(f.pos[0], k == "cifar10" ? CifarKind::Cifar10 : CifarKind::Cifar100, parse_split(s, f.pos[1]));
  }
  if (k == "folder") {
    const Fields f = split_fields(s, 1, 2, {});
    FolderOptions o;
    o.subdir = f.pos.size() > 1 ? f.pos[1] : "";
    o.channels = static_cast<int>(s.channels);
    o.height = s.height;
    o.width = s.width;
    return open_image_folder(f.pos[0], o);
  }
  if (k == "tinyimages") {
    const Fields f = split_fields(s, 1, 1, {"exclude"});
    return open_tiny_images(f.pos[0], f.keyed.count("exclude") ? f.keyed.at("exclude") : "");
  }
  if (k == "npy") {
    const Fields f = split_fields(s, 1, 2, {});
    return open_npy(f.pos[0], npy_layout(s, f, 1));
  }
  if (k == "npz") {
    const Fields f = split_fields(s, 2, 3, {});
    return open_npz(f.pos[0], f.pos[1], npy_layout(s, f, 2));
  }
  const ImageShape shape{s.channels ? s.channels : synth.c, s.height ? s.height : synth.h, s.width ? s.width : synth.w};
  if (k == "uniform") {
    const Fields f = split_fields(s, 1, 1, {"seed"});
    return make_uniform(parse_int(f.pos[0], ctx + " N", 1, INT64_MAX), shape, seed_of(s, f));
  }
  if (k == "gaussian") {
    const Fields f = split_fields(s, 1, 2, {"mean", "std", "seed"});
    GaussianMode mode = GaussianMode::Clip;
    if (f.pos.size() > 1) {
      if (f.pos[1] == "rescale") mode = GaussianMode::Rescale;
      else if (f.pos[1] != "clip") spec_fail(s, fmt::format("mode \"{}\" is neither clip nor rescale", f.pos[1]));
    }
    const double mean = f.keyed.count("mean") ? parse_double(f.keyed.at("mean"), ctx + " mean") : 0.5;
    const double std = f.keyed.count("std") ? parse_double(f.keyed.at("std"), ctx + " std") : 0.25;
    return make_gaussian(parse_int(f.pos[0], ctx + " N", 1, INT64_MAX), shape, mode, mean, std, seed_of(s, f));
  }
  if (k == "smooth") {
    const Fields f = split_fields(s, 1, 1, {"cells", "seed"});
    const int64_t cells = f.keyed.count("cells") ? parse_int(f.keyed.at("cells"), ctx + " cells", 2, 64) : 7;
    return make_smooth(parse_int(f.pos[0], ctx + " N", 1, INT64_MAX), shape, cells, seed_of(s, f));
  }
  if (k == "constant") {
    const Fields f = split_fields(s, 2, 2, {});
    const double v = parse_double(f.pos[1], ctx + " value");
    if (v < 0 || v > 1) spec_fail(s, fmt::format("value {} is outside [0, 1]", v));
    return make_constant(parse_int(f.pos[0], ctx + " N", 1, INT64_MAX), shape, v);
  }
  spec_fail(s, fmt::format("unknown kind \"{}\"", k));
}

DatasetPtr open_impl(const std::string& spec, const ImageShape* model) {
  const DatasetSpec s = parse_spec(spec);
  // A folder decodes and resizes per image, so images of mixed sizes work: give it the model's
  // shape for what the spec leaves open.
  DatasetSpec src = s;
  if (model && s.kind == "folder") {
    if (!src.channels) src.channels = model->c;
    if (!src.height) {
      src.height = model->h;
      src.width = model->w;
    }
  }
  DatasetPtr ds = open_source(src, model ? *model : ImageShape{1, 28, 28});
  ImageShape want = ds->shape();
  if (s.channels) want.c = s.channels;
  if (s.height) {
    want.h = s.height;
    want.w = s.width;
  }
  if (model) {
    ATEBM_CHECK(!s.channels || s.channels == model->c, "dataset spec \"{}\": asks for {} channel(s) but the model takes {}",
                spec, s.channels, model->c);
    ATEBM_CHECK(!s.height || (s.height == model->h && s.width == model->w),
                "dataset spec \"{}\": asks for {}x{} images but the model takes {}x{}", spec, s.height, s.width, model->h,
                model->w);
    want = *model;
  }
  ds = convert(std::move(ds), want);
  if (s.first) {
    ATEBM_CHECK(s.first <= ds->size(), "dataset spec \"{}\": @first={} but the dataset has only {} images", spec, s.first,
                ds->size());
    ds = take_first(std::move(ds), s.first);
  }
  return ds;
}

}  // namespace

DatasetSpec parse_spec(const std::string& spec) {
  DatasetSpec s;
  s.text = spec;
  const std::vector<std::string> parts = split(spec, '@');
  std::vector<std::string> src = split(parts[0], ':');
  s.kind = src[0];
  if (!find_kind(s.kind))
    ATEBM_FAIL("dataset spec \"{}\": unknown kind \"{}\"; expected one of {} (see spec_help / README)", spec, s.kind,
               kind_names());
  s.fields.assign(src.begin() + 1, src.end());
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& o = parts[i];
    const std::string ctx = fmt::format("dataset spec \"{}\" option @{}", spec, o);
    if (o == "grey" || o == "gray" || o == "rgb") {
      const int64_t c = o == "rgb" ? 3 : 1;
      ATEBM_CHECK(s.channels == 0 || s.channels == c, "{}: conflicts with an earlier channel option", ctx);
      s.channels = c;
    } else if (o.rfind("size=", 0) == 0) {
      const std::string v = o.substr(5);
      const auto x = v.find('x');
      s.height = parse_int(v.substr(0, x), ctx, 1, 1 << 14);
      s.width = x == std::string::npos ? s.height : parse_int(v.substr(x + 1), ctx, 1, 1 << 14);
    } else if (o.rfind("first=", 0) == 0) {
      s.first = parse_int(o.substr(6), ctx, 1, INT64_MAX);
    } else {
      ATEBM_FAIL("dataset spec \"{}\": unknown option \"@{}\"; {}", spec, o, kOptionsHelp);
    }
  }
  return s;
}

DatasetPtr open_dataset(const std::string& spec) { return open_impl(spec, nullptr); }

DatasetPtr open_dataset(const std::string& spec, const ImageShape& model) { return open_impl(spec, &model); }

std::string spec_help() {
  std::string h = "dataset specs: SOURCE[@OPTION...]\n";
  for (const auto& k : kKinds) h += fmt::format("  {}\n", k.usage);
  h += fmt::format("  {}\n", kOptionsHelp);
  return h;
}

std::string default_fashion_mnist_dir() {
  return env_or("ATEBM_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist");
}

}  // namespace atebm::data
