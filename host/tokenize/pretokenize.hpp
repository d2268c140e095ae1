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

/// @brief A word: bytes [begin, end) of an arena string, whose first `origin` bytes come
///        from the first character of the original text (Metaspace's prepend_scheme
///        "first" prepends only to a word that starts there).
struct Span {
  size_t begin, end, origin;
};

/// @brief Splits normalized text into the words the model tokenizes one by one.
class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  /// @brief Appends the words of `text` to `arena` (possibly rewritten) and their spans to
  ///        `out`; the first `origin` bytes of `text` come from the original's first character.
  virtual void split(std::string_view text, size_t origin, std::string& arena, std::vector<Span>& out) const = 0;
  /// @brief Whether split() looks at `origin` (else callers may pass 0).
  virtual bool uses_origin() const { return false; }
};

/// @brief The pre-tokenizer a tokenizer.json "pre_tokenizer" object describes; nullptr for null.
/// @throws emb::InputError naming `path` for an unsupported type or bad fields.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& spec, const std::string& path);

}  // namespace emb::tok
