#pragma once
// NCCL collectives on CUDA tensors, for the MPI communicator (nn/dist/mpi_communicator.h).
// One rank per GPU: each rank joins with the device of the first CUDA tensor it all-reduces or
// broadcasts (the trainer's cuda:LOCAL_RANK), and every later tensor must live there too. The collectives are queued on the engine's
// compute stream (engine/cuda/stream.h), so they are ordered with the kernels that produce and
// consume the buffers, without a host synchronisation.
// Built with ATEBM_WITH_NCCL (CUDA + NCCL + MPI); otherwise make_nccl_communicator throws.
#include <cstddef>
#include <functional>
#include <memory>

#include "engine/tensor.h"

namespace atebm::nn {

class NcclCommunicator {
 public:
  virtual ~NcclCommunicator() = default;
  /// In place Σ over ranks; t contiguous float32/float64 on the current CUDA device.
  virtual void allreduce_sum(const Tensor& t) = 0;
  virtual void broadcast(const Tensor& t, int root) = 0;
};

/// `broadcast_from_rank0(data, bytes)` must copy rank 0's bytes to every rank (MPI_Bcast): it
/// carries NCCL's unique id.
std::unique_ptr<NcclCommunicator> make_nccl_communicator(
    int rank, int size, int device, const std::function<void(void* data, size_t bytes)>& broadcast_from_rank0);

}  // namespace atebm::nn
