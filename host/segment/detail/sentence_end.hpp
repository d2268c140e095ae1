#pragma once
// Where a sentence ends inside one line of text.
#include <cstddef>
#include <string_view>

namespace emb::segment_detail {

/// @brief Looks at the sentence-final punctuation that starts at pos, on a line whose
///        content is [line_body, line_last).
///
/// The punctuation run (`.`, `?!`, `...`, `。`) and the closing quotes and brackets
/// after it end a sentence when white space or the end of the line follows (after
/// ideographic `。！？` anything may follow), unless the run is a single period inside
/// a number or date (`2025. 3. 10.`), after a section number (`1.2.`), an
/// abbreviation (`Dr.`, `U.S.`) or an initial (`J.`), or an aside like `(?)`.
/// @param run_end receives the end of the punctuation run and its closers in every case.
/// @return the position just after the run and its closers, or npos if no sentence ends.
size_t sentence_end_at(std::string_view text, size_t line_body, size_t pos, size_t line_last,
                       size_t* run_end);

}  // namespace emb::segment_detail
