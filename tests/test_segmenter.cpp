// Sentence segmentation: punctuation, quotes, numbers and dates, abbreviations,
// headings and line structure, size limits, and a round trip over the sample corpus.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "host/core/error.hpp"
#include "host/segment/segmenter.hpp"
#include "io/corpus.hpp"

namespace {

using emb::SegmentOptions;
using emb::SegmentStats;
using emb::Span;

bool is_continuation(unsigned char b) { return (b & 0xC0) == 0x80; }

// Leading or trailing white space, ASCII or one of the Unicode spaces we trim.
bool has_edge_space(std::string_view s) {
  static const char* const kSpaces[] = {" ", "\t", "\n", "\r", "\xC2\xA0", "\xE3\x80\x80", "\xE2\x80\x83"};
  for (const char* sp : kSpaces) {
    const std::string_view v(sp);
    if (s.substr(0, v.size()) == v) return true;
    if (s.size() >= v.size() && s.substr(s.size() - v.size()) == v) return true;
  }
  return false;
}

// Spans are ascending, disjoint, inside the text, on code point boundaries and trimmed.
void expect_well_formed(std::string_view text, const std::vector<Span>& spans) {
  int64_t prev_end = 0;
  for (const Span& s : spans) {
    ASSERT_GE(s.offset, prev_end);
    ASSERT_GT(s.length, 0);
    ASSERT_LE(s.offset + s.length, static_cast<int64_t>(text.size()));
    const auto b = static_cast<size_t>(s.offset), e = static_cast<size_t>(s.offset + s.length);
    EXPECT_FALSE(is_continuation(text[b])) << "span starts inside a UTF-8 sequence at " << b;
    if (e < text.size()) {
      EXPECT_FALSE(is_continuation(text[e])) << "span ends inside a UTF-8 sequence at " << e;
    }
    EXPECT_FALSE(has_edge_space(text.substr(b, e - b))) << "[" << text.substr(b, e - b) << "]";
    prev_end = s.offset + s.length;
  }
}

SegmentOptions keep_all() {
  SegmentOptions o;
  o.min_chars = 1;
  return o;
}

std::vector<std::string> split(std::string_view text, SegmentOptions opts = keep_all(),
                               SegmentStats* st = nullptr) {
  const std::vector<Span> spans = emb::segment_text(text, opts, st);
  expect_well_formed(text, spans);
  std::vector<std::string> out;
  for (const Span& s : spans) out.emplace_back(text.substr(s.offset, s.length));
  return out;
}

using Strings = std::vector<std::string>;

TEST(Segmenter, EnglishPunctuation) {
  EXPECT_EQ(split("Hello there. How are you? I am fine! Great"),
            (Strings{"Hello there.", "How are you?", "I am fine!", "Great"}));
}

TEST(Segmenter, KoreanPunctuation) {
  EXPECT_EQ(split("오늘은 날씨가 좋다. 산책을 갈까요? 정말 좋아요! 끝"),
            (Strings{"오늘은 날씨가 좋다.", "산책을 갈까요?", "정말 좋아요!", "끝"}));
}

TEST(Segmenter, PunctuationRunsAndEllipsis) {
  EXPECT_EQ(split("Really?! Yes... Well… 그래요?? 좋아요!!"),
            (Strings{"Really?!", "Yes...", "Well…", "그래요??", "좋아요!!"}));
}

TEST(Segmenter, FullwidthPunctuationNeedsNoSpace) {
  EXPECT_EQ(split("今日は晴れ。明日は雨！本当？はい"), (Strings{"今日は晴れ。", "明日は雨！", "本当？", "はい"}));
}

TEST(Segmenter, NoCutWhenTextFollowsDirectly) {
  EXPECT_EQ(split("화면에 \"Hello, World!\"를 출력한다. 다음 문장."),
            (Strings{"화면에 \"Hello, World!\"를 출력한다.", "다음 문장."}));
  EXPECT_EQ(split("see example.com/page.html now."), (Strings{"see example.com/page.html now."}));
}

TEST(Segmenter, ClosingQuotesAndBracketsAfterPunctuation) {
  EXPECT_EQ(split("He shouted \"Stop!\" Then he left."), (Strings{"He shouted \"Stop!\"", "Then he left."}));
  EXPECT_EQ(split("(This is an aside.) Next one."), (Strings{"(This is an aside.)", "Next one."}));
  EXPECT_EQ(split("그는 ‘좋다.’ 다음 말. 「끝이다.」 『정말이다.』 《책이다.》 〈글이다.〉 [괄호다.] 마지막"),
            (Strings{"그는 ‘좋다.’", "다음 말.", "「끝이다.」", "『정말이다.』", "《책이다.》", "〈글이다.〉",
                     "[괄호다.]", "마지막"}));
  EXPECT_EQ(split("She said “yes.” It was over."), (Strings{"She said “yes.”", "It was over."}));
  // A question or exclamation mark in parentheses is an aside, not an end.
  EXPECT_EQ(split("관리자가 지쳐서(?) 결국 허락했다. 끝."), (Strings{"관리자가 지쳐서(?) 결국 허락했다.", "끝."}));
}

TEST(Segmenter, QuotedSpeechStaysWhole) {
  EXPECT_EQ(split("샘은 말했습니다. \"포커는 재밌어요. 추천합니다.\" 그리고 웃었다."),
            (Strings{"샘은 말했습니다.", "\"포커는 재밌어요. 추천합니다.\"", "그리고 웃었다."}));
  EXPECT_EQ(split("“One. Two.” Three."), (Strings{"“One. Two.”", "Three."}));
  // A quotation that never closes does not hold the sentences together.
  EXPECT_EQ(split("\"열린 따옴표. 다음 문장."), (Strings{"\"열린 따옴표.", "다음 문장."}));
}

TEST(Segmenter, NumbersAreNotSentenceEnds) {
  EXPECT_EQ(split("매출은 15.7조 원이다. 원주율은 3.14이다. 가격은 7,000원이다. Pi is 3.14 exactly."),
            (Strings{"매출은 15.7조 원이다.", "원주율은 3.14이다.", "가격은 7,000원이다.", "Pi is 3.14 exactly."}));
  EXPECT_EQ(split("He was born in 1985. Then he moved."),
            (Strings{"He was born in 1985.", "Then he moved."}));
}

TEST(Segmenter, DatesAreNotSentenceEnds) {
  EXPECT_EQ(split("출판사등록 | 2025. 3. 10. (제2025-000015호)"), (Strings{"출판사등록 | 2025. 3. 10. (제2025-000015호)"}));
  EXPECT_EQ(split("지난 3. 11.  '미국 AI리더쉽의 미래 포럼'에서 화두를 던졌다. 다음이다."),
            (Strings{"지난 3. 11.  '미국 AI리더쉽의 미래 포럼'에서 화두를 던졌다.", "다음이다."}));
  EXPECT_EQ(split("우리는 2024. 5. 3. 새벽에 출발했다. 날씨가 맑았다."),
            (Strings{"우리는 2024. 5. 3. 새벽에 출발했다.", "날씨가 맑았다."}));
  EXPECT_EQ(split("by 이정봉 변호사 Mar 16. 2025"), (Strings{"by 이정봉 변호사 Mar 16. 2025"}));
  EXPECT_EQ(split("입력 : 2024.04.25 00:30 기사다."), (Strings{"입력 : 2024.04.25 00:30 기사다."}));
  // A date that ends its line ends the sentence there.
  EXPECT_EQ(split("발행일은 2025. 3. 10.\n다음 줄이다."), (Strings{"발행일은 2025. 3. 10.", "다음 줄이다."}));
}

TEST(Segmenter, SectionNumbersAreNotSentenceEnds) {
  EXPECT_EQ(split("1.1. 어린시절과 학창시절\n\n2. 대학 시절"), (Strings{"1.1. 어린시절과 학창시절", "2. 대학 시절"}));
  EXPECT_EQ(split("1. 첫째 항목이다\n2. 둘째 항목이다"), (Strings{"1. 첫째 항목이다", "2. 둘째 항목이다"}));
}

TEST(Segmenter, Abbreviations) {
  EXPECT_EQ(split("Mr. Smith met Dr. Jones. They talked."),
            (Strings{"Mr. Smith met Dr. Jones.", "They talked."}));
  EXPECT_EQ(split("The U.S. economy grew. Prices rose in the U.K. too."),
            (Strings{"The U.S. economy grew.", "Prices rose in the U.K. too."}));
  EXPECT_EQ(split("C.S.Lewis wrote books. J. Smith read them."),
            (Strings{"C.S.Lewis wrote books.", "J. Smith read them."}));
  EXPECT_EQ(split("Apples, pears, etc. are fruit. Use e.g. this or i.e. that."),
            (Strings{"Apples, pears, etc. are fruit.", "Use e.g. this or i.e. that."}));
  EXPECT_EQ(split("Prof. Kim from St. Louis vs. Mrs. Lee. Done."),
            (Strings{"Prof. Kim from St. Louis vs. Mrs. Lee.", "Done."}));
  // An ordinary word before the period is a sentence end.
  EXPECT_EQ(split("I came first. Then I left."), (Strings{"I came first.", "Then I left."}));
}

TEST(Segmenter, MarkdownHeadingsAndLists) {
  EXPECT_EQ(split("# Title\nFirst sentence. Second sentence.\n## Sub heading\nText here."),
            (Strings{"Title", "First sentence.", "Second sentence.", "Sub heading", "Text here."}));
  EXPECT_EQ(split("Fruit:\n- apples\n- pears\n* plums\n• grapes\n+ figs"),
            (Strings{"Fruit:", "apples", "pears", "plums", "grapes", "figs"}));
  // A list item wrapped onto an indented line is one sentence.
  const std::string wrapped =
      "- The committee met on a cold morning to discuss the\n"
      "  budget for the next year and the plans for the new\n"
      "  library building downtown. Nobody agreed.\n"
      "- Second item";
  EXPECT_EQ(split(wrapped).size(), 3u);
}

TEST(Segmenter, ShortLinesAreHeadings) {
  EXPECT_EQ(split("A Short Title\nThe text begins here and it goes on for a while."),
            (Strings{"A Short Title", "The text begins here and it goes on for a while."}));
  EXPECT_EQ(split("샘 알트만 전기\n(인공지능 혁명의 개척자)\n저자 김경진"),
            (Strings{"샘 알트만 전기", "(인공지능 혁명의 개척자)", "저자 김경진"}));
}

TEST(Segmenter, WrappedLinesAreJoined) {
  const std::string en =
      "The committee met on a cold morning to discuss the\n"
      "budget for the next year and the plans for the new\n"
      "library building downtown. Nobody agreed.";
  EXPECT_EQ(split(en),
            (Strings{"The committee met on a cold morning to discuss the\n"
                     "budget for the next year and the plans for the new\n"
                     "library building downtown.",
                     "Nobody agreed."}));
  const std::string ko =
      "오늘 아침에는 비가 많이 내려서 우리는 우산을 챙겨\n"
      "들고 천천히 걸어서 학교까지 갔고 수업이 끝난\n"
      "뒤에는 도서관에 들러 책을 빌렸다. 저녁에는 날이\n"
      "개었다.";
  const Strings got = split(ko);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1], "저녁에는 날이\n개었다.");
}

