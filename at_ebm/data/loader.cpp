#include "at_ebm/data/loader.h"

#include <cstring>

#include "at_ebm/data/random_draw.h"
#include "engine/error.h"
#include "engine/factories.h"
#include "engine/pinned.h"

namespace atebm::data {

Loader::Loader(DatasetPtr dataset, LoaderOptions options) : dataset_(std::move(dataset)), opt_(std::move(options)) {
  ATEBM_CHECK(dataset_ != nullptr, "Loader: no dataset");
  ATEBM_CHECK(opt_.batch_size >= 1, "Loader({}): batch_size must be >= 1, got {}", dataset_->name(), opt_.batch_size);
  ATEBM_CHECK(opt_.num_workers >= 0 && opt_.prefetch >= 1, "Loader({}): need num_workers >= 0 and prefetch >= 1",
              dataset_->name());
  n_ = dataset_->size();
  batches_per_epoch_ = opt_.drop_last ? n_ / opt_.batch_size : (n_ + opt_.batch_size - 1) / opt_.batch_size;
  ATEBM_CHECK(batches_per_epoch_ >= 1, "Loader({}): {} images are fewer than one batch of {} (drop_last)",
              dataset_->name(), n_, opt_.batch_size);
  ATEBM_CHECK(opt_.shard_count >= 1 && opt_.shard_index >= 0 && opt_.shard_index < opt_.shard_count,
              "Loader({}): shard_index {} is outside [0, shard_count = {})", dataset_->name(), opt_.shard_index,
              opt_.shard_count);
  if (opt_.shard_count > 1)
    ATEBM_CHECK(opt_.drop_last && opt_.batch_size % opt_.shard_count == 0,
                "Loader({}): sharding needs drop_last and a batch_size ({}) divisible by shard_count ({})",
                dataset_->name(), opt_.batch_size, opt_.shard_count);
  if (opt_.pin_memory) check_pinned_memory_available(fmt::format("Loader({}): pin_memory", dataset_->name()));
  state_.seed = opt_.seed;
  start_workers();
}

Loader::~Loader() { stop_workers(); }

void Loader::start_workers() {
  stop_ = false;
  for (int i = 0; i < opt_.num_workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

void Loader::stop_workers() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

std::vector<int64_t> Loader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(n_));
  if (!opt_.shuffle) {
    for (int64_t i = 0; i < n_; ++i) order[static_cast<size_t>(i)] = i;
    return order;
  }
  // randperm uses n blocks, so the epochs' streams are disjoint stretches of Generator(seed).
  const uint64_t seed = [&] {
    std::lock_guard<std::mutex> lk(mu_);
    return state_.seed;
  }();
  Generator g(seed);
  g.set_state({seed, static_cast<uint64_t>(epoch) * static_cast<uint64_t>(n_)});
  const Tensor p = randperm(n_, &g);
  std::memcpy(order.data(), p.data<int64_t>(), order.size() * sizeof(int64_t));
  return order;
}

void Loader::advance(int64_t& epoch, int64_t& position) const {
  position += opt_.batch_size;
  if (position >= batches_per_epoch_ * opt_.batch_size || position >= n_) {
    ++epoch;
    position = 0;
  }
}

Loader::Task Loader::take_task_locked() {
  Task t;
  t.seq = next_seq_++;
  t.generation = generation_;
  t.seed = state_.seed;
  t.epoch = cursor_epoch_;
  t.position = cursor_position_;
  t.count = std::min(opt_.batch_size, n_ - t.position);
  if (opt_.shuffle) {
    if (order_epoch_ != t.epoch) {
      // Computed under the lock, once per epoch; seed read directly (the lock is held).
      Generator g(state_.seed);
      g.set_state({state_.seed, static_cast<uint64_t>(t.epoch) * static_cast<uint64_t>(n_)});
      const Tensor p = randperm(n_, &g);
      const int64_t* d = p.data<int64_t>();
      order_ = std::make_shared<const std::vector<int64_t>>(d, d + n_);
      order_epoch_ = t.epoch;
    }
    t.order = order_;
  }
  advance(cursor_epoch_, cursor_position_);
  return t;
}

Loader::Result Loader::build(const Task& t) const {
  Result r;
  try {
    const ImageShape s = dataset_->shape();
    const int64_t per = s.numel();
    // Fresh tensors for every batch (never a recycled buffer): an upload of an earlier batch may
    // still be reading its pinned memory (engine/pinned.h).
    // This shard's rows of the batch: positions first .. first + rows of the epoch.
    const int64_t rows = t.count / opt_.shard_count;
    const int64_t first = t.position + opt_.shard_index * rows;
    Tensor images = empty({rows, s.c, s.h, s.w}, {.pinned = opt_.pin_memory});
    Tensor labels = empty({rows}, {.dtype = DType::Int64, .pinned = opt_.pin_memory});
    float* img = images.data<float>();
    int64_t* lab = labels.data<int64_t>();
    std::vector<float> scratch(opt_.augment.any() ? static_cast<size_t>(per) : 0);
    for (int64_t b = 0; b < rows; ++b) {
      const int64_t k = first + b;
      const int64_t idx = t.order ? (*t.order)[static_cast<size_t>(k)] : k;
      float* out = img + b * per;
      lab[b] = dataset_->get_into(idx, out);
      if (opt_.augment.any()) {
        Generator g = sample_generator(t.seed, static_cast<uint64_t>(t.epoch), static_cast<uint64_t>(k));
        apply_augment(opt_.augment, out, scratch.data(), s, g);
      }
    }
    r.batch.images = images;
    r.batch.labels = labels;
    r.batch.epoch = t.epoch;
    r.batch.position = t.position;
    r.batch.last_in_epoch = t.position + opt_.batch_size >= batches_per_epoch_ * opt_.batch_size ||
                            t.position + opt_.batch_size >= n_;
  } catch (...) {
    r.error = std::current_exception();
  }
  return r;
}

void Loader::worker_loop() {
  for (;;) {
    Task t;
    {
      std::unique_lock<std::mutex> lk(mu_);
      work_cv_.wait(lk, [&] { return stop_ || next_seq_ < consumed_seq_ + static_cast<uint64_t>(opt_.prefetch); });
      if (stop_) return;
      t = take_task_locked();
    }
    Result r = build(t);
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (t.generation != generation_) continue;  // a load_state() made this batch obsolete
      done_[t.seq] = std::move(r);
    }
    done_cv_.notify_all();
  }
}

