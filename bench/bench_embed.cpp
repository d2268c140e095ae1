// Throughput of the hashing embedder and of row normalization on each backend.
// The GPU cases skip with a message where no CUDA device exists.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "host/backend/backend.hpp"
#include "host/embed/hashing_embedder.hpp"

namespace {

std::vector<std::string> synthetic_sentences(int n) {
  // Mixed Korean and English words, 8-20 words each: the shape of real corpus sentences.
  const std::vector<std::string> words = {"인공지능", "모델은", "데이터를", "학습한다", "회사의", "연구자들이",
                                          "안전한", "기술", "the",     "model",   "learns",   "from",
                                          "large",  "text",  "corpora", "quickly", "발표했다", "2025년"};
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> len(8, 20), pick(0, static_cast<int>(words.size()) - 1);
  std::vector<std::string> out(static_cast<size_t>(n));
  for (auto& s : out) {
    for (int w = len(rng); w > 0; --w) s += words[static_cast<size_t>(pick(rng))] + " ";
    s += ".";
  }
  return out;
}

void BM_HashingEmbed(benchmark::State& state) {
  auto cpu = emb::make_cpu_backend(0);
  const auto texts = synthetic_sentences(static_cast<int>(state.range(0)));
  emb::HashingEmbedder e(1024, false);
  for (auto _ : state) benchmark::DoNotOptimize(e.embed(texts, *cpu));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_HashingEmbed)->Arg(2000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_NormalizeRows(benchmark::State& state, emb::Device device) {
  std::string notice;
  std::unique_ptr<emb::Backend> b;
  try {
    b = emb::make_backend({device, 0}, &notice);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const int64_t rows = state.range(0), cols = 1024;
  std::vector<float> x(static_cast<size_t>(rows * cols), 0.5f);
  for (auto _ : state) b->normalize_rows({x.data(), rows, cols});
  // Host-interface timing: includes the transfers a GPU backend makes.
  state.SetBytesProcessed(state.iterations() * rows * cols * 4 * 2);
  state.SetLabel(b->name());
}
BENCHMARK_CAPTURE(BM_NormalizeRows, cpu, emb::Device::Cpu)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_NormalizeRows, cuda, emb::Device::Cuda)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
