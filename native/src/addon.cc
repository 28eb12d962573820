// mnist_native: CPU kernels for TensorFlow.js over oneDNN (convolutions), a GEMM (dense layers) and
// plain loops (max-pooling), called by src/ml/kernels/native/ on Float32Arrays that view the wasm
// backend's heap: the kernels read their inputs and write their outputs in place, no copies.
//
// Layouts are TensorFlow.js's: activations NHWC, filters HWIO ([kh, kw, in, out]), matrices
// row-major. oneDNN runs on NHWC activations directly (its AVX-512 kernels support it); only the
// filters, which are small, are reordered into the blocked layout oneDNN picks.
// Every call is synchronous and runs on the OpenMP thread pool sized by setThreads().
#include <napi.h>

#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

// The hand-written loops (pooling, batch norm) are compiled for AVX-512, AVX2 and baseline x86-64,
// picked at load time: the addon is built without -march so that it runs on any x86-64, and these
// loops are where wide vectors pay. No OpenMP inside a cloned function: GCC outlines a parallel body
// into a function of its own, without the clone's target; the callers split the work instead.
#define SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

dnnl::engine& eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
// Per calling thread (the main thread, or each worker thread of an inference pool): the cache
// below holds scratch weights that two concurrent calls must not share.
dnnl::stream& strm() {
  thread_local dnnl::stream s(eng());
  return s;
}

float* f32(const Napi::Value& v) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(v.Env(), "expected a Float32Array");
  }
  return v.As<Napi::Float32Array>().Data();
}

std::vector<int32_t> ints(const Napi::Value& v) {
  auto a = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

// Convolution geometry, in the order src/ml/kernels/native/addon.ts packs it from tfjs's Conv2DInfo.
struct Conv {
  int n, h, w, c, kh, kw, oc, oh, ow, sh, sw, pt, pl, pb, pr, dh, dw;
  explicit Conv(const std::vector<int32_t>& p) {
    if (p.size() != 17) throw std::invalid_argument("conv geometry needs 17 values");
    int* f = &n;
    for (int i = 0; i < 17; i++) f[i] = p[i];
  }
  memory::desc src() const { return {{n, c, h, w}, dt::f32, tag::nhwc}; }
  memory::desc dst() const { return {{n, oc, oh, ow}, dt::f32, tag::nhwc}; }
  memory::desc userWeights() const { return {{oc, c, kh, kw}, dt::f32, tag::hwio}; }
  memory::desc anyWeights() const { return {{oc, c, kh, kw}, dt::f32, tag::any}; }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims dilates() const { return {dh - 1, dw - 1}; }
  memory::dims padL() const { return {pt, pl}; }
  memory::dims padR() const { return {pb, pr}; }

  dnnl::convolution_forward::primitive_desc forward(bool bias, bool relu) const {
    memory::desc b = bias ? memory::desc({oc}, dt::f32, tag::x) : memory::desc();
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src(),
                                      anyWeights(), b, dst(), strides(), dilates(), padL(), padR());
    dnnl::primitive_attr attr;
    if (relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    return {d, attr, eng()};
  }
};

std::string key(char op, const std::vector<int32_t>& p, int extra = 0) {
  std::string k(1, op);
  k.append(reinterpret_cast<const char*>(p.data()), p.size() * sizeof(int32_t));
  k.append(reinterpret_cast<const char*>(&extra), sizeof extra);
  return k;
}

// A primitive with the weights memory in the layout it wants and the reorder between that layout
// and the user's HWIO filter (either direction). Cached per geometry: building a oneDNN primitive
// JIT-compiles code, far dearer than running it.
struct Entry {
  dnnl::primitive prim;
  memory::desc userW, primW;
  bool reorderW = false;
  dnnl::reorder reorder;  // user → prim (forward, backward data) or prim → user (backward weights)
  memory scratchW;        // the weights in the primitive's layout
  std::string impl;
};

std::unordered_map<std::string, std::unique_ptr<Entry>>& cache() {
  thread_local std::unordered_map<std::string, std::unique_ptr<Entry>> c;
  return c;
}

struct BnEntry;
std::unordered_map<std::string, std::unique_ptr<BnEntry>>& cache_bn();

void prepareWeights(Entry& e, const memory::desc& primW, const memory::desc& userW, bool toUser) {
  e.userW = userW;
  e.primW = primW;
  e.reorderW = primW != userW;
  if (e.reorderW) {
    e.scratchW = memory(primW, eng());
    memory u(userW, eng(), DNNL_MEMORY_NONE);
    e.reorder = toUser ? dnnl::reorder(e.scratchW, u) : dnnl::reorder(u, e.scratchW);
  }
}

Entry& convForward(const Conv& g, const std::vector<int32_t>& p, bool bias, bool relu) {
  auto& slot = cache()[key('F', p, bias * 2 + relu)];
  if (!slot) {
    auto e = std::make_unique<Entry>();
    auto pd = g.forward(bias, relu);
    e->prim = dnnl::convolution_forward(pd);
    prepareWeights(*e, pd.weights_desc(), g.userWeights(), false);
    e->impl = pd.impl_info_str();
    slot = std::move(e);
  }
  return *slot;
}

Entry& convBackwardData(const Conv& g, const std::vector<int32_t>& p) {
  auto& slot = cache()[key('D', p)];
  if (!slot) {
    auto e = std::make_unique<Entry>();
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, g.src(), g.anyWeights(), g.dst(),
                                            g.strides(), g.dilates(), g.padL(), g.padR());
    dnnl::convolution_backward_data::primitive_desc pd(d, eng(), g.forward(false, false));
    e->prim = dnnl::convolution_backward_data(pd);
    prepareWeights(*e, pd.weights_desc(), g.userWeights(), false);
    e->impl = pd.impl_info_str();
    slot = std::move(e);
  }
  return *slot;
}

