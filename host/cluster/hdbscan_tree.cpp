#include "host/cluster/hdbscan_tree.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include "host/core/error.hpp"

namespace emb {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Union-find over the single-linkage tree's nodes: a merge makes a new node.
class LinkageUnionFind {
 public:
  explicit LinkageUnionFind(int64_t n) : parent_(2 * n - 1, -1), size_(2 * n - 1, 1), next_(n) {}
  int64_t find(int64_t x) {
    int64_t root = x;
    while (parent_[root] != -1) root = parent_[root];
    while (parent_[x] != -1 && parent_[x] != root) {  // path compression
      int64_t up = parent_[x];
      parent_[x] = root;
      x = up;
    }
    return root;
  }
  int64_t size(int64_t x) const { return size_[x]; }
  void merge(int64_t a, int64_t b) {
    size_[next_] = size_[a] + size_[b];
    parent_[a] = next_;
    parent_[b] = next_;
    ++next_;
  }

 private:
  std::vector<int64_t> parent_;
  std::vector<int64_t> size_;
  int64_t next_;
};

// Nodes of the single-linkage tree below `start` (itself included), breadth first,
// left child before right.
void bfs_hierarchy(const std::vector<double>& h, int64_t n, int64_t start, std::vector<int64_t>& out) {
  out.clear();
  out.push_back(start);
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t node = out[i];
    if (node < n) continue;
    const double* row = &h[4 * (node - n)];
    out.push_back(static_cast<int64_t>(row[0]));
    out.push_back(static_cast<int64_t>(row[1]));
  }
}

}  // namespace

std::vector<double> single_linkage_tree(std::vector<MstEdge>& edges, int64_t n) {
  EMB_EXPECTS(static_cast<int64_t>(edges.size()) == n - 1, "a spanning tree of ", n, " points has ", n - 1,
              " edges, got ", edges.size());
  std::stable_sort(edges.begin(), edges.end(), [](const MstEdge& x, const MstEdge& y) { return x.weight < y.weight; });
  std::vector<double> out(4 * edges.size());
  if (n < 2) return out;
  LinkageUnionFind uf(n);
  for (size_t i = 0; i < edges.size(); ++i) {
    const int64_t aa = uf.find(edges[i].a), bb = uf.find(edges[i].b);
    EMB_EXPECTS(aa != bb, "the edges do not form a spanning tree: edge ", i, " closes a cycle");
    out[4 * i + 0] = static_cast<double>(aa);
    out[4 * i + 1] = static_cast<double>(bb);
    out[4 * i + 2] = edges[i].weight;
    out[4 * i + 3] = static_cast<double>(uf.size(aa) + uf.size(bb));
    uf.merge(aa, bb);
  }
  return out;
}

io::CondensedTree condense_tree(const std::vector<double>& h, int64_t n, int64_t min_cluster_size) {
  io::CondensedTree t;
  if (n < 2) return t;
  const int64_t root = 2 * (n - 1);
  std::vector<int64_t> nodes, sub;
  bfs_hierarchy(h, n, root, nodes);
  std::vector<int64_t> relabel(static_cast<size_t>(root) + 1, 0);
  std::vector<char> ignore(static_cast<size_t>(root) + 1, 0);
  relabel[root] = n;
  int64_t next_label = n + 1;
  auto add = [&](int64_t parent, int64_t child, double lambda, int64_t size) {
    t.parent.push_back(parent);
    t.child.push_back(child);
    t.lambda_val.push_back(lambda);
    t.child_size.push_back(size);
  };
  auto fall_out = [&](int64_t parent_label, int64_t subtree, double lambda) {
    bfs_hierarchy(h, n, subtree, sub);
    for (int64_t s : sub) {
      if (s < n) add(parent_label, s, lambda, 1);
      ignore[s] = 1;
    }
  };
  for (int64_t node : nodes) {
    if (ignore[node] || node < n) continue;
    const double* row = &h[4 * (node - n)];
    const int64_t left = static_cast<int64_t>(row[0]), right = static_cast<int64_t>(row[1]);
    const double lambda = row[2] > 0.0 ? 1.0 / row[2] : kInf;
    const int64_t left_count = left >= n ? static_cast<int64_t>(h[4 * (left - n) + 3]) : 1;
    const int64_t right_count = right >= n ? static_cast<int64_t>(h[4 * (right - n) + 3]) : 1;
    const bool left_big = left_count >= min_cluster_size, right_big = right_count >= min_cluster_size;
    if (left_big && right_big) {
      relabel[left] = next_label++;
      add(relabel[node], relabel[left], lambda, left_count);
      relabel[right] = next_label++;
      add(relabel[node], relabel[right], lambda, right_count);
    } else if (!left_big && !right_big) {
      fall_out(relabel[node], left, lambda);
      fall_out(relabel[node], right, lambda);
    } else if (!left_big) {
      relabel[right] = relabel[node];
      fall_out(relabel[node], left, lambda);
    } else {
      relabel[left] = relabel[node];
      fall_out(relabel[node], right, lambda);
    }
  }
  return t;
}

