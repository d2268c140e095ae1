// Corpus readers: text files, folders and JSONL files to Documents.
//
// Choices the header leaves open:
//  * Folders are walked recursively; entries are sorted by path (component by
//    component, so the files of a subfolder stay together) and only .txt, .md and
//    .jsonl files (any letter case) are read, the others are counted in
//    ReadStats::skipped_files. A file named explicitly is read whatever its
//    extension: .jsonl as JSONL, anything else as text.
//  * Invalid UTF-8 is an InputError naming the file and the byte offset in the file
//    (JSONL: also the line). With InvalidUtf8::Replace each maximal invalid
//    subsequence (the longest prefix of a would-be valid sequence, or one stray
//    byte; Unicode's "substitution of maximal subparts") becomes one U+FFFD, and its
//    bytes are counted in replaced_bytes. JSONL lines are repaired before parsing, so
//    record offsets refer to the repaired value and their remap stays empty.
//  * Empty input: a missing path and a folder with no .txt/.md/.jsonl file are
//    errors. A file (or JSONL record) whose text is only white space yields no
//    Document and is counted in skipped_files; if no Document is left at all,
//    read_corpus throws.
//  * Document::source_offset is absolute: base_offset (the BOM) is included.
//    *stats is set to the counts of the call, written even when it then throws
//    for want of any document.
#include "io/corpus.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include "host/core/error.hpp"

namespace emb::io {
namespace fs = std::filesystem;
namespace {

// Length of the valid UTF-8 sequence at p, or minus the length of the maximal
// invalid subpart there (Unicode Table 3-7 well-formed byte sequences).
int utf8_sequence(const unsigned char* p, size_t n) {
  const unsigned char b = p[0];
  if (b < 0x80) return 1;
  int need = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  if (b >= 0xC2 && b <= 0xDF) {
    need = 1;
  } else if (b >= 0xE0 && b <= 0xEF) {
    need = 2;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;  // no surrogates
  } else if (b >= 0xF0 && b <= 0xF4) {
    need = 3;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return -1;
  }
  for (int k = 1; k <= need; ++k) {
    const bool ok =
        static_cast<size_t>(k) < n && p[k] >= (k == 1 ? lo : 0x80) && p[k] <= (k == 1 ? hi : 0xBF);
    if (!ok) return -k;
  }
  return need + 1;
}

// Checks or repairs the UTF-8 of data[begin, end of data), appending it to `out`.
// Returns the file offset of the first invalid byte (Error mode), or -1 when all
// was valid or repaired. `remap` gets (text position, file position) after each fix.
int64_t decode_utf8(std::string_view data, size_t begin, InvalidUtf8 mode, std::string& out,
                    std::vector<std::pair<int64_t, int64_t>>* remap, int64_t& replaced) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  size_t run = begin;  // start of the valid bytes not yet copied
  for (size_t p = begin; p < data.size();) {
    const int len = utf8_sequence(bytes + p, data.size() - p);
    if (len > 0) {
      p += static_cast<size_t>(len);
      continue;
    }
    if (mode == InvalidUtf8::Error) return static_cast<int64_t>(p);
    out.append(data.substr(run, p - run));
    out.append("\xEF\xBF\xBD");
    p += static_cast<size_t>(-len);
    replaced += -len;
    run = p;
    if (remap) remap->emplace_back(static_cast<int64_t>(out.size()), static_cast<int64_t>(p - begin));
  }
  out.append(data.substr(run));
  return -1;
}

// Whether s holds nothing but white space (Unicode spaces such as U+3000 included).
bool blank(std::string_view s) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  for (size_t i = 0; i < s.size();) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
    if (n <= 0) return false;
    const bool space = (cp >= '\t' && cp <= '\r') || cp == 0x85 || cp == 0xFEFF || cp == 0x200B ||
                       utf8proc_category(cp) == UTF8PROC_CATEGORY_ZS;
    if (!space) return false;
    i += static_cast<size_t>(n);
  }
  return true;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EMB_EXPECTS(in, path.string(), ": cannot open");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EMB_EXPECTS(!in.bad(), path.string(), ": cannot read");
  return data;
}

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
  return ext;
}

bool has_bom(std::string_view data) { return data.substr(0, 3) == "\xEF\xBB\xBF"; }

class Reader {
 public:
  Reader(const ReadOptions& opts, ReadStats& stats, std::vector<Document>& docs)
      : opts_(opts), stats_(stats), docs_(docs) {}

  void read_path(const std::string& input) {
    const fs::path path(input);
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    EMB_EXPECTS(!ec && fs::exists(st), input, ": no such file or folder");
    if (fs::is_directory(st)) {
      read_folder(path);
    } else {
      EMB_EXPECTS(fs::is_regular_file(st), input, ": not a regular file or folder");
      read_file_as(path, lower_extension(path) == ".jsonl");
    }
  }

