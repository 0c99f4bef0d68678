#include "engine/cuda/cuda_check.h"  // first: see the note on fmt there
//
#include "engine/cuda/cuda_graph.h"

#include "engine/cuda/cuda_allocator.h"

namespace atebm::cuda {

CudaGraph::CudaGraph() = default;

CudaGraph::~CudaGraph() {
  // Destructors must not throw: every call here is best effort and its error is dropped.
  if (capturing_) abort_capture();
  // The pool's blocks return to the shared cache, which is ordered on one stream only: every
  // replay must have finished before anyone else may get them.
  if (replayed_) cudaStreamSynchronize(origin_);
  if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
  if (graph_ != nullptr) cudaGraphDestroy(graph_);
  if (pool_ != 0) caching_allocator().release_pool(pool_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
  (void)cudaGetLastError();
}

void CudaGraph::capture_begin() {
  ATEBM_CHECK(!capturing_, "CudaGraph::capture_begin: this graph is already capturing");
  ATEBM_CHECK(exec_ == nullptr, "CudaGraph::capture_begin: this graph was already captured (use a new CudaGraph)");
  CachingAllocator& alloc = caching_allocator();
  ATEBM_CHECK(CachingAllocator::capturing_pool() == 0,
              "CudaGraph::capture_begin: this thread is already capturing another graph (nested captures are not "
              "supported)");
  ATEBM_CUDA_CHECK(cudaGetDevice(&device_));
  origin_ = current_stream();
  if (stream_ == nullptr) {
    // Non-blocking: work other threads put on the legacy default stream does not join (and so
    // does not invalidate) the capture.
    cudaStream_t s = nullptr;
    ATEBM_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    stream_ = s;
  }
  if (pool_ == 0) pool_ = alloc.create_pool();
  alloc.begin_capture(pool_);
  stream_guard_ = std::make_unique<StreamGuard>(stream_);
  // Thread-local mode: an unsafe call (a synchronisation, a pageable copy, a cudaFree) made by
  // this thread invalidates the capture, so an op that cannot be captured fails loudly at
  // capture_end(); other threads are unaffected. The allocator relaxes it around its cudaMalloc.
  const cudaError_t err = cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    stream_guard_.reset();
    alloc.end_capture();
    ATEBM_FAIL("CudaGraph::capture_begin: cudaStreamBeginCapture failed with {} ({})", cudaGetErrorName(err),
               cudaGetErrorString(err));
  }
  capturing_ = true;
}

void CudaGraph::capture_end() {
  ATEBM_CHECK(capturing_, "CudaGraph::capture_end: capture_begin() was not called");
  cudaGraph_t g = nullptr;
  const cudaError_t err = cudaStreamEndCapture(stream_, &g);
  stream_guard_.reset();
  caching_allocator().end_capture();
  capturing_ = false;
  if (err != cudaSuccess || g == nullptr) {
    (void)cudaGetLastError();
    if (g != nullptr) cudaGraphDestroy(g);
    ATEBM_FAIL(
        "CudaGraph::capture_end: the capture failed: cudaStreamEndCapture returned {} ({}); an op inside the "
        "captured region synchronised, copied to or from pageable host memory, freed device memory or used the "
        "legacy default stream, none of which a graph can hold",
        cudaGetErrorName(err), cudaGetErrorString(err));
  }
  graph_ = g;
  size_t n = 0;
  ATEBM_CUDA_CHECK(cudaGraphGetNodes(g, nullptr, &n));
  num_nodes_ = static_cast<int64_t>(n);
  cudaGraphExec_t exec = nullptr;
  ATEBM_CUDA_CHECK(cudaGraphInstantiate(&exec, g, 0));
  exec_ = exec;
}

void CudaGraph::replay() {
  ATEBM_CHECK(!capturing_, "CudaGraph::replay: the graph is still capturing (call capture_end() first)");
  ATEBM_CHECK(exec_ != nullptr, "CudaGraph::replay: nothing was captured (call capture_begin() and capture_end())");
  int device = 0;
  ATEBM_CUDA_CHECK(cudaGetDevice(&device));
  ATEBM_CHECK(device == device_, "CudaGraph::replay: the graph was captured on cuda:{} but cuda:{} is current",
              device_, device);
  // The pool holds blocks taken from the shared cache, whose earlier users were queued on the
  // origin stream: only there is a replay ordered after them.
  ATEBM_CHECK(current_stream() == origin_,
              "CudaGraph::replay: the current stream is not the one that was current at capture_begin(); replay "
              "with the same stream current (drop or match the StreamGuard)");
  ATEBM_CUDA_CHECK(cudaGraphLaunch(exec_, origin_));
  replayed_ = true;
}

void CudaGraph::abort_capture() noexcept {
  cudaGraph_t g = nullptr;
  cudaStreamEndCapture(stream_, &g);
  if (g != nullptr) cudaGraphDestroy(g);
  (void)cudaGetLastError();
  stream_guard_.reset();
  caching_allocator().end_capture();
  capturing_ = false;
}

}  // namespace atebm::cuda
