#include "host/tokenize/normalize.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "host/core/error.hpp"
#include "host/tokenize/precompiled.hpp"
#include "host/tokenize/unicode.hpp"

namespace emb::tok {
namespace {

using nlohmann::json;

/// BertNormalizer: clean_text, handle_chinese_chars, strip_accents (NFD, then drop Mn),
/// lowercase. Each step maps characters one by one, so they run fused in one pass; only
/// NFD's canonical ordering looks at runs of marks, and since Mn are dropped anyway it
/// is applied to what survives (filtering and a stable sort commute).
class BertNormalizer final : public Normalizer {
 public:
  BertNormalizer(bool clean, bool chinese, bool strip, bool lower)
      : clean_(clean), chinese_(chinese), strip_(strip), lower_(lower) {}

  void normalize(std::string_view in, std::string& out) const override {
    std::vector<char32_t> cps;
    cps.reserve(in.size() + 8);
    bool reorder = false;  // a mark follows a mark of higher combining class
    uint8_t last_ccc = 0;
    std::vector<char32_t> parts;
    const auto emit = [&](char32_t c) {
      if (strip_ && c >= 0x300) {
        const uint8_t ccc = combining_class(c);
        reorder |= ccc != 0 && ccc < last_ccc;
        last_ccc = ccc;
      } else {
        last_ccc = 0;
      }
      cps.push_back(c);
    };
    const auto emit_decomposed = [&](char32_t c) {
      if (!strip_ || c < 0xC0) {
        emit(c);
      } else if (c >= 0xAC00 && c <= 0xD7A3) {  // Hangul syllable: L V (T), all starters
        const char32_t s = c - 0xAC00;
        emit(0x1100 + s / 588);
        emit(0x1161 + (s % 588) / 28);
        if (s % 28) emit(0x11A7 + s % 28);
      } else {
        parts.clear();
        append_decomposition(parts, c);
        for (char32_t d : parts) {
          if (!is_nonspacing_mark(d)) emit(d);
        }
      }
    };
    for (size_t i = 0; i < in.size();) {
      const char32_t c = next_code_point(in, i);
      if (clean_ && c != '\t' && c != '\n' && c != '\r' && is_bert_control(c)) continue;
      if (clean_ && is_whitespace(c)) {
        emit(' ');
      } else if (chinese_ && is_cjk_ideograph(c)) {
        emit(' ');
        emit_decomposed(c);
        emit(' ');
      } else {
        emit_decomposed(c);
      }
    }
    if (reorder) canonical_order(cps);
    out.clear();
    out.reserve(cps.size() + cps.size() / 2);
    for (char32_t c : cps) {
      if (!lower_) {
        append_utf8(out, c);
      } else if (c < 0x80) {
        out += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      } else {
        append_lowercase(out, c);
      }
    }
  }

 private:
  /// Stable sort of each run of non-starters by combining class.
  static void canonical_order(std::vector<char32_t>& cps) {
    for (size_t i = 0; i < cps.size();) {
      if (combining_class(cps[i]) == 0) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < cps.size() && combining_class(cps[j]) != 0) ++j;
      std::stable_sort(cps.begin() + static_cast<std::ptrdiff_t>(i), cps.begin() + static_cast<std::ptrdiff_t>(j),
                       [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
      i = j;
    }
  }

  bool clean_, chinese_, strip_, lower_;
};

class PrecompiledNormalizer final : public Normalizer {
 public:
  PrecompiledNormalizer(std::string_view base64, const std::string& path) : map_(base64, path) {}
  void normalize(std::string_view in, std::string& out) const override { map_.normalize(in, out); }
  size_t origin_bytes(std::string_view in, size_t origin) const override { return map_.origin_bytes(in, origin); }

 private:
  PrecompiledCharsmap map_;
};

/// Replace: a literal string, or a regex of the form "c{n,}" / "c+" (a run of at least n
/// copies of one character, what the XLM-R family uses to squeeze spaces).
class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(std::string pattern, size_t min_run, std::string content)
      : pattern_(std::move(pattern)), min_run_(min_run), content_(std::move(content)) {}

  void normalize(std::string_view in, std::string& out) const override {
    out.clear();
    out.reserve(in.size());
    const std::string_view p = pattern_;
    size_t i = 0;
    while (i < in.size()) {
      const size_t hit = in.find(p, i);
      if (hit == std::string_view::npos) break;
      size_t end = hit + p.size(), count = 1;
      if (min_run_ > 0) {
        while (in.substr(end, p.size()) == p) end += p.size(), ++count;
      }
      out.append(in.substr(i, hit - i));
      if (count >= min_run_) {
        out += content_;
      } else {
        out.append(in.substr(hit, end - hit));
      }
      i = end;
    }
    out.append(in.substr(i));
  }

 private:
  std::string pattern_;
  size_t min_run_;  // 0: literal pattern
  std::string content_;
};

class FormNormalizer final : public Normalizer {
 public:
  explicit FormNormalizer(NormalForm form) : form_(form) {}
  void normalize(std::string_view in, std::string& out) const override { normalize_form(in, form_, out); }

 private:
  NormalForm form_;
};

class LowercaseNormalizer final : public Normalizer {
 public:
  void normalize(std::string_view in, std::string& out) const override {
    out.clear();
    out.reserve(in.size());
    for (size_t i = 0; i < in.size();) append_lowercase(out, next_code_point(in, i));
  }
};

/// Strip: removes leading and/or trailing whitespace (Rust's char::is_whitespace).
class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string_view in, std::string& out) const override {
    size_t begin = 0, end = in.size();
    if (left_) {
      while (begin < in.size()) {
        size_t next = begin;
        if (!is_whitespace(next_code_point(in, next))) break;
        begin = next;
      }
    }
    if (right_) {
      size_t last_non_space_end = begin;
      for (size_t i = begin; i < in.size();) {
        if (!is_whitespace(next_code_point(in, i))) last_non_space_end = i;
      }
      end = last_non_space_end;
    }
    out.assign(in.substr(begin, end - begin));
  }