Entry& convBackwardWeights(const Conv& g, const std::vector<int32_t>& p) {
  auto& slot = cache()[key('W', p)];
  if (!slot) {
    auto e = std::make_unique<Entry>();
    dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, g.src(), g.anyWeights(), g.dst(),
                                               g.strides(), g.dilates(), g.padL(), g.padR());
    dnnl::convolution_backward_weights::primitive_desc pd(d, eng(), g.forward(false, false));
    e->prim = dnnl::convolution_backward_weights(pd);
    prepareWeights(*e, pd.diff_weights_desc(), g.userWeights(), true);
    e->impl = pd.impl_info_str();
    slot = std::move(e);
  }
  return *slot;
}

template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F f) {
  try {
    return f();
  } catch (const dnnl::error& err) {
    throw Napi::Error::New(info.Env(), std::string("oneDNN: ") + err.what());
  } catch (const std::exception& err) {
    throw Napi::Error::New(info.Env(), err.what());
  }
}

// conv2d(x, filter, bias | null, y, geometry, relu): y = relu?(conv(x, filter) + bias).
Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    auto p = ints(info[4]);
    Conv g(p);
    bool bias = !info[2].IsNull() && !info[2].IsUndefined();
    Entry& e = convForward(g, p, bias, info[5].ToBoolean());
    memory src(g.src(), eng(), f32(info[0]));
    memory user(e.userW, eng(), f32(info[1]));
    memory dst(g.dst(), eng(), f32(info[3]));
    if (e.reorderW) e.reorder.execute(strm(), user, e.scratchW);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, e.reorderW ? e.scratchW : user}, {DNNL_ARG_DST, dst}};
    if (bias) args.insert({DNNL_ARG_BIAS, memory({{g.oc}, dt::f32, tag::x}, eng(), f32(info[2]))});
    e.prim.execute(strm(), args);
    strm().wait();
    return info.Env().Undefined();
  });
}

// conv2dBackpropInput(dy, filter, dx, geometry): dx = the gradient of conv(x, filter) w.r.t. x.
Napi::Value Conv2dBackpropInput(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    auto p = ints(info[3]);
    Conv g(p);
    Entry& e = convBackwardData(g, p);
    memory dy(g.dst(), eng(), f32(info[0]));
    memory user(e.userW, eng(), f32(info[1]));
    memory dx(g.src(), eng(), f32(info[2]));
    if (e.reorderW) e.reorder.execute(strm(), user, e.scratchW);
    e.prim.execute(strm(), {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WEIGHTS, e.reorderW ? e.scratchW : user}, {DNNL_ARG_DIFF_SRC, dx}});
    strm().wait();
    return info.Env().Undefined();
  });
}

// conv2dBackpropFilter(x, dy, dw, geometry): dw = the gradient of conv(x, filter) w.r.t. filter.
Napi::Value Conv2dBackpropFilter(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    auto p = ints(info[3]);
    Conv g(p);
    Entry& e = convBackwardWeights(g, p);
    memory x(g.src(), eng(), f32(info[0]));
    memory dy(g.dst(), eng(), f32(info[1]));
    memory user(e.userW, eng(), f32(info[2]));
    e.prim.execute(strm(), {{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, e.reorderW ? e.scratchW : user}});
    if (e.reorderW) e.reorder.execute(strm(), e.scratchW, user);
    strm().wait();
    return info.Env().Undefined();
  });
}

// The implementation oneDNN chose for a geometry ("F" forward, "D" backward data, "W" backward
// weights), e.g. "brg:avx512_core" or "jit:avx512_core"; for the benchmark and the tests ("ref"
// would mean a slow reference loop).
Napi::Value ConvImpl(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    std::string op = info[0].As<Napi::String>();
    auto p = ints(info[1]);
    Conv g(p);
    Entry& e = op == "F" ? convForward(g, p, false, false) : op == "D" ? convBackwardData(g, p) : convBackwardWeights(g, p);
    return Napi::String::New(info.Env(), e.impl);
  });
}

// matmul(a, b, c, [batchA, batchB, m, n, k, transA, transB, relu, gemm], bias | null):
// c[i] = relu?(op(a[i]) · op(b[i]) + bias) for each batch i, a or b broadcast when its batch is 1.
// gemm 0 = oneDNN's sgemm, 1 = OpenBLAS (bench/kernels.ts compares them).
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    const float* a = f32(info[0]);
    const float* b = f32(info[1]);
    float* c = f32(info[2]);
    auto p = ints(info[3]);
    if (p.size() != 9) throw std::invalid_argument("matmul needs 9 parameters");
    const int batchA = p[0], batchB = p[1], m = p[2], n = p[3], k = p[4];
    const bool ta = p[5], tb = p[6], relu = p[7];
    const int which = p[8];
    const bool bias = !info[4].IsNull() && !info[4].IsUndefined();
    const float* bv = bias ? f32(info[4]) : nullptr;
    const int batch = std::max(batchA, batchB);
    const int lda = ta ? m : k, ldb = tb ? k : n;
    for (int i = 0; i < batch; i++) {
      const float* ai = a + (batchA == 1 ? 0 : size_t(i) * m * k);
      const float* bi = b + (batchB == 1 ? 0 : size_t(i) * k * n);
      float* ci = c + size_t(i) * m * n;
      if (which == 1) {
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.f, ai, lda, bi,
                    ldb, 0.f, ci, n);
      } else {
        dnnl_status_t s = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.f, ai, lda, bi, ldb, 0.f, ci, n);
        if (s != dnnl_success) throw std::runtime_error("dnnl_sgemm failed");
      }
      if (bias || relu) {
#pragma omp parallel for if (size_t(m) * n > 16384)
        for (int r = 0; r < m; r++) {
          float* row = ci + size_t(r) * n;
          for (int j = 0; j < n; j++) {
            float v = row[j] + (bias ? bv[j] : 0.f);
            row[j] = relu && v < 0.f ? 0.f : v;
          }
        }
      }
    }
    return info.Env().Undefined();
  });
}

