#pragma once
// SentencePiece's precompiled normalization map (tokenizer.json "Precompiled" normalizer).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
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

  /// @brief How many leading bytes of normalize(in) tokenizers aligns with the first
  ///        `origin` bytes of `in`. It never records removals before the first character
  ///        written, so that one always lines up with the start of `in`.
  size_t origin_bytes(std::string_view in, size_t origin) const;

 private:
  /// tokenizers' record of how the written characters line up with the input ones: per
  /// character written, its bytes and its change (1: inserted; -k: also takes k removed
  /// input characters). Removals before the first character written are not recorded.
  struct Alignment {
    std::vector<std::pair<size_t, ptrdiff_t>> changes;
    /// Records one unit: `old_chars` input characters (a cluster or one) became `written`.
    void unit(size_t old_chars, std::string_view written);
    /// Leading output bytes aligned with the first `limit` input characters.
    size_t aligned_bytes(size_t limit) const;
  };

  void run(std::string_view in, std::string& out, Alignment* align) const;

  /// Replacement for the shortest key that prefixes `key` (as tokenizers takes the
  /// first hit of the prefix search), or false.
  bool lookup(std::string_view key, std::string_view& replacement) const;

  std::vector<uint32_t> units_;
  std::string strings_;
};

}  // namespace emb::tok
