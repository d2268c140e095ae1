// CudaEncoderOps: the encoder graph's ops with every tensor resident on the device.
// Per batch only token ids, positions and sequence offsets go up and the pooled
// vectors come down. Linear layers are one cuBLAS GEMM each (row-major y = x w^T is
// the column-major y^T = w x^T) followed by the bias + activation kernel.
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
    name_ = "cuda:" + std::to_string(device_) + " (" + device_description(device_) + ", " +
            (precision_ == GemmPrecision::F16 ? "fp16" : "fp32") + " GEMMs)";
  }
  ~CudaEncoderOps() override {
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
  }

  void set_batch(const PackedBatch& b) override {
    EMB_CUDA_TRY(cudaSetDevice(device_));
    // The previous batch is done with the buffers below (and the staging memory) once
    // its pooled vectors came back; this waits for anything still queued.
    EMB_CUDA_TRY(cudaStreamSynchronize(stream_));
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
    embed_layernorm_async(ids_.data(), positions_.data(), tokens_, ct(word).f(), ct(position).f(), ct(type).f(),
                          ct(gamma).f(), ct(beta).f(), word.cols, eps, ct(out).f(), stream_);
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
      to_half_async(ct(x).f(), n * in, xh_.data(), stream_);
      EMB_CUBLAS_TRY(cublasGemmEx(blas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(out), static_cast<int>(n),
                                  static_cast<int>(in), &one, ct(w).half.data(), CUDA_R_16F, static_cast<int>(in),
                                  xh_.data(), CUDA_R_16F, static_cast<int>(in), &zero, ct(y).f(), CUDA_R_32F,
                                  static_cast<int>(out), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
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
      for (int64_t t = 0; t < full; ++t) gemm(ct(x).f() + t * kF32Tile * in, ct(y).f() + t * kF32Tile * out);
      if (rest > 0) {
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
      }
    }
    if (bias || act != Activation::None)
      bias_activation_async(ct(y).f(), n, out, bias ? ct(*bias).f() : nullptr, static_cast<Act>(static_cast<int>(act)),
                            stream_);
  }

  void add_layernorm(Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                     float eps) override {
    add_layernorm_async(ct(x).f(), ct(residual).f(), x.rows, x.cols, ct(gamma).f(), ct(beta).f(), eps, stream_);
  }

  bool supports_head_width(int64_t width) const override { return attention_head_width_supported(width); }

  void attention(const Tensor& qkv, int heads, Tensor& out) override {
    out.rows = qkv.rows;
    attention_async(ct(qkv).f(), offsets_.data(), batch_, heads, qkv.cols / 3, static_cast<int>(max_len_),
                    ct(out).f(), stream_);
  }

  void pool(const Tensor& x, Pooling mode, bool normalize, Tensor& out) override {
    out.rows = batch_;
    pool_async(ct(x).f(), offsets_.data(), batch_, x.cols, static_cast<int>(mode), normalize, ct(out).f(), stream_);
  }

 private:
  int device_;
  GemmPrecision precision_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  std::string name_;
  int64_t tokens_ = 0, batch_ = 0, max_len_ = 0;
  DeviceBuffer<int32_t> ids_, positions_, offsets_;
  PinnedBuffer<int32_t> staging_;  ///< ids, positions and offsets of the batch on their way up
  DeviceBuffer<float> pad_x_, pad_y_;  ///< the fp32 mode's last, partial GEMM tile
  DeviceBuffer<__half> xh_;
};

}  // namespace

std::unique_ptr<EncoderOps> make_cuda_encoder_ops(int device, GemmPrecision precision) {
  return std::make_unique<CudaEncoderOps>(device, precision);
}

}  // namespace emb::cuda
