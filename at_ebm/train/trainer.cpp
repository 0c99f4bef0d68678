#include "at_ebm/train/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include "at_ebm/data/concat.h"
#include "at_ebm/data/loader.h"
#include "at_ebm/data/random_draw.h"
#include "at_ebm/method/loss_graph.h"
#include "at_ebm/method/losses.h"
#include "at_ebm/method/pgd.h"
#include "at_ebm/method/pgd_graph.h"
#include "at_ebm/metrics/auc.h"
#include "at_ebm/train/level_schedule.h"
#include "at_ebm/train/train_state.h"
#include "engine/atomic_file.h"
#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "nn/dist/grad_sync.h"
#include "nn/io/model_file.h"
#include "nn/models/model_config.h"
#include "nn/optim/adam.h"
#include "nn/optim/lr_schedule.h"
#include "nn/optim/sgd.h"
#include "ops/math_mode.h"
#include "ops/ops.h"

namespace atebm::at_ebm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop_requested{false};

// Non-finite values in a CPU tensor (float32 or float64; other devices are copied first).
bool all_finite(const Tensor& t) {
  const Tensor c = contiguous(to(t, Device::cpu()));
  if (c.dtype() == DType::Float32) {
    const float* p = c.data<float>();
    for (int64_t i = 0; i < c.numel(); ++i)
      if (!std::isfinite(p[i])) return false;
  } else if (c.dtype() == DType::Float64) {
    const double* p = c.data<double>();
    for (int64_t i = 0; i < c.numel(); ++i)
      if (!std::isfinite(p[i])) return false;
  }
  return true;
}

std::vector<double> values(const Tensor& t) { return contiguous(to(detach(t), DType::Float64)).to_vector<double>(); }

double fraction_positive(const std::vector<double>& v) {
  int64_t n = 0;
  for (double x : v) n += x > 0;
  return v.empty() ? 0.0 : static_cast<double>(n) / static_cast<double>(v.size());
}

Tensor int64_1(int64_t v) { return from_vector(std::vector<int64_t>{v}, {1}, {.dtype = DType::Int64}); }
int64_t get_int64_1(const Tensor& t, const std::string& name) {
  ATEBM_CHECK(t.dtype() == DType::Int64 && t.numel() == 1, "training state: {} must be one int64; got {} {}", name,
              dtype_name(t.dtype()), shape_str(t.shape()));
  return t.to_vector<int64_t>()[0];
}

// The model's input shape must agree with the data shape of the config.
void check_model_input(const json& model, const std::vector<int64_t>& shape) {
  if (model.contains("in_channels"))
    ATEBM_CHECK(model.at("in_channels").get<int64_t>() == shape[0],
                "config: data.shape has {} channels but model.in_channels is {}", shape[0], model.at("in_channels").dump());
  if (model.contains("img_size"))
    ATEBM_CHECK(model.at("img_size").get<int64_t>() == shape[1] && model.at("img_size").get<int64_t>() == shape[2],
                "config: data.shape is {}x{} but model.img_size is {}", shape[1], shape[2], model.at("img_size").dump());
  if (model.value("arch", "") == "mlp")
    ATEBM_CHECK(model.at("dims").at(0).get<int64_t>() == shape[0] * shape[1] * shape[2],
                "config: an MLP on images needs dims[0] = C·H·W = {}; got {}", shape[0] * shape[1] * shape[2],
                model.at("dims").at(0).dump());
}

// The rank's training device: "cuda" under MPI means one GPU per rank, cuda:LOCAL_RANK (the
// rank's index among the ranks of its node, from the communicator).
Device training_device(const std::string& spec, const nn::Communicator& comm) {
  if (spec != "cuda") return Device::parse(spec);
  const int local = comm.local_rank();
  const int count = cuda_device_count();
  ATEBM_CHECK(count > 0, "train.device = cuda, but no CUDA device is visible{}",
              cuda_built() ? "" : " (atebm was built without the CUDA backend)");
  ATEBM_CHECK(local < count, "train.device = cuda: rank {} would use cuda:{}, but this node has {} GPU(s); start at "
              "most one rank per GPU", comm.rank(), local, count);
  return Device::cuda(local);
}

