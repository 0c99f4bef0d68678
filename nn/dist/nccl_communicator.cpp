#include "nn/dist/nccl_communicator.h"

#include "engine/error.h"

#ifdef ATEBM_WITH_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/stream.h"

#define ATEBM_NCCL_CHECK(call)                                                                  \
  do {                                                                                          \
    const ncclResult_t atebm_nccl_err_ = (call);                                                \
    if (atebm_nccl_err_ != ncclSuccess) {                                                       \
      throw ::atebm::Error(::fmt::format("NCCL error: {} failed: {} at {}:{}", #call,           \
                                         ncclGetErrorString(atebm_nccl_err_), __FILE__, __LINE__)); \
    }                                                                                           \
  } while (0)

namespace atebm::nn {
namespace {

ncclDataType_t nccl_type(const Tensor& t, const char* op) {
  switch (t.dtype()) {
    case DType::Float32: return ncclFloat32;
    case DType::Float64: return ncclFloat64;
    case DType::Int64: return ncclInt64;
    default: ATEBM_FAIL("{} (nccl): expected a float32, float64 or int64 tensor, got {}", op, dtype_name(t.dtype()));
  }
}

// The end of an all-reduce on the communication stream. wait() orders the compute stream after
// it; the event is then released (CUDA frees it once it has fired).
class NcclRequest final : public CollectiveRequest {
 public:
  explicit NcclRequest(cudaEvent_t done) : done_(done) {}
  ~NcclRequest() override {
    // Dropped without wait(): still order the compute stream after it, since the buffer's next
    // user runs there.
    if (done_ != nullptr) {
      cudaStreamWaitEvent(cuda::current_stream(), done_, 0);
      cudaEventDestroy(done_);
    }
  }
  void wait() override {
    if (done_ == nullptr) return;
    cudaEvent_t e = done_;
    done_ = nullptr;
    ATEBM_CUDA_CHECK(cudaStreamWaitEvent(cuda::current_stream(), e, 0));
    ATEBM_CUDA_CHECK(cudaEventDestroy(e));
  }
  bool test() override {
    if (done_ == nullptr) return true;
    const cudaError_t e = cudaEventQuery(done_);
    if (e == cudaErrorNotReady) {
      (void)cudaGetLastError();  // a status, not an error: keep it out of the next launch check
      return false;
    }
    ATEBM_CUDA_CHECK(e);
    return true;
  }

 private:
  cudaEvent_t done_;
};

cudaEvent_t record_event(cudaStream_t s) {
  cudaEvent_t e = nullptr;
  ATEBM_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  ATEBM_CUDA_CHECK(cudaEventRecord(e, s));
  return e;
}

class Nccl final : public NcclCommunicator {
 public:
  Nccl(int rank, int size, int device, const std::function<void(void*, size_t)>& broadcast_from_rank0)
      : device_(device) {
    // NCCL binds a communicator to the device current at ncclCommInitRank; with one rank per GPU
    // that device stays current for the whole process.
    const cudaError_t e = cudaSetDevice(device_);
    ATEBM_CHECK(e == cudaSuccess, "NCCL: cannot make cuda:{} current: {}", device_, cudaGetErrorString(e));
    ncclUniqueId id;
    if (rank == 0) ATEBM_NCCL_CHECK(ncclGetUniqueId(&id));
    broadcast_from_rank0(&id, sizeof id);
    ATEBM_NCCL_CHECK(ncclCommInitRank(&comm_, size, id, rank));
    ATEBM_CUDA_CHECK(cudaStreamCreateWithFlags(&comm_stream_, cudaStreamNonBlocking));
  }
  ~Nccl() override {
    if (comm_stream_ != nullptr) {
      cudaStreamSynchronize(comm_stream_);
      cudaStreamDestroy(comm_stream_);
    }
    ncclCommDestroy(comm_);
  }

  void allreduce_sum(const Tensor& t) override {
    check(t, "allreduce_sum");
    ATEBM_NCCL_CHECK(ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()),
                                   nccl_type(t, "allreduce_sum"), ncclSum, comm_, cuda::current_stream()));
  }

  std::unique_ptr<CollectiveRequest> allreduce_sum_async(const Tensor& t) override {
    check(t, "allreduce_sum");
    // The comm stream starts once everything queued so far on the compute stream (the kernels
    // that wrote t) is done; later compute kernels run alongside the all-reduce.
    const cudaEvent_t written = record_event(cuda::current_stream());
    const cudaError_t waited = cudaStreamWaitEvent(comm_stream_, written, 0);
    cudaEventDestroy(written);
    ATEBM_CUDA_CHECK(waited);
    ATEBM_NCCL_CHECK(ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()),
                                   nccl_type(t, "allreduce_sum"), ncclSum, comm_, comm_stream_));
    return std::make_unique<NcclRequest>(record_event(comm_stream_));
  }

  void broadcast(const Tensor& t, int root) override {
    check(t, "broadcast");
    ATEBM_NCCL_CHECK(ncclBroadcast(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()),
                                   nccl_type(t, "broadcast"), root, comm_, cuda::current_stream()));
  }

 private:
  void check(const Tensor& t, const char* op) const {
    ATEBM_CHECK(t.device().is_cuda() && t.device().index == device_,
                "{} (nccl): this rank's NCCL communicator lives on cuda:{}, the tensor on {}", op, device_, t.device());
  }

  ncclComm_t comm_ = nullptr;
  cudaStream_t comm_stream_ = nullptr;
  int device_ = 0;
};

}  // namespace

std::unique_ptr<NcclCommunicator> make_nccl_communicator(int rank, int size, int device,
                                                         const std::function<void(void*, size_t)>& broadcast_from_rank0) {
  return std::make_unique<Nccl>(rank, size, device, broadcast_from_rank0);
}

}  // namespace atebm::nn

#else  // !ATEBM_WITH_NCCL

namespace atebm::nn {

std::unique_ptr<NcclCommunicator> make_nccl_communicator(int, int, int, const std::function<void(void*, size_t)>&) {
  ATEBM_FAIL("all-reducing CUDA tensors needs NCCL, and atebm was built without it (needs the CUDA backend and "
             "NCCL's headers and library)");
}

}  // namespace atebm::nn

#endif
