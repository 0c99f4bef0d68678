#include "nn/dist/distributed.h"

#include <cstdlib>
#include <mutex>
#include <string>

#include "engine/error.h"
#include "nn/dist/mpi_communicator.h"

namespace atebm::nn {
namespace {

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}

}  // namespace

bool mpi_built() {
#ifdef ATEBM_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool nccl_built() {
#ifdef ATEBM_WITH_NCCL
  return true;
#else
  return false;
#endif
}

bool launched_as_mpi_rank() {
  if (const char* forced = std::getenv("ATEBM_DISTRIBUTED"); forced != nullptr && *forced != '\0')
    return std::string(forced) != "0";
  // Open MPI's mpirun; PMIx (Open MPI 4+, srun --mpi=pmix); PMI / PMI-2 (MPICH's hydra, srun
  // --mpi=pmi2); MVAPICH.
  return env_set("OMPI_COMM_WORLD_SIZE") || env_set("PMIX_RANK") || env_set("PMI_RANK") || env_set("PMI_SIZE") ||
         env_set("MV2_COMM_WORLD_SIZE");
}

std::shared_ptr<Communicator> init_distributed() {
  static std::mutex mu;
  static std::shared_ptr<Communicator> comm;
  std::lock_guard<std::mutex> lock(mu);
  if (comm) return comm;
  if (!launched_as_mpi_rank()) {
    comm = local_communicator();
    return comm;
  }
  ATEBM_CHECK(mpi_built(),
              "this process was started as an MPI rank (mpirun or an MPI scheduler), but atebm was built "
              "without MPI: install openmpi-bin and libopenmpi-dev (./scripts/setup.sh does) and rebuild");
  comm = make_mpi_communicator();
  return comm;
}

}  // namespace atebm::nn
