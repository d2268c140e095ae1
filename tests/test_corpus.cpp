// Corpus readers: text files (BOM, CRLF), UTF-8 checks and repair, JSONL records,
// folder recursion and order, and the errors for missing or empty input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "host/core/error.hpp"
#include "io/corpus.hpp"
#include "tests/scratch_dir.hpp"

namespace {

namespace fs = std::filesystem;
using emb::io::Document;
using emb::io::InvalidUtf8;
using emb::io::ReadOptions;
using emb::io::ReadStats;
using emb::io::read_corpus;

// A fresh folder under the system temporary folder, removed at the end of the test.
class CorpusTest : public ::testing::Test {
 protected:
  std::string write(const std::string& rel, const std::string& bytes) { return scratch_.write(rel, bytes); }
  std::string path(const std::string& rel) const { return scratch_.path(rel); }

  // The message of the InputError that reading inputs throws, or "" if none.
  static std::string error_of(const std::vector<std::string>& inputs, ReadOptions opts = {}) {
    try {
      read_corpus(inputs, opts);
    } catch (const emb::InputError& e) {
      return e.what();
    }
    return "";
  }

  emb::test::ScratchDir scratch_{"embclust_corpus"};
  fs::path dir_ = scratch_.path();
};

TEST_F(CorpusTest, ReadsTextFileAsIs) {
  const std::string f = write("a.txt", "첫 줄이다.\r\n둘째 줄\n");
  ReadStats st;
  const std::vector<Document> docs = read_corpus({f}, {}, &st);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].path, f);
  EXPECT_EQ(docs[0].id, "");
  EXPECT_EQ(docs[0].text, "첫 줄이다.\r\n둘째 줄\n");  // line ends kept as in the file
  EXPECT_EQ(docs[0].base_offset, 0);
  EXPECT_TRUE(docs[0].remap.empty());
  EXPECT_EQ(st.files, 1);
  EXPECT_EQ(st.documents, 1);
  EXPECT_EQ(st.bytes, static_cast<int64_t>(docs[0].text.size()));
}

TEST_F(CorpusTest, StripsByteOrderMark) {
  const std::string f = write("bom.md", "\xEF\xBB\xBF# 제목\n본문이다.");
  const std::vector<Document> docs = read_corpus({f}, {});
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].text, "# 제목\n본문이다.");
  EXPECT_EQ(docs[0].base_offset, 3);
  EXPECT_EQ(docs[0].source_offset(2), 5);
}

TEST_F(CorpusTest, InvalidUtf8NamesFileAndByte) {
  const std::string f = write("bad.txt", "abcd\xFF rest");
  EXPECT_EQ(error_of({f}), f + ": invalid UTF-8 at byte 4");
  // The offset counts the BOM: it is a byte of the file.
  const std::string g = write("bom.txt", "\xEF\xBB\xBFok \xC3");
  EXPECT_EQ(error_of({g}), g + ": invalid UTF-8 at byte 6");
  // Surrogates, overlong forms and code points above U+10FFFF are invalid too.
  EXPECT_EQ(error_of({write("s.txt", "x\xED\xA0\x80")}), path("s.txt") + ": invalid UTF-8 at byte 1");
  EXPECT_EQ(error_of({write("o.txt", "xy\xC0\xAF")}), path("o.txt") + ": invalid UTF-8 at byte 2");
  EXPECT_EQ(error_of({write("h.txt", "\xF4\x90\x80\x80")}), path("h.txt") + ": invalid UTF-8 at byte 0");
  EXPECT_EQ(error_of({write("t.txt", "abc\xE2\x82")}), path("t.txt") + ": invalid UTF-8 at byte 3");
}

