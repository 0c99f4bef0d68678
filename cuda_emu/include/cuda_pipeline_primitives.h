#pragma once
// cuda_emu's asynchronous global → shared copies (cp.async, compute capability 8.0+), with the
// interface of CUDA's <cuda_pipeline_primitives.h>:
//   __pipeline_memcpy_async(dst_shared, src_global, size, zfill = 0)
//       queues a copy of `size` bytes (4, 8 or 16; both pointers aligned to it): the first
//       size − zfill bytes from src, then zfill zero bytes (src is not read when zfill == size);
//   __pipeline_commit()        closes the thread's open batch of copies into one group;
//   __pipeline_wait_prior(n)   returns when all but the newest n committed groups have landed.
// On a GPU a copy lands at some moment between the call and the wait that covers it. Here it
// lands at the latest moment, the wait, so a thread that reads its tile before waiting, or a
// block that reads before the barrier after everyone's wait, reads the old contents. With
// CUDA_EMU_CP_ASYNC=eager a copy lands at the earliest moment, the call itself, so a copy into
// a buffer that another thread may still be reading (a prefetch issued before the barrier that
// ends the reads) overwrites it. A kernel must be right under both.
// Copies still pending when their thread exits are dropped (on a GPU nobody could read them).
// Faults (sticky, as other kernel faults): a size other than 4, 8 or 16, zfill > size, a pointer
// not aligned to the size, a source outside live device memory, a destination inside it.
#include <cstddef>

#include "cuda_runtime.h"

namespace cuda_emu {
void pipeline_memcpy_async(void* dst, const void* src, size_t size, size_t zfill);
void pipeline_commit();
void pipeline_wait_prior(size_t prior);
}  // namespace cuda_emu

inline void __pipeline_memcpy_async(void* __restrict__ dst_shared, const void* __restrict__ src_global,
                                    size_t size_and_align, size_t zfill = 0) {
  cuda_emu::pipeline_memcpy_async(dst_shared, src_global, size_and_align, zfill);
}
inline void __pipeline_commit() { cuda_emu::pipeline_commit(); }
inline void __pipeline_wait_prior(size_t prior) { cuda_emu::pipeline_wait_prior(prior); }
