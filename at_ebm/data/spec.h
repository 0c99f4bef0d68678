#pragma once
// Dataset spec strings: one way for every tool to name a dataset. The grammar is documented in
// at_ebm/data/README.md and returned by spec_help():
//
//   SPEC   := SOURCE ('@' OPTION)*
//   SOURCE := KIND (':' FIELD)*          FIELD: a positional value or key=value
//   OPTION := grey | gray | rgb | size=N | size=HxW | first=N
// e.g. "fashion-mnist:train", "cifar10:/data/cifar:test@grey@size=28", "uniform:10000@rgb@size=32",
//      "folder:/data/cifar10-jpeg.tar.gz:train", "tinyimages:/data/tiny_images.bin:exclude=/data/80mn_cifar_idxs.txt".
// Paths may not contain ':' or '@'.
#include <cstdint>
#include <string>
#include <vector>

#include "at_ebm/data/dataset.h"

namespace atebm::data {

struct DatasetSpec {
  std::string text;                 // the whole spec, for messages
  std::string kind;                 // "fashion-mnist", "idx", ...
  std::vector<std::string> fields;  // after the kind, split on ':'
  int64_t channels = 0;             // @grey → 1, @rgb → 3, 0: as stored
  int64_t height = 0, width = 0;    // @size; 0: as stored
  int64_t first = 0;                // @first=N; 0: all
};

/// Syntax only (the kind must be known, options well-formed); throws atebm::Error quoting the spec.
DatasetSpec parse_spec(const std::string& spec);

/// Opens the dataset a spec names, with its options applied. Synthetic sets are 1×28×28 unless
/// options say otherwise.
DatasetPtr open_dataset(const std::string& spec);

/// Opens the dataset for a model taking `model` images: what the spec does not fix explicitly
/// (channels, size) is converted to the model's; synthetic sets are generated at that shape. An
/// explicit @grey/@rgb/@size that disagrees with the model is an error.
DatasetPtr open_dataset(const std::string& spec, const ImageShape& model);

/// The grammar, one kind per line, for --help texts and error messages.
std::string spec_help();

/// Where fashion-mnist:train|test looks: $ATEBM_FASHION_MNIST_DIR, else Debian's
/// dataset-fashion-mnist folder /usr/share/datasets/fashion-mnist.
std::string default_fashion_mnist_dir();

}  // namespace atebm::data
