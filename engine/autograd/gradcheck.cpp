#include "engine/autograd/gradcheck.h"

#include <cmath>

#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/factories.h"

namespace atebm {
namespace {

// Storage offsets (in elements) of every logical element of t, row-major.
std::vector<int64_t> element_offsets(const Tensor& t) {
  std::vector<int64_t> offs(static_cast<size_t>(t.numel()));
  std::vector<int64_t> idx(static_cast<size_t>(t.dim()), 0);
  for (int64_t k = 0; k < t.numel(); ++k) {
    int64_t off = t.offset();
    for (int64_t d = 0; d < t.dim(); ++d) off += idx[d] * t.strides()[d];
    offs[k] = off;
    for (int64_t d = t.dim() - 1; d >= 0; --d) {
      if (++idx[d] < t.shape()[d]) break;
      idx[d] = 0;
    }
  }
  return offs;
}

// All outputs flattened into one float64 vector.
std::vector<double> flat_outputs(const Tensors& outs) {
  std::vector<double> v;
  for (const Tensor& o : outs) {
    if (!o.defined()) continue;
    const std::vector<double> part = o.to_vector<double>();
    v.insert(v.end(), part.begin(), part.end());
  }
  return v;
}

void check_inputs(const Tensors& inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    ATEBM_CHECK(x.dtype() == DType::Float64, "gradcheck: input {} is {}, expected float64 (finite differences need it)",
                i, x.dtype());
    ATEBM_CHECK(x.device().is_cpu(), "gradcheck: input {} is on {}, expected the CPU", i, x.device());
    std::vector<int64_t> offs = element_offsets(x);
    std::sort(offs.begin(), offs.end());
    ATEBM_CHECK(std::adjacent_find(offs.begin(), offs.end()) == offs.end(),
                "gradcheck: input {} (shape {}, strides {}) overlaps itself; pass a tensor without stride-0 dims", i,
                shape_str(x.shape()), shape_str(x.strides()));
  }
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFn& f, const Tensors& inputs, GradcheckOptions opt) {
  check_inputs(inputs);
  GradcheckResult res;
  res.inputs.resize(inputs.size());

  const Tensors outs = f(inputs);
  for (size_t o = 0; o < outs.size(); ++o)
    ATEBM_CHECK(!outs[o].defined() || outs[o].dtype() == DType::Float64, "gradcheck: output {} is {}, expected float64",
                o, outs[o].dtype());
  const int64_t n_out = static_cast<int64_t>(flat_outputs(outs).size());

  // Differentiable inputs and outputs that carry a graph.
  Tensors diff_in;
  std::vector<size_t> diff_pos;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) {
      diff_in.push_back(inputs[i]);
      diff_pos.push_back(i);
    }
  if (diff_in.empty()) {
    res.message = "ok (no input requires grad)";
    return res;
  }

  // Analytical Jacobians: analytic[j][row * n_j + col], rows over flattened outputs.
  std::vector<std::vector<double>> analytic(diff_in.size());
  for (size_t j = 0; j < diff_in.size(); ++j) analytic[j].assign(static_cast<size_t>(n_out * diff_in[j].numel()), 0.0);
  int64_t row = 0;
  for (size_t o = 0; o < outs.size(); ++o) {
    if (!outs[o].defined()) continue;
    const int64_t n = outs[o].numel();
    if (!outs[o].requires_grad()) {  // a constant output: its Jacobian rows are zero
      row += n;
      continue;
    }
    for (int64_t e = 0; e < n; ++e, ++row) {
      Tensor onehot = zeros(outs[o].shape(), {.dtype = DType::Float64});
      onehot.data<double>()[e] = 1.0;
      const Tensors g = grad({outs[o]}, diff_in, {onehot}, {.retain_graph = true, .allow_unused = true});
      for (size_t j = 0; j < diff_in.size(); ++j) {
        if (!g[j].defined()) continue;
        const std::vector<double> gv = g[j].to_vector<double>();
        std::copy(gv.begin(), gv.end(), analytic[j].begin() + row * diff_in[j].numel());
      }
    }
  }

