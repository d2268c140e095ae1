#include "host/tokenize/unicode.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <bitset>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <utility>

#include "host/core/error.hpp"
#include "host/tokenize/unicode_tables.hpp"

namespace emb::tok {
namespace {

template <size_t N>
bool in_ranges(const tables::CodeRange (&table)[N], char32_t c) {
  const auto* it = std::upper_bound(std::begin(table), std::end(table), c,
                                    [](char32_t v, const tables::CodeRange& r) { return v < r.first; });
  return it != std::begin(table) && c <= std::prev(it)->last;
}

/// Length of the valid UTF-8 sequence at s[i], or 0 (overlong forms, surrogates and
/// code points past U+10FFFF are invalid, as in Rust and Python).
size_t valid_sequence(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  const auto cont = [&](size_t k) { return i + k < s.size() && (b(i + k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    const unsigned char c1 = b(i + 1);
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const unsigned char c1 = b(i + 1);
    if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90)) return 0;
    return 4;
  }
  return 0;
}

}  // namespace

std::string_view valid_utf8(std::string_view s, std::string& storage) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = valid_sequence(s, i);
    if (n == 0) break;
    i += n;
  }
  if (i == s.size()) return s;
  storage.assign(s.substr(0, i));
  while (i < s.size()) {
    const size_t n = valid_sequence(s, i);
    if (n == 0) {
      append_utf8(storage, 0xFFFD);
      ++i;
    } else {
      storage.append(s.substr(i, n));
      i += n;
    }
  }
  return storage;
}

bool is_whitespace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

namespace {

/// The three range tables as bitmaps over the Basic Multilingual Plane, where nearly all text lives.
struct BmpClasses {
  std::bitset<0x10000> control, punct, mark;
  BmpClasses() {
    const auto fill = [](std::bitset<0x10000>& bits, const auto& table) {
      for (const auto& r : table)
        for (char32_t c = r.first; c <= r.last && c < 0x10000; ++c) bits.set(c);
    };
    fill(control, tables::kBertControl);
    fill(punct, tables::kBertPunct);
    fill(mark, tables::kNonspacingMark);
  }
};

const BmpClasses& bmp() {
  static const BmpClasses classes;
  return classes;
}

}  // namespace

bool is_bert_control(char32_t c) { return c < 0x10000 ? bmp().control[c] : in_ranges(tables::kBertControl, c); }
bool is_bert_punctuation(char32_t c) { return c < 0x10000 ? bmp().punct[c] : in_ranges(tables::kBertPunct, c); }
bool is_nonspacing_mark(char32_t c) { return c < 0x10000 ? bmp().mark[c] : in_ranges(tables::kNonspacingMark, c); }

namespace {

/// Marks from Unicode 11 on that tokenizers' (older) tables still give combining class 0.
constexpr std::pair<char32_t, char32_t> kStartersInTokenizers[] = {
    {0x7FD, 0x7FD},     {0x898, 0x89F},     {0x8CA, 0x8D3},     {0x9FE, 0x9FE},     {0xC3C, 0xC3C},
    {0xD3B, 0xD3C},     {0xEBA, 0xEBA},     {0x1715, 0x1715},   {0x1ABF, 0x1ACE},   {0x1DF6, 0x1DFA},
    {0xA82C, 0xA82C},   {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF}, {0x10F46, 0x10F50},
    {0x10F82, 0x10F85}, {0x11070, 0x11070}, {0x1133B, 0x1133B}, {0x1145E, 0x1145E}, {0x11839, 0x1183A},
    {0x1193D, 0x1193E}, {0x11943, 0x11943}, {0x119E0, 0x119E0}, {0x11A34, 0x11A34}, {0x11A47, 0x11A47},
    {0x11A99, 0x11A99}, {0x11D42, 0x11D42}, {0x11D44, 0x11D45}, {0x11D97, 0x11D97}, {0x11F41, 0x11F42},
    {0x16FF0, 0x16FF1}, {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF},
    {0x1E4EC, 0x1E4EF},
};

}  // namespace

