#!/usr/bin/env python3
"""Lloyd k-means of embclust (CPU) against scikit-learn and FAISS on the same data, in one run:
same k, same threads, same number of Lloyd iterations. Prints seconds per iteration and ratios.

  bench/compare_kmeans_cpu.py [--small] [--large] [--iters 10] [--threads 2] [--init random]

  --small  100,000 x 384, k = 100 (the default when no shape is named)
  --large  1,000,000 x 384, k = 1000 (0.77 TFLOP per iteration: use few --iters, e.g. 3)
  --shape N,D,K  any other shape (may repeat)

Data: Gaussian blobs (float32, fixed seed) with heavy overlap, so that no tool reaches a
fixed point within the iterations asked for; written to a temporary embclust file
(/embeddings/vectors) that `embclust cluster --device cpu` reads.

Time per iteration: each tool is run twice, with 1 and with 1 + ITERS Lloyd iterations, and
the difference of the two wall times is divided by ITERS. This removes what a run does once
(reading and checking the input, seeding, the first assignment, the final pass) and leaves
ITERS x (assignment + centroid update). Each tool first makes one untimed run (--no-warmup
skips it), so that one-time costs of a process's first run (page faults on fresh buffers,
thread pools) do not fall on the 1-iteration run alone. For embclust the time is its own `seconds` attribute
(the clustering alone, without file I/O); scikit-learn's is the wall time of fit(), FAISS's
the wall time of train(). By default every tool starts from the same k random rows (--init
same: embclust reads them with --init FILE:/centres, scikit-learn as its init array, FAISS as
init_centroids), so all follow the same Lloyd trajectory and run the same iterations; --init
random lets each draw its own rows (k-means++ with --init k-means++, which FAISS lacks, so it
stays random there).

Tools:
  embclust      build/embclust cluster --device cpu --n-init 1 --tol 0 --threads T (with its Hamerly
                bounds, the default; --no-bounds to search every row)
  scikit-learn  KMeans(algorithm='lloyd', n_init=1, tol=0) under threadpool_limits(T)
  sklearn-elkan the same with algorithm='elkan' (triangle-inequality bounds; --tools to add it)
  FAISS         faiss.Kmeans(niter=..., max_points_per_centroid=n: no subsampling),
                omp_set_num_threads(T)

Inertia: recomputed from each tool's final centroids in the same way (nearest centroid by a
float32 GEMM, then the squared distance to it in float64); --no-inertia skips it. Each tool's
own objective is printed too (embclust: inertia; scikit-learn: inertia_; FAISS: obj[-1],
which is the objective of the last assignment, before the last centroid update).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def make_data(n, d, k, seed):
    """Gaussian blobs: k centres ~ N(0, 1), points = centre + N(0, 1.5^2); heavily overlapping."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, d), dtype=np.float32)
    which = rng.integers(0, k, size=n)
    x = np.empty((n, d), dtype=np.float32)
    step = 100_000
    for s in range(0, n, step):
        e = min(n, s + step)
        x[s:e] = centres[which[s:e]] + 1.5 * rng.standard_normal((e - s, d), dtype=np.float32)
    return x


def write_embclust_file(path, x):
    with h5py.File(path, "w") as f:
        f.attrs["schema_version"] = np.int64(1)
        f.attrs["embclust_version"] = "bench"
        f.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        f.attrs["command"] = "bench/compare_kmeans_cpu.py"
        ds = f.create_dataset("embeddings/vectors", data=x)
        ds.attrs["model"] = "random-blobs"
        ds.attrs["dim"] = np.int64(x.shape[1])
        ds.attrs["normalized"] = np.uint8(0)


def write_start(path, c):
    start = path + ".start.h5"
    if not os.path.exists(start):
        with h5py.File(start, "w") as f:
            f.create_dataset("centres", data=np.asarray(c, dtype=np.float32))
    return start + ":/centres"


def inertia_of(x, c):
    """Sum of squared distances to the nearest centroid: argmin by float32 GEMM, distance in float64."""
    c32 = np.ascontiguousarray(c, dtype=np.float32)
    cn = (c32.astype(np.float64) ** 2).sum(1).astype(np.float32)
    c64 = c32.astype(np.float64)
    total = 0.0
    step = 65536
    for s in range(0, x.shape[0], step):
        xb = x[s:s + step]
        lab = np.argmin(cn[None, :] - 2.0 * (xb @ c32.T), axis=1)
        diff = xb.astype(np.float64) - c64[lab]
        total += float(np.einsum("ij,ij->", diff, diff))
    return total


