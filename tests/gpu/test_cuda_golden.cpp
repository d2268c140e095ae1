// The whole model on the GPU against the CPU encoder, on the golden sentences
// (tests/data/encoder/golden_sentences.txt) with the real installed models, through
// the embedder as `embclust embed` runs it (chunks, sorted batches, overlap):
// cosine at least 0.9999 sentence by sentence in the fp32 mode and 0.999 in fp16.
// Skips without a device, or without the model (fails where EMBCLUST_REQUIRE_MODELS=1).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/embed/transformer_embedder.hpp"
#include "tests/gpu/cuda_test_util.hpp"
#include "tests/model_test_util.hpp"

namespace emb {
namespace {

std::vector<std::string> golden_sentences() {
  std::ifstream in(std::string(EMBCLUST_SOURCE_DIR) + "/tests/data/encoder/golden_sentences.txt");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

Matrix embed_with(const std::string& model, const std::vector<std::string>& texts, Backend& backend,
                  EmbedStats* stats) {
  EmbedOptions opts;
  opts.model = model;
  opts.progress = false;
  TransformerEmbedder e(load_encoder_model(model), opts);
  Matrix m = e.embed(texts, backend);
  *stats = e.stats();
  return m;
}

class CudaGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaGolden, TheGpuEncoderMatchesTheCpuEncoder) {
  const std::string name = GetParam();
  EMB_MODEL_FILE_OR_SKIP(tokenizer, name, "tokenizer.json");
  EMB_MODEL_FILE_OR_SKIP(weights, name, "model.safetensors");
  std::string reason;
  if (!test::cuda_backend_or_reason(&reason)) GTEST_SKIP() << "no CUDA device: " << reason;
  const auto sentences = golden_sentences();
  ASSERT_GE(sentences.size(), 50u);
  auto cpu = make_cpu_backend();
  EmbedStats cpu_stats, gpu_stats;
  const Matrix want = embed_with(name, sentences, *cpu, &cpu_stats);
  for (const bool fp16 : {false, true}) {
    SCOPED_TRACE(fp16 ? "fp16" : "fp32");
    test::CudaLimits limits;
    limits.encoder_fp16 = fp16;
    auto gpu = test::cuda_backend_or_reason(&reason, limits);
    ASSERT_TRUE(gpu) << reason;
    const Matrix got = embed_with(name, sentences, *gpu, &gpu_stats);
    EXPECT_NE(gpu_stats.device.find("cuda"), std::string::npos) << gpu_stats.device;
    EXPECT_EQ(gpu_stats.tokens, cpu_stats.tokens);
    EXPECT_EQ(gpu_stats.truncated, cpu_stats.truncated);
    ASSERT_EQ(got.rows(), want.rows());
    ASSERT_EQ(got.cols(), want.cols());
    double worst = 1.0;
    size_t worst_i = 0;
    for (size_t i = 0; i < sentences.size(); ++i) {
      const float* a = got.row(static_cast<int64_t>(i));
      const float* b = want.row(static_cast<int64_t>(i));
      double ab = 0, aa = 0, bb = 0;
      for (int64_t j = 0; j < got.cols(); ++j) {
        ASSERT_TRUE(std::isfinite(a[j])) << "sentence " << i << ", dim " << j;
        ab += double(a[j]) * b[j], aa += double(a[j]) * a[j], bb += double(b[j]) * b[j];
      }
      const double c = ab / std::sqrt(aa * bb);
      if (c < worst) worst = c, worst_i = i;
    }
    std::printf("%s, %s: lowest cosine GPU vs CPU %.7f over %zu sentences\n", name.c_str(), fp16 ? "fp16" : "fp32",
                worst, sentences.size());
    EXPECT_GE(worst, fp16 ? 0.999 : 0.9999) << "worst sentence: " << sentences[worst_i];
  }
}

INSTANTIATE_TEST_SUITE_P(Models, CudaGolden,
                         ::testing::Values(std::string("all-MiniLM-L6-v2"), std::string("multilingual-e5-small")),
                         test::model_test_name);

}  // namespace
}  // namespace emb