TEST_F(CorpusTest, ReplaceModeMapsBackToFileOffsets) {
  // \xFF and \xFE are one stray byte each; \xE2\x82 is the start of a 3-byte sequence.
  const std::string f = write("r.txt", "\xEF\xBB\xBF" "ab\xFF\xFE" "cd\xE2\x82xy");
  ReadOptions opts;
  opts.invalid_utf8 = InvalidUtf8::Replace;
  ReadStats st;
  const std::vector<Document> docs = read_corpus({f}, opts, &st);
  ASSERT_EQ(docs.size(), 1u);
  const Document& d = docs[0];
  EXPECT_EQ(d.text, "ab\xEF\xBF\xBD\xEF\xBF\xBD" "cd\xEF\xBF\xBDxy");
  EXPECT_EQ(st.replaced_bytes, 4);
  EXPECT_EQ(d.remap.size(), 3u);
  EXPECT_EQ(d.source_offset(0), 3);    // 'a'
  EXPECT_EQ(d.source_offset(2), 5);    // first U+FFFD, at the \xFF
  EXPECT_EQ(d.source_offset(5), 6);    // second U+FFFD, at the \xFE
  EXPECT_EQ(d.source_offset(8), 7);    // 'c'
  EXPECT_EQ(d.source_offset(10), 9);   // third U+FFFD, at the \xE2
  EXPECT_EQ(d.source_offset(13), 11);  // 'x'
  EXPECT_EQ(d.source_offset(15), 13);  // end of text, end of file
}

TEST_F(CorpusTest, ReplaceModeOnRandomBytes) {
  std::mt19937 rng(7);
  ReadOptions opts;
  opts.invalid_utf8 = InvalidUtf8::Replace;
  for (int round = 0; round < 200; ++round) {
    std::string bytes = "x";
    const int n = static_cast<int>(rng() % 64);
    for (int i = 0; i < n; ++i) {
      bytes += static_cast<char>(rng() % 3 == 0 ? 'a' + rng() % 26 : 0x80 + rng() % 128);
    }
    const std::string f = write("rnd.txt", bytes);
    ReadStats st;
    const std::vector<Document> docs = read_corpus({f}, opts, &st);
    ASSERT_EQ(docs.size(), 1u);
    const Document& d = docs[0];
    // Valid bytes are kept, invalid ones become one U+FFFD per maximal subpart.
    const auto replacements = static_cast<int64_t>(d.remap.size());
    EXPECT_EQ(static_cast<int64_t>(d.text.size()) - 3 * replacements + st.replaced_bytes,
              static_cast<int64_t>(bytes.size()));
    EXPECT_EQ(d.source_offset(static_cast<int64_t>(d.text.size())), static_cast<int64_t>(bytes.size()));
    // What comes out is valid UTF-8.
    EXPECT_NO_THROW(read_corpus({write("out.txt", d.text)}, {}));
  }
}

TEST_F(CorpusTest, JsonlRecords) {
  const std::string f = write("r.jsonl",
                              "{\"id\": \"a\", \"text\": \"첫 기록이다.\"}\n"
                              "\n"
                              "{\"id\": 7, \"text\": \"line\\nbreak \\u00e9\"}\r\n"
                              "{\"text\": \"이름 없는 기록\"}\n"
                              "   \n");
  ReadStats st;
  const std::vector<Document> docs = read_corpus({f}, {}, &st);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].id, "a");
  EXPECT_EQ(docs[0].text, "첫 기록이다.");
  EXPECT_EQ(docs[1].id, "7");
  EXPECT_EQ(docs[1].text, "line\nbreak \xC3\xA9");
  EXPECT_EQ(docs[2].id, "line 4");
  for (const Document& d : docs) {
    EXPECT_EQ(d.path, f);
    EXPECT_EQ(d.base_offset, 0);
  }
  EXPECT_EQ(st.files, 1);
  EXPECT_EQ(st.documents, 3);
}

TEST_F(CorpusTest, JsonlBadLinesNameFileAndLine) {
  const std::string ok = "{\"text\": \"fine\"}\n";
  const std::string not_json = error_of({write("a.jsonl", ok + "{not json}\n")});
  EXPECT_EQ(not_json.rfind(path("a.jsonl") + ":2: not valid JSON (parse error", 0), 0u) << not_json;
  EXPECT_EQ(error_of({write("b.jsonl", ok + ok + "{\"id\": 1}\n")}),
            path("b.jsonl") + ":3: a record needs a string \"text\"");
  EXPECT_EQ(error_of({write("c.jsonl", "{\"text\": 5}\n")}),
            path("c.jsonl") + ":1: a record needs a string \"text\"");
  EXPECT_EQ(error_of({write("d.jsonl", "[\"text\"]\n")}), path("d.jsonl") + ":1: a record must be a JSON object");
  EXPECT_EQ(error_of({write("e.jsonl", "{\"text\": \"x\", \"id\": true}\n")}),
            path("e.jsonl") + ":1: \"id\" must be a string or a number");
  EXPECT_EQ(error_of({write("f.jsonl", ok + "{\"text\": \"\xFF\"}\n")}),
            path("f.jsonl") + ":2: invalid UTF-8 at byte 27");
}