def run_embclust(exe, path, k, iters, threads, init, seed, bounds=True):
    if not isinstance(init, str):  # the shared starting centres, in their own file
        init = write_start(path, init)
    cmd = [exe, "cluster", path, "--device", "cpu", "--k", str(k), "--n-init", "1", "--max-iter", str(iters),
           "--tol", "0", "--threads", str(threads), "--seed", str(seed), "--init", init, "-q"]
    if not bounds:
        cmd.append("--no-bounds")
    subprocess.run(cmd, check=True)
    with h5py.File(path, "r") as f:
        g = f["clusters/kmeans"]
        params = json.loads(g.attrs["params"])
        return {"seconds": float(g.attrs["seconds"]), "iterations": int(params["iterations"]),
                "objective": float(g.attrs["inertia"]), "centroids": g["centroids"][()]}


def run_sklearn(x, k, iters, threads, init, seed, algorithm="lloyd"):
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads):
        km = KMeans(k, init=init, n_init=1, max_iter=iters, tol=0.0, random_state=seed, algorithm=algorithm)
        t0 = time.perf_counter()
        km.fit(x)
        secs = time.perf_counter() - t0
    return {"seconds": secs, "iterations": int(km.n_iter_), "objective": float(km.inertia_),
            "centroids": km.cluster_centers_}


def run_faiss(x, k, iters, threads, seed, start=None):
    import faiss

    faiss.omp_set_num_threads(threads)
    km = faiss.Kmeans(x.shape[1], k, niter=iters, seed=seed, verbose=False, spherical=False,
                      max_points_per_centroid=x.shape[0], min_points_per_centroid=1)
    t0 = time.perf_counter()
    km.train(x, init_centroids=start)
    secs = time.perf_counter() - t0
    return {"seconds": secs, "iterations": len(km.obj), "objective": float(km.obj[-1]),
            "centroids": km.centroids}


def run_one(a, name, path, x, k, iters, sk_init):
    if name == "embclust":
        return run_embclust(a.embclust, path, k, iters, a.threads, sk_init, a.seed, a.bounds)
    if name == "scikit-learn":
        return run_sklearn(x, k, iters, a.threads, sk_init, a.seed)
    if name == "sklearn-elkan":
        return run_sklearn(x, k, iters, a.threads, sk_init, a.seed, "elkan")
    return run_faiss(x, k, iters, a.threads, a.seed, None if isinstance(sk_init, str) else sk_init)


