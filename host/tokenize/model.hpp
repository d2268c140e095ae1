#pragma once
// The model stage of a tokenizer: one pre-tokenized word in, token ids out.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace emb::tok {

/// @brief Hash of strings that also takes string_views, so lookups do not allocate.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using StringMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

/// @brief A tokenization model (WordPiece, Unigram).
class Model {
 public:
  virtual ~Model() = default;
  /// @brief Appends the ids of one word (a pre-tokenizer piece) to `ids`.
  virtual void tokenize(std::string_view word, std::vector<int32_t>& ids) const = 0;
  /// @brief "wordpiece" or "unigram".
  virtual std::string kind() const = 0;
  /// @brief Number of entries in the model's vocabulary.
  virtual int32_t vocab_size() const = 0;
  /// @brief The id of a vocabulary entry, or -1.
  virtual int32_t token_to_id(std::string_view token) const = 0;
  /// @brief The id unknown text maps to.
  virtual int32_t unk_id() const = 0;
};

}  // namespace emb::tok
