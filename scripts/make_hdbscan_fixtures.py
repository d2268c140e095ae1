#!/usr/bin/env python3
"""Write the hdbscan reference results that the C++ HDBSCAN tests check.

Regenerate (needs numpy, scipy, h5py, scikit-learn and hdbscan 0.8.x; the output
is deterministic for given package versions, except the two sample-corpus cases,
whose points come from embedding tests/data/sample with the embclust binary):

    python3 scripts/make_hdbscan_fixtures.py                   # writes tests/data/hdbscan/reference.h5
    python3 scripts/make_hdbscan_fixtures.py -o OUT.h5 --embclust build/embclust
    python3 scripts/make_hdbscan_fixtures.py --sample-h5 sample.h5   # reuse existing embeddings

tests/data/hdbscan/README.md describes the file; in short, one group per case with
the points `X` (float32, n x d), the parameters as attributes, and what
hdbscan.HDBSCAN gives on those points widened to float64: labels, probabilities,
GLOSH outlier scores, persistence, the condensed tree, exemplars, core distances,
the spanning-tree weight, approximate_predict on new points where hdbscan supports
prediction (euclidean), and `tie_sensitive`, a per-point mask of the outputs that
change when ties between equal mutual-reachability distances are broken
differently (see the README: hdbscan's own answer there depends on numpy's
unstable argsort).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import warnings

import h5py
import numpy as np
import scipy
import sklearn
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import cdist
from sklearn.datasets import make_blobs, make_moons
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors

import hdbscan
from hdbscan._hdbscan_linkage import label as hdbscan_label
from hdbscan._hdbscan_tree import outlier_scores as hdbscan_outlier_scores
from hdbscan.hdbscan_ import _tree_to_labels
from hdbscan.prediction import approximate_predict

SCHEMA_VERSION = 1
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DEFAULT_OUT = os.path.join(ROOT, "tests", "data", "hdbscan", "reference.h5")
TIE_TRIALS = 40
MST_TOL = 1e-12


# --------------------------------------------------------------------------- data

def hierarchical(seed, groups=3, subs=3, per=130, group_spread=12.0, sub_spread=2.2, std=0.55, d=2):
    """Groups of nearby sub-blobs: the cluster tree has two clear levels."""
    rng = np.random.default_rng(seed)
    tops = rng.uniform(-group_spread, group_spread, size=(groups, d))
    pts = []
    for t in tops:
        for s in range(subs):
            c = t + rng.normal(0.0, sub_spread, size=d)
            pts.append(c + rng.normal(0.0, std, size=(per, d)))
    return np.vstack(pts)


def data_blobs_2d():
    return make_blobs(n_samples=600, centers=5, n_features=2, cluster_std=1.0, random_state=11)[0]


def data_blobs_8d():
    return make_blobs(n_samples=1200, centers=6, n_features=8, cluster_std=1.5, random_state=3)[0]


def data_moons():
    return make_moons(n_samples=800, noise=0.08, random_state=13)[0]


def data_varied():
    return make_blobs(n_samples=900, centers=3, cluster_std=[0.5, 1.5, 3.0], random_state=170)[0]


def data_aniso():
    x = make_blobs(n_samples=900, centers=3, random_state=170)[0]
    return x @ np.array([[0.6, -0.6], [-0.4, 0.8]])


def data_noise_blobs():
    rng = np.random.default_rng(16)
    centers = rng.uniform(-7, 7, size=(4, 3))
    blobs = [c + rng.normal(0, 0.45, size=(120, 3)) for c in centers]
    noise = rng.uniform(-10, 10, size=(700, 3))
    x = np.vstack(blobs + [noise])
    return x[rng.permutation(len(x))]


def data_single_blob():
    return make_blobs(n_samples=500, centers=1, n_features=2, cluster_std=1.0, random_state=19)[0]


def data_min_samples():
    return make_blobs(n_samples=1000, centers=5, n_features=4, cluster_std=[0.6, 1.0, 1.4, 1.8, 2.2],
                      random_state=21)[0]


def data_cosine_directions():
    """Points around 8 directions in 16-D with random lengths: only angles cluster."""
    rng = np.random.default_rng(23)
    dirs = rng.normal(size=(8, 16))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    pts = []
    for i, v in enumerate(dirs):
        m = 60 + 15 * i
        p = v + rng.normal(0, 0.18, size=(m, 16))
        pts.append(p)
    pts.append(rng.normal(size=(80, 16)))  # scattered directions: noise
    x = np.vstack(pts)
    x *= rng.uniform(0.5, 5.0, size=(len(x), 1))
    return x[rng.permutation(len(x))]


def data_duplicates():
    rng = np.random.default_rng(29)
    groups = [np.repeat(rng.uniform(-8, 8, size=(1, 2)), 40, axis=0) for _ in range(3)]
    noise = rng.uniform(-10, 10, size=(150, 2))
    x = np.vstack(groups + [noise])
    return x[rng.permutation(len(x))]


def data_tiny():
    rng = np.random.default_rng(31)
    return np.vstack([rng.normal(0, 0.3, size=(12, 2)), rng.normal(4, 0.3, size=(13, 2))])


# Each case: name, data (function or "sample"), hdbscan parameters, predict, exact, description.
def case(name, data, description, min_cluster_size, min_samples, metric="euclidean", method="eom",
         epsilon=0.0, allow_single_cluster=False, max_cluster_size=0, predict=True, exact=True):
    return dict(name=name, data=data, description=description, min_cluster_size=min_cluster_size,
                min_samples=min_samples, metric=metric, cluster_selection_method=method,
                cluster_selection_epsilon=float(epsilon), allow_single_cluster=bool(allow_single_cluster),
                max_cluster_size=max_cluster_size, predict=predict and metric == "euclidean", exact=exact)


CASES = [
    case("blobs_2d", data_blobs_2d, "make_blobs: 600 points, 5 centres in 2-D, std 1", 15, 10),
    case("blobs_8d", data_blobs_8d,
         "make_blobs: 1200 points, 6 centres in 8-D, std 1.5; min_samples = min_cluster_size",
         25, 25),
    case("moons", data_moons, "make_moons: 800 points, noise 0.08", 15, 5),
    case("varied_density", data_varied, "make_blobs: 900 points, 3 centres with std 0.5, 1.5 and 3 (2-D)", 20, 10),
    case("anisotropic", data_aniso, "make_blobs (900, 3 centres) sheared by [[0.6, -0.6], [-0.4, 0.8]]", 20, 10),
    case("noise_blobs", data_noise_blobs, "4 dense blobs of 120 points (std 0.45) in 700 uniform noise points, 3-D",
         30, 10),
    case("leaf", lambda: hierarchical(44), "3 groups of 3 nearby blobs (1170 points, 2-D); leaf selection", 20, 10,
         method="leaf"),
    case("epsilon", lambda: hierarchical(44),
         "the leaf data; EOM with cluster_selection_epsilon 1 (7 clusters become 4)",
         20, 10, epsilon=1.0),
    case("leaf_epsilon", lambda: hierarchical(44),
         "the leaf data; leaf selection with cluster_selection_epsilon 0.6 (8 clusters become 6)", 20, 10,
         method="leaf", epsilon=0.6),
    case("single_cluster", data_single_blob,
         "one Gaussian blob of 500 points; allow_single_cluster, EOM keeps the root although the tree splits; no "
         "labelled point leaves the root itself, so hdbscan's PredictionData (exemplars, approximate_predict) takes "
         "the root's first child for the cluster", 20, 5, allow_single_cluster=True),
    case("single_cluster_flat", data_single_blob,
         "the same blob; allow_single_cluster with min_cluster_size 150: no split survives, the root is the only "
         "cluster and approximate_predict calls everything noise", 150, 10,
         allow_single_cluster=True),
    case("max_cluster_size", lambda: hierarchical(45),
         "3 groups of 3 nearby blobs (2-D); EOM with max_cluster_size 250 (6 clusters without it, 9 with)", 20, 10,
         max_cluster_size=250),
    case("min_samples_small", data_min_samples,
         "make_blobs: 1000 points, 5 centres in 4-D, std 0.6..2.2; min_samples 3",
         40, 3),
    case("min_samples_large", data_min_samples, "the min_samples_small data; min_samples 30 > min_cluster_size 12",
         12, 30),
    case("cosine", data_cosine_directions,
         "900 points around 8 directions in 16-D with random lengths, plus 80 random directions; metric cosine", 20,
         10, metric="cosine"),
    case("sample_euclidean", "sample",
         "multilingual-e5-small embeddings (query prompt) of tests/data/sample, 384-D unit vectors; euclidean", 5, 5),
    case("sample_cosine", "sample", "the sample_euclidean embeddings; metric cosine", 5, 5, metric="cosine"),
    case("duplicates", data_duplicates,
         "3 groups of 40 identical points and 150 uniform noise points (2-D): ties everywhere, compare labels "
         "(up to renumbering) and n_clusters only", 20, 10, exact=False),
    case("tiny", data_tiny, "25 points in 2 blobs; min_samples 30 is clipped to n - 1 = 24", 5, 30, predict=False),
]


def sample_embeddings(args):
    """X of the sample cases: /embeddings/vectors of the shipped sample corpus."""
    if args.sample_h5:
        path = args.sample_h5
    else:
        binary = args.embclust
        if not os.path.exists(binary):
            sys.exit(f"make_hdbscan_fixtures: no embclust binary at {binary} (build it, pass --embclust, or "
                     f"--sample-h5 FILE with /embeddings/vectors)")
        tmp = tempfile.mkdtemp(prefix="hdbscan-fixtures-")
        path = os.path.join(tmp, "sample.h5")
        subprocess.run([binary, "run", os.path.join(ROOT, "tests", "data", "sample"), "-o", path,
                        "--config", os.path.join(ROOT, "configs", "default.toml"), "--device", "cpu",
                        "--threads", "1", "-q"], check=True, cwd=ROOT)
    with h5py.File(path, "r") as f:
        v = f["embeddings/vectors"]
        return np.asarray(v[()], dtype=np.float32), str(v.attrs.get("model", ""))


def prediction_points(x32, seed):
    """Jittered copies of data points (most land in clusters) and far-away points."""
    rng = np.random.default_rng(seed)
    n, d = x32.shape
    x = x32.astype(np.float64)
    lo, hi = x.min(axis=0), x.max(axis=0)
    span = hi - lo
    scale = np.median(np.linalg.norm(x - x.mean(axis=0), axis=1))
    near = x[rng.choice(n, 40, replace=False)] + rng.normal(0, 0.02 * scale / np.sqrt(d), size=(40, d))
    box = lo + rng.uniform(0, 1, size=(15, d)) * span
    far = x.mean(axis=0) + rng.normal(size=(10, d)) * 3 * scale
    p = np.vstack([near, box, far])
    if np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-3):  # unit vectors: keep them unit
        p /= np.linalg.norm(p, axis=1, keepdims=True)
    return p.astype(np.float32)


# ----------------------------------------------------------------------- analysis

def distances(x, metric):
    """Full distance matrix as hdbscan computes it: sqrt of a sum of squares
    (KD-tree paths) for euclidean, sklearn's cosine distances (generic path)."""
    if metric == "euclidean":
        return cdist(x, x, "euclidean")
    return pairwise_distances(x, metric="cosine")