uint8_t combining_class(char32_t c) {
  if (c < 0x300) return 0;
  const auto ccc = static_cast<uint8_t>(utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class);
  if (ccc == 0 || c < 0x7FD) return ccc;
  for (const auto& [first, last] : kStartersInTokenizers) {
    if (c >= first && c <= last) return 0;
  }
  return ccc;
}

bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_word_char(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  if (c == 0x200C || c == 0x200D) return true;  // Join_Control
  // Other_Alphabetic symbols: circled, parenthesized, squared and negative Latin letters.
  if ((c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169) ||
      (c >= 0x1F170 && c <= 0x1F189))
    return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

void append_lowercase(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    return;
  }
  for (const auto& m : tables::kLowercaseMulti) {
    if (m.cp == c) {
      out += m.utf8;
      return;
    }
  }
  const auto& runs = tables::kLowercase;
  const auto* it = std::upper_bound(std::begin(runs), std::end(runs), c,
                                    [](char32_t v, const tables::CaseRun& r) { return v < r.first; });
  if (it != std::begin(runs)) {
    const auto& r = *std::prev(it);
    if (c <= r.last && (c - r.first) % static_cast<char32_t>(r.stride) == 0) {
      append_utf8(out, static_cast<char32_t>(static_cast<int32_t>(c) + r.delta));
      return;
    }
  }
  append_utf8(out, c);
}

void append_decomposition(std::vector<char32_t>& out, char32_t c) {
  // tokenizers' NFD (Unicode 12-era tables) leaves DIVES AKURU VOWEL SIGN O whole.
  if (c < 0xC0 || c == 0x11938) {
    out.push_back(c);
    return;
  }
  utf8proc_int32_t buf[32];
  const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf, 32,
                                                     UTF8PROC_DECOMPOSE, nullptr);
  if (n <= 0 || n > 32) {
    out.push_back(c);
    return;
  }
  for (utf8proc_ssize_t k = 0; k < n; ++k) out.push_back(static_cast<char32_t>(buf[k]));
}

namespace {

/// Characters tokenizers' normalization tables (Unicode 12-era) leave alone while
/// utf8proc decomposes them: compatibility decompositions from Unicode 12.1 on, and
/// U+11938 (canonical, all forms). Found by probing every code point against tokenizers 0.23.3.
constexpr std::pair<char32_t, char32_t> kNoCompatDecomposition[] = {
    {0x32FF, 0x32FF},   {0xA7F2, 0xA7F4},   {0xAB69, 0xAB69},   {0x10781, 0x10785}, {0x10787, 0x107B0},
    {0x107B2, 0x107BA}, {0x11938, 0x11938}, {0x1E030, 0x1E06D}, {0x1F16C, 0x1F16C}, {0x1FBF0, 0x1FBF9},
};

bool kept_whole(char32_t c, bool compat) {
  if (c < 0x32FF) return false;
  if (!compat) return c == 0x11938;
  for (const auto& [first, last] : kNoCompatDecomposition) {
    if (c >= first && c <= last) return true;
  }
  return false;
}

void map_form(std::string_view s, int options, std::string& out) {
  if (s.empty()) return;
  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                          static_cast<utf8proc_ssize_t>(s.size()), &result,
                                          static_cast<utf8proc_option_t>(options));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(result, &std::free);
  if (n < 0) throw RuntimeError(detail::concat("utf8proc: ", utf8proc_errmsg(n)));
  out.append(reinterpret_cast<const char*>(result), static_cast<size_t>(n));
}

}  // namespace

void normalize_form(std::string_view s, NormalForm form, std::string& out) {
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormalForm::NFC: options |= UTF8PROC_COMPOSE; break;
    case NormalForm::NFD: options |= UTF8PROC_DECOMPOSE; break;
    case NormalForm::NFKC: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    case NormalForm::NFKD: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
  }
  const bool compat = form == NormalForm::NFKC || form == NormalForm::NFKD;
  out.clear();
  size_t run = 0;  // normalize the runs between characters kept whole
  for (size_t i = 0; i < s.size();) {
    const size_t at = i;
    if (kept_whole(next_code_point(s, i), compat)) {
      map_form(s.substr(run, at - run), options, out);
      out.append(s.substr(at, i - at));
      run = i;
    }
  }
  map_form(s.substr(run), options, out);
}

}  // namespace emb::tok