TreeResult extract_clusters(const io::CondensedTree& tree, int64_t n, const TreeOptions& opts) {
  TreeResult r;
  r.condensed = tree;
  r.labels.assign(static_cast<size_t>(n), -1);
  r.probabilities.assign(static_cast<size_t>(n), 0.0);
  r.outlier_scores.assign(static_cast<size_t>(n), 0.0);
  r.exemplar_offsets = {0};
  if (tree.size() == 0) return r;

  const int64_t root = n;
  int64_t top = root;
  for (size_t i = 0; i < tree.size(); ++i) top = std::max({top, tree.parent[i], tree.child[i]});
  const size_t clusters = static_cast<size_t>(top - root + 1);
  auto ci = [&](int64_t c) { return static_cast<size_t>(c - root); };

  // Per cluster: its parent and birth lambda (from its own row), the largest lambda
  // among its rows ("death"), its size, and its children in the cluster tree.
  std::vector<int64_t> parent_of(clusters, -1);
  std::vector<double> birth(clusters, std::nan("")), death(clusters, 0.0), node_eps(clusters, 0.0);
  std::vector<int64_t> size_of(clusters, 0);
  std::vector<std::vector<int64_t>> children(clusters);
  std::vector<char> is_parent(clusters, 0);
  double max_lambda = 0.0, max_eps = 0.0;
  bool first = true;
  for (size_t i = 0; i < tree.size(); ++i) {
    const int64_t p = tree.parent[i], c = tree.child[i];
    const double l = tree.lambda_val[i];
    max_lambda = first ? l : std::max(max_lambda, l);
    max_eps = first ? 1.0 / l : std::max(max_eps, 1.0 / l);
    first = false;
    death[ci(p)] = is_parent[ci(p)] ? std::max(death[ci(p)], l) : l;
    is_parent[ci(p)] = 1;
    if (tree.child_size[i] > 1) {  // a cluster row
      parent_of[ci(c)] = p;
      birth[ci(c)] = l;
      node_eps[ci(c)] = 1.0 / l;
      size_of[ci(c)] = tree.child_size[i];
      children[ci(p)].push_back(c);
    }
  }
  birth[0] = 0.0;

  // Stability: the excess of mass of each cluster.
  std::vector<double> stability(clusters, 0.0);
  for (size_t i = 0; i < tree.size(); ++i)
    stability[ci(tree.parent[i])] += (tree.lambda_val[i] - birth[ci(tree.parent[i])]) *
                                     static_cast<double>(tree.child_size[i]);

  // Clusters that are parents, from the highest id down (children before parents).
  std::vector<int64_t> node_list;
  for (int64_t c = top; c >= root; --c)
    if (is_parent[ci(c)] && (c != root || opts.allow_single_cluster)) node_list.push_back(c);
  std::vector<char> is_cluster(clusters, 0);
  for (int64_t c : node_list) is_cluster[ci(c)] = 1;
  const int64_t max_size = opts.max_cluster_size <= 0 ? n + 1 : opts.max_cluster_size;
  if (opts.allow_single_cluster) {
    int64_t s = 0;
    for (int64_t c : children[0]) s += size_of[ci(c)];
    size_of[0] = s;
    node_eps[0] = max_eps;
  }
  // Any cluster below the root (the first split is always the root's).
  const bool has_cluster_tree = !children[0].empty();
  auto descendants = [&](int64_t c, std::vector<int64_t>& out) {  // breadth first, c first
    out.assign(1, c);
    for (size_t i = 0; i < out.size(); ++i)
      for (int64_t ch : children[ci(out[i])]) out.push_back(ch);
  };
  std::vector<int64_t> below;

  // Climbs from a leaf to the cluster that cluster_selection_epsilon keeps.
  auto traverse_upwards = [&](int64_t leaf) {
    for (;;) {
      const int64_t parent = parent_of[ci(leaf)];
      if (parent == root) return opts.allow_single_cluster ? parent : leaf;
      if (node_eps[ci(parent)] > opts.cluster_selection_epsilon) return parent;
      leaf = parent;
    }
  };
  auto epsilon_search = [&](const std::vector<int64_t>& leaves) {
    std::vector<char> processed(clusters, 0), chosen(clusters, 0);
    for (int64_t leaf : leaves) {
      if (node_eps[ci(leaf)] < opts.cluster_selection_epsilon) {
        if (!processed[ci(leaf)]) {
          const int64_t keep = traverse_upwards(leaf);
          chosen[ci(keep)] = 1;
          descendants(keep, below);
          for (int64_t s : below)
            if (s != keep) processed[ci(s)] = 1;
        }
      } else {
        chosen[ci(leaf)] = 1;
      }
    }
    return chosen;
  };

  if (opts.selection == ClusterSelection::Eom) {
    for (int64_t node : node_list) {
      // As the reference does: the children's stabilities summed in single precision.
      float subtree = 0.0f;
      for (int64_t ch : children[ci(node)]) subtree = static_cast<float>(static_cast<double>(subtree) + stability[ci(ch)]);
      if (static_cast<double>(subtree) > stability[ci(node)] || size_of[ci(node)] > max_size ||
          node_eps[ci(node)] > opts.cluster_selection_epsilon_max) {
        is_cluster[ci(node)] = 0;
        stability[ci(node)] = subtree;
      } else {
        descendants(node, below);
        for (int64_t s : below)
          if (s != node) is_cluster[ci(s)] = 0;
      }
    }
    if (opts.cluster_selection_epsilon != 0.0 && has_cluster_tree) {
      std::vector<int64_t> eom;
      for (int64_t c = root; c <= top; ++c)
        if (is_cluster[ci(c)]) eom.push_back(c);
      std::vector<char> chosen(clusters, 0);
      if (eom.size() == 1 && eom[0] == root) {
        if (opts.allow_single_cluster) chosen[0] = 1;
      } else {
        chosen = epsilon_search(eom);
      }
      for (int64_t c : node_list) is_cluster[ci(c)] = chosen[ci(c)];
    }
  } else {
    std::vector<int64_t> leaves;
    if (has_cluster_tree)
      for (int64_t c = root; c <= top; ++c)
        if (c != root && parent_of[ci(c)] >= 0 && children[ci(c)].empty()) leaves.push_back(c);
    std::vector<char> chosen(clusters, 0);
    if (opts.cluster_selection_epsilon != 0.0) chosen = epsilon_search(leaves);
    else
      for (int64_t c : leaves) chosen[ci(c)] = 1;
    for (int64_t c : node_list) is_cluster[ci(c)] = chosen[ci(c)];
  }

  for (int64_t c = root; c <= top; ++c)
    if (is_cluster[ci(c)]) r.selected.push_back(c);
  const size_t k = r.selected.size();
  std::vector<int32_t> label_of(clusters, -1);
  for (size_t l = 0; l < k; ++l) label_of[ci(r.selected[l])] = static_cast<int32_t>(l);

  // Labels: a point belongs to its nearest selected ancestor. owner[c] is the
  // selected cluster c lies in, or the root when none.
  std::vector<int64_t> owner(clusters, root);
  for (int64_t c = root; c <= top; ++c) {  // parents have lower ids than their children
    if (c != root && parent_of[ci(c)] >= 0) owner[ci(c)] = owner[ci(parent_of[ci(c)])];
    if (is_cluster[ci(c)]) owner[ci(c)] = c;
  }
  const bool single_root = k == 1 && opts.allow_single_cluster && is_cluster[0];
  for (size_t i = 0; i < tree.size(); ++i) {
    const int64_t p = tree.child[i];
    if (p >= root) continue;
    const int64_t own = owner[ci(tree.parent[i])];
    const double l = tree.lambda_val[i];
    if (own != root) {
      r.labels[p] = label_of[ci(own)];
    } else if (single_root) {
      const bool in = opts.cluster_selection_epsilon != 0.0 ? l >= 1.0 / opts.cluster_selection_epsilon
                                                            : l >= death[0];
      r.labels[p] = in ? 0 : -1;
    }
  }

  // Probabilities: lambda relative to the largest lambda among the cluster's own rows.
  for (size_t i = 0; i < tree.size(); ++i) {
    const int64_t p = tree.child[i];
    if (p >= root || r.labels[p] < 0) continue;
    const double m = death[ci(r.selected[r.labels[p]])], l = tree.lambda_val[i];
    r.probabilities[p] = (m == 0.0 || !std::isfinite(l)) ? 1.0 : std::min(l, m) / m;
  }

  // Persistence (the package's cluster_persistence_).
  std::vector<int64_t> counts(k, 0);
  for (int32_t l : r.labels)
    if (l >= 0) ++counts[l];
  r.persistence.resize(k);
  for (size_t l = 0; l < k; ++l)
    r.persistence[l] = (std::isinf(max_lambda) || max_lambda == 0.0 || counts[l] == 0)
                           ? 1.0
                           : stability[ci(r.selected[l])] / (static_cast<double>(counts[l]) * max_lambda);

  // GLOSH: deaths propagated up the tree, rows taken from the last to the first.
  std::vector<double> deep = death;
  for (size_t i = tree.size(); i-- > 0;) {
    const int64_t c = tree.child[i];
    if (c < root) continue;
    deep[ci(tree.parent[i])] = std::max(deep[ci(tree.parent[i])], deep[ci(c)]);
  }
  for (size_t i = 0; i < tree.size(); ++i) {
    const int64_t p = tree.child[i];
    if (p >= root) continue;
    const double m = deep[ci(tree.parent[i])], l = tree.lambda_val[i];
    r.outlier_scores[p] = (m == 0.0 || !std::isfinite(l)) ? 0.0 : (m - l) / m;
  }

  // Exemplars: in every leaf below a selected cluster, the points that stay longest.
  std::vector<std::vector<size_t>> rows_of(clusters);
  for (size_t i = 0; i < tree.size(); ++i)
    if (tree.child[i] < root) rows_of[ci(tree.parent[i])].push_back(i);
  std::vector<int64_t> stack;
  for (size_t l = 0; l < k; ++l) {
    // Depth-first, children in row order (the package's recurse_leaf_dfs).
    std::vector<int64_t> leaves;
    std::vector<std::pair<int64_t, size_t>> dfs{{r.selected[l], 0}};
    while (!dfs.empty()) {
      auto& [c, next] = dfs.back();
      const auto& ch = children[ci(c)];
      if (ch.empty()) {
        leaves.push_back(c);
        dfs.pop_back();
      } else if (next < ch.size()) {
        dfs.push_back({ch[next++], 0});
      } else {
        dfs.pop_back();
      }
    }
    for (int64_t leaf : leaves) {
      double m = -kInf;
      for (size_t i : rows_of[ci(leaf)]) m = std::max(m, tree.lambda_val[i]);
      for (size_t i : rows_of[ci(leaf)])
        if (tree.lambda_val[i] == m) r.exemplars.push_back(static_cast<int32_t>(tree.child[i]));
    }
    r.exemplar_offsets.push_back(static_cast<int64_t>(r.exemplars.size()));
  }
  return r;
}

