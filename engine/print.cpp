#include "engine/print.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd/node.h"
#include "engine/factories.h"

namespace atebm {
namespace {

constexpr int64_t kThreshold = 1000;  // more elements than this: summarise (NumPy's threshold)
constexpr int64_t kEdgeItems = 3;     // items kept at each end of a summarised dim
constexpr int kLineWidth = 80;        // wrap long innermost rows, as NumPy / PyTorch do
constexpr int kPrefix = 7;            // strlen("tensor(")

// The part of a tensor that is shown, gathered to the host as formatted, padded strings.
// Dim d is "cut" when only its first and last kEdgeItems are kept; then shape[d] = 2·kEdgeItems
// and "..." goes between the two halves.
struct Shown {
  Shape shape;
  std::vector<bool> cut;
  std::vector<std::string> text;  // row-major over `shape`
  size_t width = 0;               // widest element, for right alignment
};

// Copies the shown elements of `t` into a contiguous host vector of dtype T (= `as`), laid out
// over `shape`. Each corner block (one half of every cut dim) is a single strided view, so a
// summarised GPU tensor moves 2^cut small blocks, never its whole storage.
template <typename T>
std::vector<T> gather(const Tensor& t, const Shown& s, DType as) {
  const size_t nd = s.shape.size();
  const Shape out_strides = contiguous_strides(s.shape);
  std::vector<T> out(static_cast<size_t>(numel_of(s.shape)));
  size_t ncut = 0;
  for (bool c : s.cut) ncut += c;
  for (uint64_t corner = 0; corner < (uint64_t{1} << ncut); ++corner) {
    Shape block(nd);
    int64_t src_offset = t.offset(), dst_offset = 0;
    size_t bit = 0;
    for (size_t d = 0; d < nd; ++d) {
      block[d] = s.cut[d] ? kEdgeItems : t.shape()[d];
      const bool high = s.cut[d] && ((corner >> bit++) & 1);
      if (high) {
        src_offset += (t.shape()[d] - kEdgeItems) * t.strides()[d];
        dst_offset += kEdgeItems * out_strides[d];
      }
    }
    const Tensor host = copy_to(make_view(t, block, t.strides(), src_offset), Device::cpu(), as);
    const T* p = host.data<T>();
    // Scatter the contiguous block into `out` with an odometer over its multi-index.
    Shape idx(nd, 0);
    for (int64_t i = 0, n = host.numel(); i < n; ++i) {
      int64_t pos = dst_offset;
      for (size_t d = 0; d < nd; ++d) pos += idx[d] * out_strides[d];
      out[static_cast<size_t>(pos)] = p[i];
      for (size_t d = nd; d-- > 0;) {
        if (++idx[d] < block[d]) break;
        idx[d] = 0;
      }
    }
  }
  return out;
}

std::vector<std::string> format_floats(const std::vector<double>& v) {
  // One notation for the whole tensor, chosen from the finite values shown (as PyTorch does).
  double max_abs = 0.0, min_nonzero = INFINITY;
  for (double x : v) {
    if (!std::isfinite(x)) continue;
    max_abs = std::max(max_abs, std::abs(x));
    if (x != 0.0) min_nonzero = std::min(min_nonzero, std::abs(x));
  }
  const bool sci = max_abs >= 1e8 || min_nonzero < 1e-4;
  std::vector<std::string> out;
  out.reserve(v.size());
  for (double x : v) out.push_back(sci ? fmt::format("{:.4e}", x) : fmt::format("{:.4f}", x));
  return out;
}

Shown collect(const Tensor& t) {
  Shown s;
  const bool summarise = t.numel() > kThreshold;
  for (int64_t n : t.shape()) {
    const bool cut = summarise && n > 2 * kEdgeItems;
    s.cut.push_back(cut);
    s.shape.push_back(cut ? 2 * kEdgeItems : n);
  }
  if (t.dtype() == DType::Int64) {
    for (int64_t x : gather<int64_t>(t, s, DType::Int64)) s.text.push_back(fmt::format("{}", x));
  } else if (t.dtype() == DType::Bool) {
    for (double x : gather<double>(t, s, DType::Float64)) s.text.emplace_back(x != 0.0 ? "True" : "False");
  } else {
    s.text = format_floats(gather<double>(t, s, DType::Float64));
  }
  for (const std::string& x : s.text) s.width = std::max(s.width, x.size());
  return s;
}

// Appends the block of dims [d, ndim) that starts at element `base`; `indent` is the column of
// its opening bracket, so rows below line up under it.
void render(const Shown& s, size_t d, int64_t base, int indent, std::string& out) {
  const size_t nd = s.shape.size();
  const int64_t n = s.shape[d];
  const int64_t stride = numel_of(Shape(s.shape.begin() + static_cast<int64_t>(d) + 1, s.shape.end()));
  std::vector<std::string> items;
  out += '[';
  if (d + 1 == nd) {
    for (int64_t i = 0; i < n; ++i) {
      if (s.cut[d] && i == kEdgeItems) items.emplace_back(" ...");
      items.push_back(fmt::format("{:>{}}", s.text[static_cast<size_t>(base + i)], s.width));
    }
    const auto per_line = static_cast<size_t>(std::max<int64_t>(1, (kLineWidth - indent) / static_cast<int64_t>(s.width + 2)));
    const std::string wrap = fmt::format(",\n{:{}}", "", indent + 1);
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += i % per_line == 0 ? wrap : ", ";
      out += items[i];
    }
  } else {
    // Blocks of higher dims are separated by more blank lines (one less than the dims left).
    const std::string sep = fmt::format(",{}{:{}}", std::string(nd - d - 1, '\n'), "", indent + 1);
    for (int64_t i = 0; i < n; ++i) {
      if (i > 0) out += sep;
      if (s.cut[d] && i == kEdgeItems) out.append("...").append(sep);
      render(s, d + 1, base + i * stride, indent + 1, out);
    }
  }
  out += ']';
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  std::string out = "tensor(";
  if (numel() == 0) {
    out += "[]";
  } else {
    const Shown s = collect(*this);
    if (dim() == 0) {
      out += s.text[0];
    } else {
      render(s, 0, 0, kPrefix, out);
    }
  }
  if (dim() > 0) out += ", shape=" + shape_str(shape());
  out += fmt::format(", dtype={}, device={}", dtype(), device());
  if (grad_fn()) {
    out += ", grad_fn=<" + grad_fn()->name() + ">";
  } else if (requires_grad()) {
    out += ", requires_grad=True";
  }
  return out + ")";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace atebm
