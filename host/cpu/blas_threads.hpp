#pragma once
// OpenBLAS keeps one global thread count, which it uses outside an active parallel
// region; the CPU backend's ops set it only when it differs, so two backends with
// different counts can be used one after the other. A non-OpenMP OpenBLAS would
// start threads of its own inside our regions, so it gets one.
#include <cblas.h>

namespace emb::cpu {

inline void use_blas_threads(int threads) {
  if (openblas_get_parallel() != OPENBLAS_OPENMP) threads = 1;
  if (openblas_get_num_threads() != threads) openblas_set_num_threads(threads);
}

}  // namespace emb::cpu
