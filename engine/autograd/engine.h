#pragma once
// Reverse-mode differentiation over the recorded graph.
//
//   Tensors g = grad({y}, {x});                          // dy/dx, like torch.autograd.grad
//   Tensors g = grad({y}, {x}, {}, {.create_graph = true});  // g has a graph: differentiate again
//   backward(loss);                                       // accumulates into leaves' .grad()
//
// The engine counts, for every node reachable from the outputs, how many edges lead into it,
// then runs nodes whose count dropped to zero (latest-created first: deterministic). Each
// backward formula runs with grad mode = create_graph: with create_graph it records a new graph
// made of ordinary ops (so any order of derivative works); without it nothing is recorded.
#include <functional>
#include <optional>

#include "engine/tensor.h"

namespace atebm {

struct GradOptions {
  /// Keep saved tensors after this pass (default: same as create_graph).
  std::optional<bool> retain_graph;
  /// Record the backward computation so its results can be differentiated again.
  bool create_graph = false;
  /// Return an undefined tensor for inputs not reached from the outputs instead of throwing.
  bool allow_unused = false;
  /// backward() only: called with each leaf right after this pass has added into its .grad().
  /// The engine sums every contribution to a leaf before it accumulates, so this is the moment
  /// the leaf's gradient of this pass is complete while the rest of backward still runs (the
  /// hook data-parallel training uses to start all-reducing it early, nn/dist/grad_sync.h).
  /// Leaves are visited in the engine's deterministic order; an exception from the hook ends the
  /// pass.
  std::function<void(const Tensor& leaf)> on_leaf_grad;
};

/// Gradients of sum_i <outputs[i], grad_outputs[i]> with respect to each of `inputs`.
/// grad_outputs may be empty when every output has one element (then it is 1).
Tensors grad(const Tensors& outputs, const Tensors& inputs, const Tensors& grad_outputs = {},
             GradOptions opts = {});

/// Accumulates d(output)/d(leaf) · grad_output into every leaf's .grad().
void backward(const Tensor& output, const Tensor& grad_output = {}, GradOptions opts = {});
void backward(const Tensors& outputs, const Tensors& grad_outputs, GradOptions opts = {});

}  // namespace atebm
