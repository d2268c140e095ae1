#pragma once
// The line structure of a text: blank lines, headings, list items, table rows, plain lines.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace emb::segment_detail {

/// Row: a line with a tab inside its content, a table row or a contents entry
/// (`Chapter one<TAB>12`), which prose wrapped over lines never is.
enum class LineKind { Blank, Text, Heading, ListItem, Row };

/// @brief One line of the text, without its line break (LF, CRLF or CR).
struct Line {
  size_t begin = 0;  ///< first byte of the line
  size_t body = 0;   ///< first byte of its content: after indentation and a `#` or bullet marker
  size_t last = 0;   ///< end of its content, trailing white space excluded
  LineKind kind = LineKind::Text;
  int64_t width = 0;             ///< display columns of [begin, last)
  int64_t first_word_width = 0;  ///< display columns of the first word
  int64_t para_width = 0;        ///< widest line of the paragraph (blank-line delimited) it is in
};

/// @brief Splits text into lines and classifies each one.
std::vector<Line> split_lines(std::string_view text);

}  // namespace emb::segment_detail
