#pragma once
// UTF-8 and the character classes the Hugging Face tokenizers use, code point by code point.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace emb::tok {

/// @brief Decodes the code point at s[i] and advances i; s must be valid UTF-8.
inline char32_t next_code_point(std::string_view s, size_t& i) {
  const auto b = [&](size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[k])); };
  const char32_t c = b(i);
  if (c < 0x80) return ++i, c;
  if (c < 0xE0) return i += 2, ((c & 0x1F) << 6) | (b(i - 1) & 0x3F);
  if (c < 0xF0) return i += 3, ((c & 0x0F) << 12) | ((b(i - 2) & 0x3F) << 6) | (b(i - 1) & 0x3F);
  return i += 4, ((c & 0x07) << 18) | ((b(i - 3) & 0x3F) << 12) | ((b(i - 2) & 0x3F) << 6) | (b(i - 1) & 0x3F);
}

/// @brief Byte length of the UTF-8 sequence that starts with lead byte b.
inline size_t utf8_length(unsigned char b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

/// @brief Appends c to out as UTF-8.
inline void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
    return;
  }
  char b[4];
  size_t n;
  if (c < 0x800) {
    b[0] = static_cast<char>(0xC0 | (c >> 6));
    n = 2;
  } else if (c < 0x10000) {
    b[0] = static_cast<char>(0xE0 | (c >> 12));
    b[1] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    n = 3;
  } else {
    b[0] = static_cast<char>(0xF0 | (c >> 18));
    b[1] = static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    b[2] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    n = 4;
  }
  b[n - 1] = static_cast<char>(0x80 | (c & 0x3F));
  out.append(b, n);
}

/// @brief s itself when it is valid UTF-8, else a copy in `storage` with each bad byte
///        replaced by U+FFFD (Rust strings, which the reference works on, are always valid).
std::string_view valid_utf8(std::string_view s, std::string& storage);

/// @brief Rust's char::is_whitespace (the Unicode White_Space property).
bool is_whitespace(char32_t c);
/// @brief Removed by BertNormalizer's clean_text: controls but \t \n \r, format, private use, U+0000, U+FFFD.
bool is_bert_control(char32_t c);
/// @brief Isolated by BertPreTokenizer: ASCII punctuation or Unicode P*.
bool is_bert_punctuation(char32_t c);
/// @brief The CJK ideograph blocks BertNormalizer puts spaces around.
bool is_cjk_ideograph(char32_t c);
/// @brief General category Mn, as strip_accents sees it.
bool is_nonspacing_mark(char32_t c);
/// @brief A regex \\w character (letters, marks, decimal digits, connector punctuation,
///        join controls), which single_word added tokens must not touch.
bool is_word_char(char32_t c);

/// @brief Appends Rust's char::to_lowercase(c) (which may be more than one code point).
void append_lowercase(std::string& out, char32_t c);
/// @brief Canonical combining class (0 for starters), as tokenizers' tables give it.
uint8_t combining_class(char32_t c);
/// @brief Appends the canonical decomposition of c (NFD before reordering).
void append_decomposition(std::vector<char32_t>& out, char32_t c);

enum class NormalForm { NFC, NFD, NFKC, NFKD };
/// @brief s in the given Unicode normal form (utf8proc).
void normalize_form(std::string_view s, NormalForm form, std::string& out);

}  // namespace emb::tok
