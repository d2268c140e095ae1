// The hashing embedder: deterministic, unit rows, and similar sentences closer
// than unrelated ones, in Korean and English.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "host/core/error.hpp"
#include "host/embed/hashing_embedder.hpp"

namespace emb {
namespace {

double dot(const Matrix& m, int64_t a, int64_t b) {
  double s = 0;
  for (int64_t j = 0; j < m.cols(); ++j) s += double(m.row(a)[j]) * m.row(b)[j];
  return s;
}

const std::vector<std::string> kTexts = {
    "The telescope observed a distant galaxy full of young stars.",          // 0
    "Astronomers used the telescope to observe young stars in a galaxy.",    // 1
    "Add the chopped garlic to the pan and stir the sauce gently.",          // 2
    "김치찌개는 잘 익은 김치와 돼지고기로 끓인다.",                              // 3
    "잘 익은 김치에 돼지고기를 넣고 김치찌개를 끓인다.",                          // 4
    "한라산 정상까지 오르는 등산로는 네 갈래가 있다.",                            // 5
    "",                                                                      // 6: no features
};

TEST(HashingEmbedder, DeterministicAndNormalized) {
  auto cpu = make_cpu_backend(2);
  HashingEmbedder e(256, false);
  Matrix a = e.embed(kTexts, *cpu);
  Matrix b = e.embed(kTexts, *cpu);
  ASSERT_EQ(a.rows(), static_cast<int64_t>(kTexts.size()));
  ASSERT_EQ(a.cols(), 256);
  EXPECT_EQ(a.storage(), b.storage());
  for (int64_t i = 0; i + 1 < a.rows(); ++i) EXPECT_NEAR(dot(a, i, i), 1.0, 1e-5) << "row " << i;
  for (int64_t j = 0; j < a.cols(); ++j) EXPECT_EQ(a.row(6)[j], 0.0f);  // empty text stays the zero vector
}

TEST(HashingEmbedder, SimilarSentencesAreCloser) {
  auto cpu = make_cpu_backend(1);
  HashingEmbedder e(1024, false);
  Matrix m = e.embed(kTexts, *cpu);
  EXPECT_GT(dot(m, 0, 1), dot(m, 0, 2));
  EXPECT_GT(dot(m, 0, 1), dot(m, 0, 3));
  EXPECT_GT(dot(m, 3, 4), dot(m, 3, 5));
  EXPECT_GT(dot(m, 3, 4), dot(m, 3, 0));
  EXPECT_GT(dot(m, 3, 4), 0.3);
}

TEST(HashingEmbedder, FeaturesFoldCaseAndWidth) {
  const HashedFeatures a = hash_features("Hello WORLD");
  const HashedFeatures b = hash_features("hello world");
  const HashedFeatures c = hash_features("ｈｅｌｌｏ　world");  // fullwidth letters and space (NFKC)
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.id, c.id);
  // "ab": word "ab" + grams a, b, ab -> 4 distinct features.
  EXPECT_EQ(hash_features("ab").id.size(), 4u);
  // Hangul syllables are characters: "김치" gives the word, 김, 치, 김치 -> 4.
  EXPECT_EQ(hash_features("김치!").id.size(), 4u);
}

TEST(HashingEmbedder, RejectsBadDimension) {
  EXPECT_THROW(HashingEmbedder(1, false), UsageError);
  EmbedOptions o;
  o.model = "no-such-model";
  try {
    make_embedder(o);
    FAIL() << "no exception";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-model"), std::string::npos);
  }
}

}  // namespace
}  // namespace emb

#include "host/pipeline/stages.hpp"

namespace emb {
namespace {

// On the shipped sample (six topics, Korean and English), a sentence's nearest
// neighbour by cosine comes from the same document far more often than chance (~1/6).
TEST(HashingEmbedder, NearestNeighbourSharesTheTopicOnTheSample) {
  const auto seg = run_segment({std::string(EMBCLUST_SOURCE_DIR) + "/tests/data/sample"}, {}, [](const std::string&) {});
  auto cpu = make_cpu_backend(2);
  HashingEmbedder e(1024, false);
  Matrix m = e.embed(seg.segments.text, *cpu);
  // Topic = file (the JSONL records are all one topic).
  const auto topic = [&](int64_t i) { return seg.documents.path[static_cast<size_t>(seg.segments.document[i])]; };
  int64_t same = 0;
  for (int64_t i = 0; i < m.rows(); ++i) {
    int64_t best = -1;
    double best_sim = -2;
    for (int64_t j = 0; j < m.rows(); ++j)
      if (j != i && dot(m, i, j) > best_sim) best_sim = dot(m, i, j), best = j;
    same += topic(best) == topic(i);
  }
  const double rate = static_cast<double>(same) / m.rows();
  EXPECT_GT(rate, 0.6) << "nearest neighbour from the same topic for " << rate * 100 << "% of sentences";
}


// Chunk by chunk, the vectors of one whole run (the idf still comes from every
// text), and chunks the sink holds are not computed.
TEST(HashingEmbedder, ChunksAreTheWholeRunsRowsAndHeldOnesAreSkipped) {
  auto cpu = make_cpu_backend(2);
  HashingEmbedder e(128, false);
  const Matrix whole = e.embed(kTexts, *cpu);
  class Sink final : public EmbeddingSink {
   public:
    bool has_chunk(int64_t c) const override { return c == 1; }
    void put_chunk(int64_t c, int64_t first, int64_t rows, const float* data, const EmbedStats&) override {
      chunks.push_back(c);
      got.emplace_back(first, std::vector<float>(data, data + rows * 128));
    }
    std::vector<int64_t> chunks;
    std::vector<std::pair<int64_t, std::vector<float>>> got;
  } sink;
  e.embed_chunks(kTexts, *cpu, 3, sink);  // 7 texts: chunks of 3, 3 and 1
  EXPECT_EQ(sink.chunks, (std::vector<int64_t>{0, 2}));
  ASSERT_EQ(sink.got.size(), 2u);
  for (const auto& [first, values] : sink.got)
    for (size_t v = 0; v < values.size(); ++v)
      EXPECT_EQ(values[v], whole.row(first)[v]) << "row " << first + static_cast<int64_t>(v / 128);
}

}  // namespace
}  // namespace emb
