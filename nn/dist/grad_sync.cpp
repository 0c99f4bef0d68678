#include "nn/dist/grad_sync.h"

#include <chrono>

#include "engine/autograd/grad_mode.h"
#include "engine/error.h"
#include "engine/factories.h"
#include "engine/shape.h"
#include "ops/inplace.h"
#include "ops/ops.h"

namespace atebm::nn {
namespace {

// A contiguous view of `shape` at `offset` elements into the flat bucket.
Tensor slot_view(const Tensor& flat, const Shape& shape, int64_t offset) {
  return make_view(flat, shape, contiguous_strides(shape), offset);
}

}  // namespace

GradientAverager::GradientAverager(std::shared_ptr<Communicator> comm, const NamedTensors& params, GradSyncOptions opt)
    : comm_(std::move(comm)) {
  ATEBM_CHECK(comm_ != nullptr, "GradientAverager: no communicator");
  ATEBM_CHECK(opt.bucket_bytes > 0, "GradientAverager: bucket_bytes must be positive, got {}", opt.bucket_bytes);
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    const auto& [name, p] = *it;
    if (!p.requires_grad()) continue;
    ATEBM_CHECK(is_floating(p.dtype()), "GradientAverager: parameter {} is {}, expected float32 or float64", name,
                dtype_name(p.dtype()));
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.itemsize());
    const bool fits = !buckets_.empty() && buckets_.back().dtype == p.dtype() && buckets_.back().device == p.device() &&
                      (buckets_.back().numel * static_cast<int64_t>(p.itemsize()) + bytes <= opt.bucket_bytes);
    if (!fits) buckets_.push_back(Bucket{.dtype = p.dtype(), .device = p.device()});
    Bucket& b = buckets_.back();
    b.slots.push_back(Slot{name, p, b.numel});
    b.numel += p.numel();
    stats_.bytes += bytes;
  }
  stats_.buckets = static_cast<int64_t>(buckets_.size());
}

void GradientAverager::average() {
  if (comm_->size() == 1) return;
  const auto t0 = std::chrono::steady_clock::now();
  NoGradGuard no_grad;
  std::vector<std::unique_ptr<CollectiveRequest>> pending;
  pending.reserve(buckets_.size());
  for (Bucket& b : buckets_) {
    if (!b.flat.defined()) b.flat = empty({b.numel}, {.dtype = b.dtype, .device = b.device});
    for (const Slot& s : b.slots) {
      const Tensor view = slot_view(b.flat, s.param.shape(), s.offset);
      const Tensor g = s.param.grad();
      if (g.defined()) copy_(view, g);
      else zero_(view);
    }
    pending.push_back(comm_->allreduce_sum_async(b.flat));
  }
  const double inv = 1.0 / static_cast<double>(comm_->size());
  for (size_t i = 0; i < buckets_.size(); ++i) {
    pending[i]->wait();
    Bucket& b = buckets_[i];
    mul_(b.flat, inv);
    for (const Slot& s : b.slots) {
      const Tensor view = slot_view(b.flat, s.param.shape(), s.offset);
      Tensor g = s.param.grad();
      if (g.defined()) {
        copy_(g, view);
      } else {
        Tensor fresh = empty(s.param.shape(), {.dtype = b.dtype, .device = b.device});
        copy_(fresh, view);
        Tensor p = s.param;
        p.set_grad(fresh);
      }
    }
  }
  stats_.last_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stats_.total_seconds += stats_.last_seconds;
  ++stats_.calls;
}

std::vector<std::vector<std::string>> GradientAverager::bucket_layout() const {
  std::vector<std::vector<std::string>> out;
  for (const Bucket& b : buckets_) {
    out.emplace_back();
    for (const Slot& s : b.slots) out.back().push_back(s.name);
  }
  return out;
}

void broadcast_module(Communicator& comm, Module& m, int root) {
  if (comm.size() == 1) return;
  NoGradGuard no_grad;
  for (auto group : {m.named_parameters(), m.named_buffers()})
    for (auto& [name, t] : group) {
      ATEBM_CHECK(t.is_contiguous(), "broadcast_module: {} is not contiguous", name);
      comm.broadcast(t, root);
    }
}

}  // namespace atebm::nn
