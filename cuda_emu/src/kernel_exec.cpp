// cuda_emu's kernel executor: a grid's blocks one after the other, each block's threads as
// fibers on the calling OS thread (a register-saving stack switch on x86-64, ucontext elsewhere).
//
// A fiber runs until it finishes or reaches a barrier (__syncthreads, a warp collective); the
// scheduler then resumes the next one. When every thread of the block waits at __syncthreads,
// they all go on; when every lane a warp collective names has arrived, those lanes go on. A
// barrier that can never complete (some threads exited or wait elsewhere) is a fault: CUDA calls
// that undefined behaviour, and here it stops the grid with a message naming the threads.
//
// Speed: the first block a kernel (instantiation) ever runs uses fibers; if none of its threads
// reached a barrier, every later block of that kernel calls its threads one after the other as
// plain functions, without context switches (atebm_tests_cuda, 392 tests at -O1: 2.9 s, 3.2 s
// with fibers throughout). Should such a kernel reach a barrier after all (a path its first block never
// took), that is reported as a fault naming CUDA_EMU_FIBERS=1, which runs every block with fibers.
//
// Order: blocks run in increasing index and, between barriers, threads too; CUDA_EMU_ORDER=reverse
// runs both in decreasing order, so a kernel that depends on the order (a missing barrier, blocks
// racing on one output) gives a different answer under one of the two. By default the threads
// take turns barrier by barrier, warp collectives included, so warps stay nearly in step;
// CUDA_EMU_SCHEDULE=warp runs one warp alone until it reaches __syncthreads, then the next, so a
// warp that writes shared memory another warp has not finished reading (a missing barrier
// between warps) shows up.
//
// Warp shuffles exchange through two slot arrays used alternately (by the collective's
// generation), so a lane that is one collective ahead never overwrites what a slower lane still
// reads; it cannot get two ahead, because the next collective waits for everyone.
#include <sys/mman.h>
#include <unistd.h>
#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "cuda_pipeline_primitives.h"
#include "cuda_runtime.h"
#include "internal.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define CUDA_EMU_START_SWITCH(save, bottom, size) __sanitizer_start_switch_fiber(save, bottom, size)
#define CUDA_EMU_FINISH_SWITCH(save, bottom, size) __sanitizer_finish_switch_fiber(save, bottom, size)
#else
// Outside AddressSanitizer builds the annotations of a stack switch do nothing.
#define CUDA_EMU_START_SWITCH(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#define CUDA_EMU_FINISH_SWITCH(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#endif

namespace cuda_emu {
namespace {

constexpr size_t kStackBytes = 256 * 1024;

struct TrapSignal {};
struct DirectModeBarrier {};

enum class FiberState { ready, at_syncthreads, at_warp, done };

// ---- switching stacks ------------------------------------------------------------------------
// A fiber's saved context. On x86-64 a switch pushes the callee-saved registers and the SSE/x87
// control words on the old stack, stores its stack pointer, loads the other one and pops them:
// about twenty instructions, where glibc's swapcontext also makes a system call (the signal
// mask) per switch, which was most of the emulator's run time. Elsewhere: ucontext.
#if defined(__x86_64__)
extern "C" void cuda_emu_switch_stack(void** save_sp, void* load_sp);
asm(R"(
  .pushsection .text
  .globl cuda_emu_switch_stack
  .type cuda_emu_switch_stack, @function
cuda_emu_switch_stack:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size cuda_emu_switch_stack, .-cuda_emu_switch_stack
  .popsection
)");

struct Context {
  void* sp = nullptr;
};

// A context that starts `entry` (which must never return) on the stack [stack, stack + size).
// The stack is laid out as cuda_emu_switch_stack leaves one: control words, six registers
// (zero), then `entry` as the return address; the word above it keeps the 16-byte alignment
// a called function expects.
void make_context(Context& c, char* stack, size_t size, void (*entry)()) {
#if defined(__SANITIZE_ADDRESS__)
  // The previous fiber on this stack never returned from fiber_main: clear its frames' poison.
  ASAN_UNPOISON_MEMORY_REGION(stack, size);
#endif
  auto* top = reinterpret_cast<uint64_t*>((reinterpret_cast<uintptr_t>(stack) + size) & ~uintptr_t{15});
  uint64_t* sp = top - 9;
  uint32_t mxcsr = 0;
  uint16_t fpcw = 0;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpcw));
  sp[0] = mxcsr | (uint64_t{fpcw} << 32);
  for (int k = 1; k <= 6; ++k) sp[k] = 0;  // r15, r14, r13, r12, rbx, rbp
  sp[7] = reinterpret_cast<uint64_t>(entry);
  sp[8] = 0;
  c.sp = sp;
}