TreeResult hdbscan_tree(std::vector<MstEdge> edges, int64_t n, const TreeOptions& opts) {
  EMB_USAGE(opts.min_cluster_size >= 2, "min_cluster_size must be at least 2, got ", opts.min_cluster_size);
  std::vector<double> sl = single_linkage_tree(edges, n);
  io::CondensedTree ct = condense_tree(sl, n, opts.min_cluster_size);
  TreeResult r = extract_clusters(ct, n, opts);
  r.single_linkage = std::move(sl);
  return r;
}

TreePredictor::TreePredictor(const io::CondensedTree& tree, const std::vector<int64_t>& selected, int64_t n)
    : n_(n), root_(n) {
  int64_t top = n;
  for (size_t i = 0; i < tree.size(); ++i) top = std::max({top, tree.parent[i], tree.child[i]});
  const size_t clusters = static_cast<size_t>(top - n + 1);
  point_parent_.assign(static_cast<size_t>(n), n);
  point_lambda_.assign(static_cast<size_t>(n), 0.0);
  cluster_parent_.assign(clusters, -1);
  cluster_lambda_.assign(clusters, 0.0);
  label_of_.assign(clusters, -1);
  max_lambda_.assign(clusters, 0.0);
  std::vector<double> death(clusters, 0.0);
  for (size_t i = 0; i < tree.size(); ++i) {
    const int64_t p = tree.parent[i], c = tree.child[i];
    EMB_EXPECTS(p >= n && p <= top && c >= 0 && (c < n || tree.child_size[i] > 1),
                "the condensed tree has a row (", p, ", ", c, ") that does not fit ", n, " points");
    death[p - n] = std::max(death[p - n], tree.lambda_val[i]);
    if (c < n) {
      point_parent_[c] = p;
      point_lambda_[c] = tree.lambda_val[i];
    } else {
      cluster_parent_[c - n] = p;
      cluster_lambda_[c - n] = tree.lambda_val[i];
      has_cluster_rows_ = true;
    }
  }
  std::vector<char> is_selected(clusters, 0);
  for (size_t l = 0; l < selected.size(); ++l) {
    EMB_EXPECTS(selected[l] >= n && selected[l] <= top, "selected cluster ", selected[l], " is not in the tree");
    is_selected[selected[l] - n] = 1;
  }
  // Top-down (a parent's id is lower than its children's): a cluster inherits the
  // label and largest lambda of its nearest selected ancestor.
  int32_t label = 0;
  std::vector<int32_t> own_label(clusters, -1);
  for (int64_t s : selected) own_label[s - n] = label++;
  for (size_t c = 0; c < clusters; ++c) {
    if (is_selected[c]) {
      label_of_[c] = own_label[c];
      max_lambda_[c] = death[c];
    } else if (cluster_parent_[c] >= 0) {
      label_of_[c] = label_of_[cluster_parent_[c] - n];
      max_lambda_[c] = max_lambda_[cluster_parent_[c] - n];
    }
  }
}

