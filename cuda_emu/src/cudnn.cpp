// cuda_emu: cuDNN's legacy convolution API emulated on the CPU (the contract is in
// include/cudnn.h).
//
// Descriptors are plain structs checked against a registry of live objects, so that a null,
// destroyed or made-up descriptor is reported instead of dereferenced. A compute call validates
// the problem as cuDNN does (plus the device-range checks of the header), captures it by value
// (shapes, strides, pointers, scalars, TF32 or not) and hands a direct loop to cuda_emu::enqueue
// on the handle's stream. The three passes gather (each output element sums its own terms, in a
// fixed order), so results do not depend on the algorithm id.
#include <cudnn.h>

#include <algorithm>
#include <climits>
#include <functional>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <vector>

struct cudnnContext {
  cudaStream_t stream = nullptr;
};

struct cudnnTensorStruct {
  bool set = false;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int64_t dims[4] = {};     // n, c, h, w
  int64_t strides[4] = {};  // in elements
};

struct cudnnFilterStruct {
  bool set = false;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW;
  int64_t dims[4] = {};  // k, c, r, s
};

struct cudnnConvolutionStruct {
  bool set = false;
  int64_t pad[2] = {}, stride[2] = {}, dilation[2] = {};  // (h, w)
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;  // cuDNN's default for a new descriptor
};

namespace {

// ---- errors -------------------------------------------------------------------------------------

thread_local std::string t_last_error;

template <class... A>
std::string cat(const A&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

// Records "call: why" for cudnnGetLastErrorString and returns `status`.
cudnnStatus_t fail(cudnnStatus_t status, const char* call, const std::string& why) {
  t_last_error = cat(call, ": ", why);
  return status;
}

// ---- registry of live objects ---------------------------------------------------------------------

template <class T>
class Registry {
 public:
  T* create() {
    auto* p = new T();
    std::lock_guard<std::mutex> lock(mu_);
    live_.insert(p);
    return p;
  }
  bool destroy(T* p) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (live_.erase(p) == 0) return false;
    }
    delete p;
    return true;
  }
  bool is_live(const T* p) {
    if (p == nullptr) return false;
    std::lock_guard<std::mutex> lock(mu_);
    return live_.count(p) != 0;
  }

 private:
  std::mutex mu_;
  std::unordered_set<const T*> live_;
};

template <class T>
Registry<T>& registry() {
  static auto* r = new Registry<T>();  // never destroyed: objects may outlive static destruction
  return *r;
}

template <class T>
cudnnStatus_t create_object(const char* call, T** out) {
  if (out == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, call, "the output pointer is null");
  *out = registry<T>().create();
  return CUDNN_STATUS_SUCCESS;
}

// A null pointer is a no-op (as in cuDNN); anything else must be live.
template <class T>
cudnnStatus_t destroy_object(const char* call, T* p) {
  if (p == nullptr || registry<T>().destroy(p)) return CUDNN_STATUS_SUCCESS;
  return fail(CUDNN_STATUS_BAD_PARAM, call, "the object was never created or is already destroyed");
}

cudnnStatus_t check_handle(const char* call, cudnnHandle_t h) {
  if (registry<cudnnContext>().is_live(h)) return CUDNN_STATUS_SUCCESS;
  return fail(CUDNN_STATUS_BAD_PARAM, call, h == nullptr ? "the handle is null" : "the handle is not a live handle");
}

// `what` must be live and set.
template <class T>
cudnnStatus_t check_set(const char* call, const char* what, const T* d) {
  if (!registry<T>().is_live(d))
    return fail(CUDNN_STATUS_BAD_PARAM, call, cat(what, " is null or not a live descriptor"));
  if (!d->set) return fail(CUDNN_STATUS_BAD_PARAM, call, cat(what, " was created but never set"));
  return CUDNN_STATUS_SUCCESS;
}

const char* type_name(cudnnDataType_t t) { return t == CUDNN_DATA_DOUBLE ? "double" : "float"; }
size_t type_size(cudnnDataType_t t) { return t == CUDNN_DATA_DOUBLE ? sizeof(double) : sizeof(float); }

cudnnStatus_t check_type(const char* call, cudnnDataType_t t) {
  if (t == CUDNN_DATA_FLOAT || t == CUDNN_DATA_DOUBLE) return CUDNN_STATUS_SUCCESS;
  return fail(CUDNN_STATUS_NOT_SUPPORTED, call,
              cat("data type ", static_cast<int>(t), " is not emulated (CUDNN_DATA_FLOAT or CUDNN_DATA_DOUBLE only)"));
}

// A host scalar (alpha, beta) of `bytes`: non-null and not device memory (a GPU faults there).
cudnnStatus_t check_scalar(const char* call, const char* what, const void* p, size_t bytes) {
  if (p == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, call, cat(what, " is null"));
  if (cuda_emu::is_device_range(p, bytes))
    return fail(CUDNN_STATUS_BAD_PARAM, call, cat(what, " points into device memory; cuDNN reads scalars on the host"));
  return CUDNN_STATUS_SUCCESS;
}

// ---- shapes ---------------------------------------------------------------------------------------

// Sizes and element strides of a 4-d array (a tensor, or a filter [K, C, R, S]).
struct View4 {
  int64_t d[4] = {};
  int64_t s[4] = {};
  int64_t at(int64_t i0, int64_t i1, int64_t i2, int64_t i3) const {
    return i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3];
  }
  // Elements from the first to the last one addressed, inclusive.
  int64_t extent() const { return 1 + (d[0] - 1) * s[0] + (d[1] - 1) * s[1] + (d[2] - 1) * s[2] + (d[3] - 1) * s[3]; }
};

View4 view(const cudnnTensorStruct& t) {
  View4 v;
  for (int i = 0; i < 4; ++i) v.d[i] = t.dims[i], v.s[i] = t.strides[i];
  return v;
}

View4 view(const cudnnFilterStruct& f) {
  View4 v;
  const int64_t c = f.dims[1], r = f.dims[2], s = f.dims[3];
  for (int i = 0; i < 4; ++i) v.d[i] = f.dims[i];
  if (f.format == CUDNN_TENSOR_NCHW) {  // KCRS
    v.s[0] = c * r * s, v.s[1] = r * s, v.s[2] = s, v.s[3] = 1;
  } else {  // KRSC
    v.s[0] = r * s * c, v.s[1] = 1, v.s[2] = s * c, v.s[3] = c;
  }
  return v;
}

