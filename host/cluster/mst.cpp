#include "host/cluster/mst.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>

#include "host/cluster/kd_tree.hpp"
#include "host/core/error.hpp"

namespace emb {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Rows per backend call: queries of k_nearest, searched rows of nearest_other_component.
constexpr int64_t kKnnBlock = 8192;
constexpr int64_t kSearchBlock = 2048;
// A GPU wants bigger batches: each call re-sends the core distances and components,
// and a GEMM of 2048 rows leaves much of it idle.
constexpr int64_t kGpuSearchBlock = 16384;
// Extra candidates k_nearest returns beyond k, re-ranked by exact distance: the
// GEMM distance can misorder points whose distances differ by its rounding.
constexpr int kKnnMargin = 8;

class UnionFind {
 public:
  explicit UnionFind(int64_t n) : parent_(static_cast<size_t>(n)), rank_(static_cast<size_t>(n), 0) {
    std::iota(parent_.begin(), parent_.end(), 0);
  }
  int32_t find(int32_t x) {
    while (parent_[x] != x) {
      parent_[x] = parent_[parent_[x]];
      x = parent_[x];
    }
    return x;
  }
  bool unite(int32_t a, int32_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return false;
    if (rank_[a] < rank_[b]) std::swap(a, b);
    parent_[b] = a;
    if (rank_[a] == rank_[b]) ++rank_[a];
    return true;
  }

 private:
  std::vector<int32_t> parent_;
  std::vector<uint8_t> rank_;
};

// An edge candidate, ordered by (weight, lower end, higher end).
struct Cand {
  double w2 = kInf;
  int32_t a = -1;
  int32_t b = -1;
  bool better_than(const Cand& o) const {
    if (w2 != o.w2) return w2 < o.w2;
    return std::minmax(a, b) < std::minmax(o.a, o.b);
  }
};

}  // namespace

double exact_dist2(ConstMatrixView x, int64_t a, int64_t b) { return exact_dist2(x.row(a), x.row(b), x.cols); }

double exact_dist2(const float* p, const float* q, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    const double d = static_cast<double>(p[j]) - static_cast<double>(q[j]);
    s += d * d;
  }
  return s;
}

