// Golden test: embclust's CPU encoder against vectors the real sentence-transformers
// computed for the same sentences and weights (scripts/make_encoder_golden.py wrote
// tests/data/encoder/golden.h5). Each sentence must reach cosine >= 0.9999.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/embed/transformer_embedder.hpp"
#include "io/h5.hpp"
#include "io/store.hpp"
#include "model_test_util.hpp"

namespace emb {
namespace {

const std::string kData = std::string(EMBCLUST_SOURCE_DIR) + "/tests/data/encoder/";

std::vector<std::string> golden_sentences() {
  std::ifstream in(kData + "golden_sentences.txt");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

std::string group_attr(const std::string& model, const std::string& attr) {
  io::h5::File f = io::h5::open_file(kData + "golden.h5");
  io::h5::Group g = io::h5::open_group(f.get(), "/" + model);
  return io::h5::has_attr(g.get(), attr) ? io::h5::string_attr(g.get(), attr) : std::string();
}

double cosine(const float* a, const float* b, int64_t d) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t j = 0; j < d; ++j) {
    ab += double(a[j]) * b[j];
    aa += double(a[j]) * a[j];
    bb += double(b[j]) * b[j];
  }
  return ab / std::sqrt(aa * bb);
}

class GoldenEncoder : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenEncoder, MatchesSentenceTransformers) {
  const std::string name = GetParam();
  EMB_MODEL_FILE_OR_SKIP(weights, name, "model.safetensors");
  const auto sentences = golden_sentences();
  ASSERT_GE(sentences.size(), 50u);
  const io::EmbeddingSet want = io::read_float_matrix(kData + "golden.h5", "/" + name + "/vectors");
  ASSERT_EQ(want.n, static_cast<int64_t>(sentences.size()));

  EmbedOptions opts;
  opts.model = name;
  opts.progress = false;
  // The prompt sentence-transformers was run with (an e5 model's "query: ").
  const std::string prompt = group_attr(name, "prompt_name");
  opts.prompt = prompt.empty() ? "none" : prompt;
  TransformerEmbedder embedder(load_encoder_model(name), opts);
  auto cpu = make_cpu_backend();
  const Matrix got = embedder.embed(sentences, *cpu);
  ASSERT_EQ(got.cols(), want.dim);

  double worst = 1.0;
  size_t worst_i = 0;
  for (size_t i = 0; i < sentences.size(); ++i) {
    const double c = cosine(got.row(static_cast<int64_t>(i)), want.vectors.data() + i * want.dim, want.dim);
    ASSERT_FALSE(std::isnan(c)) << sentences[i];
    if (c < worst) worst = c, worst_i = i;
  }
  std::printf("%s: lowest cosine with sentence-transformers %.7f over %zu sentences\n", name.c_str(), worst,
              sentences.size());
  EXPECT_GE(worst, 0.9999) << "worst sentence: " << sentences[worst_i];
  // The long paragraph is cut at max_seq_length as sentence-transformers cuts it.
  EXPECT_GE(embedder.stats().truncated, 1);
}

INSTANTIATE_TEST_SUITE_P(Models, GoldenEncoder,
                         ::testing::Values(std::string("all-MiniLM-L6-v2"), std::string("multilingual-e5-small")),
                         test::model_test_name);

}  // namespace
}  // namespace emb
