#pragma once
// Code points and the character classes the sentence segmenter works with.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace emb::segment_detail {

/// @brief A code point decoded at some position and its length in bytes.
struct CodePoint {
  char32_t cp = 0;
  size_t len = 0;
};

/// @brief The code point starting at pos (pos < s.size()). A byte that does not
///        start a valid sequence reads as U+FFFD of length 1, so scans always advance.
CodePoint decode_at(std::string_view s, size_t pos);

/// @brief Start of the code point that ends at pos (pos > 0).
size_t prev_start(std::string_view s, size_t pos);

/// @brief Unicode white space (Zs, tabs, line breaks) plus U+200B and U+FEFF.
bool is_space(char32_t c);
/// @brief Sentence-final punctuation: . ! ? … ‼ ⁇ ⁈ ⁉ 。 ！ ？ ． ｡
bool is_terminal(char32_t c);
/// @brief Closing quotes and brackets that may follow sentence-final punctuation.
bool is_closer(char32_t c);
/// @brief ASCII or fullwidth decimal digit.
bool is_digit(char32_t c);
/// @brief ASCII letter.
bool is_ascii_alpha(char32_t c);
/// @brief Columns on a terminal: 2 for wide (Hangul, CJK, fullwidth), 0 or 1 otherwise.
int display_width(char32_t c);

/// @brief Number of code points in s.
int64_t count_code_points(std::string_view s);
/// @brief Display columns of s.
int64_t display_width(std::string_view s);
/// @brief First position in [pos, end) that is not white space, or end.
size_t skip_space(std::string_view s, size_t pos, size_t end);
/// @brief Position after the last non-space code point in [begin, end), or begin.
size_t trim_end(std::string_view s, size_t begin, size_t end);

}  // namespace emb::segment_detail