// 64-bit values through a double collective, exactly: each as its two 32-bit halves.
std::vector<double> split_u64(const std::vector<uint64_t>& v) {
  std::vector<double> out;
  for (uint64_t x : v) {
    out.push_back(static_cast<double>(x >> 32));
    out.push_back(static_cast<double>(x & 0xFFFFFFFFull));
  }
  return out;
}
std::vector<uint64_t> join_u64(const std::vector<double>& v) {
  std::vector<uint64_t> out;
  for (size_t i = 0; i + 1 < v.size(); i += 2)
    out.push_back(static_cast<uint64_t>(v[i]) << 32 | static_cast<uint64_t>(v[i + 1]));
  return out;
}

// FNV-1a over the bytes of every tensor of a state dict: equal on two ranks iff (up to hash
// collisions) they hold bit-identical weights.
uint64_t weights_hash(const nn::NamedTensors& state) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const auto& [name, t] : state) {
    const Tensor c = contiguous(to(t, Device::cpu()));
    const auto* p = static_cast<const unsigned char*>(c.raw_data());
    const size_t n = static_cast<size_t>(c.numel()) * c.itemsize();
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  }
  return h;
}

// The PGD / in-distribution attack stream of each rank: rank 0 keeps the single-process seed.
uint64_t rank_seed(uint64_t seed, int rank) {
  return rank == 0 ? seed : data::mix64(seed ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(rank)));
}

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = static_cast<int64_t>(s + 0.5);
  return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60) : fmt::format("{}:{:02}", t / 60, t % 60);
}

}  // namespace

struct Trainer::Impl {
  TrainConfig cfg;
  std::string dir;
  TrainerOptions opt;
  std::shared_ptr<nn::Communicator> comm;
  int rank = 0, world = 1;
  Device device;
  MathModeScope math_mode;  // train.tf32 and train.conv_algo, for as long as the trainer lives
  std::shared_ptr<nn::Module> model;
  nn::NamedTensors params;
  std::unique_ptr<nn::Optimizer> optimizer;
  nn::LrSchedule schedule;
  std::unique_ptr<data::Loader> data_loader, p0_loader;
  std::unique_ptr<LevelSchedule> levels;
  std::unique_ptr<nn::GradientAverager> grad_sync;
  std::unique_ptr<GraphedPgd> attack_loop, indist_loop;  // the PGD loops, graph-replayed on CUDA
  std::unique_ptr<GraphedLossStep> loss_step;             // loss + backward, graph-replayed on CUDA
  Generator gen;
  int64_t iteration = 0;
  double seconds = 0;
  int64_t last_checkpoint = -1;
  std::ofstream metrics;
  bool tty = false;
  bool stop_agreed = false;  // some rank was asked to stop (agreed on by all ranks in step())

