#pragma once
// CUDA graphs: capture the GPU work of a piece of engine code once, replay it with one launch
// (plain C++ header: no CUDA includes, so tests, benches and .cpp files can use it).
//
//   CudaGraph graph;
//   loop();                  // warm-up, eagerly: library handles, workspaces and algorithm
//                            // choices are made outside the capture, and the cache is filled
//   graph.capture_begin();   // from here every op of this thread is recorded, not run
//   loop();
//   graph.capture_end();
//   for (...) { copy_into(x, next_batch); graph.replay(); read(y); }
//
// What is captured: the work the capturing thread issues between capture_begin() and
// capture_end(). capture_begin() makes the graph's own capture stream current (StreamGuard), so
// every kernel, cuBLAS/cuDNN call and device copy of the engine lands in the graph. Host code
// (autograd bookkeeping, shape checks, which kernels to launch) runs once, at capture: a replay
// repeats exactly the captured kernels with exactly the captured arguments and addresses.
//
// So the inputs and outputs of a captured region are fixed tensors: allocate them before the
// capture (or keep the tensors the capture returns), fill them before each replay and read them
// after it, in place (copy_into, fill_into, ops/inplace.h). Parameters updated in place by an
// optimiser are seen by the next replay. A value computed on the host from data (an item(), a
// data-dependent output shape) cannot be captured: a synchronisation or a device-to-host copy
// during the capture invalidates it and capture_end() throws.
//
// Memory: the graph owns a private pool of the caching allocator (engine/cuda/cuda_allocator.h)
// that stays reserved while the graph lives, so replays reuse exactly the captured addresses
// and never overwrite an eager tensor. The first capture may cudaMalloc (legal in relaxed mode,
// see cuda_allocator.cu); after a warm-up run it mostly takes blocks the warm-up left cached.
//
// Streams: replay() launches on the stream that was current when capture_begin() was called
// (the engine's stream unless a StreamGuard said otherwise), and must be called while that
// stream is current: the eager work around it is ordered with it, and so is the reuse of the
// cached blocks the capture took over. Capture and replay must be on one thread per graph; a
// graph is tied to the device current at capture_begin().
#include <cstdint>
#include <memory>

#include "engine/cuda/stream.h"

struct CUgraph_st;
struct CUgraphExec_st;

namespace atebm::cuda {

class CudaGraph {
 public:
  CudaGraph();
  /// Waits for pending replays, then frees the graph and hands its pool back to the cache.
  /// Ends an unfinished capture (discarding it) if the capturing code threw.
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  /// Starts recording this thread's GPU work. Throws when this graph was already captured or is
  /// capturing, or when this thread already captures another graph.
  void capture_begin();
  /// Stops recording and instantiates the graph. Throws when the capture was invalidated (an op
  /// synchronised, copied to the host or used the legacy default stream while capturing).
  void capture_end();
  /// Runs the captured work once on the current stream (asynchronously, like any op). Throws
  /// when the current stream or device is not the one of capture_begin().
  void replay();

  bool is_capturing() const { return capturing_; }
  bool is_captured() const { return exec_ != nullptr; }
  /// Kernel, memcpy and other nodes in the captured graph (0 before capture_end()).
  int64_t num_nodes() const { return num_nodes_; }

 private:
  void abort_capture() noexcept;

  int device_ = 0;
  Stream stream_ = nullptr;  // the capture stream
  Stream origin_ = nullptr;  // the stream current at capture_begin(): where replays run
  bool replayed_ = false;
  uint64_t pool_ = 0;        // the allocator's graph pool (0 until capture_begin)
  CUgraph_st* graph_ = nullptr;
  CUgraphExec_st* exec_ = nullptr;
  std::unique_ptr<StreamGuard> stream_guard_;
  bool capturing_ = false;
  int64_t num_nodes_ = 0;
};

}  // namespace atebm::cuda