int32_t TreePredictor::predict(const int32_t* nbr, const double* dist, int count, int min_samples, const float* core,
                               double* probability) const {
  *probability = 0.0;
  // As the package: with no cluster below the root, every new point is noise.
  if (count <= 0 || !has_cluster_rows_) return -1;
  const double point_core = dist[std::min(min_samples, count - 1)];
  int best = 0;
  double best_mr = kInf;
  for (int t = 0; t < count; ++t) {
    const double mr = std::max({static_cast<double>(core[nbr[t]]), point_core, dist[t]});
    if (mr < best_mr) {
      best_mr = mr;
      best = t;
    }
  }
  double lambda = best_mr > 0.0 ? 1.0 / best_mr : std::numeric_limits<double>::max();
  const int32_t nn = nbr[best];
  int64_t potential = point_parent_[nn];
  if (point_lambda_[nn] > lambda) {
    while (potential > root_) {
      const size_t c = static_cast<size_t>(potential - n_);
      if (!(cluster_lambda_[c] >= lambda)) break;
      potential = cluster_parent_[c];
    }
  }
  const int32_t l = label_of_[potential - n_];
  if (l >= 0) {
    const double m = max_lambda_[potential - n_];
    *probability = m > 0.0 ? std::min(m, lambda) / m : 1.0;
  }
  return l;
}

}  // namespace emb
