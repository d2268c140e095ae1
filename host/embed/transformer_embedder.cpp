#include "host/embed/transformer_embedder.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <future>
#include <numeric>
#include <optional>

#include "host/core/error.hpp"
#include "host/core/progress.hpp"
#include "io/model_files.hpp"
#include "io/safetensors.hpp"

namespace emb {
namespace {

// Tokens per batch when the user does not say: large enough that the GEMMs run near
// their peak, small enough that the activations (about 12 floats per token per
// hidden unit) stay in the hundreds of megabytes. A GPU needs more rows to fill it.
constexpr int64_t kDefaultBatchTokens = 8192;
constexpr int64_t kDefaultGpuBatchTokens = 65536;

struct RandomArch {
  const char* name;
  const char* arch;       // "bert" or "xlm-roberta"
  const char* tokenizer;  // installed model whose tokenizer it borrows
  int64_t hidden, layers, heads, intermediate, max_positions, max_seq_length;
};

// Shapes of the encoders people use, for tests and for benchmarks where real
// weights cannot be carried. The vocabulary comes from the borrowed tokenizer.
constexpr RandomArch kRandomArchs[] = {
    {"minilm-l6", "bert", "all-MiniLM-L6-v2", 384, 6, 12, 1536, 512, 256},
    {"minilm-l12", "bert", "all-MiniLM-L6-v2", 384, 12, 12, 1536, 512, 128},
    {"bge-small", "bert", "all-MiniLM-L6-v2", 384, 12, 12, 1536, 512, 512},
    {"e5-small", "xlm-roberta", "multilingual-e5-small", 384, 12, 12, 1536, 514, 512},
    {"multilingual-minilm-l12", "xlm-roberta", "multilingual-e5-small", 384, 12, 12, 1536, 514, 128},
    {"e5-base", "xlm-roberta", "multilingual-e5-small", 768, 12, 12, 3072, 514, 512},
};

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Weights from model.safetensors, under whichever prefix the exporter used.
class SafeTensorWeights final : public WeightSource {
 public:
  SafeTensorWeights(io::SafeTensors st, const EncoderSpec& spec) : st_(std::move(st)) {
    for (const char* p : {"", "bert.", "roberta.", "model.", "0.auto_model."}) {
      if (st_.has(std::string(p) + "embeddings.word_embeddings.weight")) {
        prefix_ = p;
        break;
      }
    }
    // Every name and shape now, so a bad file fails before any work starts.
    for (const auto& [name, shape] : encoder_tensors(spec)) {
      EMB_EXPECTS(st_.has(prefix_ + name), st_.path(), " has no tensor ", prefix_ + name,
                  " (a ", spec.arch, " encoder of ", spec.layers, " layers needs it)");
      const io::TensorInfo& t = st_.get(prefix_ + name);
      EMB_EXPECTS(t.shape == shape, "tensor ", prefix_ + name, " in ", st_.path(), " has shape ", shape_str(t.shape),
                  " but config.json implies ", shape_str(shape));
    }
  }
  void read(const std::string& name, const std::vector<int64_t>& shape, float* out) const override {
    st_.read_f32(prefix_ + name, shape, out);
  }

