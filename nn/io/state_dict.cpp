#include "nn/io/state_dict.h"

#include <map>

#include "engine/autograd/grad_mode.h"
#include "engine/factories.h"

namespace atebm::nn {

void load_into(const StateDict& src, const StateDict& dst_named_tensors, bool strict) {
  std::vector<std::string> problems;
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, t] : src) {
    if (!given.emplace(name, &t).second) problems.push_back(fmt::format("duplicate key '{}' in the source", name));
    if (!t.defined()) problems.push_back(fmt::format("'{}': the source tensor is undefined", name));
  }
  std::map<std::string, int> seen_dst;
  std::vector<std::pair<const Tensor*, const Tensor*>> copies;  // (destination, source)
  for (const auto& [name, dst] : dst_named_tensors) {
    if (seen_dst[name]++ > 0) problems.push_back(fmt::format("duplicate key '{}' in the destination", name));
    if (!dst.defined()) {
      problems.push_back(fmt::format("'{}': the destination tensor is undefined", name));
      continue;
    }
    const auto it = given.find(name);
    if (it == given.end()) {
      if (strict) problems.push_back(fmt::format("missing key '{}' (expected {} {})", name, shape_str(dst.shape()), dst.dtype()));
      continue;
    }
    const Tensor& s = *it->second;
    if (s.defined()) {
      if (s.shape() != dst.shape())
        problems.push_back(fmt::format("'{}': shape {} in the source, {} in the destination", name, shape_str(s.shape()),
                                       shape_str(dst.shape())));
      if (s.dtype() != dst.dtype())
        problems.push_back(fmt::format("'{}': dtype {} in the source, {} in the destination", name, s.dtype(), dst.dtype()));
      if (s.dtype() == DType::BFloat16)  // checked here so that no copy can fail half-way
        problems.push_back(fmt::format("'{}': bfloat16 values cannot be copied yet (no bfloat16 kernels)", name));
      copies.emplace_back(&dst, &s);
    }
    given.erase(it);
  }
  if (strict)
    for (const auto& [name, t] : given)
      if (t->defined())
        problems.push_back(fmt::format("unexpected key '{}' ({} {})", name, shape_str(t->shape()), t->dtype()));
  ATEBM_CHECK(problems.empty(), "load_state_dict: {} problem(s):\n  {}", problems.size(), fmt::join(problems, "\n  "));
  // Raw copies: loading values is not an operation to differentiate through.
  NoGradGuard no_grad;
  for (const auto& [dst, s] : copies) copy_into(*dst, *s);
}

}  // namespace atebm::nn