  // Numerical Jacobians, column by column, and the comparison.
  NoGradGuard no_grad;
  for (size_t j = 0; j < diff_in.size(); ++j) {
    const Tensor& x = diff_in[j];
    double* base = static_cast<double*>(x.storage()->data());
    const std::vector<int64_t> offs = element_offsets(x);
    const int64_t n_in = x.numel();
    GradcheckInputError& err = res.inputs[diff_pos[j]];
    for (int64_t k = 0; k < n_in; ++k) {
      const double orig = base[offs[k]];
      base[offs[k]] = orig + opt.eps;
      const std::vector<double> plus = flat_outputs(f(inputs));
      base[offs[k]] = orig - opt.eps;
      const std::vector<double> minus = flat_outputs(f(inputs));
      base[offs[k]] = orig;
      for (int64_t r = 0; r < n_out; ++r) {
        const double num = (plus[r] - minus[r]) / (2.0 * opt.eps);
        const double ana = analytic[j][r * n_in + k];
        const double diff = std::abs(ana - num);
        const double scale = std::max(std::abs(ana), std::abs(num));
        err.max_abs = std::max(err.max_abs, diff);
        if (scale > 1e-8) err.max_rel = std::max(err.max_rel, diff / scale);
        const bool pass = diff <= opt.atol + opt.rtol * std::abs(num) && !std::isnan(ana) == !std::isnan(num);
        if ((!pass || std::isnan(diff)) && res.ok) {
          res.ok = false;
          res.message = fmt::format("input {} element {} → output element {}: analytic {:.10g} vs numeric {:.10g}",
                                    diff_pos[j], k, r, ana, num);
        }
      }
    }
    res.max_abs = std::max(res.max_abs, err.max_abs);
    res.max_rel = std::max(res.max_rel, err.max_rel);
  }
  if (res.ok) res.message = "ok";
  return res;
}

GradcheckResult gradgradcheck(const GradcheckFn& f, const Tensors& inputs, GradcheckOptions opt, Generator* gen) {
  check_inputs(inputs);
  Generator local(0x5eed);
  Generator& g = gen != nullptr ? *gen : local;

  std::vector<size_t> diff_pos;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) diff_pos.push_back(i);

  // Random grad_outputs v, one per output that carries a graph; they are inputs of the
  // first-order function and so are checked too (the gradient is linear in v).
  const Tensors outs = f(inputs);
  std::vector<size_t> graph_outs;
  Tensors vs;
  for (size_t o = 0; o < outs.size(); ++o) {
    if (!outs[o].defined() || !outs[o].requires_grad()) continue;
    graph_outs.push_back(o);
    Tensor v = randn(outs[o].shape(), {.dtype = DType::Float64}, &g);
    v.set_requires_grad(true);
    vs.push_back(v);
  }
  const size_t n_in = inputs.size();
  GradcheckFn first_order = [&](const Tensors& all) -> Tensors {
    // gradcheck evaluates this under no-grad for its finite differences; the inner grad()
    // still needs f's graph.
    GradModeGuard with_grad(true);
    const Tensors in(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n_in));
    const Tensors out = f(in);
    Tensors ys, gv;
    for (size_t k = 0; k < graph_outs.size(); ++k) {
      ys.push_back(out[graph_outs[k]]);
      gv.push_back(all[n_in + k]);
    }
    Tensors diff_in;
    for (size_t p : diff_pos) diff_in.push_back(in[p]);
    if (ys.empty() || diff_in.empty()) return {};
    Tensors gr = grad(ys, diff_in, gv, {.create_graph = true, .allow_unused = true});
    for (size_t k = 0; k < gr.size(); ++k)
      if (!gr[k].defined()) gr[k] = zeros(diff_in[k].shape(), {.dtype = DType::Float64});
    return gr;
  };
  Tensors all = inputs;
  all.insert(all.end(), vs.begin(), vs.end());
  GradcheckResult r = gradcheck(first_order, all, opt);
  r.inputs.resize(n_in);  // report the original inputs only
  return r;
}

}  // namespace atebm