// Pooling geometry: [n, h, w, c, fh, fw, sh, sw, pt, pl, oh, ow, dh, dw].
struct Pool {
  int n, h, w, c, fh, fw, sh, sw, pt, pl, oh, ow, dh, dw;
  explicit Pool(const std::vector<int32_t>& p) {
    if (p.size() != 14) throw std::invalid_argument("pool geometry needs 14 values");
    int* f = &n;
    for (int i = 0; i < 14; i++) f[i] = p[i];
  }
};

// Max-pooling, forward and backward, as plain loops over channels that GCC vectorises (selects,
// not branches) for AVX-512, AVX2 and baseline x86-64 (target clones; no OpenMP inside a clone, see
// SIMD_CLONES). The earlier SSE2-intrinsics version took 0.95 ms forward and 1.7 ms backward per
// strong-cnn step (bench:profile); its selects were 4 lanes wide.

// Output rows [r0, r1) (r = b·oh + oy) of maxPool. Padding never wins (it counts as -inf), as in tfjs.
SIMD_CLONES void maxPoolRows(const float* __restrict x, float* __restrict y, const Pool& g, int r0, int r1) {
  const int C = g.c;
  for (int r = r0; r < r1; r++) {
    const int b = r / g.oh, oy = r % g.oh;
    for (int ox = 0; ox < g.ow; ox++) {
      float* out = y + (size_t(r) * g.ow + ox) * C;
      for (int ch = 0; ch < C; ch++) out[ch] = -std::numeric_limits<float>::infinity();
      for (int fy = 0; fy < g.fh; fy++) {
        const int iy = oy * g.sh - g.pt + fy * g.dh;
        if (iy < 0 || iy >= g.h) continue;
        for (int fx = 0; fx < g.fw; fx++) {
          const int ix = ox * g.sw - g.pl + fx * g.dw;
          if (ix < 0 || ix >= g.w) continue;
          const float* in = x + ((size_t(b) * g.h + iy) * g.w + ix) * C;
          for (int ch = 0; ch < C; ch++) out[ch] = in[ch] > out[ch] ? in[ch] : out[ch];
        }
      }
    }
  }
}

// Splits [0, n) across the OpenMP threads when the work (elements touched) is large enough.
template <typename F>
void parallelRanges(int n, size_t work, F f) {
  const int threads = work >= (size_t(1) << 17) ? std::max(1, std::min(omp_get_max_threads(), n)) : 1;
  if (threads == 1) {
    f(0, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    f(int(int64_t(n) * t / nt), int(int64_t(n) * (t + 1) / nt));
  }
}

// maxPool(x, y, geometry).
Napi::Value MaxPool(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    const float* x = f32(info[0]);
    float* y = f32(info[1]);
    Pool g(ints(info[2]));
    parallelRanges(g.n * g.oh, size_t(g.n) * g.h * g.w * g.c, [&](int r0, int r1) { maxPoolRows(x, y, g, r0, r1); });
    return info.Env().Undefined();
  });
}

// Images [b0, b1) of maxPoolGrad. Each window's gradient goes to its first maximum (row by row),
// which is where the tfjs cpu backend routes it when a window holds ties (and nowhere when the
// window holds only -inf or NaN). Two passes per window, written as selects so that they vectorise
// over channels (a branchy version measured 14 ns per element on random data, branch misses): the
// position of the first strict maximum, then dy to that position. Windows that do not overlap
// (stride ≥ filter, the usual 2×2 pooling) store into dx, overlapping ones add. best and where are
// per-thread scratch of C floats: the current window's maximum and its position (fy·fw + fx, as a
// float so that one mask selects both).
SIMD_CLONES void maxPoolGradImages(const float* __restrict dy, const float* __restrict x, float* __restrict dx, const Pool& g, int b0, int b1,
                                   float* __restrict best, float* __restrict where) {
  const int C = g.c;
  const size_t image = size_t(g.h) * g.w * C;
  const bool disjoint = g.sh >= (g.fh - 1) * g.dh + 1 && g.sw >= (g.fw - 1) * g.dw + 1;
  for (int b = b0; b < b1; b++) {
    float* dxb = dx + b * image;
    const float* xb = x + b * image;
    // Rows/columns no window covers stay zero.
    std::memset(dxb, 0, image * sizeof(float));
    for (int oy = 0; oy < g.oh; oy++) {
      for (int ox = 0; ox < g.ow; ox++) {
        for (int ch = 0; ch < C; ch++) {
          best[ch] = -std::numeric_limits<float>::infinity();
          where[ch] = -1.f;
        }
        for (int fy = 0; fy < g.fh; fy++) {
          const int iy = oy * g.sh - g.pt + fy * g.dh;
          if (iy < 0 || iy >= g.h) continue;
          for (int fx = 0; fx < g.fw; fx++) {
            const int ix = ox * g.sw - g.pl + fx * g.dw;
            if (ix < 0 || ix >= g.w) continue;
            const float* in = xb + (size_t(iy) * g.w + ix) * C;
            const float k = float(fy * g.fw + fx);
            for (int ch = 0; ch < C; ch++) {
              const bool gt = in[ch] > best[ch];  // false for NaN: NaN never wins
              best[ch] = gt ? in[ch] : best[ch];
              where[ch] = gt ? k : where[ch];
            }
          }
        }
        const float* d = dy + ((size_t(b) * g.oh + oy) * g.ow + ox) * C;
        for (int fy = 0; fy < g.fh; fy++) {
          const int iy = oy * g.sh - g.pt + fy * g.dh;
          if (iy < 0 || iy >= g.h) continue;
          for (int fx = 0; fx < g.fw; fx++) {
            const int ix = ox * g.sw - g.pl + fx * g.dw;
            if (ix < 0 || ix >= g.w) continue;
            float* out = dxb + (size_t(iy) * g.w + ix) * C;
            const float k = float(fy * g.fw + fx);
            if (disjoint) {
              for (int ch = 0; ch < C; ch++) out[ch] = where[ch] == k ? d[ch] : 0.f;
            } else {
              for (int ch = 0; ch < C; ch++) out[ch] += where[ch] == k ? d[ch] : 0.f;
            }
          }
        }
      }
    }
  }
}

