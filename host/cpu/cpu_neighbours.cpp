// CPU backend, neighbour ops: k_nearest and nearest_other_component (HDBSCAN's
// core distances and Boruvka steps). Both cut the work into units of (a block of
// query rows, a range of tiles of x): per tile one single-threaded GEMM, then the
// per-row selection while the tile is still in cache. Units depend on the sizes
// only, and per-unit results merge in unit order, so the result is the same for
// any thread count.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "host/cpu/cpu_backend.hpp"
#include "host/cpu/blas_threads.hpp"

namespace emb {

using cpu::use_blas_threads;
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
// Query rows per GEMM, and rows of x per tile: a 256 x 1024 tile (1 MiB) stays in
// cache between its GEMM and the selection that reads it.
constexpr int64_t kBlockRows = 256;
// Smallest block a call with few rows is cut into, so that threads share it.
constexpr int64_t kMinBlockRows = 32;
constexpr int64_t kTileRows = 1024;
// Side of k_nearest_within's square tiles (1 MiB of floats).
constexpr int64_t kWithinTile = 512;
// The selection compares the bound with the minimum of this many distances at once.
constexpr int64_t kChunk = 32;
// With fewer query blocks than this, x is split into ranges of tiles too, so that
// all threads have work when only a few rows are asked about.
constexpr int64_t kMinUnits = 16;
// Most bytes of per-range partial results k_nearest keeps for such a split.
constexpr int64_t kPartialBytes = int64_t{64} << 20;
// Most candidate floats nearest_other_component copies into one contiguous block.
constexpr int64_t kGatherOnceFloats = int64_t{256} << 20;
// Below this much work (multiply-adds) a call runs on the calling thread alone.
constexpr int64_t kParallelMinWork = int64_t{1} << 16;

struct Neighbour {
  float d;
  int32_t j;
};

// (distance, index) lexicographic: the order both ops rank candidates by.
bool before(const Neighbour& a, const Neighbour& b) { return a.d < b.d || (a.d == b.d && a.j < b.j); }

// The k best (distance, index) pairs seen so far, in storage the caller owns
// (2k entries). Entries below the bound are appended; when the buffer is full the
// k best are kept (a selection, not a sort) and the k-th becomes the bound, so a
// candidate costs a comparison and, rarely, a store. Candidates come in
// increasing index, so a new one enters only when strictly nearer than the k-th:
// on equal distances the earlier (lower) index stays. +inf and NaN distances
// never enter.
class KBest {
 public:
  KBest(Neighbour* buf, int k) : buf_(buf), k_(k) {}
  /// Empties the list; candidates must also be below cap to enter.
  void reset(float cap = kInf) {
    n_ = 0;
    cap_ = cap;
    bound_ = cap;
  }
  /// A candidate must be below this to enter.
  float bound() const { return bound_; }
  /// Adds (d, j); d < bound().
  void push(float d, int32_t j) {
    buf_[n_++] = {d, j};
    if (n_ == 2 * k_) keep_best();
  }
  /// Sorts the list nearest first; returns how many it holds (k unless fewer
  /// candidates had a finite distance).
  int finish() {
    std::sort(buf_, buf_ + n_, before);
    n_ = std::min(n_, k_);
    return n_;
  }
  const Neighbour* data() const { return buf_; }

 private:
  void keep_best() {
    std::nth_element(buf_, buf_ + (k_ - 1), buf_ + n_, before);
    n_ = k_;
    bound_ = std::min(cap_, buf_[k_ - 1].d);
  }

