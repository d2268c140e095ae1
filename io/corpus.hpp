#pragma once
// Corpus readers: text files (.txt, .md), folders (recursive) and JSONL files
// become Documents of valid UTF-8 text. No segmentation here: see host/segment.
#include <cstdint>
#include <string>
#include <vector>

namespace emb::io {

/// @brief What to do with bytes that are not valid UTF-8.
enum class InvalidUtf8 { Error, Replace };

/// @brief One document: a whole .txt/.md file, or one record of a .jsonl file.
struct Document {
  std::string path;  ///< the file it came from, as given or found under a folder
  std::string id;    ///< JSONL `id` (or "line N" when absent); empty for text files
  std::string text;  ///< valid UTF-8; BOM removed; line ends kept as in the file
  /// Byte offset in the file of text[0] (3 after a BOM, 0 otherwise). For JSONL
  /// records offsets are into the decoded `text` value and this is 0.
  int64_t base_offset = 0;
  /// Where invalid bytes were replaced by U+FFFD, pairs (position in text,
  /// position in the file relative to base_offset), ascending, one per change.
  /// Empty for valid input, so text positions map 1:1 to file positions.
  std::vector<std::pair<int64_t, int64_t>> remap;

  /// @brief Byte offset in the original file (or JSONL value) of text position pos.
  int64_t source_offset(int64_t pos) const;
};

/// @brief Options of the readers.
struct ReadOptions {
  InvalidUtf8 invalid_utf8 = InvalidUtf8::Error;
};

/// @brief Counts the readers report.
struct ReadStats {
  int64_t files = 0;
  int64_t documents = 0;
  int64_t bytes = 0;
  int64_t replaced_bytes = 0;   ///< invalid bytes replaced (InvalidUtf8::Replace)
  int64_t skipped_files = 0;    ///< files under folders with other extensions, and files
                                ///< or JSONL records holding only white space
};

/// @brief Reads every input (file or folder, recursive; .txt, .md, .jsonl) in a
///        stable order (inputs as given; folder entries sorted by path).
/// @throws emb::InputError naming the file (and byte offset or line) when an input
///         is missing, unreadable, not UTF-8 (in Error mode), a JSONL line is not an
///         object with a string `text`, or when no document at all was found.
std::vector<Document> read_corpus(const std::vector<std::string>& inputs, const ReadOptions& opts,
                                  ReadStats* stats = nullptr);

}  // namespace emb::io
