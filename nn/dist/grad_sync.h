#pragma once
// Data-parallel gradient averaging: after every rank has run backward on its own shard of the
// global batch, average() replaces each parameter's gradient by the mean over ranks, so every
// rank takes the identical optimiser step and the weights stay identical without ever being
// sent. With equal shard sizes and a loss that is a mean over the shard, the mean of the ranks'
// gradients is the gradient of the loss over the whole global batch (what one process with the
// global batch computes, up to float summation order).
//
// Bucketing: gradients are packed into flat buckets of about bucket_bytes (one dtype and device
// per bucket), in reverse registration order — the order backward produces them, last layer
// first — and each bucket's all-reduce starts as soon as it is packed, so communicating one
// bucket overlaps packing the next; then every bucket is waited for, scaled by 1/N and unpacked.
// Few large messages instead of one per parameter: latency is paid per message. (The all-reduce
// does not yet overlap backward itself: that needs a hook when a leaf's gradient is final, which
// the autograd engine does not offer.)
//
// Every rank must hold the same parameters (same names, shapes, order): the buckets are laid out
// identically everywhere. A parameter whose gradient is undefined on this rank contributes zeros
// and receives the average like the others.
#include <cstdint>
#include <memory>
#include <vector>

#include "nn/dist/communicator.h"
#include "nn/module.h"

namespace atebm::nn {

struct GradSyncOptions {
  int64_t bucket_bytes = 4 << 20;
};

struct GradSyncStats {
  int64_t buckets = 0;
  int64_t bytes = 0;           // gradient bytes all-reduced per call
  double last_seconds = 0;     // wall time of the last average(): pack + all-reduce + unpack
  double total_seconds = 0;    // over all calls
  int64_t calls = 0;
};

class GradientAverager {
 public:
  /// Only parameters that require grad take part. Throws for a parameter that is neither
  /// float32 nor float64.
  GradientAverager(std::shared_ptr<Communicator> comm, const NamedTensors& params, GradSyncOptions opt = {});

  /// Each parameter's grad ← mean over ranks. With one rank: nothing at all.
  void average();

  const GradSyncStats& stats() const { return stats_; }
  /// The parameter names of each bucket, in all-reduce order (for tests and logs).
  std::vector<std::vector<std::string>> bucket_layout() const;

 private:
  struct Slot {
    std::string name;
    Tensor param;
    int64_t offset = 0;  // elements into the bucket
  };
  struct Bucket {
    std::vector<Slot> slots;
    int64_t numel = 0;
    DType dtype = DType::Float32;
    Device device;
    Tensor flat;  // allocated on first use, reused
  };

  std::shared_ptr<Communicator> comm_;
  std::vector<Bucket> buckets_;
  GradSyncStats stats_;
};

/// Copies rank `root`'s parameters and buffers into every rank's module (a start from identical
/// weights even if the ranks built them differently).
void broadcast_module(Communicator& comm, Module& m, int root = 0);

}  // namespace atebm::nn
