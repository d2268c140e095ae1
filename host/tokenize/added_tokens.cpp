#include "host/tokenize/added_tokens.hpp"

#include "host/tokenize/unicode.hpp"

namespace emb::tok {
namespace {

/// The code point that ends s[0, end) (s valid UTF-8, end > 0 on a boundary).
char32_t code_point_before(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return next_code_point(s, i);
}

}  // namespace

void AddedTokens::add(AddedToken token) {
  if (token.content.empty()) return;
  first_byte_[static_cast<unsigned char>(token.content[0])] = true;
  tokens_.push_back(std::move(token));
}

void AddedTokens::split(std::string_view text, std::vector<Segment>& out) const {
  out.clear();
  size_t done = 0;  // end of the last token taken
  size_t i = 0;
  while (i < text.size()) {
    if (!first_byte_[static_cast<unsigned char>(text[i])]) {
      ++i;
      continue;
    }
    const AddedToken* match = nullptr;
    for (const AddedToken& t : tokens_) {
      if ((!match || t.content.size() > match->content.size()) && text.substr(i, t.content.size()) == t.content) match = &t;
    }
    if (!match) {
      ++i;
      continue;
    }
    size_t start = i, stop = i + match->content.size();
    i = stop;  // the search resumes after this match even when it is not taken
    if (match->single_word) {
      const bool word_before = start > 0 && is_word_char(code_point_before(text, start));
      size_t k = stop;
      const bool word_after = stop < text.size() && is_word_char(next_code_point(text, k));
      if (word_before || word_after) continue;
    }
    if (match->lstrip) {
      while (start > done && is_whitespace(code_point_before(text, start))) {
        size_t back = start - 1;
        while ((static_cast<unsigned char>(text[back]) & 0xC0) == 0x80) --back;
        start = back;
      }
    }
    if (match->rstrip) {
      while (stop < text.size()) {
        size_t k = stop;
        if (!is_whitespace(next_code_point(text, k))) break;
        stop = k;
      }
      i = stop;
    }
    if (done < start) out.push_back({done, start, -1});
    out.push_back({start, stop, match->id});
    done = stop;
  }
  if (done < text.size() || out.empty()) out.push_back({done, text.size(), -1});
}

}  // namespace emb::tok