TEST(Segmenter, DeliberateLineBreaksCut) {
  // The next line's first word would have fitted: the break was made on purpose.
  const std::string text =
      "Summary of the long report that was written last year\n"
      "Another line that stands on its own as a short note\n"
      "And a third line that is the widest of them all by far, really";
  EXPECT_EQ(split(text).size(), 3u);
}

TEST(Segmenter, BlankLinesCut) {
  EXPECT_EQ(split("No punctuation in this paragraph\n\nAnother one without an end"),
            (Strings{"No punctuation in this paragraph", "Another one without an end"}));
  // A line of Unicode spaces is blank too.
  EXPECT_EQ(split("첫 번째 문단의 끝나지 않는 문장으로 이루어진 아주 긴 줄이 여기에 있다\n\xE3\x80\x80\xC2\xA0\n"
                  "두 번째 문단"),
            (Strings{"첫 번째 문단의 끝나지 않는 문장으로 이루어진 아주 긴 줄이 여기에 있다", "두 번째 문단"}));
}

TEST(Segmenter, CrlfLineEnds) {
  const Strings got = split("첫 문장이다.\r\n둘째 문장이다\r\n\r\n셋째 문장이다.\r\n");
  EXPECT_EQ(got, (Strings{"첫 문장이다.", "둘째 문장이다", "셋째 문장이다."}));
}

