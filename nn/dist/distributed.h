#pragma once
// Starting a data-parallel job. A program calls init_distributed() once at start-up:
//   - launched by mpirun / mpiexec (Open MPI, MPICH) or by a scheduler that sets the usual MPI
//     environment (srun with PMIx or PMI-2), or with ATEBM_DISTRIBUTED=1: MPI_Init_thread, and
//     the MPI communicator of MPI_COMM_WORLD (rank and size from MPI);
//   - otherwise: the local communicator (one rank), and MPI is never touched, so a plain
//     `atebm train` neither pays MPI's start-up nor needs an MPI runtime.
// MPI_Finalize runs at exit (atexit), after the communicator's last use.
#include <memory>

#include "nn/dist/communicator.h"

namespace atebm::nn {

/// True when the library was built with MPI (ATEBM_WITH_MPI).
bool mpi_built();
/// True when built with NCCL (CUDA tensors can be all-reduced).
bool nccl_built();
/// True when the environment says this process is one rank of an MPI job (see above).
bool launched_as_mpi_rank();

/// The job's communicator (see above). Throws atebm::Error when the environment asks for MPI
/// but the library was built without it. Calling it again returns the same communicator.
std::shared_ptr<Communicator> init_distributed();

}  // namespace atebm::nn