KnnGraph knn_graph(Backend& backend, ConstMatrixView x, int k, const KdTree* tree,
                   const std::function<void(int64_t)>& on_rows) {
  return knn_query(backend, x, x, k, tree, on_rows);
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
  std::vector<int32_t> cidx(static_cast<size_t>(std::min(q.rows, kKnnBlock)) * kc);
  std::vector<float> cd2(cidx.size());
  for (int64_t b0 = 0; b0 < q.rows; b0 += kKnnBlock) {
    const int64_t nb = std::min(kKnnBlock, q.rows - b0);
    if (tree) {
#pragma omp parallel for schedule(dynamic, 64)
      for (int64_t i = 0; i < nb; ++i) tree->knn(q.row(b0 + i), kc, &cidx[i * kc], &cd2[i * kc]);
    } else {
      backend.k_nearest(q.block(b0, nb), x, kc, cidx.data(), cd2.data());
    }
    // Exact distances, then (distance, index) order; keep k.
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < nb; ++i) {
      std::vector<std::pair<double, int32_t>> c(static_cast<size_t>(kc));
      for (int t = 0; t < kc; ++t) {
        const int32_t j = cidx[i * kc + t];
        c[t] = {exact_dist2(q.row(b0 + i), x.row(j), x.cols), j};
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

std::vector<MstEdge> mutual_reachability_mst(Backend& backend, ConstMatrixView x, const KnnGraph& knn,
                                             const std::vector<double>& core2, MstMethod method, KdTree* tree,
                                             MstStats* stats, const std::function<void(int64_t)>& on_round) {
  const int64_t n = x.rows;
  EMB_EXPECTS(knn.n == n && static_cast<int64_t>(core2.size()) == n, "the k-NN graph and core distances must cover the ",
              n, " rows");
  MstStats st;
  std::vector<MstEdge> edges;
  edges.reserve(static_cast<size_t>(std::max<int64_t>(n - 1, 0)));
  UnionFind uf(n);
  auto weight2 = [&](int32_t a, int32_t b) { return std::max({core2[a], core2[b], exact_dist2(x, a, b)}); };
  auto add_edge = [&](int32_t a, int32_t b, double w2) {
    if (!uf.unite(a, b)) return false;
    edges.push_back({a, b, w2});
    return true;
  };

  if (method == MstMethod::Knn) {
    // Kruskal on the k-NN graph: a spanning forest, lightest edges first.
    std::vector<Cand> cand;
    cand.reserve(static_cast<size_t>(n) * knn.k);
    // An edge listed from both ends appears twice; the second copy joins nothing.
    for (int64_t i = 0; i < n; ++i)
      for (int t = 0; t < knn.k; ++t) {
        const int32_t j = knn.row_idx(i)[t];
        if (j == i) continue;
        const int32_t a = std::min(static_cast<int32_t>(i), j), b = std::max(static_cast<int32_t>(i), j);
        cand.push_back({std::max({core2[i], core2[j], knn.row_dist2(i)[t]}), a, b});
      }
    std::sort(cand.begin(), cand.end(), [](const Cand& p, const Cand& q) { return p.better_than(q); });
    for (const Cand& c : cand)
      if (add_edge(c.a, c.b, c.w2)) ++st.knn_edges;
  }

  std::vector<int32_t> comp(static_cast<size_t>(n));
  std::vector<double> lb2(static_cast<size_t>(n), 0.0);  // lower bound on a row's lightest outgoing edge
  std::vector<Cand> row_best(static_cast<size_t>(n));
  std::vector<double> row_bound(static_cast<size_t>(n));
  std::vector<char> certified(static_cast<size_t>(n));
  std::vector<float> core2f(core2.begin(), core2.end());
  if (tree) tree->set_core(core2f.data());
  // How far a searched float weight can sit below the exact one: the search forms
  // ||a||^2 + ||b||^2 - 2 a.b in float, whose error is at most about (d + 4) units of
  // float rounding times ||a||^2 + ||b||^2 (cancellation makes this large against
  // the small distances of near neighbours), plus the rounding of the float weight.
  std::vector<double> norm2(static_cast<size_t>(n));
  double max_norm2 = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    double s = 0.0;
    for (int64_t t = 0; t < x.cols; ++t) s += static_cast<double>(x.row(i)[t]) * x.row(i)[t];
    norm2[i] = s;
    max_norm2 = std::max(max_norm2, s);
  }
  const double unit = std::ldexp(1.0, -24) * static_cast<double>(x.cols + 4);
  auto search_lower_bound = [&](int32_t i, double w2f_i) {
    const double slack = unit * (norm2[i] + max_norm2) + std::ldexp(w2f_i, -22);
    return std::max(0.0, w2f_i - slack);
  };
  std::vector<int32_t> rows, nearest;
  std::vector<float> w2f;
  const int64_t search_block = backend.is_gpu() && !tree ? kGpuSearchBlock : kSearchBlock;

  while (static_cast<int64_t>(edges.size()) < n - 1) {
    ++st.rounds;
    for (int64_t i = 0; i < n; ++i) comp[i] = uf.find(static_cast<int32_t>(i));
    if (on_round) on_round(n - static_cast<int64_t>(edges.size()));

    // 1. Every row's best edge to another component within its k-NN list, and
    //    whether that edge is provably its lightest outgoing edge.
    const bool complete = knn.k >= n;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      Cand best;
      const int32_t* idx = knn.row_idx(i);
      const double* d2 = knn.row_dist2(i);
      for (int t = 0; t < knn.k; ++t) {
        const int32_t j = idx[t];
        if (comp[j] == comp[i]) continue;
        const Cand c{std::max({core2[i], core2[j], d2[t]}), static_cast<int32_t>(i), j};
        if (c.better_than(best)) best = c;
      }
      // Every row outside the list is at least this far, in mutual reachability.
      const double outside = complete ? kInf : std::max(core2[i], d2[knn.k - 1]);
      row_best[i] = best;
      certified[i] = best.w2 < outside;
      row_bound[i] = std::max(lb2[i], std::min(best.w2, outside));
    }

    // 2. Each component's best edge among the list entries: a real edge, so an upper
    //    bound on its lightest one, and exact when it comes from a proven row.
    std::vector<Cand> comp_best(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      st.certified += certified[i];
      if (row_best[i].a >= 0 && row_best[i].better_than(comp_best[comp[i]])) comp_best[comp[i]] = row_best[i];
    }

    // 3. Rows not proven: searched, lowest bound first, while the bound can still
    //    beat their component's best.
    std::vector<int32_t> open;
    for (int64_t i = 0; i < n; ++i)
      if (!certified[i] && row_bound[i] <= comp_best[comp[i]].w2) open.push_back(static_cast<int32_t>(i));
    std::sort(open.begin(), open.end(), [&](int32_t p, int32_t q) {
      return std::tie(row_bound[p], p) < std::tie(row_bound[q], q);
    });
    if (tree) tree->set_components(comp.data());
    for (size_t o = 0; o < open.size();) {
      rows.clear();
      for (; o < open.size() && static_cast<int64_t>(rows.size()) < search_block; ++o) {
        const int32_t i = open[o];
        if (row_bound[i] <= comp_best[comp[i]].w2) rows.push_back(i);
      }
      if (rows.empty()) continue;
      const int64_t m = static_cast<int64_t>(rows.size());
      nearest.resize(static_cast<size_t>(m));
      w2f.resize(static_cast<size_t>(m));
      if (tree) {
#pragma omp parallel for schedule(dynamic, 16)
        for (int64_t t = 0; t < m; ++t) {
          // Bound just above the component's best, so an equal weight with a lower index still shows.
          const double cb = comp_best[comp[rows[t]]].w2;
          const float bound = std::isinf(cb) ? std::numeric_limits<float>::infinity()
                                             : std::nextafter(static_cast<float>(cb), std::numeric_limits<float>::infinity());
          auto [j, w] = tree->nearest_other_component(rows[t], core2f.data(), comp.data(), bound);
          nearest[t] = j;
          w2f[t] = w;
        }
      } else {
        backend.nearest_other_component(x, rows.data(), m, core2f.data(), comp.data(), nearest.data(), w2f.data());
      }
      st.searched += m;
      for (int64_t t = 0; t < m; ++t) {
        const int32_t i = rows[t], j = nearest[t];
        if (j < 0) continue;
        const Cand c{weight2(i, j), i, j};
        // This round's lightest outgoing edge of i bounds the next rounds' (components
        // only grow); loosened by the most the search's float distances can be off.
        lb2[i] = std::min(c.w2, search_lower_bound(i, static_cast<double>(w2f[t])));
        if (c.better_than(comp_best[comp[i]])) comp_best[comp[i]] = c;
      }
    }

    // 4. Join every component along its lightest edge.
    bool joined = false;
    for (int64_t c = 0; c < n; ++c) {
      const Cand& e = comp_best[c];
      if (e.a >= 0 && add_edge(e.a, e.b, e.w2)) joined = true;
    }
    EMB_EXPECTS(joined, "the spanning tree stopped growing at ", edges.size(), " of ", n - 1, " edges");
  }
  if (stats) *stats = st;
  return edges;
}

}  // namespace emb
