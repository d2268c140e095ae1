// The CPU encoder ops against plain double-precision loops written from the
// definitions, at odd sizes; and the encoder graph's invariances.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "host/backend/encoder_ops.hpp"
#include "encoder_test_util.hpp"
#include "host/embed/encoder_graph.hpp"

namespace emb {
namespace {

using test::randn;
using test::to_host;

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_FALSE(std::isnan(got[i])) << "NaN at " << i;
    ASSERT_NEAR(got[i], want[i], tol * (1.0 + std::abs(want[i]))) << "at " << i;
  }
}

// Three sequences of odd lengths, packed.
PackedBatch odd_batch(int vocab) {
  PackedBatch b;
  b.offsets = {0};
  std::mt19937 g(7);
  for (int len : {1, 7, 13}) {
    for (int p = 0; p < len; ++p) {
      b.ids.push_back(static_cast<int32_t>(g() % vocab));
      b.positions.push_back(p + 2);
    }
    b.offsets.push_back(static_cast<int32_t>(b.ids.size()));
  }
  return b;
}

void layernorm_ref(std::vector<double>& x, const std::vector<float>& g, const std::vector<float>& b, double eps) {
  const auto h = x.size();
  double m = 0, v = 0;
  for (double e : x) m += e;
  m /= h;
  for (double e : x) v += (e - m) * (e - m);
  v /= h;
  for (size_t j = 0; j < h; ++j) x[j] = (x[j] - m) / std::sqrt(v + eps) * g[j] + b[j];
}

TEST(CpuEncoderOps, LinearWithEveryActivation) {
  auto ops = make_cpu_encoder_ops();
  const int64_t n = 17, in = 29, out = 37;
  const auto xh = randn(n * in, 1), wh = randn(out * in, 2, 0.3f), bh = randn(out, 3);
  auto x = ops->upload_weight(xh.data(), n, in);
  auto w = ops->upload_weight(wh.data(), out, in);
  auto b = ops->upload_weight(bh.data(), 1, out);
  auto y = ops->alloc(n + 5, out);
  for (Activation act : {Activation::None, Activation::GeluErf, Activation::GeluTanh, Activation::Relu}) {
    ops->linear(*x, *w, b.get(), act, *y);
    ASSERT_EQ(y->rows, n);
    std::vector<double> want(n * out);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < out; ++j) {
        double s = bh[j];
        for (int64_t k = 0; k < in; ++k) s += double(xh[i * in + k]) * wh[j * in + k];
        if (act == Activation::GeluErf) s = 0.5 * s * (1 + std::erf(s / std::sqrt(2.0)));
        if (act == Activation::GeluTanh)
          s = 0.5 * s * (1 + std::tanh(std::sqrt(2 / M_PI) * (s + 0.044715 * s * s * s)));
        if (act == Activation::Relu) s = std::max(s, 0.0);
        want[i * out + j] = s;
      }
    expect_close(to_host(*ops, *y), want, 2e-5);
  }
  ops->linear(*x, *w, nullptr, Activation::None, *y);  // no bias
  std::vector<double> want(n * out);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < out; ++j)
      for (int64_t k = 0; k < in; ++k) want[i * out + j] += double(xh[i * in + k]) * wh[j * in + k];
  expect_close(to_host(*ops, *y), want, 2e-5);
}

