#include "nn/dist/mpi_communicator.h"

#include "engine/error.h"

#ifdef ATEBM_WITH_MPI
// MPI's C API only: without these, mpi.h pulls in the deprecated C++ bindings (libmpi_cxx).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <climits>
#include <cstdlib>
#include <cstring>

#include "nn/dist/distributed.h"
#include "nn/dist/nccl_communicator.h"

#define ATEBM_MPI_CHECK(call)                                                                   \
  do {                                                                                          \
    const int atebm_mpi_err_ = (call);                                                          \
    if (atebm_mpi_err_ != MPI_SUCCESS) {                                                        \
      char atebm_mpi_msg_[MPI_MAX_ERROR_STRING];                                                \
      int atebm_mpi_len_ = 0;                                                                   \
      MPI_Error_string(atebm_mpi_err_, atebm_mpi_msg_, &atebm_mpi_len_);                        \
      throw ::atebm::Error(::fmt::format("MPI error: {} failed: {} at {}:{}", #call,            \
                                         std::string(atebm_mpi_msg_, atebm_mpi_len_), __FILE__, \
                                         __LINE__));                                            \
    }                                                                                           \
  } while (0)

namespace atebm::nn {
namespace {

MPI_Datatype mpi_type(const Tensor& t, const char* op) {
  switch (t.dtype()) {
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    case DType::Int64: return MPI_INT64_T;
    default: ATEBM_FAIL("{}: expected a float32, float64 or int64 tensor, got {}", op, dtype_name(t.dtype()));
  }
}

void check_buffer(const Tensor& t, const char* op) {
  ATEBM_CHECK(t.defined(), "{}: undefined tensor", op);
  ATEBM_CHECK(t.is_contiguous(), "{}: expected a contiguous tensor, got shape {} with strides {}", op,
              shape_str(t.shape()), shape_str(t.strides()));
}

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

// MPI counts are int: a larger tensor goes in pieces of at most INT_MAX elements.
template <typename Fn>
void in_chunks(const Tensor& t, Fn&& fn) {
  char* p = static_cast<char*>(t.raw_data());
  const int64_t item = static_cast<int64_t>(t.itemsize());
  for (int64_t done = 0; done < t.numel();) {
    const int64_t n = std::min<int64_t>(t.numel() - done, INT_MAX);
    fn(p + done * item, static_cast<int>(n));
    done += n;
  }
}

class MpiRequest final : public CollectiveRequest {
 public:
  explicit MpiRequest(std::vector<MPI_Request> r) : reqs_(std::move(r)) {}
  ~MpiRequest() override {
    // A request dropped without wait() would leave MPI writing into a buffer that may be gone.
    if (!reqs_.empty()) MPI_Waitall(static_cast<int>(reqs_.size()), reqs_.data(), MPI_STATUSES_IGNORE);
  }
  void wait() override {
    if (reqs_.empty()) return;
    std::vector<MPI_Request> r = std::move(reqs_);
    reqs_.clear();
    ATEBM_MPI_CHECK(MPI_Waitall(static_cast<int>(r.size()), r.data(), MPI_STATUSES_IGNORE));
  }
  bool test() override {
    if (reqs_.empty()) return true;
    int done = 0;  // completed requests become MPI_REQUEST_NULL, which a later Waitall skips
    ATEBM_MPI_CHECK(MPI_Testall(static_cast<int>(reqs_.size()), reqs_.data(), &done, MPI_STATUSES_IGNORE));
    if (done) reqs_.clear();
    return done != 0;
  }

 private:
  std::vector<MPI_Request> reqs_;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialized = 0;
    ATEBM_MPI_CHECK(MPI_Initialized(&initialized));
    if (!initialized) {
      int provided = 0;
      ATEBM_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
      std::atexit(finalize_at_exit);
    }
    ATEBM_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
    ATEBM_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
    ATEBM_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
    ATEBM_MPI_CHECK(MPI_Comm_size(comm_, &size_));
    // The ranks sharing this node's memory, ordered by world rank: whatever the launcher, the
    // local rank is this rank's place among them.
    MPI_Comm node = MPI_COMM_NULL;
    ATEBM_MPI_CHECK(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
    ATEBM_MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
    ATEBM_MPI_CHECK(MPI_Comm_free(&node));
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  std::string backend() const override { return nccl_built() ? "mpi+nccl" : "mpi"; }

  void allreduce_sum(const Tensor& t) override {
    if (t.device().is_cuda()) {
      check_buffer(t, "allreduce_sum");
      nccl(t).allreduce_sum(t);  // queued on the engine's stream: ordered with what reads t next
      return;
    }
    allreduce_sum_async(t)->wait();
  }

  std::unique_ptr<CollectiveRequest> allreduce_sum_async(const Tensor& t) override {
    check_buffer(t, "allreduce_sum");
    if (t.device().is_cuda()) return nccl(t).allreduce_sum_async(t);
    const MPI_Datatype type = mpi_type(t, "allreduce_sum");
    std::vector<MPI_Request> reqs;
    in_chunks(t, [&](void* p, int n) {
      MPI_Request r;
      ATEBM_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, p, n, type, MPI_SUM, comm_, &r));
      reqs.push_back(r);
    });
    return std::make_unique<MpiRequest>(std::move(reqs));
  }

