// The encoder ops on the CPU: GEMMs through OpenBLAS (threaded by OpenMP), every
// per-token loop with OpenMP across tokens and SIMD within a row. Attention loops
// over (sequence, head) pairs; each pair's scores fit in cache for the sequence
// lengths encoders take.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "host/backend/encoder_ops.hpp"
#include "host/cpu/vector_math.hpp"

namespace emb {
namespace {

class HostTensor final : public Tensor {
 public:
  HostTensor(int64_t capacity, int64_t cols) : storage_(static_cast<size_t>(capacity * cols)) {
    rows = capacity;
    this->cols = cols;
    this->capacity = capacity;
    data = storage_.data();
  }
  float* f() { return storage_.data(); }

 private:
  std::vector<float> storage_;
};

const float* fp(const Tensor& t) { return static_cast<const float*>(t.data); }
float* fp(Tensor& t) { return static_cast<float*>(t.data); }

// Below this many floats of work a loop stays on the calling thread.
constexpr int64_t kParallelMin = 1 << 14;

void layernorm_row(float* x, const float* gamma, const float* beta, int64_t h, float eps) {
  // Two passes in double for the statistics: rows are short, and PyTorch's fp32
  // LayerNorm is accurate to about the same.
  double mean = 0.0;
#pragma omp simd reduction(+ : mean)
  for (int64_t j = 0; j < h; ++j) mean += x[j];
  mean /= static_cast<double>(h);
  const auto m = static_cast<float>(mean);
  double var = 0.0;
#pragma omp simd reduction(+ : var)
  for (int64_t j = 0; j < h; ++j) {
    const float d = x[j] - m;
    var += static_cast<double>(d) * d;
  }
  var /= static_cast<double>(h);
  const auto inv = static_cast<float>(1.0 / std::sqrt(var + eps));
#pragma omp simd
  for (int64_t j = 0; j < h; ++j) x[j] = (x[j] - m) * inv * gamma[j] + beta[j];
}

class CpuEncoderOps final : public EncoderOps {
 public:
  std::string name() const override {
    const int t = omp_get_max_threads();
    return "cpu (" + std::to_string(t) + (t == 1 ? " thread)" : " threads)");
  }
  bool is_gpu() const override { return false; }

  TensorPtr alloc(int64_t capacity, int64_t cols) override {
    return std::make_unique<HostTensor>(capacity, cols);
  }

  TensorPtr upload_weight(const float* host, int64_t rows, int64_t cols) override {
    auto t = std::make_unique<HostTensor>(rows, cols);
    std::memcpy(t->f(), host, sizeof(float) * static_cast<size_t>(rows * cols));
    return t;
  }

  TensorPtr load_weight(int64_t rows, int64_t cols, const std::function<void(float*)>& fill) override {
    auto t = std::make_unique<HostTensor>(rows, cols);
    fill(t->f());
    return t;
  }

  void download(const Tensor& t, float* host) override {
    std::memcpy(host, t.data, sizeof(float) * static_cast<size_t>(t.rows * t.cols));
  }

  void set_batch(const PackedBatch& b) override { batch_ = &b; }

  void embed_layernorm(const Tensor& word, const Tensor& position, const Tensor& type, const Tensor& gamma,
                       const Tensor& beta, float eps, Tensor& out) override {
    const PackedBatch& b = *batch_;
    const int64_t n = b.tokens(), h = word.cols;
    assert(out.capacity >= n && out.cols == h);
    out.rows = n;
    float* o = fp(out);
#pragma omp parallel for schedule(static) if (n * h >= kParallelMin)
    for (int64_t t = 0; t < n; ++t) {
      const float* w = fp(word) + static_cast<int64_t>(b.ids[t]) * h;
      const float* p = fp(position) + static_cast<int64_t>(b.positions[t]) * h;
      const float* ty = fp(type);
      float* x = o + t * h;
#pragma omp simd
      for (int64_t j = 0; j < h; ++j) x[j] = w[j] + p[j] + ty[j];
      layernorm_row(x, fp(gamma), fp(beta), h, eps);
    }
  }

  void linear(const Tensor& x, const Tensor& w, const Tensor* bias, Activation act, Tensor& y) override {
    const int64_t n = x.rows, in = x.cols, out = w.rows;
    assert(w.cols == in && y.cols == out && y.capacity >= n);
    y.rows = n;
    if (n == 0) return;
    float* yd = fp(y);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(n), static_cast<blasint>(out),
                static_cast<blasint>(in), 1.0f, fp(x), static_cast<blasint>(in), fp(w), static_cast<blasint>(in),
                0.0f, yd, static_cast<blasint>(out));
    const float* bd = bias ? fp(*bias) : nullptr;
    if (!bd && act == Activation::None) return;
#pragma omp parallel for schedule(static) if (n * out >= kParallelMin)
    for (int64_t t = 0; t < n; ++t) {
      float* r = yd + t * out;
      if (bd) {
#pragma omp simd
        for (int64_t j = 0; j < out; ++j) r[j] += bd[j];
      }
      switch (act) {
        case Activation::None:
          break;
        case Activation::GeluErf:
#pragma omp simd
          for (int64_t j = 0; j < out; ++j) r[j] = vmath::gelu_erf(r[j]);
          break;
        case Activation::GeluTanh:
#pragma omp simd
          for (int64_t j = 0; j < out; ++j) r[j] = vmath::gelu_tanh(r[j]);
          break;
        case Activation::Relu:
#pragma omp simd
          for (int64_t j = 0; j < out; ++j) r[j] = r[j] > 0.0f ? r[j] : 0.0f;
          break;
      }
    }
  }

