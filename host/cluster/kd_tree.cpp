#include "host/cluster/kd_tree.hpp"

#include <algorithm>
#include <cassert>
#include <limits>
#include <numeric>

namespace emb {

namespace {

// Points whose distances are computed together: enough independent chains of adds
// to keep the pipeline busy.
constexpr int kChunk = 4;

// out[t] = squared distance from q to the point at positions pos[t], t < N: one
// chain of double adds per point, in column order, interleaved across the points.
template <int N>
void distances_n(const float* points, int64_t d, const int32_t* pos, const float* q, float* out) {
  const float* p[N];
  for (int t = 0; t < N; ++t) p[t] = points + static_cast<int64_t>(pos[t]) * d;
  double s[N] = {};
  for (int64_t j = 0; j < d; ++j) {
    const double v = q[j];
    for (int t = 0; t < N; ++t) {
      const double diff = static_cast<double>(p[t][j]) - v;
      s[t] += diff * diff;
    }
  }
  for (int t = 0; t < N; ++t) out[t] = static_cast<float>(s[t]);
}

}  // namespace

// Per-query state of knn: a max-heap of (distance, row) holding the best k so far
// (std::pair's order is exactly "farther, or as far with a higher row"), and room
// for one leaf's positions and distances.
struct KdTree::KnnState {
  KnnState(int k_, int leaf_size) : k(k_), pos(leaf_size), d2(leaf_size) { heap.reserve(static_cast<size_t>(k)); }
  int k;
  std::vector<std::pair<float, int32_t>> heap;
  std::vector<int32_t> pos;
  std::vector<float> d2;
  bool full() const { return static_cast<int>(heap.size()) == k; }
};

// Per-query state of nearest_other_component. best_row == -1 means nothing found
// yet: then only w < best_w (the caller's bound) is accepted.
struct KdTree::OtherState {
  OtherState(int32_t component_, float core_row_, const float* core2_, const int32_t* components_, float bound2,
             int leaf_size)
      : component(component_),
        core_row(core_row_),
        core2(core2_),
        components(components_),
        best_w(bound2),
        pos(leaf_size),
        d2(leaf_size) {}
  int32_t component;
  float core_row;
  const float* core2;
  const int32_t* components;
  float best_w;
  int32_t best_row = -1;
  std::vector<int32_t> pos;
  std::vector<float> d2;
  // Whether something at least w away, with rows from `row` up, could still win.
  bool may_beat(float w, int32_t row) const { return w < best_w || (w == best_w && row < best_row); }
};

KdTree::KdTree(ConstMatrixView x, int leaf_size) : n_(x.rows), d_(x.cols), leaf_size_(std::max(1, leaf_size)) {
  assert(leaf_size >= 1 && x.rows < std::numeric_limits<int32_t>::max());
  if (n_ == 0) return;
  // Build on a copy in row order, then permute it so that every node's points are
  // contiguous.
  points_.assign(x.data, x.data + x.size());
  order_.resize(static_cast<size_t>(n_));
  std::iota(order_.begin(), order_.end(), 0);
  nodes_.reserve(static_cast<size_t>(2 * (n_ / leaf_size_) + 1));
  build(0, static_cast<int32_t>(n_));

  std::vector<float> permuted(points_.size());
  position_.resize(static_cast<size_t>(n_));
  for (int64_t p = 0; p < n_; ++p) {
    std::copy_n(x.row(order_[p]), d_, permuted.data() + p * d_);
    position_[order_[p]] = static_cast<int32_t>(p);
  }
  points_ = std::move(permuted);

  // Children always come after their parent, so a reverse sweep sees them first.
  const size_t nodes = nodes_.size();
  lo_.resize(nodes * d_);
  hi_.resize(nodes * d_);
  min_row_.resize(nodes);
  for (size_t i = nodes; i-- > 0;) fit_box(static_cast<int32_t>(i));
}

int32_t KdTree::build(int32_t begin, int32_t end) {
  const auto id = static_cast<int32_t>(nodes_.size());
  nodes_.push_back({begin, end, -1, -1});
  if (end - begin <= leaf_size_) return id;

  // The widest dimension of the points' extent.
  int64_t dim = 0;
  float widest = -1.0f;
  for (int64_t j = 0; j < d_; ++j) {
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (int32_t p = begin; p < end; ++p) {
      const float v = points_[order_[p] * d_ + j];
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    if (hi - lo > widest) {
      widest = hi - lo;
      dim = j;
    }
  }
  const int32_t mid = begin + (end - begin) / 2;
  std::nth_element(order_.begin() + begin, order_.begin() + mid, order_.begin() + end,
                   [&](int32_t a, int32_t b) { return points_[a * d_ + dim] < points_[b * d_ + dim]; });
  const int32_t left = build(begin, mid);
  const int32_t right = build(mid, end);
  nodes_[id].left = left;
  nodes_[id].right = right;
  return id;
}

void KdTree::fit_box(int32_t node) {
  const Node& nd = nodes_[node];
  float* lo = lo_.data() + node * d_;
  float* hi = hi_.data() + node * d_;
  if (nd.left < 0) {
    std::copy_n(points_.data() + nd.begin * d_, d_, lo);
    std::copy_n(points_.data() + nd.begin * d_, d_, hi);
    min_row_[node] = order_[nd.begin];
    for (int32_t p = nd.begin + 1; p < nd.end; ++p) {
      const float* v = points_.data() + p * d_;
      for (int64_t j = 0; j < d_; ++j) {
        lo[j] = std::min(lo[j], v[j]);
        hi[j] = std::max(hi[j], v[j]);
      }
      min_row_[node] = std::min(min_row_[node], order_[p]);
    }
    return;
  }
  const float* ll = lo_.data() + nd.left * d_;
  const float* lh = hi_.data() + nd.left * d_;
  const float* rl = lo_.data() + nd.right * d_;
  const float* rh = hi_.data() + nd.right * d_;
  for (int64_t j = 0; j < d_; ++j) {
    lo[j] = std::min(ll[j], rl[j]);
    hi[j] = std::max(lh[j], rh[j]);
  }
  min_row_[node] = std::min(min_row_[nd.left], min_row_[nd.right]);
}

// Squared distances from q to the boxes of nodes a and b, summed like the points'
// distances: rounding is monotone, so neither exceeds the distance to any point in
// its box. The two chains of adds are interleaved to overlap in the pipeline.
std::pair<float, float> KdTree::box_distances2(int32_t a, int32_t b, const float* q) const {
  const float* alo = lo_.data() + a * d_;
  const float* ahi = hi_.data() + a * d_;
  const float* blo = lo_.data() + b * d_;
  const float* bhi = hi_.data() + b * d_;
  double sa = 0.0, sb = 0.0;
  for (int64_t j = 0; j < d_; ++j) {
    const double v = q[j];
    const double ga = std::max({0.0, alo[j] - v, v - ahi[j]});
    const double gb = std::max({0.0, blo[j] - v, v - bhi[j]});
    sa += ga * ga;
    sb += gb * gb;
  }
  return {static_cast<float>(sa), static_cast<float>(sb)};
}

void KdTree::distances2(const int32_t* pos, int count, const float* q, float* out) const {
  int t = 0;
  for (; t + kChunk <= count; t += kChunk) distances_n<kChunk>(points_.data(), d_, pos + t, q, out + t);
  for (; t < count; ++t) distances_n<1>(points_.data(), d_, pos + t, q, out + t);
}

void KdTree::knn(const float* query, int k, int32_t* idx, float* dist2) const {
  assert(k >= 1 && k <= n_);
  if (n_ == 0) return;
  KnnState s(k, leaf_size_);
  knn_visit(0, query, s);
  std::sort_heap(s.heap.begin(), s.heap.end());
  for (int t = 0; t < k; ++t) {
    dist2[t] = s.heap[t].first;
    idx[t] = s.heap[t].second;
  }
}

void KdTree::knn_visit(int32_t node, const float* q, KnnState& s) const {
  const Node& nd = nodes_[node];
  if (nd.left < 0) {
    const int count = nd.end - nd.begin;
    std::iota(s.pos.begin(), s.pos.begin() + count, nd.begin);
    distances2(s.pos.data(), count, q, s.d2.data());
    for (int32_t p = nd.begin; p < nd.end; ++p) {
      const std::pair<float, int32_t> c{s.d2[p - nd.begin], order_[p]};
      if (!s.full()) {
        s.heap.push_back(c);
        std::push_heap(s.heap.begin(), s.heap.end());
      } else if (c < s.heap.front()) {
        std::pop_heap(s.heap.begin(), s.heap.end());
        s.heap.back() = c;
        std::push_heap(s.heap.begin(), s.heap.end());
      }
    }
    return;
  }
  // Nearer child first; a child whose box is farther than the k-th best so far
  // cannot hold a better point (an equal distance might, with a lower row).
  auto [bl, br] = box_distances2(nd.left, nd.right, q);
  int32_t first = nd.left, second = nd.right;
  if (br < bl) {
    std::swap(first, second);
    std::swap(bl, br);
  }
  if (!s.full() || bl <= s.heap.front().first) knn_visit(first, q, s);
  if (!s.full() || br <= s.heap.front().first) knn_visit(second, q, s);
}

void KdTree::set_components(const int32_t* component) {
  node_component_.resize(nodes_.size());
  for (size_t i = nodes_.size(); i-- > 0;) {
    const Node& nd = nodes_[i];
    int32_t c;
    if (nd.left < 0) {
      c = component[order_[nd.begin]];
      for (int32_t p = nd.begin + 1; p < nd.end && c >= 0; ++p)
        if (component[order_[p]] != c) c = -1;
    } else {
      c = node_component_[nd.left] == node_component_[nd.right] ? node_component_[nd.left] : -1;
    }
    node_component_[i] = c;
  }
}

void KdTree::set_core(const float* core2) {
  node_min_core_.resize(nodes_.size());
  for (size_t i = nodes_.size(); i-- > 0;) {
    const Node& nd = nodes_[i];
    float m;
    if (nd.left < 0) {
      m = core2[order_[nd.begin]];
      for (int32_t p = nd.begin + 1; p < nd.end; ++p) m = std::min(m, core2[order_[p]]);
    } else {
      m = std::min(node_min_core_[nd.left], node_min_core_[nd.right]);
    }
    node_min_core_[i] = m;
  }
}

std::pair<int32_t, float> KdTree::nearest_other_component(int64_t row, const float* core2, const int32_t* component,
                                                          float bound2) const {
  assert(row >= 0 && row < n_);
  assert(node_component_.size() == nodes_.size() && node_min_core_.size() == nodes_.size());
  OtherState s(component[row], core2[row], core2, component, bound2, leaf_size_);
  other_visit(0, points_.data() + static_cast<int64_t>(position_[row]) * d_, s);
  if (s.best_row < 0) return {-1, std::numeric_limits<float>::infinity()};
  return {s.best_row, s.best_w};
}

void KdTree::other_visit(int32_t node, const float* q, OtherState& s) const {
  const Node& nd = nodes_[node];
  if (nd.left < 0) {
    // Distances only to the points that could still win on their core distances.
    int count = 0;
    for (int32_t p = nd.begin; p < nd.end; ++p) {
      const int32_t j = order_[p];
      if (s.components[j] != s.component && s.may_beat(std::max(s.core_row, s.core2[j]), j)) s.pos[count++] = p;
    }
    distances2(s.pos.data(), count, q, s.d2.data());
    for (int t = 0; t < count; ++t) {
      const int32_t j = order_[s.pos[t]];
      const float w = std::max({s.core_row, s.core2[j], s.d2[t]});
      if (s.may_beat(w, j)) {
        s.best_w = w;
        s.best_row = j;
      }
    }
    return;
  }
  // A child is skipped when all its points share the query's component, or when
  // no point in it can reach below the best weight so far.
  const auto live = [&](int32_t c, float b) { return node_component_[c] != s.component && s.may_beat(b, min_row_[c]); };
  auto [bl, br] = box_distances2(nd.left, nd.right, q);
  bl = std::max({s.core_row, node_min_core_[nd.left], bl});
  br = std::max({s.core_row, node_min_core_[nd.right], br});
  int32_t first = nd.left, second = nd.right;
  if (br < bl) {
    std::swap(first, second);
    std::swap(bl, br);
  }
  if (live(first, bl)) other_visit(first, q, s);
  if (live(second, br)) other_visit(second, q, s);
}

}  // namespace emb