TEST(CpuEncoderOps, EmbedLayerNormAndAddLayerNorm) {
  auto ops = make_cpu_encoder_ops();
  const int vocab = 11, h = 19, npos = 40;
  const PackedBatch batch = odd_batch(vocab);
  const auto word = randn(vocab * h, 4), pos = randn(npos * h, 5), type = randn(h, 6), g = randn(h, 7),
             be = randn(h, 8);
  auto W = ops->upload_weight(word.data(), vocab, h);
  auto P = ops->upload_weight(pos.data(), npos, h);
  auto T = ops->upload_weight(type.data(), 1, h);
  auto G = ops->upload_weight(g.data(), 1, h);
  auto B = ops->upload_weight(be.data(), 1, h);
  auto out = ops->alloc(batch.tokens(), h);
  ops->set_batch(batch);
  ops->embed_layernorm(*W, *P, *T, *G, *B, 1e-5f, *out);
  std::vector<double> want;
  for (int64_t t = 0; t < batch.tokens(); ++t) {
    std::vector<double> r(h);
    for (int j = 0; j < h; ++j) r[j] = double(word[batch.ids[t] * h + j]) + pos[batch.positions[t] * h + j] + type[j];
    layernorm_ref(r, g, be, 1e-5);
    want.insert(want.end(), r.begin(), r.end());
  }
  expect_close(to_host(*ops, *out), want, 1e-5);

  // x = LN(x + residual)
  const auto xh = randn(batch.tokens() * h, 9), rh = randn(batch.tokens() * h, 10);
  auto x = ops->upload_weight(xh.data(), batch.tokens(), h);
  auto res = ops->upload_weight(rh.data(), batch.tokens(), h);
  ops->add_layernorm(*x, *res, *G, *B, 1e-12f);
  want.clear();
  for (int64_t t = 0; t < batch.tokens(); ++t) {
    std::vector<double> r(h);
    for (int j = 0; j < h; ++j) r[j] = double(xh[t * h + j]) + rh[t * h + j];
    layernorm_ref(r, g, be, 1e-12);
    want.insert(want.end(), r.begin(), r.end());
  }
  expect_close(to_host(*ops, *x), want, 1e-5);
}

TEST(CpuEncoderOps, AttentionStaysWithinEachSequence) {
  auto ops = make_cpu_encoder_ops();
  const int heads = 3, dh = 5, h = heads * dh;
  const PackedBatch batch = odd_batch(10);
  const int64_t n = batch.tokens();
  const auto qkvh = randn(n * 3 * h, 11, 2.0f);
  auto qkv = ops->upload_weight(qkvh.data(), n, 3 * h);
  auto out = ops->alloc(n, h);
  ops->set_batch(batch);
  ops->attention(*qkv, heads, *out);
  std::vector<double> want(n * h);
  for (int64_t s = 0; s + 1 < static_cast<int64_t>(batch.offsets.size()); ++s) {
    const int64_t b0 = batch.offsets[s], b1 = batch.offsets[s + 1];
    for (int hd = 0; hd < heads; ++hd)
      for (int64_t i = b0; i < b1; ++i) {
        std::vector<double> p;
        double mx = -1e300, sum = 0;
        for (int64_t j = b0; j < b1; ++j) {
          double d = 0;
          for (int c = 0; c < dh; ++c) d += double(qkvh[i * 3 * h + hd * dh + c]) * qkvh[j * 3 * h + h + hd * dh + c];
          p.push_back(d / std::sqrt(double(dh)));
          mx = std::max(mx, p.back());
        }
        for (double& e : p) sum += (e = std::exp(e - mx));
        for (int c = 0; c < dh; ++c) {
          double o = 0;
          for (int64_t j = b0; j < b1; ++j) o += p[j - b0] / sum * qkvh[j * 3 * h + 2 * h + hd * dh + c];
          want[i * h + hd * dh + c] = o;
        }
      }
  }
  expect_close(to_host(*ops, *out), want, 1e-5);
}

TEST(CpuEncoderOps, PoolingModesAndNormalization) {
  auto ops = make_cpu_encoder_ops();
  const int h = 23;
  const PackedBatch batch = odd_batch(10);
  const int64_t n = batch.tokens(), nb = batch.batch();
  const auto xh = randn(n * h, 12);
  auto x = ops->upload_weight(xh.data(), n, h);
  auto out = ops->alloc(n, h);
  ops->set_batch(batch);
  for (Pooling mode : {Pooling::Mean, Pooling::Cls, Pooling::Max})
    for (bool normalize : {false, true}) {
      ops->pool(*x, mode, normalize, *out);
      ASSERT_EQ(out->rows, nb);
      std::vector<double> want;
      for (int64_t s = 0; s < nb; ++s) {
        const int64_t b0 = batch.offsets[s], b1 = batch.offsets[s + 1];
        std::vector<double> r(h, mode == Pooling::Max ? -1e300 : 0.0);
        for (int64_t t = (mode == Pooling::Cls ? b0 : b0); t < (mode == Pooling::Cls ? b0 + 1 : b1); ++t)
          for (int j = 0; j < h; ++j)
            r[j] = mode == Pooling::Max ? std::max(r[j], double(xh[t * h + j])) : r[j] + xh[t * h + j];
        if (mode == Pooling::Mean)
          for (double& e : r) e /= double(b1 - b0);
        if (normalize) {
          double ss = 0;
          for (double e : r) ss += e * e;
          for (double& e : r) e /= std::sqrt(ss);
        }
        want.insert(want.end(), r.begin(), r.end());
      }
      expect_close(to_host(*ops, *out), want, 1e-5);
    }
}

