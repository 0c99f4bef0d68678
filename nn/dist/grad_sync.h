#pragma once
// Data-parallel gradient averaging: after every rank has run backward on its own shard of the
// global batch, average() replaces each parameter's gradient by the mean over ranks, so every
// rank takes the identical optimiser step and the weights stay identical without ever being
// sent. With equal shard sizes and a loss that is a mean over the shard, the mean of the ranks'
// gradients is the gradient of the loss over the whole global batch (what one process with the
// global batch computes, up to float summation order).
//
// Bucketing: gradients are packed into flat buckets of about bucket_bytes (one dtype and device
// per bucket), in reverse registration order — roughly the order backward finishes them, last
// layer first. Few large messages instead of one per parameter: latency is paid per message.
//
// Overlap with backward (what a training step uses):
//   backward(loss, {}, {.on_leaf_grad = averager.leaf_hook()});
//   averager.finish();
// The autograd engine calls the hook as soon as a parameter's gradient of this pass is complete;
// the hook copies it into its bucket, and a bucket whose parameters are all in starts its
// all-reduce right away (on GPUs: NCCL on its own stream, alongside the rest of backward; on
// CPUs: MPI_Iallreduce, advanced by polling from the hook). Buckets start strictly in index
// order, because every rank must issue the collectives in the same order. finish() packs what
// the hook never saw (a parameter without a gradient this step contributes zeros), starts the
// rest, waits for all, scales by 1/N and writes the means back into the gradients.
// average() is finish() alone: everything after backward, nothing overlapped.
//
// Every rank must hold the same parameters (same names, shapes, order): the buckets are laid out
// identically everywhere. A parameter whose gradient is undefined on this rank contributes zeros
// and receives the average like the others.
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nn/dist/communicator.h"
#include "nn/module.h"

namespace atebm::nn {

struct GradSyncOptions {
  int64_t bucket_bytes = 4 << 20;
};

struct GradSyncStats {
  int64_t buckets = 0;
  int64_t bytes = 0;             // gradient bytes all-reduced per step
  double last_seconds = 0;       // wall time of the last finish(): what backward did not hide
  double total_seconds = 0;      // of finish(), over all steps
  double hook_seconds = 0;       // inside the hook (packing, starting, polling), over all steps
  int64_t buckets_overlapped = 0;  // buckets started by the hook, i.e. during backward, over all steps
  int64_t calls = 0;             // steps
};

class GradientAverager {
 public:
  /// Only parameters that require grad take part. Throws for a parameter that is neither
  /// float32 nor float64.
  GradientAverager(std::shared_ptr<Communicator> comm, const NamedTensors& params, GradSyncOptions opt = {});

  /// Begins a step: the function to pass as GradOptions::on_leaf_grad to this step's single
  /// backward() call (it refers to this averager, which must outlive that call).
  std::function<void(const Tensor& leaf)> leaf_hook();
  /// Ends a step: each parameter's grad ← mean over ranks. With one rank: nothing at all.
  void finish();
  /// The same without the hook (nothing overlaps backward).
  void average() { finish(); }

  const GradSyncStats& stats() const { return stats_; }
  /// The parameter names of each bucket, in all-reduce order (for tests and logs).
  std::vector<std::vector<std::string>> bucket_layout() const;

 private:
  struct Slot {
    std::string name;
    Tensor param;
    int64_t offset = 0;   // elements into the bucket
    bool packed = false;  // this step's gradient is in the bucket
  };
  struct Bucket {
    std::vector<Slot> slots;
    int64_t numel = 0;
    DType dtype = DType::Float32;
    Device device;
    Tensor flat;  // allocated on first use, reused
    size_t packed = 0;
    std::unique_ptr<CollectiveRequest> request;  // started, not yet waited for
  };

  void on_leaf(const Tensor& leaf);
  void pack(Bucket& b, Slot& s);
  void start(Bucket& b);
  void reset_step();

  std::shared_ptr<Communicator> comm_;
  std::vector<Bucket> buckets_;
  std::unordered_map<const TensorImpl*, std::pair<size_t, size_t>> where_;  // param → (bucket, slot)
  size_t next_to_start_ = 0;
  GradSyncStats stats_;
};

/// Copies rank `root`'s parameters and buffers into every rank's module (a start from identical
/// weights even if the ranks built them differently).
void broadcast_module(Communicator& comm, Module& m, int root = 0);

}  // namespace atebm::nn
