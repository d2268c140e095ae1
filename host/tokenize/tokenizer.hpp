#pragma once
// Hugging Face tokenizers (tokenizer.json) in C++: the same token ids as the Python
// `tokenizers` package for WordPiece (BERT) and Unigram (XLM-R) models.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace emb {

/// @brief A loaded tokenizer.json: added tokens, normalizer, pre-tokenizer, model and
///        the special tokens of its post-processor. Thread-safe for concurrent encodes.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  /// @brief Content token ids of text (ids is overwritten): added tokens found in the
  ///        text, normalizer + pre-tokenizer + model, no special tokens, no truncation.
  ///        Invalid UTF-8 is read with each bad byte as U+FFFD.
  virtual void encode_content(std::string_view text, std::vector<int32_t>& ids) const = 0;
  /// @brief "wordpiece" or "unigram"
  virtual std::string kind() const = 0;
  /// @brief Model vocabulary plus added tokens (the largest id + 1).
  virtual int32_t vocab_size() const = 0;
  /// Special tokens from the post-processor: BERT [CLS]/[SEP] or XLM-R <s>/</s>; pad id from padding or vocab.
  int32_t bos_id = -1, eos_id = -1, pad_id = 0, unk_id = -1;
  /// @brief Full encoding as tokenizers' encode(text, add_special_tokens=True) gives it:
  ///        bos + content + eos; when max_len > 0 the content is cut to max_len - 2 tokens
  ///        (head kept; max_len minus the special tokens present) and *truncated (if
  ///        non-null) is set to whether anything was cut.
  std::vector<int32_t> encode(std::string_view text, int max_len = 0, bool* truncated = nullptr) const;
};

/// @brief Loads a Hugging Face tokenizer.json (model type WordPiece or Unigram).
/// @throws emb::InputError naming the file for a missing/unreadable file, bad JSON, or an unsupported model,
/// normalizer, pre-tokenizer or post-processor type (say which type).
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& tokenizer_json_path);

}  // namespace emb