TEST(Segmenter, TrimsUnicodeSpaces) {
  EXPECT_EQ(split("\xE3\x80\x80\xC2\xA0 문장이다. \xC2\xA0\xE3\x80\x80 둘째다.\xE2\x80\x83"),
            (Strings{"문장이다.", "둘째다."}));
}

TEST(Segmenter, EmptyAndBlankText) {
  EXPECT_TRUE(split("").empty());
  EXPECT_TRUE(split(" \n\t\r\n\xE3\x80\x80").empty());
}

TEST(Segmenter, ShortSegmentsAreDropped) {
  SegmentOptions o;  // min_chars 8
  SegmentStats st;
  EXPECT_EQ(split("짧다. 이것은 충분히 긴 문장이다. 네.", o, &st), (Strings{"이것은 충분히 긴 문장이다."}));
  EXPECT_EQ(st.kept, 1);
  EXPECT_EQ(st.dropped_short, 2);
  EXPECT_EQ(st.split_long, 0);
}

TEST(Segmenter, LongSegmentsSplitAtCommaOrSpace) {
  SegmentOptions o;
  o.min_chars = 1;
  o.max_chars = 20;
  SegmentStats st;
  // The comma lies in the second half of the first 20 code points.
  const Strings got = split("하나 둘 셋 넷 다섯 여섯, 일곱 여덟 아홉 열 열하나 열둘", o, &st);
  EXPECT_EQ(got.front(), "하나 둘 셋 넷 다섯 여섯,");
  for (const std::string& s : got) {
    EXPECT_LE(std::count_if(s.begin(), s.end(), [](char c) { return !is_continuation(c); }), 20) << s;
  }
  EXPECT_EQ(st.split_long, static_cast<int64_t>(got.size()));
  EXPECT_EQ(st.kept, static_cast<int64_t>(got.size()));
  // Without a comma, at the last space before the limit.
  EXPECT_EQ(split("alpha beta gamma delta epsilon", o), (Strings{"alpha beta gamma", "delta epsilon"}));
}