// maxPoolGrad(dy, x, dx, geometry).
Napi::Value MaxPoolGrad(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    const float* dy = f32(info[0]);
    const float* x = f32(info[1]);
    float* dx = f32(info[2]);
    Pool g(ints(info[3]));
    const int padC = (g.c + 15) / 16 * 16;
    parallelRanges(g.n, size_t(g.n) * g.h * g.w * g.c, [&](int b0, int b1) {
      // 64-byte aligned, on this thread's own cache lines.
      std::vector<float> store(2 * padC + 16);
      float* best = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(store.data()) + 63) & ~uintptr_t(63));
      maxPoolGradImages(dy, x, dx, g, b0, b1, best, best + padC);
    });
    return info.Env().Undefined();
  });
}

// Batch normalization over the last axis of an NHWC (or [n, c]) tensor: rows = n·h·w, statistics
// per channel. The geometry is [n, h, w, c]; a 2-D [n, c] input is [n, 1, 1, c]. Training forward
// computes the batch's mean and (biased, like tf.moments) variance and normalizes with them; the
// backward pass is the full gradient through those statistics (what autodiff of tfjs's moments +
// batchNorm gives, in one call instead of ~25 kernels); inference normalizes with given statistics.
//   batchNormTrain(x, gamma, beta, y, mean, variance, geometry, eps, impl[, moving averages])
//   batchNormGrad(dy, x, gamma, mean, variance, dx, dgamma, dbeta, geometry, eps, impl)
//   batchNormInfer(x, mean, variance, gamma | null, beta | null, y, geometry, eps, impl)
// impl 0: the loops below; 1: oneDNN's batch_normalization primitives. The loops are the default:
// measured on strong-cnn's [64,12,12,32] with 2 threads on this shared 2-core machine, oneDNN's
// jit:avx512 kernel took 0.17 ms forward alone on one thread but 13–14 ms on two (its passes meet at
// spinning barriers; when the other core is busy the spinning thread waits out a time slice), while
// these tensors (≤ 5 MB) are one to three memory passes that one core does in ~0.1 ms each. The
// loops use a second thread only for large tensors, and then without barriers inside a pass.

// Elements from which a pass is split across the OpenMP threads.
constexpr size_t kBnParallel = size_t(1) << 20;


SIMD_CLONES void bnSum(const float* x, size_t r0, size_t r1, int C, double* acc) {
  for (size_t r = r0; r < r1; r++) {
    const float* row = x + r * C;
    for (int c = 0; c < C; c++) acc[c] += row[c];
  }
}

SIMD_CLONES void bnSqDev(const float* x, size_t r0, size_t r1, int C, const float* mean, double* acc) {
  for (size_t r = r0; r < r1; r++) {
    const float* row = x + r * C;
    for (int c = 0; c < C; c++) {
      const float d = row[c] - mean[c];
      acc[c] += d * d;
    }
  }
}

// y = x·a + b per channel.
SIMD_CLONES void bnAffine(const float* x, size_t r0, size_t r1, int C, const float* a, const float* b, float* y) {
  for (size_t r = r0; r < r1; r++) {
    const float* row = x + r * C;
    float* out = y + r * C;
    for (int c = 0; c < C; c++) out[c] = row[c] * a[c] + b[c];
  }
}

// Σ dy and Σ dy·(x − mean) per channel.
SIMD_CLONES void bnGradSums(const float* dy, const float* x, size_t r0, size_t r1, int C, const float* mean, double* sumDy, double* sumDyXm) {
  for (size_t r = r0; r < r1; r++) {
    const float* d = dy + r * C;
    const float* row = x + r * C;
    for (int c = 0; c < C; c++) {
      sumDy[c] += d[c];
      sumDyXm[c] += d[c] * (row[c] - mean[c]);
    }
  }
}

// dx = dy·a + (x − mean)·b + k per channel.
SIMD_CLONES void bnGradDx(const float* dy, const float* x, size_t r0, size_t r1, int C, const float* mean, const float* a, const float* b, const float* k, float* dx) {
  for (size_t r = r0; r < r1; r++) {
    const float* d = dy + r * C;
    const float* row = x + r * C;
    float* out = dx + r * C;
    for (int c = 0; c < C; c++) out[c] = d[c] * a[c] + (row[c] - mean[c]) * b[c] + k[c];
  }
}

// Runs f(r0, r1, thread) over row ranges: one range, or one per OpenMP thread for large tensors.
// Returns the number of ranges (the per-thread accumulators to combine).
template <typename F>
int bnRows(size_t rows, int C, F f) {
  const int threads = rows * C >= kBnParallel ? std::min<int>(omp_get_max_threads(), int(rows)) : 1;
  if (threads <= 1) {
    f(size_t(0), rows, 0);
    return 1;
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), n = omp_get_num_threads();
    f(rows * t / n, rows * (t + 1) / n, t);
  }
  return threads;
}

// Per-channel sums over rows of pass(r0, r1, acc), combined across threads in a fixed order.
template <typename Pass>
std::vector<double> bnReduce(size_t rows, int C, int slots, Pass pass) {
  const int maxThreads = std::max(1, omp_get_max_threads());
  std::vector<double> acc(size_t(maxThreads) * slots * C, 0.0);
  const int used = bnRows(rows, C, [&](size_t r0, size_t r1, int t) { pass(r0, r1, acc.data() + size_t(t) * slots * C); });
  for (int t = 1; t < used; t++) {
    for (int i = 0; i < slots * C; i++) acc[i] += acc[size_t(t) * slots * C + i];
  }
  acc.resize(size_t(slots) * C);
  return acc;
}