 private:
  io::SafeTensors st_;
  std::string prefix_;
};

Activation activation_of(const std::string& act, const std::string& config) {
  if (act == "gelu") return Activation::GeluErf;
  if (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast") return Activation::GeluTanh;
  if (act == "relu") return Activation::Relu;
  throw InputError(config + ": hidden_act '" + act + "' is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)");
}

std::string borrowed_tokenizer_json(const RandomArch& a) {
  std::string folder;
  try {
    folder = io::resolve_model_path(a.tokenizer);
  } catch (const UsageError&) {
    throw UsageError(std::string("random:") + a.name + " uses the tokenizer of " + a.tokenizer +
                     ", which is not installed; run scripts/fetch_model.sh " + a.tokenizer);
  }
  return folder + "/tokenizer.json";
}

const RandomArch& find_random_arch(const std::string& arch) {
  for (const auto& r : kRandomArchs)
    if (arch == r.name) return r;
  std::string names;
  for (const auto& r : kRandomArchs) names += std::string(names.empty() ? "" : ", ") + r.name;
  throw UsageError("unknown architecture in --model random:" + arch + "; known: " + names);
}

EncoderModel random_model(const std::string& arch, uint64_t seed) {
  const RandomArch& a = find_random_arch(arch);
  EncoderModel m;
  m.name = "random:" + arch;
  m.tokenizer_json = borrowed_tokenizer_json(a);
  m.tokenizer = load_tokenizer(m.tokenizer_json);
  m.spec = random_arch_spec(arch, m.tokenizer->vocab_size(), m.tokenizer->pad_id);
  m.pooling = Pooling::Mean;
  m.normalize = true;
  m.max_seq_length = a.max_seq_length;
  m.weights = random_weights(seed);
  return m;
}

}  // namespace

EncoderSpec random_arch_spec(const std::string& arch, int64_t vocab, int64_t pad_id) {
  const RandomArch& a = find_random_arch(arch);
  const bool bert = std::string(a.arch) == "bert";
  EncoderSpec s;
  s.arch = a.arch;
  s.vocab = vocab;
  s.hidden = a.hidden;
  s.layers = a.layers;
  s.heads = a.heads;
  s.intermediate = a.intermediate;
  s.max_positions = a.max_positions;
  s.type_vocab = bert ? 2 : 1;
  s.pad_id = pad_id;
  s.eps = bert ? 1e-12f : 1e-5f;
  return s;
}

std::vector<std::string> random_architectures() {
  std::vector<std::string> out;
  for (const auto& r : kRandomArchs) out.emplace_back(r.name);
  return out;
}

std::vector<std::pair<int64_t, int64_t>> token_windows(int64_t n, int64_t window) {
  std::vector<std::pair<int64_t, int64_t>> w;
  if (n <= window) return {{0, n}};
  const int64_t stride = std::max<int64_t>(1, window - window / 4);
  for (int64_t b = 0;; b += stride) {
    const int64_t e = std::min(n, b + window);
    w.emplace_back(std::max<int64_t>(0, e - window), e);
    if (e == n) break;
  }
  return w;
}

EncoderModel load_encoder_model(const std::string& name_or_path, uint64_t seed) {
  if (name_or_path.rfind("random:", 0) == 0) return random_model(name_or_path.substr(7), seed);
  const io::ModelFolder f = io::ModelFolder::load(io::resolve_model_path(name_or_path));
  const std::string config = f.path + "/config.json";
  EncoderModel m;
  m.path = f.path;
  m.name = f.path.substr(f.path.find_last_of('/') + 1);
  if (m.name.empty()) m.name = f.path;
  const auto& c = f.config;
  m.spec.arch = c.model_type == "xlm-roberta" ? "xlm-roberta" : "bert";
  EMB_EXPECTS(c.position_embedding_type == "absolute", config, ": position_embedding_type '",
              c.position_embedding_type, "' is not supported (absolute only)");
  m.spec.vocab = c.vocab_size;
  m.spec.hidden = c.hidden_size;
  m.spec.layers = c.num_layers;
  m.spec.heads = c.num_heads;
  m.spec.intermediate = c.intermediate_size;
  m.spec.max_positions = c.max_position_embeddings;
  m.spec.type_vocab = c.type_vocab_size;
  m.spec.pad_id = c.pad_token_id;
  m.spec.eps = static_cast<float>(c.layer_norm_eps);
  m.spec.act = activation_of(c.hidden_act, config);
  switch (f.sentence.pooling) {
    case io::PoolingMode::Mean: m.pooling = Pooling::Mean; break;
    case io::PoolingMode::Cls: m.pooling = Pooling::Cls; break;
    case io::PoolingMode::Max: m.pooling = Pooling::Max; break;
    default: throw InputError(f.path + "/1_Pooling/config.json: only mean, CLS and max pooling are supported");
  }
  m.normalize = f.sentence.normalize;
  m.max_seq_length = f.sentence.max_seq_length > 0 ? f.sentence.max_seq_length : m.spec.max_tokens_per_sequence();
  m.max_seq_length = std::min(m.max_seq_length, m.spec.max_tokens_per_sequence());
  EMB_EXPECTS(m.max_seq_length >= 3, f.path, ": max_seq_length ", m.max_seq_length, " leaves no room for text");
  for (const auto& [k, v] : f.sentence.prompts) m.prompts.emplace_back(k, v);
  m.default_prompt = f.sentence.default_prompt_name;
  m.tokenizer_json = f.tokenizer_json;
  m.tokenizer = load_tokenizer(f.tokenizer_json);
  EMB_EXPECTS(m.tokenizer->vocab_size() <= m.spec.vocab, f.tokenizer_json, " has ", m.tokenizer->vocab_size(),
              " tokens but ", config, " says vocab_size ", m.spec.vocab);
  m.weights = std::make_unique<SafeTensorWeights>(io::SafeTensors::open(f.weights), m.spec);
  return m;
}

TransformerEmbedder::TransformerEmbedder(EncoderModel model, const EmbedOptions& opts)
    : model_(std::move(model)), opts_(opts) {
  EMB_USAGE(opts.long_text == "truncate" || opts.long_text == "chunk",
            "--long-text must be truncate or chunk, got '", opts.long_text, "'");
  EMB_USAGE(opts.batch_tokens >= 0, "--batch-tokens must be positive, got ", opts.batch_tokens);
  EMB_USAGE(opts.max_seq_length >= 0, "--max-seq-length must be positive, got ", opts.max_seq_length);
  max_len_ = model_.max_seq_length;
  if (opts.max_seq_length > 0) {
    EMB_USAGE(opts.max_seq_length >= 3 && opts.max_seq_length <= model_.spec.max_tokens_per_sequence(),
              "--max-seq-length must be between 3 and ", model_.spec.max_tokens_per_sequence(), " for ", model_.name,
              ", got ", opts.max_seq_length);
    max_len_ = opts.max_seq_length;
  }
  prompt_name_ = opts.prompt.empty() ? model_.default_prompt : opts.prompt;
  if (prompt_name_ == "none") prompt_name_.clear();
  if (!prompt_name_.empty()) {
    auto it = std::find_if(model_.prompts.begin(), model_.prompts.end(),
                           [&](const auto& p) { return p.first == prompt_name_; });
    std::string names;
    for (const auto& p : model_.prompts) names += (names.empty() ? "" : ", ") + p.first;
    EMB_USAGE(it != model_.prompts.end(), "model ", model_.name, " has no prompt named '", prompt_name_,
              "'; it has: ", names.empty() ? "none" : names,
              " (--prompt none embeds without a prompt)");
    prompt_text_ = it->second;
  }
}

namespace {

// One sequence for the encoder: a whole text, or one window of a long one.
struct Seq {
  int64_t text, begin, end;  // text within the chunk; content tokens [begin, end)
};

// A chunk's texts as token ids, cut into sequences sorted longest first.
struct TokenizedChunk {
  int64_t chunk = -1, first = 0, rows = 0;
  std::vector<std::vector<int32_t>> content;  // tokens of each text, prompt included, no special tokens
  std::vector<Seq> seqs;
  EmbedStats stats;  // tokens are counted when encoded
};

}  // namespace

void TransformerEmbedder::embed_chunks(const std::vector<std::string>& texts, Backend& backend, int64_t chunk_rows,
                                       EmbeddingSink& sink) {
  std::unique_ptr<EncoderOps> ops;
  std::string note;
  try {
    ops = backend.make_encoder_ops();
  } catch (const RuntimeError& e) {  // a device that cannot start the encoder: the CPU can
    note = std::string("the encoder runs on the CPU: the GPU's encoder ops could not start (") + e.what() + ")";
  }
  const int64_t width = model_.spec.hidden / model_.spec.heads;
  if (ops && !ops->supports_head_width(width)) {
    note = "the encoder runs on the CPU: " + ops->name() + " has no attention kernel for heads of " +
           std::to_string(width) + " columns";
    ops.reset();
  }
  if (!ops) ops = make_cpu_encoder_ops();
  encode(texts, *ops, chunk_rows, sink);
  stats_.note = note;
}

void TransformerEmbedder::encode(const std::vector<std::string>& texts, EncoderOps& ops, int64_t chunk_rows,
                                 EmbeddingSink& sink) {
  EMB_USAGE(chunk_rows > 0, "--chunk-rows must be positive, got ", chunk_rows);
  const auto n = static_cast<int64_t>(texts.size());
  const int64_t h = model_.spec.hidden;
  stats_ = {};
  stats_.max_seq_length = max_len_;
  stats_.prompt = prompt_text_;
  stats_.long_text = opts_.long_text;
  stats_.device = ops.name();

  std::vector<int64_t> todo;
  for (int64_t c = 0; c * chunk_rows < n; ++c) {
    if (sink.has_chunk(c)) ++stats_.chunks_skipped;
    else todo.push_back(c);
  }
  if (todo.empty()) return;

  const Tokenizer& tok = *model_.tokenizer;
  const int64_t window = max_len_ - 2;
  // Tokenizes chunk c and cuts it into sequences: one per text, or one per window.
  auto tokenize = [&, chunk_rows](int64_t c) {
    TokenizedChunk t;
    t.chunk = c;
    t.first = c * chunk_rows;
    t.rows = std::min(chunk_rows, n - t.first);
    t.content.resize(static_cast<size_t>(t.rows));
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t i = 0; i < t.rows; ++i) {
      const std::string& text = texts[static_cast<size_t>(t.first + i)];
      std::vector<int32_t>& ids = t.content[static_cast<size_t>(i)];
      if (prompt_text_.empty()) tok.encode_content(text, ids);  // no copy of the text
      else tok.encode_content(prompt_text_ + text, ids);
    }
    t.seqs.reserve(static_cast<size_t>(t.rows));
    for (int64_t i = 0; i < t.rows; ++i) {
      const auto len = static_cast<int64_t>(t.content[static_cast<size_t>(i)].size());
      if (len <= window) {
        t.seqs.push_back({i, 0, len});
      } else if (opts_.long_text == "truncate") {
        t.seqs.push_back({i, 0, window});
        ++t.stats.truncated;
      } else {
        for (auto [b, e] : token_windows(len, window)) t.seqs.push_back({i, b, e});
        ++t.stats.chunked;
      }
    }
    // Longest first, ties in text order: batches hold sequences of similar length.
    std::stable_sort(t.seqs.begin(), t.seqs.end(),
                     [](const Seq& a, const Seq& b) { return a.end - a.begin > b.end - b.begin; });
    return t;
  };

