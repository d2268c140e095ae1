#pragma once
// Pre-tokenizers of a tokenizer.json: BertPreTokenizer, Metaspace, WhitespaceSplit and
// Sequence of those.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace emb::tok {

/// @brief A word: bytes [begin, end) of an arena string; at_start says whether it
///        begins at offset 0 of the original text (Metaspace's prepend_scheme "first").
struct Span {
  size_t begin, end;
  bool at_start;
};

/// @brief Splits normalized text into the words the model tokenizes one by one.
class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  /// @brief Appends the words of `text` to `arena` (possibly rewritten) and their spans to `out`.
  virtual void split(std::string_view text, bool at_start, std::string& arena, std::vector<Span>& out) const = 0;
};

/// @brief The pre-tokenizer a tokenizer.json "pre_tokenizer" object describes; nullptr for null.
/// @throws emb::InputError naming `path` for an unsupported type or bad fields.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& spec, const std::string& path);

}  // namespace emb::tok