EncoderSpec tiny_spec(const std::string& arch) {
  EncoderSpec s;
  s.arch = arch;
  s.vocab = 50;
  s.hidden = 24;
  s.layers = 2;
  s.heads = 4;
  s.intermediate = 40;
  s.max_positions = 64;
  s.type_vocab = 2;
  s.pad_id = 1;
  return s;
}

std::vector<float> run_graph(EncoderGraph& g, const std::vector<std::vector<int32_t>>& seqs, int64_t pos0) {
  PackedBatch b;
  b.offsets = {0};
  for (const auto& s : seqs) {
    for (size_t p = 0; p < s.size(); ++p) {
      b.ids.push_back(s[p]);
      b.positions.push_back(static_cast<int32_t>(pos0 + p));
    }
    b.offsets.push_back(static_cast<int32_t>(b.ids.size()));
  }
  std::vector<float> out(seqs.size() * g.spec().hidden);
  g.run(b, Pooling::Mean, true, out.data());
  return out;
}

TEST(EncoderGraph, ASentenceDoesNotDependOnItsBatch) {
  auto ops = make_cpu_encoder_ops();
  const EncoderSpec spec = tiny_spec("bert");
  auto weights = random_weights(3);
  EncoderGraph g(*ops, spec, *weights, 256);
  const std::vector<int32_t> a = {2, 7, 9, 11, 3}, b = {2, 40, 41, 3}, c = {2, 5, 6, 7, 8, 9, 10, 11, 3};
  const auto alone = run_graph(g, {a}, 0);
  const auto mixed = run_graph(g, {c, a, b}, 0);
  const int64_t h = spec.hidden;
  for (int64_t j = 0; j < h; ++j) {
    ASSERT_FALSE(std::isnan(alone[j]));
    EXPECT_NEAR(alone[j], mixed[h + j], 1e-6f) << j;
  }
  double ss = 0;
  for (int64_t j = 0; j < h; ++j) ss += double(alone[j]) * alone[j];
  EXPECT_NEAR(ss, 1.0, 1e-5);
  // Different sentences give different vectors.
  double dot = 0;
  for (int64_t j = 0; j < h; ++j) dot += double(mixed[j]) * mixed[h + j];
  EXPECT_LT(dot, 0.9999);
}

TEST(EncoderGraph, RandomWeightsAreSeeded) {
  auto w1 = random_weights(5), w2 = random_weights(5), w3 = random_weights(6);
  std::vector<float> a(100), b(100), c(100);
  w1->read("encoder.layer.0.output.dense.weight", {10, 10}, a.data());
  w2->read("encoder.layer.0.output.dense.weight", {10, 10}, b.data());
  w3->read("encoder.layer.0.output.dense.weight", {10, 10}, c.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  double m = 0, v = 0;
  for (float x : a) m += x;
  m /= 100;
  for (float x : a) v += (x - m) * (x - m);
  EXPECT_NEAR(std::sqrt(v / 100), 0.02, 0.006);
}

TEST(EncoderGraph, XlmRobertaPositionsStartAfterPadding) {
  EXPECT_EQ(tiny_spec("bert").position_offset(), 0);
  EXPECT_EQ(tiny_spec("xlm-roberta").position_offset(), 2);
  EXPECT_EQ(tiny_spec("xlm-roberta").max_tokens_per_sequence(), 62);
}

}  // namespace
}  // namespace emb
