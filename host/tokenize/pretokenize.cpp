#include "host/tokenize/pretokenize.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "host/core/error.hpp"
#include "host/tokenize/unicode.hpp"

namespace emb::tok {
namespace {

using nlohmann::json;

/// The bytes of [begin, end) that lie within the first `origin` bytes.
size_t origin_part(size_t begin, size_t end, size_t origin) { return begin < origin ? std::min(origin, end) - begin : 0; }

/// Appends text[begin, end) as a word.
void push(std::string_view text, size_t begin, size_t end, size_t origin, std::string& arena, std::vector<Span>& out) {
  if (begin >= end) return;
  const size_t at = arena.size();
  arena.append(text.substr(begin, end - begin));
  out.push_back({at, arena.size(), origin_part(begin, end, origin)});
}

/// BertPreTokenizer: splits on whitespace (dropped) and isolates each punctuation character.
class BertPreTokenizer final : public PreTokenizer {
 public:
  void split(std::string_view text, size_t origin, std::string& arena, std::vector<Span>& out) const override {
    size_t word = 0;
    for (size_t i = 0; i < text.size();) {
      const size_t at = i;
      const char32_t c = next_code_point(text, i);
      if (is_whitespace(c)) {
        push(text, word, at, origin, arena, out);
        word = i;
      } else if (is_bert_punctuation(c)) {
        push(text, word, at, origin, arena, out);
        push(text, at, i, origin, arena, out);
        word = i;
      }
    }
    push(text, word, text.size(), origin, arena, out);
  }
};

/// WhitespaceSplit: splits on whitespace, which is dropped.
class WhitespaceSplit final : public PreTokenizer {
 public:
  void split(std::string_view text, size_t origin, std::string& arena, std::vector<Span>& out) const override {
    size_t word = 0;
    for (size_t i = 0; i < text.size();) {
      const size_t at = i;
      if (is_whitespace(next_code_point(text, i))) {
        push(text, word, at, origin, arena, out);
        word = i;
      }
    }
    push(text, word, text.size(), origin, arena, out);
  }
};

/// Metaspace: spaces become the replacement character (U+2581), which is prepended per
/// the scheme and, with split, starts a new word each time it occurs.
class Metaspace final : public PreTokenizer {
 public:
  enum class Prepend { Always, First, Never };
  Metaspace(std::string replacement, Prepend prepend, bool split)
      : rep_(std::move(replacement)), prepend_(prepend), split_(split) {}

  void split(std::string_view text, size_t origin, std::string& arena, std::vector<Span>& out) const override {
    if (text.empty()) return;
    origin = std::min(origin, text.size());
    const size_t begin = arena.size();
    const bool add = prepend_ == Prepend::Always || (prepend_ == Prepend::First && origin > 0);
    if (add && text[0] != ' ' && text.substr(0, rep_.size()) != rep_) arena += rep_;
    size_t origin_end = origin > 0 ? arena.size() : begin;  // the prepended mark counts as the first character's
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == ' ') {
        arena += rep_;
      } else {
        arena += text[i];
      }
      if (i + 1 == origin) origin_end = arena.size();
    }
    const size_t o = origin_end - begin;
    if (!split_) {
      out.push_back({begin, arena.size(), o});
      return;
    }
    // MergedWithNext: cut before each replacement character.
    const std::string_view all(arena);
    size_t word = begin;
    for (size_t pos = all.find(rep_, begin + 1); pos != std::string_view::npos; pos = all.find(rep_, pos + rep_.size())) {
      if (pos > word) out.push_back({word, pos, origin_part(word - begin, pos - begin, o)});
      word = pos;
    }
    if (all.size() > word) out.push_back({word, all.size(), origin_part(word - begin, all.size() - begin, o)});
  }

  bool uses_origin() const override { return prepend_ == Prepend::First; }

 private:
  std::string rep_;
  Prepend prepend_;
  bool split_;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}

  void split(std::string_view text, size_t origin, std::string& arena, std::vector<Span>& out) const override {
    std::string cur_arena(text), next_arena;
    std::vector<Span> cur{{0, text.size(), std::min(origin, text.size())}}, next;
    for (const auto& step : steps_) {
      next_arena.clear();
      next.clear();
      for (const Span& s : cur) {
        step->split(std::string_view(cur_arena).substr(s.begin, s.end - s.begin), s.origin, next_arena, next);
      }
      cur_arena.swap(next_arena);
      cur.swap(next);
    }
    for (const Span& s : cur) {
      const size_t at = arena.size();
      arena.append(cur_arena, s.begin, s.end - s.begin);
      out.push_back({at, arena.size(), s.origin});
    }
  }

  bool uses_origin() const override {
    return std::any_of(steps_.begin(), steps_.end(), [](const auto& s) { return s->uses_origin(); });
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& spec, const std::string& path) {
  if (spec.is_null()) return nullptr;
  EMB_EXPECTS(spec.is_object() && spec.contains("type") && spec["type"].is_string(), path,
              ": \"pre_tokenizer\" must be null or an object with a \"type\"");
  const std::string type = spec["type"].get<std::string>();
  if (type == "BertPreTokenizer") return std::make_unique<BertPreTokenizer>();
  if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplit>();
  if (type == "Metaspace") {
    const auto rep = spec.find("replacement");
    std::string replacement = rep != spec.end() && rep->is_string() ? rep->get<std::string>() : "\xE2\x96\x81";
    std::string scratch;
    EMB_EXPECTS(!replacement.empty() && valid_utf8(replacement, scratch).data() == replacement.data() &&
                    utf8_length(static_cast<unsigned char>(replacement[0])) == replacement.size(),
                path, ": Metaspace replacement must be one character");
    Metaspace::Prepend prepend = Metaspace::Prepend::Always;
    if (const auto aps = spec.find("add_prefix_space"); aps != spec.end() && aps->is_boolean())
      prepend = aps->get<bool>() ? Metaspace::Prepend::Always : Metaspace::Prepend::Never;
    if (const auto ps = spec.find("prepend_scheme"); ps != spec.end() && ps->is_string()) {
      const std::string s = ps->get<std::string>();
      EMB_EXPECTS(s == "always" || s == "first" || s == "never", path, ": unsupported Metaspace prepend_scheme \"", s, "\"");
      prepend = s == "always" ? Metaspace::Prepend::Always : s == "first" ? Metaspace::Prepend::First : Metaspace::Prepend::Never;
    }
    const auto sp = spec.find("split");
    const bool split = sp == spec.end() || !sp->is_boolean() || sp->get<bool>();
    return std::make_unique<Metaspace>(std::move(replacement), prepend, split);
  }
  if (type == "Sequence") {
    const auto it = spec.find("pretokenizers");
    EMB_EXPECTS(it != spec.end() && it->is_array(), path, ": pre_tokenizer Sequence needs a \"pretokenizers\" array");
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const auto& sub : *it) {
      if (auto step = make_pre_tokenizer(sub, path)) steps.push_back(std::move(step));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  throw InputError(detail::concat(path, ": unsupported pre_tokenizer type \"", type, "\""));
}

}  // namespace emb::tok
