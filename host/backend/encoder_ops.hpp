#pragma once
// The ops a transformer encoder is written against (host/embed/encoder_graph.cpp),
// once for every backend, as ggml's graph is written against its backends. Tensors
// live in the backend's memory (host memory for the CPU, device memory for CUDA) and
// stay there between ops; only token ids go in and pooled vectors come out.
// No CUDA types here.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace emb {

/// @brief A row-major rows x cols float tensor in a backend's memory. `capacity`
///        rows are allocated; ops use the first `rows`, which the graph sets per batch.
class Tensor {
 public:
  virtual ~Tensor() = default;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  int64_t rows = 0;
  int64_t cols = 0;
  int64_t capacity = 0;
  /// @brief Element storage: float32, or float16/bfloat16 for weights where the
  ///        backend keeps them so (a GPU backend's business; the CPU stores float32).
  void* data = nullptr;

 protected:
  Tensor() = default;
};
using TensorPtr = std::unique_ptr<Tensor>;

/// @brief The activation a linear layer applies after its bias.
enum class Activation { None, GeluErf, GeluTanh, Relu };

/// @brief How token states become one sentence vector.
enum class Pooling { Mean, Cls, Max };

/// @brief Packed variable-length sequences: no padding. Sequence b owns tokens
///        [offsets[b], offsets[b+1]).
struct PackedBatch {
  std::vector<int32_t> ids;        ///< token ids, one per token
  std::vector<int32_t> positions;  ///< position ids, one per token
  std::vector<int32_t> offsets;    ///< batch + 1 entries, from 0 to tokens

  int64_t tokens() const { return static_cast<int64_t>(ids.size()); }
  int64_t batch() const { return offsets.empty() ? 0 : static_cast<int64_t>(offsets.size()) - 1; }
};

/// @brief Encoder ops of one backend. An instance owns its scratch memory and is
///        used from one thread.
class EncoderOps {
 public:
  virtual ~EncoderOps() = default;

  /// @brief Where the ops run, e.g. "cpu (2 threads)" or "cuda:0 (NVIDIA H100 80GB HBM3)".
  virtual std::string name() const = 0;
  /// @brief True when the tensors live in GPU memory.
  virtual bool is_gpu() const = 0;

  /// @brief Whether attention() handles heads of this many columns (a GPU kernel may
  ///        be specialised); when not, the model runs on the CPU's ops.
  virtual bool supports_head_width(int64_t /*width*/) const { return true; }

  /// @brief Activations: capacity x cols float32, rows = capacity.
  virtual TensorPtr alloc(int64_t capacity, int64_t cols) = 0;
  /// @brief A weight (rows x cols, or 1 x cols for a bias or LayerNorm vector)
  ///        copied from host float32, in the backend's storage precision.
  virtual TensorPtr upload_weight(const float* host, int64_t rows, int64_t cols) = 0;
  /// @brief A weight of rows x cols whose float32 values `fill` writes into the host
  ///        buffer it is given. By default through a temporary host buffer and
  ///        upload_weight; a backend whose tensors live in host memory lets `fill`
  ///        write into the tensor itself (no second copy of a large embedding table).
  virtual TensorPtr load_weight(int64_t rows, int64_t cols, const std::function<void(float*)>& fill) {
    std::vector<float> host(static_cast<size_t>(rows * cols));
    fill(host.data());
    return upload_weight(host.data(), rows, cols);
  }
  /// @brief Copies the first rows of t to host float32 (rows x cols).
  virtual void download(const Tensor& t, float* host) = 0;

  /// @brief Makes b the batch the following ops run on.
  virtual void set_batch(const PackedBatch& b) = 0;

  /// @brief out[t] = LayerNorm(word[ids[t]] + position[positions[t]] + type[0]).
  virtual void embed_layernorm(const Tensor& word, const Tensor& position, const Tensor& type,
                               const Tensor& gamma, const Tensor& beta, float eps, Tensor& out) = 0;
  /// @brief y = act(x w^T + bias): x is tokens x in, w is out x in (PyTorch's
  ///        layout), bias 1 x out or null; y gets x.rows rows.
  virtual void linear(const Tensor& x, const Tensor& w, const Tensor* bias, Activation act, Tensor& y) = 0;
  /// @brief x = LayerNorm(x + residual) row by row.
  virtual void add_layernorm(Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                             float eps) = 0;
  /// @brief Multi-head self-attention within each sequence of the batch: qkv is
  ///        tokens x 3h (Q, then K, then V, each split into `heads` heads of h/heads
  ///        columns), out is tokens x h, softmax(Q K^T / sqrt(head dim)) V.
  virtual void attention(const Tensor& qkv, int heads, Tensor& out) = 0;
  /// @brief out[b] = pooled token states of sequence b, L2-normalized when asked;
  ///        out gets batch rows.
  virtual void pool(const Tensor& x, Pooling mode, bool normalize, Tensor& out) = 0;

  /// @brief Starts or stops timing every op on the device (for benchmarks; it adds a
  ///        little work per op). Backends without op timing ignore it.
  virtual void set_profiling(bool /*on*/) {}
  /// @brief Milliseconds spent per kind of op ("gemm", "attention", "add_layernorm", ...)
  ///        since profiling started, in the order the kinds first ran; empty without
  ///        op timing. Waits for queued work.
  virtual std::vector<std::pair<std::string, double>> op_times() { return {}; }
};

/// @brief The CPU implementation (OpenBLAS GEMMs, OpenMP loops), the reference
///        every other backend's ops are tested against.
std::unique_ptr<EncoderOps> make_cpu_encoder_ops();

}  // namespace emb