  Impl(TrainConfig c, std::string d, bool resume, TrainerOptions o)
      : cfg(std::move(c)),
        dir(std::move(d)),
        opt(std::move(o)),
        comm(opt.comm ? opt.comm : nn::local_communicator()),
        rank(comm->rank()),
        world(comm->size()),
        device(training_device(cfg.train.device, *comm)),
        math_mode(cfg.train.tf32, conv_algo_from_name(cfg.train.conv_algo),
                  cudnn_algo_search_from_name(cfg.train.cudnn_algo_search)),
        gen(rank_seed(cfg.train.seed, rank)) {
    if (cfg.train.threads > 0) set_num_threads(static_cast<int>(cfg.train.threads));
    // This process's GPU becomes current before any CUDA tensor exists: the allocator, cuBLAS,
    // cuDNN and NCCL all work on the current device (one GPU per rank).
    if (device.is_cuda()) set_current_cuda_device(device.index);
    check_model_input(cfg.model, cfg.data.shape);
    const fs::path state_path = fs::path(dir) / "state.safetensors";
    // Only rank 0 writes; the others read the same folder (a shared file system across nodes).
    if (!resume && lead())
      ATEBM_CHECK(!fs::exists(state_path),
                  "run folder '{}' already holds a training state; pass --resume to continue it or choose a new --out",
                  dir);
    if (lead()) fs::create_directories(dir);

    Generator init(cfg.train.seed);
    model = nn::build_model(cfg.model, init);
    model->eval();  // BatchNorm in evaluation mode throughout, as the paper trains
    model->to(device);
    params = model->named_parameters();
    nn::broadcast_module(*comm, *model);  // identical start on every rank, however each built it
    grad_sync = std::make_unique<nn::GradientAverager>(comm, params);
    const ScoreFn f = [this](const Tensor& x) { return nn::energy_logit(*model, x); };
    attack_loop = std::make_unique<GraphedPgd>(f, params);
    indist_loop = std::make_unique<GraphedPgd>(f, params);
    loss_step = std::make_unique<GraphedLossStep>(f, params);
    make_optimizer();
    schedule = nn::LrSchedule::parse(cfg.optim.schedule, cfg.optim.lr);

    const data::ImageShape shape{cfg.data.shape[0], cfg.data.shape[1], cfg.data.shape[2]};
    data_loader = make_loader(data::open_datasets(cfg.data.train, shape, "data.train"), cfg.data.augment, 1);
    p0_loader = make_loader(data::open_datasets(cfg.data.p0, shape, "data.p0"), cfg.data.p0_augment, 2);
    levels = std::make_unique<LevelSchedule>(LevelOptions{
        .start_step = cfg.attack.start_step,
        .max_steps = cfg.attack.max_steps,
        .max_level_iters = cfg.attack.epochs_per_step * data_loader->batches_per_epoch(),
        .threshold = cfg.attack.auc_threshold,
        .window = cfg.attack.auc_window});

    if (resume) {
      if (lead()) remove_stale_temporaries();
      restore(state_path.string());
    }
    if (lead()) {
      write_config();
      open_metrics(resume);
    }
    tty = ::isatty(2) == 1;
  }

  bool lead() const { return rank == 0; }

  void make_optimizer() {
    const OptimConfig& o = cfg.optim;
    if (o.name == "adam")
      optimizer = std::make_unique<nn::Adam>(
          params, nn::AdamOptions{.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay});
    else
      optimizer = std::make_unique<nn::Sgd>(
          params, nn::SgdOptions{.lr = o.lr, .momentum = o.momentum, .weight_decay = o.weight_decay, .nesterov = o.nesterov});
  }

  std::unique_ptr<data::Loader> make_loader(data::DatasetPtr ds, const std::string& augment, uint64_t stream) {
    data::LoaderOptions lo;
    lo.batch_size = cfg.data.batch_size * world;  // the global batch, of which this rank gets its rows
    lo.shard_count = world;
    lo.shard_index = rank;
    lo.shuffle = true;
    lo.drop_last = true;
    lo.seed = data::mix64(cfg.train.seed * 4 + stream);  // independent streams for p_data and p0
    lo.augment = data::parse_augment(augment);
    lo.num_workers = static_cast<int>(cfg.data.workers);
    lo.pin_memory = device.is_cuda();  // batches upload by DMA from page-locked memory
    return std::make_unique<data::Loader>(std::move(ds), lo);
  }

  // ---- checkpoints ----

  // A run killed while writing leaves PATH.tmp.PID.N beside the file it was replacing (the
  // rename never happened, so the checkpoint itself is whole): remove those debris on resume.
  void remove_stale_temporaries() const {
    for (const std::string_view prefix :
         {"config.json.tmp.", "model.safetensors.tmp.", "state.safetensors.tmp.", "metrics.jsonl.tmp."}) {
      for (const fs::directory_entry& e : fs::directory_iterator(dir))
        if (e.is_regular_file() && e.path().filename().string().starts_with(prefix)) fs::remove(e.path());
    }
  }

  void write_config() {
    write_file_atomic((fs::path(dir) / "config.json").string(), train_config_to_json(cfg).dump(2) + "\n",
                      "write config.json");
  }

