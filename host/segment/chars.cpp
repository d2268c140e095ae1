// Character classes for the sentence segmenter (see detail/chars.hpp).
#include "host/segment/detail/chars.hpp"

#include <utf8proc.h>

namespace emb::segment_detail {

CodePoint decode_at(std::string_view s, size_t pos) {
  utf8proc_int32_t cp = 0;
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data() + pos);
  const utf8proc_ssize_t n = utf8proc_iterate(p, static_cast<utf8proc_ssize_t>(s.size() - pos), &cp);
  if (n <= 0) return {0xFFFD, 1};
  return {static_cast<char32_t>(cp), static_cast<size_t>(n)};
}

size_t prev_start(std::string_view s, size_t pos) {
  // Walk back over at most three continuation bytes, then check that the
  // sequence found really ends at pos; otherwise step back a single byte.
  size_t p = pos - 1;
  for (int k = 0; k < 3 && p > 0 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80; ++k) --p;
  if (p + decode_at(s, p).len == pos) return p;
  return pos - 1;
}

bool is_space(char32_t c) {
  switch (c) {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
    case 0x85: case 0x200B: case 0x2028: case 0x2029: case 0xFEFF:
      return true;
    default:
      return c > 0x7F && utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_ZS;
  }
}

bool is_terminal(char32_t c) {
  switch (c) {
    case '.': case '!': case '?':
    case 0x2026:                              // … horizontal ellipsis
    case 0x203C: case 0x2047: case 0x2048: case 0x2049:  // ‼ ⁇ ⁈ ⁉
    case 0x3002: case 0xFF01: case 0xFF1F:   // 。 ！ ？
    case 0xFF0E: case 0xFF61:                 // ． ｡
      return true;
    default:
      return false;
  }
}

bool is_closer(char32_t c) {
  switch (c) {
    case '"': case '\'': case ')': case ']': case '}':
    case 0x2019: case 0x201D:                 // ’ ”
    case 0x00BB: case 0x203A:                 // » ›
    case 0x3009: case 0x300B: case 0x300D: case 0x300F:  // 〉 》 」 』
    case 0x3011: case 0x3015: case 0x3017: case 0x3019:  // 】 〕 〗 〙
    case 0xFF02: case 0xFF07: case 0xFF09: case 0xFF3D: case 0xFF5D:  // ＂ ＇ ） ］ ｝
    case 0xFF63:                              // ｣
      return true;
    default:
      return false;
  }
}

bool is_digit(char32_t c) { return (c >= '0' && c <= '9') || (c >= 0xFF10 && c <= 0xFF19); }

bool is_ascii_alpha(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

int display_width(char32_t c) {
  if (c < 0x80) return c >= 0x20 ? 1 : (c == '\t' ? 1 : 0);
  return utf8proc_charwidth(static_cast<utf8proc_int32_t>(c));
}

int64_t count_code_points(std::string_view s) {
  int64_t n = 0;
  for (size_t p = 0; p < s.size(); p += decode_at(s, p).len) ++n;
  return n;
}

int64_t display_width(std::string_view s) {
  int64_t w = 0;
  for (size_t p = 0; p < s.size();) {
    const CodePoint c = decode_at(s, p);
    w += display_width(c.cp);
    p += c.len;
  }
  return w;
}

size_t skip_space(std::string_view s, size_t pos, size_t end) {
  while (pos < end) {
    const CodePoint c = decode_at(s, pos);
    if (!is_space(c.cp)) break;
    pos += c.len;
  }
  return pos;
}

size_t trim_end(std::string_view s, size_t begin, size_t end) {
  while (end > begin) {
    const size_t p = prev_start(s, end);
    if (p < begin || !is_space(decode_at(s, p).cp)) break;
    end = p;
  }
  return end;
}

}  // namespace emb::segment_detail
