#include "engine/autograd/engine.h"

#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/factories.h"
#include "ops/arith.h"

namespace atebm {
namespace {

struct NodeState {
  int dependencies = 0;   // edges into this node from reachable nodes not yet run
  bool execute = false;   // run its backward formula (vs. only pass through)
  Tensors buffer;         // incoming gradients, one slot per forward output
};

struct Capture {
  Node* node;
  uint32_t slot;
};

class GraphTask {
 public:
  GraphTask(const Tensors& outputs, const Tensors& grad_outputs, bool accumulate, const char* api)
      : accumulate_(accumulate), api_(api) {
    roots_.reserve(outputs.size());
    for (size_t i = 0; i < outputs.size(); ++i) {
      const Tensor& y = outputs[i];
      ATEBM_CHECK(y.defined(), "{}: output {} is undefined", api, i);
      ATEBM_CHECK(y.requires_grad(),
                  "{}: output {} (shape {}) does not require grad and has no grad_fn; nothing to differentiate",
                  api, i, shape_str(y.shape()));
      Tensor g = i < grad_outputs.size() ? grad_outputs[i] : Tensor();
      if (!g.defined()) {
        ATEBM_CHECK(y.numel() == 1,
                    "{}: grad_outputs[{}] can be implied only for an output with one element, got shape {}", api,
                    i, shape_str(y.shape()));
        g = ones_like(y);
      }
      ATEBM_CHECK(g.shape() == y.shape() && g.dtype() == y.dtype() && g.device() == y.device(),
                  "{}: grad_outputs[{}] is {} {} {}, expected the output's {} {} {}", api, i, shape_str(g.shape()),
                  g.dtype(), g.device(), shape_str(y.shape()), y.dtype(), y.device());
      roots_.push_back({gradient_edge(y), g});
    }
  }

  /// Marks (node, slot) of each input as a capture point; returns one index per input.
  void set_captures(const Tensors& inputs) {
    for (size_t j = 0; j < inputs.size(); ++j) {
      const Tensor& x = inputs[j];
      ATEBM_CHECK(x.defined(), "{}: input {} is undefined", api_, j);
      ATEBM_CHECK(x.requires_grad(),
                  "{}: input {} (shape {}) does not require grad; mark it with set_requires_grad() before "
                  "computing the outputs",
                  api_, j, shape_str(x.shape()));
      const Edge e = gradient_edge(x);
      captures_.push_back({e.fn.get(), e.input_nr});
      capture_nodes_.insert(e.fn.get());
      keep_alive_.push_back(e.fn);
    }
  }

  Tensors run() {
    discover();
    // Seed the root buffers.
    for (const auto& [edge, g] : roots_) accumulate_into(edge, g);
    std::priority_queue<std::pair<uint64_t, Node*>> ready;
    for (auto& [node, st] : state_)
      if (st.dependencies == 0) ready.push({node->sequence_nr(), node});

    std::vector<Tensor> captured(captures_.size());
    while (!ready.empty()) {
      Node* node = ready.top().second;
      ready.pop();
      NodeState& st = state_.at(node);
      for (size_t j = 0; j < captures_.size(); ++j)
        if (captures_[j].node == node) captured[j] = st.buffer[captures_[j].slot];

      Tensors input_grads;
      if (st.execute) {
        input_grads = run_node(node, std::move(st.buffer));
        if (on_leaf_grad_ && node->leaf() != nullptr) on_leaf_grad_(*node->leaf());
      }
      st.buffer.clear();

      const auto& edges = node->next_edges();
      for (size_t i = 0; i < edges.size(); ++i) {
        if (!edges[i].valid()) continue;
        if (i < input_grads.size() && input_grads[i].defined()) accumulate_into(edges[i], input_grads[i]);
        NodeState& next = state_.at(edges[i].fn.get());
        if (--next.dependencies == 0) ready.push({edges[i].fn->sequence_nr(), edges[i].fn.get()});
      }
    }
    return captured;
  }

