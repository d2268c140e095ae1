#include "host/embed/encoder_graph.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <string_view>
#include <utility>

#include "host/core/error.hpp"

namespace emb {
namespace {

// splitmix64: a tiny portable generator, so seeded weights are the same everywhere.
uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

class RandomWeights final : public WeightSource {
 public:
  explicit RandomWeights(uint64_t seed) : seed_(seed) {}
  void read(const std::string& name, const std::vector<int64_t>& shape, float* out) const override {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    uint64_t state = seed_ ^ fnv1a(name);
    const bool ln = name.find("LayerNorm") != std::string::npos;
    const bool gamma = ln && name.ends_with(".weight");
    for (int64_t i = 0; i < n; ++i) {
      // Box-Muller from two 53-bit uniforms in (0, 1].
      const double u1 = (static_cast<double>(splitmix(state) >> 11) + 1.0) * 0x1.0p-53;
      const double u2 = static_cast<double>(splitmix(state) >> 11) * 0x1.0p-53;
      const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
      out[i] = static_cast<float>(gamma ? 1.0 + 0.1 * z : 0.02 * z);
    }
  }

 private:
  uint64_t seed_;
};

}  // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>> encoder_tensors(const EncoderSpec& s) {
  const int64_t h = s.hidden, ff = s.intermediate;
  std::vector<std::pair<std::string, std::vector<int64_t>>> t = {
      {"embeddings.word_embeddings.weight", {s.vocab, h}},
      {"embeddings.position_embeddings.weight", {s.max_positions, h}},
      {"embeddings.token_type_embeddings.weight", {s.type_vocab, h}},
      {"embeddings.LayerNorm.weight", {h}},
      {"embeddings.LayerNorm.bias", {h}},
  };
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    for (const char* qkv : {"query", "key", "value"}) {
      t.push_back({p + "attention.self." + qkv + ".weight", {h, h}});
      t.push_back({p + "attention.self." + qkv + ".bias", {h}});
    }
    t.push_back({p + "attention.output.dense.weight", {h, h}});
    t.push_back({p + "attention.output.dense.bias", {h}});
    t.push_back({p + "attention.output.LayerNorm.weight", {h}});
    t.push_back({p + "attention.output.LayerNorm.bias", {h}});
    t.push_back({p + "intermediate.dense.weight", {ff, h}});
    t.push_back({p + "intermediate.dense.bias", {ff}});
    t.push_back({p + "output.dense.weight", {h, ff}});
    t.push_back({p + "output.dense.bias", {h}});
    t.push_back({p + "output.LayerNorm.weight", {h}});
    t.push_back({p + "output.LayerNorm.bias", {h}});
  }
  return t;
}

int64_t EncoderSpec::parameters() const {
  const int64_t h = hidden;
  const int64_t per_layer = 4 * h * h + 4 * h + 2 * h * intermediate + intermediate + h + 4 * h;
  return (vocab + max_positions + type_vocab) * h + 2 * h + layers * per_layer;
}

std::unique_ptr<WeightSource> random_weights(uint64_t seed) { return std::make_unique<RandomWeights>(seed); }

