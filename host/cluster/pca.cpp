#include "host/cluster/pca.hpp"

#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "host/core/error.hpp"

namespace emb {

io::Reduction pca_fit(Backend& backend, ConstMatrixView x, int64_t m) {
  EMB_USAGE(m >= 1 && m <= x.cols, "PCA to ", m, " dimensions needs 1 <= N <= ", x.cols,
            " (the dimension of the points)");
  EMB_EXPECTS(x.rows >= 2, "PCA needs at least 2 points, got ", x.rows);
  const int64_t d = x.cols;
  std::vector<double> mean(static_cast<size_t>(d)), cov(static_cast<size_t>(d * d));
  backend.covariance(x, mean.data(), {cov.data(), d, d});
  std::vector<double> values(static_cast<size_t>(d)), vectors(static_cast<size_t>(d * d));
  backend.symmetric_eigen({cov.data(), d, d}, values.data(), {vectors.data(), d, d});
  double total = 0.0;
  for (int64_t j = 0; j < d; ++j) total += cov[j * d + j];
  io::Reduction r;
  r.method = "pca";
  r.dim = m;
  r.mean.assign(mean.begin(), mean.end());
  r.components.assign(vectors.begin(), vectors.begin() + m * d);
  for (int64_t c = 0; c < m; ++c) {
    const double v = std::max(0.0, values[c]);  // rounding can leave a tiny negative
    r.explained_variance.push_back(v);
    r.explained_variance_ratio.push_back(total > 0.0 ? v / total : 0.0);
  }
  return r;
}

Matrix reduce(Backend& backend, const io::Reduction& r, ConstMatrixView x) {
  EMB_EXPECTS(x.cols == static_cast<int64_t>(r.mean.size()), "the points have ", x.cols,
              " dimensions but the reduction was fitted on ", r.mean.size());
  Matrix out(x.rows, r.dim);
  if (x.rows > 0)
    backend.project(x, r.mean.data(), {r.components.data(), r.dim, x.cols}, out.view());
  return out;
}

int64_t parse_reduce(const std::string& spec) {
  const std::string prefix = "pca:";
  EMB_USAGE(spec.rfind(prefix, 0) == 0 && spec.size() > prefix.size() &&
                std::all_of(spec.begin() + prefix.size(), spec.end(), [](char c) { return c >= '0' && c <= '9'; }),
            "--reduce must be pca:N with N a positive whole number, got '", spec, "'");
  const int64_t n = std::strtoll(spec.c_str() + prefix.size(), nullptr, 10);
  EMB_USAGE(n >= 1, "--reduce pca:N needs N >= 1, got '", spec, "'");
  return n;
}

}  // namespace emb
