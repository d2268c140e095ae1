// The spanning tree's last step (mst.hpp): when few components are left, each
// pair of them is joined by its lightest edge, found by a search of that pair
// alone, and Kruskal on those edges finishes the tree. The forest so far is part
// of the minimum spanning tree, so contracting it keeps the rest.
//
// Two exact bounds keep the searches small.
//  - Along the axis from one component's centre to the other's, |<a - b, u>|
//    (u the unit axis) is at most ||a - b||. So a row far behind its component's
//    front, or a candidate far behind the other's, cannot be in a light edge.
//    A pair is searched front rows first; once it has an edge, rows and candidates
//    whose axis bound is heavier are left out.
//  - Kruskal takes pairs lightest first, by a lower bound until a pair comes up,
//    then by its searched edge. A pair whose components are already joined when
//    it comes up is never searched.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <queue>

#include "host/cluster/mst_internal.hpp"
#include "host/core/error.hpp"
#include "host/core/exact_distance.hpp"

namespace emb::mst_detail {
namespace {

// Most distances from rows to component centres (floats, rows x components) kept
// for the axis bounds; above it the pairs are searched without them.
constexpr int64_t kMaxCentreDistances = int64_t{1} << 28;
// Rows of a pair's first search: its front rows, for a light edge early.
constexpr int64_t kFirstBlock = 128;

double squared_positive(double v) { return v > 0.0 ? v * v : 0.0; }

// A pair of components, or its searched lightest edge, in the Kruskal queue.
struct Entry {
  Cand key;  // a lower bound (ends -1, so before an edge of the same weight), or the edge
  int32_t p = -1, q = -1;
  bool searched = false;
};
struct Later {
  bool operator()(const Entry& l, const Entry& r) const { return r.key.better_than(l.key); }
};

class Contraction {
 public:
  // `members`: the rows of each piece; `group`: each piece's component (pieces of
  // one component are joined already).
  Contraction(const ContractionInputs& in, const int32_t* comp, std::vector<std::vector<int32_t>> members,
              std::vector<int32_t> group, MstStats& st)
      : in_(in),
        comp_(comp),
        members_(std::move(members)),
        group_(std::move(group)),
        c_(static_cast<int64_t>(members_.size())),
        st_(st) {}

  // A lower bound on the lightest edge between every two pieces of different
  // components.
  std::vector<Entry> bounds() {
    centre_distances();
    std::vector<Entry> out(static_cast<size_t>(c_ * (c_ - 1) / 2));
#pragma omp parallel for schedule(dynamic)
    for (int64_t p = 0; p < c_; ++p)
      for (int64_t q = p + 1; q < c_; ++q) {
        Entry& e = out[p * c_ - p * (p + 1) / 2 + (q - p - 1)];
        e = {Cand{kInf, -1, -1}, static_cast<int32_t>(p), static_cast<int32_t>(q), false};
        if (group_[p] == group_[q]) continue;
        const Side s = side(static_cast<int32_t>(p), static_cast<int32_t>(q));
        for (double k : s.key) e.key.w2 = std::min(e.key.w2, k);
      }
    std::erase_if(out, [&](const Entry& e) { return group_[e.p] == group_[e.q]; });
    return out;
  }

  // The lightest edges that join all components, in Kruskal order. Leaves the
  // backend's fast mode on for the caller to switch off.
  std::vector<Cand> run(const std::vector<Entry>& bounds) {
    fast_ = in_.backend.fast_distances(true);  // after the centre distances: the fast mode is for the searches
    std::priority_queue<Entry, std::vector<Entry>, Later> queue(Later{}, bounds);
    UnionFind joined(c_);
    int64_t components = 0;
    std::vector<int32_t> first(static_cast<size_t>(c_), -1);  // each group's first piece
    for (int64_t p = 0; p < c_; ++p) {
      int32_t& f = first[group_[p]];
      if (f < 0) {
        f = static_cast<int32_t>(p);
        ++components;
      }
      joined.unite(f, static_cast<int32_t>(p));
    }
    std::vector<Cand> joins;
    while (!queue.empty() && static_cast<int64_t>(joins.size()) < components - 1) {
      const Entry e = queue.top();
      queue.pop();
      if (joined.find(e.p) == joined.find(e.q)) continue;
      if (e.searched) {
        joined.unite(e.p, e.q);
        joins.push_back(e.key);
        continue;
      }
      const Cand best = search_pair(e.p, e.q);
      ++st_.contract_pairs;
      if (best.a >= 0) queue.push({best, e.p, e.q, true});
    }
    EMB_EXPECTS(static_cast<int64_t>(joins.size()) == components - 1, "the contraction joined ", joins.size(),
                " of ", components - 1, " pairs of components");
    return joins;
  }

