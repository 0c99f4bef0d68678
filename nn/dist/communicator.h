#pragma once
// Collective communication between the processes of a data-parallel job: one process per rank,
// every rank running the same program on its own shard of each batch (nn/dist/grad_sync.h,
// at_ebm/train/trainer.h).
//
// Every collective must be called by every rank, in the same order, with the same shapes: that
// is the contract of MPI and NCCL alike, and a rank that skips one hangs the others. So code
// that can fail on one rank only (a file write on rank 0) must end the job with abort() rather
// than return an error that the other ranks never see.
//
// Implementations:
//   local_communicator()   one rank; every collective is the identity (no MPI needed)
//   MPI (nn/dist/distributed.h's init_distributed() under mpirun): MPI_Allreduce et al. for CPU
//   tensors, NCCL for CUDA tensors (one rank per GPU; the NCCL unique id is broadcast over MPI)
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace atebm::nn {

/// A started non-blocking collective; wait() completes it (and rethrows its error). For a CUDA
/// tensor, "complete" means: work queued on the engine's stream after wait() sees the result.
class CollectiveRequest {
 public:
  virtual ~CollectiveRequest() = default;
  virtual void wait() = 0;
  /// Lets the collective advance without blocking (MPI progresses non-blocking collectives
  /// only inside MPI calls, so a caller with other work polls now and then); true once done.
  virtual bool test() { return false; }
};

/// A request that is already complete (a collective that ran synchronously).
std::unique_ptr<CollectiveRequest> completed_request();

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// This rank's index among the ranks of its node (the GPU it should use: one rank per GPU).
  virtual int local_rank() const = 0;
  /// "local", "mpi" (CPU tensors only) or "mpi+nccl".
  virtual std::string backend() const = 0;

  /// In place, t ← Σ over ranks of t. t: contiguous float32 or float64, on the CPU (MPI) or on
  /// CUDA (NCCL); the same shape and dtype on every rank.
  virtual void allreduce_sum(const Tensor& t) = 0;
  /// Starts allreduce_sum(t); t must stay alive and untouched until wait(). The default runs it
  /// synchronously.
  virtual std::unique_ptr<CollectiveRequest> allreduce_sum_async(const Tensor& t);
  /// Every rank's `v` concatenated in rank order (every rank passes the same length).
  virtual std::vector<double> allgather(const std::vector<double>& v) = 0;
  /// t ← rank root's t (contiguous, same shape and dtype everywhere; CPU or CUDA).
  virtual void broadcast(const Tensor& t, int root) = 0;
  /// Rank root's string, on every rank (e.g. a run folder named after rank 0's clock).
  virtual std::string broadcast(const std::string& s, int root) = 0;
  virtual void barrier() = 0;
  /// Ends every rank of the job with exit code `code` after an error on this one (MPI_Abort);
  /// the local communicator returns and lets the caller exit normally.
  virtual void abort(int code) = 0;

  /// Σ over ranks of a few doubles (metrics): a convenience over allgather.
  std::vector<double> allreduce_sum(const std::vector<double>& v);
};

/// The single-process communicator (rank 0 of 1).
std::shared_ptr<Communicator> local_communicator();

}  // namespace atebm::nn
