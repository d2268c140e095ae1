#include "host/tokenize/precompiled.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <utility>

#include "host/core/error.hpp"
#include "host/tokenize/unicode.hpp"

namespace emb::tok {
namespace {

std::string decode_base64(std::string_view in, const std::string& path) {
  std::array<int, 256> value{};
  value.fill(-1);
  const std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < alphabet.size(); ++i) value[static_cast<unsigned char>(alphabet[i])] = static_cast<int>(i);
  std::string out;
  out.reserve(in.size() / 4 * 3);
  uint32_t bits = 0;
  int n_bits = 0;
  for (char ch : in) {
    if (ch == '=') break;
    const int v = value[static_cast<unsigned char>(ch)];
    EMB_EXPECTS(v >= 0, path, ": precompiled_charsmap is not valid base64");
    bits = (bits << 6) | static_cast<uint32_t>(v);
    n_bits += 6;
    if (n_bits >= 8) {
      n_bits -= 8;
      out += static_cast<char>((bits >> n_bits) & 0xFF);
    }
  }
  return out;
}

// Darts-clone unit layout.
bool has_leaf(uint32_t u) { return (u >> 8) & 1; }
uint32_t value_of(uint32_t u) { return u & 0x7FFFFFFFu; }
uint32_t label_of(uint32_t u) { return u & (0x80000000u | 0xFFu); }
uint32_t offset_of(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

/// Grapheme extenders encoded in Unicode 16 and 17, which tokenizers' segmentation knows
/// and utf8proc 2.8 (Unicode 15) does not yet (found by probing every code point).
constexpr std::pair<char32_t, char32_t> kRecentExtenders[] = {
    {0x897, 0x897},     {0x1ACF, 0x1ADD},   {0x1AE0, 0x1AEB},   {0x10D69, 0x10D6D}, {0x10EFA, 0x10EFC},
    {0x113B8, 0x113C0}, {0x113C2, 0x113C2}, {0x113C5, 0x113C5}, {0x113C7, 0x113CA}, {0x113CC, 0x113D0},
    {0x113D2, 0x113D2}, {0x113E1, 0x113E2}, {0x11B60, 0x11B67}, {0x11F5A, 0x11F5A}, {0x1611E, 0x1612F},
    {0x1E5EE, 0x1E5EF}, {0x1E6E3, 0x1E6E3}, {0x1E6E6, 0x1E6E6}, {0x1E6EE, 0x1E6EF}, {0x1E6F5, 0x1E6F5},
};

bool is_recent_extender(char32_t c) {
  if (c < 0x897) return false;
  for (const auto& [first, last] : kRecentExtenders) {
    if (c >= first && c <= last) return true;
  }
  return false;
}

/// Unassigned default-ignorable code points, which grapheme segmentation counts as
/// Control; utf8proc has no entries for unassigned code points.
bool is_unassigned_ignorable(char32_t c) {
  return c == 0x2065 || (c >= 0xFFF0 && c <= 0xFFF8) || c == 0xE0000 || (c >= 0xE0002 && c <= 0xE001F) ||
         (c >= 0xE0080 && c <= 0xE00FF) || (c >= 0xE01F0 && c <= 0xE0FFF);
}

/// Whether a grapheme cluster boundary lies between prev and c (`state` carries
/// utf8proc's class of prev, which lets it handle emoji and regional indicator runs).
bool grapheme_break(char32_t prev, char32_t c, utf8proc_int32_t& state) {
  if (is_unassigned_ignorable(c)) {
    state = UTF8PROC_BOUNDCLASS_CONTROL;
    return true;
  }
  if (is_unassigned_ignorable(prev)) state = UTF8PROC_BOUNDCLASS_CONTROL;
  if (is_recent_extender(c) && state != UTF8PROC_BOUNDCLASS_CR && state != UTF8PROC_BOUNDCLASS_LF &&
      state != UTF8PROC_BOUNDCLASS_CONTROL) {
    const int prev_class = utf8proc_get_property(static_cast<utf8proc_int32_t>(prev))->boundclass;
    if (prev_class != UTF8PROC_BOUNDCLASS_CR && prev_class != UTF8PROC_BOUNDCLASS_LF &&
        prev_class != UTF8PROC_BOUNDCLASS_CONTROL) {
      if (state != UTF8PROC_BOUNDCLASS_EXTENDED_PICTOGRAPHIC) state = UTF8PROC_BOUNDCLASS_EXTEND;
      return false;
    }
  }
  return utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev), static_cast<utf8proc_int32_t>(c), &state);
}

}  // namespace

