// `atebm ood` as a user runs it, on a tiny model file and synthetic 1×8×8 data: the table and
// the JSON (clean only, and with a tiny APGD / PGD budget), the run folder's default output,
// and the exit codes of usage (2) and runtime (1) errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/tool_test_util.h"

using namespace atebm::cli::testing;

namespace {

// The in-distribution spec fixes the size for the bare model file (synthetic sets default to 28×28).
const std::string kSets = "--in smooth:40:seed=1@size=8 --ood uniform:30:seed=2 --ood gaussian:40:seed=3";

class CmdOod : public TinyModelTest {
 protected:
  nlohmann::json read_json(const std::string& file) const {
    EXPECT_TRUE(fs::exists(file)) << file;
    return nlohmann::json::parse(read_text(file));  // throws (fails the test) on bad JSON
  }
};

}  // namespace

TEST_F(CmdOod, CleanOnlyWritesTheTableAndJson) {
  const Result r = atebm("ood --model " + model_ + " " + kSets + " --n 24 --attack none --threads 2 --out " +
                         path("clean.json"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("clean AUC"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("worst-case AUC"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("uniform:30:seed=2"), std::string::npos) << r.out;
  const nlohmann::json j = read_json(path("clean.json"));
  EXPECT_EQ(j.at("attack").at("kind"), "none");
  EXPECT_EQ(j.at("in").at("n"), 24);
  EXPECT_EQ(j.at("model"), model_);
  ASSERT_EQ(j.at("sets").size(), 2u);
  for (const auto& s : j.at("sets")) {
    EXPECT_EQ(s.at("n"), 24);
    const double auc = s.at("clean_auc").get<double>();
    EXPECT_TRUE(auc >= 0.0 && auc <= 1.0) << auc;
    EXPECT_TRUE(s.at("worst_auc").is_null());
    EXPECT_TRUE(s.at("seconds").is_number());
  }
  EXPECT_EQ(j.at("sets").at(1).at("set"), "gaussian:40:seed=3");
}

TEST_F(CmdOod, TinyAttacksGiveAWorstCaseNoAboveTheClean) {
  for (const std::string& attack : {std::string("apgd"), std::string("pgd")}) {
    const std::string out = path(attack + ".json");
    const Result r = atebm("ood --model " + model_ + " " + kSets + " --n 16 --attack " + attack +
                           " --eps 0.5 --steps 3 --restarts 2 --batch-size 8 --out " + out);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    const nlohmann::json j = read_json(out);
    const nlohmann::json& a = j.at("attack");
    EXPECT_EQ(a.at("kind"), attack);
    EXPECT_EQ(a.at("norm"), "L2");
    EXPECT_EQ(a.at("eps"), 0.5);
    EXPECT_EQ(a.at("steps"), 3);
    EXPECT_EQ(a.at("restarts"), 2);
    EXPECT_EQ(j.at("batch_size"), 8);
    for (const auto& s : j.at("sets")) {
      EXPECT_EQ(s.at("n"), 16);
      EXPECT_LE(s.at("worst_auc").get<double>(), s.at("clean_auc").get<double>()) << attack;
      EXPECT_GE(s.at("mean_worst_score").get<double>(), s.at("mean_clean_score").get<double>()) << attack;
    }
  }
}

TEST_F(CmdOod, RunFolderWritesOodJsonThere) {
  const fs::path run = dir_ / "run";
  fs::create_directories(run);
  fs::copy_file(model_, run / "model.safetensors");
  std::ofstream(run / "config.json") << nlohmann::json{
      {"model", kTinyResNet},
      {"data", {{"train", "smooth:40"}, {"p0", "uniform:40"}, {"shape", {1, 8, 8}}}}}.dump();
  const Result r = atebm("ood --run " + run.string() + " --in smooth:40:seed=1 --ood uniform:30:seed=2 --n 8 --attack none");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const nlohmann::json j = read_json((run / "ood.json").string());
  EXPECT_EQ(j.at("sets").at(0).at("n"), 8);
}

TEST_F(CmdOod, UsageErrorsExitWithTwo) {
  const std::string m = "ood --model " + model_ + " ";
  const std::vector<std::string> cases = {
      m + "--in smooth:10@size=8",                                  // no --ood
      m + "--ood uniform:10",                                       // no --in
      "ood --in smooth:10@size=8 --ood uniform:10",                 // neither --run nor --model
      m + "--run " + dir_.string() + " --in smooth:10@size=8 --ood uniform:10",  // both
      m + kSets + " --attack fgsm", m + kSets + " --norm l3", m + kSets + " --n 0", m + kSets + " --eps -1",
      m + kSets + " --restarts 0", m + kSets + " --unknown"};
  for (const std::string& args : cases) {
    const Result r = atebm(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find("usage error"), std::string::npos) << args << "\n" << r.err;
  }
}

TEST_F(CmdOod, RuntimeErrorsExitWithOne) {
  Result r = atebm("ood --model " + path("missing.safetensors") + " " + kSets + " --attack none");
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("missing.safetensors"), std::string::npos) << r.err;
  r = atebm("ood --model " + model_ + " --in smooth:10@size=8 --ood nosuchkind:3 --attack none");
  EXPECT_EQ(r.code, 1) << r.out << r.err;
}