TEST(Segmenter, LongSegmentsWithoutSpacesAreCutAtCodePoints) {
  SegmentOptions o;
  o.min_chars = 1;
  o.max_chars = 20;
  std::string hangul;
  for (int i = 0; i < 50; ++i) hangul += "가";
  SegmentStats st;
  const Strings got = split(hangul, o, &st);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].size(), 60u);  // 20 code points of 3 bytes
  EXPECT_EQ(got[2].size(), 30u);
  EXPECT_EQ(st.split_long, 3);
  // A piece left shorter than min_chars is dropped and counted.
  o.min_chars = 15;
  SegmentStats st2;
  EXPECT_EQ(split(hangul, o, &st2).size(), 2u);
  EXPECT_EQ(st2.dropped_short, 1);
  EXPECT_EQ(st2.split_long, 2);
}

TEST(Segmenter, StatsAddUpOverCalls) {
  SegmentOptions o;
  SegmentStats st;
  emb::segment_text("짧다. 이것은 충분히 긴 문장이다.", o, &st);
  emb::segment_text("이것도 충분히 긴 문장이다. 네.", o, &st);
  EXPECT_EQ(st.kept, 2);
  EXPECT_EQ(st.dropped_short, 2);
}

TEST(Segmenter, BadOptionsThrow) {
  SegmentOptions o;
  o.max_chars = 0;
  EXPECT_THROW(emb::segment_text("text", o), emb::UsageError);
  o.max_chars = 10;
  o.min_chars = 11;
  EXPECT_THROW(emb::segment_text("text", o), emb::UsageError);
}

TEST(Segmenter, RandomTextGivesWellFormedSpans) {
  const char* const kPieces[] = {"가", "나다", " ", "  ", "\n", "\r\n", "\n\n", ".", "?", "!", "…", "。", "\"",
                                 "”", ")", "」", "abc", "Dr", "U.S", "3", "2025", ",", "\xE3\x80\x80", "\xC2\xA0",
                                 "# ", "- ", "1. ", "é", "😀", "\t"};
  std::mt19937 rng(42);
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const int n = static_cast<int>(rng() % 200);
    for (int i = 0; i < n; ++i) text += kPieces[rng() % std::size(kPieces)];
    SegmentOptions o;
    o.min_chars = static_cast<int>(rng() % 4);
    o.max_chars = 5 + static_cast<int>(rng() % 40);
    SegmentStats st;
    const std::vector<Span> spans = emb::segment_text(text, o, &st);
    expect_well_formed(text, spans);
    EXPECT_EQ(st.kept, static_cast<int64_t>(spans.size()));
  }
}

// Every segment of the project's sample corpus maps back to the bytes of its file.
TEST(SampleCorpus, SegmentsRoundTripToFileBytes) {
  const std::filesystem::path dir = std::filesystem::path(EMBCLUST_SOURCE_DIR) / "tests" / "data" / "sample";
  emb::io::ReadStats rs;
  const std::vector<emb::io::Document> docs = emb::io::read_corpus({dir.string()}, {}, &rs);
  EXPECT_GE(rs.files, 6);
  EXPECT_EQ(rs.replaced_bytes, 0);
  int64_t total = 0;
  for (const emb::io::Document& doc : docs) {
    const std::vector<Span> spans = emb::segment_text(doc.text, {});
    expect_well_formed(doc.text, spans);
    EXPECT_FALSE(spans.empty()) << doc.path << " " << doc.id;
    total += static_cast<int64_t>(spans.size());
    if (!doc.id.empty()) continue;  // a JSONL record: offsets are into its decoded value
    std::ifstream in(doc.path, std::ios::binary);
    const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_TRUE(doc.remap.empty());
    for (const Span& s : spans) {
      const std::string seg = doc.text.substr(s.offset, s.length);
      EXPECT_EQ(file.substr(doc.source_offset(s.offset), s.length), seg) << doc.path;
      EXPECT_EQ(doc.source_offset(s.offset), doc.base_offset + s.offset);
    }
  }
  EXPECT_GT(total, 250);
  EXPECT_LT(total, 450);
}

}  // namespace
