#pragma once
// Unigram (SentencePiece, XLM-R family): the most probable segmentation by Viterbi.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "host/tokenize/model.hpp"
#include "host/tokenize/piece_trie.hpp"

namespace emb::tok {

/// @brief Unigram as Hugging Face tokenizers runs it: Viterbi over piece scores (log
///        probabilities), a character no piece covers costs min score - 10 and becomes
///        unk, runs of unk are fused into one token (or byte-fallback pieces <0xXX>).
class Unigram final : public Model {
 public:
  /// @throws emb::InputError naming `path` for a bad vocab or unk_id.
  Unigram(const nlohmann::json& model, const std::string& path);

  void tokenize(std::string_view word, std::vector<int32_t>& ids) const override;
  std::string kind() const override { return "unigram"; }
  int32_t vocab_size() const override { return static_cast<int32_t>(scores_.size()); }
  int32_t token_to_id(std::string_view token) const override;
  int32_t unk_id() const override { return unk_id_; }

 private:
  void push_token(std::string_view piece, std::vector<int32_t>& ids) const;

  StringMap ids_;
  std::vector<double> scores_;
  PieceTrie trie_;
  double unk_score_ = 0;
  int32_t unk_id_ = -1;
  bool byte_fallback_ = false;
};

}  // namespace emb::tok
