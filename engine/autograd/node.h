#pragma once
// The autograd graph (PyTorch's Node/Edge model).
//
// A Node is the backward of one op call. It receives the gradients of the op's outputs
// (one per output, in order) and returns the gradients of the op's inputs (one per input, in
// order). `next_edges[i]` says where the gradient of input i goes: the producer Node of that
// input and which of its outputs the input was, or nowhere when the input needs no gradient.
// Leaves that require grad end in an AccumulateGrad node, which adds into `tensor.grad()`.
//
// Ownership runs one way: a tensor owns its grad_fn, a node owns its next nodes and the
// tensors it saved (its inputs, never its own outputs), so graphs are trees of shared_ptrs
// without cycles and disappear when the last output tensor goes.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace atebm {

struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;  // which output of fn (= which slot of fn's incoming gradients)
  bool valid() const { return fn != nullptr; }
};

/// What a gradient flowing along an edge must look like.
struct TensorMeta {
  Shape shape;
  DType dtype = DType::Float32;
  Device device;
  static TensorMeta of(const Tensor& t) { return {t.shape(), t.dtype(), t.device()}; }
};

class Node {
 public:
  Node(std::string name, std::vector<Edge> next_edges, std::vector<TensorMeta> input_meta);
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<Edge>& next_edges() const { return next_edges_; }
  /// Shapes of the forward inputs = shapes of the gradients this node returns.
  const std::vector<TensorMeta>& input_meta() const { return input_meta_; }
  /// Shapes of the forward outputs = shapes of the gradients this node receives.
  const std::vector<TensorMeta>& output_meta() const { return output_meta_; }
  uint32_t add_output(TensorMeta meta);
  /// Creation order; the engine runs ready nodes latest-first, which makes every backward
  /// pass (and so every gradient's rounding) deterministic.
  uint64_t sequence_nr() const { return sequence_nr_; }

  /// Runs the backward formula. Grads are defined (the engine fills zeros for outputs that got
  /// no gradient). Throws if the saved tensors were released by an earlier backward.
  Tensors apply(Tensors&& grad_outputs);
  /// Drops saved tensors (called after backward unless retain_graph).
  virtual void release_saved() { released_ = true; }
  bool released() const { return released_; }
  /// For AccumulateGrad only: the leaf it accumulates into.
  virtual const Tensor* leaf() const { return nullptr; }

 protected:
  virtual Tensors backward(Tensors&& grad_outputs) = 0;

 private:
  std::string name_;
  std::vector<Edge> next_edges_;
  std::vector<TensorMeta> input_meta_;
  std::vector<TensorMeta> output_meta_;
  uint64_t sequence_nr_;
  bool released_ = false;
};

/// A node whose backward is a lambda: the way every op in ops/ defines its gradient. The
/// lambda captures what it needs (SavedTensors, scalars, flags) and must use only
/// differentiable ops, so that with create_graph its own computation is recorded.
class FunctionNode final : public Node {
 public:
  using Fn = std::function<Tensors(const Tensors& grad_outputs)>;
  FunctionNode(std::string name, std::vector<Edge> next_edges, std::vector<TensorMeta> input_meta, Fn fn)
      : Node(std::move(name), std::move(next_edges), std::move(input_meta)), fn_(std::move(fn)) {}
  void release_saved() override {
    fn_ = nullptr;  // destroys the captured SavedTensors
    Node::release_saved();
  }

 protected:
  Tensors backward(Tensors&& grads) override { return fn_(grads); }

 private:
  Fn fn_;
};

/// The sink of a leaf that requires grad: adds the incoming gradient into leaf.grad().
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(Tensor leaf);
  const Tensor* leaf() const override { return &leaf_; }
  void release_saved() override {}  // lives as long as the leaf's graphs; nothing to free

 protected:
  Tensors backward(Tensors&& grads) override;

 private:
  Tensor leaf_;
};

/// A tensor saved for backward, with the storage version at save time. unpack() refuses a
/// tensor that was modified in place since (its values are no longer the forward's).
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t) : t_(t), version_(t.defined() ? t.version() : 0) {}
  const Tensor& unpack() const;

 private:
  Tensor t_;
  uint64_t version_ = 0;
};

// ---- recording history (used by differentiable ops) ----

/// True when grad mode is on and any input requires grad: only then is a node recorded.
bool any_requires_grad(std::initializer_list<Tensor> inputs);
bool any_requires_grad(const Tensors& inputs);
/// Where the gradient of `t` must go: its grad_fn, its leaf accumulator, or nowhere.
Edge gradient_edge(const Tensor& t);
/// Creates a FunctionNode for `inputs` and makes it the grad_fn of each of `outputs`.
/// Inputs that need no gradient get an invalid edge (the lambda may return undefined there).
std::shared_ptr<Node> record(std::string name, const Tensors& inputs, const Tensors& outputs,
                             FunctionNode::Fn backward);

}  // namespace atebm
