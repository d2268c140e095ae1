// The k-nearest-neighbour graph of HDBSCAN's graph half (mst.hpp): exact lists
// from the k-d tree, from GEMM tiles over all rows, or from the search partition.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>
#include <utility>
#include <vector>

#include "host/cluster/kd_tree.hpp"
#include "host/cluster/mst.hpp"
#include "host/cluster/search_partition.hpp"
#include "host/core/error.hpp"

namespace emb {
namespace {

constexpr float kInfF = std::numeric_limits<float>::infinity();
// Queries per backend call of k_nearest.
constexpr int64_t kKnnBlock = 8192;
// Extra candidates k_nearest returns beyond k, re-ranked by exact distance: the
// GEMM distance can misorder points whose distances differ by its rounding.
constexpr int kKnnMargin = 8;

}  // namespace

KnnGraph knn_graph(Backend& backend, ConstMatrixView x, int k, const KdTree* tree,
                   const std::function<void(int64_t)>& on_rows, PartitionSearch* parts, double* pairs) {
  if (!parts || tree) {
    if (pairs) *pairs = static_cast<double>(x.rows) * static_cast<double>(x.rows);
    return knn_query(backend, x, x, k, tree, on_rows);
  }
  const SearchPartition& sp = parts->partition();
  const int64_t n = x.rows, np = sp.parts();
  EMB_EXPECTS(k >= 1 && k <= n, "k-nearest neighbours: k = ", k, " must be in [1, ", n, "]");
  KnnGraph g;
  g.n = n;
  g.k = k;
  g.idx.resize(static_cast<size_t>(n) * k);
  g.dist2.resize(static_cast<size_t>(n) * k);
  const int kc = static_cast<int>(std::min<int64_t>(n, static_cast<int64_t>(k) + kKnnMargin));
  // Parts by distance between centres: a part's first search covers it and its
  // nearest parts, at least kc rows, for an upper bound on each query's k-th
  // distance; then only the parts whose lower bound is within some query's bound.
  const std::vector<double> cc = sp.centre_distance_bounds(backend);
  double searched = 0.0;
  int64_t done = 0;
  std::vector<int32_t> order(static_cast<size_t>(np)), cand, ci, cb;
  std::vector<float> cd, cdb;
  std::vector<char> take(static_cast<size_t>(np)), first(static_cast<size_t>(np));
  std::vector<double> lb, kth, exact;
  std::vector<float> cap;
  std::vector<int32_t> pair_a, pair_b;
  std::vector<char> pair_ok;
  using Pair = std::pair<double, int32_t>;
  // Lower bounds for the rows of several consecutive parts at once (their members
  // are contiguous): fewer, larger backend calls.
  constexpr int64_t kBoundRows = 16384;
  int64_t lb_first = 0, lb_end = 0;  // parts whose rows' bounds lb holds
  for (int64_t p = 0; p < np; ++p) {
    const int64_t m = sp.size(p);
    const int32_t* q = sp.rows(p);
    const double* ccp = cc.data() + p * np;
    if (p >= lb_end) {
      lb_first = p;
      lb_end = p + 1;
      while (lb_end < np && sp.start[lb_end + 1] - sp.start[p] <= kBoundRows) ++lb_end;
      parts->lower_bounds(backend, sp.rows(p), sp.start[lb_end] - sp.start[p], lb);
    }
    const double* lbp = lb.data() + (sp.start[p] - sp.start[lb_first]) * np;
    // 1. The part and its nearest parts.
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return std::tie(ccp[a], a) < std::tie(ccp[b], b); });
    std::fill(first.begin(), first.end(), 0);
    first[p] = 1;
    int64_t have = m;
    for (int64_t t = 0; t < np && have < kc; ++t)
      if (!first[order[t]]) {
        first[order[t]] = 1;
        have += sp.size(order[t]);
      }
    parts->union_rows(first, cand);
    ci.resize(static_cast<size_t>(m * kc));
    cd.resize(ci.size());
    backend.k_nearest_among(x, q, m, cand.data(), static_cast<int64_t>(cand.size()), kc, ci.data(), cd.data(),
                            nullptr);
    searched += static_cast<double>(m) * static_cast<double>(cand.size());
    // 2. The parts that may hold a row within some query's bound: the k-th float
    //    distance loosened by its rounding is at least the exact k-th distance.
    kth.resize(static_cast<size_t>(m));
    cap.resize(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) {
      const double f = cd[i * kc + k - 1], norms = parts->norm2(q[i]) + parts->max_norm2();
      kth[i] = f + gemm_distance_slack(x.cols, norms, f);
      // A row within kth[i] has a float distance below this: the second search
      // need not select anything farther.
      cap[i] = std::nextafter(static_cast<float>(kth[i] + 2.0 * gemm_distance_slack(x.cols, norms, kth[i])), kInfF);
    }
    bool any = false;
#pragma omp parallel for schedule(static) reduction(|| : any)
    for (int64_t c = 0; c < np; ++c) {
      take[c] = 0;
      if (first[c]) continue;
      for (int64_t i = 0; i < m && !take[c]; ++i) take[c] = lbp[i * np + c] <= kth[i];
      any = any || take[c];
    }
    int kb = 0;
    if (any) {
      parts->union_rows(take, cand);
      kb = static_cast<int>(std::min<int64_t>(kc, static_cast<int64_t>(cand.size())));
      cb.resize(static_cast<size_t>(m * kb));
      cdb.resize(cb.size());
      backend.k_nearest_among(x, q, m, cand.data(), static_cast<int64_t>(cand.size()), kb, cb.data(), cdb.data(),
                              cap.data());
      searched += static_cast<double>(m) * static_cast<double>(cand.size());
    }
    // 3. Both searches' lists merged by float distance; the first kc re-ranked by
    //    exact distance (the float order can only misplace near-ties), k kept.
    pair_a.resize(static_cast<size_t>(m * kc));
    pair_b.resize(pair_a.size());
    pair_ok.resize(pair_a.size());
    exact.resize(pair_a.size());
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < m; ++i) {
      int ta = 0, tb = 0, got = 0;
      for (; got < kc; ++got) {
        const int32_t ja = ta < kc ? ci[i * kc + ta] : -1, jb = tb < kb ? cb[i * kb + tb] : -1;
        if (ja < 0 && jb < 0) break;
        const bool from_b = jb >= 0 && (ja < 0 || cdb[i * kb + tb] < cd[i * kc + ta] ||
                                        (cdb[i * kb + tb] == cd[i * kc + ta] && jb < ja));
        pair_b[i * kc + got] = from_b ? jb : ja;
        (from_b ? tb : ta)++;
      }
      for (int t = 0; t < kc; ++t) pair_a[i * kc + t] = q[i];
      for (; got < kc; ++got) pair_b[i * kc + got] = -1;
    }
    // Unfilled slots (fewer candidates than kc) are measured as the row to itself
    // and dropped below.
    for (int64_t t = 0; t < m * kc; ++t) pair_ok[t] = pair_b[t] >= 0 ? 1 : 0;
    for (int64_t t = 0; t < m * kc; ++t)
      if (!pair_ok[t]) pair_b[t] = pair_a[t];
    backend.pair_distances(x, pair_a.data(), pair_b.data(), m * kc, exact.data());
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < m; ++i) {
      Pair r[64];
      std::vector<Pair> big(kc <= 64 ? 0 : static_cast<size_t>(kc));
      Pair* e = kc <= 64 ? r : big.data();
      int got = 0;
      for (int t = 0; t < kc; ++t)
        if (pair_ok[i * kc + t]) e[got++] = {exact[i * kc + t], pair_b[i * kc + t]};
      std::sort(e, e + got);
      for (int t = 0; t < k; ++t) {
        g.idx[q[i] * static_cast<int64_t>(k) + t] = e[t].second;
        g.dist2[q[i] * static_cast<int64_t>(k) + t] = e[t].first;
      }
    }
    done += m;
    if (on_rows) on_rows(done);
  }
  if (pairs) *pairs = searched;
  return g;
}

