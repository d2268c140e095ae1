// The encoder forward pass on each backend's EncoderOps, with seeded random weights
// of real model shapes (no model files needed): tokens/s, and the linear layers'
// GFLOP/s (2 x tokens x parameters of the linear layers, the FLOPs that dominate).
// The same batches on the CPU and, where one exists, the GPU. On the GPU, a few more
// runs with every op timed on the device give each op's share of the time
// (counters ending in _%) and the rate of the GEMMs alone (gemm_TFLOP/s).
//
//   build/bench_encoder --benchmark_filter=MiniLM
#include <benchmark/benchmark.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/embed/encoder_graph.hpp"
#include "host/embed/transformer_embedder.hpp"
#include "host/tokenize/tokenizer.hpp"
#include "io/model_files.hpp"

namespace {

// The random:ARCH shapes with their real models' vocabularies (no tokenizer needed).
emb::EncoderSpec shape(const std::string& name) {
  const bool e5 = name == "e5-small";
  return emb::random_arch_spec(name, e5 ? 250037 : 30522, e5 ? 1 : 0);
}

// `sequences` sequences of `len` tokens (the corpus averages about 46), packed.
emb::PackedBatch batch(const emb::EncoderSpec& s, int sequences, int len) {
  emb::PackedBatch b;
  b.offsets = {0};
  std::mt19937 rng(1);
  for (int q = 0; q < sequences; ++q) {
    for (int p = 0; p < len; ++p) {
      b.ids.push_back(static_cast<int32_t>(rng() % s.vocab));
      b.positions.push_back(static_cast<int32_t>(s.position_offset() + p));
    }
    b.offsets.push_back(static_cast<int32_t>(b.ids.size()));
  }
  return b;
}

void BM_Encoder(benchmark::State& state, const std::string& name, emb::Device device,
                emb::EncoderPrecision precision = emb::EncoderPrecision::Fp16) {
  std::unique_ptr<emb::Backend> backend;
  try {
    backend = emb::make_backend({device, 0, precision});
  } catch (const std::exception& e) {
    state.SkipWithError((std::string("no such device: ") + e.what()).c_str());
    return;
  }
  auto ops = backend->make_encoder_ops();
  if (!ops || ops->is_gpu() != backend->is_gpu()) {
    state.SkipWithError(("no encoder ops on " + backend->name() + " itself").c_str());
    return;
  }
  const emb::EncoderSpec s = shape(name);
  const auto weights = emb::random_weights(1);
  const int len = static_cast<int>(state.range(1));
  const emb::PackedBatch b = batch(s, static_cast<int>(state.range(0)), len);
  emb::EncoderGraph graph(*ops, s, *weights, b.tokens());
  std::vector<float> out(static_cast<size_t>(b.batch() * s.hidden));
  for (auto _ : state) graph.run(b, emb::Pooling::Mean, true, out.data());
  const double linear_params = static_cast<double>(s.layers) * (4.0 * s.hidden * s.hidden + 2.0 * s.hidden * s.intermediate);
  const double tokens = static_cast<double>(b.tokens()) * static_cast<double>(state.iterations());
  state.counters["tokens/s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
  state.counters["linear_GFLOP/s"] = benchmark::Counter(2.0 * linear_params * tokens * 1e-9, benchmark::Counter::kIsRate);
  // Per-op device times, outside the timed loop (the events add a little work).
  constexpr int kProfiled = 3;
  ops->set_profiling(true);
  for (int r = 0; r < kProfiled; ++r) graph.run(b, emb::Pooling::Mean, true, out.data());
  const auto times = ops->op_times();
  ops->set_profiling(false);
  double total_ms = 0.0, gemm_ms = 0.0;
  for (const auto& [kind, ms] : times) {
    total_ms += ms;
    if (kind.rfind("gemm", 0) == 0) gemm_ms += ms;
  }
  for (const auto& [kind, ms] : times) state.counters[kind + "_%"] = 100.0 * ms / total_ms;
  if (gemm_ms > 0.0)
    state.counters["gemm_TFLOP/s"] = 2.0 * linear_params * static_cast<double>(b.tokens()) * kProfiled / (gemm_ms * 1e-3) * 1e-12;
  state.SetLabel(ops->name());
}

BENCHMARK_CAPTURE(BM_Encoder, MiniLM_L6_cpu, std::string("minilm-l6"), emb::Device::Cpu)
    ->Args({128, 46})->Args({16, 256})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Encoder, E5_small_cpu, std::string("e5-small"), emb::Device::Cpu)
    ->Args({128, 46})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Encoder, MiniLM_L6_cuda, std::string("minilm-l6"), emb::Device::Cuda)
    ->Args({2048, 46})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Encoder, E5_small_cuda, std::string("e5-small"), emb::Device::Cuda)
    ->Args({2048, 46})->Args({512, 200})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Encoder, MiniLM_L6_cuda_fp32, std::string("minilm-l6"), emb::Device::Cuda,
                  emb::EncoderPrecision::Fp32)
    ->Args({2048, 46})->Unit(benchmark::kMillisecond)->UseRealTime();

// Tokenization of the test fixture's sentences (550, many scripts), repeated to 7,500,
// with the installed models' tokenizers; skips when a model is not installed.
void BM_Tokenize(benchmark::State& state, const std::string& model) {
  std::unique_ptr<emb::Tokenizer> tok;
  try {
    tok = emb::load_tokenizer(emb::io::resolve_model_path(model) + "/tokenizer.json");
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  std::ifstream in(std::string(EMBCLUST_SOURCE_DIR) + "/tests/data/tokenizer/sentences.txt");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '"') lines.push_back(nlohmann::json::parse(line).get<std::string>());
  if (lines.empty()) {
    state.SkipWithError("tests/data/tokenizer/sentences.txt not found");
    return;
  }
  std::vector<std::string> texts;
  while (texts.size() < 7500) texts.push_back(lines[texts.size() % lines.size()]);
  std::vector<int32_t> ids;
  int64_t tokens = 0;
  for (auto _ : state)
    for (const auto& t : texts) {
      tok->encode_content(t, ids);
      tokens += static_cast<int64_t>(ids.size());
    }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(texts.size()));
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_Tokenize, MiniLM, std::string("all-MiniLM-L6-v2"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Tokenize, E5_small, std::string("multilingual-e5-small"))->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