// Strides of a packed tensor [n, c, h, w] in `format`.
void packed_strides(cudnnTensorFormat_t format, const int64_t d[4], int64_t s[4]) {
  if (format == CUDNN_TENSOR_NCHW) {
    s[0] = d[1] * d[2] * d[3], s[1] = d[2] * d[3], s[2] = d[3], s[3] = 1;
  } else {  // NHWC
    s[0] = d[2] * d[3] * d[1], s[1] = 1, s[2] = d[3] * d[1], s[3] = d[1];
  }
}

// One output size of a convolution; 0 when the dilated filter is larger than the padded input.
int64_t output_size(int64_t in, int64_t pad, int64_t filter, int64_t dilation, int64_t stride) {
  const int64_t dilated = (filter - 1) * dilation + 1, padded = in + 2 * pad;
  return padded < dilated ? 0 : 1 + (padded - dilated) / stride;
}

// A convolution problem as the compute loops see it, captured by value at the call.
struct ConvProblem {
  View4 x, w, y;  // x [N, C, H, W], w [K, C, R, S], y [N, K, Ho, Wo] (y is dy for the backward passes)
  int64_t pad[2] = {}, stride[2] = {}, dilation[2] = {};
  bool flip = false;  // CUDNN_CONVOLUTION: the filter is applied flipped in both spatial dims
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  bool tf32 = false;  // float inputs rounded to TF32
};

// The output dims of (conv, x, w), or BAD_PARAM with the reason.
cudnnStatus_t output_dims(const char* call, const cudnnConvolutionStruct& cd, const cudnnTensorStruct& xd,
                          const cudnnFilterStruct& wd, int64_t out[4]) {
  if (xd.dims[1] != wd.dims[1])
    return fail(CUDNN_STATUS_BAD_PARAM, call,
                cat("the input has ", xd.dims[1], " channels but the filter expects ", wd.dims[1]));
  for (int i = 0; i < 2; ++i) {
    out[2 + i] = output_size(xd.dims[2 + i], cd.pad[i], wd.dims[2 + i], cd.dilation[i], cd.stride[i]);
    if (out[2 + i] == 0)
      return fail(CUDNN_STATUS_BAD_PARAM, call,
                  cat("the dilated filter (", (wd.dims[2 + i] - 1) * cd.dilation[i] + 1,
                      ") is larger than the padded input (", xd.dims[2 + i] + 2 * cd.pad[i],
                      ") in spatial dimension ", i));
  }
  out[0] = xd.dims[0], out[1] = wd.dims[0];
  return CUDNN_STATUS_SUCCESS;
}

// Checks that (x, w, conv, y) describe one convolution cuDNN runs, and describes it in `p`.
cudnnStatus_t make_problem(const char* call, const cudnnTensorStruct* xd, const cudnnFilterStruct* wd,
                           const cudnnConvolutionStruct* cd, const cudnnTensorStruct* yd, const char* x_name,
                           const char* y_name, ConvProblem* p) {
  cudnnStatus_t st = check_set(call, x_name, xd);
  if (st == CUDNN_STATUS_SUCCESS) st = check_set(call, "the filter descriptor", wd);
  if (st == CUDNN_STATUS_SUCCESS) st = check_set(call, "the convolution descriptor", cd);
  if (st == CUDNN_STATUS_SUCCESS) st = check_set(call, y_name, yd);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  if (xd->type != wd->type || yd->type != wd->type)
    return fail(CUDNN_STATUS_BAD_PARAM, call,
                cat("data types differ: ", x_name, " ", type_name(xd->type), ", filter ", type_name(wd->type), ", ",
                    y_name, " ", type_name(yd->type)));
  if (cd->compute != wd->type)
    return fail(CUDNN_STATUS_NOT_SUPPORTED, call,
                cat("compute type ", type_name(cd->compute), " with ", type_name(wd->type),
                    " data (only FLOAT_CONFIG and DOUBLE_CONFIG)"));
  int64_t out[4];
  if ((st = output_dims(call, *cd, *xd, *wd, out)) != CUDNN_STATUS_SUCCESS) return st;
  for (int i = 0; i < 4; ++i)
    if (yd->dims[i] != out[i])
      return fail(CUDNN_STATUS_BAD_PARAM, call,
                  cat(y_name, " is [", yd->dims[0], ", ", yd->dims[1], ", ", yd->dims[2], ", ", yd->dims[3],
                      "] but the convolution produces [", out[0], ", ", out[1], ", ", out[2], ", ", out[3], "]"));
  p->x = view(*xd), p->w = view(*wd), p->y = view(*yd);
  for (int i = 0; i < 2; ++i) p->pad[i] = cd->pad[i], p->stride[i] = cd->stride[i], p->dilation[i] = cd->dilation[i];
  p->flip = cd->mode == CUDNN_CONVOLUTION;
  p->type = wd->type;
  p->tf32 = wd->type == CUDNN_DATA_FLOAT && cd->math != CUDNN_FMA_MATH;
  return CUDNN_STATUS_SUCCESS;
}

// `what` (elements of `type`, `extent` of them from p) must lie inside one live device allocation.
cudnnStatus_t check_device(const char* call, const char* what, const void* p, int64_t extent, cudnnDataType_t type) {
  const size_t bytes = static_cast<size_t>(extent) * type_size(type);
  if (p == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, call, cat(what, " is null"));
  if (!cuda_emu::is_device_range(p, bytes))
    return fail(CUDNN_STATUS_BAD_PARAM, call,
                cat(what, " [", p, ", +", bytes, " bytes) is not inside one live cudaMalloc allocation"));
  return CUDNN_STATUS_SUCCESS;
}

// ---- algorithms -----------------------------------------------------------------------------------

enum class Pass { Forward, BackwardData, BackwardFilter };

const char* pass_name(Pass pass) {
  return pass == Pass::Forward ? "forward" : pass == Pass::BackwardData ? "backward-data" : "backward-filter";
}

int algo_count(Pass pass) {
  switch (pass) {
    case Pass::Forward: return CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
    case Pass::BackwardData: return CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
    case Pass::BackwardFilter: return CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  }
  return 0;
}

// The emulated algorithms of every pass, in heuristic order: ids 1, 0, 2. Id 1 proposes tensor
// ops and needs a workspace, id 0 needs none (and is non-deterministic in the backward passes,
// as cuDNN's algo 0), id 2 needs a larger workspace.
constexpr int kSupported[3] = {1, 0, 2};

bool is_supported(int algo) { return algo == 0 || algo == 1 || algo == 2; }

// cuDNN's own: backward-data algo 0 and backward-filter algos 0 and 3 use atomics.
cudnnDeterminism_t determinism(Pass pass, int algo) {
  const bool atomics =
      (pass == Pass::BackwardData && algo == 0) || (pass == Pass::BackwardFilter && (algo == 0 || algo == 3));
  return atomics ? CUDNN_NON_DETERMINISTIC : CUDNN_DETERMINISTIC;
}

