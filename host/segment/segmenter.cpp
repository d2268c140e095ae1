// Sentence segmentation (see segmenter.hpp for the rules).
//
// A text is read line by line (detail/lines.hpp). Inside a line, sentences end at
// punctuation runs (detail/sentence_end.hpp), except inside a double quotation
// ("...", “...”, 「...」, 『...』) that closes later on the same line (or the same
// wrapped lines), so quoted speech stays whole. A line end is a cut at a blank
// line; after a heading, list item or table row, and before one; after a short
// line (a title); and where the next line's first word would have fitted on this
// line: greedy wrapping never leaves room for it, so such a break was made on
// purpose. Other line ends are wrapped text, and the sentence goes on over them.
//
// Heading markers (`#`) and bullets (`-`, `•`) are left out of the spans; numbers
// like `1.2.` stay. Over-long sentences are split at the last comma in the second
// half of the max_chars window, else at its last space, else at a code point.
#include "host/segment/segmenter.hpp"

#include "host/core/error.hpp"
#include "host/segment/detail/chars.hpp"
#include "host/segment/detail/lines.hpp"
#include "host/segment/detail/sentence_end.hpp"

namespace emb {
namespace {

using namespace segment_detail;

// Lines narrower than this (in display columns) without final punctuation are titles.
constexpr int64_t kShortLine = 40;

bool is_comma(char32_t c) { return c == ',' || c == 0xFF0C || c == 0x3001; }  // , ， 、

// Which double quotation is open: a sentence end inside one that closes later in
// the same block of lines is part of the quoted speech, not a cut.
class QuoteState {
 public:
  void feed(char32_t c) {
    if (c == '"' || c == 0xFF02) {
      expect_ = expect_ == c ? 0 : (expect_ == 0 ? c : expect_);
    } else if (expect_ == 0 && closer_of(c) != 0) {
      expect_ = closer_of(c);
    } else if (c == expect_) {
      expect_ = 0;
    }
  }
  // Whether a quotation is open and closes in [b, e) of text.
  bool closes_in(std::string_view text, size_t b, size_t e) const {
    while (expect_ != 0 && b < e) {
      const CodePoint c = decode_at(text, b);
      if (c.cp == expect_) return true;
      b += c.len;
    }
    return false;
  }

 private:
  static char32_t closer_of(char32_t open) {
    switch (open) {
      case 0x201C: return 0x201D;  // “ ”
      case 0x300C: return 0x300D;  // 「 」
      case 0x300E: return 0x300F;  // 『 』
      default: return 0;
    }
  }
  char32_t expect_ = 0;
};

// Headings, list items and rows stand on lines of their own.
bool is_block_start(const Line& ln) { return ln.kind != LineKind::Text && ln.kind != LineKind::Blank; }

// Whether a sentence ends at the end of lines[i] (a non-blank line).
bool line_end_cuts(const std::vector<Line>& lines, size_t i) {
  if (i + 1 >= lines.size() || lines[i + 1].kind == LineKind::Blank) return true;
  const Line& cur = lines[i];
  const Line& next = lines[i + 1];
  if (is_block_start(next)) return true;
  const bool indented_continuation = cur.kind == LineKind::ListItem && next.body > next.begin;
  if (is_block_start(cur) && !indented_continuation) return true;
  if (cur.width < kShortLine) return true;
  return cur.width + 1 + next.first_word_width <= cur.para_width;
}

class Emitter {
 public:
  Emitter(std::string_view text, const SegmentOptions& opts, std::vector<Span>& out, SegmentStats& st)
      : text_(text), opts_(opts), out_(out), st_(st) {}

  // Emits [b, e) trimmed, dropping it when short and splitting it when long.
  void emit(size_t b, size_t e) {
    b = skip_space(text_, b, e);
    e = trim_end(text_, b, e);
    if (b == e) return;
    if (count_code_points(text_.substr(b, e - b)) <= opts_.max_chars) {
      keep(b, e, false);
      return;
    }
    while (b < e) {
      const size_t cut = split_point(b, e);
      const size_t piece_end = trim_end(text_, b, cut);
      if (piece_end > b) keep(b, piece_end, true);
      b = skip_space(text_, cut, e);
    }
  }