struct BnShape {
  size_t rows;
  int C;
  explicit BnShape(const std::vector<int32_t>& p) {
    if (p.size() != 4) throw std::invalid_argument("batch-norm geometry needs 4 values");
    rows = size_t(p[0]) * p[1] * p[2];
    C = p[3];
  }
};

void bnTrainLoops(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* var, const BnShape& g, float eps) {
  const int C = g.C;
  auto sums = bnReduce(g.rows, C, 1, [&](size_t r0, size_t r1, double* acc) { bnSum(x, r0, r1, C, acc); });
  for (int c = 0; c < C; c++) mean[c] = float(sums[c] / double(g.rows));
  // Two passes (mean, then squared deviations), as tf.moments computes it: no cancellation.
  auto sq = bnReduce(g.rows, C, 1, [&](size_t r0, size_t r1, double* acc) { bnSqDev(x, r0, r1, C, mean, acc); });
  std::vector<float> a(C), b(C);
  for (int c = 0; c < C; c++) {
    var[c] = float(sq[c] / double(g.rows));
    a[c] = gamma[c] / std::sqrt(var[c] + eps);
    b[c] = beta[c] - mean[c] * a[c];
  }
  bnRows(g.rows, C, [&](size_t r0, size_t r1, int) { bnAffine(x, r0, r1, C, a.data(), b.data(), y); });
}

// With x̂ = (x − mean)·s, s = 1/√(var + eps), R rows:
//   dβ = Σ dy, dγ = Σ dy·x̂, dx = γ·s·(dy − dβ/R − x̂·dγ/R).
void bnGradLoops(const float* dy, const float* x, const float* gamma, const float* mean, const float* var, float* dx, float* dgamma, float* dbeta, const BnShape& g, float eps) {
  const int C = g.C;
  auto sums = bnReduce(g.rows, C, 2, [&](size_t r0, size_t r1, double* acc) { bnGradSums(dy, x, r0, r1, C, mean, acc, acc + C); });
  std::vector<float> a(C), b(C), k(C);
  const double R = double(g.rows);
  for (int c = 0; c < C; c++) {
    const double s = 1.0 / std::sqrt(double(var[c]) + double(eps));
    const double sumDy = sums[c], sumDyXm = sums[C + c];
    dbeta[c] = float(sumDy);
    dgamma[c] = float(sumDyXm * s);
    const double gs = double(gamma[c]) * s;
    a[c] = float(gs);
    b[c] = float(-gs * s * s * sumDyXm / R);
    k[c] = float(-gs * sumDy / R);
  }
  bnRows(g.rows, C, [&](size_t r0, size_t r1, int) { bnGradDx(dy, x, r0, r1, C, mean, a.data(), b.data(), k.data(), dx); });
}

void bnInferLoops(const float* x, const float* mean, const float* var, const float* gamma, const float* beta, float* y, const BnShape& g, float eps) {
  const int C = g.C;
  std::vector<float> a(C), b(C);
  for (int c = 0; c < C; c++) {
    a[c] = (gamma ? gamma[c] : 1.f) / std::sqrt(var[c] + eps);
    b[c] = (beta ? beta[c] : 0.f) - mean[c] * a[c];
  }
  bnRows(g.rows, C, [&](size_t r0, size_t r1, int) { bnAffine(x, r0, r1, C, a.data(), b.data(), y); });
}

// The same through oneDNN (impl 1).
struct BnEntry {
  dnnl::primitive fwd, bwd;
  dnnl::batch_normalization_forward::primitive_desc fwdPd;
  memory::desc data, stat;
  std::string impl;
  // Inference without gamma or beta: oneDNN needs both or neither flag; absent ones are these.
  memory ones, zeros;
};

memory::desc bnData(const std::vector<int32_t>& p) {
  if (p.size() != 4) throw std::invalid_argument("batch-norm geometry needs 4 values");
  return {{p[0], p[3], p[1], p[2]}, dt::f32, tag::nhwc};
}

BnEntry& bnTraining(const std::vector<int32_t>& p, float eps) {
  int bits;
  std::memcpy(&bits, &eps, sizeof bits);
  auto& slot = cache_bn()[key('B', p, bits)];
  if (!slot) {
    auto e = std::make_unique<BnEntry>();
    e->data = bnData(p);
    e->stat = memory::desc({p[3]}, dt::f32, tag::x);
    const auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    dnnl::batch_normalization_forward::desc fd(dnnl::prop_kind::forward_training, e->data, eps, flags);
    e->fwdPd = dnnl::batch_normalization_forward::primitive_desc(fd, eng());
    e->fwd = dnnl::batch_normalization_forward(e->fwdPd);
    dnnl::batch_normalization_backward::desc bd(dnnl::prop_kind::backward, e->data, e->data, eps, flags);
    dnnl::batch_normalization_backward::primitive_desc bpd(bd, eng(), e->fwdPd);
    e->bwd = dnnl::batch_normalization_backward(bpd);
    e->impl = std::string(e->fwdPd.impl_info_str()) + "/" + bpd.impl_info_str();
    e->zeros = memory(e->stat, eng());
    std::fill_n(static_cast<float*>(e->zeros.get_data_handle()), p[3], 0.f);
    slot = std::move(e);
  }
  return *slot;
}

BnEntry& bnInference(const std::vector<int32_t>& p, float eps) {
  int bits;
  std::memcpy(&bits, &eps, sizeof bits);
  auto& slot = cache_bn()[key('I', p, bits)];
  if (!slot) {
    auto e = std::make_unique<BnEntry>();
    e->data = bnData(p);
    e->stat = memory::desc({p[3]}, dt::f32, tag::x);
    const auto flags = dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    dnnl::batch_normalization_forward::desc fd(dnnl::prop_kind::forward_inference, e->data, eps, flags);
    e->fwdPd = dnnl::batch_normalization_forward::primitive_desc(fd, eng());
    e->fwd = dnnl::batch_normalization_forward(e->fwdPd);
    e->impl = e->fwdPd.impl_info_str();
    e->ones = memory(e->stat, eng());
    e->zeros = memory(e->stat, eng());
    std::fill_n(static_cast<float*>(e->ones.get_data_handle()), p[3], 1.f);
    std::fill_n(static_cast<float*>(e->zeros.get_data_handle()), p[3], 0.f);
    slot = std::move(e);
  }
  return *slot;
}

