#pragma once
// EMB_CUDA_TRY / EMB_CUBLAS_TRY: turn a failed CUDA or cuBLAS call into an
// emb::RuntimeError carrying the statement, file:line, device and error name.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "host/core/error.hpp"

namespace emb::cuda::detail {

[[noreturn]] inline void throw_cuda(cudaError_t err, const char* stmt, const char* file, int line) {
  int dev = -1;
  cudaGetDevice(&dev);
  std::string what = ::emb::detail::concat("CUDA error ", cudaGetErrorName(err), " (", cudaGetErrorString(err),
                                           ") in `", stmt, "` at ", file, ":", line, " on device ", dev);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky: clear it so the caller can retry smaller
    throw ::emb::OutOfMemory(what);
  }
  throw ::emb::RuntimeError(what);
}

[[noreturn]] inline void throw_cublas(cublasStatus_t st, const char* stmt, const char* file, int line) {
  int dev = -1;
  cudaGetDevice(&dev);
  std::string what = ::emb::detail::concat("cuBLAS error ", cublasGetStatusName(st), " in `", stmt, "` at ", file,
                                           ":", line, " on device ", dev);
  if (st == CUBLAS_STATUS_ALLOC_FAILED) throw ::emb::OutOfMemory(what);
  throw ::emb::RuntimeError(what);
}

}  // namespace emb::cuda::detail

#define EMB_CUDA_TRY(call)                                                        \
  do {                                                                            \
    cudaError_t emb_err_ = (call);                                                \
    if (emb_err_ != cudaSuccess) ::emb::cuda::detail::throw_cuda(emb_err_, #call, __FILE__, __LINE__); \
  } while (0)

#define EMB_CUBLAS_TRY(call)                                                      \
  do {                                                                            \
    cublasStatus_t emb_st_ = (call);                                              \
    if (emb_st_ != CUBLAS_STATUS_SUCCESS) ::emb::cuda::detail::throw_cublas(emb_st_, #call, __FILE__, __LINE__); \
  } while (0)

/// @brief Checks the launch that just happened (configuration errors surface here).
#define EMB_CUDA_CHECK_LAUNCH() EMB_CUDA_TRY(cudaGetLastError())