def bench_shape(a, n, d, k, tmp):
    print(f"\n== {n} x {d} float32, k = {k}, Lloyd iterations = {a.iters} (runs of 1 and {1 + a.iters}), "
          f"threads = {a.threads}, init = {a.init}", flush=True)
    t0 = time.perf_counter()
    x = make_data(n, d, k, a.seed)
    path = os.path.join(tmp, f"blobs_{n}_{d}.h5")
    write_embclust_file(path, x)
    print(f"data made and written in {time.perf_counter() - t0:.1f} s", flush=True)

    sk_init = a.init
    if a.init == "same":  # k random rows, the same starting centres for every tool
        sk_init = x[np.random.default_rng(a.seed + 1).choice(n, size=k, replace=False)].copy()
    lo, hi = 1, 1 + a.iters
    runs = {name: {} for name in a.tools}
    # One untimed run first: a tool's first run in a process pays once for page faults
    # on fresh buffers and for starting its thread pool, which would otherwise fall on
    # the 1-iteration run alone and shrink the difference (measured: scikit-learn's
    # first fit at 400,000 x 384, k = 1000 took 2 s longer than its second).
    if a.warmup:
        for name in a.tools:
            run_one(a, name, path, x, k, lo, sk_init)
    # Repeats go round the tools, so that a slow spell of this shared machine falls
    # on all of them rather than on one.
    for r in range(a.repeats):
        for name in a.tools:
            out = runs[name]
            for its in (lo, hi):
                res = run_one(a, name, path, x, k, its, sk_init)
                if its not in out or res["seconds"] < out[its]["seconds"]:
                    out[its] = res
                print(f"  {name:12s} max_iter {its:3d}: {res['seconds']:9.3f} s, {res['iterations']} iterations run",
                      flush=True)

    rows = []
    for name, out in runs.items():
        ran_lo, ran_hi = out[lo]["iterations"], out[hi]["iterations"]
        if ran_lo != lo or ran_hi != hi:
            print(f"  warning: {name} ran {ran_lo} and {ran_hi} iterations, not {lo} and {hi}")
        diff_iters = max(1, ran_hi - ran_lo)
        per_iter = (out[hi]["seconds"] - out[lo]["seconds"]) / diff_iters
        inertia = inertia_of(x, out[hi]["centroids"]) if a.inertia else float("nan")
        rows.append((name, per_iter, out[hi]["seconds"], ran_hi, out[hi]["objective"], inertia))

    base = dict((r[0], r[1]) for r in rows).get("embclust")
    base_total = dict((r[0], r[2]) for r in rows).get("embclust")
    flop = 2.0 * n * k * d
    print(f"\n{'tool':12s} {'s/iter':>9s} {'GFLOP/s':>8s} {'total s':>9s} {'iters':>5s} "
          f"{'own objective':>15s} {'inertia (same)':>15s} {'s/iter vs embclust':>19s} {'total vs embclust':>18s}")
    for name, per_iter, total, its, obj, inertia in rows:
        ratio = f"{per_iter / base:.2f}x" if base else "-"
        ratio_total = f"{total / base_total:.2f}x" if base_total else "-"
        print(f"{name:12s} {per_iter:9.3f} {flop / per_iter / 1e9:8.1f} {total:9.2f} {its:5d} "
              f"{obj:15.6g} {inertia:15.6g} {ratio:>19s} {ratio_total:>18s}")
    print("(GFLOP/s counts only the 2 n k d of the distance GEMM; total s is the run with "
          f"{hi} iterations; ratios > 1 mean slower than embclust. When every tool stops at the same "
          "fixed point before that, the totals are the fair comparison: the per-iteration difference "
          "then mixes one tool's fixed costs into its 1-iteration run)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="100000 x 384, k = 100")
    ap.add_argument("--large", action="store_true", help="1000000 x 384, k = 1000")
    ap.add_argument("--shape", action="append", default=[], help="N,D,K")
    ap.add_argument("--iters", type=int, default=10, help="Lloyd iterations timed (runs of 1 and 1 + ITERS)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--init", default="same", choices=["same", "random", "k-means++"],
                    help="same: k random rows given to every tool as its starting centres (the same "
                         "Lloyd trajectory, so the same iterations); random or k-means++: each tool's own")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=1, help="runs per setting; the fastest counts")
    ap.add_argument("--tools", default="embclust,scikit-learn,faiss")
    ap.add_argument("--no-inertia", dest="inertia", action="store_false")
    ap.add_argument("--no-bounds", dest="bounds", action="store_false", help="embclust searches every row")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false", help="no untimed first run per tool")
    ap.add_argument("--embclust", default=os.path.join(HERE, "..", "build", "embclust"))
    a = ap.parse_args()
    a.tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    for t in a.tools:
        if t not in ("embclust", "scikit-learn", "sklearn-elkan", "faiss"):
            ap.error(f"unknown tool {t}")

    shapes = []
    if a.small:
        shapes.append((100_000, 384, 100))
    if a.large:
        shapes.append((1_000_000, 384, 1000))
    for s in a.shape:
        n, d, k = (int(v) for v in s.split(","))
        shapes.append((n, d, k))
    if not shapes:
        shapes.append((100_000, 384, 100))

    # Import everything first so that threadpoolctl sees every BLAS and OpenMP runtime.
    import sklearn
    import sklearn.cluster  # noqa: F401
    from threadpoolctl import threadpool_info

    versions = [f"numpy {np.__version__}", f"scikit-learn {sklearn.__version__}"]
    if "faiss" in a.tools:
        import faiss
        versions.append(f"faiss {faiss.__version__}")
    ec = subprocess.run([a.embclust, "--version"], capture_output=True, text=True).stdout.strip()
    versions.append(f"embclust {ec}")
    print("versions: " + ", ".join(versions))
    for lib in threadpool_info():
        print(f"  {lib['user_api']:6s} {lib['internal_api']:8s} {str(lib.get('version')):14s} "
              f"{lib.get('threading_layer', '-')!s:9s} {lib.get('architecture', '-')!s:9s} "
              f"{os.path.basename(lib['filepath'])}")

    with tempfile.TemporaryDirectory() as tmp:
        for n, d, k in shapes:
            bench_shape(a, n, d, k, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