  Neighbour* buf_;
  int k_;
  int n_ = 0;
  float cap_ = kInf, bound_ = kInf;
};

// How the work is cut: blocks of query rows x ranges of tiles of x.
struct Plan {
  int64_t blocks, block_rows, tiles, ranges;  // the last block may be shorter
  int64_t units() const { return blocks * ranges; }
  int64_t tile_begin(int64_t r) const { return tiles * r / ranges; }
};

Plan make_plan(int64_t q_rows, int64_t x_rows, int64_t max_ranges) {
  Plan p;
  p.blocks = (q_rows + kBlockRows - 1) / kBlockRows;
  p.tiles = (x_rows + kTileRows - 1) / kTileRows;
  const int64_t want = (kMinUnits + p.blocks - 1) / p.blocks;
  p.ranges = std::clamp<int64_t>(want, 1, std::min(p.tiles, std::max<int64_t>(max_ranges, 1)));
  // Still too few units (few rows against few tiles): smaller blocks, down to
  // kMinBlockRows rows.
  if (p.units() < kMinUnits)
    p.blocks = std::max(p.blocks, std::min((q_rows + kMinBlockRows - 1) / kMinBlockRows,
                                           (kMinUnits + p.ranges - 1) / p.ranges));
  // Blocks of (nearly) equal size: 316 rows are two blocks of 158, not 256 and 60.
  p.block_rows = p.blocks > 0 ? (q_rows + p.blocks - 1) / p.blocks : kBlockRows;
  if (p.blocks > 0) p.blocks = (q_rows + p.block_rows - 1) / p.block_rows;
  return p;
}

double squared_norm(const float* v, int64_t d) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < d; ++j) s += static_cast<double>(v[j]) * v[j];
  return s;
}

// Squared row norms in float (summed in double), as nearest_centroids keeps them.
std::vector<float> squared_norms(ConstMatrixView x, int threads) {
  std::vector<float> out(static_cast<size_t>(x.rows));
#pragma omp parallel for num_threads(threads) schedule(static) if (x.size() >= kParallelMinWork)
  for (int64_t i = 0; i < x.rows; ++i) out[i] = static_cast<float>(squared_norm(x.row(i), x.cols));
  return out;
}

// tile (m x w, row-major) = -2 q x^T, q m x d, x w x d.
void gemm_minus2(const float* q, int64_t m, const float* x, int64_t w, int64_t d, float* tile) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(m), static_cast<blasint>(w),
              static_cast<blasint>(d), -2.0f, q, static_cast<blasint>(d), x, static_cast<blasint>(d), 0.0f, tile,
              static_cast<blasint>(w));
}

// Bit j set where v[j] < bound, for the kChunk values from v: vectorized (one
// compare per lane, or-reduced).
uint32_t below_mask(const float* v, float bound) {
  static_assert(kChunk == 32, "a chunk's mask is 32 bits");
  uint32_t mask = 0;
#pragma omp simd reduction(| : mask)
  for (int j = 0; j < kChunk; ++j) mask |= static_cast<uint32_t>(v[j] < bound) << j;
  return mask;
}

// Offers the squared distances dr[j0..j1) (indices base + j) to a list. A full
// chunk goes by the mask of its values below the bound, then only those; each
// is checked again, as the bound falls while entries are pushed.
void offer(const float* dr, int64_t j0, int64_t j1, int32_t base, KBest& list) {
  if (j1 - j0 == kChunk) {
    for (uint32_t mask = below_mask(dr + j0, list.bound()); mask; mask &= mask - 1) {
      const int64_t j = j0 + std::countr_zero(mask);
      if (dr[j] < list.bound()) list.push(dr[j], base + static_cast<int32_t>(j));
    }
    return;
  }
  for (int64_t j = j0; j < j1; ++j)
    if (dr[j] < list.bound()) list.push(dr[j], base + static_cast<int32_t>(j));
}

// A row of squared distances offered to a list, a chunk at a time.
void offer_row(const float* dr, int64_t w, int32_t base, KBest& list) {
  for (int64_t c = 0; c < w; c += kChunk) offer(dr, c, std::min(w, c + kChunk), base, list);
}

