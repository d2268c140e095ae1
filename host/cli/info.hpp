#pragma once
#include <cstdio>
#include <string>

namespace emb {

/// @brief Prints a summary of an embclust file: attributes, tables, and per clustering
///        the cluster sizes with the sentences nearest each centre.
/// @param examples sentences shown per cluster
void print_info(const std::string& path, int examples, std::FILE* out);

}  // namespace emb
