#include "host/cluster/mst.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>

#if defined(__GLIBCXX__) && defined(_OPENMP)
#include <parallel/algorithm>
#endif

#include "host/cluster/kd_tree.hpp"
#include "host/cluster/mst_internal.hpp"
#include "host/cluster/search_partition.hpp"
#include "host/core/error.hpp"

namespace emb {
namespace {

using mst_detail::Cand;
using mst_detail::kInf;
using mst_detail::UnionFind;

// Rows per backend call of nearest_other_component.
constexpr int64_t kSearchBlock = 2048;
// A GPU wants bigger batches: each call re-sends the core distances and components,
// and a GEMM of 2048 rows leaves much of it idle.
constexpr int64_t kGpuSearchBlock = 16384;
// Most components the spanning tree is finished from by searching every pair once.
constexpr int64_t kContractMaxComponents = 256;
// A Boruvka search whose candidates are more than this share of the rows (its
// rows' components reach far: whole blobs, whose lightest edges lead to other
// blobs) is left to the contraction, while few enough components remain for it.
constexpr int64_t kDeferShare = 4;

// Sorts with all threads where the library can (the order is a total one, so the
// result is the same as a sequential sort's).
template <class It, class Less>
void sort_all_threads(It first, It last, Less less) {
#if defined(__GLIBCXX__) && defined(_OPENMP)
  __gnu_parallel::sort(first, last, less);
#else
  std::sort(first, last, less);
#endif
}

}  // namespace


std::vector<MstEdge> mutual_reachability_mst(Backend& backend, ConstMatrixView x, const KnnGraph& knn,
                                             const std::vector<double>& core2, MstMethod method, KdTree* tree,
                                             MstStats* stats, const std::function<void(int64_t)>& on_round,
                                             PartitionSearch* parts) {
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
    edges.push_back({std::min(a, b), std::max(a, b), w2});  // the same edge whichever end found it
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
    sort_all_threads(cand.begin(), cand.end(), [](const Cand& p, const Cand& q) { return p.better_than(q); });
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
  auto search_lower_bound = [&](int32_t i, double w2f_i) {
    return std::max(0.0, w2f_i - gemm_distance_slack(x.cols, norm2[i] + max_norm2, w2f_i));
  };
  std::vector<int32_t> rows, nearest;
  std::vector<float> w2f;
  std::vector<Cand> comp_best(static_cast<size_t>(n)), joins;
  const int64_t search_block = backend.is_gpu() && !tree ? kGpuSearchBlock : kSearchBlock;
  if (tree) parts = nullptr;
  // With a partition: the searches go part by part, each over only the parts that
  // can hold a lighter edge (search_partition.hpp).
  const SearchPartition* sp = parts ? &parts->partition() : nullptr;
  const int64_t np = sp ? sp->parts() : 0;
  std::vector<double> part_min_core2(static_cast<size_t>(np), kInf);
  std::vector<int32_t> part_comp(static_cast<size_t>(np));  // the one component of a part's rows, or -1
  for (int64_t i = 0; i < n && sp; ++i)
    part_min_core2[sp->part_of[i]] = std::min(part_min_core2[sp->part_of[i]], core2[i]);
  std::vector<double> lbw, group_min;
  std::vector<char> take(static_cast<size_t>(np)), taken(static_cast<size_t>(np));
  std::vector<int32_t> cand, group, sub_rows, by_part_start, by_part;
  // One backend search of `sub_rows` over `cand`; each result offered to its
  // component's best edge, and the row's lower bound for later rounds lowered to it.
  std::vector<double> found_lb(static_cast<size_t>(n), kInf);
  // Components whose search this round was left for later: no edge is taken from
  // them (Boruvka may join any subset of components by their lightest edges).
  std::vector<char> deferred(static_cast<size_t>(n), 0);
  bool may_defer = true;
  auto search_candidates = [&]() {
    const int64_t m = static_cast<int64_t>(sub_rows.size());
    if (m == 0 || cand.empty()) return;
    nearest.resize(static_cast<size_t>(m));
    w2f.resize(static_cast<size_t>(m));
    // Candidates that are most of the rows are searched as all rows, in place: a
    // superset, so the same lightest edge, without gathering them for every group.
    const bool all_rows = static_cast<int64_t>(cand.size()) * 2 > n;
    backend.nearest_other_component(x, sub_rows.data(), m, core2f.data(), comp.data(),
                                    all_rows ? nullptr : cand.data(), all_rows ? 0 : static_cast<int64_t>(cand.size()),
                                    nearest.data(), w2f.data());
    st.searched += m;
    st.pairs += static_cast<double>(m) * static_cast<double>(all_rows ? n : static_cast<int64_t>(cand.size()));
    for (int64_t t = 0; t < m; ++t) {
      const int32_t i = sub_rows[t], j = nearest[t];
      if (j < 0) continue;
      const Cand c{weight2(i, j), i, j};
      found_lb[i] = std::min({found_lb[i], c.w2, search_lower_bound(i, static_cast<double>(w2f[t]))});
      if (c.better_than(comp_best[comp[i]])) comp_best[comp[i]] = c;
    }
  };

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
    std::fill(comp_best.begin(), comp_best.end(), Cand{});
    for (int64_t i = 0; i < n; ++i) {
      st.certified += certified[i];
      if (row_best[i].a >= 0 && row_best[i].better_than(comp_best[comp[i]])) comp_best[comp[i]] = row_best[i];
    }

    // 3. Rows not proven: searched, lowest bound first, while the bound can still
    //    beat their component's best.
    std::vector<int32_t> open;
    for (int64_t i = 0; i < n; ++i)
      if (!certified[i] && row_bound[i] <= comp_best[comp[i]].w2) open.push_back(static_cast<int32_t>(i));
    // With few components left whose edges the k-NN lists cannot prove, the rest
    // of the tree joins them by their lightest edges (mst_contraction.cpp).
    if (!tree && mst_detail::contract_components({backend, x, core2, core2f, norm2, search_block}, comp, open, edges,
                                                 kContractMaxComponents, joins, st)) {
      for (const Cand& e : joins) add_edge(e.a, e.b, e.w2);
      break;
    }
    std::sort(open.begin(), open.end(), [&](int32_t p, int32_t q) {
      return std::tie(row_bound[p], p) < std::tie(row_bound[q], q);
    });
    std::fill(deferred.begin(), deferred.end(), 0);
    int64_t components = 0;
    for (int64_t i = 0; i < n; ++i) components += comp[i] == i;
    const bool defer = may_defer && !tree && components <= kContractMaxComponents;
    bool any_deferred = false;
    if (tree) tree->set_components(comp.data());
    if (sp) {
      // Each part's component when all its rows share one (no edge leaves it to a
      // row of that component), and the open rows by part, lowest bound first.
      for (int64_t c = 0; c < np; ++c) {
        const int32_t* r = sp->rows(c);
        int32_t pc = comp[r[0]];
        for (int64_t t = 1; t < sp->size(c) && pc >= 0; ++t)
          if (comp[r[t]] != pc) pc = -1;
        part_comp[c] = pc;
      }
      by_part_start.assign(static_cast<size_t>(np + 1), 0);
      for (int32_t i : open) ++by_part_start[sp->part_of[i] + 1];
      std::partial_sum(by_part_start.begin(), by_part_start.end(), by_part_start.begin());
      by_part.resize(open.size());
      {
        std::vector<int32_t> fill(by_part_start.begin(), by_part_start.end() - 1);
        for (int32_t i : open) by_part[fill[sp->part_of[i]]++] = i;
      }
      std::fill(taken.begin(), taken.end(), 0);
      for (int32_t first : open) {
        const int32_t p = sp->part_of[first];
        if (taken[p]) continue;
        taken[p] = 1;
        group.clear();
        for (int32_t t = by_part_start[p]; t < by_part_start[p + 1]; ++t) {
          const int32_t i = by_part[t];
          if (row_bound[i] <= comp_best[comp[i]].w2 && !deferred[comp[i]]) group.push_back(i);
        }
        if (group.empty()) continue;
        const int64_t m = static_cast<int64_t>(group.size());
        // Lower bounds on each row's edge weight into each part; +inf into a part
        // wholly in the row's own component.
        parts->lower_bounds(backend, group.data(), m, lbw);
        group_min.assign(static_cast<size_t>(np), kInf);
        for (int64_t t = 0; t < m; ++t) {
          const int32_t i = group[t];
          found_lb[i] = kInf;
          for (int64_t c = 0; c < np; ++c) {
            double& b = lbw[t * np + c];
            b = part_comp[c] == comp[i] ? kInf : std::max({core2[i], part_min_core2[c], b});
            group_min[c] = std::min(group_min[c], b);
          }
        }
        // Stage 1: the parts nearest the group, for a good best edge early. Stage 2:
        // every other part still below some row's component best.
        std::vector<int32_t> near(static_cast<size_t>(np));
        std::iota(near.begin(), near.end(), 0);
        std::sort(near.begin(), near.end(), [&](int32_t a, int32_t b) {
          return std::tie(group_min[a], a) < std::tie(group_min[b], b);
        });
        std::fill(take.begin(), take.end(), 0);
        int64_t have = 0;
        const int64_t want = 2 * std::max<int64_t>(m, (n + np - 1) / np);
        for (int64_t t = 0; t < np && have < want && group_min[near[t]] < kInf; ++t) {
          take[near[t]] = 1;
          have += sp->size(near[t]);
        }
        std::vector<char> stage1 = take, searched1(static_cast<size_t>(m), 0), searched2(static_cast<size_t>(m), 0);
        for (int stage = 1; stage <= 2; ++stage) {
          if (stage == 2)
            for (int64_t c = 0; c < np; ++c) {
              take[c] = 0;
              if (stage1[c] || group_min[c] == kInf) continue;
              for (int64_t t = 0; t < m && !take[c]; ++t) take[c] = lbw[t * np + c] <= comp_best[comp[group[t]]].w2;
            }
          std::vector<char>& searched = stage == 1 ? searched1 : searched2;
          sub_rows.clear();
          for (int64_t t = 0; t < m; ++t) {
            const double cb = comp_best[comp[group[t]]].w2;
            for (int64_t c = 0; c < np && !searched[t]; ++c) searched[t] = take[c] && lbw[t * np + c] <= cb;
            if (searched[t]) sub_rows.push_back(group[t]);
          }
          if (sub_rows.empty()) continue;
          parts->union_rows(take, cand);
          if (stage == 2 && defer && static_cast<int64_t>(cand.size()) * kDeferShare > n) {
            for (int32_t i : sub_rows) {
              st.deferred += deferred[comp[i]] == 0;
              deferred[comp[i]] = 1;
            }
            any_deferred = true;
            std::fill(searched2.begin(), searched2.end(), 0);
            continue;
          }
          search_candidates();
        }
        // Each row's bound for later rounds: its searches' results and the bounds of
        // the parts its searches left out.
        for (int64_t t = 0; t < m; ++t) {
          const int32_t i = group[t];
          double low = found_lb[i];
          for (int64_t c = 0; c < np; ++c) {
            const bool covered = (searched1[t] && stage1[c]) || (searched2[t] && take[c]);
            if (!covered) low = std::min(low, lbw[t * np + c]);
          }
          lb2[i] = std::max(lb2[i], low);
        }
      }
      open.clear();
    }
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
        backend.nearest_other_component(x, rows.data(), m, core2f.data(), comp.data(), nullptr, 0, nearest.data(),
                                        w2f.data());
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
      if (e.a >= 0 && !deferred[c] && add_edge(e.a, e.b, e.w2)) joined = true;
    }
    // Every component left for later: this round again, searching them all.
    if (!joined && any_deferred) {
      may_defer = false;
      continue;
    }
    EMB_EXPECTS(joined, "the spanning tree stopped growing at ", edges.size(), " of ", n - 1, " edges");
  }
  if (stats) *stats = st;
  return edges;
}

}  // namespace emb