// Turns a tile row of -2 q.x (indices base + j) into squared distances
// ||q||^2 + (||x||^2 - 2 q.x), clamped at 0 (NaN passes through), and offers them
// to the list, a chunk at a time while it is in cache.
void select_row(float* t, const float* xn, int64_t w, float qn, int32_t base, KBest& list) {
  for (int64_t c = 0; c < w; c += kChunk) {
    const int64_t e = std::min(w, c + kChunk);
#pragma omp simd
    for (int64_t j = c; j < e; ++j) {
      const float v = qn + (xn[j] + t[j]);
      t[j] = v < 0.0f ? 0.0f : v;
    }
    offer(t, c, e, base, list);
  }
}

// Per tile of x, what lets nearest_other_component skip rows: the smallest core
// distance in the tile, and whether all its rows share one component.
struct TileFacts {
  float min_core2;
  int32_t component;  // the tile's component when `uniform`
  bool uniform;
};

std::vector<TileFacts> tile_facts(int64_t x_rows, int64_t tiles, const float* core2, const int32_t* component) {
  std::vector<TileFacts> f(static_cast<size_t>(tiles));
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t b = t * kTileRows, e = std::min(x_rows, b + kTileRows);
    TileFacts tf{kInf, component[b], true};
    for (int64_t j = b; j < e; ++j) {
      tf.min_core2 = std::min(tf.min_core2, core2[j]);
      tf.uniform = tf.uniform && component[j] == tf.component;
    }
    f[t] = tf;
  }
  return f;
}

// out (w x m) = the transpose of t (m x w), in 16 x 16 blocks.
void transpose(const float* t, int64_t m, int64_t w, float* out) {
  constexpr int64_t kB = 16;
  for (int64_t i0 = 0; i0 < m; i0 += kB)
    for (int64_t j0 = 0; j0 < w; j0 += kB) {
      const int64_t i1 = std::min(m, i0 + kB), j1 = std::min(w, j0 + kB);
      for (int64_t j = j0; j < j1; ++j)
        for (int64_t i = i0; i < i1; ++i) out[j * m + i] = t[i * w + j];
    }
}

}  // namespace

void CpuBackend::k_nearest(ConstMatrixView q, ConstMatrixView x, int k, int32_t* idx, float* dist2) {
  k_nearest_bounded(q, x, k, idx, dist2, nullptr);
}

void CpuBackend::k_nearest_among(ConstMatrixView x, const int32_t* q_rows, int64_t n_q, const int32_t* cand,
                                 int64_t n_cand, int k, int32_t* idx, float* dist2, const float* bound) {
  if (n_q == 0) return;
  assert(k >= 1 && k <= n_cand);
  const int64_t d = x.cols;
  std::vector<float> q(static_cast<size_t>(n_q * d)), c(static_cast<size_t>(n_cand * d));
#pragma omp parallel for num_threads(threads_) schedule(static) if ((n_q + n_cand) * d >= kParallelMinWork)
  for (int64_t i = 0; i < n_q + n_cand; ++i) {
    if (i < n_q)
      std::copy_n(x.row(q_rows[i]), d, q.data() + i * d);
    else
      std::copy_n(x.row(cand[i - n_q]), d, c.data() + (i - n_q) * d);
  }
  k_nearest_bounded({q.data(), n_q, d}, {c.data(), n_cand, d}, k, idx, dist2, bound);
  for (int64_t t = 0; t < n_q * k; ++t)
    if (idx[t] >= 0) idx[t] = cand[idx[t]];
}

