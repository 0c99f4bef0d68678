#pragma once
// Page-locked ("pinned") CPU tensors: the fast way to feed a GPU. An upload from a pinned tensor
// (to(t, Device::cuda()), copy_to, copy_into) is a DMA copy queued on the engine's stream that
// does not block the host; from ordinary (pageable) memory the driver stages the bytes through
// its own pinned buffer and the host waits for the copy.
//   Tensor b = pin_memory(batch);                      // or empty(shape, {.pinned = true})
//   Tensor g = to(b, Device::cuda());                  // returns at once; the GPU copies later
//
// The memory comes from a caching allocator (engine/cuda/pinned_allocator.h). Contract of the
// asynchronous upload:
//  - dropping (freeing) a pinned tensor right after queuing its upload is always safe: its
//    block is not handed out again before the copy has run;
//  - WRITING a pinned tensor on the host while an upload from it may still run is a race.
//    copy_into and fill_into wait for such uploads themselves; in-place ops and writes through
//    data<T>() do not: call wait_for_pinned_copies(t) before them (or write a fresh tensor, as
//    the data loader does for every batch).
// Pinning needs the CUDA backend and a visible GPU; without them every entry point that would
// pin memory throws one clear error (is_pinned is simply false).
#include <string>

#include "engine/tensor.h"

namespace atebm {

/// True when `t` is a CPU tensor whose storage is pinned memory from the pinned allocator
/// (views of a pinned tensor are pinned too).
bool is_pinned(const Tensor& t);

/// A contiguous copy of the CPU tensor `t` (same shape and dtype) in pinned memory; `t` itself
/// when it is already pinned and contiguous. Like copy_to, no autograd: the copy is a leaf
/// without requires_grad.
Tensor pin_memory(const Tensor& t);

/// True when pinned memory can be allocated: the CUDA backend is built and a GPU is visible.
bool pinned_memory_available();
/// Throws "WHO needs the CUDA backend and a visible GPU; <why not>" unless pinned memory is
/// available. `who` names the caller: "pin_memory", "Loader(mnist): pin_memory", ...
void check_pinned_memory_available(const std::string& who);

/// Blocks until every GPU copy queued from `t`'s pinned memory has finished, so the host may
/// write to it. Returns at once for a tensor that is not pinned.
void wait_for_pinned_copies(const Tensor& t);

}  // namespace atebm
