// Sentence ends inside a line: punctuation runs, and the periods that are not
// sentence ends (numbers, dates, section numbers, abbreviations, initials).
// Only ASCII letters are looked at for abbreviations: Korean has none that end in `.`.
#include <algorithm>
#include <array>
#include <string>

#include "host/segment/detail/chars.hpp"
#include "host/segment/detail/sentence_end.hpp"

namespace emb::segment_detail {
namespace {

constexpr size_t npos = std::string_view::npos;

// Compared in lower case. Dotted forms (U.S., e.g., Ph.D.) are caught by shape.
constexpr std::array<std::string_view, 46> kAbbreviations = {
    "mr",   "mrs",  "ms",   "dr",  "prof", "st",   "jr",   "sr",   "vs",  "etc",  "inc",  "ltd",
    "co",   "corp", "mt",   "gen", "col",  "lt",   "sgt",  "capt", "rev", "hon",  "gov",  "sen",
    "rep",  "fig",  "figs", "vol", "pp",   "approx", "cf", "al",   "dept", "est", "jan",  "feb",
    "mar",  "apr",  "jun",  "jul", "aug",  "sep",  "sept", "oct",  "nov",  "dec"};

bool is_period(char32_t c) { return c == '.' || c == 0xFF0E; }

// 。 ！ ？ ｡ end a sentence even when the next sentence follows without a space.
bool is_ideographic_end(char32_t c) { return c == 0x3002 || c == 0xFF01 || c == 0xFF1F || c == 0xFF61; }

// The first code point after pos that is not white space, crossing at most one
// line break (a blank line ends the paragraph); 0 if there is none.
char32_t next_visible(std::string_view s, size_t pos) {
  int breaks = 0;
  while (pos < s.size()) {
    const CodePoint c = decode_at(s, pos);
    if (c.cp == '\n' && ++breaks > 1) return 0;
    if (!is_space(c.cp)) return c.cp;
    pos += c.len;
  }
  return 0;
}

// A period right after a digit: the end of a sentence unless a number or date
// goes on, the line so far is a section number, or it closes a date like `3. 11.`
// with more text on the same line.
bool digit_period_ends(std::string_view s, size_t line_body, size_t dot, size_t after, size_t line_last) {
  if (is_digit(next_visible(s, after))) return false;  // 2025. 3 / Mar 16. 2025
  bool numbering = true;
  for (size_t p = line_body; p < dot && numbering; ++p) {
    numbering = (s[p] >= '0' && s[p] <= '9') || s[p] == '.';
  }
  if (numbering) return false;  // 1. / 1.2.
  size_t d0 = dot;
  while (d0 > line_body && is_digit(decode_at(s, prev_start(s, d0)).cp)) d0 = prev_start(s, d0);
  const size_t q = trim_end(s, line_body, d0);
  const bool date_end = q < d0 && q >= line_body + 2 && is_period(decode_at(s, prev_start(s, q)).cp) &&
                        is_digit(decode_at(s, prev_start(s, prev_start(s, q))).cp);
  if (date_end) return skip_space(s, after, line_last) == line_last;
  return true;
}

// A period right after an ASCII letter: not an end after a known abbreviation,
// a dotted abbreviation (U.S., e.g.) or a single capital initial (J. Smith).
bool letter_period_ends(std::string_view s, size_t line_body, size_t dot) {
  size_t w0 = dot;
  while (w0 > line_body && (is_ascii_alpha(static_cast<unsigned char>(s[w0 - 1])) || s[w0 - 1] == '.')) --w0;
  while (w0 < dot && s[w0] == '.') ++w0;
  if (w0 > line_body && s[w0 - 1] >= '0' && s[w0 - 1] <= '9') return true;  // 1st. 2nd.
  const std::string_view word = s.substr(w0, dot - w0);
  if (word.size() == 1 && word[0] >= 'A' && word[0] <= 'Z') return false;
  if (word.find('.') != npos) {
    // Every part at most two letters: U.S, e.g, i.e, a.m, Ph.D, C.S
    size_t part = 0;
    for (char ch : word) {
      part = ch == '.' ? 0 : part + 1;
      if (part > 2) return true;
    }
    return false;
  }
  std::string lower(word);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char ch) { return static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch); });
  return std::find(kAbbreviations.begin(), kAbbreviations.end(), lower) == kAbbreviations.end();
}

}  // namespace

size_t sentence_end_at(std::string_view text, size_t line_body, size_t pos, size_t line_last,
                       size_t* run_end) {
  size_t j = pos;
  int count = 0;
  bool periods_only = true;
  char32_t last = 0;
  while (j < line_last) {
    const CodePoint c = decode_at(text, j);
    if (!is_terminal(c.cp)) break;
    periods_only = periods_only && is_period(c.cp);
    last = c.cp;
    ++count;
    j += c.len;
  }
  size_t k = j;
  while (k < line_last) {
    const CodePoint c = decode_at(text, k);
    if (!is_closer(c.cp)) break;
    k += c.len;
  }
  *run_end = k;
  // An aside like (?) or (!) inside a sentence.
  if (pos > line_body && text[pos - 1] == '(' && j < line_last && text[j] == ')') return npos;
  // Text right after the run: 3.14, end.Next, "?"를. Ideographic 。！？ need no space.
  if (k < line_last && !is_space(decode_at(text, k).cp) && !is_ideographic_end(last)) return npos;
  if (count == 1 && periods_only && pos > line_body) {
    const char32_t prev = decode_at(text, prev_start(text, pos)).cp;
    if (is_digit(prev) && !digit_period_ends(text, line_body, pos, k, line_last)) return npos;
    if (is_ascii_alpha(prev) && !letter_period_ends(text, line_body, pos)) return npos;
  }
  return k;
}

}  // namespace emb::segment_detail
