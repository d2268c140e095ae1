#pragma once
// SentencePiece's precompiled normalization map (tokenizer.json "Precompiled" normalizer).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace emb::tok {

/// @brief The `precompiled_charsmap` blob: a Darts double-array trie over UTF-8 keys
///        whose values index NUL-terminated replacement strings.
class PrecompiledCharsmap {
 public:
  /// @brief Decodes the base64 blob; `path` names the file in errors.
  /// @throws emb::InputError for bad base64 or a truncated or inconsistent blob.
  PrecompiledCharsmap(std::string_view base64, const std::string& path);

  /// @brief The normalized text, as tokenizers' Precompiled normalizer gives it: each
  ///        extended grapheme cluster shorter than 6 bytes is looked up whole, else (or
  ///        when it has no entry) each of its characters; what has no entry stays.
  void normalize(std::string_view in, std::string& out) const;

 private:
  /// Replacement for the shortest key that prefixes `key` (as tokenizers takes the
  /// first hit of the prefix search), or false.
  bool lookup(std::string_view key, std::string_view& replacement) const;

  std::vector<uint32_t> units_;
  std::string strings_;
};

}  // namespace emb::tok