 private:
  // Query rows (the smaller component) and candidates (the larger) of a pair, with
  // each query row's lower bound on its edge weights into the other component, and
  // the axis positions that bound them.
  struct Side {
    const std::vector<int32_t>* rows;
    const std::vector<int32_t>* cand;
    std::vector<double> key, high;  // per query row: weight bound, furthest axis position
    std::vector<double> low;        // per candidate: nearest axis position
  };

  // Every row's GEMM squared distance to every component's centre (the mean of
  // its rows, rounded to float): what the axis positions come from.
  void centre_distances() {
    const int64_t n = in_.x.rows, d = in_.x.cols;
    if (n * c_ > kMaxCentreDistances || !to_centre_.empty()) return;
    centre_.assign(static_cast<size_t>(c_ * d), 0.0f);
    centre_norm2_.assign(static_cast<size_t>(c_), 0.0);
#pragma omp parallel for schedule(dynamic)
    for (int64_t p = 0; p < c_; ++p) {
      std::vector<double> sum(static_cast<size_t>(d), 0.0);
      for (int32_t i : members_[p])
        for (int64_t j = 0; j < d; ++j) sum[j] += in_.x.row(i)[j];
      double s = 0.0;
      for (int64_t j = 0; j < d; ++j) {
        const float v = static_cast<float>(sum[j] / static_cast<double>(members_[p].size()));
        centre_[p * d + j] = v;
        s += static_cast<double>(v) * v;
      }
      centre_norm2_[p] = s;
    }
    to_centre_.resize(static_cast<size_t>(n * c_));
    in_.backend.squared_distances(in_.x, {centre_.data(), c_, d}, {to_centre_.data(), n, c_});
  }

  // Row i's position along the axis from centre p to centre q (the distance from p
  // towards q, which ||a - b|| bounds from below for a difference of positions), and
  // the most the float distances it comes from can move it.
  void position(int32_t i, int32_t p, int32_t q, double axis2, double axis, double& t, double& err) const {
    const int64_t d = in_.x.cols;
    const double dp = to_centre_[i * c_ + p], dq = to_centre_[i * c_ + q];
    const double sp = gemm_distance_slack(d, in_.norm2[i] + centre_norm2_[p], dp);
    const double sq = gemm_distance_slack(d, in_.norm2[i] + centre_norm2_[q], dq);
    t = (dp - dq + axis2) / (2.0 * axis);
    err = (sp + sq) / (2.0 * axis) + 1e-12 * (std::abs(dp) + std::abs(dq) + axis2) / axis;
  }

  Side side(int32_t p, int32_t q) const {
    if (members_[p].size() > members_[q].size()) std::swap(p, q);
    Side s;
    s.rows = &members_[p];
    s.cand = &members_[q];
    const int64_t d = in_.x.cols;
    double axis2 = 0.0;
    if (!to_centre_.empty())
      for (int64_t j = 0; j < d; ++j) {
        const double v = static_cast<double>(centre_[q * d + j]) - centre_[p * d + j];
        axis2 += v * v;
      }
    const double axis = std::sqrt(axis2);
    const bool bounds = axis > 0.0;
    double t, err;
    double front = kInf, cand_core = kInf;
    s.low.resize(s.cand->size());
    for (size_t k = 0; k < s.cand->size(); ++k) {
      const int32_t j = (*s.cand)[k];
      s.low[k] = -kInf;
      if (bounds) {
        position(j, p, q, axis2, axis, t, err);
        s.low[k] = t - err;
      }
      front = std::min(front, s.low[k]);
      cand_core = std::min(cand_core, in_.core2[j]);
    }
    s.key.resize(s.rows->size());
    s.high.resize(s.rows->size());
    for (size_t k = 0; k < s.rows->size(); ++k) {
      const int32_t i = (*s.rows)[k];
      s.high[k] = kInf;
      if (bounds) {
        position(i, p, q, axis2, axis, t, err);
        s.high[k] = t + err;
      }
      s.key[k] = std::max({in_.core2[i], cand_core, squared_positive(front - s.high[k])});
    }
    return s;
  }