  // Collective: every rank calls it at the same iteration (it gathers the generators); rank 0
  // writes.
  void checkpoint() {
    if (world > 1) check_ranks_agree();
    const GeneratorState mine = gen.state();
    const std::vector<double> all = comm->allgather(split_u64({mine.seed, mine.offset}));
    last_checkpoint = iteration;
    if (!lead()) return;
    // The log reaches the OS before the state that a resume trusts: every line up to this
    // iteration then survives a kill (a resume drops the lines after it).
    metrics.flush();
    TrainStateFile s;
    s.model = model->state_dict();
    s.optimizer = optimizer->state_tensors();
    for (auto& nt : data_loader->state_tensors("loader.data.")) s.rest.push_back(nt);
    for (auto& nt : p0_loader->state_tensors("loader.p0.")) s.rest.push_back(nt);
    s.rest.emplace_back("trainer.iteration", int64_1(iteration));
    s.rest.emplace_back("trainer.seconds", from_vector(std::vector<double>{seconds}, {1}, {.dtype = DType::Float64}));
    const std::vector<double> lv = levels->state();
    s.rest.emplace_back("trainer.levels", from_vector(lv, {static_cast<int64_t>(lv.size())}, {.dtype = DType::Float64}));
    const GeneratorState g = gen.state();
    s.rest.emplace_back("trainer.generator",
                        from_vector(std::vector<int64_t>{static_cast<int64_t>(g.seed), static_cast<int64_t>(g.offset)}, {2}, {.dtype = DType::Int64}));
    if (world > 1) {
      std::vector<int64_t> rank_gens;
      for (uint64_t v : join_u64(all)) rank_gens.push_back(static_cast<int64_t>(v));
      s.rest.emplace_back("trainer.world_size", int64_1(world));
      s.rest.emplace_back("trainer.rank_generators", from_vector(rank_gens, {world, 2}, {.dtype = DType::Int64}));
    }
    s.info = {{"format", 1}, {"iteration", iteration}, {"k", levels->k()}, {"world_size", world}};
    // The state file is the resume point, so it is written last: a kill between the two writes
    // leaves a model newer than the state, and the resume redoes those iterations and rewrites
    // both. (The other order left a stale model.safetensors behind when the kill hit the final
    // checkpoint, since a resume with nothing left to do writes nothing.)
    nn::save_model((fs::path(dir) / "model.safetensors").string(), *model, cfg.model);
    save_train_state((fs::path(dir) / "state.safetensors").string(), s, cfg.model);
  }

  // On the GPU, a check that does not copy every weight to the host each iteration:
  // Σ_p Σ p·0 is exactly 0 when every weight is finite and NaN otherwise (0·±Inf and 0·NaN are
  // NaN), so one scalar comes back. True proves the weights finite; false (always on the CPU,
  // where the scan is cheap) leaves it to the per-parameter host scan, which names the culprit.
  bool weights_proven_finite_on_device() const {
    if (!device.is_cuda()) return false;  // the CPU scan is cheap: go straight to it
    NoGradGuard no_grad;
    Tensor acc;
    for (const auto& [name, p] : params) {
      const Tensor s = sum(mul(p, 0.0));
      acc = acc.defined() ? add(acc, s) : s;
    }
    return !acc.defined() || std::isfinite(acc.item());
  }

  // Data parallelism keeps the ranks' weights identical by construction (same averaged gradient,
  // same optimiser step); a checkpoint proves it before saving rank 0's copy for all of them.
  void check_ranks_agree() {
    const std::vector<uint64_t> hashes = join_u64(comm->allgather(split_u64({weights_hash(model->state_dict())})));
    for (int r = 1; r < world; ++r)
      ATEBM_CHECK(hashes[static_cast<size_t>(r)] == hashes[0],
                  "data-parallel ranks diverged: rank {} holds different weights from rank 0 at iteration {} (a "
                  "rank-dependent computation, or ranks running different builds)",
                  r, iteration);
  }