void CpuBackend::k_nearest_bounded(ConstMatrixView q, ConstMatrixView x, int k, int32_t* idx, float* dist2,
                                   const float* bound) {
  const int64_t n = q.rows, d = q.cols;
  if (n == 0) return;
  assert(x.cols == d && k >= 1 && k <= x.rows);
  const std::vector<float> xn = squared_norms(x, threads_);
  const Plan plan = make_plan(n, x.rows, kPartialBytes / (n * k * static_cast<int64_t>(sizeof(Neighbour))));
  // With several ranges of tiles, each range's sorted lists (padded with -1 / +inf),
  // merged below in range order.
  std::vector<Neighbour> partial(plan.ranges > 1 ? static_cast<size_t>(plan.ranges * n * k) : 0);

  use_blas_threads(threads_);
#pragma omp parallel num_threads(threads_) if (n * x.rows * d >= kParallelMinWork)
  {
    // Per-thread scratch, allocated once per call.
    const int64_t block = std::min(plan.block_rows, n);
    std::vector<float> tile(static_cast<size_t>(block * std::min(kTileRows, x.rows)));
    std::vector<float> qn(static_cast<size_t>(block));
    std::vector<Neighbour> store(static_cast<size_t>(block * 2 * k));
    std::vector<KBest> lists;
    lists.reserve(static_cast<size_t>(block));
    for (int64_t i = 0; i < block; ++i) lists.emplace_back(store.data() + i * 2 * k, k);

#pragma omp for schedule(dynamic)
    for (int64_t u = 0; u < plan.units(); ++u) {
      const int64_t bi = u / plan.ranges, r = u % plan.ranges;
      const int64_t b = bi * plan.block_rows, m = std::min(plan.block_rows, n - b);
      for (int64_t i = 0; i < m; ++i) {
        lists[i].reset(bound ? bound[b + i] : kInf);
        qn[i] = static_cast<float>(squared_norm(q.row(b + i), d));
      }
      for (int64_t t = plan.tile_begin(r); t < plan.tile_begin(r + 1); ++t) {
        const int64_t base = t * kTileRows, w = std::min(kTileRows, x.rows - base);
        gemm_minus2(q.row(b), m, x.row(base), w, d, tile.data());
        for (int64_t i = 0; i < m; ++i) {
          select_row(tile.data() + i * w, xn.data() + base, w, qn[i], static_cast<int32_t>(base), lists[i]);
        }
      }
      for (int64_t i = 0; i < m; ++i) {
        const int held = lists[i].finish();
        const Neighbour* s = lists[i].data();
        if (plan.ranges == 1) {
          int32_t* oi = idx + (b + i) * k;
          float* od = dist2 + (b + i) * k;
          for (int t = 0; t < k; ++t) {
            oi[t] = t < held ? s[t].j : -1;
            od[t] = t < held ? s[t].d : kInf;
          }
        } else {
          Neighbour* p = partial.data() + (r * n + b + i) * k;
          std::copy_n(s, held, p);
          std::fill(p + held, p + k, Neighbour{kInf, -1});
        }
      }
    }
  }
  if (plan.ranges == 1) return;

  // Ranges hold increasing indices, so merging them in order keeps the lower index
  // on equal distances; each range's list is sorted, so it stops at the bound.
#pragma omp parallel num_threads(threads_) if (n * k * plan.ranges >= kParallelMinWork)
  {
    std::vector<Neighbour> store(static_cast<size_t>(2 * k));
    KBest list(store.data(), k);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      list.reset();
      for (int64_t r = 0; r < plan.ranges; ++r) {
        const Neighbour* p = partial.data() + (r * n + i) * k;
        for (int t = 0; t < k && p[t].d < list.bound(); ++t) list.push(p[t].d, p[t].j);
      }
      const int held = list.finish();
      for (int t = 0; t < k; ++t) {
        idx[i * k + t] = t < held ? store[t].j : -1;
        dist2[i * k + t] = t < held ? store[t].d : kInf;
      }
    }
  }
}