  // The pair's lightest edge: its query rows by increasing bound, in blocks, each
  // against the candidates its bound does not rule out, until no row's bound is
  // below the best edge found.
  Cand search_pair(int32_t p, int32_t q) {
    const Side s = side(p, q);
    const std::vector<int32_t>& rows = *s.rows;
    const std::vector<int32_t>& cand = *s.cand;
    std::vector<int32_t> order(rows.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](int32_t a, int32_t b) { return std::tie(s.key[a], rows[a]) < std::tie(s.key[b], rows[b]); });
    Cand best;
    std::vector<int32_t> block, sub;
    int64_t want = std::min(kFirstBlock, in_.search_block);
    for (size_t at = 0; at < order.size() && s.key[order[at]] <= best.w2;) {
      block.clear();
      double high = -kInf, core = kInf;
      for (; at < order.size() && static_cast<int64_t>(block.size()) < want && s.key[order[at]] <= best.w2; ++at) {
        const int32_t k = order[at];
        block.push_back(rows[k]);
        high = std::max(high, s.high[k]);
        core = std::min(core, in_.core2[rows[k]]);
      }
      sub.clear();
      for (size_t k = 0; k < cand.size(); ++k)
        if (std::max({in_.core2[cand[k]], core, squared_positive(s.low[k] - high)}) <= best.w2) sub.push_back(cand[k]);
      if (!sub.empty()) search(block, sub, best);
      want = in_.search_block;
    }
    return best;
  }

  // One backend search of `rows` over `cand`, its lightest edge offered to `best`.
  // With a faster, less precise GEMM (TF32 on a GPU) every row is searched fast,
  // then only the rows whose result could, within that mode's error, still be the
  // lightest are searched again at float precision.
  void search(const std::vector<int32_t>& rows, const std::vector<int32_t>& cand, Cand& best) {
    Backend& backend = in_.backend;
    const ConstMatrixView x = in_.x;
    int64_t m = static_cast<int64_t>(rows.size());
    nearest_.resize(rows.size());
    w2f_.resize(rows.size());
    backend.nearest_other_component(x, rows.data(), m, in_.core2f.data(), comp_, cand.data(),
                                    static_cast<int64_t>(cand.size()), nearest_.data(), w2f_.data());
    st_.searched += m;
    st_.pairs += static_cast<double>(m) * static_cast<double>(cand.size());
    const int32_t* searched = rows.data();
    const double fast = fast_;
    if (fast > 0.0) {
      double cand_norm2 = 0.0;
      for (int32_t j : cand) cand_norm2 = std::max(cand_norm2, in_.norm2[j]);
      // Each row's fast weight is within err of its float one, and that within
      // the float rounding of the exact one.
      auto err = [&](int64_t t) {
        const double scale = in_.norm2[rows[t]] + cand_norm2;
        return fast * scale + 2.0 * gemm_distance_slack(x.cols, scale, w2f_[t]);
      };
      double best_high = best.w2;
      for (int64_t t = 0; t < m; ++t)
        if (nearest_[t] >= 0) best_high = std::min(best_high, static_cast<double>(w2f_[t]) + err(t));
      recheck_.clear();
      for (int64_t t = 0; t < m; ++t)
        if (nearest_[t] >= 0 && static_cast<double>(w2f_[t]) - err(t) <= best_high) recheck_.push_back(rows[t]);
      m = static_cast<int64_t>(recheck_.size());
      backend.fast_distances(false);
      backend.nearest_other_component(x, recheck_.data(), m, in_.core2f.data(), comp_, cand.data(),
                                      static_cast<int64_t>(cand.size()), nearest_.data(), w2f_.data());
      backend.fast_distances(true);
      st_.pairs += static_cast<double>(m) * static_cast<double>(cand.size());
      searched = recheck_.data();
    }
    found_.resize(static_cast<size_t>(m));
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < m; ++t) {
      const int32_t i = searched[t], j = nearest_[t];
      found_[t] = j < 0 ? Cand{}
                        : Cand{std::max({in_.core2[i], in_.core2[j], exact_dist2(x, i, j)}), i, j};
    }
    for (int64_t t = 0; t < m; ++t)
      if (found_[t].better_than(best)) best = found_[t];
  }

  const ContractionInputs& in_;
  const int32_t* comp_;  // each row's component (an edge never stays inside one)
  std::vector<std::vector<int32_t>> members_;
  std::vector<int32_t> group_;
  int64_t c_;
  MstStats& st_;
  std::vector<float> centre_, to_centre_;
  std::vector<double> centre_norm2_;
  std::vector<int32_t> nearest_, recheck_;
  std::vector<float> w2f_;
  std::vector<Cand> found_;
  double fast_ = 0.0;  // the fast mode's error scale; 0 when the backend has none
};

}  // namespace