TEST_F(CorpusTest, JsonlReplaceMode) {
  const std::string f = write("r.jsonl", "{\"id\": \"x\", \"text\": \"a\xFF" "b\"}\n");
  ReadOptions opts;
  opts.invalid_utf8 = InvalidUtf8::Replace;
  ReadStats st;
  const std::vector<Document> docs = read_corpus({f}, opts, &st);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].text, "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(st.replaced_bytes, 1);
}

TEST_F(CorpusTest, FoldersAreRecursiveAndSorted) {
  write("corpus/b.txt", "비 문서다.");
  write("corpus/a.md", "# A\n문서다.");
  write("corpus/sub/c.jsonl",
        "{\"id\": \"c1\", \"text\": \"기록 하나\"}\n"
        "{\"id\": \"c2\", \"text\": \"기록 둘\"}\n");
  write("corpus/sub/z.TXT", "대문자 확장자");
  write("corpus/img.png", "not text");
  write("corpus/sub/notes.log", "not read");
  ReadStats st;
  const std::vector<Document> docs = read_corpus({path("corpus")}, {}, &st);
  std::vector<std::string> got;
  for (const Document& d : docs) got.push_back(fs::relative(d.path, dir_).generic_string() + "#" + d.id);
  EXPECT_EQ(got, (std::vector<std::string>{"corpus/a.md#", "corpus/b.txt#", "corpus/sub/c.jsonl#c1",
                                           "corpus/sub/c.jsonl#c2", "corpus/sub/z.TXT#"}));
  EXPECT_EQ(st.files, 4);
  EXPECT_EQ(st.documents, 5);
  EXPECT_EQ(st.skipped_files, 2);
}

TEST_F(CorpusTest, InputsKeepTheirOrder) {
  const std::string b = write("b.txt", "둘째 파일");
  const std::string a = write("a.txt", "첫째 파일");
  const std::vector<Document> docs = read_corpus({b, a}, {});
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].path, b);
  EXPECT_EQ(docs[1].path, a);
}

TEST_F(CorpusTest, ExplicitFileOfAnyExtensionIsText) {
  const std::string f = write("notes.log", "{\"text\": \"not parsed\"}");
  const std::vector<Document> docs = read_corpus({f}, {});
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].text, "{\"text\": \"not parsed\"}");
}

TEST_F(CorpusTest, MissingPathIsAnError) {
  const std::string missing = path("nope.txt");
  EXPECT_EQ(error_of({missing}), missing + ": no such file or folder");
  EXPECT_THROW(read_corpus({}, {}), emb::InputError);
}

TEST_F(CorpusTest, FolderWithoutUsableFilesIsAnError) {
  fs::create_directories(dir_ / "empty");
  EXPECT_EQ(error_of({path("empty")}), path("empty") + ": no .txt, .md or .jsonl files in this folder");
  write("pics/a.png", "x");
  EXPECT_EQ(error_of({path("pics")}), path("pics") + ": no .txt, .md or .jsonl files in this folder");
}

TEST_F(CorpusTest, BlankFilesAreSkippedAndCounted) {
  const std::string good = write("good.txt", "내용이 있는 문서");
  const std::string blank = write("blank.txt", " \r\n\t\xE3\x80\x80\n");
  const std::string empty = write("empty.md", "");
  ReadStats st;
  const std::vector<Document> docs = read_corpus({blank, good, empty}, {}, &st);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].path, good);
  EXPECT_EQ(st.files, 3);
  EXPECT_EQ(st.skipped_files, 2);
  // Nothing but blank files: no document at all.
  EXPECT_EQ(error_of({blank, empty}).rfind("no text found in the corpus", 0), 0u);
  const std::string blank_records = write("blank.jsonl", "{\"text\": \"  \"}\n\n");
  EXPECT_EQ(error_of({blank_records}).rfind("no text found in the corpus", 0), 0u);
  const std::string no_records = write("none.jsonl", "\n  \n");
  ReadStats st2;
  EXPECT_EQ(read_corpus({no_records, good, blank_records}, {}, &st2).size(), 1u);
  EXPECT_EQ(st2.skipped_files, 2);
}

}  // namespace