  void restore(const std::string& path) {
    TrainStateFile s = load_train_state(path);
    model->load_state_dict(s.model, /*strict=*/true);
    optimizer->load_state_tensors(s.optimizer);
    data_loader->load_state_tensors(s.rest, "loader.data.");
    p0_loader->load_state_tensors(s.rest, "loader.p0.");
    iteration = get_int64_1(find_tensor(s.rest, "trainer.iteration", path), "trainer.iteration");
    const Tensor& sec = find_tensor(s.rest, "trainer.seconds", path);
    ATEBM_CHECK(sec.dtype() == DType::Float64 && sec.numel() == 1, "'{}': trainer.seconds must be one float64", path);
    seconds = sec.to_vector<double>()[0];
    const Tensor& lv = find_tensor(s.rest, "trainer.levels", path);
    ATEBM_CHECK(lv.dtype() == DType::Float64 && lv.dim() == 1, "'{}': trainer.levels must be a float64 vector", path);
    levels->load_state(lv.to_vector<double>());
    int64_t saved_world = 1;
    for (const auto& [name, t] : s.rest)
      if (name == "trainer.world_size") saved_world = get_int64_1(t, name);
    ATEBM_CHECK(saved_world == world,
                "'{}' was written by a run of {} rank(s) and this run has {}: resume with the same number of "
                "ranks (the global batch and every rank's random stream depend on it)",
                path, saved_world, world);
    const Tensor& g = world == 1 ? find_tensor(s.rest, "trainer.generator", path)
                                 : find_tensor(s.rest, "trainer.rank_generators", path);
    ATEBM_CHECK(g.dtype() == DType::Int64 && g.numel() == 2 * world, "'{}': the generator state must be {} int64",
                path, 2 * world);
    const std::vector<int64_t> gv = g.to_vector<int64_t>();
    gen.set_state({static_cast<uint64_t>(gv[2 * rank]), static_cast<uint64_t>(gv[2 * rank + 1])});
    last_checkpoint = iteration;
  }

  // metrics.jsonl keeps exactly one line per iteration: on resume, lines after the checkpoint
  // (written by the interrupted run after its last checkpoint) are dropped.
  void open_metrics(bool resume) {
    const std::string path = (fs::path(dir) / "metrics.jsonl").string();
    std::string kept;
    if (resume && fs::exists(path)) {
      std::ifstream in(path);
      std::string line;
      while (std::getline(in, line)) {
        const json j = json::parse(line, nullptr, false);
        if (j.is_object() && j.contains("iter") && j["iter"].is_number_integer() && j["iter"].get<int64_t>() <= iteration)
          kept += line + "\n";
      }
    }
    write_file_atomic(path, kept, "metrics.jsonl");
    metrics.open(path, std::ios::app);
    ATEBM_CHECK(metrics.good(), "cannot open '{}' for appending", path);
  }

  // ---- one iteration ----

  // What a divergence leaves behind: nothing is written after it.
  std::string checkpoint_status() const {
    if (last_checkpoint < 0) return fmt::format("stopped before the first checkpoint, so '{}' holds none", dir);
    return fmt::format("stopped without writing, so the last checkpoint in '{}' (iteration {}) is untouched", dir,
                       last_checkpoint);
  }

