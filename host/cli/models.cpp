#include "host/cli/models.hpp"

#include <string>

#include "host/embed/transformer_embedder.hpp"
#include "io/model_files.hpp"

namespace emb {

void print_models(std::FILE* out) {
  const std::string dir = io::models_dir();
  const auto models = io::list_models(dir);
  std::fprintf(out, "models folder: %s%s\n", dir.c_str(),
               models.empty() ? " (no models; install one with scripts/fetch_model.sh NAME)" : "");
  if (!models.empty()) {
    std::fprintf(out, "%-34s %-16s %5s %7s %6s %7s %-6s %9s %s\n", "name", "architecture", "dim", "vocab", "layers",
                 "max_seq", "pool", "size MiB", "dtype");
  }
  for (const auto& m : models) {
    if (!m.error.empty()) {
      std::fprintf(out, "%-34s cannot be used: %s\n", m.name.c_str(), m.error.c_str());
      continue;
    }
    std::fprintf(out, "%-34s %-16s %5lld %7lld %6lld %7lld %-6s %9.1f %s\n", m.name.c_str(), m.architecture.c_str(),
                 (long long)m.dim, (long long)m.vocab, (long long)m.layers, (long long)m.max_seq_length,
                 m.pooling.c_str(), m.size_mib, m.dtype.c_str());
  }
  std::string archs;
  for (const auto& a : random_architectures()) archs += (archs.empty() ? "" : ", ") + a;
  std::fprintf(out, "random weights (tests, benchmarks): --model random:ARCH with ARCH one of %s\n", archs.c_str());
}

}  // namespace emb