float epsilonArg(const Napi::Value& v) { return v.As<Napi::Number>().FloatValue(); }

// movingAverages(info, from): the layer's moving-average update, done here to save tfjs-layers'
// six kernel calls per layer and step: (movingMean, movingVariance, newMean, newVariance, decay) at
// info[from..], each new = old − (old − batch statistic)·decay in float32, the operations tfjs-layers
// runs (sub, mul, sub) in the same order; this is baseline x86-64 code, so no FMA contracts them.
void movingAverages(const Napi::CallbackInfo& info, int from, const float* mean, const float* var, int C) {
  if (info.Length() <= size_t(from) || info[from].IsNull() || info[from].IsUndefined()) return;
  const float* oldMean = f32(info[from]);
  const float* oldVar = f32(info[from + 1]);
  float* newMean = f32(info[from + 2]);
  float* newVar = f32(info[from + 3]);
  const float decay = info[from + 4].As<Napi::Number>().FloatValue();
  for (int c = 0; c < C; c++) {
    const float dm = (oldMean[c] - mean[c]) * decay;
    newMean[c] = oldMean[c] - dm;
    const float dv = (oldVar[c] - var[c]) * decay;
    newVar[c] = oldVar[c] - dv;
  }
}

// ... then optionally (movingMean, movingVariance, newMovingMean, newMovingVariance, decay) at [9..13].
Napi::Value BatchNormTrain(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    auto p = ints(info[6]);
    const BnShape shape(p);
    if (info[8].As<Napi::Number>().Int32Value() == 0) {
      bnTrainLoops(f32(info[0]), f32(info[1]), f32(info[2]), f32(info[3]), f32(info[4]), f32(info[5]), shape, epsilonArg(info[7]));
    } else {
      BnEntry& e = bnTraining(p, epsilonArg(info[7]));
      auto stat = [&](int i) { return memory(e.stat, eng(), f32(info[i])); };
      e.fwd.execute(strm(), {{DNNL_ARG_SRC, memory(e.data, eng(), f32(info[0]))},
                             {DNNL_ARG_SCALE, stat(1)},
                             {DNNL_ARG_SHIFT, stat(2)},
                             {DNNL_ARG_DST, memory(e.data, eng(), f32(info[3]))},
                             {DNNL_ARG_MEAN, stat(4)},
                             {DNNL_ARG_VARIANCE, stat(5)}});
      strm().wait();
    }
    movingAverages(info, 9, f32(info[4]), f32(info[5]), shape.C);
    return info.Env().Undefined();
  });
}

Napi::Value BatchNormGrad(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    auto p = ints(info[8]);
    if (info[10].As<Napi::Number>().Int32Value() == 0) {
      bnGradLoops(f32(info[0]), f32(info[1]), f32(info[2]), f32(info[3]), f32(info[4]), f32(info[5]), f32(info[6]), f32(info[7]), BnShape(p), epsilonArg(info[9]));
      return info.Env().Undefined();
    }
    BnEntry& e = bnTraining(p, epsilonArg(info[9]));
    auto stat = [&](int i) { return memory(e.stat, eng(), f32(info[i])); };
    e.bwd.execute(strm(), {{DNNL_ARG_DIFF_DST, memory(e.data, eng(), f32(info[0]))},
                           {DNNL_ARG_SRC, memory(e.data, eng(), f32(info[1]))},
                           {DNNL_ARG_SCALE, stat(2)},
                           {DNNL_ARG_SHIFT, e.zeros},  // unused by the gradient, but oneDNN 2.6 asks for it
                           {DNNL_ARG_MEAN, stat(3)},
                           {DNNL_ARG_VARIANCE, stat(4)},
                           {DNNL_ARG_DIFF_SRC, memory(e.data, eng(), f32(info[5]))},
                           {DNNL_ARG_DIFF_SCALE, stat(6)},
                           {DNNL_ARG_DIFF_SHIFT, stat(7)}});
    strm().wait();
    return info.Env().Undefined();
  });
}

Napi::Value BatchNormInfer(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    auto p = ints(info[6]);
    const auto opt32 = [&](int i) { return info[i].IsNull() || info[i].IsUndefined() ? nullptr : f32(info[i]); };
    if (info[8].As<Napi::Number>().Int32Value() == 0) {
      bnInferLoops(f32(info[0]), f32(info[1]), f32(info[2]), opt32(3), opt32(4), f32(info[5]), BnShape(p), epsilonArg(info[7]));
      return info.Env().Undefined();
    }
    BnEntry& e = bnInference(p, epsilonArg(info[7]));
    auto stat = [&](int i) { return memory(e.stat, eng(), f32(info[i])); };
    auto opt = [&](int i, memory& fallback) { return info[i].IsNull() || info[i].IsUndefined() ? fallback : stat(i); };
    e.fwd.execute(strm(), {{DNNL_ARG_SRC, memory(e.data, eng(), f32(info[0]))},
                           {DNNL_ARG_MEAN, stat(1)},
                           {DNNL_ARG_VARIANCE, stat(2)},
                           {DNNL_ARG_SCALE, opt(3, e.ones)},
                           {DNNL_ARG_SHIFT, opt(4, e.zeros)},
                           {DNNL_ARG_DST, memory(e.data, eng(), f32(info[5]))}});
    strm().wait();
    return info.Env().Undefined();
  });
}

// The oneDNN implementation of a batch-norm geometry ("T" training forward/backward, "I" inference).
Napi::Value BatchNormImpl(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    std::string op = info[0].As<Napi::String>();
    auto p = ints(info[1]);
    BnEntry& e = op == "T" ? bnTraining(p, 1e-3f) : bnInference(p, 1e-3f);
    return Napi::String::New(info.Env(), e.impl);
  });
}

