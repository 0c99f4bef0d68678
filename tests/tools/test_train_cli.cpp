// `atebm train` as a user runs it: a run killed with SIGKILL at a random moment and resumed
// ends with a model file bit-identical to an uninterrupted run; usage errors exit with 2.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "engine/device.h"
#include "tools/tool_test_util.h"

extern char** environ;

using namespace atebm::cli::testing;

namespace {

std::string temp_dir(const std::string& name) { return make_temp_dir("train_cli_" + name).string(); }

// Starts atebm with `args` (stdout/stderr to `log`), returns its pid.
pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> all = {kAtebm};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, kAtebm.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  EXPECT_EQ(rc, 0) << "cannot start " << kAtebm;
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run(const std::vector<std::string>& args, const std::string& log) { return wait_exit(spawn(args, log)); }

// Tiny model and synthetic data: ~40 iterations take a second or two.
std::string write_config(const std::string& dir) {
  const nlohmann::json c = {
      {"model", {{"arch", "resnet"}, {"block", "basic"}, {"layers", {1, 1, 1, 1}}, {"widths", {4, 4, 8, 8}},
                 {"in_channels", 1}, {"num_classes", 1}, {"pool", 1}, {"mean", {0.5}}, {"std", {0.5}}}},
      {"data", {{"train", "smooth:64:seed=7"}, {"p0", "uniform:48:seed=9"}, {"shape", {1, 8, 8}}, {"batch_size", 8},
                {"augment", "flip"}, {"workers", 2}}},
      {"attack", {{"step_size", 0.3}, {"start_step", 1}, {"max_steps", 4}, {"auc_window", 3}}},
      {"loss", {{"r1_weight", 0.1}, {"r1_interval", 2}}},
      {"train", {{"max_iters", 40}, {"checkpoint_every", 3}, {"threads", 2}, {"sample_at_end", false}}}};
  const std::string path = dir + "/tiny.json";
  std::ofstream(path) << c.dump(2);
  return path;
}

}  // namespace

TEST(TrainCli, KilledAndResumedRunEqualsAnUninterruptedOne) {
  const std::string dir = temp_dir("kill");
  const std::string cfg = write_config(dir), log = dir + "/log.txt";
  ASSERT_EQ(run({"train", "--config", cfg, "--out", dir + "/whole"}, log), 0) << read_text(log);
  const std::string expected = read_text(dir + "/whole/model.safetensors");
  ASSERT_FALSE(expected.empty());

  // Kill the run three times at random moments after its first checkpoint, resuming each time.
  std::random_device rd;
  std::mt19937 rng(rd());
  const std::string part = dir + "/part";
  std::string kills;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::vector<std::string> args =
        attempt == 0 ? std::vector<std::string>{"train", "--config", cfg, "--out", part}
                     : std::vector<std::string>{"train", "--resume", "--out", part};
    const pid_t pid = spawn(args, log);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!fs::exists(part + "/state.safetensors") && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const int delay_ms = std::uniform_int_distribution<int>(0, 400)(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(pid, SIGKILL);
    const int code = wait_exit(pid);
    // 128 + 9: killed; 0: it had already finished (then the rest of the loop only resumes a done run).
    kills.append(" ").append(std::to_string(delay_ms)).append("ms→").append(std::to_string(code));
    ASSERT_TRUE(code == 128 + SIGKILL || code == 0) << kills << "\n" << read_text(log);
  }
  ASSERT_EQ(run({"train", "--resume", "--out", part}, log), 0) << read_text(log);
  EXPECT_EQ(read_text(part + "/model.safetensors"), expected) << "kill delays after the first checkpoint:" << kills;
  // The metrics log has exactly one line per iteration despite the kills.
  std::ifstream in(part + "/metrics.jsonl");
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) EXPECT_EQ(nlohmann::json::parse(line)["iter"].get<int64_t>(), ++n);
  EXPECT_EQ(n, 40);
  // No temporary file of a write the kills interrupted is left behind.
  for (const fs::directory_entry& e : fs::directory_iterator(part))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  fs::remove_all(dir);
}

TEST(TrainCli, UsageErrorsExitWithTwoAndOneLine) {
  const std::string dir = temp_dir("usage");
  const std::string cfg = write_config(dir), log = dir + "/log.txt";
  const auto check = [&](const std::vector<std::string>& args, int want) {
    std::ofstream(log, std::ios::trunc).close();
    EXPECT_EQ(run(args, log), want) << read_text(log);
    const std::string out = read_text(log);
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  };
  check({"train"}, 2);                                                        // neither --preset nor --config
  check({"train", "--preset", "fashion-mnist", "--config", cfg}, 2);          // both
  check({"train", "--preset", "no-such-preset"}, 2);
  check({"train", "--config", cfg, "--out", dir + "/r", "attack.step_sise=1"}, 2);  // unknown field
  check({"train", "--config", cfg, "--out", dir + "/r", "attack.step_size=-1"}, 2); // invalid value
  check({"train", "--config", cfg, "--out", dir + "/r", "novalue"}, 2);
  check({"train", "--preset", "cifar10"}, 2);                                  // needs the user's data paths
  check({"train", "--resume", "--out", dir + "/nothing-here"}, 2);
  check({"train", "--config", cfg, "--out", dir + "/r", "data.train=idx:/no/such/file"}, 1);  // runtime: missing data
  check({"train", "--config", cfg, "--out", dir + "/r", "train.device=gpu"}, 2);               // not a device
  if (!atebm::cuda_built() || atebm::cuda_device_count() == 0)
    check({"train", "--config", cfg, "--out", dir + "/r2", "train.device=cuda"}, 1);          // runtime: no GPU here
  fs::remove_all(dir);
}