 private:
  bool left_, right_;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  void normalize(std::string_view in, std::string& out) const override {
    std::string tmp(in);
    for (const auto& step : steps_) {
      step->normalize(tmp, out);
      tmp.swap(out);
    }
    out.swap(tmp);
  }
  size_t origin_bytes(std::string_view in, size_t origin) const override {
    std::string cur(in), next;
    for (const auto& step : steps_) {
      origin = step->origin_bytes(cur, origin);
      step->normalize(cur, next);
      cur.swap(next);
    }
    return origin;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

std::string string_field(const json& spec, const char* key, const std::string& path, const std::string& type) {
  const auto it = spec.find(key);
  EMB_EXPECTS(it != spec.end() && it->is_string(), path, ": normalizer ", type, " needs a string \"", key, "\"");
  return it->get<std::string>();
}

bool bool_field(const json& spec, const char* key, bool fallback) {
  const auto it = spec.find(key);
  return it != spec.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

std::unique_ptr<Normalizer> make_replace(const json& spec, const std::string& path) {
  const auto pat = spec.find("pattern");
  EMB_EXPECTS(pat != spec.end() && pat->is_object(), path, ": normalizer Replace needs a \"pattern\" object");
  std::string content = string_field(spec, "content", path, "Replace");
  if (pat->contains("String")) {
    std::string literal = pat->at("String").get<std::string>();
    EMB_EXPECTS(!literal.empty(), path, ": normalizer Replace has an empty pattern");
    return std::make_unique<ReplaceNormalizer>(std::move(literal), 0, std::move(content));
  }
  EMB_EXPECTS(pat->contains("Regex") && pat->at("Regex").is_string(), path,
              ": normalizer Replace needs a String or Regex pattern");
  const std::string regex = pat->at("Regex").get<std::string>();
  // Only "c{n,}" and "c+" with c a plain ASCII character.
  const auto plain = [](char c) { return static_cast<unsigned char>(c) < 0x80 && std::string_view("\\^$.|?*+()[]{}").find(c) == std::string_view::npos; };
  size_t min_run = 0;
  if (regex.size() == 2 && plain(regex[0]) && regex[1] == '+') {
    min_run = 1;
  } else if (regex.size() >= 5 && plain(regex[0]) && regex[1] == '{' && regex.substr(regex.size() - 2) == ",}") {
    const std::string digits = regex.substr(2, regex.size() - 4);
    if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos && digits.size() < 6)
      min_run = std::max<size_t>(1, std::stoul(digits));
  }
  EMB_EXPECTS(min_run > 0, path, ": unsupported Replace regex \"", regex, "\" (only \"c{n,}\" and \"c+\" are supported)");
  return std::make_unique<ReplaceNormalizer>(std::string(1, regex[0]), min_run, std::move(content));
}

}  // namespace

size_t Normalizer::origin_bytes(std::string_view in, size_t origin) const {
  std::string out;
  normalize(in.substr(0, origin), out);
  return out.size();
}

std::unique_ptr<Normalizer> make_normalizer(const json& spec, const std::string& path) {
  if (spec.is_null()) return nullptr;
  EMB_EXPECTS(spec.is_object() && spec.contains("type") && spec["type"].is_string(), path,
              ": \"normalizer\" must be null or an object with a \"type\"");
  const std::string type = spec["type"].get<std::string>();
  if (type == "BertNormalizer") {
    const bool lower = bool_field(spec, "lowercase", true);
    const auto sa = spec.find("strip_accents");
    const bool strip = sa != spec.end() && sa->is_boolean() ? sa->get<bool>() : lower;  // null: follows lowercase
    return std::make_unique<BertNormalizer>(bool_field(spec, "clean_text", true),
                                            bool_field(spec, "handle_chinese_chars", true), strip, lower);
  }
  if (type == "Precompiled") {
    const auto it = spec.find("precompiled_charsmap");
    EMB_EXPECTS(it != spec.end(), path, ": normalizer Precompiled needs \"precompiled_charsmap\"");
    if (it->is_null()) return nullptr;  // an empty map changes nothing
    EMB_EXPECTS(it->is_string(), path, ": \"precompiled_charsmap\" must be a base64 string");
    return std::make_unique<PrecompiledNormalizer>(it->get_ref<const std::string&>(), path);
  }
  if (type == "Replace") return make_replace(spec, path);
  if (type == "NFC") return std::make_unique<FormNormalizer>(NormalForm::NFC);
  if (type == "NFD") return std::make_unique<FormNormalizer>(NormalForm::NFD);
  if (type == "NFKC") return std::make_unique<FormNormalizer>(NormalForm::NFKC);
  if (type == "NFKD") return std::make_unique<FormNormalizer>(NormalForm::NFKD);
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "Strip") return std::make_unique<StripNormalizer>(bool_field(spec, "strip_left", true), bool_field(spec, "strip_right", true));
  if (type == "Sequence") {
    const auto it = spec.find("normalizers");
    EMB_EXPECTS(it != spec.end() && it->is_array(), path, ": normalizer Sequence needs a \"normalizers\" array");
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (const auto& sub : *it) {
      if (auto step = make_normalizer(sub, path)) steps.push_back(std::move(step));
    }
    return std::make_unique<SequenceNormalizer>(std::move(steps));
  }
  throw InputError(detail::concat(path, ": unsupported normalizer type \"", type, "\""));
}

}  // namespace emb::tok
