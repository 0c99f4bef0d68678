#pragma once
// Helpers for the tests that run the atebm binary as a user does: a temporary folder per test,
// running `atebm ARGS` with its stdout, stderr and exit code captured, tiny model files, and
// reading back what the tool wrote.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "common/tiny_models.h"
#include "engine/generator.h"
#include "nn/io/model_file.h"
#include "nn/models/model_config.h"

namespace atebm::cli::testing {

namespace fs = std::filesystem;

inline const std::string kAtebm = ATEBM_BINARY_DIR "/atebm";

/// A grey 8×8 ResNet with one output (pool 1 on the 1×1 map): fast enough for every command.
inline const nlohmann::json kTinyResNet = atebm::test::tiny_resnet_config();

/// The whole file as bytes ("" when it cannot be read).
inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A fresh, empty folder atebm_test_NAME_PID under the system temp dir (the pid keeps parallel
/// runs of the same test apart).
inline fs::path make_temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("atebm_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

/// A freshly initialised model of `config` (weights from Generator(seed)) saved at `file`.
inline std::string write_model(const std::string& file, const nlohmann::json& config, uint64_t seed) {
  Generator gen(seed);
  auto model = nn::build_model(config, gen);
  nn::save_model(file, *model, config);
  return file;
}

/// What one run of the binary left: its exit code (-1 when it did not exit normally) and output.
struct Result {
  int code = -1;
  std::string out, err;
};

/// Runs `atebm ARGS` through the shell (arguments are shell words without quotes) on 2 passive
/// OpenMP threads; stdout and stderr go through files in `dir`.
inline Result run_atebm(const std::string& args, const fs::path& dir) {
  const std::string out = (dir / "stdout.txt").string(), err = (dir / "stderr.txt").string();
  const std::string cmd =
      "OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive " + kAtebm + " " + args + " >" + out + " 2>" + err;
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(out), read_text(err)};
}

/// A fixture with a temporary folder per test (named after the suite and the test), removed
/// afterwards, and `atebm(ARGS)` run with its output captured there.
class ToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = make_temp_dir(std::string(info->test_suite_name()) + "_" + info->name());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  Result atebm(const std::string& args) const { return run_atebm(args, dir_); }

  fs::path dir_;
};

/// ToolTest with kTinyResNet (seed 1) saved as model_ = DIR/model.safetensors.
class TinyModelTest : public ToolTest {
 protected:
  void SetUp() override {
    ToolTest::SetUp();
    model_ = write_model(path("model.safetensors"), kTinyResNet, 1);
  }

  std::string model_;
};

}  // namespace atebm::cli::testing
