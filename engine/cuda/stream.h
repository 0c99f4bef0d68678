#pragma once
// The engine's CUDA compute stream (plain C++ header: cudaStream_t is an opaque pointer type, so
// no CUDA include is needed here).
//
// Every kernel, library call (cuBLAS, cuDNN, NCCL) and copy of the engine is issued on
// current_stream(). By default that is ONE stream per device, created on first use with
// cudaStreamCreate's default flags, so it still synchronises with the legacy default stream
// (code outside the engine that uses stream 0 stays ordered with us). It is not stream 0 itself
// because the legacy stream cannot be captured into a CUDA graph (engine/cuda/cuda_graph.h).
//
// StreamGuard makes another stream current on this thread for a scope (a capture stream, or a
// user's second stream); the caching allocator's block reuse is only ordered within one stream,
// so code that runs ops on several streams at once must synchronise them itself.
struct CUstream_st;

namespace atebm::cuda {

using Stream = CUstream_st*;

/// The stream the engine issues work on for the current device (this thread's override if a
/// StreamGuard is alive, else the device's default compute stream).
Stream current_stream();
/// The device's default compute stream (created on first use).
Stream default_stream(int device);

class StreamGuard {
 public:
  explicit StreamGuard(Stream s);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  Stream prev_;
};

/// Waits for all work queued on current_stream().
void synchronize();

}  // namespace atebm::cuda
