#!/usr/bin/env python3
"""Write the scikit-learn reference results that tests/test_kmeans_reference.cpp checks.

Regenerate (needs numpy, h5py and scikit-learn; the output is deterministic for a
given scikit-learn and numpy version):

    python3 scripts/make_kmeans_fixtures.py            # writes tests/data/kmeans/reference.h5
    python3 scripts/make_kmeans_fixtures.py -o OUT.h5

The file is an embclust file (root attribute schema_version = 1), so the C++ test
reads it with StoreReader::matrix, which reads 2-D float datasets only. Hence every
value the test needs is a 2-D float dataset: labels and weights as n x 1 columns,
an inertia as a 1 x 1 float64 (exact in the attribute of the same name, which also
records the parameters and the scikit-learn version for a human reader).

Groups:
  /separated       600 x 16 Gaussian blobs, 6 well separated centres; truth (n x 1),
                   best-of-10 KMeans inertia and labels.
  /overlapping     1000 x 32, 10 centres with cluster_std 10 (they overlap);
                   best-of-10 KMeans inertia.
  /embedding_like  800 unit vectors in 64-D from 8 clusters of different sizes and
                   spreads around correlated directions (normalised Gaussian blobs,
                   like sentence embeddings); best-of-10 KMeans inertia for k = 8.
  /fixed_init/*    Lloyd from given starting centres (init=array, n_init=1, tol=0):
                   x, weights, init, and under unweighted/ and weighted/ the centres,
                   labels and inertia KMeans reaches. "sklearn_test" is the weighted
                   case of scikit-learn's own test_kmeans_results; "random" is larger
                   and needs several iterations from a poor start.
"""

import argparse
import json
import os
import sys

import h5py
import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

SCHEMA_VERSION = 1
N_INIT = 10
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "kmeans",
                           "reference.h5")


def as_points(x):
    """The float32 points embclust reads, widened back to float64 for scikit-learn.

    Fitting in float64 on exactly the stored values keeps scikit-learn's own float32
    rounding out of the reference numbers.
    """
    return np.ascontiguousarray(x, dtype=np.float32).astype(np.float64)


def inertia_of(x, centres, labels, weights=None):
    d2 = ((x - centres[labels]) ** 2).sum(axis=1)
    return float(d2.sum() if weights is None else (weights * d2).sum())


def best_of_n(x, k, seed):
    """scikit-learn's best of N_INIT k-means++ runs, with its defaults otherwise."""
    km = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(x)
    params = {"n_clusters": k, "n_init": N_INIT, "init": "k-means++", "algorithm": "lloyd",
              "tol": km.tol, "max_iter": km.max_iter, "random_state": seed}
    # The recomputed inertia (float64, from the kept centres) is what the test compares with.
    inertia = inertia_of(x, km.cluster_centers_, km.labels_)
    assert abs(inertia - km.inertia_) <= 1e-9 * inertia, (inertia, km.inertia_)
    return km, inertia, params


def plain_lloyd(x, init, weights):
    """Textbook weighted Lloyd to a fixed point, to check scikit-learn's answer and
    the margin by which every assignment on the way is decided."""
    centres = init.copy()
    labels = None
    margin = np.inf
    for _ in range(1000):
        d2 = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        part = np.sort(d2, axis=1)
        margin = min(margin, float((part[:, 1] - part[:, 0]).min()))
        new = d2.argmin(axis=1)
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        for j in range(len(centres)):
            w = weights[labels == j]
            assert w.sum() > 0, "a cluster went empty: empty-cluster handling differs between libraries"
            centres[j] = (w[:, None] * x[labels == j]).sum(axis=0) / w.sum()
    return centres, labels, margin


def fixed_init(x, init, weights):
    """KMeans from init, unweighted and weighted, checked against plain_lloyd."""
    out = {}
    for name, w in (("unweighted", np.ones(len(x))), ("weighted", weights)):
        km = KMeans(n_clusters=len(init), init=init, n_init=1, tol=0.0, max_iter=300).fit(x, sample_weight=w)
        centres, labels, margin = plain_lloyd(x, init, w)
        assert np.array_equal(km.labels_, labels), name
        assert np.allclose(km.cluster_centers_, centres, rtol=0, atol=1e-12), name
        # float32 points move distances by about 1e-7 of their size: keep ties far away.
        assert margin > 1e-3, (name, margin)
        inertia = inertia_of(x, km.cluster_centers_, km.labels_, w)
        assert abs(inertia - km.inertia_) <= 1e-9 * max(inertia, 1.0), (inertia, km.inertia_)
        out[name] = (km, inertia)
    return out


def embedding_like(rng):
    """800 unit vectors in 64-D: 8 clusters of unequal size and spread whose mean
    directions share a common component, as sentence embeddings do."""
    d = 64
    sizes = [200, 150, 120, 100, 80, 60, 50, 40]
    spreads = rng.uniform(0.9, 1.4, size=len(sizes))
    common = rng.standard_normal(d)
    common /= np.linalg.norm(common)
    points, truth = [], []
    for c, (size, spread) in enumerate(zip(sizes, spreads)):
        direction = 0.5 * common + rng.standard_normal(d) / np.sqrt(d)
        direction /= np.linalg.norm(direction)
        v = direction + spread * rng.standard_normal((size, d)) / np.sqrt(d)
        points.append(v / np.linalg.norm(v, axis=1, keepdims=True))
        truth += [c] * size
    order = rng.permutation(sum(sizes))
    return np.concatenate(points)[order], np.asarray(truth)[order], spreads


