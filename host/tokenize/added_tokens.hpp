#pragma once
// Added tokens ([CLS], <mask>, ...): found in the text before the model sees it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace emb::tok {

/// @brief One entry of tokenizer.json "added_tokens".
struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool single_word = false, lstrip = false, rstrip = false;
};

/// @brief A set of added tokens matched leftmost-longest, as tokenizers' AddedVocabulary does.
class AddedTokens {
 public:
  /// @brief A piece of the text: an added token (id >= 0) or text between tokens (id -1).
  struct Segment {
    size_t begin, end;
    int32_t id;
  };

  void add(AddedToken token);
  bool empty() const { return tokens_.empty(); }

  /// @brief Writes the segments of `text` to `out` (cleared first); an empty text gives
  ///        one empty text segment. lstrip/rstrip tokens take the whitespace beside them.
  void split(std::string_view text, std::vector<Segment>& out) const;

 private:
  std::vector<AddedToken> tokens_;
  bool first_byte_[256] = {};
};

}  // namespace emb::tok
