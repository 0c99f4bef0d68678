#include "nn/dist/communicator.h"

#include <algorithm>

#include "engine/error.h"

namespace atebm::nn {
namespace {

class DoneRequest final : public CollectiveRequest {
 public:
  void wait() override {}
  bool test() override { return true; }
};

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  std::string backend() const override { return "local"; }
  void allreduce_sum(const Tensor& t) override {
    ATEBM_CHECK(t.defined(), "allreduce_sum: undefined tensor");
  }
  std::vector<double> allgather(const std::vector<double>& v) override { return v; }
  void broadcast(const Tensor& t, int root) override {
    ATEBM_CHECK(t.defined(), "broadcast: undefined tensor");
    ATEBM_CHECK(root == 0, "broadcast: root {} out of range for 1 rank", root);
  }
  std::string broadcast(const std::string& s, int root) override {
    ATEBM_CHECK(root == 0, "broadcast: root {} out of range for 1 rank", root);
    return s;
  }
  void barrier() override {}
  void abort(int) override {}
};

}  // namespace

std::unique_ptr<CollectiveRequest> completed_request() { return std::make_unique<DoneRequest>(); }

std::unique_ptr<CollectiveRequest> Communicator::allreduce_sum_async(const Tensor& t) {
  allreduce_sum(t);
  return completed_request();
}

std::vector<double> Communicator::allreduce_sum(const std::vector<double>& v) {
  const std::vector<double> all = allgather(v);
  std::vector<double> sum(v.size(), 0.0);
  // Rank order, so every rank adds in the same order and gets the same bits.
  for (size_t r = 0; r < all.size() / std::max<size_t>(v.size(), 1); ++r)
    for (size_t i = 0; i < v.size(); ++i) sum[i] += all[r * v.size() + i];
  return sum;
}

std::shared_ptr<Communicator> local_communicator() { return std::make_shared<LocalCommunicator>(); }

}  // namespace atebm::nn
