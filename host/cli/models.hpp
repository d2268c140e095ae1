#pragma once
#include <cstdio>

namespace emb {

/// @brief Prints the models installed in the models folder (io::models_dir()): name,
///        architecture, dimension, vocabulary, layers, max_seq_length, pooling and
///        size; folders that cannot be loaded are listed with the reason, and the
///        random:ARCH shapes after them.
void print_models(std::FILE* out);

}  // namespace emb