bool contract_components(const ContractionInputs& in, const std::vector<int32_t>& comp,
                         const std::vector<int32_t>& open, const std::vector<MstEdge>& forest,
                         int64_t max_components, std::vector<Cand>& joins, MstStats& st) {
  const int64_t n = in.x.rows;
  std::vector<int32_t> dense(static_cast<size_t>(n), -1);
  std::vector<std::vector<int32_t>> members;
  for (int64_t i = 0; i < n; ++i) {
    int32_t& d = dense[comp[i]];
    if (d < 0) {
      if (static_cast<int64_t>(members.size()) >= max_components) return false;
      d = static_cast<int32_t>(members.size());
      members.emplace_back();
    }
    members[d].push_back(static_cast<int32_t>(i));
  }
  // Taken when searching every pair once would cost fewer distances than this
  // round's searches alone (the bounds only lower that).
  const int64_t c = static_cast<int64_t>(members.size());
  double pairs = 0.0, boruvka = 0.0;
  for (int64_t a = 0; a < c; ++a)
    pairs += static_cast<double>(members[a].size()) * static_cast<double>(n - static_cast<int64_t>(members[a].size()));
  pairs /= 2.0;
  for (int32_t i : open) boruvka += static_cast<double>(n - static_cast<int64_t>(members[dense[comp[i]]].size()));
  if (c < 2 || pairs > boruvka) return false;

  // The bounds of pairs of components first. A component of several blobs has
  // its centre between them, which bounds nothing well; so where its spanning
  // forest has edges as heavy as typical bounds between components (the bridges
  // between such blobs), the pairs are taken between the pieces those edges
  // leave instead, with the pieces of a component joined from the start.
  struct FastOff {  // back to float precision however this ends
    Backend& b;
    ~FastOff() { b.fast_distances(false); }
  } fast_off{in.backend};
  std::vector<int32_t> group(static_cast<size_t>(c));
  std::iota(group.begin(), group.end(), 0);
  Contraction whole(in, comp.data(), members, group, st);
  std::vector<Entry> bounds = whole.bounds();
  // As heavy as: the median over components of each one's lightest bound (a
  // component split into fragments has light bounds to its other fragments, which
  // say nothing about its blob's bridges). Which pieces are taken only changes
  // the work, never the tree.
  std::vector<double> least(static_cast<size_t>(c), kInf);
  for (const Entry& e : bounds) {
    least[e.p] = std::min(least[e.p], e.key.w2);
    least[e.q] = std::min(least[e.q], e.key.w2);
  }
  std::nth_element(least.begin(), least.begin() + c / 2, least.end());
  const double heavy = least[c / 2];
  std::vector<MstEdge> bridges;
  for (const MstEdge& e : forest)
    if (e.weight >= heavy) bridges.push_back(e);
  const int64_t max_pieces = std::min<int64_t>(2 * max_components, kMaxCentreDistances / std::max<int64_t>(n, 1));
  if (bridges.empty() || c + 1 > max_pieces) {
    joins = whole.run(bounds);
  } else {
    // The heaviest bridges, as many as the pieces allow.
    std::sort(bridges.begin(), bridges.end(),
              [](const MstEdge& p, const MstEdge& q) { return std::tie(q.weight, q.a, q.b) < std::tie(p.weight, p.a, p.b); });
    bridges.resize(static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(bridges.size()), max_pieces - c)));
    const MstEdge& last = bridges.back();
    UnionFind piece(n);
    for (const MstEdge& e : forest)
      if (std::tie(e.weight, e.a, e.b) < std::tie(last.weight, last.a, last.b)) piece.unite(e.a, e.b);
    std::vector<int32_t> id(static_cast<size_t>(n), -1);
    std::vector<std::vector<int32_t>> pieces;
    std::vector<int32_t> piece_group;
    for (int64_t i = 0; i < n; ++i) {
      int32_t& p = id[piece.find(static_cast<int32_t>(i))];
      if (p < 0) {
        p = static_cast<int32_t>(pieces.size());
        pieces.emplace_back();
        piece_group.push_back(dense[comp[i]]);
      }
      pieces[p].push_back(static_cast<int32_t>(i));
    }
    st.contract_pieces = static_cast<int64_t>(pieces.size());
    Contraction split(in, comp.data(), std::move(pieces), std::move(piece_group), st);
    joins = split.run(split.bounds());
  }
  st.contract_components = c;
  ++st.contracted;
  return true;
}

}  // namespace emb::mst_detail