void switch_context(Context& from, const Context& to) { cuda_emu_switch_stack(&from.sp, to.sp); }
#else
struct Context {
  ucontext_t uc{};
};

// Not inlined: getcontext "returns twice" for GCC, which would then warn about the caller's
// locals (it never does return twice here: makecontext sends the context to `entry`).
[[gnu::noinline]] void make_context(Context& c, char* stack, size_t size, void (*entry)()) {
  getcontext(&c.uc);
  c.uc.uc_stack.ss_sp = stack;
  c.uc.uc_stack.ss_size = size;
  c.uc.uc_link = nullptr;  // entry never returns
  makecontext(&c.uc, entry, 0);
}

void switch_context(Context& from, const Context& to) { swapcontext(&from.uc, &to.uc); }
#endif

struct Fiber {
  Context ctx;
  char* stack = nullptr;  // kStackBytes plus a guard page below
  FiberState state = FiberState::ready;
};

struct Warp {
  unsigned arrived = 0;  // lanes waiting at the current collective
  unsigned mask = 0;     // the lanes it names (from the first lane to arrive)
  uint64_t generation = 0;
  std::array<std::array<uint64_t, 32>, 2> slots{};
};

// A thread's cp.async copies (cuda_pipeline_primitives.h): the open batch and the committed
// groups, oldest first.
struct AsyncCopy {
  void* dst;
  const void* src;
  size_t size, zfill;
};
struct ThreadCopies {
  std::vector<AsyncCopy> open;
  std::deque<std::vector<AsyncCopy>> committed;
};

// The result of a warp-wide operation at one collective (warp_result_store).
struct WarpResult {
  uint64_t generation = ~uint64_t{0};
  std::vector<unsigned char> inputs, out;
};

struct BlockRun {
  const std::function<void()>* body = nullptr;
  unsigned threads = 0;
  dim3 block;
  Context scheduler;
  unsigned current = 0;
  bool direct = false;        // threads run as plain calls: no barrier may be reached
  bool saw_barrier = false;
  bool reverse = false;       // CUDA_EMU_ORDER=reverse: threads and blocks in decreasing order
  bool warp_at_a_time = false;  // CUDA_EMU_SCHEDULE=warp: each warp runs alone up to __syncthreads
  const void* scheduler_stack = nullptr;  // for AddressSanitizer's stack-switch annotations
  size_t scheduler_stack_size = 0;
  std::vector<Warp> warps;
  std::vector<ThreadCopies> copies;  // per thread; empty until the block's first cp.async
  std::vector<WarpResult> results;   // per warp
  std::string fault;  // the first fault of the block
  unsigned char* dynamic_shared = nullptr;  // the launch's dynamic shared memory (128-byte aligned)
};

thread_local BlockRun* t_run = nullptr;
thread_local std::vector<Fiber> t_fibers;  // stacks kept for the next block and launch

char* new_stack() {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* p = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) {
    std::fprintf(stderr, "cuda_emu: cannot map a %zu-byte fiber stack\n", kStackBytes);
    std::abort();
  }
  mprotect(p, page, PROT_NONE);  // overflowing a thread's stack faults instead of corrupting
  return static_cast<char*>(p) + page;
}

uint3 thread_index(unsigned linear, dim3 b) { return {linear % b.x, (linear / b.x) % b.y, linear / (b.x * b.y)}; }

std::string describe(uint3 t) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "(%u,%u,%u)", t.x, t.y, t.z);
  return buf;
}

