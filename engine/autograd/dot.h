#pragma once
// Graphviz pictures of autograd graphs: `dot -Tsvg graph.dot -o graph.svg`.
//
// The walk starts at each root's grad_fn and follows next_edges, so the picture holds exactly
// what a backward from those roots would run. Arrows point the forward way (producer → the op
// that consumed its output), each labelled with the shape it carries, so the graph reads like
// the forward computation. Ops are boxes (name + output shapes); leaves that collect gradients
// (AccumulateGrad) are light-blue ellipses; the roots are light-green ellipses.
//
// A teaching aid for double backward: a gradient returned by
// grad({y}, {x}, {}, {.create_graph = true}) has its own grad_fn, recorded while the backward
// formulas ran, so to_dot(that gradient) draws the double-backward graph that R1 differentiates.
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace atebm {

/// One digraph for several named roots (shared subgraphs are drawn once).
std::string to_dot(const std::vector<std::pair<std::string, Tensor>>& roots);
/// The graph that produced `t`, its root labelled "output".
std::string to_dot(const Tensor& t);

}  // namespace atebm