EncoderGraph::EncoderGraph(EncoderOps& ops, const EncoderSpec& spec, const WeightSource& weights,
                           int64_t max_tokens)
    : ops_(ops), spec_(spec), max_tokens_(0) {
  const int64_t h = spec.hidden, ff = spec.intermediate;
  EMB_EXPECTS(h > 0 && spec.heads > 0 && h % spec.heads == 0,
              "the hidden size ", h, " is not a multiple of the head count ", spec.heads);
  // A matrix (rows x cols), or with rows == 0 a vector of cols (bias, LayerNorm).
  auto load = [&](const std::string& name, int64_t rows, int64_t cols) {
    const std::vector<int64_t> shape = rows == 0 ? std::vector<int64_t>{cols} : std::vector<int64_t>{rows, cols};
    return ops_.load_weight(std::max<int64_t>(rows, 1), cols, [&](float* out) { weights.read(name, shape, out); });
  };
  // Q, K and V stacked into one (3h x h) weight, so one GEMM projects all three.
  auto load_qkv = [&](const std::string& prefix, bool bias) {
    const std::vector<int64_t> shape = bias ? std::vector<int64_t>{h} : std::vector<int64_t>{h, h};
    const int64_t part = bias ? h : h * h;
    return ops_.load_weight(bias ? 1 : 3 * h, bias ? 3 * h : h, [&](float* out) {
      const char* names[] = {"query", "key", "value"};
      for (int i = 0; i < 3; ++i)
        weights.read(prefix + names[i] + (bias ? ".bias" : ".weight"), shape, out + i * part);
    });
  };
  word_ = load("embeddings.word_embeddings.weight", spec.vocab, h);
  position_ = load("embeddings.position_embeddings.weight", spec.max_positions, h);
  type_ = load("embeddings.token_type_embeddings.weight", spec.type_vocab, h);
  ln_g_ = load("embeddings.LayerNorm.weight", 0, h);
  ln_b_ = load("embeddings.LayerNorm.bias", 0, h);
  for (int64_t l = 0; l < spec.layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    Layer L;
    L.qkv_w = load_qkv(p + "attention.self.", false);
    L.qkv_b = load_qkv(p + "attention.self.", true);
    L.out_w = load(p + "attention.output.dense.weight", h, h);
    L.out_b = load(p + "attention.output.dense.bias", 0, h);
    L.ln1_g = load(p + "attention.output.LayerNorm.weight", 0, h);
    L.ln1_b = load(p + "attention.output.LayerNorm.bias", 0, h);
    L.ff1_w = load(p + "intermediate.dense.weight", ff, h);
    L.ff1_b = load(p + "intermediate.dense.bias", 0, ff);
    L.ff2_w = load(p + "output.dense.weight", h, ff);
    L.ff2_b = load(p + "output.dense.bias", 0, h);
    L.ln2_g = load(p + "output.LayerNorm.weight", 0, h);
    L.ln2_b = load(p + "output.LayerNorm.bias", 0, h);
    layers_.push_back(std::move(L));
  }
  if (max_tokens > 0) reserve(max_tokens);
}

void EncoderGraph::reserve(int64_t max_tokens) {
  // Free first: the old and the new scratch need not fit together.
  for (TensorPtr* t : {&x_, &y_, &att_, &qkv_, &ff_, &pooled_}) t->reset();
  max_tokens_ = 0;
  const int64_t h = spec_.hidden, ff = spec_.intermediate;
  x_ = ops_.alloc(max_tokens, h);
  y_ = ops_.alloc(max_tokens, h);
  att_ = ops_.alloc(max_tokens, h);
  qkv_ = ops_.alloc(max_tokens, 3 * h);
  ff_ = ops_.alloc(max_tokens, ff);
  pooled_ = ops_.alloc(max_tokens, h);
  max_tokens_ = max_tokens;
}

void EncoderGraph::run(const PackedBatch& batch, Pooling pooling, bool normalize, float* out) {
  assert(batch.tokens() <= max_tokens_ && batch.batch() <= max_tokens_);
  if (batch.batch() == 0) return;
  ops_.set_batch(batch);
  const float eps = spec_.eps;
  Tensor* x = x_.get();
  Tensor* y = y_.get();
  ops_.embed_layernorm(*word_, *position_, *type_, *ln_g_, *ln_b_, eps, *x);
  for (const Layer& L : layers_) {
    ops_.linear(*x, *L.qkv_w, L.qkv_b.get(), Activation::None, *qkv_);
    ops_.attention(*qkv_, static_cast<int>(spec_.heads), *att_);
    ops_.linear(*att_, *L.out_w, L.out_b.get(), Activation::None, *y);
    ops_.add_layernorm(*y, *x, *L.ln1_g, *L.ln1_b, eps);  // y = LN(attention out + x)
    std::swap(x, y);
    ops_.linear(*x, *L.ff1_w, L.ff1_b.get(), spec_.act, *ff_);
    ops_.linear(*ff_, *L.ff2_w, L.ff2_b.get(), Activation::None, *y);
    ops_.add_layernorm(*y, *x, *L.ln2_g, *L.ln2_b, eps);  // y = LN(feed-forward out + x)
    std::swap(x, y);
  }
  ops_.pool(*x, pooling, normalize, *pooled_);
  ops_.download(*pooled_, out);
}

}  // namespace emb