// The API's names of the tensors x and y of a pass, for messages.
const char* x_name(Pass pass) { return pass == Pass::BackwardData ? "dxDesc" : "xDesc"; }
const char* y_name(Pass pass) { return pass == Pass::Forward ? "yDesc" : "dyDesc"; }

// Bytes of workspace a supported algorithm needs: made-up but plausible sizes (index tables,
// im2col buffers, transformed copies), a pure function of the problem.
size_t workspace_bytes(Pass pass, int algo, const ConvProblem& p) {
  const int64_t elem = static_cast<int64_t>(type_size(p.type));
  const int64_t c = p.x.d[1], h = p.x.d[2], w = p.x.d[3];
  const int64_t k = p.w.d[0], r = p.w.d[2], s = p.w.d[3], ho = p.y.d[2], wo = p.y.d[3];
  if (algo == 0) return 0;
  if (pass == Pass::Forward)
    return static_cast<size_t>(algo == 1 ? c * r * s * int64_t{sizeof(int32_t)} : c * r * s * ho * wo * elem);
  return static_cast<size_t>(algo == 1 ? k * c * r * s * elem : (c * h * w + k * ho * wo) * elem);
}

// The perf list of *_v7: the supported algorithms, then the pass's other ids, NOT_SUPPORTED.
template <class Perf, class Algo>
void fill_perfs(Pass pass, const ConvProblem& p, int requested, int* returned, Perf* perfs) {
  int count = 0;
  auto add = [&](int algo, bool supported) {
    if (count >= requested) return;
    Perf& perf = perfs[count++];
    perf = Perf{};
    perf.algo = static_cast<Algo>(algo);
    perf.status = supported ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_SUPPORTED;
    perf.time = -1.0f;
    perf.memory = supported ? workspace_bytes(pass, algo, p) : 0;
    perf.determinism = determinism(pass, algo);
    perf.mathType = supported && algo == 1 && p.type == CUDNN_DATA_FLOAT ? CUDNN_TENSOR_OP_MATH : CUDNN_DEFAULT_MATH;
  };
  for (int algo : kSupported) add(algo, true);
  for (int algo = 0; algo < algo_count(pass); ++algo)
    if (!is_supported(algo)) add(algo, false);
  *returned = count;
}

// The algorithm id must be one of the pass's (BAD_PARAM) and emulated (NOT_SUPPORTED).
cudnnStatus_t check_algo(const char* call, Pass pass, int algo) {
  if (algo < 0 || algo >= algo_count(pass))
    return fail(CUDNN_STATUS_BAD_PARAM, call, cat("algorithm ", algo, " is not a ", pass_name(pass), " algorithm"));
  if (!is_supported(algo))
    return fail(CUDNN_STATUS_NOT_SUPPORTED, call,
                cat(pass_name(pass), " algorithm ", algo, " is not supported for this problem"));
  return CUDNN_STATUS_SUCCESS;
}

// ---- compute loops --------------------------------------------------------------------------------

template <class T>
T input(T v, bool tf32) {
  if constexpr (std::is_same_v<T, float>) return tf32 ? cuda_emu::round_to_tf32(v) : v;
  return v;
}

// out = alpha * acc + beta * out; beta == 0 does not read out.
template <class T>
void store(T& out, T acc, T alpha, T beta) {
  out = beta == T(0) ? alpha * acc : alpha * acc + beta * out;
}

// Filter tap (r, q) as stored: flipped for CUDNN_CONVOLUTION.
struct Taps {
  int64_t r_count, s_count;
  bool flip;
  int64_t r(int64_t i) const { return flip ? r_count - 1 - i : i; }
  int64_t s(int64_t i) const { return flip ? s_count - 1 - i : i; }
};

// y[n, k, oh, ow] = alpha * sum_{c, r, q} x[n, c, oh*u - pad + r*dil, ...] * w[k, c, r', q'] + beta * y
template <class T>
void conv_forward(const ConvProblem& p, const T* x, const T* w, T* y, T alpha, T beta) {
  const Taps taps{p.w.d[2], p.w.d[3], p.flip};
  for (int64_t n = 0; n < p.y.d[0]; ++n)
    for (int64_t k = 0; k < p.y.d[1]; ++k)
      for (int64_t oh = 0; oh < p.y.d[2]; ++oh)
        for (int64_t ow = 0; ow < p.y.d[3]; ++ow) {
          T acc = 0;
          for (int64_t c = 0; c < p.x.d[1]; ++c)
            for (int64_t r = 0; r < taps.r_count; ++r) {
              const int64_t ih = oh * p.stride[0] - p.pad[0] + r * p.dilation[0];
              if (ih < 0 || ih >= p.x.d[2]) continue;
              for (int64_t q = 0; q < taps.s_count; ++q) {
                const int64_t iw = ow * p.stride[1] - p.pad[1] + q * p.dilation[1];
                if (iw < 0 || iw >= p.x.d[3]) continue;
                acc += input(x[p.x.at(n, c, ih, iw)], p.tf32) * input(w[p.w.at(k, c, taps.r(r), taps.s(q))], p.tf32);
              }
            }
          store(y[p.y.at(n, k, oh, ow)], acc, alpha, beta);
        }
}

// The output index o with o * stride - pad + tap * dilation == i, or -1 when there is none.
int64_t source(int64_t i, int64_t tap, int64_t pad, int64_t stride, int64_t dilation, int64_t out_size) {
  const int64_t t = i + pad - tap * dilation;
  if (t < 0 || t % stride != 0 || t / stride >= out_size) return -1;
  return t / stride;
}

// dx[n, c, ih, iw] = alpha * sum over the (k, r, q, oh, ow) that read x[n, c, ih, iw] of
// dy[n, k, oh, ow] * w[k, c, r', q'] + beta * dx   (the adjoint of conv_forward in x)
template <class T>
void conv_backward_data(const ConvProblem& p, const T* w, const T* dy, T* dx, T alpha, T beta) {
  const Taps taps{p.w.d[2], p.w.d[3], p.flip};
  for (int64_t n = 0; n < p.x.d[0]; ++n)
    for (int64_t c = 0; c < p.x.d[1]; ++c)
      for (int64_t ih = 0; ih < p.x.d[2]; ++ih)
        for (int64_t iw = 0; iw < p.x.d[3]; ++iw) {
          T acc = 0;
          for (int64_t k = 0; k < p.y.d[1]; ++k)
            for (int64_t r = 0; r < taps.r_count; ++r) {
              const int64_t oh = source(ih, r, p.pad[0], p.stride[0], p.dilation[0], p.y.d[2]);
              if (oh < 0) continue;
              for (int64_t q = 0; q < taps.s_count; ++q) {
                const int64_t ow = source(iw, q, p.pad[1], p.stride[1], p.dilation[1], p.y.d[3]);
                if (ow < 0) continue;
                acc += input(dy[p.y.at(n, k, oh, ow)], p.tf32) * input(w[p.w.at(k, c, taps.r(r), taps.s(q))], p.tf32);
              }
            }
          store(dx[p.x.at(n, c, ih, iw)], acc, alpha, beta);
        }
}

