// `atebm sample`, `translate`, `denoise` and `inpaint` as a user runs them, on a tiny model file
// and synthetic data: the outputs exist and hold what they should (the .npy shape and range,
// the grid's size), the run-folder defaults, and the exit codes of usage and runtime errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "at_ebm/data/file_bytes.h"
#include "at_ebm/data/image_decode.h"
#include "at_ebm/data/npy.h"
#include "tools/tool_test_util.h"

using namespace atebm;
using namespace atebm::cli::testing;

namespace {

class CmdSample : public TinyModelTest {
 protected:
  // The .npy at `file` holds float32 [n, 1, 8, 8] with every value in [0, 1].
  void expect_images_npy(const std::string& file, int64_t n) const {
    ASSERT_TRUE(fs::exists(file)) << file;
    const std::vector<uint8_t> bytes = data::read_file_bytes(file);
    const data::NpyArray a = data::parse_npy(bytes.data(), bytes.size(), file);
    EXPECT_EQ(a.type, data::NpyType::F32);
    EXPECT_EQ(a.shape, (std::vector<int64_t>{n, 1, 8, 8}));
    const data::DatasetPtr ds = data::open_npy(file);  // rejects values outside [0, 1]
    ASSERT_EQ(ds->size(), n);
    for (int64_t i = 0; i < n; ++i)
      for (float v : ds->get(i).image) ASSERT_TRUE(v >= 0.0f && v <= 1.0f) << v;
  }

  data::ImageInfo png_info(const std::string& file) const {
    EXPECT_TRUE(fs::exists(file)) << file;
    const std::vector<uint8_t> bytes = data::read_file_bytes(file);
    return data::probe_image(bytes.data(), bytes.size(), file);
  }
};

}  // namespace