def core_distances(x, dist, metric, min_samples):
    """Distance to the min_samples-th nearest other point (min_samples + 1 neighbours,
    the point itself first), computed two ways that must agree."""
    k = min_samples + 1
    from_matrix = np.partition(dist, min_samples, axis=1)[:, min_samples]
    algo = "kd_tree" if metric == "euclidean" else "brute"
    nn = NearestNeighbors(n_neighbors=k, metric=metric, algorithm=algo).fit(x)
    from_nn = nn.kneighbors(x)[0][:, -1]
    assert np.allclose(from_nn, from_matrix, rtol=0, atol=MST_TOL), np.abs(from_nn - from_matrix).max()
    return from_nn


def check_mst(mst, core, dist):
    a = mst[:, 0].astype(np.int64)
    b = mst[:, 1].astype(np.int64)
    w = mst[:, 2]
    lower = np.maximum(core[a], core[b])
    assert np.all(w >= lower - MST_TOL), ("MST edge below a core distance", (lower - w).max())
    mr = np.maximum(lower, dist[a, b])
    assert np.allclose(w, mr, rtol=0, atol=MST_TOL), ("MST edge is not its mutual reachability", np.abs(w - mr).max())
    # A spanning tree of n - 1 edges connecting everything.
    n = len(core)
    assert len(mst) == n - 1
    ncomp = scipy.sparse.csgraph.connected_components(
        scipy.sparse.coo_matrix((np.ones(n - 1), (a, b)), shape=(n, n)), directed=False)[0]
    assert ncomp == 1