// dw[k, c, r', q'] = alpha * sum_{n, oh, ow} x[n, c, oh*u - pad + r*dil, ...] * dy[n, k, oh, ow] + beta * dw
// (the adjoint of conv_forward in w)
template <class T>
void conv_backward_filter(const ConvProblem& p, const T* x, const T* dy, T* dw, T alpha, T beta) {
  const Taps taps{p.w.d[2], p.w.d[3], p.flip};
  for (int64_t k = 0; k < p.w.d[0]; ++k)
    for (int64_t c = 0; c < p.w.d[1]; ++c)
      for (int64_t r = 0; r < taps.r_count; ++r)
        for (int64_t q = 0; q < taps.s_count; ++q) {
          T acc = 0;
          for (int64_t n = 0; n < p.x.d[0]; ++n)
            for (int64_t oh = 0; oh < p.y.d[2]; ++oh) {
              const int64_t ih = oh * p.stride[0] - p.pad[0] + r * p.dilation[0];
              if (ih < 0 || ih >= p.x.d[2]) continue;
              for (int64_t ow = 0; ow < p.y.d[3]; ++ow) {
                const int64_t iw = ow * p.stride[1] - p.pad[1] + q * p.dilation[1];
                if (iw < 0 || iw >= p.x.d[3]) continue;
                acc += input(x[p.x.at(n, c, ih, iw)], p.tf32) * input(dy[p.y.at(n, k, oh, ow)], p.tf32);
              }
            }
          store(dw[p.w.at(k, c, taps.r(r), taps.s(q))], acc, alpha, beta);
        }
}

// ---- the three passes behind one entry point ------------------------------------------------------

// The operands of a pass: x (or dx), w (or dw), y (or dy); the pass writes one of them.
struct Operands {
  const void* x;
  const void* w;
  const void* y;
};

template <class T>
void run_pass(Pass pass, const ConvProblem& p, Operands o, T alpha, T beta, void* ws, size_t ws_used) {
  if (ws_used > 0) std::memset(ws, 0xff, ws_used);  // a real algorithm clobbers its workspace
  const T* x = static_cast<const T*>(o.x);
  const T* w = static_cast<const T*>(o.w);
  const T* y = static_cast<const T*>(o.y);
  switch (pass) {
    case Pass::Forward: conv_forward(p, x, w, const_cast<T*>(y), alpha, beta); break;
    case Pass::BackwardData: conv_backward_data(p, w, y, const_cast<T*>(x), alpha, beta); break;
    case Pass::BackwardFilter: conv_backward_filter(p, x, y, const_cast<T*>(w), alpha, beta); break;
  }
}

cudnnStatus_t enqueue(const char* call, cudnnHandle_t h, std::function<void()> work) {
  const cudaError_t e = cuda_emu::enqueue(h->stream, call, std::move(work));
  if (e == cudaSuccess) return CUDNN_STATUS_SUCCESS;
  return fail(CUDNN_STATUS_EXECUTION_FAILED, call, cat("the stream rejected the work: ", cudaGetErrorName(e)));
}

// Validates and queues one pass. `xd`/`yd` are x/dx and y/dy by pass.
cudnnStatus_t conv_call(const char* call, Pass pass, cudnnHandle_t h, const void* alpha, const void* beta,
                        const cudnnTensorStruct* xd, const cudnnFilterStruct* wd, const cudnnConvolutionStruct* cd,
                        const cudnnTensorStruct* yd, Operands o, int algo, void* ws, size_t ws_bytes) {
  cudnnStatus_t st = check_handle(call, h);
  ConvProblem p;
  if (st == CUDNN_STATUS_SUCCESS) st = make_problem(call, xd, wd, cd, yd, x_name(pass), y_name(pass), &p);
  if (st == CUDNN_STATUS_SUCCESS) st = check_algo(call, pass, algo);
  if (st != CUDNN_STATUS_SUCCESS) return st;

  const size_t needed = workspace_bytes(pass, algo, p);
  if (ws_bytes < needed)
    return fail(CUDNN_STATUS_BAD_PARAM, call,
                cat("workspace of ", ws_bytes, " bytes, but ", pass_name(pass), " algorithm ", algo, " needs ",
                    needed));
  if (needed > 0 && ws == nullptr)
    return fail(CUDNN_STATUS_BAD_PARAM, call,
                cat("the workspace is null but algorithm ", algo, " needs ", needed, " bytes"));
  if (ws != nullptr && ws_bytes > 0 && !cuda_emu::is_device_range(ws, ws_bytes))
    return fail(CUDNN_STATUS_BAD_PARAM, call,
                cat("the workspace [", ws, ", +", ws_bytes, " bytes) is not inside one live cudaMalloc allocation"));

  const size_t elem = type_size(p.type);
  if ((st = check_scalar(call, "alpha", alpha, elem)) != CUDNN_STATUS_SUCCESS) return st;
  if ((st = check_scalar(call, "beta", beta, elem)) != CUDNN_STATUS_SUCCESS) return st;
  const char* x_arg = pass == Pass::BackwardData ? "dx" : "x";
  const char* w_arg = pass == Pass::BackwardFilter ? "dw" : "w";
  const char* y_arg = pass == Pass::Forward ? "y" : "dy";
  if ((st = check_device(call, x_arg, o.x, p.x.extent(), p.type)) != CUDNN_STATUS_SUCCESS ||
      (st = check_device(call, w_arg, o.w, p.w.extent(), p.type)) != CUDNN_STATUS_SUCCESS ||
      (st = check_device(call, y_arg, o.y, p.y.extent(), p.type)) != CUDNN_STATUS_SUCCESS)
    return st;

  if (p.type == CUDNN_DATA_DOUBLE) {
    const double a = *static_cast<const double*>(alpha), b = *static_cast<const double*>(beta);
    return enqueue(call, h, [=] { run_pass<double>(pass, p, o, a, b, ws, needed); });
  }
  const float a = *static_cast<const float*>(alpha), b = *static_cast<const float*>(beta);
  return enqueue(call, h, [=] { run_pass<float>(pass, p, o, a, b, ws, needed); });
}

