#pragma once
// WordPiece (BERT): greedy longest-match-first subwords.
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "host/tokenize/model.hpp"
#include "host/tokenize/piece_trie.hpp"

namespace emb::tok {

/// @brief WordPiece as Hugging Face tokenizers runs it: the longest vocabulary entry
///        that starts the word, then the longest continuation (prefixed "##") from
///        there on; a word with an unmatchable rest, or longer than
///        max_input_chars_per_word characters, becomes a single unk.
class WordPiece final : public Model {
 public:
  /// @throws emb::InputError naming `path` for a missing vocab or unk token.
  WordPiece(const nlohmann::json& model, const std::string& path);

  void tokenize(std::string_view word, std::vector<int32_t>& ids) const override;
  std::string kind() const override { return "wordpiece"; }
  int32_t vocab_size() const override { return static_cast<int32_t>(vocab_.size()); }
  int32_t token_to_id(std::string_view token) const override;
  int32_t unk_id() const override { return unk_id_; }

 private:
  StringMap vocab_;
  PieceTrie start_;         // every entry as written, for the start of a word
  PieceTrie continuation_;  // entries that start with the prefix, prefix removed
  size_t max_chars_ = 100;
  int32_t unk_id_ = -1;
};

}  // namespace emb::tok