def exemplar_rows(raw_tree, selected):
    """hdbscan's PredictionData exemplars as row indices: for each selected cluster
    (label order), for each leaf of its cluster sub-tree (depth first, children in
    tree order), the points leaving that leaf at its largest lambda (tree order)."""
    cluster_tree = raw_tree[raw_tree["child_size"] > 1]

    def leaves(node):
        children = cluster_tree[cluster_tree["parent"] == node]["child"]
        if len(children) == 0:
            return [node]
        return sum((leaves(c) for c in children), [])

    rows, offsets = [], [0]
    for c in sorted(selected):
        for leaf in leaves(c):
            sub = raw_tree[raw_tree["parent"] == leaf]
            pts = sub["child"][sub["lambda_val"] == sub["lambda_val"].max()]
            rows.extend(int(p) for p in pts)
        offsets.append(len(rows))
    return np.asarray(rows, dtype=np.int32), np.asarray(offsets, dtype=np.int64)


def match_labels(base, other):
    """other's labels renamed to base's by the largest overlap (noise stays noise)."""
    ka, kb = base.max() + 1, other.max() + 1
    m = max(ka, kb)
    if m <= 0:
        return other.copy()
    overlap = np.zeros((m, m))
    both = (base >= 0) & (other >= 0)
    np.add.at(overlap, (base[both], other[both]), 1)
    r, c = linear_sum_assignment(-overlap)
    rename = np.full(m + 1, -1)
    rename[c] = r
    out = rename[other]
    out[other < 0] = -1
    return out


