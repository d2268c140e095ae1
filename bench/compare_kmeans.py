#!/usr/bin/env python3
"""k-means of embclust against scikit-learn on the same embeddings, same k, restarts,
tolerance and threads, in one run; prints times, inertias and the ratios.

  bench/compare_kmeans.py FILE.h5 [--k 20] [--n-init 4] [--threads 2] [--embclust build/embclust]

FILE.h5 is an embclust file with /embeddings (e.g. from `embclust run`). scikit-learn
is run at its best: its own OpenBLAS (numpy wheels), lloyd algorithm, the same threads.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--n-init", type=int, default=4)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--embclust", default=os.path.join(os.path.dirname(__file__), "..", "build", "embclust"))
    a = ap.parse_args()

    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    with h5py.File(a.file, "r") as f:
        x = f["embeddings/vectors"][()]
    print(f"data: {x.shape[0]} x {x.shape[1]} float32, k = {a.k}, n_init = {a.n_init}, threads = {a.threads}")

    sk_times, sk_inertia = [], []
    for r in range(a.repeats):
        with threadpool_limits(a.threads):
            t0 = time.perf_counter()
            km = KMeans(a.k, init="k-means++", n_init=a.n_init, tol=a.tol, max_iter=300, random_state=r,
                        algorithm="lloyd").fit(x)
            sk_times.append(time.perf_counter() - t0)
        sk_inertia.append(km.inertia_)

    ec_times, ec_inertia = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, "e.h5")
        shutil.copy(a.file, work)
        for r in range(a.repeats):
            cmd = [a.embclust, "cluster", work, "--device", "cpu", "--k", str(a.k), "--n-init", str(a.n_init),
                   "--tol", str(a.tol), "--threads", str(a.threads), "--seed", str(r), "-q"]
            subprocess.run(cmd, check=True)
            with h5py.File(work, "r") as f:
                g = f["clusters/kmeans"]
                ec_times.append(float(g.attrs["seconds"]))  # the clustering alone, without file I/O
                ec_inertia.append(float(g.attrs["inertia"]))

    sk_t, ec_t = np.median(sk_times), np.median(ec_times)
    print(f"{'':12s} {'median s':>10s} {'best inertia':>14s} {'median inertia':>15s}")
    print(f"{'scikit-learn':12s} {sk_t:10.3f} {min(sk_inertia):14.2f} {np.median(sk_inertia):15.2f}")
    print(f"{'embclust':12s} {ec_t:10.3f} {min(ec_inertia):14.2f} {np.median(ec_inertia):15.2f}")
    print(f"speed ratio (scikit-learn time / embclust time): {sk_t / ec_t:.2f}")
    print(f"inertia ratio (embclust / scikit-learn, medians): {np.median(ec_inertia) / np.median(sk_inertia):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
