// The 2-D experiment (Fig. 1): with the default options, adversarial training must reproduce
// the paper's picture in numbers: D ≈ 1/2 on p_data (Proposition 1) and PGD from uniform p0
// lands inside the data (within 3σ of the origin). Also: the files it writes, option parsing,
// determinism.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "at_ebm/toy2d/plot.h"
#include "at_ebm/toy2d/toy2d.h"
#include "engine/error.h"

namespace atebm::at_ebm {
namespace {

namespace fs = std::filesystem;

std::string out_dir(const std::string& name) {
  const fs::path dir = fs::path(ATEBM_BINARY_DIR) / "test_out" / "toy2d" / name;
  fs::remove_all(dir);
  return dir.string();
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

uint32_t big_endian_u32(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) | b[at + 3];
}

// The default run (about 1.5 s of CPU on 2 threads), checked in one test: ctest runs every
// test in its own process, so a shared fixture would train once per test.
TEST(Toy2d, DefaultRunReproducesThePaperAndWritesItsFiles) {
  const std::string dir = out_dir("default");
  const Toy2dResult r = run_toy2d(Toy2dOptions{}, dir);
  // Proposition 1: D ≈ 1/2 on the data; PGD from uniform p0 lands in the data.
  EXPECT_GE(r.mean_d_data, 0.4);
  EXPECT_LE(r.mean_d_data, 0.6);
  EXPECT_GE(r.frac_within_3sigma, 0.9);
  EXPECT_EQ(r.final_k, Toy2dOptions{}.k_max);  // the schedule reached its last level
  EXPECT_EQ(r.eval_steps, r.final_k);
  EXPECT_LE(r.d_grid_min, r.d_grid_max);

  const std::vector<uint8_t> png = read_bytes(dir + "/toy2d.png");
  ASSERT_GE(png.size(), 33u);
  const std::vector<uint8_t> signature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  EXPECT_TRUE(std::equal(signature.begin(), signature.end(), png.begin()));
  // IHDR is the first chunk: width and height at bytes 16..23, then bit depth 8, colour type 2 (RGB).
  EXPECT_EQ(big_endian_u32(png, 16), static_cast<uint32_t>(Toy2dOptions{}.plot_size));
  EXPECT_EQ(big_endian_u32(png, 20), static_cast<uint32_t>(Toy2dOptions{}.plot_size));
  EXPECT_EQ(png[24], 8);
  EXPECT_EQ(png[25], 2);

  const nlohmann::json written = nlohmann::json::parse(read_bytes(dir + "/toy2d.json"));
  EXPECT_DOUBLE_EQ(written.at("mean_d_data").get<double>(), r.mean_d_data);
  EXPECT_DOUBLE_EQ(written.at("frac_within_3sigma").get<double>(), r.frac_within_3sigma);
  const nlohmann::json config = nlohmann::json::parse(read_bytes(dir + "/config.json"));
  EXPECT_EQ(Toy2dOptions::from_json(config).to_json(), Toy2dOptions{}.to_json());
  EXPECT_TRUE(fs::exists(dir + "/model.safetensors"));
}

// A short run: enough to check that everything but the wall clock repeats exactly.
Toy2dOptions short_options(uint64_t seed) {
  nlohmann::json j = toy2d_default_config();
  for (const char* kv : {"iterations=40", "k_max=4", "iters_per_k=8", "eval_samples=200", "plot_size=32",
                         "field_grid=4", "plot_points=20", "model.dims=[2,16,16,1]", "r1_weight=0.1"})
    apply_toy2d_override(j, kv);
  j["seed"] = seed;
  return Toy2dOptions::from_json(j);
}

TEST(Toy2d, SameSeedGivesTheSameRun) {
  const Toy2dResult a = run_toy2d(short_options(7), out_dir("seed7a"));
  const Toy2dResult b = run_toy2d(short_options(7), out_dir("seed7b"));
  const Toy2dResult c = run_toy2d(short_options(8), out_dir("seed8"));
  EXPECT_EQ(a.mean_d_data, b.mean_d_data);
  EXPECT_EQ(a.frac_within_3sigma, b.frac_within_3sigma);
  EXPECT_EQ(a.mean_d_end, b.mean_d_end);
  EXPECT_EQ(a.final_auc, b.final_auc);
  EXPECT_EQ(a.k_level_starts, b.k_level_starts);
  EXPECT_EQ(read_bytes(a.png_path), read_bytes(b.png_path));
  const auto model_bytes = [](const Toy2dResult& r) {
    return read_bytes((fs::path(r.png_path).parent_path() / "model.safetensors").string());
  };
  EXPECT_EQ(model_bytes(a), model_bytes(b));
  EXPECT_NE(a.mean_d_data, c.mean_d_data);  // the seed matters
}

// The contrast that makes the 1/2 meaningful: a plain classifier (K = 0, no attack) scores the
// data near 1, since uniform p0 is easy to separate from the Gaussian.
TEST(Toy2d, WithoutTheAttackDOnDataIsFarFromOneHalf) {
  nlohmann::json j = toy2d_default_config();
  for (const char* kv : {"k_max=0", "iterations=300", "eval_samples=500", "plot_size=32", "field_grid=4"})
    apply_toy2d_override(j, kv);
  const Toy2dResult r = run_toy2d(Toy2dOptions::from_json(j), out_dir("no_attack"));
  EXPECT_EQ(r.final_k, 0);
  EXPECT_GT(r.mean_d_data, 0.7);
}

TEST(Toy2d, OverridesParseAndBadOnesNameTheKey) {
  nlohmann::json j = toy2d_default_config();
  apply_toy2d_override(j, "sigma=0.5");
  apply_toy2d_override(j, "p0=corner");  // not JSON: taken as a string
  apply_toy2d_override(j, "model.dims=[2,8,1]");
  const Toy2dOptions o = Toy2dOptions::from_json(j);
  EXPECT_EQ(o.sigma, 0.5);
  EXPECT_EQ(o.p0, "corner");
  EXPECT_EQ(o.model.at("dims"), nlohmann::json({2, 8, 1}));

  const auto error_of = [](const std::string& kv) {
    try {
      nlohmann::json c = toy2d_default_config();
      apply_toy2d_override(c, kv);
      Toy2dOptions::from_json(c);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("sigmaa=1").find("unknown option 'sigmaa'"), std::string::npos) << error_of("sigmaa=1");
  EXPECT_NE(error_of("sigma=abc").find("sigma: expected a number"), std::string::npos) << error_of("sigma=abc");
  EXPECT_NE(error_of("sigma=-1").find("sigma: must be > 0"), std::string::npos) << error_of("sigma=-1");
  EXPECT_NE(error_of("batch=1.5").find("batch: expected an integer"), std::string::npos) << error_of("batch=1.5");
  EXPECT_NE(error_of("p0=gaussian").find("p0: expected"), std::string::npos) << error_of("p0=gaussian");
  EXPECT_NE(error_of("k_max=-1").find("k_max"), std::string::npos) << error_of("k_max=-1");
  EXPECT_NE(error_of("sigma").find("expected key=value"), std::string::npos) << error_of("sigma");
  EXPECT_NE(error_of("model.depth=3").find("depth"), std::string::npos) << error_of("model.depth=3");
  EXPECT_NE(error_of("seed=-2").find("seed: expected a non-negative integer"), std::string::npos);
}

TEST(Toy2dPlot, RendersColourMapContoursArrowsAndPoints) {
  ToyPlot plot;
  plot.frame = {.size = 64, .lo = -1, .hi = 1};
  const std::vector<float> xy = plot.frame.pixel_centres();
  ASSERT_EQ(xy.size(), 64u * 64u * 2u);
  EXPECT_FLOAT_EQ(xy[0], -1 + 1.0f / 64);  // top-left pixel centre: smallest x, largest y
  EXPECT_FLOAT_EQ(xy[1], 1 - 1.0f / 64);
  for (size_t i = 0; i < xy.size(); i += 2) plot.d.push_back(xy[i] < 0 ? 0.0f : 1.0f);  // a step at x = 0
  plot.contour_levels = {0.5};
  plot.points.push_back({{0.5f, -0.5f}, Rgb{255, 0, 0}, 2});
  const std::vector<uint8_t> rgb = render_toy_plot(plot);
  ASSERT_EQ(rgb.size(), 64u * 64u * 3u);
  const auto pixel = [&](int x, int y) {
    const size_t at = (static_cast<size_t>(y) * 64 + x) * 3;
    return Rgb{rgb[at], rgb[at + 1], rgb[at + 2]};
  };
  const Rgb low = colour_map(0), high = colour_map(1);
  EXPECT_EQ(pixel(5, 5).r, low.r);
  EXPECT_EQ(pixel(60, 5).g, high.g);
  EXPECT_GT(pixel(31, 5).g, 200);  // the 0.5 contour, drawn near-white, on the step
  EXPECT_EQ(pixel(47, 47).r, 255);  // the point (0.5, −0.5) sits at pixel (47.5, 47.5): inside its dot
  EXPECT_EQ(pixel(47, 47).g, 0);

  plot.d.pop_back();
  EXPECT_THROW(render_toy_plot(plot), Error);
}

}  // namespace
}  // namespace atebm::at_ebm