def tree_outputs(x, mst_sorted, p):
    lab, prob, pers, ct, _ = _tree_to_labels(
        x, hdbscan_label(mst_sorted), p["min_cluster_size"], p["cluster_selection_method"],
        p["allow_single_cluster"], False, p["cluster_selection_epsilon"], 0.0, p["max_cluster_size"])
    return lab, prob, hdbscan_outlier_scores(ct), pers


def tie_analysis(x, dist, core, params, base, rng):
    """Re-run hdbscan's tree code on spanning trees found by Kruskal with random
    tie-breaking between equal mutual-reachability distances (and random edge
    orientation), and mark the points whose label (after renaming), probability or
    outlier score is not the same every time. Returns (mask, stable_k, stable_pers)."""
    n = len(x)
    mr = np.maximum(np.maximum(dist, core[:, None]), core[None, :])
    _, rank = np.unique(mr, return_inverse=True)
    rank = rank.reshape(n, n).astype(np.float64) + 1.0  # > 0: csgraph drops zeros
    mask = np.zeros(n, dtype=np.uint8)
    stable_k, stable_pers = True, True
    iu = np.triu_indices(n, 1)
    for _ in range(TIE_TRIALS):
        jitter = np.zeros((n, n))
        jitter[iu] = rng.uniform(0.0, 0.5, size=len(iu[0]))
        key = rank + jitter + jitter.T
        np.fill_diagonal(key, 0.0)
        t = minimum_spanning_tree(key).tocoo()
        a, b = t.row.astype(np.int64), t.col.astype(np.int64)
        order = np.argsort(t.data, kind="stable")
        a, b = a[order], b[order]
        flip = rng.random(len(a)) < 0.5
        a, b = np.where(flip, b, a), np.where(flip, a, b)
        mst = np.column_stack([a, b, mr[a, b]]).astype(np.float64)
        lab, prob, outl, pers = tree_outputs(x, mst, params)
        renamed = match_labels(base["labels"], lab)
        mask |= (renamed != base["labels"]).astype(np.uint8)
        mask |= (~np.isclose(prob, base["probabilities"], rtol=1e-9, atol=1e-12, equal_nan=True)).astype(np.uint8) << 1
        mask |= (~np.isclose(outl, base["outlier_scores"], rtol=1e-9, atol=1e-12, equal_nan=True)).astype(np.uint8) << 2
        if lab.max() + 1 != base["n_clusters"]:
            stable_k = False
        elif len(pers):
            # persistence in base label order
            inv = np.full(len(pers), -1)
            for new, old in zip(lab, renamed):
                if new >= 0:
                    inv[old] = new
            if (inv < 0).any() or not np.allclose(pers[inv], base["persistence"], rtol=1e-9, atol=1e-12):
                stable_pers = False
    return mask, stable_k, stable_pers


# ------------------------------------------------------------------------- cases

