#!/usr/bin/env python3
"""One Lloyd iteration of k-means written with PyTorch on the GPU, the usual way
(distances by one FP32 matmul, argmin, index_add_ for the centroid sums), timed
with CUDA events; the peer for bench_kmeans_gpu's per-iteration time.

  bench/torch_kmeans_iter.py [--n 1000000] [--d 384] [--k 1000] [--iters 20]
"""
import argparse

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--iters", type=int, default=20)
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False  # FP32, as embclust computes distances
    g = torch.Generator(device="cuda").manual_seed(0)
    x = torch.rand(a.n, a.d, device="cuda", generator=g)
    c = x[: a.k].clone()
    xn = (x * x).sum(1, keepdim=True)

    def step(c):
        dist = xn - 2.0 * (x @ c.T) + (c * c).sum(1)
        labels = dist.argmin(1)
        sums = torch.zeros_like(c).index_add_(0, labels, x)
        counts = torch.bincount(labels, minlength=a.k).clamp_min(1).unsqueeze(1)
        return sums / counts

    for _ in range(3):
        c = step(c)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(a.iters):
        c = step(c)
    end.record()
    torch.cuda.synchronize()
    ms = start.elapsed_time(end) / a.iters
    start.record()
    for _ in range(a.iters):
        t = x @ c.T
    end.record()
    torch.cuda.synchronize()
    gemm_ms = start.elapsed_time(end) / a.iters
    flop = 2.0 * a.n * a.k * a.d
    print(f"FP32 GEMM alone (the floor): {gemm_ms:.2f} ms, {flop / gemm_ms / 1e9:.1f} TFLOP/s")
    print(f"torch {torch.__version__}: {a.n} x {a.d}, k = {a.k}: {ms:.2f} ms per Lloyd iteration, "
          f"{flop / ms / 1e9:.1f} TFLOP/s of distance GEMM")


if __name__ == "__main__":
    main()