std::unordered_map<std::string, std::unique_ptr<BnEntry>>& cache_bn() {
  thread_local std::unordered_map<std::string, std::unique_ptr<BnEntry>> c;
  return c;
}

// Element-wise ops on float32, for the shapes training produces: a and b of one size, b repeated
// along a's last axis (a bias, a per-channel scale), or b a scalar; `swap` computes b op a so that
// the broadcast operand may come first. ops: 0 add, 1 sub, 2 mul, 3 div.
// binary(a, b, out, [n, m, op, swap, rowwise]) with m = b's size (n, a divisor of n along the last axis, or 1),
// or with rowwise = 1, one value of b per row of a (m rows).
template <int OP>
inline float apply(float a, float b) {
  if (OP == 0) return a + b;
  if (OP == 1) return a - b;
  if (OP == 2) return a * b;
  return a / b;
}

template <int OP, bool SWAP>
void binaryLoop(const float* a, const float* b, float* out, size_t n, size_t m) {
  const size_t rows = n / m;
#pragma omp parallel for if (n > 65536)
  for (size_t r = 0; r < rows; r++) {
    const float* ar = a + r * m;
    float* o = out + r * m;
    for (size_t j = 0; j < m; j++) o[j] = SWAP ? apply<OP>(b[j], ar[j]) : apply<OP>(ar[j], b[j]);
  }
}

template <int OP, bool SWAP>
void binaryScalar(const float* a, float b, float* out, size_t n) {
#pragma omp parallel for if (n > 65536)
  for (size_t i = 0; i < n; i++) out[i] = SWAP ? apply<OP>(b, a[i]) : apply<OP>(a[i], b);
}

template <int OP>
void binaryOp(const float* a, const float* b, float* out, size_t n, size_t m, bool swap) {
  if (m == 1) {
    swap ? binaryScalar<OP, true>(a, b[0], out, n) : binaryScalar<OP, false>(a, b[0], out, n);
  } else {
    swap ? binaryLoop<OP, true>(a, b, out, n, m) : binaryLoop<OP, false>(a, b, out, n, m);
  }
}

Napi::Value Binary(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    const float* a = f32(info[0]);
    const float* b = f32(info[1]);
    float* out = f32(info[2]);
    auto p = ints(info[3]);
    const size_t n = p[0], m = p[1];
    const bool swap = p[3];
    if (m == 0 || n % m != 0) throw std::invalid_argument("binary: b's size must divide a's");
    if (p.size() > 4 && p[4] == 1) {
      // b holds one value per row of a (a [r, c] with b [r, 1]: the softmax cross-entropy's row sums).
      const size_t cols = n / m;
      const int op = p[2];
#pragma omp parallel for if (n > 65536)
      for (size_t r = 0; r < m; r++) {
        const float* ar = a + r * cols;
        float* o = out + r * cols;
        const float br = b[r];
        for (size_t j = 0; j < cols; j++) {
          const float x = swap ? br : ar[j], y = swap ? ar[j] : br;
          o[j] = op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y;
        }
      }
      return info.Env().Undefined();
    }
    switch (p[2]) {
      case 0: binaryOp<0>(a, b, out, n, m, swap); break;
      case 1: binaryOp<1>(a, b, out, n, m, swap); break;
      case 2: binaryOp<2>(a, b, out, n, m, swap); break;
      case 3: binaryOp<3>(a, b, out, n, m, swap); break;
      default: throw std::invalid_argument("binary: unknown op");
    }
    return info.Env().Undefined();
  });
}

// unary(x, out, [n, op], alpha): 0 relu, 1 step (x > 0 ? 1 : alpha, NaN stays NaN), 2 square, 3 sqrt,
// 4 floor.
Napi::Value Unary(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    const float* x = f32(info[0]);
    float* out = f32(info[1]);
    auto p = ints(info[2]);
    const float alpha = info[3].As<Napi::Number>().FloatValue();
    const size_t n = p[0];
    switch (p[1]) {
      case 0:
#pragma omp parallel for if (n > 65536)
        for (size_t i = 0; i < n; i++) out[i] = x[i] < 0.f ? 0.f : x[i];
        break;
      case 1:
#pragma omp parallel for if (n > 65536)
        for (size_t i = 0; i < n; i++) out[i] = x[i] > 0.f ? 1.f : (x[i] != x[i] ? x[i] : alpha);
        break;
      case 2:
#pragma omp parallel for if (n > 65536)
        for (size_t i = 0; i < n; i++) out[i] = x[i] * x[i];
        break;
      case 3:
#pragma omp parallel for if (n > 65536)
        for (size_t i = 0; i < n; i++) out[i] = std::sqrt(x[i]);
        break;
      case 4:  // dropout's mask: floor(u + keepProb)
#pragma omp parallel for if (n > 65536)
        for (size_t i = 0; i < n; i++) out[i] = std::floor(x[i]);
        break;
      default:
        throw std::invalid_argument("unary: unknown op");
    }
    return info.Env().Undefined();
  });
}

// sumRows(x, out, [rows, cols]): out[c] = Σ_r x[r, c] with float64 accumulators (as the wasm
// backend's own leading-axes Sum, src/ml/kernels/sum.ts): a bias gradient dy[b,h,w,c] → [c], or a
// full sum with cols = 1.
SIMD_CLONES void sumRowsRange(const float* __restrict x, size_t r0, size_t r1, size_t cols, double* __restrict acc) {
  if (cols == 1) {
    double s = 0;
    for (size_t r = r0; r < r1; r++) s += x[r];
    acc[0] += s;
    return;
  }
  for (size_t r = r0; r < r1; r++) {
    const float* row = x + r * cols;
    for (size_t c = 0; c < cols; c++) acc[c] += row[c];
  }
}