KnnGraph knn_query(Backend& backend, ConstMatrixView q, ConstMatrixView x, int k, const KdTree* tree,
                   const std::function<void(int64_t)>& on_rows) {
  const int64_t n = x.rows;
  EMB_EXPECTS(q.cols == x.cols, "k-nearest neighbours: queries have ", q.cols, " columns, the points ", x.cols);
  EMB_EXPECTS(k >= 1 && k <= n, "k-nearest neighbours: k = ", k, " must be in [1, ", n, "]");
  KnnGraph g;
  g.n = q.rows;
  g.k = k;
  g.idx.resize(static_cast<size_t>(q.rows) * k);
  g.dist2.resize(static_cast<size_t>(q.rows) * k);
  const int kc = static_cast<int>(std::min<int64_t>(n, static_cast<int64_t>(k) + (tree ? 0 : kKnnMargin)));
  std::vector<int32_t> cidx(static_cast<size_t>(std::min(q.rows, kKnnBlock)) * kc), pair_a;
  std::vector<float> cd2(cidx.size());
  std::vector<double> exact;
  for (int64_t b0 = 0; b0 < q.rows; b0 += kKnnBlock) {
    const int64_t nb = std::min(kKnnBlock, q.rows - b0);
    if (tree) {
#pragma omp parallel for schedule(dynamic, 64)
      for (int64_t i = 0; i < nb; ++i) tree->knn(q.row(b0 + i), kc, &cidx[i * kc], &cd2[i * kc]);
    } else {
      backend.k_nearest(q.block(b0, nb), x, kc, cidx.data(), cd2.data());
    }
    // Exact distances (the backend's, when the queries are rows of x), then
    // (distance, index) order; keep k.
    const bool same = q.data == x.data && q.rows == x.rows;
    if (same && !tree) {
      pair_a.resize(static_cast<size_t>(nb * kc));
      exact.resize(pair_a.size());
      for (int64_t i = 0; i < nb; ++i) std::fill_n(pair_a.data() + i * kc, kc, static_cast<int32_t>(b0 + i));
      backend.pair_distances(x, pair_a.data(), cidx.data(), nb * kc, exact.data());
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < nb; ++i) {
      std::vector<std::pair<double, int32_t>> c(static_cast<size_t>(kc));
      for (int t = 0; t < kc; ++t) {
        const int32_t j = cidx[i * kc + t];
        c[t] = {same && !tree ? exact[i * kc + t] : exact_dist2(q.row(b0 + i), x.row(j), x.cols), j};
      }
      std::sort(c.begin(), c.end());
      for (int t = 0; t < k; ++t) {
        g.idx[(b0 + i) * k + t] = c[t].second;
        g.dist2[(b0 + i) * k + t] = c[t].first;
      }
    }
    if (on_rows) on_rows(b0 + nb);
  }
  return g;
}

}  // namespace emb