void CpuBackend::k_nearest_within(ConstMatrixView x, const int32_t* rows, int64_t n, int k, int32_t* idx,
                                  float* dist2, const float* bound) {
  if (n == 0) return;
  assert(k >= 1 && k <= n);
  const int64_t d = x.cols;
  std::vector<float> g(static_cast<size_t>(n * d));
#pragma omp parallel for num_threads(threads_) schedule(static) if (n * d >= kParallelMinWork)
  for (int64_t i = 0; i < n; ++i) {
    assert(i == 0 || rows[i] > rows[i - 1]);
    std::copy_n(x.row(rows[i]), d, g.data() + i * d);
  }
  const ConstMatrixView q{g.data(), n, d};
  const std::vector<float> qn = squared_norms(q, threads_);
  // Square tiles, at least three a side when the rows allow (six units for the
  // threads to share); the tiling follows from n alone.
  const int64_t side = std::clamp<int64_t>((n + 2) / 3, kMinBlockRows, kWithinTile);
  const int64_t nb = (n + side - 1) / side;
  // Units (a, b), a <= b, in this order: a row of block r meets its candidates
  // in increasing blocks, (0, r) ... (r, r) ... (r, nb - 1), so every list sees
  // increasing indices, as KBest asks.
  std::vector<std::pair<int32_t, int32_t>> units;
  for (int64_t a = 0; a < nb; ++a)
    for (int64_t b = a; b < nb; ++b) units.emplace_back(static_cast<int32_t>(a), static_cast<int32_t>(b));
  const int nt = n * n * d >= kParallelMinWork ? threads_ : 1;
  // Per thread, a list per row (2k entries of storage each).
  std::vector<Neighbour> store(static_cast<size_t>(nt) * static_cast<size_t>(n) * 2 * k);
  std::vector<KBest> lists;
  lists.reserve(static_cast<size_t>(nt * n));
  for (int64_t t = 0; t < nt * n; ++t) lists.emplace_back(store.data() + t * 2 * k, k);

  use_blas_threads(threads_);
#pragma omp parallel num_threads(nt)
  {
    KBest* mine = lists.data() + static_cast<int64_t>(omp_get_thread_num()) * n;
    for (int64_t i = 0; i < n; ++i) mine[i].reset(bound ? bound[i] : kInf);
    std::vector<float> tile(static_cast<size_t>(side * side)), flip(tile.size());
#pragma omp for schedule(dynamic)
    for (size_t u = 0; u < units.size(); ++u) {
      const int64_t r0 = units[u].first * side, c0 = units[u].second * side;
      const int64_t mr = std::min(side, n - r0), mc = std::min(side, n - c0);
      gemm_minus2(q.row(r0), mr, q.row(c0), mc, d, tile.data());
      for (int64_t i = 0; i < mr; ++i) {
        float* t = tile.data() + i * mc;
        const float a = qn[r0 + i];
        const float* xn = qn.data() + c0;
#pragma omp simd
        for (int64_t j = 0; j < mc; ++j) {
          const float v = a + (xn[j] + t[j]);
          t[j] = v < 0.0f ? 0.0f : v;
        }
        offer_row(t, mc, static_cast<int32_t>(c0), mine[r0 + i]);
      }
      if (r0 == c0) continue;  // a diagonal tile holds both directions already
      transpose(tile.data(), mr, mc, flip.data());
      for (int64_t j = 0; j < mc; ++j) offer_row(flip.data() + j * mr, mr, static_cast<int32_t>(r0), mine[c0 + j]);
    }
  }

  // Each row's lists merged: the k best (distance, position) pairs of all
  // threads', whichever thread saw them.
#pragma omp parallel num_threads(threads_) if (n * k * nt >= kParallelMinWork)
  {
    std::vector<Neighbour> buf(static_cast<size_t>(2 * k));
    KBest merged(buf.data(), k);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      merged.reset(bound ? bound[i] : kInf);
      for (int t = 0; t < nt; ++t) {
        KBest& l = lists[t * n + i];
        const int held = l.finish();
        for (int e = 0; e < held; ++e) merged.push(l.data()[e].d, l.data()[e].j);
      }
      const int held = merged.finish();
      for (int t = 0; t < k; ++t) {
        idx[i * k + t] = t < held ? rows[buf[t].j] : -1;
        dist2[i * k + t] = t < held ? buf[t].d : kInf;
      }
    }
  }
}