void record_fault(BlockRun& run, const std::string& what) {
  if (run.fault.empty()) run.fault = what;
}

void fiber_main() {
  BlockRun& run = *t_run;
  CUDA_EMU_FINISH_SWITCH(nullptr, &run.scheduler_stack, &run.scheduler_stack_size);
  const unsigned me = run.current;
  try {
    (*run.body)();
  } catch (const TrapSignal&) {
    record_fault(run, "thread " + describe(thread_index(me, run.block)) + " called __trap()");
  } catch (const std::exception& e) {
    record_fault(run, "thread " + describe(thread_index(me, run.block)) + " threw: " + e.what());
  } catch (...) {
    record_fault(run, "thread " + describe(thread_index(me, run.block)) + " threw a non-standard exception");
  }
  Fiber& f = t_fibers[me];
  f.state = FiberState::done;
  // Back to the scheduler for good (nullptr: this fiber's stack is finished).
  CUDA_EMU_START_SWITCH(nullptr, run.scheduler_stack, run.scheduler_stack_size);
  switch_context(f.ctx, run.scheduler);
  std::abort();  // a finished fiber is never resumed
}

void wait_here(FiberState why) {
  BlockRun& run = *t_run;
  Fiber& f = t_fibers[run.current];
  f.state = why;
  void* fake_stack = nullptr;
  CUDA_EMU_START_SWITCH(&fake_stack, run.scheduler_stack, run.scheduler_stack_size);
  switch_context(f.ctx, run.scheduler);
  CUDA_EMU_FINISH_SWITCH(fake_stack, &run.scheduler_stack, &run.scheduler_stack_size);
}

void land(const AsyncCopy& c) {
  if (c.size > c.zfill) std::memcpy(c.dst, c.src, c.size - c.zfill);
  std::memset(static_cast<char*>(c.dst) + (c.size - c.zfill), 0, c.zfill);
}

bool eager_copies() {
  static const bool eager = env_is("CUDA_EMU_CP_ASYNC", "eager");
  return eager;
}

BlockRun& kernel_run(const char* what) {
  if (t_run == nullptr) {
    std::fprintf(stderr, "cuda_emu: %s called outside a kernel\n", what);
    std::abort();
  }
  return *t_run;
}

BlockRun& current_run(const char* what) {
  BlockRun& run = kernel_run(what);
  run.saw_barrier = true;
  if (run.direct) {
    record_fault(run, std::string(what) +
                          " reached, but this kernel's first launch reached none, so its threads now run without "
                          "fibers; run with CUDA_EMU_FIBERS=1");
    throw DirectModeBarrier{};
  }
  return run;
}

bool reverse_order() {
  static const bool reverse = env_is("CUDA_EMU_ORDER", "reverse");
  return reverse;
}

bool warp_at_a_time() {
  static const bool warp = env_is("CUDA_EMU_SCHEDULE", "warp");
  return warp;
}

bool always_fibers() {
  static const bool always = env_is("CUDA_EMU_FIBERS", "1");
  return always;
}

// Runs the block's threads one after the other as plain calls.
void run_block_direct(BlockRun& run) {
  for (unsigned k = 0; k < run.threads && run.fault.empty(); ++k) {
    const unsigned i = run.reverse ? run.threads - 1 - k : k;
    run.current = i;
    threadIdx = thread_index(i, run.block);
    try {
      (*run.body)();
    } catch (const TrapSignal&) {
      record_fault(run, "thread " + describe(thread_index(i, run.block)) + " called __trap()");
    } catch (const DirectModeBarrier&) {
    } catch (const std::exception& e) {
      record_fault(run, "thread " + describe(thread_index(i, run.block)) + " threw: " + e.what());
    }
  }
}

// Lets warp w's lanes go on when every lane its collective names has arrived.
bool release_warp(BlockRun& run, unsigned w) {
  Warp& warp = run.warps[w];
  if (warp.arrived == 0 || (warp.arrived & warp.mask) != warp.mask) return false;
  for (unsigned lane = 0; lane < 32; ++lane)
    if ((warp.mask >> lane) & 1u) t_fibers[w * 32 + lane].state = FiberState::ready;
  warp.arrived = 0;
  ++warp.generation;
  return true;
}

