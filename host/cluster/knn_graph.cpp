// The k-nearest-neighbour graph of HDBSCAN's graph half (mst.hpp): exact lists
// from the k-d tree, from GEMM tiles over all rows, or from the search partition.
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <iterator>
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
// Most query rows one search of a group of parts takes, and how much more that
// search may cost (query rows x candidate rows) than its parts' own searches:
// one larger search reads and packs each candidate once for many queries.
constexpr int64_t kGroupRows = 8192;
constexpr double kGroupSlack = 1.25;
static_assert(kGroupRows <= kKnnBlock, "a graph of at most kGroupRows rows is one block of knn_query");
// Most floats of one distance matrix of a part's first search.
constexpr int64_t kFirstFloats = int64_t{1} << 22;

// The k-th smallest of v[0..w), which are non-negative (not NaN), 1 <= k <= w.
// Such floats order as their bit patterns: a binary search over the bits for the
// least t in [min, max] with at least k values <= t, each step one vectorized
// count. Faster than a selection on a few hundred values, whose branches mispredict.
float kth_smallest(const float* v, int64_t w, int k) {
  float low = v[0], high = v[0];
#pragma omp simd reduction(min : low) reduction(max : high)
  for (int64_t j = 0; j < w; ++j) {
    low = std::min(low, v[j]);
    high = std::max(high, v[j]);
  }
  // Without the sign bit: a -0 orders as 0.
  uint32_t lo = std::bit_cast<uint32_t>(low) & 0x7fffffffu, hi = std::bit_cast<uint32_t>(high) & 0x7fffffffu;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    const float t = std::bit_cast<float>(mid);
    int c = 0;
#pragma omp simd reduction(+ : c)
    for (int64_t j = 0; j < w; ++j) c += v[j] <= t ? 1 : 0;
    if (c >= k)
      hi = mid;
    else
      lo = mid + 1;
  }
  return std::bit_cast<float>(lo);
}

}  // namespace

