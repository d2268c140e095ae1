// export_encoder_model: an EncoderModel written back out as a model folder, so that
// sentence-transformers can load exactly the weights embclust runs (random:<arch>
// weights for benchmarks, above all).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "host/core/error.hpp"
#include "host/embed/transformer_embedder.hpp"
#include "io/safetensors_writer.hpp"

namespace emb {
namespace {

void write_json(const std::filesystem::path& p, const nlohmann::json& j) {
  std::ofstream out(p);
  out << j.dump(2) << "\n";
  if (!out) throw RuntimeError("cannot write " + p.string());
}

const char* act_name(Activation a) {
  switch (a) {
    case Activation::GeluTanh: return "gelu_new";
    case Activation::Relu: return "relu";
    default: return "gelu";
  }
}

}  // namespace

void export_encoder_model(const EncoderModel& m, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  EMB_USAGE(!fs::exists(dir, ec), "cannot export ", m.name, " to ", dir, ": it already exists");
  const fs::path tmp = dir + ".tmp-export";
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp / "1_Pooling", ec);
  if (ec) throw RuntimeError("cannot create " + tmp.string() + ": " + ec.message());
  try {
    const EncoderSpec& s = m.spec;
    const bool xlmr = s.arch == "xlm-roberta";
    // Weights: read every tensor once, then write them together.
    const auto names = encoder_tensors(s);
    std::vector<std::vector<float>> data;
    std::vector<io::TensorToWrite> tensors;
    data.reserve(names.size());
    for (const auto& [name, shape] : names) {
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      data.emplace_back(static_cast<size_t>(n));
      m.weights->read(name, shape, data.back().data());
      tensors.push_back({name, shape, data.back().data()});
    }
    io::write_safetensors((tmp / "model.safetensors").string(), tensors);
    write_json(tmp / "config.json",
               {{"architectures", {xlmr ? "XLMRobertaModel" : "BertModel"}},
                {"model_type", xlmr ? "xlm-roberta" : "bert"},
                {"vocab_size", s.vocab},
                {"hidden_size", s.hidden},
                {"num_hidden_layers", s.layers},
                {"num_attention_heads", s.heads},
                {"intermediate_size", s.intermediate},
                {"max_position_embeddings", s.max_positions},
                {"type_vocab_size", s.type_vocab},
                {"pad_token_id", s.pad_id},
                {"layer_norm_eps", s.eps},
                {"hidden_act", act_name(s.act)},
                {"position_embedding_type", "absolute"},
                {"hidden_dropout_prob", 0.0},
                {"attention_probs_dropout_prob", 0.0}});
    fs::copy_file(m.tokenizer_json, tmp / "tokenizer.json", ec);
    if (ec) throw RuntimeError("cannot copy " + m.tokenizer_json + ": " + ec.message());
    nlohmann::json modules = nlohmann::json::array(
        {{{"idx", 0}, {"name", "0"}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
         {{"idx", 1}, {"name", "1"}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}}});
    if (m.normalize)
      modules.push_back({{"idx", 2}, {"name", "2"}, {"path", "2_Normalize"},
                         {"type", "sentence_transformers.models.Normalize"}});
    write_json(tmp / "modules.json", modules);
    write_json(tmp / "1_Pooling" / "config.json",
               {{"word_embedding_dimension", s.hidden},
                {"pooling_mode_cls_token", m.pooling == Pooling::Cls},
                {"pooling_mode_mean_tokens", m.pooling == Pooling::Mean},
                {"pooling_mode_max_tokens", m.pooling == Pooling::Max},
                {"pooling_mode_mean_sqrt_len_tokens", false}});
    write_json(tmp / "sentence_bert_config.json", {{"max_seq_length", m.max_seq_length}, {"do_lower_case", false}});
    nlohmann::json prompts = nlohmann::json::object();
    for (const auto& [k, v] : m.prompts) prompts[k] = v;
    write_json(tmp / "config_sentence_transformers.json",
               {{"prompts", prompts},
                {"default_prompt_name", m.default_prompt.empty() ? nlohmann::json(nullptr)
                                                                 : nlohmann::json(m.default_prompt)}});
    fs::rename(tmp, dir, ec);
    if (ec) throw RuntimeError("cannot move " + tmp.string() + " to " + dir + ": " + ec.message());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace emb