TEST_F(CmdSample, WritesNpyAndGrid) {
  const Result r = atebm("sample --model " + model_ + " --p0 uniform:20@size=8 --n 5 --steps 2 --step-size 0.1" +
                         " --batch-size 2 --npy " + path("s.npy") + " --grid " + path("s.png") + " --nrow 3");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_images_npy(path("s.npy"), 5);
  // 5 images of 8×8, 3 per row, padding 2: 2 rows.
  const data::ImageInfo info = png_info(path("s.png"));
  EXPECT_EQ(info.width, 3 * 10 + 2);
  EXPECT_EQ(info.height, 2 * 10 + 2);
  EXPECT_NE(r.out.find(path("s.npy")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(path("s.png")), std::string::npos) << r.out;
  // The same seed gives the same file.
  ASSERT_EQ(atebm("sample --model " + model_ + " --p0 uniform:20@size=8 --n 5 --steps 2 --step-size 0.1 --npy " +
                  path("t.npy"))
                .code,
            0);
  EXPECT_EQ(read_text(path("s.npy")), read_text(path("t.npy")));
}

TEST_F(CmdSample, NpzFramesAndRunDefaults) {
  // A run folder as the trainer leaves it (the parts sample reads).
  fs::create_directories(path("run"));
  fs::copy_file(model_, path("run/model.safetensors"));
  const nlohmann::json config = {{"model", kTinyResNet},
                                 {"data", {{"train", "uniform:30"}, {"p0", {"uniform:10", "constant:4:0.5"}},
                                           {"shape", {1, 8, 8}}}},
                                 {"sample",
                                  {{"steps", 1}, {"step_size", 0.2}, {"n", 3}, {"batch_size", 2}, {"seed", 0}}}};
  std::ofstream(path("run/config.json")) << config.dump(2);
  Result r = atebm("sample --run " + path("run"));
  ASSERT_EQ(r.code, 0) << r.err;
  const data::ImageInfo info = png_info(path("run/samples.png"));
  EXPECT_EQ(info.width, 3 * 10 + 2);  // n = 3 from the run's sample block, in one row
  EXPECT_EQ(info.height, 12);

  // The CUDA math options are accepted on the CPU too (where they change nothing), and say
  // nothing there.
  r = atebm("sample --run " + path("run") + " --no-tf32 --conv-algo implicit_gemm --cudnn-algo-search measured " +
            "--npy " + path("m.npy"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find("TF32"), std::string::npos) << r.out;

  r = atebm("sample --run " + path("run") + " --n 4 --npz " + path("s.npz") + " --frames " + path("frames"));
  ASSERT_EQ(r.code, 0) << r.err;
  const data::DatasetPtr samples = data::open_npz(path("s.npz"), "samples");
  const data::DatasetPtr start = data::open_npz(path("s.npz"), "start");
  EXPECT_EQ(samples->size(), 4);
  EXPECT_EQ(start->size(), 4);
  EXPECT_EQ(samples->shape(), (data::ImageShape{1, 8, 8}));
  EXPECT_TRUE(fs::exists(path("frames/frame_0000.png")));
  EXPECT_TRUE(fs::exists(path("frames/frame_0001.png")));  // steps = 1 from the run
  EXPECT_FALSE(fs::exists(path("frames/frame_0002.png")));
}

TEST_F(CmdSample, UsageErrorsExitWith2) {
  for (const std::string& args :
       {std::string("sample --p0 uniform:4@size=8 --npy ") + path("x.npy"),                       // no model
        "sample --model " + model_ + " --npy " + path("x.npy"),                                     // no p0
        "sample --model " + model_ + " --run " + path("run") + " --p0 uniform:4 --npy x.npy",       // both
        "sample --model " + model_ + " --p0 uniform:4@size=8",                                      // no output
        "sample --model " + model_ + " --p0 uniform:4@size=8 --npy a.npy --npz b.npz",              // conflict
        "sample --model " + model_ + " --p0 uniform:4@size=8 --n 0 --npy a.npy",                    // bad value
        "translate --model " + model_ + " --grid " + path("t.png"),                                 // no input
        "inpaint --model " + model_ + " --input uniform:4@size=8 --mask centre:2 --grid " + path("i.png"),
        "sample --model " + model_ + " --p0 uniform:4@size=8 --npy a.npy --conv-algo winograd",       // bad name
        "denoise --model " + model_ + " --input uniform:4@size=8 --grid d.png --cudnn-algo-search fast"}) {
    const Result r = atebm(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find("usage error"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST_F(CmdSample, RuntimeErrorsExitWith1OnOneLine) {
  fs::create_directories(path("badrun"));
  fs::copy_file(model_, path("badrun/model.safetensors"));
  std::ofstream(path("badrun/config.json"))
      << R"({"data": {"p0": "uniform:4", "shape": [1, 8, 8]}, "train": {"conv_algo": "winograd"}})";
  for (const std::string& args :
       {"sample --model " + path("missing.safetensors") + " --p0 uniform:4@size=8 --npy " + path("x.npy"),
        "sample --model " + model_ + " --p0 nosuchkind:4 --npy " + path("x.npy"),
        "sample --run " + path("norun"),
        "sample --run " + path("badrun"),  // train.conv_algo names no algorithm
        "inpaint --model " + model_ + " --input uniform:4@size=8 --mask " + path("missing.png") + " --grid " +
            path("i.png")}) {
    const Result r = atebm(args);
    EXPECT_EQ(r.code, 1) << args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("atebm: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(path("x.npy")));
  }
}

TEST_F(CmdSample, TranslateDenoiseInpaintWriteTheirGrids) {
  const std::string common = " --model " + model_ + " --input uniform:12:seed=3@size=8 --n 3 --steps 1 --step-size 0.1";
  Result r = atebm("translate" + common + " --grid " + path("t.png") + " --npy " + path("t.npy"));
  ASSERT_EQ(r.code, 0) << r.err;
  expect_images_npy(path("t.npy"), 3);
  EXPECT_EQ(png_info(path("t.png")).height, 2 * 10 + 2);  // rows: before, after
  EXPECT_NE(r.out.find(path("t.png")), std::string::npos) << r.out;

  r = atebm("denoise" + common + " --sigma 0.2 --grid " + path("d.png") + " --npy " + path("d.npy"));
  ASSERT_EQ(r.code, 0) << r.err;
  expect_images_npy(path("d.npy"), 3);
  EXPECT_EQ(png_info(path("d.png")).height, 3 * 10 + 2);  // rows: clean, noisy, restored
  EXPECT_NE(r.out.find(path("d.png")), std::string::npos) << r.out;

  r = atebm("inpaint" + common + " --mask random:0.5 --grid " + path("i.png") + " --npy " + path("i.npy"));
  ASSERT_EQ(r.code, 0) << r.err;
  expect_images_npy(path("i.npy"), 3);
  const data::ImageInfo info = png_info(path("i.png"));
  EXPECT_EQ(info.height, 3 * 10 + 2);  // rows: original, masked, filled
  EXPECT_EQ(info.width, 3 * 10 + 2);
  EXPECT_NE(r.out.find(path("i.png")), std::string::npos) << r.out;
  r = atebm("inpaint" + common + " --mask centre --fill 0.5 --grid " + path("j.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(path("j.png")));
}