// Validates the problem of a workspace-size query and answers it.
cudnnStatus_t workspace_query(const char* call, Pass pass, cudnnHandle_t h, const cudnnTensorStruct* xd,
                              const cudnnFilterStruct* wd, const cudnnConvolutionStruct* cd,
                              const cudnnTensorStruct* yd, int algo, size_t* size) {
  cudnnStatus_t st = check_handle(call, h);
  ConvProblem p;
  if (st == CUDNN_STATUS_SUCCESS) st = make_problem(call, xd, wd, cd, yd, x_name(pass), y_name(pass), &p);
  if (st == CUDNN_STATUS_SUCCESS) st = check_algo(call, pass, algo);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  if (size == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, call, "sizeInBytes is null");
  *size = workspace_bytes(pass, algo, p);
  return CUDNN_STATUS_SUCCESS;
}

// Validates the problem of a *_v7 query and fills its perf list.
template <class Perf, class Algo>
cudnnStatus_t algorithm_query(const char* call, Pass pass, cudnnHandle_t h, const cudnnTensorStruct* xd,
                              const cudnnFilterStruct* wd, const cudnnConvolutionStruct* cd,
                              const cudnnTensorStruct* yd, int requested, int* returned, Perf* perfs) {
  cudnnStatus_t st = check_handle(call, h);
  ConvProblem p;
  if (st == CUDNN_STATUS_SUCCESS) st = make_problem(call, xd, wd, cd, yd, x_name(pass), y_name(pass), &p);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  if (requested <= 0 || returned == nullptr || perfs == nullptr)
    return fail(CUDNN_STATUS_BAD_PARAM, call,
                cat("requestedAlgoCount ", requested, " must be positive, returnedAlgoCount and perfResults non-null"));
  fill_perfs<Perf, Algo>(pass, p, requested, returned, perfs);
  return CUDNN_STATUS_SUCCESS;
}

// Find*Ex's modeled time of a supported algorithm, in ms: ids 0, 2, 1 from fastest (a ranking
// unlike *_v7's 1, 0, 2, so that a caller's measured choice differs from its heuristic one),
// scaled by the problem's multiply-adds. A model, not a measurement: the emulator runs every
// algorithm with the same loops.
float modeled_ms(int algo, const ConvProblem& p) {
  const double macs = static_cast<double>(p.y.d[0]) * p.y.d[1] * p.y.d[2] * p.y.d[3] * p.w.d[1] * p.w.d[2] * p.w.d[3];
  const double rank = algo == 0 ? 1.0 : algo == 2 ? 2.0 : 3.0;
  return static_cast<float>(rank * (1.0 + macs * 1e-9));
}

// cudnnFind*AlgorithmEx: validates like a compute call, runs every supported algorithm whose
// workspace fits in the one given (each really runs, with alpha 1 and beta 0, so it overwrites
// the output), synchronises the handle's stream (cuDNN's Find blocks the host, so during a
// stream capture it fails and the capture is invalidated), and reports: the algorithms that ran
// sorted by modeled_ms, then those whose workspace did not fit and the unsupported ids, with
// CUDNN_STATUS_NOT_SUPPORTED and time -1.
template <class Perf, class Algo>
cudnnStatus_t find_ex(const char* call, Pass pass, cudnnHandle_t h, const cudnnTensorStruct* xd,
                      const cudnnFilterStruct* wd, const cudnnConvolutionStruct* cd, const cudnnTensorStruct* yd,
                      Operands o, int requested, int* returned, Perf* perfs, void* ws, size_t ws_bytes) {
  cudnnStatus_t st = check_handle(call, h);
  ConvProblem p;
  if (st == CUDNN_STATUS_SUCCESS) st = make_problem(call, xd, wd, cd, yd, x_name(pass), y_name(pass), &p);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  if (requested <= 0 || returned == nullptr || perfs == nullptr)
    return fail(CUDNN_STATUS_BAD_PARAM, call,
                cat("requestedAlgoCount ", requested, " must be positive, returnedAlgoCount and perfResults non-null"));
  const double one_d = 1.0, zero_d = 0.0;
  const float one_f = 1.0f, zero_f = 0.0f;
  const bool is_double = p.type == CUDNN_DATA_DOUBLE;
  std::vector<Perf> ran, failed;
  std::vector<Perf> all(static_cast<size_t>(algo_count(pass)));
  int listed = 0;
  fill_perfs<Perf, Algo>(pass, p, algo_count(pass), &listed, all.data());  // ids, determinism, math, memory
  for (int i = 0; i < listed; ++i) {
    Perf perf = all[i];
    const int algo = static_cast<int>(perf.algo);
    if (!is_supported(algo) || workspace_bytes(pass, algo, p) > ws_bytes) {
      perf.status = CUDNN_STATUS_NOT_SUPPORTED;
      perf.time = -1.0f;
      failed.push_back(perf);
      continue;
    }
    st = conv_call(call, pass, h, is_double ? static_cast<const void*>(&one_d) : &one_f,
                   is_double ? static_cast<const void*>(&zero_d) : &zero_f, xd, wd, cd, yd, o, algo, ws, ws_bytes);
    if (st != CUDNN_STATUS_SUCCESS) return st;  // bad operands or workspace: the call's message stands
    perf.time = modeled_ms(algo, p);
    ran.push_back(perf);
  }
  if (cudaStreamSynchronize(h->stream) != cudaSuccess)
    return fail(CUDNN_STATUS_EXECUTION_FAILED, call,
                "synchronising the handle's stream failed (a Find call during a stream capture ends the capture)");
  std::stable_sort(ran.begin(), ran.end(), [](const Perf& a, const Perf& b) { return a.time < b.time; });
  ran.insert(ran.end(), failed.begin(), failed.end());
  *returned = std::min(requested, static_cast<int>(ran.size()));
  std::copy(ran.begin(), ran.begin() + *returned, perfs);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t max_count(const char* call, Pass pass, cudnnHandle_t h, int* count) {
  const cudnnStatus_t st = check_handle(call, h);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  if (count == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, call, "count is null");
  *count = algo_count(pass);
  return CUDNN_STATUS_SUCCESS;
}

// C = alpha * A + beta * C, A broadcast over its dimensions of size 1.
template <class T>
void add_tensor(const View4& a, const T* pa, const View4& c, T* pc, T alpha, T beta) {
  auto a_index = [&](int64_t i, int dim) { return a.d[dim] == 1 ? 0 : i; };
  for (int64_t i0 = 0; i0 < c.d[0]; ++i0)
    for (int64_t i1 = 0; i1 < c.d[1]; ++i1)
      for (int64_t i2 = 0; i2 < c.d[2]; ++i2)
        for (int64_t i3 = 0; i3 < c.d[3]; ++i3) {
          const T av = pa[a.at(a_index(i0, 0), a_index(i1, 1), a_index(i2, 2), a_index(i3, 3))];
          store(pc[c.at(i0, i1, i2, i3)], av, alpha, beta);
        }
}

}  // namespace