Napi::Value SumRows(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    const float* x = f32(info[0]);
    float* out = f32(info[1]);
    auto p = ints(info[2]);
    const size_t rows = p[0], cols = p[1];
    const int C = int(cols);
    auto sums = bnReduce(rows, C, 1, [&](size_t r0, size_t r1, double* acc) { sumRowsRange(x, r0, r1, cols, acc); });
    for (size_t c = 0; c < cols; c++) out[c] = float(sums[c]);
    return info.Env().Undefined();
  });
}

// argMax(x, out (Int32Array), [rows, cols]): the index of each row's first maximum, as the tfjs cpu
// backend finds it (the first value, then any strictly larger one).
Napi::Value ArgMax(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    const float* x = f32(info[0]);
    int32_t* out = info[1].As<Napi::Int32Array>().Data();
    auto p = ints(info[2]);
    const size_t rows = p[0], cols = p[1];
    for (size_t r = 0; r < rows; r++) {
      const float* in = x + r * cols;
      float best = in[0];
      int32_t at = 0;
      for (size_t j = 1; j < cols; j++) {
        if (in[j] > best) {
          best = in[j];
          at = int32_t(j);
        }
      }
      out[r] = at;
    }
    return info.Env().Undefined();
  });
}

// softmax(x, out, [rows, cols]): softmax over the last axis, as tfjs computes it (exp(x − max) / Σ).
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    const float* x = f32(info[0]);
    float* out = f32(info[1]);
    auto p = ints(info[2]);
    const size_t rows = p[0], cols = p[1];
#pragma omp parallel for if (rows * cols > 65536)
    for (size_t r = 0; r < rows; r++) {
      const float* in = x + r * cols;
      float* o = out + r * cols;
      float mx = -std::numeric_limits<float>::infinity();
      for (size_t j = 0; j < cols; j++) mx = in[j] > mx ? in[j] : mx;
      float sum = 0.f;
      for (size_t j = 0; j < cols; j++) {
        o[j] = std::exp(in[j] - mx);
        sum += o[j];
      }
      for (size_t j = 0; j < cols; j++) o[j] /= sum;
    }
    return info.Env().Undefined();
  });
}

// adam(value, m, v, g, newValue, newM, newV, [b1, 1-b1, b2, 1-b2, 1-b1^t, 1-b2^t, eps, -lr]): one
// Adam step for one variable, the same float operations in the same order as tfjs-core's
// AdamOptimizer.applyGradients, which spends 12 kernel calls on it.
// The update loop, vectorised (SIMD_CLONES; divisions and square roots are exact in every lane) and
// with no multiply-add contracted into an FMA, which would round differently from tfjs's separate
// mul and add kernels.
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
SIMD_CLONES void adamRange(const float* __restrict value, const float* __restrict m, const float* __restrict v, const float* __restrict g,
                           float* __restrict nvalue, float* __restrict nm, float* __restrict nv, const float* c, size_t i0, size_t i1) {
  const float b1 = c[0], omb1 = c[1], b2 = c[2], omb2 = c[3], oma1 = c[4], oma2 = c[5], eps = c[6], neglr = c[7];
  for (size_t i = i0; i < i1; i++) {
    const float m1 = m[i] * b1 + g[i] * omb1;
    const float v1 = v[i] * b2 + (g[i] * g[i]) * omb2;
    nm[i] = m1;
    nv[i] = v1;
    nvalue[i] = ((m1 / oma1) / (std::sqrt(v1 / oma2) + eps)) * neglr + value[i];
  }
}
#pragma GCC pop_options

Napi::Value Adam(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    const float* value = f32(info[0]);
    const float* m = f32(info[1]);
    const float* v = f32(info[2]);
    const float* g = f32(info[3]);
    float* nvalue = f32(info[4]);
    float* nm = f32(info[5]);
    float* nv = f32(info[6]);
    const float* c = f32(info[7]);
    const size_t n = info[0].As<Napi::Float32Array>().ElementLength();
    parallelRanges(int((n + 1023) / 1024), n * 4, [&](int b0, int b1) {
      adamRange(value, m, v, g, nvalue, nm, nv, c, size_t(b0) * 1024, std::min(n, size_t(b1) * 1024));
    });
    return info.Env().Undefined();
  });
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  return info.Env().Undefined();
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  const dnnl_version_t* v = dnnl_version();
  o.Set("onednn", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  o.Set("threads", omp_get_max_threads());
  o.Set("isa", static_cast<int>(dnnl::get_effective_cpu_isa()));
  o.Set("cached", static_cast<double>(cache().size() + cache_bn().size()));
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2d", Napi::Function::New(env, Conv2d));
  exports.Set("conv2dBackpropInput", Napi::Function::New(env, Conv2dBackpropInput));
  exports.Set("conv2dBackpropFilter", Napi::Function::New(env, Conv2dBackpropFilter));
  exports.Set("convImpl", Napi::Function::New(env, ConvImpl));
  exports.Set("matmul", Napi::Function::New(env, Matmul));
  exports.Set("maxPool", Napi::Function::New(env, MaxPool));
  exports.Set("maxPoolGrad", Napi::Function::New(env, MaxPoolGrad));
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("unary", Napi::Function::New(env, Unary));
  exports.Set("sumRows", Napi::Function::New(env, SumRows));
  exports.Set("argMax", Napi::Function::New(env, ArgMax));
  exports.Set("softmax", Napi::Function::New(env, Softmax));
  exports.Set("adam", Napi::Function::New(env, Adam));
  exports.Set("batchNormTrain", Napi::Function::New(env, BatchNormTrain));
  exports.Set("batchNormGrad", Napi::Function::New(env, BatchNormGrad));
  exports.Set("batchNormInfer", Napi::Function::New(env, BatchNormInfer));
  exports.Set("batchNormImpl", Napi::Function::New(env, BatchNormImpl));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("info", Napi::Function::New(env, Info));
  return exports;
}

}  // namespace

NODE_API_MODULE(mnist_native, Init)