 private:
  void read_folder(const fs::path& dir) {
    std::vector<fs::path> files;
    std::error_code ec;
    fs::recursive_directory_iterator it(dir, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      const std::string ext = lower_extension(it->path());
      if (ext == ".txt" || ext == ".md" || ext == ".jsonl") {
        files.push_back(it->path());
      } else {
        ++stats_.skipped_files;
      }
    }
    EMB_EXPECTS(!ec, dir.string(), ": cannot list folder (", ec.message(), ")");
    EMB_EXPECTS(!files.empty(), dir.string(), ": no .txt, .md or .jsonl files in this folder");
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) read_file_as(f, lower_extension(f) == ".jsonl");
  }

  void read_file_as(const fs::path& path, bool jsonl) {
    const std::string data = read_file(path);
    ++stats_.files;
    stats_.bytes += static_cast<int64_t>(data.size());
    if (jsonl) {
      read_jsonl(path.string(), data);
    } else {
      read_text(path.string(), data);
    }
  }

  void read_text(const std::string& name, std::string_view data) {
    Document doc;
    doc.path = name;
    doc.base_offset = has_bom(data) ? 3 : 0;
    const int64_t bad = decode_utf8(data, static_cast<size_t>(doc.base_offset), opts_.invalid_utf8, doc.text,
                                    &doc.remap, stats_.replaced_bytes);
    EMB_EXPECTS(bad < 0, name, ": invalid UTF-8 at byte ", bad);
    add(std::move(doc));
  }

  void read_jsonl(const std::string& name, std::string_view data) {
    size_t pos = has_bom(data) ? 3 : 0;
    int64_t records = 0;
    for (int64_t line_no = 1; pos < data.size(); ++line_no) {
      size_t eol = data.find('\n', pos);
      if (eol == std::string_view::npos) eol = data.size();
      std::string line;
      const int64_t bad = decode_utf8(data.substr(0, eol), pos, opts_.invalid_utf8, line, nullptr,
                                      stats_.replaced_bytes);
      EMB_EXPECTS(bad < 0, name, ":", line_no, ": invalid UTF-8 at byte ", bad);
      pos = eol + 1;
      if (blank(line)) continue;
      ++records;
      add(parse_record(name, line_no, line));
    }
    if (records == 0) ++stats_.skipped_files;  // only blank lines: counted like an empty text file
  }

  static Document parse_record(const std::string& name, int64_t line_no, const std::string& line) {
    nlohmann::json rec;
    try {
      rec = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      std::string_view why = e.what();  // "[json.exception.parse_error.101] parse error at ..."
      if (const size_t tag = why.find("] "); why.substr(0, 1) == "[" && tag != std::string_view::npos) {
        why.remove_prefix(tag + 2);
      }
      throw InputError(detail::concat(name, ":", line_no, ": not valid JSON (", why, ")"));
    }
    EMB_EXPECTS(rec.is_object(), name, ":", line_no, ": a record must be a JSON object");
    const auto text = rec.find("text");
    EMB_EXPECTS(text != rec.end() && text->is_string(), name, ":", line_no,
                ": a record needs a string \"text\"");
    Document doc;
    doc.path = name;
    doc.text = text->get<std::string>();
    const auto id = rec.find("id");
    if (id == rec.end() || id->is_null()) {
      doc.id = detail::concat("line ", line_no);
    } else if (id->is_string()) {
      doc.id = id->get<std::string>();
    } else {
      EMB_EXPECTS(id->is_number(), name, ":", line_no, ": \"id\" must be a string or a number");
      doc.id = id->dump();
    }
    return doc;
  }

  void add(Document doc) {
    if (blank(doc.text)) {
      ++stats_.skipped_files;
      return;
    }
    ++stats_.documents;
    docs_.push_back(std::move(doc));
  }

  const ReadOptions& opts_;
  ReadStats& stats_;
  std::vector<Document>& docs_;
};

}  // namespace

int64_t Document::source_offset(int64_t pos) const {
  // The last change at or before pos fixes the shift; before the first one there is none.
  const auto after = [](int64_t p, const std::pair<int64_t, int64_t>& r) { return p < r.first; };
  const auto it = std::upper_bound(remap.begin(), remap.end(), pos, after);
  if (it == remap.begin()) return base_offset + pos;
  const auto& [text_pos, file_pos] = *std::prev(it);
  return base_offset + file_pos + (pos - text_pos);
}

std::vector<Document> read_corpus(const std::vector<std::string>& inputs, const ReadOptions& opts,
                                  ReadStats* stats) {
  EMB_EXPECTS(!inputs.empty(), "no corpus input given");
  ReadStats st;
  std::vector<Document> docs;
  Reader reader(opts, st, docs);
  for (const std::string& input : inputs) reader.read_path(input);
  if (stats) *stats = st;
  EMB_EXPECTS(!docs.empty(), "no text found in the corpus (", st.files, " files read, ", st.skipped_files,
              " skipped)");
  return docs;
}

}  // namespace emb::io