// One pass of the barrier bookkeeping: releases complete barriers, returns false when nothing
// can ever move again (a fault has been recorded then).
bool release_barriers(BlockRun& run) {
  unsigned done = 0, waiting_sync = 0, waiting_warp = 0;
  for (unsigned i = 0; i < run.threads; ++i) {
    switch (t_fibers[i].state) {
      case FiberState::done: ++done; break;
      case FiberState::at_syncthreads: ++waiting_sync; break;
      case FiberState::at_warp: ++waiting_warp; break;
      case FiberState::ready: return true;
    }
  }
  if (done == run.threads) return true;
  bool released = false;
  if (waiting_sync == run.threads) {
    for (unsigned i = 0; i < run.threads; ++i) t_fibers[i].state = FiberState::ready;
    return true;
  }
  for (unsigned w = 0; w < run.warps.size(); ++w) released = release_warp(run, w) || released;
  if (released) return true;
  // Stuck: describe who waits where.
  std::string what;
  if (waiting_sync > 0) {
    what = "__syncthreads() reached by " + std::to_string(waiting_sync) + " of " + std::to_string(run.threads) +
           " threads (" + std::to_string(done) + " had exited, " + std::to_string(waiting_warp) +
           " wait at a warp collective): a barrier in divergent code";
  } else {
    for (unsigned w = 0; w < run.warps.size() && what.empty(); ++w) {
      const Warp& warp = run.warps[w];
      if (warp.arrived != 0) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "warp %u: a collective with mask 0x%08x reached only by lanes 0x%08x", w,
                      warp.mask, warp.arrived);
        what = buf;
      }
    }
  }
  record_fault(run, what);
  return false;
}

// A fresh fiber per thread of the block.
void prepare_fibers(BlockRun& run) {
  if (t_fibers.size() < run.threads) t_fibers.resize(run.threads);
  for (unsigned i = 0; i < run.threads; ++i) {
    Fiber& f = t_fibers[i];
    if (f.stack == nullptr) f.stack = new_stack();
    make_context(f.ctx, f.stack, kStackBytes, fiber_main);
    f.state = FiberState::ready;
  }
}

void run_block(BlockRun& run) {
  prepare_fibers(run);
  run.warps.assign((run.threads + 31) / 32, Warp{});
  run.results.assign(run.warps.size(), WarpResult{});
  const unsigned warps = static_cast<unsigned>(run.warps.size());
  for (;;) {
    // Round robin: every ready thread runs to its next barrier, warp collectives included, so
    // the warps move nearly in step. Warp at a time: one warp runs alone (its collectives
    // released as they complete) until all its lanes wait at __syncthreads or have exited, then
    // the next warp: as far apart as CUDA lets warps drift between two block barriers.
    const unsigned groups = run.warp_at_a_time ? warps : 1;
    for (unsigned kg = 0; kg < groups; ++kg) {
      const unsigned g = run.reverse ? groups - 1 - kg : kg;
      const unsigned lo = run.warp_at_a_time ? g * 32 : 0;
      const unsigned hi = run.warp_at_a_time ? std::min(run.threads, lo + 32) : run.threads;
      do {
        for (unsigned k = lo; k < hi; ++k) {
          const unsigned i = run.reverse ? hi - 1 - (k - lo) : k;
          if (t_fibers[i].state != FiberState::ready) continue;
          run.current = i;
          threadIdx = thread_index(i, run.block);
          void* fake_stack = nullptr;
          CUDA_EMU_START_SWITCH(&fake_stack, t_fibers[i].stack, kStackBytes);
          switch_context(run.scheduler, t_fibers[i].ctx);
          CUDA_EMU_FINISH_SWITCH(fake_stack, nullptr, nullptr);
          if (!run.fault.empty()) return;  // stop at the first fault, like a trapped grid
        }
      } while (run.warp_at_a_time && release_warp(run, g));
    }
    bool all_done = true;
    for (unsigned i = 0; i < run.threads; ++i) all_done = all_done && t_fibers[i].state == FiberState::done;
    if (all_done) return;
    if (!release_barriers(run)) return;
  }
}

}  // namespace

