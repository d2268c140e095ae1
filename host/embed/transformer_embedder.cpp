#include "host/embed/transformer_embedder.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>

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
              "'; it has: ", names.empty() ? "none" : names);
    prompt_text_ = it->second;
  }
}

Matrix TransformerEmbedder::embed(const std::vector<std::string>& texts, Backend& backend) {
  const auto n = static_cast<int64_t>(texts.size());
  const int64_t h = model_.spec.hidden;
  stats_ = {};
  stats_.max_seq_length = max_len_;
  stats_.prompt = prompt_text_;
  stats_.long_text = opts_.long_text;

  std::unique_ptr<EncoderOps> ops = backend.make_encoder_ops();
  if (!ops) ops = make_cpu_encoder_ops();
  stats_.device = ops->name();

  // Timed from here: tokenizing counts, uploading the weights does not.
  const auto t0 = std::chrono::steady_clock::now();
  // Tokens of every text (prompt included, special tokens not yet).
  std::vector<std::vector<int32_t>> content(static_cast<size_t>(n));
  const Tokenizer& tok = *model_.tokenizer;
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t i = 0; i < n; ++i) {
    if (prompt_text_.empty()) {
      tok.encode_content(texts[i], content[i]);
    } else {
      tok.encode_content(prompt_text_ + texts[i], content[i]);
    }
  }

  // Sequences: one per text, or one per window of a long text.
  struct Seq {
    int64_t text, begin, end;
  };
  const int64_t window = max_len_ - 2;
  std::vector<Seq> seqs;
  seqs.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const auto len = static_cast<int64_t>(content[i].size());
    if (len <= window) {
      seqs.push_back({i, 0, len});
    } else if (opts_.long_text == "truncate") {
      seqs.push_back({i, 0, window});
      ++stats_.truncated;
    } else {
      for (auto [b, e] : token_windows(len, window)) seqs.push_back({i, b, e});
      ++stats_.chunked;
    }
  }
  // Longest first, ties in text order: batches hold sequences of similar length.
  std::stable_sort(seqs.begin(), seqs.end(),
                   [](const Seq& a, const Seq& b) { return a.end - a.begin > b.end - b.begin; });

  const int64_t fallback = ops->is_gpu() ? kDefaultGpuBatchTokens : kDefaultBatchTokens;
  const int64_t budget = std::max(opts_.batch_tokens > 0 ? opts_.batch_tokens : fallback, max_len_);
  const auto upload0 = std::chrono::steady_clock::now();
  EncoderGraph graph(*ops, model_.spec, *model_.weights, budget);
  const auto upload = std::chrono::steady_clock::now() - upload0;

  Matrix out(n, h);
  std::vector<int64_t> window_tokens(static_cast<size_t>(n), 0);  // texts cut into windows only
  std::vector<float> pooled;
  PackedBatch batch;
  Progress progress("embedding", static_cast<int64_t>(seqs.size()), opts_.progress);
  const int32_t pos0 = static_cast<int32_t>(model_.spec.position_offset());
  size_t next = 0;
  while (next < seqs.size()) {
    batch.ids.clear();
    batch.positions.clear();
    batch.offsets.assign(1, 0);
    const size_t first = next;
    while (next < seqs.size()) {
      const Seq& s = seqs[next];
      const int64_t len = s.end - s.begin + 2;
      if (batch.tokens() + len > budget) break;
      batch.ids.push_back(tok.bos_id);
      batch.ids.insert(batch.ids.end(), content[s.text].begin() + s.begin, content[s.text].begin() + s.end);
      batch.ids.push_back(tok.eos_id);
      for (int64_t p = 0; p < len; ++p) batch.positions.push_back(pos0 + static_cast<int32_t>(p));
      batch.offsets.push_back(static_cast<int32_t>(batch.tokens()));
      ++next;
    }
    pooled.resize(static_cast<size_t>((next - first) * h));
    graph.run(batch, model_.pooling, model_.normalize, pooled.data());
    stats_.tokens += batch.tokens();
    for (size_t j = first; j < next; ++j) {
      const Seq& s = seqs[j];
      const float* src = pooled.data() + (j - first) * h;
      float* dst = out.row(s.text);
      if (static_cast<int64_t>(content[s.text].size()) <= window) {
        std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(h));
      } else {
        // A window of a long (or truncated) text: accumulate, weighted by its tokens.
        const int64_t w = s.end - s.begin;
        for (int64_t c = 0; c < h; ++c) dst[c] += static_cast<float>(w) * src[c];
        window_tokens[s.text] += w;
      }
    }
    progress.update(static_cast<int64_t>(next));
  }
  progress.finish();

  // Finish the weighted averages of windowed texts, normalized as the model says.
  for (int64_t i = 0; i < n; ++i) {
    const auto len = static_cast<int64_t>(content[i].size());
    const bool windowed = len > window;
    if (!windowed) continue;
    float* r = out.row(i);
    const float inv = 1.0f / static_cast<float>(window_tokens[i]);
    for (int64_t c = 0; c < h; ++c) r[c] *= inv;
    if (model_.normalize) {
      double ss = 0.0;
      for (int64_t c = 0; c < h; ++c) ss += static_cast<double>(r[c]) * r[c];
      const auto s = static_cast<float>(1.0 / std::max(std::sqrt(ss), 1e-12));
      for (int64_t c = 0; c < h; ++c) r[c] *= s;
    }
  }
  stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0 - upload).count();
  return out;
}

}  // namespace emb
