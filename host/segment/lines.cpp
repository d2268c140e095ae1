// Line classification for the sentence segmenter: which lines are blank,
// markdown headings (`# Title`), list items (`- x`, `• x`, `1. x`, `(2) x`),
// rows (a tab inside the line) or text.
#include <algorithm>

#include "host/segment/detail/chars.hpp"
#include "host/segment/detail/lines.hpp"

namespace emb::segment_detail {
namespace {

bool is_bullet(char32_t c) {
  switch (c) {
    case '-': case '*': case '+':
    case 0x00B7: case 0x2022: case 0x2023: case 0x2043:  // · • ‣ ⁃
    case 0x2013: case 0x2014:                           // – —
    case 0x25A0: case 0x25A1: case 0x25AA: case 0x25B6: case 0x25BA:  // ■ □ ▪ ▶ ►
    case 0x25CB: case 0x25CF: case 0x25E6: case 0x2713: case 0x203B:  // ○ ● ◦ ✓ ※
      return true;
    default:
      return false;
  }
}

// `#` to `######` then a space or the end of the line: returns the position of
// the heading text, or npos.
size_t markdown_heading(std::string_view s, size_t p, size_t end) {
  size_t q = p;
  while (q < end && s[q] == '#') ++q;
  if (q == p || q - p > 6) return std::string_view::npos;
  if (q < end && s[q] != ' ' && s[q] != '\t') return std::string_view::npos;
  return skip_space(s, q, end);
}

// An enumerator like `1.`, `1.2.`, `3)` or `(4)` (digit groups of at most three
// digits, so that a year such as `2025.` is not one) followed by a space.
bool enumerator(std::string_view s, size_t p, size_t end) {
  size_t q = p;
  const bool paren = q < end && s[q] == '(';
  if (paren) ++q;
  int groups = 0;
  while (q < end) {
    size_t d = q;
    while (d < end && s[d] >= '0' && s[d] <= '9') ++d;
    if (d == q || d - q > 3) return false;
    ++groups;
    q = d;
    if (q >= end) return false;
    if (paren) {
      if (s[q] != ')') return false;
      ++q;
      break;
    }
    if (s[q] == ')') { ++q; break; }
    if (s[q] != '.') return false;
    ++q;
    if (q >= end || s[q] == ' ' || s[q] == '\t') break;
  }
  return groups > 0 && q < end && (s[q] == ' ' || s[q] == '\t');
}

}  // namespace

std::vector<Line> split_lines(std::string_view text) {
  std::vector<Line> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = pos;
    while (end < text.size() && text[end] != '\n' && text[end] != '\r') ++end;
    Line ln;
    ln.begin = pos;
    const size_t first = skip_space(text, pos, end);
    ln.last = trim_end(text, first, end);
    ln.body = first;
    if (first == ln.last) {
      ln.kind = LineKind::Blank;
    } else if (size_t h = markdown_heading(text, first, ln.last); h != std::string_view::npos) {
      ln.kind = LineKind::Heading;
      ln.body = h;
    } else {
      const CodePoint c = decode_at(text, first);
      const size_t after = first + c.len;
      if (is_bullet(c.cp) && after < ln.last && (text[after] == ' ' || text[after] == '\t')) {
        ln.kind = LineKind::ListItem;
        ln.body = skip_space(text, after, ln.last);
      } else if (enumerator(text, first, ln.last)) {
        ln.kind = LineKind::ListItem;  // the number stays part of the segment
      }
      const std::string_view content = text.substr(first, ln.last - first);
      if (ln.kind == LineKind::Text && content.find('\t') != std::string_view::npos) {
        ln.kind = LineKind::Row;
      }
    }
    if (ln.kind != LineKind::Blank) {
      ln.width = display_width(text.substr(pos, ln.last - pos));
      size_t w = first;
      while (w < ln.last && !is_space(decode_at(text, w).cp)) w += decode_at(text, w).len;
      ln.first_word_width = display_width(text.substr(first, w - first));
    }
    lines.push_back(ln);
    if (end < text.size() && text[end] == '\r' && end + 1 < text.size() && text[end + 1] == '\n') ++end;
    pos = end + 1;
  }
  // Widest line of each paragraph, for telling wrapped lines from deliberate breaks.
  for (size_t i = 0; i < lines.size();) {
    if (lines[i].kind == LineKind::Blank) { ++i; continue; }
    size_t j = i;
    int64_t widest = 0;
    while (j < lines.size() && lines[j].kind != LineKind::Blank) widest = std::max(widest, lines[j++].width);
    for (; i < j; ++i) lines[i].para_width = widest;
  }
  return lines;
}

}  // namespace emb::segment_detail