 private:
  void keep(size_t b, size_t e, bool piece) {
    if (count_code_points(text_.substr(b, e - b)) < opts_.min_chars) {
      ++st_.dropped_short;
      return;
    }
    out_.push_back({static_cast<int64_t>(b), static_cast<int64_t>(e - b)});
    ++st_.kept;
    if (piece) ++st_.split_long;
  }

  // End of the next piece of [b, e): e when it fits in max_chars.
  size_t split_point(size_t b, size_t e) const {
    const int64_t half = opts_.max_chars / 2;
    size_t limit = b, last_comma = 0, last_space = 0;
    for (int64_t n = 0; n < opts_.max_chars; ++n) {
      if (limit >= e) return e;
      const CodePoint c = decode_at(text_, limit);
      if (is_comma(c.cp) && n >= half) last_comma = limit + c.len;
      if (is_space(c.cp) && limit > b) last_space = limit;
      limit += c.len;
    }
    if (limit >= e) return e;
    if (is_space(decode_at(text_, limit).cp)) last_space = limit;  // a space right at the limit
    if (last_comma) return last_comma;
    if (last_space) return last_space;
    return limit;
  }

  std::string_view text_;
  const SegmentOptions& opts_;
  std::vector<Span>& out_;
  SegmentStats& st_;
};

}  // namespace

std::vector<Span> segment_text(std::string_view text, const SegmentOptions& opts, SegmentStats* stats) {
  EMB_USAGE(opts.max_chars >= 1, "segment max_chars must be at least 1, not ", opts.max_chars);
  EMB_USAGE(opts.min_chars >= 0 && opts.min_chars <= opts.max_chars, "segment min_chars must be in [0, ",
            opts.max_chars, "], not ", opts.min_chars);
  std::vector<Span> out;
  SegmentStats st;
  Emitter emitter(text, opts, out, st);
  constexpr size_t none = std::string_view::npos;
  const std::vector<Line> lines = split_lines(text);
  // Lines joined by wrapped line ends form a block; block_last[i] is where the
  // block of line i ends, and quotations are matched within a block.
  std::vector<char> cut_after(lines.size(), 0);
  std::vector<size_t> block_last(lines.size(), 0);
  for (size_t i = lines.size(); i-- > 0;) {
    if (lines[i].kind == LineKind::Blank) continue;
    cut_after[i] = line_end_cuts(lines, i);
    block_last[i] = cut_after[i] ? lines[i].last : block_last[i + 1];
  }
  size_t seg = none;  // start of the sentence being read, none between sentences
  QuoteState quote;
  for (size_t i = 0; i < lines.size(); ++i) {
    const Line& ln = lines[i];
    if (ln.kind == LineKind::Blank) {
      if (seg != none) emitter.emit(seg, ln.begin);
      seg = none;
      continue;
    }
    if (seg == none) seg = ln.body;
    for (size_t p = ln.body; p < ln.last;) {
      const CodePoint c = decode_at(text, p);
      if (!is_terminal(c.cp)) {
        quote.feed(c.cp);
        p += c.len;
        continue;
      }
      size_t run_end = p;
      const size_t end = sentence_end_at(text, ln.body, p, ln.last, &run_end);
      for (size_t q = p; q < run_end; q += decode_at(text, q).len) quote.feed(decode_at(text, q).cp);
      if (end != none && !quote.closes_in(text, run_end, block_last[i])) {
        emitter.emit(seg, end);
        seg = end;
      }
      p = run_end;
    }
    if (cut_after[i]) {
      emitter.emit(seg, ln.last);
      seg = none;
      quote = QuoteState();
    }
  }
  if (seg != none) emitter.emit(seg, text.size());
  if (stats) *stats += st;
  return out;
}

}  // namespace emb
