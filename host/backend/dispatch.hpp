#pragma once
// DispatchBackend: a primary backend (the GPU) with the CPU behind it; each op
// goes to the primary when it supports() the op, else to the CPU reference.
#include <memory>

#include "host/backend/backend.hpp"

namespace emb {

class DispatchBackend final : public Backend {
 public:
  DispatchBackend(std::unique_ptr<Backend> primary, std::unique_ptr<Backend> cpu)
      : primary_(std::move(primary)), cpu_(std::move(cpu)) {}

  std::string name() const override { return primary_->name(); }
  bool is_gpu() const override { return primary_->is_gpu(); }
  bool supports(Op) const override { return true; }

  void hold(ConstMatrixView x) override { primary_->hold(x); }
  void release(ConstMatrixView x) override { primary_->release(x); }
  void normalize_rows(MatrixView x) override { pick(Op::NormalizeRows).normalize_rows(x); }
  void squared_distances(ConstMatrixView x, ConstMatrixView c, MatrixView out) override {
    pick(Op::SquaredDistances).squared_distances(x, c, out);
  }
  void nearest_centroids(ConstMatrixView x, ConstMatrixView c, int32_t* labels, float* dist2) override {
    pick(Op::NearestCentroids).nearest_centroids(x, c, labels, dist2);
  }
  void nearest_centroid_groups(ConstMatrixView x, const int32_t* rows, int64_t n_rows, ConstMatrixView c,
                               const int32_t* group_start, int n_groups, int32_t* labels, float* dist2,
                               float* group_min2) override {
    pick(Op::NearestCentroids)
        .nearest_centroid_groups(x, rows, n_rows, c, group_start, n_groups, labels, dist2, group_min2);
  }
  void accumulate_centroids(ConstMatrixView x, const int32_t* labels, const float* weights,
                            BasicMatrixView<double> sums, double* counts) override {
    pick(Op::AccumulateCentroids).accumulate_centroids(x, labels, weights, sums, counts);
  }
  void accumulate_centroids_with_distances(ConstMatrixView x, const int32_t* labels, const float* weights,
                                           ConstMatrixView c, BasicMatrixView<double> sums, double* counts,
                                           double* own2) override {
    pick(Op::AccumulateCentroids).accumulate_centroids_with_distances(x, labels, weights, c, sums, counts, own2);
  }

  void k_nearest(ConstMatrixView q, ConstMatrixView x, int k, int32_t* idx, float* dist2) override {
    pick(Op::KNearest).k_nearest(q, x, k, idx, dist2);
  }
  void k_nearest_among(ConstMatrixView x, const int32_t* q_rows, int64_t n_q, const int32_t* cand, int64_t n_cand,
                       int k, int32_t* idx, float* dist2, const float* bound) override {
    pick(Op::KNearest).k_nearest_among(x, q_rows, n_q, cand, n_cand, k, idx, dist2, bound);
  }
  void k_nearest_within(ConstMatrixView x, const int32_t* rows, int64_t n, int k, int32_t* idx, float* dist2,
                        const float* bound) override {
    pick(Op::KNearest).k_nearest_within(x, rows, n, k, idx, dist2, bound);
  }
  void nearest_other_component(ConstMatrixView x, const int32_t* rows, int64_t n_rows, const float* core2,
                               const int32_t* component, const int32_t* cand, int64_t n_cand, int32_t* nearest,
                               float* weight2) override {
    pick(Op::NearestOtherComponent)
        .nearest_other_component(x, rows, n_rows, core2, component, cand, n_cand, nearest, weight2);
  }
  void pair_distances(ConstMatrixView x, const int32_t* a, const int32_t* b, int64_t n, double* out) override {
    pick(Op::KNearest).pair_distances(x, a, b, n, out);
  }
  double fast_distances(bool on) override { return pick(Op::NearestOtherComponent).fast_distances(on); }
  void covariance(ConstMatrixView x, double* mean, BasicMatrixView<double> cov) override {
    pick(Op::Covariance).covariance(x, mean, cov);
  }
  void symmetric_eigen(BasicMatrixView<const double> a, double* values, BasicMatrixView<double> vectors) override {
    pick(Op::SymmetricEigen).symmetric_eigen(a, values, vectors);
  }
  void project(ConstMatrixView x, const float* mean, ConstMatrixView components, MatrixView out) override {
    pick(Op::Project).project(x, mean, components, out);
  }

  std::unique_ptr<EncoderOps> make_encoder_ops() override {
    auto ops = primary_->make_encoder_ops();
    return ops ? std::move(ops) : cpu_->make_encoder_ops();
  }

  /// @brief The backend that runs op.
  Backend& pick(Op op) { return primary_->supports(op) ? *primary_ : *cpu_; }

 private:
  std::unique_ptr<Backend> primary_;
  std::unique_ptr<Backend> cpu_;
};

}  // namespace emb
