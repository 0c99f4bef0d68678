#include "engine/autograd/node.h"

#include <atomic>

#include "engine/autograd/grad_mode.h"
#include "engine/factories.h"
#include "ops/arith.h"

namespace atebm {
namespace {
std::atomic<uint64_t> g_next_sequence_nr{0};
}

Node::Node(std::string name, std::vector<Edge> next_edges, std::vector<TensorMeta> input_meta)
    : name_(std::move(name)),
      next_edges_(std::move(next_edges)),
      input_meta_(std::move(input_meta)),
      sequence_nr_(g_next_sequence_nr.fetch_add(1)) {}

uint32_t Node::add_output(TensorMeta meta) {
  output_meta_.push_back(std::move(meta));
  return static_cast<uint32_t>(output_meta_.size() - 1);
}

Tensors Node::apply(Tensors&& grad_outputs) {
  ATEBM_CHECK(!released_,
              "{}: trying to backward through the graph a second time, but its saved tensors were already "
              "freed; pass retain_graph=true to the first grad()/backward() if you need to",
              name_);
  return backward(std::move(grad_outputs));
}

AccumulateGrad::AccumulateGrad(Tensor leaf)
    : Node("AccumulateGrad", {}, {TensorMeta::of(leaf)}), leaf_(std::move(leaf)) {
  add_output(TensorMeta::of(leaf_));
}

Tensors AccumulateGrad::backward(Tensors&& grads) {
  Tensor g = std::move(grads[0]);
  if (!GradMode::is_enabled()) {
    // .grad is updated in place by optimisers, so it must own contiguous memory: keep the
    // incoming tensor only if nothing else refers to it or its storage (an expanded view, the
    // user's grad_output or a saved tensor would be aliased), else store a copy.
    const bool exclusive = g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 && g.is_contiguous();
    g = exclusive ? detach(g) : copy_to(g, g.device(), g.dtype());
  }
  // With create_graph the new .grad keeps its graph (so it can be differentiated again).
  const Tensor old = leaf_.grad();
  leaf_.set_grad(old.defined() ? add(old, g) : g);
  return {};
}

const Tensor& SavedTensor::unpack() const {
  if (t_.defined()) {
    ATEBM_CHECK(t_.version() == version_,
                "a tensor of shape {} saved for backward was modified in place (version {} at save, {} now); "
                "the gradient would be wrong. Clone it before changing it, or change it after backward",
                shape_str(t_.shape()), version_, t_.version());
  }
  return t_;
}

bool any_requires_grad(std::initializer_list<Tensor> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

bool any_requires_grad(const Tensors& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined()) return {};
  TensorImpl* impl = t.impl();
  if (impl->grad_fn) return {impl->grad_fn, impl->output_nr};
  if (!impl->requires_grad) return {};
  std::shared_ptr<Node> acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t);
    impl->grad_accumulator = acc;
  }
  return {acc, 0};
}

std::shared_ptr<Node> record(std::string name, const Tensors& inputs, const Tensors& outputs,
                             FunctionNode::Fn backward) {
  std::vector<Edge> edges;
  std::vector<TensorMeta> metas;
  edges.reserve(inputs.size());
  metas.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    edges.push_back(gradient_edge(t));
    metas.push_back(t.defined() ? TensorMeta::of(t) : TensorMeta{});
  }
  auto node = std::make_shared<FunctionNode>(std::move(name), std::move(edges), std::move(metas), std::move(backward));
  for (const Tensor& out : outputs) {
    TensorImpl* impl = out.impl();
    impl->output_nr = node->add_output(TensorMeta::of(out));
    impl->grad_fn = node;
  }
  return node;
}

}  // namespace atebm