  // One iteration; returns its metrics line (fields in a fixed, readable order).
  nlohmann::ordered_json step() {
    const auto t0 = Clock::now();
    const double lr = schedule.lr_at(iteration);
    optimizer->set_lr(lr);
    const int64_t k = levels->k();
    const ScoreFn f = [this](const Tensor& x) { return nn::energy_logit(*model, x); };

    data::Batch real_batch = data_loader->next();
    data::Batch p0_batch = p0_loader->next();
    const Tensor x0 = to(p0_batch.images, device);
    const PgdNorm norm = cfg.attack.norm == "linf" ? PgdNorm::Linf : PgdNorm::L2;
    // pgd(), through a captured CUDA graph when training on the GPU (the same values), with f at
    // the start (step 1 computes it anyway): the p0 batch's clean scores for the clean AUC.
    const auto attack = [&](GraphedPgd& loop, const Tensor& start, const PgdOptions& o) {
      return cfg.train.cuda_graph ? loop.run_scored(start, o, gen) : pgd_scored(f, start, o, params, gen);
    };
    PgdResult attacked{.x = x0};
    if (k > 0)
      attacked =
          attack(*attack_loop, x0, {.steps = k, .step_size = cfg.attack.step_size, .eps = cfg.attack.eps, .norm = norm});
    const Tensor& fake = attacked.x;
    Tensor real = to(real_batch.images, device);
    if (cfg.indist_attack.steps > 0)
      real = attack(*indist_loop, real,
                    {.steps = cfg.indist_attack.steps, .step_size = cfg.indist_attack.step_size,
                     .eps = cfg.indist_attack.eps, .descent = true})
                 .x;

    const int64_t every = cfg.loss.r1_interval;
    const bool r1_now = cfg.loss.r1_weight > 0 && iteration % every == 0;
    const double r1_weight = cfg.loss.r1_weight * static_cast<double>(every);
    // One rank with train.cuda_graph: the loss and its backward replayed from a CUDA graph (the
    // gradients are then already there; the weights are untouched until optimizer->step()).
    // Several ranks: eager, so that each bucket's all-reduce overlaps the backward.
    const bool graphed_loss = cfg.train.cuda_graph && world == 1;
    LossTerms t = graphed_loss ? loss_step->run(real, fake, r1_weight, r1_now)
                               : adversarial_loss(f, real, fake, r1_weight, r1_now);
    // The loss of the global batch: the mean of the ranks' shard means (every rank sees the same
    // value, so a divergence stops every rank at once).
    const double inv_world = 1.0 / static_cast<double>(world);
    const std::vector<double> terms =
        comm->allreduce_sum(std::vector<double>{t.loss.item(), t.bce.item(), t.r1.defined() ? t.r1.item() : 0.0});
    const double loss = terms[0] * inv_world, bce = terms[1] * inv_world, r1 = terms[2] * inv_world;
    ATEBM_CHECK(std::isfinite(loss), "training diverged at iteration {}: the loss is {} (bce {}, r1 {}); {}",
                iteration + 1, loss, bce, r1, checkpoint_status());
    if (!graphed_loss) {
      optimizer->zero_grad();
      // Each bucket's all-reduce starts while the rest of backward runs (nn/dist/grad_sync.h).
      if (cfg.train.overlap_allreduce) backward(t.loss, {}, {.on_leaf_grad = grad_sync->leaf_hook()});
      else backward(t.loss);
      grad_sync->finish();
    }
    optimizer->step();
    if (!weights_proven_finite_on_device())
      for (const auto& [name, p] : params)
        ATEBM_CHECK(all_finite(p), "training diverged at iteration {}: parameter {} holds NaN or Inf after the update; {}",
                    iteration + 1, name, checkpoint_status());

    // Metrics of this batch (no graph needed), over the global batch: logits of every rank, all
    // three from the weights before this update.
    NoGradGuard ng;
    const std::vector<double> lr_real = comm->allgather(values(t.logits_real));
    const std::vector<double> lr_fake = comm->allgather(values(t.logits_fake));
    const std::vector<double> lr_clean = k > 0 ? comm->allgather(values(attacked.first_scores)) : lr_fake;
    const double adv_auc = roc_auc(lr_real, lr_fake);
    const double clean_auc = roc_auc(lr_real, lr_clean);
    const double local_dist = k > 0 ? mean(l2_norm_per_sample(sub(fake, x0))).item() : 0.0;
    levels->record(adv_auc);
    ++iteration;
    // Rank 0's clock is the run's clock (max_seconds, logs), and a stop request on any rank
    // (Ctrl-C reaches them all under mpirun, but not necessarily in the same iteration) stops
    // every rank after this iteration.
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    const std::vector<double> shared = comm->allgather({local_dist, elapsed, g_stop_requested.load() ? 1.0 : 0.0});
    double dist = 0;
    for (int r = 0; r < world; ++r) {
      dist += shared[3 * r] * inv_world;
      stop_agreed = stop_agreed || shared[3 * r + 2] != 0;
    }
    seconds += shared[1];
    return nlohmann::ordered_json{{"iter", iteration},
            {"K", k},
            {"loss", loss},
            {"bce", bce},
            {"r1", t.r1.defined() ? nlohmann::ordered_json(r1) : nlohmann::ordered_json(nullptr)},
            {"adv_auc", adv_auc},
            {"clean_auc", clean_auc},
            {"auc_window", levels->window_mean()},
            {"l2_dist", dist},
            {"lambda_k", cfg.attack.step_size * static_cast<double>(k)},
            {"rt", fraction_positive(lr_real)},
            {"rt0", fraction_positive(lr_fake)},
            {"lr", lr},
            {"seconds", seconds}};
  }