void CpuBackend::nearest_other_component(ConstMatrixView x, const int32_t* rows, int64_t n_rows, const float* core2,
                                         const int32_t* component, const int32_t* cand, int64_t n_cand,
                                         int32_t* nearest, float* weight2) {
  const int64_t d = x.cols;
  if (n_rows == 0) return;
  assert(x.rows >= 1 && rows && core2 && component && nearest && weight2);
  // The searched rows by position: all of x, or the candidates (increasing rows,
  // so the lowest position on a tie is the lowest row). With candidates, their
  // norms, core distances and components are gathered once and each tile's rows
  // are gathered before its GEMM.
  const int64_t n_pos = cand ? n_cand : x.rows;
  // Candidates that are one run of rows are read in place; others are gathered
  // once here (not once per block of queries) when that copy is small enough.
  const bool run = cand && n_cand > 0 && cand[n_cand - 1] - cand[0] == n_cand - 1;
  const bool gather_once = cand && !run && n_cand * d <= kGatherOnceFloats;
  std::vector<float> cand_rows(gather_once ? static_cast<size_t>(n_cand * d) : 0);
  std::vector<float> cand_core, cand_xn;
  std::vector<int32_t> cand_comp;
  std::vector<float> xn;
  if (cand) {
    cand_core.resize(static_cast<size_t>(n_pos));
    cand_comp.resize(static_cast<size_t>(n_pos));
    cand_xn.resize(static_cast<size_t>(n_pos));
#pragma omp parallel for num_threads(threads_) schedule(static) if (n_pos * d >= kParallelMinWork)
    for (int64_t p = 0; p < n_pos; ++p) {
      assert(cand[p] >= 0 && cand[p] < x.rows && (p == 0 || cand[p] > cand[p - 1]));
      cand_core[p] = core2[cand[p]];
      cand_comp[p] = component[cand[p]];
      cand_xn[p] = static_cast<float>(squared_norm(x.row(cand[p]), d));
      if (gather_once) std::copy_n(x.row(cand[p]), d, cand_rows.data() + p * d);
    }
  } else {
    xn = squared_norms(x, threads_);
  }
  const float* pos_xn = cand ? cand_xn.data() : xn.data();
  const float* pos_core = cand ? cand_core.data() : core2;
  const int32_t* pos_comp = cand ? cand_comp.data() : component;
  if (n_pos == 0) {
    std::fill_n(nearest, n_rows, -1);
    std::fill_n(weight2, n_rows, kInf);
    return;
  }
  const Plan plan = make_plan(n_rows, n_pos, std::numeric_limits<int64_t>::max());
  const std::vector<TileFacts> facts = tile_facts(n_pos, plan.tiles, pos_core, pos_comp);
  // With several ranges of tiles, each range's best per row, merged below in order.
  std::vector<Neighbour> partial(plan.ranges > 1 ? static_cast<size_t>(plan.ranges * n_rows) : 0);

  use_blas_threads(threads_);
#pragma omp parallel num_threads(threads_) if (n_rows * n_pos * d >= kParallelMinWork)
  {
    // Per-thread scratch, allocated once per call: the block's rows gathered, and
    // the rows a tile can still improve gathered again (the GEMM skips the rest).
    const int64_t block = std::min(plan.block_rows, n_rows);
    std::vector<float> qb(static_cast<size_t>(block * d)), active_rows(static_cast<size_t>(block * d));
    std::vector<float> tile(static_cast<size_t>(block * std::min(kTileRows, n_pos)));
    std::vector<float> tile_rows(cand && !run && !gather_once ? static_cast<size_t>(std::min(kTileRows, n_pos) * d)
                                                              : 0);
    std::vector<float> qn(static_cast<size_t>(block)), cr(static_cast<size_t>(block));
    std::vector<int32_t> comp(static_cast<size_t>(block)), active(static_cast<size_t>(block));
    std::vector<Neighbour> best(static_cast<size_t>(block));

#pragma omp for schedule(dynamic)
    for (int64_t u = 0; u < plan.units(); ++u) {
      const int64_t bi = u / plan.ranges, r = u % plan.ranges;
      const int64_t b = bi * plan.block_rows, m = std::min(plan.block_rows, n_rows - b);
      for (int64_t i = 0; i < m; ++i) {
        const int32_t row = rows[b + i];
        assert(row >= 0 && row < x.rows);
        std::copy_n(x.row(row), d, qb.data() + i * d);
        qn[i] = static_cast<float>(squared_norm(x.row(row), d));
        cr[i] = core2[row];
        comp[i] = component[row];
        best[i] = {kInf, -1};
      }
      for (int64_t t = plan.tile_begin(r); t < plan.tile_begin(r + 1); ++t) {
        // A row gains nothing from a tile all in its own component, or when even the
        // tile's smallest core distance cannot beat what it has (w >= both cores).
        int64_t na = 0;
        for (int64_t i = 0; i < m; ++i)
          if (!(facts[t].uniform && comp[i] == facts[t].component) && std::max(cr[i], facts[t].min_core2) < best[i].d)
            active[na++] = i;
        if (na == 0) continue;
        const float* qa = qb.data();
        if (na < m) {
          for (int64_t a = 0; a < na; ++a) std::copy_n(qb.data() + active[a] * d, d, active_rows.data() + a * d);
          qa = active_rows.data();
        }
        const int64_t base = t * kTileRows, w = std::min(kTileRows, n_pos - base);
        const float* xt = run ? x.row(cand[0] + base) : gather_once ? cand_rows.data() + base * d : x.row(base);
        if (cand && !run && !gather_once) {
          for (int64_t j = 0; j < w; ++j) std::copy_n(x.row(cand[base + j]), d, tile_rows.data() + j * d);
          xt = tile_rows.data();
        }
        gemm_minus2(qa, na, xt, w, d, tile.data());
        const float* xn_t = pos_xn + base;
        const float* core_t = pos_core + base;
        const int32_t* comp_t = pos_comp + base;
        for (int64_t a = 0; a < na; ++a) {
          const int64_t i = active[a];
          float* ti = tile.data() + a * w;
          const float qni = qn[i], cri = cr[i];
          const int32_t ci = comp[i];
          // w = max(core2[r], core2[j], d2) for j in another component, +inf otherwise.
          float low = kInf;
#pragma omp simd reduction(min : low)
          for (int64_t j = 0; j < w; ++j) {
            float v = qni + (xn_t[j] + ti[j]);
            v = v < 0.0f ? 0.0f : v;
            v = v < core_t[j] ? core_t[j] : v;
            v = v < cri ? cri : v;
            v = comp_t[j] == ci ? kInf : v;
            ti[j] = v;
            low = v < low ? v : low;
          }
          if (low < best[i].d) {  // strict: an earlier tile's lower index keeps a tie
            const int64_t j = std::find(ti, ti + w, low) - ti;
            best[i] = {low, static_cast<int32_t>(base + j)};
          }
        }
      }
      for (int64_t i = 0; i < m; ++i) {
        if (cand && best[i].j >= 0) best[i].j = cand[best[i].j];
        if (plan.ranges == 1) {
          nearest[b + i] = best[i].j;
          weight2[b + i] = best[i].d;
        } else {
          partial[r * n_rows + b + i] = best[i];
        }
      }
    }
  }
  if (plan.ranges == 1) return;
  // Ranges in order, strictly better only: the lowest index wins a tie.
  for (int64_t t = 0; t < n_rows; ++t) {
    Neighbour b{kInf, -1};
    for (int64_t r = 0; r < plan.ranges; ++r)
      if (partial[r * n_rows + t].d < b.d) b = partial[r * n_rows + t];
    nearest[t] = b.j;
    weight2[t] = b.d;
  }
}

}  // namespace emb
