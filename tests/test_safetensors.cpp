// The memory-mapped safetensors reader: dtype conversion, shape checks, every malformed file.
#include "model_files_test_util.hpp"

using namespace emb::test::model_files;

namespace {

TEST(HalfFloat, KnownValues) {
  EXPECT_EQ(half_to_float(0x3C00), 1.0f);
  EXPECT_EQ(half_to_float(0xC000), -2.0f);
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(half_to_float(0x7BFF), 65504.0f);            // largest finite
  EXPECT_EQ(half_to_float(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(half_to_float(0x83FF), -std::ldexp(1023.0f, -24));
  EXPECT_EQ(half_to_float(0x0000), 0.0f);
  EXPECT_FALSE(std::signbit(half_to_float(0x0000)));
  EXPECT_TRUE(std::signbit(half_to_float(0x8000)));
  EXPECT_EQ(half_to_float(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(half_to_float(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(half_to_float(0x7E00)));
  EXPECT_TRUE(std::isnan(half_to_float(0xFC01)));
}

TEST(HalfFloat, EveryFiniteValueMatchesTheDefinition) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const int exp = (h >> 10) & 0x1f;
    if (exp == 31) continue;
    const double mant = h & 0x3ff;
    const double mag = exp == 0 ? std::ldexp(mant, -24) : std::ldexp(1.0 + mant / 1024.0, exp - 15);
    const double expected = (h & 0x8000) ? -mag : mag;
    ASSERT_EQ(half_to_float(static_cast<uint16_t>(h)), static_cast<float>(expected)) << std::hex << h;
  }
}

TEST(Bf16Float, KnownValues) {
  EXPECT_EQ(bf16_to_float(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_float(0xC049), -3.140625f);
  EXPECT_EQ(bf16_to_float(0x0001), std::bit_cast<float>(0x00010000u));  // subnormal
  EXPECT_EQ(bf16_to_float(0x7F80), std::numeric_limits<float>::infinity());
  EXPECT_EQ(bf16_to_float(0xFF80), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(bf16_to_float(0x7FC0)));
  EXPECT_TRUE(std::signbit(bf16_to_float(0x8000)));
}

TEST_F(ModelFilesTest, ReadsF32F16Bf16AsFloat) {
  const std::vector<float> f32 = {1.5f, -2.25f, 0.0f, 3.0e38f, -1e-40f, 7.0f};
  const std::vector<uint16_t> f16 = {0x3C00, 0x0001, 0x7BFF, 0x7C00, 0xFC00, 0x7E00};
  const std::vector<uint16_t> bf16 = {0x3F80, 0xC049, 0x0001, 0x7F80};
  // pad 1: the data area starts at an odd address, so nothing may assume alignment.
  write_safetensors(dir_ / "w.safetensors",
                    {{"b.f32", "F32", {2, 3}, bytes_of(f32)}, {"a.f16", "F16", {6}, bytes_of(f16)},
                     {"c.bf16", "BF16", {2, 1, 2}, bytes_of(bf16)}},
                    json{{"format", "pt"}}, 1);
  const SafeTensors st = SafeTensors::open(path("w.safetensors"));
  EXPECT_EQ(st.path(), path("w.safetensors"));
  EXPECT_EQ(st.names(), (std::vector<std::string>{"a.f16", "b.f32", "c.bf16"}));
  EXPECT_TRUE(st.has("a.f16"));
  EXPECT_FALSE(st.has("missing"));
  EXPECT_EQ(st.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  const TensorInfo& info = st.get("c.bf16");
  EXPECT_EQ(info.name, "c.bf16");
  EXPECT_EQ(info.dtype, TensorDType::BF16);
  EXPECT_EQ(info.shape, (std::vector<int64_t>{2, 1, 2}));
  EXPECT_EQ(info.nbytes, 8u);

  std::vector<float> out(6);
  st.read_f32("b.f32", {2, 3}, out.data());
  EXPECT_EQ(out, f32);
  st.read_f32("a.f16", {6}, out.data());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], std::ldexp(1.0f, -24));
  EXPECT_EQ(out[2], 65504.0f);
  EXPECT_EQ(out[3], std::numeric_limits<float>::infinity());
  EXPECT_EQ(out[4], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(out[5]));
  st.read_f32("c.bf16", {2, 1, 2}, out.data());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -3.140625f);
  EXPECT_EQ(out[2], std::bit_cast<float>(0x00010000u));
  EXPECT_EQ(out[3], std::numeric_limits<float>::infinity());
}

TEST_F(ModelFilesTest, MovedFileStaysReadable) {
  write_safetensors(dir_ / "w.safetensors", {{"t", "F32", {2}, bytes_of(std::vector<float>{4.0f, 5.0f})}});
  SafeTensors a = SafeTensors::open(path("w.safetensors"));
  SafeTensors b = std::move(a);
  SafeTensors c = SafeTensors::open(path("w.safetensors"));
  c = std::move(b);
  float out[2];
  c.read_f32("t", {2}, out);
  EXPECT_EQ(out[0], 4.0f);
  EXPECT_EQ(out[1], 5.0f);
}

TEST_F(ModelFilesTest, EmptyAndScalarTensors) {
  write_safetensors(dir_ / "w.safetensors",
                    {{"empty", "F32", {0, 4}, ""}, {"scalar", "F16", {}, bytes_of(std::vector<uint16_t>{0xC000})}});
  const SafeTensors st = SafeTensors::open(path("w.safetensors"));
  float out = 0;
  st.read_f32("empty", {0, 4}, &out);
  st.read_f32("scalar", {}, &out);
  EXPECT_EQ(out, -2.0f);
  EXPECT_TRUE(st.metadata().empty());
}

TEST_F(ModelFilesTest, ShapeMismatchNamesTensorFileAndBothShapes) {
  write_safetensors(dir_ / "w.safetensors", {{"enc.w", "F32", {2, 3}, std::string(24, '\0')}});
  const SafeTensors st = SafeTensors::open(path("w.safetensors"));
  float out[6];
  EXPECT_EQ(error_of([&] { st.read_f32("enc.w", {3, 2}, out); }),
            "tensor enc.w in " + path("w.safetensors") + " has shape [2, 3] but config.json implies [3, 2]");
  EXPECT_NE(error_of([&] { st.read_f32("enc.w", {6}, out); }).find("[6]"), std::string::npos);
}

TEST_F(ModelFilesTest, MissingTensorAndUnsupportedDtype) {
  write_safetensors(dir_ / "w.safetensors", {{"embeddings.position_ids", "I64", {1, 4}, std::string(32, '\0')},
                                             {"w", "F32", {1}, std::string(4, '\0')}});
  const SafeTensors st = SafeTensors::open(path("w.safetensors"));  // I64 tensors do not stop the file opening
  const std::string file = path("w.safetensors");
  EXPECT_TRUE(st.has("embeddings.position_ids"));
  EXPECT_EQ(st.names(), (std::vector<std::string>{"embeddings.position_ids", "w"}));
  EXPECT_EQ(error_of([&] { st.get("nope"); }), file + " has no tensor nope");
  const std::string msg = error_of([&] { st.get("embeddings.position_ids"); });
  EXPECT_NE(msg.find("unsupported dtype I64 of tensor embeddings.position_ids in " + file), std::string::npos) << msg;
  float out[4];
  EXPECT_NE(error_of([&] { st.read_f32("embeddings.position_ids", {1, 4}, out); }).find("unsupported dtype I64"),
            std::string::npos);
}

TEST_F(ModelFilesTest, OpenErrorsNameTheFile) {
  const std::string file = path("w.safetensors");
  const auto open_error = [&] { return error_of([&] { SafeTensors::open(file); }); };
  const auto expect = [&](const std::string& msg, const std::string& part) {
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    EXPECT_NE(msg.find(part), std::string::npos) << msg;
  };
  expect(open_error(), "no such file");

  fs::create_directories(file);
  expect(open_error(), "is a folder");
  fs::remove(file);

  std::ofstream(file, std::ios::binary) << "abcd";
  expect(open_error(), "4 bytes long");

  write_raw(file, 1000, R"({"a": 1})", "");
  expect(open_error(), "header length 1000 runs past the end");

  write_raw(file, 9, "{not json", "");
  expect(open_error(), "not valid JSON");

  write_raw(file, 2, "[]", "");
  expect(open_error(), "not a JSON object");

  const auto header_only = [&](const json& h, const std::string& data) {
    const std::string text = h.dump();
    write_raw(file, text.size(), text, data);
  };
  header_only({{"w", {{"shape", {1}}, {"data_offsets", {0, 4}}}}}, std::string(4, '\0'));
  expect(open_error(), "tensor w");

  header_only({{"w", {{"dtype", "F32"}, {"shape", {-1}}, {"data_offsets", {0, 4}}}}}, std::string(4, '\0'));
  expect(open_error(), "shape");

  header_only({{"w", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}}}, std::string(4, '\0'));
  expect(open_error(), "truncated");

  header_only({{"w", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {4, 0}}}}}, std::string(4, '\0'));
  expect(open_error(), "outside the data area");

  header_only({{"w", {{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {0, 8}}}}}, std::string(8, '\0'));
  expect(open_error(), "span 8 bytes, not 12");

  header_only({{"w", {{"dtype", "F32"}, {"shape", {1LL << 40, 1LL << 40}}, {"data_offsets", {0, 8}}}}},
              std::string(8, '\0'));
  expect(open_error(), "tensor w");

  header_only({{"__metadata__", "pt"}}, "");
  expect(open_error(), "__metadata__");
}

TEST_F(ModelFilesTest, TruncatedDownloadIsReportedAtOpen) {
  const std::string file = path("w.safetensors");
  write_safetensors(file, {{"a", "F32", {4}, std::string(16, '\1')}, {"b", "F16", {8}, std::string(16, '\2')}});
  fs::resize_file(file, fs::file_size(file) - 5);
  const std::string msg = error_of([&] { SafeTensors::open(file); });
  EXPECT_NE(msg.find(file + " is truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tensor b"), std::string::npos) << msg;
}


}  // namespace
