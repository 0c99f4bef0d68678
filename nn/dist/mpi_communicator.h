#pragma once
// The MPI communicator (built with ATEBM_WITH_MPI): MPI_COMM_WORLD duplicated, so the engine's
// collectives never mix with a host program's own MPI traffic. CPU tensors go through MPI
// (MPI_Allreduce / MPI_Iallreduce / MPI_Bcast in place); CUDA tensors through NCCL, whose
// communicator is created on first use: rank 0 makes the unique id, MPI broadcasts it, and every
// rank joins with its current CUDA device (one rank per GPU).
// MPI errors are returned, not fatal (MPI_ERRORS_RETURN), and become atebm::Error naming the
// call, MPI's message, file and line.
#include <memory>

#include "nn/dist/communicator.h"

namespace atebm::nn {

/// Initialises MPI (MPI_THREAD_FUNNELED: only the main thread talks to MPI; the loader's worker
/// threads never do) unless the host program already did, and registers MPI_Finalize at exit.
/// Throws atebm::Error when built without MPI.
std::shared_ptr<Communicator> make_mpi_communicator();

}  // namespace atebm::nn