KnnGraph knn_graph(Backend& backend, ConstMatrixView x, int k, const KdTree* tree,
                   const std::function<void(int64_t)>& on_rows, PartitionSearch* parts, double* pairs) {
  if (!parts || tree) {
    const double n = static_cast<double>(x.rows);
    if (pairs) *pairs = !tree && x.rows <= kGroupRows ? n * (n + 1) / 2 : n * n;
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
  const std::vector<double> cc = sp.centre_distance_bounds(backend);
  double searched = 0.0;

  // 1. Per part: its own and nearest parts (at least kc rows) bound each query's
  //    k-th distance; the parts some query's bound reaches are what the part needs.
  std::vector<float> cap(static_cast<size_t>(n));
  std::vector<std::vector<int32_t>> need(static_cast<size_t>(np));
  std::vector<int64_t> need_rows(static_cast<size_t>(np), 0);
  {
    std::vector<int32_t> order(static_cast<size_t>(np)), cand, fi;
    std::vector<float> qbuf, cbuf, dmat, kf, fd;
    std::vector<char> take(static_cast<size_t>(np)), first(static_cast<size_t>(np));
    std::vector<double> lb, kth;
    // Lower bounds for the rows of several consecutive parts at once (their
    // members are contiguous): fewer, larger backend calls.
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
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(),
                [&](int32_t a, int32_t b) { return std::tie(ccp[a], a) < std::tie(ccp[b], b); });
      std::fill(first.begin(), first.end(), 0);
      first[p] = 1;
      int64_t have = m;
      for (int64_t t = 0; t < np && have < kc; ++t)
        if (!first[order[t]]) {
          first[order[t]] = 1;
          have += sp.size(order[t]);
        }
      // Only the k-th distance is needed. On the CPU: distance matrices of a
      // bounded size, a selection per row. On a GPU the lists are selected on the
      // device from its held copy, and only they come back.
      parts->union_rows(first, cand);
      const int64_t w = static_cast<int64_t>(cand.size()), d = x.cols;
      kf.resize(static_cast<size_t>(m));
      if (backend.is_gpu()) {
        fi.resize(static_cast<size_t>(m * k));
        fd.resize(fi.size());
        backend.k_nearest_among(x, q, m, cand.data(), w, k, fi.data(), fd.data(), nullptr);
        for (int64_t i = 0; i < m; ++i) kf[i] = fd[i * k + k - 1];
      } else {
        const int64_t chunk = std::clamp<int64_t>(kFirstFloats / w, 1, m);
        cbuf.resize(static_cast<size_t>(w * d));
        qbuf.resize(static_cast<size_t>(chunk * d));
        dmat.resize(static_cast<size_t>(chunk * w));
#pragma omp parallel for schedule(static)
        for (int64_t j = 0; j < w; ++j) std::copy_n(x.row(cand[j]), d, cbuf.data() + j * d);
        for (int64_t i0 = 0; i0 < m; i0 += chunk) {
          const int64_t mc = std::min(chunk, m - i0);
          for (int64_t i = 0; i < mc; ++i) std::copy_n(x.row(q[i0 + i]), d, qbuf.data() + i * d);
          backend.squared_distances({qbuf.data(), mc, d}, {cbuf.data(), w, d}, {dmat.data(), mc, w});
#pragma omp parallel for schedule(static)
          for (int64_t i = 0; i < mc; ++i) kf[i0 + i] = kth_smallest(dmat.data() + i * w, w, k);
        }
      }
      searched += static_cast<double>(m) * static_cast<double>(w);
      // The k-th float distance loosened by its rounding is at least the exact
      // k-th distance; a row within it has a float distance below cap.
      kth.resize(static_cast<size_t>(m));
      for (int64_t i = 0; i < m; ++i) {
        const double f = kf[i], norms = parts->norm2(q[i]) + parts->max_norm2();
        kth[i] = f + gemm_distance_slack(x.cols, norms, f);
        cap[q[i]] =
            std::nextafter(static_cast<float>(kth[i] + 2.0 * gemm_distance_slack(x.cols, norms, kth[i])), kInfF);
      }
      // Row by row (the bounds are stored so), each part taken once a row reaches it.
      std::copy(first.begin(), first.end(), take.begin());
      for (int64_t i = 0; i < m; ++i) {
        const double* b = lbp + i * np;
        const double t = kth[i];
        for (int64_t c = 0; c < np; ++c) take[c] |= static_cast<char>(b[c] <= t);
      }
      for (int64_t c = 0; c < np; ++c)
        if (take[c]) {
          need[p].push_back(static_cast<int32_t>(c));
          need_rows[p] += sp.size(c);
        }
    }
  }

  // 2. Parts searched together: from the lowest part not yet placed, the parts
  //    it needs, nearest first, while the group's one search (its rows against
  //    the union of what they need) costs little more than their own searches.
  std::vector<std::vector<int32_t>> groups;
  {
    std::vector<char> placed(static_cast<size_t>(np), 0), in_union(static_cast<size_t>(np), 0);
    std::vector<int32_t> order;
    for (int64_t s = 0; s < np; ++s) {
      if (placed[s]) continue;
      std::vector<int32_t> grp{static_cast<int32_t>(s)};
      placed[s] = 1;
      for (int32_t c : need[s]) in_union[c] = 1;
      double rows = static_cast<double>(sp.size(s)), cand = static_cast<double>(need_rows[s]);
      double alone = rows * cand;
      const double* ccs = cc.data() + s * np;
      order.clear();
      for (int32_t c : need[s])
        if (!placed[c]) order.push_back(c);
      std::sort(order.begin(), order.end(),
                [&](int32_t a, int32_t b) { return std::tie(ccs[a], a) < std::tie(ccs[b], b); });
      for (int32_t c : order) {
        if (rows + static_cast<double>(sp.size(c)) > static_cast<double>(kGroupRows)) break;
        double extra = 0.0;
        for (int32_t e : need[c])
          if (!in_union[e]) extra += static_cast<double>(sp.size(e));
        const double r2 = rows + static_cast<double>(sp.size(c)), a2 = alone + static_cast<double>(sp.size(c)) *
                                                                                    static_cast<double>(need_rows[c]);
        if (r2 * (cand + extra) > kGroupSlack * a2) continue;
        grp.push_back(c);
        placed[c] = 1;
        for (int32_t e : need[c]) in_union[e] = 1;
        rows = r2;
        cand += extra;
        alone = a2;
      }
      for (int32_t c : grp)
        for (int32_t e : need[c]) in_union[e] = 0;
      groups.push_back(std::move(grp));
    }
  }

  // 3. Per group: one search of its rows against the union of the parts they
  //    need, each query's list capped at its bound (at least its k nearest are
  //    below it); the first kc by float distance re-ranked by exact distance.
  //    The group's own rows are among the candidates (a part needs itself):
  //    their pairs are computed once for both rows (k_nearest_within), the other
  //    candidates searched by k_nearest_among, and the two lists merged.
  std::vector<int32_t> q, cand, other, ci, wi, oi, pair_a, pair_b, redo, ri;
  std::vector<float> cd, wd, od, rd;
  std::vector<float> qcap;
  std::vector<char> take(static_cast<size_t>(np));
  std::vector<double> exact;
  int64_t done = 0;
  using Pair = std::pair<double, int32_t>;
  for (const std::vector<int32_t>& grp : groups) {
    q.clear();
    std::fill(take.begin(), take.end(), 0);
    for (int32_t p : grp) {
      q.insert(q.end(), sp.rows(p), sp.rows(p) + sp.size(p));
      for (int32_t c : need[p]) take[c] = 1;
    }
    std::sort(q.begin(), q.end());
    const int64_t m = static_cast<int64_t>(q.size());
    parts->union_rows(take, cand);
    other.clear();
    std::set_difference(cand.begin(), cand.end(), q.begin(), q.end(), std::back_inserter(other));
    const int64_t n_other = static_cast<int64_t>(other.size());
    const int kb = static_cast<int>(std::min<int64_t>(kc, static_cast<int64_t>(cand.size())));
    qcap.resize(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) qcap[i] = cap[q[i]];
    ci.resize(static_cast<size_t>(m * kb));
    cd.resize(ci.size());
    if (m > kGroupRows) {
      // One part larger than a group (many equal points): searched as a whole,
      // as k_nearest_within would keep lists for all its rows per thread.
      backend.k_nearest_among(x, q.data(), m, cand.data(), static_cast<int64_t>(cand.size()), kb, ci.data(),
                              cd.data(), qcap.data());
      searched += static_cast<double>(m) * static_cast<double>(cand.size());
    } else {
      const int ka = static_cast<int>(std::min<int64_t>(kb, m)), ko = static_cast<int>(std::min<int64_t>(kb, n_other));
      wi.resize(static_cast<size_t>(m * ka));
      wd.resize(wi.size());
      backend.k_nearest_within(x, q.data(), m, ka, wi.data(), wd.data(), qcap.data());
      oi.resize(static_cast<size_t>(m * ko));
      od.resize(oi.size());
      if (ko > 0)
        backend.k_nearest_among(x, q.data(), m, other.data(), n_other, ko, oi.data(), od.data(), qcap.data());
      searched += static_cast<double>(m) * static_cast<double>(m + 1) / 2.0 +
                  static_cast<double>(m) * static_cast<double>(n_other);
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < m; ++i) {
        int ta = 0, tb = 0;
        for (int got = 0; got < kb; ++got) {
          const int32_t ja = ta < ka ? wi[i * ka + ta] : -1, jb = tb < ko ? oi[i * ko + tb] : -1;
          const float da = ja >= 0 ? wd[i * ka + ta] : kInfF, db = jb >= 0 ? od[i * ko + tb] : kInfF;
          const bool from_b = jb >= 0 && (ja < 0 || db < da || (db == da && jb < ja));
          ci[i * kb + got] = from_b ? jb : ja;
          cd[i * kb + got] = from_b ? db : da;
          if (ja >= 0 || jb >= 0) (from_b ? tb : ta)++;
        }
      }
    }
    // The cap holds the k nearest; should rounding ever say otherwise, the
    // query is searched again without it.
    redo.clear();
    for (int64_t i = 0; i < m; ++i)
      if (ci[i * kb + k - 1] < 0) redo.push_back(static_cast<int32_t>(i));
    if (!redo.empty()) {
      std::vector<int32_t> rows(redo.size());
      for (size_t t = 0; t < redo.size(); ++t) rows[t] = q[redo[t]];
      ri.resize(redo.size() * kb);
      rd.resize(ri.size());
      backend.k_nearest_among(x, rows.data(), static_cast<int64_t>(rows.size()), cand.data(),
                              static_cast<int64_t>(cand.size()), kb, ri.data(), rd.data(), nullptr);
      for (size_t t = 0; t < redo.size(); ++t) std::copy_n(ri.data() + t * kb, kb, ci.data() + redo[t] * kb);
    }
    // Unfilled slots are measured as the row to itself and dropped below.
    pair_a.resize(static_cast<size_t>(m * kb));
    pair_b.resize(pair_a.size());
    exact.resize(pair_a.size());
    for (int64_t i = 0; i < m; ++i)
      for (int t = 0; t < kb; ++t) {
        pair_a[i * kb + t] = q[i];
        pair_b[i * kb + t] = ci[i * kb + t] >= 0 ? ci[i * kb + t] : q[i];
      }
    backend.pair_distances(x, pair_a.data(), pair_b.data(), m * kb, exact.data());
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < m; ++i) {
      Pair r[64];
      std::vector<Pair> big(kb <= 64 ? 0 : static_cast<size_t>(kb));
      Pair* e = kb <= 64 ? r : big.data();
      int got = 0;
      for (int t = 0; t < kb; ++t)
        if (ci[i * kb + t] >= 0) e[got++] = {exact[i * kb + t], ci[i * kb + t]};
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
  const bool same = q.data == x.data && q.rows == x.rows;
  for (int64_t b0 = 0; b0 < q.rows; b0 += kKnnBlock) {
    const int64_t nb = std::min(kKnnBlock, q.rows - b0);
    if (tree) {
#pragma omp parallel for schedule(dynamic, 64)
      for (int64_t i = 0; i < nb; ++i) tree->knn(q.row(b0 + i), kc, &cidx[i * kc], &cd2[i * kc]);
    } else if (same && n <= kGroupRows) {
      // The graph of a few rows: each pair computed once for both of its rows.
      std::vector<int32_t> all(static_cast<size_t>(n));
      std::iota(all.begin(), all.end(), 0);
      backend.k_nearest_within(x, all.data(), n, kc, cidx.data(), cd2.data(), nullptr);
    } else {
      backend.k_nearest(q.block(b0, nb), x, kc, cidx.data(), cd2.data());
    }
    // Exact distances (the backend's, when the queries are rows of x), then
    // (distance, index) order; keep k.
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
