// CudaBackend: checks inputs and moves data at the entry points, then calls the
// per-op launchers in cuda/<op>.cu on the backend's stream.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

#include "cuda/check.cuh"
#include "cuda/cuda_backend.hpp"
#include "cuda/device_buffer.cuh"
#include "cuda/normalize_rows.cuh"

namespace emb::cuda {
namespace {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    EMB_CUDA_TRY(cudaSetDevice(device_));
    EMB_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    name_ = "cuda:" + std::to_string(device_) + " (" + device_description(device_) + ")";
  }
  ~CudaBackend() override {
    if (stream_) cudaStreamDestroy(stream_);
  }

  std::string name() const override { return name_; }
  bool is_gpu() const override { return true; }
  bool supports(Op op) const override { return op == Op::NormalizeRows; }

  void normalize_rows(MatrixView x) override {
    if (x.size() == 0) return;
    EMB_CUDA_TRY(cudaSetDevice(device_));
    const size_t bytes = static_cast<size_t>(x.size()) * sizeof(float);
    scratch_.resize(static_cast<size_t>(x.size()));
    EMB_CUDA_TRY(cudaMemcpyAsync(scratch_.data(), x.data, bytes, cudaMemcpyHostToDevice, stream_));
    normalize_rows_async(scratch_.data(), x.rows, x.cols, stream_);
    EMB_CUDA_TRY(cudaMemcpyAsync(x.data, scratch_.data(), bytes, cudaMemcpyDeviceToHost, stream_));
    EMB_CUDA_TRY(cudaStreamSynchronize(stream_));
  }

  void squared_distances(ConstMatrixView, ConstMatrixView, MatrixView) override { unsupported("squared_distances"); }
  void nearest_centroids(ConstMatrixView, ConstMatrixView, int32_t*, float*) override { unsupported("nearest_centroids"); }
  void accumulate_centroids(ConstMatrixView, const int32_t*, const float*, BasicMatrixView<double>, double*) override {
    unsupported("accumulate_centroids");
  }

 private:
  [[noreturn]] static void unsupported(const char* op) {
    // Callers must ask supports() first; reaching this is a bug in a driver.
    std::fprintf(stderr, "embclust: internal error: the CUDA backend has no %s\n", op);
    std::abort();
  }

  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  std::string name_;
  DeviceBuffer<float> scratch_;
};

}  // namespace

int device_count(std::string* why) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    if (why) *why = cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device found";
  return n;
}

std::string device_description(int device) {
  cudaDeviceProp p{};
  EMB_CUDA_TRY(cudaGetDeviceProperties(&p, device));
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s, %d SMs, %.1f GiB, compute %d.%d", p.name, p.multiProcessorCount,
                static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0), p.major, p.minor);
  return buf;
}

std::unique_ptr<Backend> make_cuda_backend(int device) { return std::make_unique<CudaBackend>(device); }

}  // namespace emb::cuda
