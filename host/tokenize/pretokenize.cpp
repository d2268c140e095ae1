#include "host/tokenize/pretokenize.hpp"

#include <nlohmann/json.hpp>

#include "host/core/error.hpp"
#include "host/tokenize/unicode.hpp"

namespace emb::tok {
namespace {

using nlohmann::json;

void push(std::string_view word, bool at_start, std::string& arena, std::vector<Span>& out) {
  if (word.empty()) return;
  const size_t begin = arena.size();
  arena.append(word);
  out.push_back({begin, arena.size(), at_start});
}

/// BertPreTokenizer: splits on whitespace (dropped) and isolates each punctuation character.
class BertPreTokenizer final : public PreTokenizer {
 public:
  void split(std::string_view text, bool at_start, std::string& arena, std::vector<Span>& out) const override {
    size_t word = 0;
    for (size_t i = 0; i < text.size();) {
      const size_t at = i;
      const char32_t c = next_code_point(text, i);
      if (is_whitespace(c)) {
        push(text.substr(word, at - word), at_start && word == 0, arena, out);
        word = i;
      } else if (is_bert_punctuation(c)) {
        push(text.substr(word, at - word), at_start && word == 0, arena, out);
        push(text.substr(at, i - at), at_start && at == 0, arena, out);
        word = i;
      }
    }
    push(text.substr(word), at_start && word == 0, arena, out);
  }
};

/// WhitespaceSplit: splits on whitespace, which is dropped.
class WhitespaceSplit final : public PreTokenizer {
 public:
  void split(std::string_view text, bool at_start, std::string& arena, std::vector<Span>& out) const override {
    size_t word = 0;
    for (size_t i = 0; i < text.size();) {
      const size_t at = i;
      if (is_whitespace(next_code_point(text, i))) {
        push(text.substr(word, at - word), at_start && word == 0, arena, out);
        word = i;
      }
    }
    push(text.substr(word), at_start && word == 0, arena, out);
  }
};

/// Metaspace: spaces become the replacement character (U+2581), which is prepended per
/// the scheme and, with split, starts a new word each time it occurs.
class Metaspace final : public PreTokenizer {
 public:
  enum class Prepend { Always, First, Never };
  Metaspace(std::string replacement, Prepend prepend, bool split)
      : rep_(std::move(replacement)), prepend_(prepend), split_(split) {}

  void split(std::string_view text, bool at_start, std::string& arena, std::vector<Span>& out) const override {
    if (text.empty()) return;
    const size_t begin = arena.size();
    const bool add = prepend_ == Prepend::Always || (prepend_ == Prepend::First && at_start);
    if (add && text[0] != ' ' && text.substr(0, rep_.size()) != rep_) arena += rep_;
    for (char c : text) {
      if (c == ' ') {
        arena += rep_;
      } else {
        arena += c;
      }
    }
    if (!split_) {
      out.push_back({begin, arena.size(), at_start});
      return;
    }
    // MergedWithNext: cut before each replacement character.
    const std::string_view all(arena);
    size_t word = begin;
    for (size_t pos = all.find(rep_, begin + 1); pos != std::string_view::npos; pos = all.find(rep_, pos + rep_.size())) {
      if (pos > word) out.push_back({word, pos, at_start && word == begin});
      word = pos;
    }
    if (all.size() > word) out.push_back({word, all.size(), at_start && word == begin});
  }

 private:
  std::string rep_;
  Prepend prepend_;
  bool split_;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}

  void split(std::string_view text, bool at_start, std::string& arena, std::vector<Span>& out) const override {
    std::string cur_arena(text), next_arena;
    std::vector<Span> cur{{0, text.size(), at_start}}, next;
    for (const auto& step : steps_) {
      next_arena.clear();
      next.clear();
      for (const Span& s : cur) {
        step->split(std::string_view(cur_arena).substr(s.begin, s.end - s.begin), s.at_start, next_arena, next);
      }
      cur_arena.swap(next_arena);
      cur.swap(next);
    }
    for (const Span& s : cur) push(std::string_view(cur_arena).substr(s.begin, s.end - s.begin), s.at_start, arena, out);
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