def run_case(p, x32, rng):
    x = x32.astype(np.float64)
    n, d = x.shape
    ms_eff = max(1, min(n - 1, p["min_samples"]))
    algorithm = "generic" if p["metric"] == "cosine" else "best"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = hdbscan.HDBSCAN(min_cluster_size=p["min_cluster_size"], min_samples=p["min_samples"],
                            metric=p["metric"], algorithm=algorithm, approx_min_span_tree=False,
                            gen_min_span_tree=True, prediction_data=p["predict"], core_dist_n_jobs=1,
                            cluster_selection_method=p["cluster_selection_method"],
                            cluster_selection_epsilon=p["cluster_selection_epsilon"],
                            allow_single_cluster=p["allow_single_cluster"],
                            max_cluster_size=p["max_cluster_size"]).fit(x)
    out = {}
    labels = c.labels_.astype(np.int32)
    k = int(labels.max() + 1)
    out["labels"] = labels
    out["n_clusters"] = k
    out["probabilities"] = np.asarray(c.probabilities_, dtype=np.float64)
    out["outlier_scores"] = np.asarray(c.outlier_scores_, dtype=np.float64)
    out["persistence"] = np.asarray(c.cluster_persistence_, dtype=np.float64)
    assert len(out["persistence"]) == k

    dist = distances(x, p["metric"])
    core = core_distances(x, dist, p["metric"], ms_eff)
    out["core_distances"] = core
    mst = c.minimum_spanning_tree_.to_numpy()
    check_mst(mst, core, dist)
    out["mst_weight"] = float(mst[:, 2].sum())

    raw = c.condensed_tree_.to_numpy()
    out["condensed_tree_parent"] = raw["parent"].astype(np.int64)
    out["condensed_tree_child"] = raw["child"].astype(np.int64)
    out["condensed_tree_lambda"] = raw["lambda_val"].astype(np.float64)
    out["condensed_tree_size"] = raw["child_size"].astype(np.int64)

    # hdbscan's tree code on its own sorted spanning tree gives its labels back.
    mst_sorted = mst[np.argsort(mst[:, 2]), :] if algorithm == "generic" else mst
    lab2, prob2, outl2, pers2 = tree_outputs(x, mst_sorted, p)
    same_tree = np.array_equal(lab2, c.labels_)

    # hdbscan's PredictionData takes, for each label, the smallest condensed-tree
    # parent among that label's points as "the" cluster (usually the selected one).
    selected = [int(s) for s in c.condensed_tree_._select_clusters()] if k > 0 else []
    out["prediction_clusters"] = np.asarray(selected, dtype=np.int64)
    rows, offsets = exemplar_rows(raw, selected)
    out["exemplars"], out["exemplar_offsets"] = rows, offsets
    assert len(offsets) == k + 1
    if p["predict"] and k > 0:
        pd = c.prediction_data_
        for i in range(k):
            np.testing.assert_array_equal(x[rows[offsets[i]:offsets[i + 1]]], pd.exemplars[i])
        out["prediction_core_distances"] = np.asarray(pd.core_distances, dtype=np.float64)
    if p["predict"]:
        px32 = prediction_points(x32, rng.integers(1 << 31))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pl, pp = approximate_predict(c, px32.astype(np.float64))
        out["predict_X"] = px32
        out["predict_labels"] = np.asarray(pl, dtype=np.int32)
        out["predict_probabilities"] = np.asarray(pp, dtype=np.float64)

    mask, stable_k, stable_pers = tie_analysis(x, dist, core, p, out, rng)
    out["tie_sensitive"] = mask
    out["ties_stable_n_clusters"] = int(stable_k)
    out["ties_stable_persistence"] = int(stable_pers)
    out["algorithm"] = "generic" if algorithm == "generic" else ("prims_kdtree" if d > 60 else "boruvka_kdtree")
    out["hdbscan_tree_reproduced"] = int(same_tree)
    return out


ARRAYS = ["labels", "probabilities", "outlier_scores", "persistence", "core_distances", "condensed_tree_parent",
          "condensed_tree_child", "condensed_tree_lambda", "condensed_tree_size", "exemplars", "exemplar_offsets",
          "prediction_clusters", "prediction_core_distances", "predict_X", "predict_labels", "predict_probabilities",
          "tie_sensitive"]


def put(g, name, data):
    """A dataset; larger ones in one chunk with the shuffle and deflate filters
    (lossless; libhdf5 undoes them on read when built with zlib, as Debian's is)."""
    data = np.asarray(data)
    if data.size >= 256:
        g.create_dataset(name, data=data, chunks=data.shape, shuffle=True, compression="gzip", compression_opts=9)
    else:
        g.create_dataset(name, data=data)


