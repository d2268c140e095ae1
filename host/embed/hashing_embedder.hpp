#pragma once
// The `hashing` embedder: signed feature hashing of character n-grams and words,
// weighted by sublinear tf times idf from the corpus, L2-normalized. No model files.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "host/embed/embedder.hpp"

namespace emb {

/// @brief Hashed features of one text: 64-bit feature ids with their counts, sorted by id.
struct HashedFeatures {
  std::vector<uint64_t> id;
  std::vector<float> count;
};

/// @brief Extracts features: NFKC + case folding; words are maximal runs of letters,
///        marks and digits (Hangul syllables are letters); each word gives itself
///        and its character 1- to 3-grams.
HashedFeatures hash_features(std::string_view text);

class HashingEmbedder final : public Embedder {
 public:
  explicit HashingEmbedder(int dim, bool progress = true);
  std::string model_name() const override { return "hashing"; }
  int64_t dim() const override { return dim_; }
  bool normalized() const override { return true; }
  /// @brief Document frequencies over every text first (the idf needs the whole
  ///        corpus), then the vectors chunk by chunk.
  void embed_chunks(const std::vector<std::string>& texts, Backend& backend, int64_t chunk_rows,
                    EmbeddingSink& sink) override;

 private:
  int dim_;
  bool progress_;
};

}  // namespace emb
