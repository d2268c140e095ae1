#!/usr/bin/env python3
"""HDBSCAN of embclust (CPU) against the hdbscan and fast_hdbscan packages on the same data,
in one run, with the same thread count. Prints a markdown table.

  bench/compare_hdbscan.py [--sizes 20000x10,100000x50,50000x384] [--threads 8] [--repeat 3]
                           [--input FILE.h5:/dataset ...]
                           [--min-cluster-size 25] [--min-samples 10] [--timeout 600]
                           [--skip-hdbscan [SIZES]] [--tools embclust,hdbscan,fast_hdbscan]
                           [--binary build/embclust]

Data: make_blobs with --centers (20) centres of different spreads (cluster_std drawn
uniformly from 0.5..2.5 with the seed), centres in the default box [-10, 10]^d, float32,
fixed seed; written once per size to DATA.h5:/x, which every tool reads. --input adds
real embeddings (any float 2-D dataset, e.g. an embclust file's /embeddings/vectors),
clustered with the euclidean metric by every tool (the packages' default; on unit
vectors it ranks pairs as cosine does); ARI vs blobs is then "-".

Tools:
  embclust      BINARY cluster OUT.h5 --input DATA.h5:/x --method hdbscan --min-cluster-size M
                --min-samples S --threads T --device cpu (a subprocess; a fresh OUT.h5 each run).
                Reported: its own `seconds` attribute of /clusters/hdbscan (the clustering alone,
                the time the ratios use), the wall time of the whole subprocess (process start,
                reading the input, writing the file), and the per-stage "timings" (knn, mst,
                tree) from the group's `params` JSON.
  hdbscan       hdbscan.HDBSCAN(min_cluster_size=M, min_samples=S, core_dist_n_jobs=T,
                algorithm='best'): boruvka_kdtree up to 60 dimensions, prims_kdtree above
                (single-threaded, O(n^2)). --hdbscan-mst: `exact` (approx_min_span_tree=False,
                the row "hdbscan"), `approx` (the package default, True: the row
                "hdbscan-approx"; its Boruvka stops early and may give another clustering), or
                `both` (the default). The ARI column compares with the exact run when there is one.
  fast_hdbscan  fast_hdbscan.HDBSCAN(min_cluster_size=M, min_samples=S), numba threads = T
                (NUMBA_NUM_THREADS and numba.set_num_threads).
  The two packages run in a child process each (so that thread settings and a --timeout kill
  stay contained), with OMP/OpenBLAS/MKL threads = T too; the time is time.perf_counter()
  around fit() alone. Before timing, each child fits once on a 500-point array, so numba's
  JIT compilation (fast_hdbscan) and first-call imports are not counted.

Columns: seconds is the best of --repeat runs; ratio is that time over embclust's (> 1: slower
than embclust); n_clusters; noise is the fraction labelled -1; ARI vs hdbscan compares labels
with hdbscan's (noise counts as one more label), ARI vs blobs with the generating centres.
A tool that runs past --timeout is reported as 'timeout' (with the best completed run, if any).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
DEFAULT_SIZES = "20000x10,100000x50,50000x384"
PEERS = ("hdbscan", "fast_hdbscan")


# ---------------------------------------------------------------------------- data

def parse_size(s):
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", s)
    if not m:
        raise argparse.ArgumentTypeError(f"size {s!r} is not NxD, e.g. 20000x10")
    return int(m.group(1)), int(m.group(2))


def make_data(n, d, centers, seed):
    from sklearn.datasets import make_blobs

    rng = np.random.default_rng(seed)
    std = rng.uniform(0.5, 2.5, size=centers)
    x, y = make_blobs(n_samples=n, n_features=d, centers=centers, cluster_std=std, random_state=seed)
    return np.ascontiguousarray(x, dtype=np.float32), y.astype(np.int32)


def write_data(path, x):
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x)


# ------------------------------------------------------------------------- embclust

def check_embclust(binary):
    if not os.path.exists(binary):
        sys.exit(f"compare_hdbscan: no embclust binary at {binary} (build it, pass --binary, or leave embclust "
                 f"out with --tools hdbscan,fast_hdbscan)")
    text = subprocess.run([binary, "cluster", "--help"], capture_output=True, text=True).stdout
    text += subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
    missing = [o for o in ("--min-cluster-size", "--min-samples") if o not in text]
    if missing:
        sys.exit(f"compare_hdbscan: {binary} has no {' / '.join(missing)} option: this build has no HDBSCAN "
                 f"command line yet. Rebuild embclust with it, or leave embclust out with "
                 f"--tools hdbscan,fast_hdbscan")


def run_embclust(a, data_path, tmp):
    out = os.path.join(tmp, "embclust_out.h5")
    runs, last = [], None
    for _ in range(a.repeat):
        if os.path.exists(out):
            os.remove(out)
        cmd = [a.binary, "cluster", out, "--input", f"{data_path}:/x", "--method", "hdbscan",
               "--min-cluster-size", str(a.min_cluster_size), "--min-samples", str(a.min_samples),
               "--threads", str(a.threads), "--device", "cpu", "-q"]
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
        except subprocess.TimeoutExpired:
            return {"status": "timeout", "runs": runs, "labels": last}
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            sys.stderr.write(p.stderr)
            return {"status": f"failed (exit {p.returncode})", "runs": runs, "labels": last}
        with h5py.File(out, "r") as f:
            g = f["clusters/hdbscan"]
            last = g["labels"][()]
            params = json.loads(g.attrs["params"])
            runs.append({"seconds": float(g.attrs["seconds"]), "wall": wall,
                         "timings": params.get("timings", {})})
    return {"status": "ok", "runs": runs, "labels": last}


# --------------------------------------------------------------------------- peers

def worker(a):
    """Child process: fit one package on DATA.h5:/x, writing results after every run."""
    t = a.threads
    x = h5py.File(a.data, "r")["x"][()]
    if a.worker == "fast_hdbscan":
        import numba
        import fast_hdbscan

        numba.set_num_threads(t)

        def fit(data):
            return fast_hdbscan.HDBSCAN(min_cluster_size=a.min_cluster_size,
                                        min_samples=a.min_samples).fit(data).labels_
    else:
        import hdbscan

        def fit(data):
            return hdbscan.HDBSCAN(min_cluster_size=a.min_cluster_size, min_samples=a.min_samples,
                                   core_dist_n_jobs=t, algorithm="best",
                                   approx_min_span_tree=a.hdbscan_mst == "approx").fit(data).labels_
    from threadpoolctl import threadpool_limits

    with threadpool_limits(t):
        rng = np.random.default_rng(1)
        warm = (rng.standard_normal((500, x.shape[1])) + 8 * (np.arange(500) % 3)[:, None]).astype(x.dtype)
        fit(warm)  # JIT compilation (fast_hdbscan) and first-call costs, not timed
        result = {"runs": []}
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            labels = fit(x)
            result["runs"].append({"seconds": time.perf_counter() - t0})
            np.save(a.out + ".npy", np.asarray(labels, dtype=np.int32))
            with open(a.out + ".json", "w") as f:
                json.dump(result, f)
    return 0


def run_peer(a, tool, data_path, tmp, mst="exact"):
    out = os.path.join(tmp, f"{tool}_{mst}_out")
    for ext in (".npy", ".json"):
        if os.path.exists(out + ext):
            os.remove(out + ext)
    env = dict(os.environ)
    for v in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[v] = str(a.threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", tool, "--data", data_path, "--out", out,
           "--threads", str(a.threads), "--repeat", str(a.repeat), "--min-cluster-size", str(a.min_cluster_size),
           "--min-samples", str(a.min_samples), "--hdbscan-mst", mst]
    status = "ok"
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        _, err = p.communicate(timeout=a.timeout)
        if p.returncode != 0:
            sys.stderr.write(err[-3000:])
            status = f"failed (exit {p.returncode})"
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)  # the child and anything it started, nothing else
        p.communicate()
        status = "timeout"
    runs, labels = [], None
    if os.path.exists(out + ".json"):
        with open(out + ".json") as f:
            runs = json.load(f)["runs"]
        labels = np.load(out + ".npy")
    return {"status": status, "runs": runs, "labels": labels}


# --------------------------------------------------------------------------- report

def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def bench_size(a, n, d, tmp, table):
    t0 = time.perf_counter()
    x, truth = make_data(n, d, a.centers, a.seed)
    data_path = os.path.join(tmp, f"blobs_{n}x{d}.h5")
    write_data(data_path, x)
    print(f"\n== {n} x {d} float32, {a.centers} blobs, min_cluster_size {a.min_cluster_size}, min_samples "
          f"{a.min_samples}, threads {a.threads}, best of {a.repeat} (data made in {time.perf_counter() - t0:.1f} s)",
          flush=True)
    bench_data(a, f"{n} x {d}", (n, d), truth, data_path, tmp, table)


def parse_input(spec):
    path, sep, dataset = spec.rpartition(":")
    if not sep or not path or not dataset.startswith("/"):
        raise argparse.ArgumentTypeError(f"--input {spec!r} is not FILE.h5:/dataset")
    return path, dataset


def bench_input(a, path, dataset, tmp, table):
    """Every tool on a float 2-D dataset of an HDF5 file (embeddings from anywhere)."""
    with h5py.File(path, "r") as f:
        if dataset not in f:
            sys.exit(f"compare_hdbscan: {path} has no dataset {dataset}")
        x = np.ascontiguousarray(f[dataset][()], dtype=np.float32)
    if x.ndim != 2:
        sys.exit(f"compare_hdbscan: {path}:{dataset} is not 2-D (shape {x.shape})")
    n, d = x.shape
    data_path = os.path.join(tmp, "input.h5")
    write_data(data_path, x)
    name = f"{os.path.basename(path)}:{dataset} ({n} x {d})"
    print(f"\n== {name}, min_cluster_size {a.min_cluster_size}, min_samples {a.min_samples}, threads {a.threads}, "
          f"best of {a.repeat}", flush=True)
    bench_data(a, name, (n, d), None, data_path, tmp, table)


def bench_data(a, name, shape, truth, data_path, tmp, table):
    from sklearn.metrics import adjusted_rand_score

    n, d = shape
    results = {}
    rows = []
    for tool in a.tools:
        if tool == "hdbscan":
            rows += [("hdbscan", "exact")] if a.hdbscan_mst in ("exact", "both") else []
            rows += [("hdbscan-approx", "approx")] if a.hdbscan_mst in ("approx", "both") else []
        else:
            rows.append((tool, None))
    for tool, mst in rows:
        if tool.startswith("hdbscan") and (a.skip_hdbscan == "all" or (n, d) in a.skip_hdbscan_sizes):
            results[tool] = {"status": "skipped", "runs": [], "labels": None}
        elif tool == "embclust":
            results[tool] = run_embclust(a, data_path, tmp)
        else:
            results[tool] = run_peer(a, tool.split("-")[0], data_path, tmp, mst or "exact")
        r = results[tool]
        secs = [run["seconds"] for run in r["runs"]]
        print(f"  {tool:14s} {r['status']:8s} runs: {', '.join(f'{s:.3f}' for s in secs) or '-'}", flush=True)
    os.remove(data_path)

    base = min((run["seconds"] for run in results.get("embclust", {}).get("runs", [])), default=None)
    ref = results.get("hdbscan", {}).get("labels")
    if ref is None:
        ref = results.get("hdbscan-approx", {}).get("labels")
    for tool, _ in rows:
        r = results[tool]
        best = min(r["runs"], key=lambda run: run["seconds"]) if r["runs"] else None
        secs = best["seconds"] if best else None
        lab = r["labels"]
        row = {
            "dataset": name, "tool": tool,
            "seconds": (fmt(secs, ".3f") + ("" if r["status"] == "ok" else f" ({r['status']})")) if best
            else r["status"],
            "wall": fmt(best.get("wall") if best else None, ".3f"),
            "stages": ", ".join(f"{k} {v:.3f}" for k, v in best.get("timings", {}).items())
            if best and best.get("timings") else "-",
            "ratio": fmt(secs / base if secs and base else None, ".2f"),
            "k": "-" if lab is None else str(int(lab.max()) + 1),
            "noise": "-" if lab is None else f"{float(np.mean(lab < 0)):.3f}",
            "ari_hdbscan": "-" if lab is None or ref is None else f"{adjusted_rand_score(ref, lab):.4f}",
            "ari_truth": "-" if lab is None or truth is None else f"{adjusted_rand_score(truth, lab):.4f}",
        }
        table.append(row)


def print_table(a, table):
    print(f"\nthreads {a.threads}; min_cluster_size {a.min_cluster_size}; min_samples {a.min_samples}; "
          f"best of {a.repeat}; timeout {a.timeout} s per tool and size")
    print("seconds: embclust's own `seconds` attribute (clustering only); the packages' "
          "time.perf_counter() around fit() after a warm-up fit (numba JIT not counted). "
          "wall: the whole embclust subprocess. hdbscan: approx_min_span_tree=False; hdbscan-approx: True "
          "(the package default). ARI vs hdbscan: against the exact hdbscan run when there is one.\n")
    cols = [("dataset", "dataset"), ("tool", "tool"), ("seconds", "seconds"), ("ratio", "ratio vs embclust"),
            ("wall", "embclust wall s"), ("stages", "embclust stages s"), ("k", "n_clusters"),
            ("noise", "noise"), ("ari_hdbscan", "ARI vs hdbscan"), ("ari_truth", "ARI vs blobs")]
    print("| " + " | ".join(h for _, h in cols) + " |")
    print("|" + "|".join("---" for _ in cols) + "|")
    for row in table:
        print("| " + " | ".join(row[k] for k, _ in cols) + " |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated NxD (default {DEFAULT_SIZES}; "
                    "an empty string for none)")
    ap.add_argument("--input", action="append", default=[], type=parse_input, metavar="FILE.h5:/dataset",
                    help="also run every tool on this float 2-D dataset (repeatable), e.g. the embeddings of an "
                         "embclust file: out.h5:/embeddings/vectors")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool; the fastest counts")
    ap.add_argument("--min-cluster-size", type=int, default=25)
    ap.add_argument("--min-samples", type=int, default=10)
    ap.add_argument("--centers", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per tool and size (all repeats)")
    ap.add_argument("--skip-hdbscan", nargs="?", const="all", default="",
                    help="leave hdbscan out: everywhere, or only for the comma-separated NxD sizes given")
    ap.add_argument("--hdbscan-mst", choices=["exact", "approx", "both"], default="both",
                    help="hdbscan's approx_min_span_tree False (exact), True (approx, the package default) or both")
    ap.add_argument("--tools", default="embclust,hdbscan,fast_hdbscan")
    ap.add_argument("--binary", default=os.environ.get("EMB", os.path.join(ROOT, "build", "embclust")),
                    help="embclust binary (default $EMB or build/embclust)")
    ap.add_argument("--tmp", help="folder for the data files (default: a temporary folder)")
    ap.add_argument("--worker", choices=PEERS, help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        return worker(a)

    a.tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    for t in a.tools:
        if t not in ("embclust",) + PEERS:
            ap.error(f"unknown tool {t}")
    sizes = [parse_size(s) for s in a.sizes.split(",") if s.strip()]
    a.skip_hdbscan_sizes = set() if a.skip_hdbscan in ("", "all") else \
        {parse_size(s) for s in a.skip_hdbscan.split(",") if s.strip()}
    if "embclust" in a.tools:
        check_embclust(a.binary)

    tmp = a.tmp or tempfile.mkdtemp(prefix="compare-hdbscan-")
    os.makedirs(tmp, exist_ok=True)
    table = []
    try:
        for n, d in sizes:
            bench_size(a, n, d, tmp, table)
        for path, dataset in a.input:
            bench_input(a, path, dataset, tmp, table)
    finally:
        if not a.tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print_table(a, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
