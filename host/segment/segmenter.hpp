#pragma once
// Sentence segmentation for Korean and English text.
#include <cstdint>
#include <string_view>
#include <vector>

namespace emb {

/// @brief Limits on segment size, in Unicode code points.
struct SegmentOptions {
  int min_chars = 8;    ///< shorter segments are dropped (and counted)
  int max_chars = 400;  ///< longer ones are split at the last comma or space before it
};

/// @brief A segment: a byte range [offset, offset+length) of the text, trimmed of whitespace.
struct Span {
  int64_t offset = 0;
  int64_t length = 0;
};

/// @brief Counts of what segmentation did.
struct SegmentStats {
  int64_t kept = 0;
  int64_t dropped_short = 0;
  int64_t split_long = 0;  ///< pieces produced by splitting over-long sentences
  SegmentStats& operator+=(const SegmentStats& o) {
    kept += o.kept;
    dropped_short += o.dropped_short;
    split_long += o.split_long;
    return *this;
  }
};

/// @brief Splits valid UTF-8 text into sentences.
///
/// Cuts at sentence-final punctuation (. ! ? … 。 ！ ？ and runs of them) followed by
/// whitespace or the end of a line, also after closing quotes and brackets that follow
/// it; at blank lines; and at the end of heading lines (markdown `#`, list items, and
/// short lines without final punctuation). Never cuts inside a double quotation that
/// closes later in the same line (or wrapped lines), inside numbers or dates such as
/// `15.7조`, `3.14`, `2025. 3. 10.`, nor after abbreviations like `Mr.` or `U.S.`.
/// Every span is trimmed of surrounding whitespace, so text.substr(offset, length)
/// is the segment.
/// @param stats when not null, the counts of this call are added to it.
std::vector<Span> segment_text(std::string_view text, const SegmentOptions& opts,
                               SegmentStats* stats = nullptr);

}  // namespace emb