  // The weights go up once; the scratch is sized for the token budget, which halves
  // whenever the device runs out of memory, down to one longest sequence.
  const int64_t fallback = ops.is_gpu() ? kDefaultGpuBatchTokens : kDefaultBatchTokens;
  int64_t budget = std::max(opts_.batch_tokens > 0 ? opts_.batch_tokens : fallback, max_len_);
  std::optional<EncoderGraph> graph_holder;
  try {
    graph_holder.emplace(ops, model_.spec, *model_.weights, 0);
  } catch (const OutOfMemory& e) {
    char mib[32];
    std::snprintf(mib, sizeof mib, "%.1f", static_cast<double>(model_.spec.parameters()) * 4.0 / (1 << 20));
    throw RuntimeError(model_.name + "'s weights (" + mib + " MiB in float32) do not fit in the free memory of " + ops.name() +
                       "; free GPU memory or use --device cpu (" + e.what() + ")");
  }
  EncoderGraph& graph = *graph_holder;
  const auto shrink = [&](const OutOfMemory& e) {
    if (budget <= max_len_)
      throw RuntimeError(std::string("the GPU ran out of memory even for batches of one sequence (") +
                         std::to_string(budget) + " tokens); free GPU memory, lower --max-seq-length, or use "
                         "--device cpu (" + e.what() + ")");
    budget = std::max(max_len_, budget / 2);
    ++stats_.oom_retries;
  };
  // Scratch for the largest budget that fits.
  const auto reserve_fitting = [&] {
    for (;;) {
      try {
        graph.reserve(budget);
        return;
      } catch (const OutOfMemory& e) {
        shrink(e);
      }
    }
  };
  reserve_fitting();