void syncthreads() {
  (void)current_run("__syncthreads()");
  wait_here(FiberState::at_syncthreads);
}

int lane_id() {
  if (t_run == nullptr) {
    std::fprintf(stderr, "cuda_emu: a warp intrinsic called outside a kernel\n");
    std::abort();
  }
  return static_cast<int>(t_run->current % 32);
}

uint64_t shuffle(unsigned mask, uint64_t bits, int src_lane) {
  BlockRun& run = current_run("a warp shuffle");
  const unsigned me = run.current, lane = me % 32, w = me / 32;
  Warp& warp = run.warps[w];
  const unsigned present = (w + 1) * 32 <= run.threads ? 0xffffffffu : ((1u << (run.threads - w * 32)) - 1u);
  if (((mask >> lane) & 1u) == 0 || (mask & ~present) != 0 || (warp.arrived != 0 && warp.mask != mask)) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "warp %u lane %u: a collective with mask 0x%08x (lanes present 0x%08x, other lanes used 0x%08x)", w,
                  lane, mask, present, warp.arrived != 0 ? warp.mask : mask);
    record_fault(run, buf);
    wait_here(FiberState::at_warp);  // never released: the block stops at the fault
  }
  const uint64_t gen = warp.generation;
  if (warp.arrived == 0) warp.mask = mask;
  warp.arrived |= 1u << lane;
  warp.slots[gen % 2][lane] = bits;
  wait_here(FiberState::at_warp);
  if (src_lane < 0 || src_lane >= 32 || ((mask >> src_lane) & 1u) == 0) return bits;
  return run.warps[w].slots[gen % 2][static_cast<unsigned>(src_lane)];
}

void syncwarp(unsigned mask) { (void)shuffle(mask, 0, -1); }

void trap() { throw TrapSignal{}; }

bool warp_result_lookup(const void* inputs, size_t in_bytes, void* out, size_t out_bytes) {
  BlockRun& run = kernel_run("a warp-wide operation");
  const unsigned w = run.current / 32;
  if (run.direct || w >= run.results.size()) return false;
  const WarpResult& r = run.results[w];
  if (r.generation != run.warps[w].generation) return false;
  if (r.inputs.size() != in_bytes || std::memcmp(r.inputs.data(), inputs, in_bytes) != 0 || r.out.size() != out_bytes) {
    record_fault(run, "thread " + describe(thread_index(run.current, run.block)) +
                          ": the lanes of a warp-wide operation (WMMA) hold different operands");
    throw TrapSignal{};
  }
  std::memcpy(out, r.out.data(), out_bytes);
  return true;
}

void warp_result_store(const void* inputs, size_t in_bytes, const void* out, size_t out_bytes) {
  BlockRun& run = kernel_run("a warp-wide operation");
  const unsigned w = run.current / 32;
  if (run.direct || w >= run.results.size()) return;
  WarpResult& r = run.results[w];
  r.generation = run.warps[w].generation;
  r.inputs.assign(static_cast<const unsigned char*>(inputs), static_cast<const unsigned char*>(inputs) + in_bytes);
  r.out.assign(static_cast<const unsigned char*>(out), static_cast<const unsigned char*>(out) + out_bytes);
}

void pipeline_memcpy_async(void* dst, const void* src, size_t size, size_t zfill) {
  BlockRun& run = kernel_run("__pipeline_memcpy_async");
  const auto misaligned = [size](const void* p) { return reinterpret_cast<uintptr_t>(p) % size != 0; };
  std::string bad;
  if (size != 4 && size != 8 && size != 16) {
    bad = "size " + std::to_string(size) + " (expected 4, 8 or 16)";
  } else if (zfill > size) {
    bad = "zfill " + std::to_string(zfill) + " > size " + std::to_string(size);
  } else if (misaligned(dst) || misaligned(src)) {
    bad = "a pointer not aligned to the size " + std::to_string(size);
  } else if (zfill < size && !is_device_range(src, size - zfill)) {
    bad = "a source outside live device memory";
  } else if (is_device_range(dst, 1)) {
    bad = "a destination in device memory (it must be shared memory)";
  }
  if (!bad.empty()) {
    record_fault(run, "thread " + describe(thread_index(run.current, run.block)) + ": __pipeline_memcpy_async with " +
                          bad);
    throw TrapSignal{};
  }
  const AsyncCopy c{dst, src, size, zfill};
  if (eager_copies()) {
    land(c);
    return;
  }
  if (run.copies.empty()) run.copies.resize(run.threads);
  run.copies[run.current].open.push_back(c);
}

