#pragma once
// PCA before clustering (--reduce pca:N), written against the Backend: the
// covariance as a GEMM, a symmetric eigen-decomposition, a projection GEMM.
#include <cstdint>
#include <string>

#include "host/backend/backend.hpp"
#include "host/core/matrix.hpp"
#include "io/store.hpp"

namespace emb {

/// @brief The top m principal axes of the rows of x: mean, unit components in
///        decreasing order of variance (each with its largest entry positive),
///        their variances and their share of the total variance.
/// @throws emb::UsageError unless 1 <= m <= x.cols; emb::InputError for fewer than 2 rows.
io::Reduction pca_fit(Backend& backend, ConstMatrixView x, int64_t m);

/// @brief (x - mean) . components^T: x.rows x r.dim.
/// @throws emb::InputError when x's columns differ from the fit's.
Matrix reduce(Backend& backend, const io::Reduction& r, ConstMatrixView x);

/// @brief Parses "pca:N" into N. @throws emb::UsageError for anything else.
int64_t parse_reduce(const std::string& spec);

}  // namespace emb