PrecompiledCharsmap::PrecompiledCharsmap(std::string_view base64, const std::string& path) {
  const std::string blob = decode_base64(base64, path);
  EMB_EXPECTS(blob.size() >= 4, path, ": precompiled_charsmap is shorter than its header");
  const auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(blob[k])); };
  const uint32_t trie_bytes = byte(0) | byte(1) << 8 | byte(2) << 16 | byte(3) << 24;
  EMB_EXPECTS(trie_bytes % 4 == 0 && trie_bytes > 0 && trie_bytes <= blob.size() - 4, path,
              ": precompiled_charsmap has a bad trie size");
  units_.resize(trie_bytes / 4);
  for (size_t k = 0; k < units_.size(); ++k) {
    const size_t at = 4 + 4 * k;
    units_[k] = byte(at) | byte(at + 1) << 8 | byte(at + 2) << 16 | byte(at + 3) << 24;
  }
  strings_ = blob.substr(4 + trie_bytes);
}

bool PrecompiledCharsmap::lookup(std::string_view key, std::string_view& replacement) const {
  size_t pos = offset_of(units_[0]);
  for (char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) return false;
    pos ^= c;
    if (pos >= units_.size()) return false;
    const uint32_t unit = units_[pos];
    if (label_of(unit) != c) return false;
    pos ^= offset_of(unit);
    if (pos >= units_.size()) return false;
    if (has_leaf(unit)) {
      const size_t begin = value_of(units_[pos]);
      if (begin >= strings_.size()) return false;
      const size_t end = strings_.find('\0', begin);
      replacement = std::string_view(strings_).substr(begin, end == std::string::npos ? end : end - begin);
      return true;
    }
  }
  return false;
}

void PrecompiledCharsmap::normalize(std::string_view in, std::string& out) const { run(in, out, nullptr); }

size_t PrecompiledCharsmap::origin_bytes(std::string_view in, size_t origin) const {
  Alignment a;
  std::string out;
  run(in, out, &a);
  return a.aligned_bytes(static_cast<size_t>(std::count_if(
      in.begin(), in.begin() + static_cast<std::ptrdiff_t>(std::min(origin, in.size())),
      [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; })));
}

void PrecompiledCharsmap::Alignment::unit(size_t old_chars, std::string_view written) {
  const size_t first = changes.size();
  for (size_t b = 0; b < written.size(); b += utf8_length(static_cast<unsigned char>(written[b])))
    changes.push_back({utf8_length(static_cast<unsigned char>(written[b])), 0});
  const auto diff = static_cast<ptrdiff_t>(changes.size() - first) - static_cast<ptrdiff_t>(old_chars);
  if (diff > 0) {  // the last `diff` characters written are insertions
    for (size_t k = changes.size() - static_cast<size_t>(diff); k < changes.size(); ++k) changes[k].second = 1;
  } else if (diff < 0 && !changes.empty()) {  // the last character written so far takes the removed ones
    changes.back().second += diff;
  }
}

size_t PrecompiledCharsmap::Alignment::aligned_bytes(size_t limit) const {
  // Each character with change <= 0 takes the next input character and skips -change more;
  // an insertion (change 1) shares the input character taken before it.
  size_t offset = 0, bytes = 0;
  for (const auto& [len, change] : changes) {
    const size_t aligned = change > 0 ? (offset > 0 ? offset - 1 : 0) : offset;
    if (aligned >= limit) break;
    bytes += len;
    offset = static_cast<size_t>(static_cast<ptrdiff_t>(offset) + 1 - change);
  }
  return bytes;
}

void PrecompiledCharsmap::run(std::string_view in, std::string& out, Alignment* align) const {
  out.clear();
  out.reserve(in.size() + in.size() / 8);
  std::string_view rep;
  utf8proc_int32_t state = 0;
  const auto unit = [&](size_t before, size_t old_chars) {
    if (align) align->unit(old_chars, std::string_view(out).substr(before));
  };
  size_t i = 0;
  while (i < in.size()) {
    // One extended grapheme cluster [i, j).
    size_t j = i, n_chars = 1;
    char32_t prev = next_code_point(in, j);
    while (j < in.size()) {
      size_t k = j;
      const char32_t c = next_code_point(in, k);
      if (c < 0x80 && prev < 0x80 && prev != '\r') {  // ASCII: a boundary between any two but CR LF
        state = c == '\r' ? UTF8PROC_BOUNDCLASS_CR
                : c == '\n' ? UTF8PROC_BOUNDCLASS_LF
                : (c < 0x20 || c == 0x7F) ? UTF8PROC_BOUNDCLASS_CONTROL
                : UTF8PROC_BOUNDCLASS_OTHER;
        break;
      }
      if (grapheme_break(prev, c, state)) break;
      prev = c;
      j = k;
      ++n_chars;
    }
    const std::string_view grapheme = in.substr(i, j - i);
    if (grapheme.size() < 6 && lookup(grapheme, rep)) {
      const size_t before = out.size();
      out += rep;
      unit(before, n_chars);
    } else {
      for (size_t k = i; k < j;) {
        const size_t n = utf8_length(static_cast<unsigned char>(in[k]));
        const std::string_view ch = in.substr(k, n);
        const size_t before = out.size();
        if (lookup(ch, rep)) {
          out += rep;
        } else {
          out += ch;
        }
        unit(before, 1);
        k += n;
      }
    }
    i = j;
  }
}

}  // namespace emb::tok