void pipeline_commit() {
  BlockRun& run = kernel_run("__pipeline_commit");
  if (run.copies.empty()) run.copies.resize(run.threads);
  ThreadCopies& mine = run.copies[run.current];
  mine.committed.push_back(std::move(mine.open));
  mine.open.clear();
}

void pipeline_wait_prior(size_t prior) {
  BlockRun& run = kernel_run("__pipeline_wait_prior");
  if (run.copies.empty()) return;
  ThreadCopies& mine = run.copies[run.current];
  while (mine.committed.size() > prior) {
    for (const AsyncCopy& c : mine.committed.front()) land(c);
    mine.committed.pop_front();
  }
}

unsigned char* dynamic_shared_memory() { return kernel_run("dynamic shared memory").dynamic_shared; }

void run_grid(const LaunchConfig& config, const std::function<void()>& body) {
  BlockRun run;
  // One buffer per launch, refilled for each block: what a block reads before it writes is NaN.
  const size_t shared_bytes = (config.shared_bytes + 127) / 128 * 128;
  std::unique_ptr<unsigned char, decltype(&std::free)> shared(
      static_cast<unsigned char*>(shared_bytes > 0 ? std::aligned_alloc(128, shared_bytes) : nullptr), &std::free);
  run.dynamic_shared = shared.get();
  run.body = &body;
  run.block = config.block;
  run.threads = config.block.x * config.block.y * config.block.z;
  run.direct = !always_fibers() && config.uses_barriers != nullptr && config.uses_barriers->load() == 0;
  run.reverse = reverse_order();
  run.warp_at_a_time = warp_at_a_time();
  BlockRun* const outer = t_run;
  const uint3 saved_thread = threadIdx, saved_block = blockIdx;
  const dim3 saved_block_dim = blockDim, saved_grid_dim = gridDim;
  t_run = &run;
  blockDim = config.block;
  gridDim = config.grid;
  const dim3 g = config.grid;
  auto pick = [&](unsigned k, unsigned n) { return run.reverse ? n - 1 - k : k; };
  for (unsigned kz = 0; kz < g.z && run.fault.empty(); ++kz)
    for (unsigned ky = 0; ky < g.y && run.fault.empty(); ++ky)
      for (unsigned kx = 0; kx < g.x && run.fault.empty(); ++kx) {
        const unsigned x = pick(kx, g.x), y = pick(ky, g.y), z = pick(kz, g.z);
        blockIdx = {x, y, z};
        run.copies.clear();  // a previous block's pending copies are dropped, never landed
        if (shared) std::memset(shared.get(), 0xFF, shared_bytes);
        if (run.direct) {
          run_block_direct(run);
        } else {
          run_block(run);
          // The first block decides for the kernel: without barriers, the rest runs directly.
          if (run.fault.empty() && config.uses_barriers != nullptr && config.uses_barriers->load() == -1) {
            config.uses_barriers->store(run.saw_barrier ? 1 : 0);
            run.direct = !run.saw_barrier && !always_fibers();
          }
        }
        if (!run.fault.empty()) {
          std::fprintf(stderr, "cuda_emu: kernel fault in %s, block (%u,%u,%u): %s\n", config.kernel, x, y, z,
                       run.fault.c_str());
          set_sticky_error(cudaErrorLaunchFailure);
        }
      }
  t_run = outer;
  threadIdx = saved_thread;
  blockIdx = saved_block;
  blockDim = saved_block_dim;
  gridDim = saved_grid_dim;
}

}  // namespace cuda_emu
