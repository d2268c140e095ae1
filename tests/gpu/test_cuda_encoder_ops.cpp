// The CUDA encoder ops against the CPU reference (make_cpu_encoder_ops), as ggml's
// test-backend-ops: the same seeded random inputs on both, odd sizes, outputs
// poisoned with NaN beforehand so a skipped row shows, normalized mean squared error
// under a limit per op, NaN or one-sided Inf never passes. Then the whole encoder
// graph on both, and batch invariance on the GPU. Written against EncoderOps only;
// skips with a message where there is no CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/backend/encoder_ops.hpp"
#include "../encoder_test_util.hpp"
#include "host/embed/encoder_graph.hpp"

#include "tests/gpu/cuda_test_util.hpp"

/// @brief Declares `var` as the CUDA backend's encoder ops, or skips without a
///        device. With a device, missing or non-GPU ops fail: they are required there.
#define CUDA_ENCODER_OPS_OR_SKIP(var) CUDA_ENCODER_OPS_OR_SKIP_AS(var, false)
/// @brief As above, with float16 GEMM operands (the default of runs) when fp16 is true.
#define CUDA_ENCODER_OPS_OR_SKIP_AS(var, fp16)                                                          \
  std::string var##_reason_;                                                                            \
  auto var##_backend_ = ::emb::test::cuda_backend_or_reason(&var##_reason_, {0, -1, (fp16)});           \
  if (!var##_backend_) GTEST_SKIP() << "no CUDA device: " << var##_reason_;                            \
  auto var = var##_backend_->make_encoder_ops();                                                        \
  ASSERT_TRUE(var != nullptr) << "the CUDA backend has no encoder ops (make_encoder_ops() gave null)"; \
  ASSERT_TRUE(var->is_gpu()) << "the CUDA backend's encoder ops are not on the GPU: " << var->name()

namespace emb {
namespace {

using test::randn;
using test::to_host;

// fp32 GEMMs of up to 1536 terms; the limit leaves room for a different summation
// order (and would pass TF32), not for fp16.
constexpr double kLinearLimit = 1e-6;
constexpr double kLimit = 1e-9;  // element-wise ops, LayerNorm, attention, pooling

/// An input: rows x cols from host, then only the first `used` rows in use (the
/// rest must be ignored by the op). The round trip must be exact: these tests
/// assume the backend stores float32, its default.
TensorPtr put(EncoderOps& ops, const std::vector<float>& host, int64_t rows, int64_t cols, int64_t used = -1) {
  auto t = ops.upload_weight(host.data(), rows, cols);
  EXPECT_EQ(to_host(ops, *t), host) << ops.name() << ": upload_weight + download of " << rows << " x " << cols
                                    << " is not exact (storage other than float32?)";
  if (used >= 0) t->rows = used;
  return t;
}

/// An output of `capacity` rows filled with NaN, so rows the op skips are caught.
TensorPtr poisoned(EncoderOps& ops, int64_t capacity, int64_t cols) {
  const std::vector<float> nan(static_cast<size_t>(capacity * cols), std::numeric_limits<float>::quiet_NaN());
  return ops.upload_weight(nan.data(), capacity, cols);
}

/// GPU output against the CPU's: NaN, or Inf not matched by the reference, fails;
/// otherwise sum (a-b)^2 / sum b^2 must be <= limit.
::testing::AssertionResult matches(const std::vector<float>& gpu, const std::vector<float>& cpu, int64_t cols,
                                   double limit) {
  if (gpu.size() != cpu.size())
    return ::testing::AssertionFailure() << "GPU gave " << gpu.size() << " values, the CPU " << cpu.size();
  double err = 0, norm = 0, max_abs = 0;
  size_t worst = 0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    const float g = gpu[i], c = cpu[i];
    if (std::isnan(g) || ((std::isinf(g) || std::isinf(c)) && g != c))
      return ::testing::AssertionFailure() << "GPU " << g << " vs CPU " << c << " at row " << i / cols << ", col "
                                           << i % cols;
    if (std::isinf(c)) continue;
    const double d = double(g) - double(c);
    err += d * d;
    norm += double(c) * double(c);
    if (std::abs(d) > max_abs) max_abs = std::abs(d), worst = i;
  }
  const double e = norm > 0 ? err / norm : err;
  if (e > limit)
    return ::testing::AssertionFailure() << "NMSE " << e << " > " << limit << "; max abs error " << max_abs
                                         << " at row " << worst / cols << ", col " << worst % cols << " (GPU "
                                         << gpu[worst] << ", CPU " << cpu[worst] << ")";
  return ::testing::AssertionSuccess() << "NMSE " << e;
}

/// Sequences of the given lengths with random ids below vocab, positions from pos0.
PackedBatch make_batch(const std::vector<int>& lens, int vocab, int pos0, uint32_t seed) {
  std::mt19937 g(seed);
  PackedBatch b;
  b.offsets = {0};
  for (int len : lens) {
    for (int p = 0; p < len; ++p) {
      b.ids.push_back(static_cast<int32_t>(g() % vocab));
      b.positions.push_back(pos0 + p);
    }
    b.offsets.push_back(static_cast<int32_t>(b.ids.size()));
  }
  return b;
}

const std::vector<std::vector<int>> kBatches = {{1}, {1, 2, 3}, {5, 129, 17}, {512}};

std::string batch_name(size_t i) {
  const std::vector<int>& lens = i < kBatches.size() ? kBatches[i] : std::vector<int>{};
  if (lens.empty()) return "seqs_many";
  std::string s = "seqs";
  for (int l : lens) s += "_" + std::to_string(l);
  return s;
}

/// Batch i of kBatches, or past its end 60 short sequences (lengths 1..40).
std::vector<int> batch_lens(size_t i) {
  if (i < kBatches.size()) return kBatches[i];
  std::mt19937 g(99);
  std::vector<int> lens(60);
  for (int& l : lens) l = 1 + static_cast<int>(g() % 40);
  return lens;
}
constexpr size_t kBatchCount = 5;

TEST(CudaEncoderOps, AreOnTheGpuAndStoreFloat32) {
  CUDA_ENCODER_OPS_OR_SKIP(gpu);
  EXPECT_NE(gpu->name().find("cuda"), std::string::npos) << gpu->name();
  const auto h = randn(7 * 31, 1);
  auto w = put(*gpu, h, 7, 31);
  EXPECT_EQ(w->rows, 7);
  EXPECT_EQ(w->cols, 31);
  auto a = gpu->alloc(13, 5);
  EXPECT_EQ(a->rows, 13);
  EXPECT_EQ(a->capacity, 13);
  EXPECT_EQ(a->cols, 5);
  EXPECT_NE(a->data, nullptr);
}

// ---------------------------------------------------------------- linear

using LinearShape = std::tuple<int64_t, int64_t, int64_t>;  // tokens, in, out
class CudaLinear : public ::testing::TestWithParam<LinearShape> {};

// fp16 operands (the fast mode: cuBLASLt with the bias in its epilogue where it has an
// algorithm for the shape, else cublasGemmEx and the bias kernel): relative rounding
// of about 2^-11 per operand, so sum (a-b)^2 / sum b^2 well under 1e-5.
constexpr double kLinearF16Limit = 1e-5;

void check_linear(EncoderOps& gpu, const LinearShape& shape, double limit) {
  auto cpu = make_cpu_encoder_ops();
  const auto [n, in, out] = shape;
  const auto seed = static_cast<uint32_t>(n * 7919 + in * 31 + out);
  // Weights scaled so outputs are about N(0, 1), where the GELUs bend.
  const auto xh = randn((n + 2) * in, seed), wh = randn(out * in, seed + 1, 1.0f / std::sqrt(float(in))),
             bh = randn(out, seed + 2, 0.5f);
  // Two spare rows in x: the op must take x.rows, not the capacity.
  auto xg = put(gpu, xh, n + 2, in, n), wg = put(gpu, wh, out, in), bg = put(gpu, bh, 1, out);
  auto xc = put(*cpu, xh, n + 2, in, n), wc = put(*cpu, wh, out, in), bc = put(*cpu, bh, 1, out);
  for (Activation act : {Activation::None, Activation::GeluErf, Activation::GeluTanh, Activation::Relu})
    for (bool bias : {true, false}) {
      SCOPED_TRACE(::testing::Message() << "activation " << int(act) << (bias ? ", with bias" : ", no bias"));
      auto yg = poisoned(gpu, n + 3, out), yc = cpu->alloc(n + 3, out);
      gpu.linear(*xg, *wg, bias ? bg.get() : nullptr, act, *yg);
      cpu->linear(*xc, *wc, bias ? bc.get() : nullptr, act, *yc);
      ASSERT_EQ(yg->rows, n);
      EXPECT_TRUE(matches(to_host(gpu, *yg), to_host(*cpu, *yc), out, limit));
    }
}

TEST_P(CudaLinear, EveryActivationWithAndWithoutBias) {
  CUDA_ENCODER_OPS_OR_SKIP(gpu);
  check_linear(*gpu, GetParam(), kLinearLimit);
}

TEST_P(CudaLinear, EveryActivationWithAndWithoutBiasInFp16) {
  CUDA_ENCODER_OPS_OR_SKIP_AS(gpu, true);
  check_linear(*gpu, GetParam(), kLinearF16Limit);
}

std::vector<LinearShape> linear_shapes() {
  const std::pair<int64_t, int64_t> in_out[] = {{1, 31}, {31, 1}, {31, 384}, {384, 1536}, {1536, 384}, {1536, 31}};
  std::vector<LinearShape> v;
  for (int64_t n : {1, 7, 97, 1000})
    for (auto [in, out] : in_out) v.emplace_back(n, in, out);
  return v;
}

std::string linear_name(const ::testing::TestParamInfo<LinearShape>& p) {
  const auto [n, in, out] = p.param;
  return "tokens" + std::to_string(n) + "_in" + std::to_string(in) + "_out" + std::to_string(out);
}

INSTANTIATE_TEST_SUITE_P(OddSizes, CudaLinear, ::testing::ValuesIn(linear_shapes()), linear_name);

// ---------------------------------------------------------------- LayerNorms

using NormShape = std::tuple<int64_t, size_t>;  // hidden, batch index
class CudaEmbedLayerNorm : public ::testing::TestWithParam<NormShape> {};

TEST_P(CudaEmbedLayerNorm, BertAndXlmRobertaPositions) {
  CUDA_ENCODER_OPS_OR_SKIP(gpu);
  auto cpu = make_cpu_encoder_ops();
  const auto [h, bi] = GetParam();
  const int vocab = 1000, npos = 514;
  const auto seed = static_cast<uint32_t>(h * 17 + bi);
  // A large common offset in the word vectors: a one-pass variance would lose it.
  const auto word = randn(vocab * h, seed, 1.0f, 4.0f), pos = randn(npos * h, seed + 1, 0.5f),
             type = randn(h, seed + 2, 0.1f), g = randn(h, seed + 3, 0.1f, 1.0f), be = randn(h, seed + 4, 0.1f);
  auto Wg = put(*gpu, word, vocab, h), Pg = put(*gpu, pos, npos, h), Tg = put(*gpu, type, 1, h),
       Gg = put(*gpu, g, 1, h), Bg = put(*gpu, be, 1, h);
  auto Wc = put(*cpu, word, vocab, h), Pc = put(*cpu, pos, npos, h), Tc = put(*cpu, type, 1, h),
       Gc = put(*cpu, g, 1, h), Bc = put(*cpu, be, 1, h);
  for (auto [pos0, eps] : {std::pair{0, 1e-12f}, std::pair{2, 1e-5f}}) {  // BERT, XLM-R
    SCOPED_TRACE(::testing::Message() << "positions from " << pos0 << ", eps " << eps);
    const PackedBatch batch = make_batch(batch_lens(bi), vocab, pos0, seed + 5);
    gpu->set_batch(batch);
    cpu->set_batch(batch);
    auto og = poisoned(*gpu, batch.tokens() + 3, h), oc = cpu->alloc(batch.tokens() + 3, h);
    gpu->embed_layernorm(*Wg, *Pg, *Tg, *Gg, *Bg, eps, *og);
    cpu->embed_layernorm(*Wc, *Pc, *Tc, *Gc, *Bc, eps, *oc);
    ASSERT_EQ(og->rows, batch.tokens());
    EXPECT_TRUE(matches(to_host(*gpu, *og), to_host(*cpu, *oc), h, kLimit));
  }
}

std::string norm_name(const ::testing::TestParamInfo<NormShape>& p) {
  return "hidden" + std::to_string(std::get<0>(p.param)) + "_" + batch_name(std::get<1>(p.param));
}

INSTANTIATE_TEST_SUITE_P(OddSizes, CudaEmbedLayerNorm,
                         ::testing::Combine(::testing::Values<int64_t>(31, 384, 768),
                                            ::testing::Range<size_t>(0, kBatchCount)),
                         norm_name);

class CudaAddLayerNorm : public ::testing::TestWithParam<std::tuple<int64_t, int64_t>> {};  // tokens, hidden

TEST_P(CudaAddLayerNorm, MatchesCpuReference) {
  CUDA_ENCODER_OPS_OR_SKIP(gpu);
  auto cpu = make_cpu_encoder_ops();
  const auto [n, h] = GetParam();
  const auto seed = static_cast<uint32_t>(n * 13 + h);
  const auto xh = randn((n + 2) * h, seed, 1.0f, 5.0f), rh = randn((n + 2) * h, seed + 1),
             g = randn(h, seed + 2, 0.1f, 1.0f), be = randn(h, seed + 3, 0.1f);
  for (float eps : {1e-12f, 1e-5f}) {
    SCOPED_TRACE(::testing::Message() << "eps " << eps);
    auto xg = put(*gpu, xh, n + 2, h, n), rg = put(*gpu, rh, n + 2, h, n), Gg = put(*gpu, g, 1, h),
         Bg = put(*gpu, be, 1, h);
    auto xc = put(*cpu, xh, n + 2, h, n), rc = put(*cpu, rh, n + 2, h, n), Gc = put(*cpu, g, 1, h),
         Bc = put(*cpu, be, 1, h);
    gpu->add_layernorm(*xg, *rg, *Gg, *Bg, eps);
    cpu->add_layernorm(*xc, *rc, *Gc, *Bc, eps);
    ASSERT_EQ(xg->rows, n);
    EXPECT_TRUE(matches(to_host(*gpu, *xg), to_host(*cpu, *xc), h, kLimit));
  }
}

INSTANTIATE_TEST_SUITE_P(OddSizes, CudaAddLayerNorm,
                         ::testing::Combine(::testing::Values<int64_t>(1, 7, 97, 1000),
                                            ::testing::Values<int64_t>(31, 384, 768)),
                         [](const auto& p) {
                           return "tokens" + std::to_string(std::get<0>(p.param)) + "_hidden" +
                                  std::to_string(std::get<1>(p.param));
                         });

// ---------------------------------------------------------------- attention

using AttentionShape = std::tuple<std::pair<int, int64_t>, size_t>;  // (heads, hidden), batch index
class CudaAttention : public ::testing::TestWithParam<AttentionShape> {};

TEST_P(CudaAttention, WithinEachSequence) {
  CUDA_ENCODER_OPS_OR_SKIP(gpu);
  auto cpu = make_cpu_encoder_ops();
  const auto [heads_h, bi] = GetParam();
  const auto [heads, h] = heads_h;
  const PackedBatch batch = make_batch(batch_lens(bi), 10, 0, 3);
  const int64_t n = batch.tokens();
  // Scale 1.5: scores spread enough that softmax is far from uniform.
  const auto qkvh = randn(n * 3 * h, static_cast<uint32_t>(h * 7 + heads + bi), 1.5f);
  auto qg = put(*gpu, qkvh, n, 3 * h), qc = put(*cpu, qkvh, n, 3 * h);
  gpu->set_batch(batch);
  cpu->set_batch(batch);
  auto og = poisoned(*gpu, n + 3, h), oc = cpu->alloc(n + 3, h);
  gpu->attention(*qg, heads, *og);
  cpu->attention(*qc, heads, *oc);
  ASSERT_EQ(og->rows, n);
  EXPECT_TRUE(matches(to_host(*gpu, *og), to_host(*cpu, *oc), h, kLimit));
}

std::string attention_name(const ::testing::TestParamInfo<AttentionShape>& p) {
  const auto [heads, h] = std::get<0>(p.param);
  return "heads" + std::to_string(heads) + "_dh" + std::to_string(h / heads) + "_" + batch_name(std::get<1>(p.param));
}

INSTANTIATE_TEST_SUITE_P(HeadShapes, CudaAttention,
                         ::testing::Combine(::testing::Values(std::pair<int, int64_t>{12, 384},
                                                              std::pair<int, int64_t>{2, 32},
                                                              std::pair<int, int64_t>{12, 768}),
                                            ::testing::Range<size_t>(0, kBatchCount)),
                         attention_name);

// ---------------------------------------------------------------- pooling

class CudaPool : public ::testing::TestWithParam<NormShape> {};

TEST_P(CudaPool, EveryModeWithAndWithoutNormalize) {
  CUDA_ENCODER_OPS_OR_SKIP(gpu);
  auto cpu = make_cpu_encoder_ops();
  const auto [h, bi] = GetParam();
  const PackedBatch batch = make_batch(batch_lens(bi), 10, 0, 4);
  const int64_t n = batch.tokens(), nb = batch.batch();
  auto xh = randn(n * h, static_cast<uint32_t>(h * 3 + bi));
  std::fill(xh.begin(), xh.begin() + h, 0.0f);  // sequence 0 starts with a zero row: CLS + normalize stays 0
  auto xg = put(*gpu, xh, n, h), xc = put(*cpu, xh, n, h);
  gpu->set_batch(batch);
  cpu->set_batch(batch);
  for (Pooling mode : {Pooling::Mean, Pooling::Cls, Pooling::Max})
    for (bool normalize : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "pooling " << int(mode) << (normalize ? ", normalized" : ", raw"));
      auto og = poisoned(*gpu, nb + 3, h), oc = cpu->alloc(nb + 3, h);
      gpu->pool(*xg, mode, normalize, *og);
      cpu->pool(*xc, mode, normalize, *oc);
      ASSERT_EQ(og->rows, nb);
      EXPECT_TRUE(matches(to_host(*gpu, *og), to_host(*cpu, *oc), h, kLimit));
    }
}

INSTANTIATE_TEST_SUITE_P(OddSizes, CudaPool,
                         ::testing::Combine(::testing::Values<int64_t>(1, 31, 384, 768),
                                            ::testing::Range<size_t>(0, kBatchCount)),
                         norm_name);

// ---------------------------------------------------------------- whole encoder

EncoderSpec minilm_spec() {  // all-MiniLM-L6-v2's shape with a small vocabulary
  EncoderSpec s;
  s.vocab = 1000;
  s.hidden = 384;
  s.layers = 6;
  s.heads = 12;
  s.intermediate = 1536;
  s.max_positions = 512;
  s.type_vocab = 2;
  return s;
}

EncoderSpec xlmr_spec() {  // multilingual-e5-small's shape with a small vocabulary
  EncoderSpec s = minilm_spec();
  s.arch = "xlm-roberta";
  s.pad_id = 1;
  s.layers = 12;
  s.max_positions = 514;
  s.type_vocab = 1;
  s.eps = 1e-5f;
  return s;
}

using Seqs = std::vector<std::vector<int32_t>>;

Seqs random_seqs(size_t count, int max_len, int vocab, uint32_t seed) {
  std::mt19937 g(seed);
  Seqs seqs(count);
  for (auto& s : seqs) {
    s.resize(1 + g() % max_len);
    for (auto& id : s) id = static_cast<int32_t>(g() % vocab);
  }
  return seqs;
}

std::vector<float> run_graph(EncoderGraph& g, const Seqs& seqs, Pooling pooling, bool normalize) {
  PackedBatch b;
  b.offsets = {0};
  const auto pos0 = static_cast<int32_t>(g.spec().position_offset());
  for (const auto& s : seqs) {
    for (size_t p = 0; p < s.size(); ++p) {
      b.ids.push_back(s[p]);
      b.positions.push_back(pos0 + static_cast<int32_t>(p));
    }
    b.offsets.push_back(static_cast<int32_t>(b.ids.size()));
  }
  std::vector<float> out(seqs.size() * g.spec().hidden, std::numeric_limits<float>::quiet_NaN());
  g.run(b, pooling, normalize, out.data());
  return out;
}

// Sentence by sentence, the GPU's vector (a) against the CPU's (b): finite, and at
// least `min_cosine` apart.
void expect_same_directions(const std::vector<float>& a, const std::vector<float>& b, const Seqs& seqs, int64_t h,
                            double min_cosine) {
  for (size_t s = 0; s < seqs.size(); ++s) {
    double ab = 0, aa = 0, bb = 0;
    for (int64_t j = 0; j < h; ++j) {
      const double x = a[s * h + j], y = b[s * h + j];
      ASSERT_TRUE(std::isfinite(x)) << "sentence " << s << ", dim " << j << ": GPU gave " << x;
      ab += x * y, aa += x * x, bb += y * y;
    }
    EXPECT_GE(ab / std::sqrt(aa * bb), min_cosine) << "sentence " << s << " (" << seqs[s].size() << " tokens)";
  }
}

class CudaEncoderGraph : public ::testing::TestWithParam<std::pair<const char*, EncoderSpec>> {};

// The whole graph on the GPU (fp32 or fp16 GEMMs) against the CPU, 40 random
// sentences of up to 200 tokens, in every pooling asked for.
void graph_matches_cpu(const EncoderSpec& spec, bool fp16, double min_cosine,
                       const std::vector<std::pair<Pooling, bool>>& poolings) {
  CUDA_ENCODER_OPS_OR_SKIP_AS(gpu, fp16);
  auto cpu = make_cpu_encoder_ops();
  const Seqs seqs = random_seqs(40, 200, static_cast<int>(spec.vocab), 11);
  int64_t tokens = 0;
  for (const auto& s : seqs) tokens += static_cast<int64_t>(s.size());
  auto weights = random_weights(42);
  EncoderGraph gg(*gpu, spec, *weights, tokens), gc(*cpu, spec, *weights, tokens);
  for (auto [pooling, normalize] : poolings) {
    SCOPED_TRACE(::testing::Message() << "pooling " << int(pooling) << (normalize ? ", normalized" : ", raw"));
    expect_same_directions(run_graph(gg, seqs, pooling, normalize), run_graph(gc, seqs, pooling, normalize), seqs,
                           spec.hidden, min_cosine);
  }
}

TEST_P(CudaEncoderGraph, EverySentenceMatchesTheCpu) {
  graph_matches_cpu(GetParam().second, false, 0.9999, {{Pooling::Mean, true}, {Pooling::Cls, false}});
}

TEST_P(CudaEncoderGraph, EverySentenceMatchesTheCpuInFp16) {
  graph_matches_cpu(GetParam().second, true, 0.999, {{Pooling::Mean, true}});
}

INSTANTIATE_TEST_SUITE_P(ModelShapes, CudaEncoderGraph,
                         ::testing::Values(std::pair{"MiniLM_L6", minilm_spec()}, std::pair{"XLMR_L12", xlmr_spec()}),
                         [](const auto& p) { return std::string(p.param.first); });

// Op timing (what bench_encoder reports): every kind of op the graph runs gets device
// time while profiling is on, none is added once it is off, and the vectors are the same.
TEST(CudaEncoderProfile, TimesEveryKindOfOpOnlyWhileOn) {
  CUDA_ENCODER_OPS_OR_SKIP_AS(gpu, true);
  const EncoderSpec spec = minilm_spec();
  const Seqs seqs = random_seqs(30, 60, static_cast<int>(spec.vocab), 5);
  auto weights = random_weights(3);
  EncoderGraph g(*gpu, spec, *weights, 30 * 60);
  const auto plain = run_graph(g, seqs, Pooling::Mean, true);
  EXPECT_TRUE(gpu->op_times().empty());
  gpu->set_profiling(true);
  EXPECT_EQ(run_graph(g, seqs, Pooling::Mean, true), plain);
  const auto times = gpu->op_times();
  gpu->set_profiling(false);
  for (const char* kind : {"embed_layernorm", "gemm", "attention", "add_layernorm", "bias_activation", "pool"}) {
    const auto it = std::find_if(times.begin(), times.end(), [&](const auto& t) { return t.first == kind; });
    ASSERT_NE(it, times.end()) << kind << " was not timed";
    EXPECT_GT(it->second, 0.0) << kind;
  }
  run_graph(g, seqs, Pooling::Mean, true);
  EXPECT_EQ(gpu->op_times(), times);
}

// fp32 must be batch-invariant bit for bit; fp16 within float16 rounding.
class CudaBatchInvariance : public ::testing::TestWithParam<bool> {};

TEST_P(CudaBatchInvariance, ASentenceDoesNotDependOnItsBatch) {
  const bool fp16 = GetParam();
  CUDA_ENCODER_OPS_OR_SKIP_AS(gpu, fp16);
  const EncoderSpec spec = minilm_spec();
  auto weights = random_weights(7);
  EncoderGraph g(*gpu, spec, *weights, 2048);
  const Seqs others = random_seqs(5, 300, static_cast<int>(spec.vocab), 12);
  const Seqs target = random_seqs(1, 60, static_cast<int>(spec.vocab), 13);
  Seqs long_one = random_seqs(1, 1, static_cast<int>(spec.vocab), 14);
  long_one[0].resize(512, 5);  // the longest a sequence may be: another attention tiling
  const int64_t h = spec.hidden;
  const auto alone = run_graph(g, target, Pooling::Mean, true);
  // The target at position 2 of a batch, then last in the batch reversed with a long sentence.
  const Seqs mixed = {others[0], others[1], target[0], others[2], others[3], others[4]};
  const Seqs reordered = {long_one[0], others[4], others[3], others[2], others[1], others[0], target[0]};
  const auto in_mixed = run_graph(g, mixed, Pooling::Mean, true);
  const auto in_reordered = run_graph(g, reordered, Pooling::Mean, true);
  double worst_mixed = 0, worst_reordered = 0, worst_others = 0;
  for (int64_t j = 0; j < h; ++j) {
    ASSERT_TRUE(std::isfinite(alone[j])) << "dim " << j;
    worst_mixed = std::max<double>(worst_mixed, std::abs(alone[j] - in_mixed[2 * h + j]));
    worst_reordered = std::max<double>(worst_reordered, std::abs(alone[j] - in_reordered[6 * h + j]));
  }
  for (int i = 0; i < 5; ++i)  // the other sentences, in either order
    for (int64_t j = 0; j < h; ++j) {
      const size_t in_m = (i < 2 ? i : i + 1) * h + j, in_r = (5 - i) * h + j;
      worst_others = std::max<double>(worst_others, std::abs(in_mixed[in_m] - in_reordered[in_r]));
    }
  const double limit = fp16 ? 1e-3 : 0.0;  // unit vectors: 1e-3 is about two float16 ulps
  EXPECT_LE(worst_mixed, limit) << "alone vs inside a batch";
  EXPECT_LE(worst_reordered, limit) << "alone vs in another order, beside a 512-token sentence";
  EXPECT_LE(worst_others, limit) << "the other sentences in the two orders";
}

INSTANTIATE_TEST_SUITE_P(Precisions, CudaBatchInvariance, ::testing::Values(false, true),
                         [](const auto& p) { return std::string(p.param ? "Fp16" : "Fp32"); });

}  // namespace
}  // namespace emb