Batch Loader::next() {
  Result r;
  if (workers_.empty()) {
    Task t;
    {
      std::lock_guard<std::mutex> lk(mu_);
      t = take_task_locked();
      consumed_seq_ = next_seq_;
    }
    r = build(t);
    if (r.error) {
      // Stay at this batch: the next call tries it again (and fails again) instead of skipping it.
      std::lock_guard<std::mutex> lk(mu_);
      cursor_epoch_ = state_.epoch;
      cursor_position_ = state_.position;
      std::rethrow_exception(r.error);
    }
  } else {
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return done_.count(consumed_seq_) > 0; });
    auto it = done_.find(consumed_seq_);
    // A failed batch stays in place, so every later call reports the same error.
    if (it->second.error) std::rethrow_exception(it->second.error);
    r = std::move(it->second);
    done_.erase(it);
    ++consumed_seq_;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    advance(state_.epoch, state_.position);
  }
  work_cv_.notify_all();
  return std::move(r.batch);
}

LoaderState Loader::state() const {
  std::lock_guard<std::mutex> lk(mu_);
  return state_;
}

void Loader::load_state(const LoaderState& s) {
  ATEBM_CHECK(s.epoch >= 0 && s.position >= 0 && s.position % opt_.batch_size == 0 &&
                  s.position < batches_per_epoch_ * opt_.batch_size,
              "Loader({}): state (epoch {}, position {}) is not a batch boundary for batch size {} and {} batches per epoch",
              dataset_->name(), s.epoch, s.position, opt_.batch_size, batches_per_epoch_);
  {
    std::lock_guard<std::mutex> lk(mu_);
    ++generation_;
    done_.clear();
    state_ = s;
    cursor_epoch_ = s.epoch;
    cursor_position_ = s.position;
    next_seq_ = consumed_seq_ = 0;
    order_epoch_ = -1;  // the seed may have changed
    order_.reset();
  }
  work_cv_.notify_all();
}

std::vector<std::pair<std::string, Tensor>> Loader::state_tensors(const std::string& prefix) const {
  const LoaderState s = state();
  auto one = [](int64_t v) { return from_vector<int64_t>({v}, {1}, {.dtype = DType::Int64}); };
  return {{prefix + "epoch", one(s.epoch)},
          {prefix + "position", one(s.position)},
          {prefix + "seed", one(static_cast<int64_t>(s.seed))}};
}

void Loader::load_state_tensors(const std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& prefix) {
  auto get = [&](const std::string& key) -> int64_t {
    for (const auto& [k, t] : tensors)
      if (k == prefix + key) {
        ATEBM_CHECK(t.dtype() == DType::Int64 && t.numel() == 1, "Loader: state tensor '{}' must be one int64, got {} {}",
                    k, dtype_name(t.dtype()), ::atebm::shape_str(t.shape()));
        return copy_to(t, Device::cpu(), DType::Int64).data<int64_t>()[0];
      }
    ATEBM_FAIL("Loader({}): state tensor '{}' is missing", dataset_->name(), prefix + key);
  };
  LoaderState s;
  s.epoch = get("epoch");
  s.position = get("position");
  s.seed = static_cast<uint64_t>(get("seed"));
  load_state(s);
}

}  // namespace atebm::data
