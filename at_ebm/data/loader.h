#pragma once
// Loader: batches of a dataset as [B, C, H, W] float32 tensors, shuffled per epoch, augmented,
// built on background threads, and resumable to the exact batch.
//
// The batch sequence is a pure function of (dataset, options, seed):
//   epoch e visits the samples in order π_e = randperm(n) drawn from Generator(seed) at offset
//   e·n (the identity without shuffle); batch j of epoch e holds positions [j·B, (j+1)·B) of π_e
//   (the last one shorter unless drop_last); sample k of epoch e is augmented with
//   sample_generator(seed, e, k) (random_draw.h).
// Worker threads only decide *when* a batch is built, never what is in it, and the consumer
// receives batches in sequence order. So a loader restored from state() continues with the
// bit-identical batches an uninterrupted one would have produced.
//
// next() cycles through epochs endlessly (the p0 stream); Batch::last_in_epoch marks the end of
// an epoch for epoch-based loops.
//
// pin_memory: the workers build each batch straight into page-locked memory (engine/pinned.h),
// so uploading it with to(images, Device::cuda()) is an asynchronous DMA copy. It changes where
// batches live, never what they hold.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "at_ebm/data/augment.h"
#include "at_ebm/data/dataset.h"
#include "engine/tensor.h"

namespace atebm::data {

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  bool drop_last = true;
  uint64_t seed = 0;
  Augment augment;
  int num_workers = 2;  // background threads; 0 builds each batch on the calling thread
  int prefetch = 4;     // at most this many batches built ahead of the consumer
  bool pin_memory = false;  // batches in pinned host memory (needs the CUDA backend and a GPU)
  // Data parallelism: of every batch of batch_size (the GLOBAL batch), build and return only
  // rows [shard_index·b, (shard_index+1)·b) with b = batch_size / shard_count. Every rank's loader
  // has the same options and seed apart from shard_index, so the shards are disjoint and together
  // form exactly the batch one unsharded loader returns (same samples, same augmentation draws);
  // state() is the same on every rank. Needs drop_last and shard_count dividing batch_size.
  int64_t shard_count = 1;
  int64_t shard_index = 0;
};

/// Where a loader stands: the next batch next() returns starts at `position` of epoch `epoch`.
struct LoaderState {
  uint64_t seed = 0;
  int64_t epoch = 0;
  int64_t position = 0;  // samples of the epoch already handed out (a multiple of batch_size)
  bool operator==(const LoaderState&) const = default;
};

struct Batch {
  Tensor images;  // [B, C, H, W] float32 on the CPU, values in [0, 1]; pinned with pin_memory
                  // (B = batch_size / shard_count rows: this shard's part of the batch)
  Tensor labels;  // [B] int64; -1 where the dataset has no labels; pinned with pin_memory
  int64_t epoch = 0;
  int64_t position = 0;  // position of its first sample in the epoch
  bool last_in_epoch = false;
};

class Loader {
 public:
  /// Throws atebm::Error when the options are invalid, with drop_last the dataset holds fewer
  /// images than one batch, or pin_memory is asked for without the CUDA backend and a GPU.
  Loader(DatasetPtr dataset, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  /// The next batch, moving on to the next epoch after the last. Rethrows (naming the dataset,
  /// index and problem) when a sample of that batch could not be loaded.
  Batch next();

  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  const DatasetPtr& dataset() const { return dataset_; }
  const LoaderOptions& options() const { return opt_; }

  LoaderState state() const;
  /// Continues from `s` (its seed replaces the options' seed). Throws when the position is not
  /// a batch boundary of this loader.
  void load_state(const LoaderState& s);

  /// The state as int64 tensors of shape [1], named PREFIX + "seed" / "epoch" / "position", for
  /// checkpoints (the seed's 64 bits stored as int64).
  std::vector<std::pair<std::string, Tensor>> state_tensors(const std::string& prefix = "loader.") const;
  /// Restores from tensors named as above (others are ignored); throws naming a missing one.
  void load_state_tensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                          const std::string& prefix = "loader.");

  /// Sample indices of epoch e, in visiting order.
  std::vector<int64_t> epoch_order(int64_t epoch) const;

 private:
  struct Task {
    uint64_t seq = 0, generation = 0, seed = 0;
    int64_t epoch = 0, position = 0, count = 0;
    std::shared_ptr<const std::vector<int64_t>> order;  // null: identity
  };
  struct Result {
    Batch batch;
    std::exception_ptr error;
  };

  Task take_task_locked();
  Result build(const Task& t) const;
  void worker_loop();
  void start_workers();
  void stop_workers();
  void advance(int64_t& epoch, int64_t& position) const;

  DatasetPtr dataset_;
  LoaderOptions opt_;
  int64_t n_ = 0, batches_per_epoch_ = 0;

  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  bool stop_ = false;
  uint64_t generation_ = 0;
  LoaderState state_;                 // what next() returns next
  int64_t cursor_epoch_ = 0, cursor_position_ = 0;  // the next batch to hand to a worker
  uint64_t next_seq_ = 0, consumed_seq_ = 0;
  std::map<uint64_t, Result> done_;
  int64_t order_epoch_ = -1;          // cache of the cursor epoch's permutation
  std::shared_ptr<const std::vector<int64_t>> order_;
  std::vector<std::thread> workers_;
};

}  // namespace atebm::data