  void add_layernorm(Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                     float eps) override {
    const int64_t n = x.rows, h = x.cols;
    float* xd = fp(x);
    const float* rd = fp(residual);
#pragma omp parallel for schedule(static) if (n * h >= kParallelMin)
    for (int64_t t = 0; t < n; ++t) {
      float* r = xd + t * h;
      const float* s = rd + t * h;
#pragma omp simd
      for (int64_t j = 0; j < h; ++j) r[j] += s[j];
      layernorm_row(r, fp(gamma), fp(beta), h, eps);
    }
  }

  void attention(const Tensor& qkv, int heads, Tensor& out) override {
    const PackedBatch& b = *batch_;
    const int64_t h = qkv.cols / 3, dh = h / heads, stride = qkv.cols;
    const int64_t nb = b.batch();
    assert(out.cols == h && out.capacity >= qkv.rows);
    out.rows = qkv.rows;
    const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
    const float* base = fp(qkv);
    float* od = fp(out);
    int64_t max_len = 0;
    for (int64_t s = 0; s < nb; ++s) max_len = std::max<int64_t>(max_len, b.offsets[s + 1] - b.offsets[s]);
    const int64_t pairs = nb * heads;
#pragma omp parallel if (qkv.rows * h >= kParallelMin)
    {
      // One (sequence, head) pair at a time: scores = Q K^T as a GEMM (OpenBLAS runs
      // single-threaded inside the parallel region), softmax by rows, out = P V.
      std::vector<float> scores(static_cast<size_t>(max_len * max_len));
#pragma omp for schedule(dynamic, 1)
      for (int64_t p = 0; p < pairs; ++p) {
        const int64_t s = p / heads, head = p % heads;
        const int64_t begin = b.offsets[s], len = b.offsets[s + 1] - begin;
        const float* q0 = base + begin * stride + head * dh;
        const float* k0 = q0 + h;
        const float* v0 = q0 + 2 * h;
        float* sc = scores.data();
        const auto L = static_cast<blasint>(len), D = static_cast<blasint>(dh), ld = static_cast<blasint>(stride);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, D, scale, q0, ld, k0, ld, 0.0f, sc, L);
        for (int64_t i = 0; i < len; ++i) {
          float* row = sc + i * len;
          float mx = row[0];
          for (int64_t j = 1; j < len; ++j) mx = row[j] > mx ? row[j] : mx;
          float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
          for (int64_t j = 0; j < len; ++j) {
            row[j] = vmath::exp_nonpositive(row[j] - mx);
            sum += row[j];
          }
          const float inv = 1.0f / sum;
#pragma omp simd
          for (int64_t j = 0; j < len; ++j) row[j] *= inv;
        }
        float* o0 = od + begin * h + head * dh;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, D, L, 1.0f, sc, L, v0, ld, 0.0f, o0,
                    static_cast<blasint>(h));
      }
    }
  }

  void pool(const Tensor& x, Pooling mode, bool normalize, Tensor& out) override {
    const PackedBatch& b = *batch_;
    const int64_t nb = b.batch(), h = x.cols;
    assert(out.cols == h && out.capacity >= nb);
    out.rows = nb;
    const float* xd = fp(x);
    float* od = fp(out);
#pragma omp parallel for schedule(static) if (x.rows * h >= kParallelMin)
    for (int64_t s = 0; s < nb; ++s) {
      const int64_t begin = b.offsets[s], len = b.offsets[s + 1] - begin;
      float* o = od + s * h;
      const float* first = xd + begin * h;
      std::memcpy(o, first, sizeof(float) * static_cast<size_t>(h));
      if (mode == Pooling::Mean) {
        for (int64_t t = 1; t < len; ++t) {
          const float* r = first + t * h;
#pragma omp simd
          for (int64_t j = 0; j < h; ++j) o[j] += r[j];
        }
        const float inv = 1.0f / static_cast<float>(std::max<int64_t>(len, 1));
#pragma omp simd
        for (int64_t j = 0; j < h; ++j) o[j] *= inv;
      } else if (mode == Pooling::Max) {
        for (int64_t t = 1; t < len; ++t) {
          const float* r = first + t * h;
#pragma omp simd
          for (int64_t j = 0; j < h; ++j) o[j] = std::max(o[j], r[j]);
        }
      }
      if (normalize) {
        double ss = 0.0;
#pragma omp simd reduction(+ : ss)
        for (int64_t j = 0; j < h; ++j) ss += static_cast<double>(o[j]) * o[j];
        // As torch.nn.functional.normalize: divide by max(norm, 1e-12).
        const auto inv = static_cast<float>(1.0 / std::max(std::sqrt(ss), 1e-12));
#pragma omp simd
        for (int64_t j = 0; j < h; ++j) o[j] *= inv;
      }
    }
  }

 private:
  const PackedBatch* batch_ = nullptr;
};

}  // namespace

std::unique_ptr<EncoderOps> make_cpu_encoder_ops() { return std::make_unique<CpuEncoderOps>(); }

}  // namespace emb