def write(path, args):
    rng = np.random.default_rng(20261122)
    sample = None
    rows = []
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    # v110 (HDF5 1.10, Debian's libhdf5) indexes a single-chunk dataset without a B-tree.
    with h5py.File(tmp, "w", libver=("v110", "v110")) as f:
        f.attrs["schema_version"] = np.int64(SCHEMA_VERSION)
        f.attrs["generator"] = "scripts/make_hdbscan_fixtures.py"
        f.attrs["hdbscan_version"] = hdbscan.__version__ if hasattr(hdbscan, "__version__") else _version("hdbscan")
        f.attrs["sklearn_version"] = sklearn.__version__
        f.attrs["numpy_version"] = np.__version__
        f.attrs["scipy_version"] = scipy.__version__
        f.attrs["cases"] = json.dumps([p["name"] for p in CASES])
        first_x = {}
        for p in CASES:
            if p["data"] == "sample":
                if sample is None:
                    sample = sample_embeddings(args)
                x32, model = sample
            else:
                x32 = np.ascontiguousarray(p["data"](), dtype=np.float32)
                model = ""
            out = run_case(p, x32, rng)
            g = f.create_group(p["name"])
            key = x32.tobytes()
            if key in first_x:  # same points as an earlier case: a hard link, stored once
                g["X"] = f[first_x[key]]
            else:
                put(g, "X", x32)
                first_x[key] = f"/{p['name']}/X"
            for name in ARRAYS:
                if name in out:
                    put(g, name, out[name])
            g.attrs["min_cluster_size"] = np.int64(p["min_cluster_size"])
            g.attrs["min_samples"] = np.int64(p["min_samples"])
            g.attrs["metric"] = p["metric"]
            g.attrs["cluster_selection_method"] = p["cluster_selection_method"]
            g.attrs["cluster_selection_epsilon"] = np.float64(p["cluster_selection_epsilon"])
            g.attrs["allow_single_cluster"] = np.int64(p["allow_single_cluster"])
            g.attrs["max_cluster_size"] = np.int64(p["max_cluster_size"])
            g.attrs["description"] = p["description"]
            g.attrs["n_clusters"] = np.int64(out["n_clusters"])
            g.attrs["mst_weight"] = np.float64(out["mst_weight"])
            g.attrs["exact"] = np.int64(p["exact"])
            g.attrs["has_prediction"] = np.int64(p["predict"])
            g.attrs["algorithm"] = out["algorithm"]
            g.attrs["tie_trials"] = np.int64(TIE_TRIALS)
            g.attrs["ties_stable_n_clusters"] = np.int64(out["ties_stable_n_clusters"])
            g.attrs["ties_stable_persistence"] = np.int64(out["ties_stable_persistence"])
            if model:
                g.attrs["model"] = model
            n, d = x32.shape
            m = out["tie_sensitive"]
            rows.append((p["name"], n, d, out["n_clusters"], float((out["labels"] < 0).mean()),
                         int(((m & 1) != 0).sum()), int((m != 0).sum()),
                         len(out["predict_labels"]) if "predict_labels" in out else 0,
                         out["ties_stable_n_clusters"], out["hdbscan_tree_reproduced"]))
    os.replace(tmp, path)
    print(f"{'case':<20} {'n':>5} {'d':>4} {'k':>3} {'noise':>6} {'tie-lab':>7} {'tie-any':>7} "
          f"{'pred':>4} {'k-stable':>8}")
    for r in rows:
        print(f"{r[0]:<20} {r[1]:>5} {r[2]:>4} {r[3]:>3} {r[4]:>6.3f} {r[5]:>7} {r[6]:>7} {r[7]:>4} {r[8]:>8}")
        assert r[9] == 1, f"{r[0]}: hdbscan's tree code on its own spanning tree gave other labels"
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.2f} MB)")


def _version(pkg):
    from importlib.metadata import version
    return version(pkg)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default=DEFAULT_OUT, help="file to write")
    ap.add_argument("--embclust", default=os.path.join(ROOT, "build", "embclust"),
                    help="embclust binary that embeds the sample corpus (default build/embclust)")
    ap.add_argument("--sample-h5", help="take the sample embeddings from this embclust file instead")
    args = ap.parse_args(argv)
    write(args.output, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
