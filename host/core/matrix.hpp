#pragma once
// Row-major float matrices in host memory: an owning Matrix and non-owning views.
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace emb {

/// @brief Non-owning view of a row-major rows x cols float matrix.
template <class T>
struct BasicMatrixView {
  T* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;

  T* row(int64_t r) const { return data + r * cols; }
  int64_t size() const { return rows * cols; }
  /// @brief Rows [begin, begin+count) as a view.
  BasicMatrixView block(int64_t begin, int64_t count) const { return {row(begin), count, cols}; }
  // A mutable view converts to a read-only one (not offered when T is already const).
  template <class U = T, class = std::enable_if_t<!std::is_const_v<U>>>
  operator BasicMatrixView<const U>() const {
    return {data, rows, cols};
  }
};
using MatrixView = BasicMatrixView<float>;
using ConstMatrixView = BasicMatrixView<const float>;

/// @brief Owning row-major float matrix.
class Matrix {
 public:
  Matrix() = default;
  Matrix(int64_t rows, int64_t cols, float fill = 0.0f)
      : rows_(rows), cols_(cols), data_(static_cast<size_t>(rows * cols), fill) {}

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  float* row(int64_t r) { return data_.data() + r * cols_; }
  const float* row(int64_t r) const { return data_.data() + r * cols_; }
  std::vector<float>& storage() { return data_; }
  const std::vector<float>& storage() const { return data_; }

  MatrixView view() { return {data_.data(), rows_, cols_}; }
  ConstMatrixView view() const { return {data_.data(), rows_, cols_}; }

  /// @brief Takes ownership of a row-major buffer of rows*cols values.
  static Matrix from(std::vector<float> values, int64_t rows, int64_t cols) {
    assert(static_cast<int64_t>(values.size()) == rows * cols);
    Matrix m;
    m.rows_ = rows;
    m.cols_ = cols;
    m.data_ = std::move(values);
    return m;
  }

 private:
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  std::vector<float> data_;
};

}  // namespace emb