  void show_progress(const nlohmann::ordered_json& m, int64_t start_iter, double start_seconds) {
    if (!opt.progress) return;
    const double rate = (iteration - start_iter) / std::max(1e-9, seconds - start_seconds);
    double eta = NAN;
    if (cfg.train.max_iters > 0) eta = (cfg.train.max_iters - iteration) / rate;
    if (cfg.train.max_seconds > 0) eta = std::isnan(eta) ? cfg.train.max_seconds - seconds
                                                         : std::min(eta, cfg.train.max_seconds - seconds);
    const std::string line = fmt::format("iter {} K {} loss {:.4f} adv_auc {:.3f} clean_auc {:.3f} rt {:.2f} rt0 {:.2f} | {:.2f} it/s ETA {}",
                                         iteration, m["K"].get<int64_t>(), m["loss"].get<double>(),
                                         m["adv_auc"].get<double>(), m["clean_auc"].get<double>(),
                                         m["rt"].get<double>(), m["rt0"].get<double>(), rate, format_duration(eta));
    if (tty)
      fmt::print(stderr, "\r{:<110}", line);
    else if (iteration % cfg.train.log_every == 0)
      fmt::print(stderr, "{}\n", line);
  }

  bool should_stop(std::string& reason) const {
    if (stop_agreed || (world == 1 && g_stop_requested.load())) reason = "stopped";
    else if (cfg.train.max_iters > 0 && iteration >= cfg.train.max_iters) reason = "max_iters";
    else if (cfg.train.max_seconds > 0 && seconds >= cfg.train.max_seconds) reason = "max_seconds";
    return !reason.empty();
  }

  TrainResult run() {
    TrainResult r;
    const int64_t start_iter = iteration;
    const double start_seconds = seconds;
    while (!should_stop(r.stop_reason)) {
      const nlohmann::ordered_json m = step();
      if (lead()) {
        metrics << m.dump() << '\n' << std::flush;  // readable while training (tail -f)
        show_progress(m, start_iter, start_seconds);
      }
      if (iteration % cfg.train.checkpoint_every == 0) checkpoint();
    }
    if (tty && opt.progress && lead()) fmt::print(stderr, "\n");
    if (last_checkpoint != iteration) checkpoint();
    r.iterations = iteration;
    r.k = levels->k();
    r.seconds = seconds;
    const nn::GradSyncStats& sync = grad_sync->stats();
    r.allreduce_seconds = sync.total_seconds;
    r.allreduce_hook_seconds = sync.hook_seconds;
    r.buckets_overlapped = sync.buckets_overlapped;
    r.buckets_total = sync.buckets * sync.calls;
    return r;
  }
};

Trainer::Trainer(TrainConfig cfg, std::string run_dir, bool resume, TrainerOptions opt)
    : impl_(std::make_unique<Impl>(std::move(cfg), std::move(run_dir), resume, opt)) {}
Trainer::~Trainer() = default;
TrainResult Trainer::run() { return impl_->run(); }
void Trainer::request_stop() { g_stop_requested.store(true); }

TrainConfig load_run_config(const std::string& run_dir) {
  const std::string path = (fs::path(run_dir) / "config.json").string();
  std::ifstream in(path);
  ATEBM_CHECK(in.good(), "cannot read '{}': is '{}' a training run folder?", path, run_dir);
  std::stringstream ss;
  ss << in.rdbuf();
  return train_config_from_json(nn::parse_json(ss.str(), path));
}

}  // namespace atebm::at_ebm
