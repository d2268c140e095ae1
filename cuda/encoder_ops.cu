// CudaEncoderOps: the encoder graph's ops with every tensor resident on the device.
// Per batch only token ids, positions and sequence offsets go up and the pooled
// vectors come down. Linear layers are one cuBLAS GEMM each (row-major y = x w^T is
// the column-major y^T = w x^T). In the fp16 mode the GEMM is a cuBLASLt matmul that
// adds the bias in its epilogue, so only an activation (GELU) needs a pass of its own;
// in the fp32 mode a kernel adds bias and activation after the GEMM.
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cuda/add_layernorm.cuh"
#include "cuda/attention.cuh"
#include "cuda/bias_activation.cuh"
#include "cuda/check.cuh"
#include "cuda/cuda_backend.hpp"
#include "cuda/device_buffer.cuh"
#include "cuda/pinned_buffer.cuh"
#include "cuda/embed_layernorm.cuh"
#include "cuda/encoder_ops.cuh"
#include "cuda/pool.cuh"
#include "cuda/to_half.cuh"

namespace emb::cuda {
namespace {

class CudaTensor final : public Tensor {
 public:
  CudaTensor(int64_t capacity, int64_t cols) : buf(static_cast<size_t>(std::max<int64_t>(capacity * cols, 1))) {
    rows = capacity;
    this->cols = cols;
    this->capacity = capacity;
    data = buf.data();
  }
  float* f() const { return buf.data(); }
  DeviceBuffer<float> buf;
  /// A float16 copy of a GEMM weight in F16 mode, made by its first linear() (so the
  /// embedding tables, which no GEMM reads, get none).
  mutable DeviceBuffer<__half> half;
};

const CudaTensor& ct(const Tensor& t) { return static_cast<const CudaTensor&>(t); }
CudaTensor& ct(Tensor& t) { return static_cast<CudaTensor&>(t); }

// Tokens per GEMM in the fp32 mode (see linear()).
constexpr int64_t kF32Tile = 256;

class CudaEncoderOps final : public EncoderOps {
 public:
  CudaEncoderOps(int device, GemmPrecision precision) : device_(device), precision_(precision) {
    EMB_CUDA_TRY(cudaSetDevice(device_));
    EMB_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    EMB_CUBLAS_TRY(cublasCreate(&blas_));
    EMB_CUBLAS_TRY(cublasSetStream(blas_, stream_));
    EMB_CUBLAS_TRY(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH));  // no TF32 in the F32 mode
    if (precision_ == GemmPrecision::F16) EMB_CUBLAS_TRY(cublasLtCreate(&lt_));
    name_ = "cuda:" + std::to_string(device_) + " (" + device_description(device_) + ", " +
            (precision_ == GemmPrecision::F16 ? "fp16" : "fp32") + " GEMMs)";
  }
  ~CudaEncoderOps() override {
    for (auto& p : pending_) cudaEventDestroy(p.start), cudaEventDestroy(p.stop);
    for (cudaEvent_t e : spare_events_) cudaEventDestroy(e);
    if (lt_) cublasLtDestroy(lt_);
    if (blas_) cublasDestroy(blas_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  std::string name() const override { return name_; }
  bool is_gpu() const override { return true; }

  TensorPtr alloc(int64_t capacity, int64_t cols) override { return std::make_unique<CudaTensor>(capacity, cols); }

  TensorPtr upload_weight(const float* host, int64_t rows, int64_t cols) override {
    auto t = std::make_unique<CudaTensor>(rows, cols);
    const int64_t n = rows * cols;
    EMB_CUDA_TRY(cudaMemcpyAsync(t->f(), host, sizeof(float) * n, cudaMemcpyHostToDevice, stream_));
    EMB_CUDA_TRY(cudaStreamSynchronize(stream_));  // host may be freed on return
    return t;
  }

  void download(const Tensor& t, float* host) override {
    EMB_CUDA_TRY(cudaMemcpyAsync(host, ct(t).f(), sizeof(float) * t.rows * t.cols, cudaMemcpyDeviceToHost, stream_));
    EMB_CUDA_TRY(cudaStreamSynchronize(stream_));
    collect_times();
  }

  void set_profiling(bool on) override {
    if (on && !profiling_) {
      EMB_CUDA_TRY(cudaStreamSynchronize(stream_));
      collect_times();
      times_.clear();
    }
    profiling_ = on;
  }

  std::vector<std::pair<std::string, double>> op_times() override {
    EMB_CUDA_TRY(cudaStreamSynchronize(stream_));
    collect_times();
    return times_;
  }

  void set_batch(const PackedBatch& b) override {
    EMB_CUDA_TRY(cudaSetDevice(device_));
    // The previous batch is done with the buffers below (and the staging memory) once
    // its pooled vectors came back; this waits for anything still queued.
    EMB_CUDA_TRY(cudaStreamSynchronize(stream_));
    collect_times();
    tokens_ = b.tokens();
    batch_ = b.batch();
    max_len_ = 0;
    for (int64_t s = 0; s < batch_; ++s) max_len_ = std::max<int64_t>(max_len_, b.offsets[s + 1] - b.offsets[s]);
    ids_.resize(static_cast<size_t>(std::max<int64_t>(tokens_, 1)));
    positions_.resize(static_cast<size_t>(std::max<int64_t>(tokens_, 1)));
    offsets_.resize(static_cast<size_t>(batch_ + 1));
    // Staged through page-locked memory: the copies run at full PCIe speed.
    const size_t staged = static_cast<size_t>(2 * tokens_ + batch_ + 1);
    staging_.resize(staged);
    int32_t* h = staging_.data();
    std::copy(b.ids.begin(), b.ids.end(), h);
    std::copy(b.positions.begin(), b.positions.end(), h + tokens_);
    std::copy(b.offsets.begin(), b.offsets.end(), h + 2 * tokens_);
    if (tokens_ > 0) {
      EMB_CUDA_TRY(cudaMemcpyAsync(ids_.data(), h, 4 * tokens_, cudaMemcpyHostToDevice, stream_));
      EMB_CUDA_TRY(cudaMemcpyAsync(positions_.data(), h + tokens_, 4 * tokens_, cudaMemcpyHostToDevice, stream_));
    }
    EMB_CUDA_TRY(
        cudaMemcpyAsync(offsets_.data(), h + 2 * tokens_, 4 * (batch_ + 1), cudaMemcpyHostToDevice, stream_));
  }

  void embed_layernorm(const Tensor& word, const Tensor& position, const Tensor& type, const Tensor& gamma,
                       const Tensor& beta, float eps, Tensor& out) override {
    out.rows = tokens_;
    timed("embed_layernorm", [&] {
      embed_layernorm_async(ids_.data(), positions_.data(), tokens_, ct(word).f(), ct(position).f(), ct(type).f(),
                            ct(gamma).f(), ct(beta).f(), word.cols, eps, ct(out).f(), stream_);
    });
  }

  void linear(const Tensor& x, const Tensor& w, const Tensor* bias, Activation act, Tensor& y) override {
    const int64_t n = x.rows, in = x.cols, out = w.rows;
    if (w.cols != in || y.cols != out || y.capacity < n || (bias && bias->cols != out))
      throw RuntimeError("linear: shapes do not fit (x " + std::to_string(n) + " x " + std::to_string(in) + ", w " +
                         std::to_string(out) + " x " + std::to_string(w.cols) + ", y capacity " +
                         std::to_string(y.capacity) + " x " + std::to_string(y.cols) + ")");
    y.rows = n;
    if (n == 0) return;
    const float one = 1.0f, zero = 0.0f;
    if (precision_ == GemmPrecision::F16 && out > 1) {
      if (ct(w).half.size() == 0) {
        ct(w).half.resize(static_cast<size_t>(out * in));
        to_half_async(ct(w).f(), out * in, ct(w).half.data(), stream_);
      }
      xh_.resize(static_cast<size_t>(n * in));
      timed("to_half", [&] { to_half_async(ct(x).f(), n * in, xh_.data(), stream_); });
      bool lt_done = false;  // cuBLASLt ran the GEMM and added the bias
      timed("gemm", [&] { lt_done = lt_gemm(ct(w).half.data(), xh_.data(), bias ? ct(*bias).f() : nullptr,
                                               ct(y).f(), n, in, out); });
      if (lt_done) {
        if (act != Activation::None)
          timed("bias_activation", [&] {
            bias_activation_async(ct(y).f(), n, out, nullptr, static_cast<Act>(static_cast<int>(act)), stream_);
          });
        return;
      }
      timed("gemm", [&] {
      EMB_CUBLAS_TRY(cublasGemmEx(blas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(out), static_cast<int>(n),
                                  static_cast<int>(in), &one, ct(w).half.data(), CUDA_R_16F, static_cast<int>(in),
                                  xh_.data(), CUDA_R_16F, static_cast<int>(in), &zero, ct(y).f(), CUDA_R_32F,
                                  static_cast<int>(out), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
      });
    } else {
      // Every GEMM of the fp32 mode has the same shape, kF32Tile tokens, whatever the
      // batch: cuBLAS picks its kernel by shape, so a fixed shape keeps a token's sums
      // in one order in any batch (bit-for-bit batch invariance). The last, partial
      // tile goes through a zero-padded scratch tile.
      const int64_t full = n / kF32Tile, rest = n % kF32Tile;
      auto gemm = [&](const float* xs, float* ys) {
        EMB_CUBLAS_TRY(cublasSgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(out), static_cast<int>(kF32Tile),
                                   static_cast<int>(in), &one, ct(w).f(), static_cast<int>(in), xs,
                                   static_cast<int>(in), &zero, ys, static_cast<int>(out)));
      };
      timed("gemm", [&] {
        for (int64_t t = 0; t < full; ++t) gemm(ct(x).f() + t * kF32Tile * in, ct(y).f() + t * kF32Tile * out);
      });
      if (rest > 0) timed("gemm (padded tile)", [&] {
        pad_x_.resize(static_cast<size_t>(kF32Tile * in));
        pad_y_.resize(static_cast<size_t>(kF32Tile * out));
        // Zero rows below the tail keep stale values (Inf, NaN) out of the discarded rows.
        EMB_CUDA_TRY(
            cudaMemsetAsync(pad_x_.data() + rest * in, 0, sizeof(float) * (kF32Tile - rest) * in, stream_));
        EMB_CUDA_TRY(cudaMemcpyAsync(pad_x_.data(), ct(x).f() + full * kF32Tile * in, sizeof(float) * rest * in,
                                     cudaMemcpyDeviceToDevice, stream_));
        gemm(pad_x_.data(), pad_y_.data());
        EMB_CUDA_TRY(cudaMemcpyAsync(ct(y).f() + full * kF32Tile * out, pad_y_.data(), sizeof(float) * rest * out,
                                     cudaMemcpyDeviceToDevice, stream_));
      });
    }
    if (bias || act != Activation::None)
      timed("bias_activation", [&] {
        bias_activation_async(ct(y).f(), n, out, bias ? ct(*bias).f() : nullptr,
                              static_cast<Act>(static_cast<int>(act)), stream_);
      });
  }

  void add_layernorm(Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                     float eps) override {
    timed("add_layernorm", [&] {
      add_layernorm_async(ct(x).f(), ct(residual).f(), x.rows, x.cols, ct(gamma).f(), ct(beta).f(), eps, stream_);
    });
  }

  bool supports_head_width(int64_t width) const override { return attention_head_width_supported(width); }

  void attention(const Tensor& qkv, int heads, Tensor& out) override {
    out.rows = qkv.rows;
    timed("attention", [&] {
      attention_async(ct(qkv).f(), offsets_.data(), batch_, heads, qkv.cols / 3, static_cast<int>(max_len_),
                      ct(out).f(), stream_);
    });
  }

  void pool(const Tensor& x, Pooling mode, bool normalize, Tensor& out) override {
    out.rows = batch_;
    timed("pool", [&] {
      pool_async(ct(x).f(), offsets_.data(), batch_, x.cols, static_cast<int>(mode), normalize, ct(out).f(),
                 stream_);
    });
  }

 private:
  /// The fp16 GEMM y = w x^T + bias through cuBLASLt, the bias added in the epilogue.
  /// Returns false, having done nothing, where cuBLASLt offers no algorithm for the
  /// shape (odd widths); the caller then runs cublasGemmEx and the bias kernel.
  bool lt_gemm(const __half* w, const __half* xh, const float* bias, float* y, int64_t n, int64_t in, int64_t out) {
    struct Descs {
      cublasLtMatmulDesc_t op = nullptr;
      cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
      cublasLtMatmulPreference_t pref = nullptr;
      ~Descs() {
        if (pref) cublasLtMatmulPreferenceDestroy(pref);
        if (c) cublasLtMatrixLayoutDestroy(c);
        if (b) cublasLtMatrixLayoutDestroy(b);
        if (a) cublasLtMatrixLayoutDestroy(a);
        if (op) cublasLtMatmulDescDestroy(op);
      }
    } d;
    EMB_CUBLAS_TRY(cublasLtMatmulDescCreate(&d.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    EMB_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
    EMB_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
    const cublasLtEpilogue_t epilogue = bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    EMB_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)));
    if (bias) EMB_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
    // Column-major as stored: w is in x out (transposed by the op), x^T is in x n, y^T is out x n.
    EMB_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&d.a, CUDA_R_16F, in, out, in));
    EMB_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&d.b, CUDA_R_16F, in, n, in));
    EMB_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&d.c, CUDA_R_32F, out, n, out));
    if (lt_workspace_.size() == 0) lt_workspace_.resize(kLtWorkspace);
    EMB_CUBLAS_TRY(cublasLtMatmulPreferenceCreate(&d.pref));
    const size_t ws = kLtWorkspace;
    EMB_CUBLAS_TRY(
        cublasLtMatmulPreferenceSetAttribute(d.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)));
    cublasLtMatmulHeuristicResult_t found{};
    int count = 0;
    if (cublasLtMatmulAlgoGetHeuristic(lt_, d.op, d.a, d.b, d.c, d.c, d.pref, 1, &found, &count) !=
            CUBLAS_STATUS_SUCCESS ||
        count == 0)
      return false;
    const float one = 1.0f, zero = 0.0f;
    EMB_CUBLAS_TRY(cublasLtMatmul(lt_, d.op, &one, w, d.a, xh, d.b, &zero, y, d.c, y, d.c, &found.algo,
                                  lt_workspace_.data(), kLtWorkspace, stream_));
    return true;
  }

  /// Runs f, bracketed by a pair of events when profiling; collect_times() reads them.
  template <class F>
  void timed(const char* kind, F&& f) {
    if (!profiling_) return f();
    const cudaEvent_t start = event(), stop = event();
    EMB_CUDA_TRY(cudaEventRecord(start, stream_));
    f();
    EMB_CUDA_TRY(cudaEventRecord(stop, stream_));
    pending_.push_back({kind, start, stop});
  }
  cudaEvent_t event() {
    if (!spare_events_.empty()) {
      const cudaEvent_t e = spare_events_.back();
      spare_events_.pop_back();
      return e;
    }
    cudaEvent_t e = nullptr;
    EMB_CUDA_TRY(cudaEventCreate(&e));
    return e;
  }
  /// Adds the finished ops' times (the stream has been synchronized) to times_.
  void collect_times() {
    for (const Pending& p : pending_) {
      float ms = 0.0f;
      EMB_CUDA_TRY(cudaEventElapsedTime(&ms, p.start, p.stop));
      auto it = std::find_if(times_.begin(), times_.end(), [&](const auto& t) { return t.first == p.kind; });
      if (it == times_.end()) it = times_.insert(times_.end(), {p.kind, 0.0});
      it->second += ms;
      spare_events_.push_back(p.start);
      spare_events_.push_back(p.stop);
    }
    pending_.clear();
  }
  struct Pending {
    const char* kind;
    cudaEvent_t start, stop;
  };

  int device_;
  GemmPrecision precision_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;  ///< the fp16 mode's GEMMs
  static constexpr size_t kLtWorkspace = size_t{32} << 20;
  DeviceBuffer<char> lt_workspace_;
  std::string name_;
  int64_t tokens_ = 0, batch_ = 0, max_len_ = 0;
  DeviceBuffer<int32_t> ids_, positions_, offsets_;
  PinnedBuffer<int32_t> staging_;  ///< ids, positions and offsets of the batch on their way up
  DeviceBuffer<float> pad_x_, pad_y_;  ///< the fp32 mode's last, partial GEMM tile
  DeviceBuffer<__half> xh_;
  bool profiling_ = false;
  std::vector<Pending> pending_;
  std::vector<cudaEvent_t> spare_events_;
  std::vector<std::pair<std::string, double>> times_;
};

}  // namespace

std::unique_ptr<EncoderOps> make_cuda_encoder_ops(int device, GemmPrecision precision) {
  return std::make_unique<CudaEncoderOps>(device, precision);
}

}  // namespace emb::cuda
