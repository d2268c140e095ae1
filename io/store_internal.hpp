#pragma once
// What io/store.cpp (StoreWriter) and io/store_reader.cpp (StoreReader) share; not
// part of the store's interface.
#include <string>

#include "io/h5.hpp"
#include "io/store.hpp"

namespace emb::io::detail {

/// @brief "segments", "/segments/" -> "/segments": drop lists and lookups compare exact strings.
std::string absolute(std::string p);
/// @throws emb::InputError for a name HDF5 paths cannot hold.
void check_clustering_name(const std::string& name);
/// @brief Opens an existing file and checks that it is an embclust file this version reads.
h5::File open_embclust(const std::string& path);
/// @brief /embeddings/vectors and its attributes; `where` names the file in errors.
EmbeddingSet read_embeddings(hid_t f, const std::string& where);

}  // namespace emb::io::detail
