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

using Seconds = std::chrono::duration<double>;

GradientAverager::GradientAverager(std::shared_ptr<Communicator> comm, const NamedTensors& params, GradSyncOptions opt)
    : comm_(std::move(comm)) {
  ATEBM_CHECK(comm_ != nullptr, "GradientAverager: no communicator");
  ATEBM_CHECK(opt.bucket_bytes > 0, "GradientAverager: bucket_bytes must be positive, got {}", opt.bucket_bytes);
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    const auto& [name, p] = *it;
    if (!p.requires_grad()) continue;
    ATEBM_CHECK(is_floating(p.dtype()), "GradientAverager: parameter {} is {}, expected float32 or float64", name,
                dtype_name(p.dtype()));
    ATEBM_CHECK(!where_.count(p.impl()), "GradientAverager: parameter {} is listed twice", name);
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.itemsize());
    const bool fits = !buckets_.empty() && buckets_.back().dtype == p.dtype() && buckets_.back().device == p.device() &&
                      (buckets_.back().numel * static_cast<int64_t>(p.itemsize()) + bytes <= opt.bucket_bytes);
    if (!fits) buckets_.push_back(Bucket{.dtype = p.dtype(), .device = p.device()});
    Bucket& b = buckets_.back();
    where_[p.impl()] = {buckets_.size() - 1, b.slots.size()};
    b.slots.push_back(Slot{.name = name, .param = p, .offset = b.numel});
    b.numel += p.numel();
    stats_.bytes += bytes;
  }
  stats_.buckets = static_cast<int64_t>(buckets_.size());
}

std::function<void(const Tensor&)> GradientAverager::leaf_hook() {
  ATEBM_CHECK(next_to_start_ == 0,
              "GradientAverager: a new step began while {} bucket(s) of the last one were still in flight; call "
              "finish() after every backward",
              next_to_start_);
  reset_step();
  if (comm_->size() == 1) return {};
  return [this](const Tensor& leaf) { on_leaf(leaf); };
}

void GradientAverager::on_leaf(const Tensor& leaf) {
  const auto it = where_.find(leaf.impl());
  if (it == where_.end()) return;  // a leaf that is not a synchronised parameter (an input image)
  const auto t0 = std::chrono::steady_clock::now();
  NoGradGuard no_grad;
  Bucket& b = buckets_[it->second.first];
  Slot& s = b.slots[it->second.second];
  ATEBM_CHECK(!s.packed,
              "GradientAverager: the gradient of {} was completed twice in one step; with leaf_hook(), run one "
              "backward per step and then finish()",
              s.name);
  pack(b, s);
  // Start every complete bucket whose predecessors have started (the same order on all ranks).
  while (next_to_start_ < buckets_.size() && buckets_[next_to_start_].packed == buckets_[next_to_start_].slots.size()) {
    start(buckets_[next_to_start_++]);
    ++stats_.buckets_overlapped;
  }
  for (size_t i = 0; i < next_to_start_; ++i)
    if (buckets_[i].request) buckets_[i].request->test();
  stats_.hook_seconds += Seconds(std::chrono::steady_clock::now() - t0).count();
}

void GradientAverager::pack(Bucket& b, Slot& s) {
  if (!b.flat.defined()) b.flat = empty({b.numel}, {.dtype = b.dtype, .device = b.device});
  const Tensor view = slot_view(b.flat, s.param.shape(), s.offset);
  const Tensor g = s.param.grad();
  if (g.defined()) copy_(view, g);
  else zero_(view);
  s.packed = true;
  ++b.packed;
}

void GradientAverager::start(Bucket& b) { b.request = comm_->allreduce_sum_async(b.flat); }

void GradientAverager::finish() {
  if (comm_->size() == 1) return;
  const auto t0 = std::chrono::steady_clock::now();
  NoGradGuard no_grad;
  for (; next_to_start_ < buckets_.size(); ++next_to_start_) {
    Bucket& b = buckets_[next_to_start_];
    for (Slot& s : b.slots)
      if (!s.packed) pack(b, s);
    start(b);
  }
  const double inv = 1.0 / static_cast<double>(comm_->size());
  for (Bucket& b : buckets_) {
    b.request->wait();
    b.request.reset();
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
  reset_step();
  stats_.last_seconds = Seconds(std::chrono::steady_clock::now() - t0).count();
  stats_.total_seconds += stats_.last_seconds;
  ++stats_.calls;
}

void GradientAverager::reset_step() {
  next_to_start_ = 0;
  for (Bucket& b : buckets_) {
    b.packed = 0;
    for (Slot& s : b.slots) s.packed = false;
  }
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
