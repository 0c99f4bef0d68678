#include "engine/autograd/dot.h"

#include <deque>
#include <unordered_map>

#include "engine/autograd/node.h"

namespace atebm {
namespace {

// Quotes and backslashes would end or corrupt a DOT string; newlines become DOT's "\n".
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string join_lines(std::initializer_list<std::string> lines) {
  std::string out;
  for (const std::string& l : lines) out += (out.empty() ? "" : "\\n") + escape(l);
  return out;
}

std::string node_label(const Node& n) {
  if (const Tensor* leaf = n.leaf()) return join_lines({"leaf", shape_str(leaf->shape()), "requires_grad"});
  std::string shapes;
  for (const TensorMeta& m : n.output_meta()) shapes += (shapes.empty() ? "" : ", ") + shape_str(m.shape);
  return join_lines({n.name(), shapes});
}

}  // namespace

std::string to_dot(const std::vector<std::pair<std::string, Tensor>>& roots) {
  std::string nodes, edges;
  int next_id = 0;
  std::unordered_map<const Node*, std::string> ids;  // each node is drawn once, however often reached
  std::deque<const Node*> queue;                     // breadth-first: ids follow distance from the roots

  // The id of `n`, declaring and queueing it on first sight.
  auto visit = [&](const Node* n) -> const std::string& {
    auto [it, fresh] = ids.try_emplace(n, fmt::format("n{}", next_id));
    if (fresh) {
      ++next_id;
      const bool leaf = n->leaf() != nullptr;
      nodes += fmt::format("  {} [label=\"{}\", {}];\n", it->second, node_label(*n),
                           leaf ? "shape=ellipse, style=filled, fillcolor=lightblue" : "shape=box");
      queue.push_back(n);
    }
    return it->second;
  };

  for (const auto& [name, t] : roots) {
    const std::string root = fmt::format("n{}", next_id++);
    const std::string shape = t.defined() ? shape_str(t.shape()) : "undefined";
    nodes += fmt::format("  {} [label=\"{}\", shape=ellipse, style=filled, fillcolor=lightgreen];\n", root,
                         join_lines({name, shape}));
    if (t.defined() && t.grad_fn()) edges += fmt::format("  {} -> {} [label=\"{}\"];\n", visit(t.grad_fn().get()), root, shape);
  }
  while (!queue.empty()) {
    const Node* n = queue.front();
    queue.pop_front();
    const std::string consumer = ids.at(n);
    for (size_t i = 0; i < n->next_edges().size(); ++i) {
      const Edge& e = n->next_edges()[i];
      if (!e.valid()) continue;  // that input needs no gradient: not part of the graph
      std::string label = i < n->input_meta().size() ? shape_str(n->input_meta()[i].shape) : "";
      // A node with several outputs: say which one flows here.
      if (e.fn->output_meta().size() > 1) label = fmt::format("out {}: {}", e.input_nr, label);
      edges += fmt::format("  {} -> {} [label=\"{}\"];\n", visit(e.fn.get()), consumer, escape(label));
    }
  }
  return fmt::format("digraph autograd {{\n  node [fontname=\"monospace\", fontsize=10];\n  edge [fontsize=9];\n{}{}}}\n",
                     nodes, edges);
}

std::string to_dot(const Tensor& t) { return to_dot({{"output", t}}); }

}  // namespace atebm
