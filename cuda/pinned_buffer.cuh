#pragma once
// Page-locked host staging memory (cudaMallocHost): copies to and from it run at
// full PCIe speed and truly asynchronously, unlike copies from pageable memory.
#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "cuda/check.cuh"

namespace emb::cuda {

template <class T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() { release(); }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  /// @brief Grows to hold at least count elements; contents are not kept.
  void resize(size_t count) {
    if (count <= count_) return;
    release();
    EMB_CUDA_TRY(cudaMallocHost(&ptr_, count * sizeof(T)));
    count_ = count;
  }
  T* data() const { return ptr_; }

 private:
  void release() noexcept {
    if (ptr_) cudaFreeHost(ptr_);
    ptr_ = nullptr;
    count_ = 0;
  }
  T* ptr_ = nullptr;
  size_t count_ = 0;
};

}  // namespace emb::cuda