def column(v, dtype=np.float32):
    return np.asarray(v, dtype=dtype).reshape(-1, 1)


def put(group, name, value, dtype=np.float32):
    value = np.asarray(value, dtype=dtype)
    if value.ndim < 2:
        value = value.reshape(-1, 1)
    # Uncompressed: gzip gains nothing on float32 noise, and any HDF5 build reads it.
    group.create_dataset(name, data=value, track_times=False)


def put_scalar(group, name, value):
    put(group, name, [[value]], dtype=np.float64)
    group.attrs[name] = np.float64(value)


def write(path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["schema_version"] = np.int64(SCHEMA_VERSION)
        f.attrs["generator"] = "scripts/make_kmeans_fixtures.py"
        f.attrs["sklearn_version"] = sklearn.__version__
        f.attrs["numpy_version"] = np.__version__

        def best_of_n_group(name, x, k, seed, description, truth=None):
            x = as_points(x)
            km, inertia, params = best_of_n(x, k, seed)
            g = f.create_group(name)
            g.attrs["description"] = description
            g.attrs["params"] = json.dumps(params)
            g.attrs["k"] = np.int64(k)
            put(g, "x", x)
            put_scalar(g, "inertia", inertia)
            put(g, "labels", column(km.labels_))
            if truth is not None:
                put(g, "truth", column(truth))
            return km, inertia

        x, y = make_blobs(n_samples=600, n_features=16, centers=6, cluster_std=1.0, random_state=7)
        km, inertia = best_of_n_group("separated", x, 6, 0, "make_blobs(600, 16, centers=6, cluster_std=1.0, "
                                      "random_state=7): well separated", truth=y)
        assert adjusted_rand_score(y, km.labels_) == 1.0, "the separated blobs were not recovered"
        print(f"separated       inertia {inertia:.6f}")

        x, y = make_blobs(n_samples=1000, n_features=32, centers=10, cluster_std=10.0, random_state=2)
        _, inertia = best_of_n_group("overlapping", x, 10, 0, "make_blobs(1000, 32, centers=10, "
                                     "cluster_std=10.0, random_state=2): clusters overlap")
        print(f"overlapping     inertia {inertia:.6f}")

        x, y, spreads = embedding_like(np.random.default_rng(11))
        _, inertia = best_of_n_group("embedding_like", x, 8, 0, "800 unit vectors in 64-D, 8 normalised "
                                     "Gaussian clusters of sizes 200..40 (numpy default_rng(11))", truth=y)
        f["embedding_like"].attrs["spreads"] = spreads
        print(f"embedding_like  inertia {inertia:.6f}")

        cases = {
            # scikit-learn's test_kmeans_results (sklearn/cluster/tests/test_k_means.py).
            "sklearn_test": (np.array([[0, 0], [0.5, 0], [0.5, 1], [1, 1]]), np.array([3.0, 1.0, 1.0, 3.0]),
                             np.array([[0, 0], [1, 1]])),
        }
        rng = np.random.default_rng(5)
        x, _ = make_blobs(n_samples=60, n_features=3, centers=4, cluster_std=1.5, random_state=3)
        x = as_points(x)
        weights = rng.integers(1, 6, size=len(x)).astype(np.float64)
        # A poor start: the four points nearest the first one, so Lloyd has to travel.
        init = x[np.argsort(((x - x[0]) ** 2).sum(axis=1))[:4]]
        cases["random"] = (x, weights, init)

        for name, (x, weights, init) in cases.items():
            x, init = as_points(x), as_points(init)
            g = f.create_group("fixed_init/" + name)
            g.attrs["params"] = json.dumps({"n_clusters": len(init), "init": "array", "n_init": 1, "tol": 0.0,
                                            "max_iter": 300, "algorithm": "lloyd"})
            g.attrs["k"] = np.int64(len(init))
            put(g, "x", x)
            put(g, "weights", column(weights))
            put(g, "init", init)
            results = fixed_init(x, init, weights)
            if name == "sklearn_test":  # the values that scikit-learn's test expects
                km, inertia = results["weighted"]
                assert np.array_equal(km.labels_, [0, 0, 1, 1]) and abs(inertia - 0.375) < 1e-12
                assert np.allclose(km.cluster_centers_, [[0.125, 0], [0.875, 1]], rtol=0, atol=1e-12)
            for variant, (km, inertia) in results.items():
                v = g.create_group(variant)
                v.attrs["n_iter"] = np.int64(km.n_iter_)
                put(v, "centers", km.cluster_centers_, dtype=np.float64)
                put(v, "labels", column(km.labels_))
                put_scalar(v, "inertia", inertia)
                print(f"fixed_init/{name}/{variant:10s} inertia {inertia:.9f}  n_iter {km.n_iter_}")
    os.replace(tmp, path)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default=os.path.normpath(DEFAULT_OUT), help="file to write")
    args = ap.parse_args(argv)
    write(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