  std::vector<double> allgather(const std::vector<double>& v) override {
    // Lengths first: a rank with a different length is a bug that would otherwise corrupt memory.
    const int64_t mine = static_cast<int64_t>(v.size());
    std::vector<int64_t> lengths(static_cast<size_t>(size_));
    ATEBM_MPI_CHECK(MPI_Allgather(&mine, 1, MPI_INT64_T, lengths.data(), 1, MPI_INT64_T, comm_));
    for (int r = 0; r < size_; ++r)
      ATEBM_CHECK(lengths[static_cast<size_t>(r)] == mine,
                  "allgather: rank {} passed {} values but rank {} passed {}", rank_, mine, r, lengths[static_cast<size_t>(r)]);
    ATEBM_CHECK(mine <= INT_MAX, "allgather: {} values per rank is more than MPI's int count", mine);
    std::vector<double> all(v.size() * static_cast<size_t>(size_));
    ATEBM_MPI_CHECK(MPI_Allgather(v.data(), static_cast<int>(mine), MPI_DOUBLE, all.data(), static_cast<int>(mine),
                                  MPI_DOUBLE, comm_));
    return all;
  }

  void broadcast(const Tensor& t, int root) override {
    check_buffer(t, "broadcast");
    ATEBM_CHECK(root >= 0 && root < size_, "broadcast: root {} out of range for {} ranks", root, size_);
    if (t.device().is_cuda()) {
      nccl(t).broadcast(t, root);
      return;
    }
    const MPI_Datatype type = mpi_type(t, "broadcast");
    in_chunks(t, [&](void* p, int n) { ATEBM_MPI_CHECK(MPI_Bcast(p, n, type, root, comm_)); });
  }

  std::string broadcast(const std::string& s, int root) override {
    ATEBM_CHECK(root >= 0 && root < size_, "broadcast: root {} out of range for {} ranks", root, size_);
    int64_t n = static_cast<int64_t>(s.size());
    ATEBM_MPI_CHECK(MPI_Bcast(&n, 1, MPI_INT64_T, root, comm_));
    ATEBM_CHECK(n >= 0 && n <= INT_MAX, "broadcast: string of {} bytes", n);
    std::string out = rank_ == root ? s : std::string(static_cast<size_t>(n), '\0');
    if (n > 0) ATEBM_MPI_CHECK(MPI_Bcast(out.data(), static_cast<int>(n), MPI_CHAR, root, comm_));
    return out;
  }

  void barrier() override { ATEBM_MPI_CHECK(MPI_Barrier(comm_)); }

  void abort(int code) override { MPI_Abort(comm_, code); }

 private:
  // Collective: the first CUDA collective creates it on every rank at once.
  NcclCommunicator& nccl(const Tensor& t) {
    if (!nccl_) {
      nccl_ = make_nccl_communicator(rank_, size_, t.device().index, [this](void* data, size_t bytes) {
        ATEBM_CHECK(bytes <= INT_MAX, "NCCL id of {} bytes", bytes);
        ATEBM_MPI_CHECK(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, 0, comm_));
      });
    }
    return *nccl_;
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_rank_ = 0;
  std::unique_ptr<NcclCommunicator> nccl_;
};

}  // namespace

std::shared_ptr<Communicator> make_mpi_communicator() { return std::make_shared<MpiCommunicator>(); }

}  // namespace atebm::nn

#else  // !ATEBM_WITH_MPI

namespace atebm::nn {

std::shared_ptr<Communicator> make_mpi_communicator() {
  ATEBM_FAIL("data-parallel training needs MPI, and atebm was built without it: install openmpi-bin and "
             "libopenmpi-dev (./scripts/setup.sh does) and rebuild");
}

}  // namespace atebm::nn

#endif
