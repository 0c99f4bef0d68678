#pragma once
// Device dispatch helpers. ATEBM_WITH_CUDA is defined when the CUDA backend is compiled in;
// without it, a CUDA tensor can never be created, and reaching a CUDA branch is an error
// that says how to get the backend.
#include "engine/device.h"

namespace atebm {

[[noreturn]] void throw_no_cuda(const char* op);

}  // namespace atebm

#ifdef ATEBM_WITH_CUDA
#define ATEBM_CUDA_CALL(op, ...) __VA_ARGS__
#else
#define ATEBM_CUDA_CALL(op, ...) ::atebm::throw_no_cuda(op)
#endif