 private:
  // DFS over reachable nodes: count incoming edges; decide which nodes must run.
  void discover() {
    std::vector<Node*> order;  // post-order
    std::vector<std::pair<Node*, size_t>> stack;
    auto visit = [&](Node* n) {
      auto [it, fresh] = state_.try_emplace(n);
      if (fresh) {
        it->second.buffer.resize(n->output_meta().size());
        stack.push_back({n, 0});
      }
    };
    for (const auto& r : roots_) visit(r.first.fn.get());
    while (!stack.empty()) {
      auto& [n, i] = stack.back();
      const auto& edges = n->next_edges();
      if (i < edges.size()) {
        const Edge& e = edges[i++];
        if (!e.valid()) continue;
        Node* child = e.fn.get();
        visit(child);
        state_.at(child).dependencies += 1;
        continue;
      }
      order.push_back(n);
      stack.pop_back();
    }
    // Post-order: children before parents, so `execute` propagates upward.
    for (Node* n : order) {
      NodeState& st = state_.at(n);
      if (accumulate_) {
        st.execute = true;
        continue;
      }
      if (n->leaf() != nullptr) continue;  // grad(): leaves are captured, never accumulated into
      for (const Edge& e : n->next_edges()) {
        if (!e.valid()) continue;
        Node* c = e.fn.get();
        if (state_.at(c).execute || capture_nodes_.count(c)) {
          st.execute = true;
          break;
        }
      }
    }
  }

  void accumulate_into(const Edge& e, const Tensor& g) {
    Tensor& slot = state_.at(e.fn.get()).buffer.at(e.input_nr);
    slot = slot.defined() ? add(slot, g) : g;
  }

  Tensors run_node(Node* node, Tensors&& grads) {
    const auto& out_meta = node->output_meta();
    for (size_t i = 0; i < grads.size(); ++i)
      if (!grads[i].defined())
        grads[i] = zeros(out_meta[i].shape, {.dtype = out_meta[i].dtype, .device = out_meta[i].device});
    Tensors result = node->apply(std::move(grads));
    if (!retain_graph_) node->release_saved();
    const auto& in_meta = node->input_meta();
    for (size_t i = 0; i < result.size() && i < in_meta.size(); ++i) {
      if (!result[i].defined() || !node->next_edges()[i].valid()) continue;
      ATEBM_CHECK(result[i].shape() == in_meta[i].shape,
                  "{} backward returned a gradient of shape {} for input {} of shape {} (a bug in that op)",
                  node->name(), shape_str(result[i].shape()), i, shape_str(in_meta[i].shape));
    }
    return result;
  }

 public:
  bool retain_graph_ = false;
  std::function<void(const Tensor&)> on_leaf_grad_;

 private:
  bool accumulate_;
  const char* api_;
  std::vector<std::pair<Edge, Tensor>> roots_;
  std::vector<Capture> captures_;
  std::unordered_set<Node*> capture_nodes_;
  std::vector<std::shared_ptr<Node>> keep_alive_;
  std::unordered_map<Node*, NodeState> state_;
};

}  // namespace

Tensors grad(const Tensors& outputs, const Tensors& inputs, const Tensors& grad_outputs, GradOptions opts) {
  ATEBM_CHECK(!outputs.empty(), "grad: no outputs given");
  ATEBM_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(),
              "grad: {} grad_outputs for {} outputs", grad_outputs.size(), outputs.size());
  ATEBM_CHECK(!opts.on_leaf_grad, "grad: on_leaf_grad applies to backward() only (grad() accumulates into no leaf)");
  GraphTask task(outputs, grad_outputs, /*accumulate=*/false, "grad");
  task.set_captures(inputs);
  task.retain_graph_ = opts.retain_graph.value_or(opts.create_graph);
  Tensors result;
  {
    GradModeGuard mode(opts.create_graph);
    result = task.run();
  }
  for (size_t j = 0; j < result.size(); ++j) {
    ATEBM_CHECK(result[j].defined() || opts.allow_unused,
                "grad: input {} (shape {}) was not used to compute the outputs; pass allow_unused=true to get "
                "an undefined gradient instead",
                j, shape_str(inputs[j].shape()));
  }
  return result;
}

void backward(const Tensors& outputs, const Tensors& grad_outputs, GradOptions opts) {
  ATEBM_CHECK(!outputs.empty(), "backward: no outputs given");
  ATEBM_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(),
              "backward: {} grad_outputs for {} outputs", grad_outputs.size(), outputs.size());
  GraphTask task(outputs, grad_outputs, /*accumulate=*/true, "backward");
  task.retain_graph_ = opts.retain_graph.value_or(opts.create_graph);
  task.on_leaf_grad_ = std::move(opts.on_leaf_grad);
  GradModeGuard mode(opts.create_graph);
  task.run();
}

void backward(const Tensor& output, const Tensor& grad_output, GradOptions opts) {
  backward(Tensors{output}, grad_output.defined() ? Tensors{grad_output} : Tensors{}, opts);
}

}  // namespace atebm