  // Timed from here: tokenizing counts, uploading the weights does not.
  const auto start = std::chrono::steady_clock::now();
  // Declared before the futures, which may still use them while unwinding.
  std::vector<float> out, pending, pooled;
  std::vector<int64_t> window_tokens;
  PackedBatch batch;
  // On a GPU the next chunk is tokenized on CPU threads, and the last one handed to
  // the sink, while the device encodes; on the CPU these would only compete for the
  // same cores, so everything runs in turn.
  const bool overlap = ops.is_gpu();
  std::future<TokenizedChunk> next;
  std::future<void> writing;
  if (overlap) next = std::async(std::launch::async, tokenize, todo[0]);

  int64_t total_rows = 0;
  for (int64_t c : todo) total_rows += std::min(chunk_rows, n - c * chunk_rows);
  Progress progress("embedding", total_rows, opts_.progress);
  int64_t rows_done = 0;

  const int32_t pos0 = static_cast<int32_t>(model_.spec.position_offset());
  for (size_t k = 0; k < todo.size(); ++k) {
    TokenizedChunk t = overlap ? next.get() : tokenize(todo[k]);
    if (overlap && k + 1 < todo.size()) next = std::async(std::launch::async, tokenize, todo[k + 1]);

    out.assign(static_cast<size_t>(t.rows * h), 0.0f);
    window_tokens.assign(static_cast<size_t>(t.rows), 0);  // texts cut into windows only
    size_t pos = 0;
    while (pos < t.seqs.size()) {
      batch.ids.clear();
      batch.positions.clear();
      batch.offsets.assign(1, 0);
      size_t end = pos;
      while (end < t.seqs.size()) {
        const Seq& s = t.seqs[end];
        const int64_t len = s.end - s.begin + 2;
        if (batch.tokens() + len > budget) break;
        const std::vector<int32_t>& ids = t.content[static_cast<size_t>(s.text)];
        batch.ids.push_back(tok.bos_id);
        batch.ids.insert(batch.ids.end(), ids.begin() + s.begin, ids.begin() + s.end);
        batch.ids.push_back(tok.eos_id);
        for (int64_t p = 0; p < len; ++p) batch.positions.push_back(pos0 + static_cast<int32_t>(p));
        batch.offsets.push_back(static_cast<int32_t>(batch.tokens()));
        ++end;
      }
      pooled.resize((end - pos) * static_cast<size_t>(h));
      try {
        graph.run(batch, model_.pooling, model_.normalize, pooled.data());
      } catch (const OutOfMemory& e) {
        // Nothing of this batch was kept: cut the budget and form it again.
        shrink(e);
        reserve_fitting();
        continue;
      }
      t.stats.tokens += batch.tokens();
      for (size_t j = pos; j < end; ++j) {
        const Seq& s = t.seqs[j];
        const float* src = pooled.data() + (j - pos) * static_cast<size_t>(h);
        float* dst = out.data() + s.text * h;
        if (static_cast<int64_t>(t.content[static_cast<size_t>(s.text)].size()) <= window) {
          std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(h));
        } else {
          // A window of a long (or truncated) text: accumulate, weighted by its tokens.
          const int64_t w = s.end - s.begin;
          for (int64_t col = 0; col < h; ++col) dst[col] += static_cast<float>(w) * src[col];
          window_tokens[static_cast<size_t>(s.text)] += w;
        }
      }
      pos = end;
    }
    // Finish the weighted averages of windowed texts, normalized as the model says.
    for (int64_t i = 0; i < t.rows; ++i) {
      if (static_cast<int64_t>(t.content[static_cast<size_t>(i)].size()) <= window) continue;
      float* r = out.data() + i * h;
      const float inv = 1.0f / static_cast<float>(window_tokens[static_cast<size_t>(i)]);
      for (int64_t col = 0; col < h; ++col) r[col] *= inv;
      if (model_.normalize) {
        double ss = 0.0;
        for (int64_t col = 0; col < h; ++col) ss += static_cast<double>(r[col]) * r[col];
        const auto sc = static_cast<float>(1.0 / std::max(std::sqrt(ss), 1e-12));
        for (int64_t col = 0; col < h; ++col) r[col] *= sc;
      }
    }
    stats_.add(t.stats);
    if (overlap) {
      if (writing.valid()) writing.get();
      std::swap(out, pending);
      writing = std::async(std::launch::async, [&sink, &pending, t = std::move(t)]() {
        sink.put_chunk(t.chunk, t.first, t.rows, pending.data(), t.stats);
      });
    } else {
      sink.put_chunk(t.chunk, t.first, t.rows, out.data(), t.stats);
    }
    rows_done += std::min(chunk_rows, n - todo[k] * chunk_rows);
    progress.update(rows_done);
  }
  if (writing.valid()) writing.get();
  progress.finish();
  stats_.batch_tokens = budget;
  stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace emb