// ---- library, handles, errors ---------------------------------------------------------------------

size_t cudnnGetVersion() { return CUDNN_VERSION; }

const char* cudnnGetErrorString(cudnnStatus_t status) {
  switch (status) {
    case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
    case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
    case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
  }
  return "CUDNN_UNKNOWN_STATUS_FOUND";
}

void cudnnGetLastErrorString(char* message, size_t max_size) {
  if (message == nullptr || max_size == 0) return;
  const size_t n = std::min(t_last_error.size(), max_size - 1);
  std::memcpy(message, t_last_error.data(), n);
  message[n] = '\0';
  t_last_error.clear();
}

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) { return create_object("cudnnCreate", handle); }

cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) {
  if (handle == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnDestroy", "the handle is null");
  return destroy_object("cudnnDestroy", handle);
}

cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t streamId) {
  const cudnnStatus_t st = check_handle("cudnnSetStream", handle);
  if (st == CUDNN_STATUS_SUCCESS) handle->stream = streamId;
  return st;
}

// ---- tensors and filters ----------------------------------------------------------------------------

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* tensorDesc) {
  return create_object("cudnnCreateTensorDescriptor", tensorDesc);
}

cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t tensorDesc) {
  return destroy_object("cudnnDestroyTensorDescriptor", tensorDesc);
}

namespace {
// Sets `d` to sizes `dims` with `strides` (elements), after cuDNN's checks.
cudnnStatus_t set_tensor(const char* call, cudnnTensorDescriptor_t d, cudnnDataType_t type, const int64_t dims[4],
                         const int64_t strides[4]) {
  if (!registry<cudnnTensorStruct>().is_live(d))
    return fail(CUDNN_STATUS_BAD_PARAM, call, "the descriptor is null or not a live tensor descriptor");
  const cudnnStatus_t st = check_type(call, type);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  for (int i = 0; i < 4; ++i)
    if (dims[i] <= 0 || strides[i] <= 0)
      return fail(CUDNN_STATUS_BAD_PARAM, call,
                  cat("dimension ", i, " has size ", dims[i], " and stride ", strides[i], "; both must be positive"));
  View4 v;
  for (int i = 0; i < 4; ++i) v.d[i] = dims[i], v.s[i] = strides[i];
  if (v.extent() > INT_MAX)
    return fail(CUDNN_STATUS_NOT_SUPPORTED, call, cat("the tensor spans ", v.extent(), " elements (at most 2^31 - 1)"));
  d->set = true;
  d->type = type;
  for (int i = 0; i < 4; ++i) d->dims[i] = dims[i], d->strides[i] = strides[i];
  return CUDNN_STATUS_SUCCESS;
}
}  // namespace

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t tensorDesc, cudnnTensorFormat_t format,
                                         cudnnDataType_t dataType, int n, int c, int h, int w) {
  const char* call = "cudnnSetTensor4dDescriptor";
  if (format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC)
    return fail(CUDNN_STATUS_BAD_PARAM, call, cat("format ", static_cast<int>(format), " is not NCHW or NHWC"));
  const int64_t dims[4] = {n, c, h, w};
  int64_t strides[4];
  packed_strides(format, dims, strides);
  for (int64_t& s : strides) s = std::max<int64_t>(s, 1);  // a zero size is reported by set_tensor
  return set_tensor(call, tensorDesc, dataType, dims, strides);
}

cudnnStatus_t cudnnSetTensor4dDescriptorEx(cudnnTensorDescriptor_t tensorDesc, cudnnDataType_t dataType, int n, int c,
                                           int h, int w, int nStride, int cStride, int hStride, int wStride) {
  const int64_t dims[4] = {n, c, h, w}, strides[4] = {nStride, cStride, hStride, wStride};
  return set_tensor("cudnnSetTensor4dDescriptorEx", tensorDesc, dataType, dims, strides);
}

cudnnStatus_t cudnnAddTensor(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t aDesc,
                             const void* A, const void* beta, const cudnnTensorDescriptor_t cDesc, void* C) {
  const char* call = "cudnnAddTensor";
  cudnnStatus_t st = check_handle(call, handle);
  if (st == CUDNN_STATUS_SUCCESS) st = check_set(call, "aDesc", aDesc);
  if (st == CUDNN_STATUS_SUCCESS) st = check_set(call, "cDesc", cDesc);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  if (aDesc->type != cDesc->type)
    return fail(CUDNN_STATUS_BAD_PARAM, call,
                cat("A is ", type_name(aDesc->type), " but C is ", type_name(cDesc->type)));
  for (int i = 0; i < 4; ++i)
    if (aDesc->dims[i] != 1 && aDesc->dims[i] != cDesc->dims[i])
      return fail(CUDNN_STATUS_BAD_PARAM, call,
                  cat("dimension ", i, " of A is ", aDesc->dims[i], ": it must be 1 or C's ", cDesc->dims[i]));
  const View4 a = view(*aDesc), c = view(*cDesc);
  const cudnnDataType_t type = cDesc->type;
  const size_t elem = type_size(type);
  if ((st = check_scalar(call, "alpha", alpha, elem)) != CUDNN_STATUS_SUCCESS ||
      (st = check_scalar(call, "beta", beta, elem)) != CUDNN_STATUS_SUCCESS ||
      (st = check_device(call, "A", A, a.extent(), type)) != CUDNN_STATUS_SUCCESS ||
      (st = check_device(call, "C", C, c.extent(), type)) != CUDNN_STATUS_SUCCESS)
    return st;
  if (type == CUDNN_DATA_DOUBLE) {
    const double al = *static_cast<const double*>(alpha), be = *static_cast<const double*>(beta);
    const auto* pa = static_cast<const double*>(A);
    auto* pc = static_cast<double*>(C);
    return enqueue(call, handle, [=] { add_tensor(a, pa, c, pc, al, be); });
  }
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  const auto* pa = static_cast<const float*>(A);
  auto* pc = static_cast<float*>(C);
  return enqueue(call, handle, [=] { add_tensor(a, pa, c, pc, al, be); });
}

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* filterDesc) {
  return create_object("cudnnCreateFilterDescriptor", filterDesc);
}

cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t filterDesc) {
  return destroy_object("cudnnDestroyFilterDescriptor", filterDesc);
}

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t filterDesc, cudnnDataType_t dataType,
                                         cudnnTensorFormat_t format, int k, int c, int h, int w) {
  const char* call = "cudnnSetFilter4dDescriptor";
  if (!registry<cudnnFilterStruct>().is_live(filterDesc))
    return fail(CUDNN_STATUS_BAD_PARAM, call, "the descriptor is null or not a live filter descriptor");
  const cudnnStatus_t st = check_type(call, dataType);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  if (format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC)
    return fail(CUDNN_STATUS_BAD_PARAM, call, cat("format ", static_cast<int>(format), " is not NCHW or NHWC"));
  if (k <= 0 || c <= 0 || h <= 0 || w <= 0)
    return fail(CUDNN_STATUS_BAD_PARAM, call,
                cat("filter [", k, ", ", c, ", ", h, ", ", w, "] has a non-positive size"));
  if (int64_t{k} * c * h * w > INT_MAX)
    return fail(CUDNN_STATUS_NOT_SUPPORTED, call, "the filter has more than 2^31 - 1 elements");
  filterDesc->set = true;
  filterDesc->type = dataType;
  filterDesc->format = format;
  filterDesc->dims[0] = k, filterDesc->dims[1] = c, filterDesc->dims[2] = h, filterDesc->dims[3] = w;
  return CUDNN_STATUS_SUCCESS;
}

// ---- convolutions -----------------------------------------------------------------------------------

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* convDesc) {
  return create_object("cudnnCreateConvolutionDescriptor", convDesc);
}

cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t convDesc) {
  return destroy_object("cudnnDestroyConvolutionDescriptor", convDesc);
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t convDesc, cudnnMathType_t mathType) {
  const char* call = "cudnnSetConvolutionMathType";
  if (!registry<cudnnConvolutionStruct>().is_live(convDesc))
    return fail(CUDNN_STATUS_BAD_PARAM, call, "the descriptor is null or not a live convolution descriptor");
  if (mathType != CUDNN_DEFAULT_MATH && mathType != CUDNN_TENSOR_OP_MATH &&
      mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION && mathType != CUDNN_FMA_MATH)
    return fail(CUDNN_STATUS_BAD_PARAM, call,
                cat("math type ", static_cast<int>(mathType), " is not a cudnnMathType_t"));
  convDesc->math = mathType;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t convDesc, int pad_h, int pad_w, int u,
                                              int v, int dilation_h, int dilation_w, cudnnConvolutionMode_t mode,
                                              cudnnDataType_t computeType) {
  const char* call = "cudnnSetConvolution2dDescriptor";
  if (!registry<cudnnConvolutionStruct>().is_live(convDesc))
    return fail(CUDNN_STATUS_BAD_PARAM, call, "the descriptor is null or not a live convolution descriptor");
  if (pad_h < 0 || pad_w < 0 || u <= 0 || v <= 0 || dilation_h <= 0 || dilation_w <= 0)
    return fail(CUDNN_STATUS_BAD_PARAM, call,
                cat("padding (", pad_h, ", ", pad_w, ") must be >= 0, stride (", u, ", ", v, ") and dilation (",
                    dilation_h, ", ", dilation_w, ") > 0"));
  if (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION)
    return fail(CUDNN_STATUS_BAD_PARAM, call, cat("mode ", static_cast<int>(mode), " is not a cudnnConvolutionMode_t"));
  const cudnnStatus_t st = check_type(call, computeType);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  convDesc->set = true;
  convDesc->pad[0] = pad_h, convDesc->pad[1] = pad_w;
  convDesc->stride[0] = u, convDesc->stride[1] = v;
  convDesc->dilation[0] = dilation_h, convDesc->dilation[1] = dilation_w;
  convDesc->mode = mode;
  convDesc->compute = computeType;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t convDesc,
                                                    const cudnnTensorDescriptor_t inputTensorDesc,
                                                    const cudnnFilterDescriptor_t filterDesc, int* n, int* c, int* h,
                                                    int* w) {
  const char* call = "cudnnGetConvolution2dForwardOutputDim";
  cudnnStatus_t st = check_set(call, "the convolution descriptor", convDesc);
  if (st == CUDNN_STATUS_SUCCESS) st = check_set(call, "the input descriptor", inputTensorDesc);
  if (st == CUDNN_STATUS_SUCCESS) st = check_set(call, "the filter descriptor", filterDesc);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  if (n == nullptr || c == nullptr || h == nullptr || w == nullptr)
    return fail(CUDNN_STATUS_BAD_PARAM, call, "an output pointer is null");
  int64_t out[4];
  if ((st = output_dims(call, *convDesc, *inputTensorDesc, *filterDesc, out)) != CUDNN_STATUS_SUCCESS) return st;
  *n = static_cast<int>(out[0]), *c = static_cast<int>(out[1]), *h = static_cast<int>(out[2]),
  *w = static_cast<int>(out[3]);
  return CUDNN_STATUS_SUCCESS;
}

// ---- forward ------------------------------------------------------------------------------------------

cudnnStatus_t cudnnGetConvolutionForwardAlgorithmMaxCount(cudnnHandle_t handle, int* count) {
  return max_count("cudnnGetConvolutionForwardAlgorithmMaxCount", Pass::Forward, handle, count);
}

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
                                                     const cudnnFilterDescriptor_t filterDesc,
                                                     const cudnnConvolutionDescriptor_t convDesc,
                                                     const cudnnTensorDescriptor_t destDesc,
                                                     const int requestedAlgoCount, int* returnedAlgoCount,
                                                     cudnnConvolutionFwdAlgoPerf_t* perfResults) {
  return algorithm_query<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(
      "cudnnGetConvolutionForwardAlgorithm_v7", Pass::Forward, handle, srcDesc, filterDesc, convDesc, destDesc,
      requestedAlgoCount, returnedAlgoCount, perfResults);
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
                                                      const cudnnFilterDescriptor_t wDesc,
                                                      const cudnnConvolutionDescriptor_t convDesc,
                                                      const cudnnTensorDescriptor_t yDesc,
                                                      cudnnConvolutionFwdAlgo_t algo, size_t* sizeInBytes) {
  return workspace_query("cudnnGetConvolutionForwardWorkspaceSize", Pass::Forward, handle, xDesc, wDesc, convDesc,
                         yDesc, algo, sizeInBytes);
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t xDesc,
                                      const void* x, const cudnnFilterDescriptor_t wDesc, const void* w,
                                      const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionFwdAlgo_t algo,
                                      void* workSpace, size_t workSpaceSizeInBytes, const void* beta,
                                      const cudnnTensorDescriptor_t yDesc, void* y) {
  return conv_call("cudnnConvolutionForward", Pass::Forward, handle, alpha, beta, xDesc, wDesc, convDesc, yDesc,
                   {x, w, y}, algo, workSpace, workSpaceSizeInBytes);
}

cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
                                                     const void* x, const cudnnFilterDescriptor_t wDesc,
                                                     const void* w, const cudnnConvolutionDescriptor_t convDesc,
                                                     const cudnnTensorDescriptor_t yDesc, void* y,
                                                     const int requestedAlgoCount, int* returnedAlgoCount,
                                                     cudnnConvolutionFwdAlgoPerf_t* perfResults, void* workSpace,
                                                     size_t workSpaceSizeInBytes) {
  return find_ex<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(
      "cudnnFindConvolutionForwardAlgorithmEx", Pass::Forward, handle, xDesc, wDesc, convDesc, yDesc, {x, w, y},
      requestedAlgoCount, returnedAlgoCount, perfResults, workSpace, workSpaceSizeInBytes);
}

// ---- backward data ------------------------------------------------------------------------------------

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithmMaxCount(cudnnHandle_t handle, int* count) {
  return max_count("cudnnGetConvolutionBackwardDataAlgorithmMaxCount", Pass::BackwardData, handle, count);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t handle,
                                                          const cudnnFilterDescriptor_t filterDesc,
                                                          const cudnnTensorDescriptor_t diffDesc,
                                                          const cudnnConvolutionDescriptor_t convDesc,
                                                          const cudnnTensorDescriptor_t gradDesc,
                                                          const int requestedAlgoCount, int* returnedAlgoCount,
                                                          cudnnConvolutionBwdDataAlgoPerf_t* perfResults) {
  return algorithm_query<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(
      "cudnnGetConvolutionBackwardDataAlgorithm_v7", Pass::BackwardData, handle, gradDesc, filterDesc, convDesc,
      diffDesc, requestedAlgoCount, returnedAlgoCount, perfResults);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc,
                                                           const cudnnTensorDescriptor_t dyDesc,
                                                           const cudnnConvolutionDescriptor_t convDesc,
                                                           const cudnnTensorDescriptor_t dxDesc,
                                                           cudnnConvolutionBwdDataAlgo_t algo, size_t* sizeInBytes) {
  return workspace_query("cudnnGetConvolutionBackwardDataWorkspaceSize", Pass::BackwardData, handle, dxDesc, wDesc,
                         convDesc, dyDesc, algo, sizeInBytes);
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void* alpha,
                                           const cudnnFilterDescriptor_t wDesc, const void* w,
                                           const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                           const cudnnConvolutionDescriptor_t convDesc,
                                           cudnnConvolutionBwdDataAlgo_t algo, void* workSpace,
                                           size_t workSpaceSizeInBytes, const void* beta,
                                           const cudnnTensorDescriptor_t dxDesc, void* dx) {
  return conv_call("cudnnConvolutionBackwardData", Pass::BackwardData, handle, alpha, beta, dxDesc, wDesc, convDesc,
                   dyDesc, {dx, w, dy}, algo, workSpace, workSpaceSizeInBytes);
}

cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const void* w, const cudnnTensorDescriptor_t dyDesc,
    const void* dy, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc, void* dx,
    const int requestedAlgoCount, int* returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t* perfResults,
    void* workSpace, size_t workSpaceSizeInBytes) {
  return find_ex<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(
      "cudnnFindConvolutionBackwardDataAlgorithmEx", Pass::BackwardData, handle, dxDesc, wDesc, convDesc, dyDesc,
      {dx, w, dy}, requestedAlgoCount, returnedAlgoCount, perfResults, workSpace, workSpaceSizeInBytes);
}

// ---- backward filter ----------------------------------------------------------------------------------

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(cudnnHandle_t handle, int* count) {
  return max_count("cudnnGetConvolutionBackwardFilterAlgorithmMaxCount", Pass::BackwardFilter, handle, count);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
                                                            const cudnnTensorDescriptor_t diffDesc,
                                                            const cudnnConvolutionDescriptor_t convDesc,
                                                            const cudnnFilterDescriptor_t gradDesc,
                                                            const int requestedAlgoCount, int* returnedAlgoCount,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t* perfResults) {
  return algorithm_query<cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(
      "cudnnGetConvolutionBackwardFilterAlgorithm_v7", Pass::BackwardFilter, handle, srcDesc, gradDesc, convDesc,
      diffDesc, requestedAlgoCount, returnedAlgoCount, perfResults);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
                                                             const cudnnTensorDescriptor_t dyDesc,
                                                             const cudnnConvolutionDescriptor_t convDesc,
                                                             const cudnnFilterDescriptor_t gradDesc,
                                                             cudnnConvolutionBwdFilterAlgo_t algo,
                                                             size_t* sizeInBytes) {
  return workspace_query("cudnnGetConvolutionBackwardFilterWorkspaceSize", Pass::BackwardFilter, handle, xDesc,
                         gradDesc, convDesc, dyDesc, algo, sizeInBytes);
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void* alpha,
                                             const cudnnTensorDescriptor_t xDesc, const void* x,
                                             const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                             const cudnnConvolutionDescriptor_t convDesc,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void* workSpace,
                                             size_t workSpaceSizeInBytes, const void* beta,
                                             const cudnnFilterDescriptor_t dwDesc, void* dw) {
  return conv_call("cudnnConvolutionBackwardFilter", Pass::BackwardFilter, handle, alpha, beta, xDesc, dwDesc,
                   convDesc, dyDesc, {x, dw, dy}, algo, workSpace, workSpaceSizeInBytes);
}

cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void* x, const cudnnTensorDescriptor_t dyDesc,
    const void* dy, const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t dwDesc, void* dw,
    const int requestedAlgoCount, int* returnedAlgoCount, cudnnConvolutionBwdFilterAlgoPerf_t* perfResults,
    void* workSpace, size_t workSpaceSizeInBytes) {
  return find_ex<cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(
      "cudnnFindConvolutionBackwardFilterAlgorithmEx", Pass::BackwardFilter, handle, xDesc, dwDesc, convDesc, dyDesc,
      {x, dw, dy}, requestedAlgoCount, returnedAlgoCount, perfResults, workSpace, workSpaceSizeInBytes);
}
