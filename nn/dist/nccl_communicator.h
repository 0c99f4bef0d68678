#pragma once
// NCCL collectives on CUDA tensors, for the MPI communicator (nn/dist/mpi_communicator.h).
// One rank per GPU: each rank joins with the device of the first CUDA tensor it all-reduces or
// broadcasts (the trainer's cuda:LOCAL_RANK), and every later tensor must live there too.
// allreduce_sum and broadcast are queued on the engine's compute stream (engine/cuda/stream.h),
// so they are ordered with the kernels that produce and consume the buffers, without a host
// synchronisation. allreduce_sum_async runs on a communication stream of its own instead, so
// that it overlaps the kernels queued after it (the rest of backward): the comm stream waits for
// an event recorded on the compute stream at the call, and wait() makes the compute stream wait
// for the all-reduce's end. Neither ever blocks the host.
// Built with ATEBM_WITH_NCCL (the CUDA backend and NCCL found; MPI is not needed to build it or
// to run one rank, tests/nn/test_nccl.cpp); otherwise make_nccl_communicator throws.
#include <cstddef>
#include <functional>
#include <memory>

#include "engine/tensor.h"
#include "nn/dist/communicator.h"

namespace atebm::nn {

class NcclCommunicator {
 public:
  virtual ~NcclCommunicator() = default;
  /// In place Σ over ranks; t contiguous float32/float64 on the current CUDA device.
  virtual void allreduce_sum(const Tensor& t) = 0;
  /// The same on the communication stream; t must not be touched until the request's wait().
  virtual std::unique_ptr<CollectiveRequest> allreduce_sum_async(const Tensor& t) = 0;
  virtual void broadcast(const Tensor& t, int root) = 0;
};

/// `broadcast_from_rank0(data, bytes)` must copy rank 0's bytes to every rank (MPI_Bcast): it
/// carries NCCL's unique id.
std::unique_ptr<NcclCommunicator> make_nccl_communicator(
    int rank, int size, int device, const std::function<void(void* data, size_t bytes)>& broadcast_from_rank0);

}  // namespace atebm::nn
