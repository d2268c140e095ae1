#pragma once
// Owning device allocation (cudaMalloc / cudaFree), movable, never copied.
#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "cuda/check.cuh"

namespace emb::cuda {

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t count) { resize(count); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), count_(std::exchange(o.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      ptr_ = std::exchange(o.ptr_, nullptr);
      count_ = std::exchange(o.count_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  /// @brief Grows to hold at least count elements; contents are not kept.
  void resize(size_t count) {
    if (count <= count_) return;
    release();
    EMB_CUDA_TRY(cudaMalloc(&ptr_, count * sizeof(T)));
    count_ = count;
  }
  T* data() const { return ptr_; }
  size_t size() const { return count_; }

 private:
  void release() noexcept {
    if (ptr_) cudaFree(ptr_);
    ptr_ = nullptr;
    count_ = 0;
  }
  T* ptr_ = nullptr;
  size_t count_ = 0;
};

}  // namespace emb::cuda
