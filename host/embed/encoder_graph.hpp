#pragma once
// The BERT-family encoder forward pass, written once against EncoderOps: embeddings
// + LayerNorm, then per layer one fused QKV projection, attention, output
// projection, residual + LayerNorm, feed-forward with GELU, residual + LayerNorm;
// then pooling. BertModel and XLMRobertaModel differ only in position ids.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "host/backend/encoder_ops.hpp"

namespace emb {

/// @brief Shape and hyper-parameters of an encoder.
struct EncoderSpec {
  std::string arch = "bert";  ///< "bert" (positions from 0) or "xlm-roberta" (from pad_id + 1)
  int64_t vocab = 0;
  int64_t hidden = 0;
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t intermediate = 0;
  int64_t max_positions = 0;
  int64_t type_vocab = 1;
  int64_t pad_id = 0;
  float eps = 1e-12f;
  Activation act = Activation::GeluErf;

  /// @brief Position id of a sequence's first token.
  int64_t position_offset() const { return arch == "xlm-roberta" ? pad_id + 1 : 0; }
  /// @brief The longest sequence (special tokens included) the position table allows.
  int64_t max_tokens_per_sequence() const { return max_positions - position_offset(); }
  /// @brief Parameters, for reports.
  int64_t parameters() const;
};

/// @brief Every tensor an encoder of this shape reads, with its shape, in PyTorch's
///        BertModel names ("embeddings.word_embeddings.weight", ...).
std::vector<std::pair<std::string, std::vector<int64_t>>> encoder_tensors(const EncoderSpec& spec);

/// @brief Where weights come from: named tensors in PyTorch's layout (BertModel
///        names without a prefix, e.g. "encoder.layer.0.attention.self.query.weight").
class WeightSource {
 public:
  virtual ~WeightSource() = default;
  /// @brief Writes tensor `name`, which must have `shape`, to out as float32.
  /// @throws emb::InputError when it is missing or has another shape.
  virtual void read(const std::string& name, const std::vector<int64_t>& shape, float* out) const = 0;
};

/// @brief Seeded random weights of a given shape (normal, std 0.02; LayerNorm
///        scales near 1), the same for the same seed on every machine.
std::unique_ptr<WeightSource> random_weights(uint64_t seed);

/// @brief The encoder with its weights uploaded to one backend's ops.
class EncoderGraph {
 public:
  /// @param max_tokens the most tokens one batch will hold (sizes the scratch tensors;
  ///        0 allocates none: call reserve() before run())
  /// @throws emb::InputError for weights that are missing or of the wrong shape;
  ///         emb::OutOfMemory when the weights or the scratch do not fit the device
  EncoderGraph(EncoderOps& ops, const EncoderSpec& spec, const WeightSource& weights, int64_t max_tokens);

  /// @brief Frees the scratch tensors and allocates them for batches of up to
  ///        max_tokens tokens. The weights stay where they are.
  /// @throws emb::OutOfMemory when they do not fit; the graph then holds no scratch
  ///         and reserve() may be called again with fewer tokens.
  void reserve(int64_t max_tokens);

  /// @brief Runs the batch; writes batch.batch() x hidden pooled vectors to out.
  void run(const PackedBatch& batch, Pooling pooling, bool normalize, float* out);

  const EncoderSpec& spec() const { return spec_; }
  int64_t max_tokens() const { return max_tokens_; }

 private:
  struct Layer {
    TensorPtr qkv_w, qkv_b, out_w, out_b, ln1_g, ln1_b, ff1_w, ff1_b, ff2_w, ff2_b, ln2_g, ln2_b;
  };
  EncoderOps& ops_;
  EncoderSpec spec_;
  int64_t max_tokens_;
  TensorPtr word_, position_, type_, ln_g_, ln_b_;
  std::vector<Layer> layers_;
  TensorPtr x_, y_, qkv_, att_, ff_, pooled_;
};

}  // namespace emb
