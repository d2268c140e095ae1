#!/usr/bin/env python3
"""Plot the trees of an HDBSCAN clustering stored in an embclust HDF5 file.

Usage:
    plot_hdbscan.py FILE.h5 -o OUT.png [--clusters NAME] [--title T] [--dpi D]

Three panels: the condensed tree (each cluster a bar as wide as its points,
from its birth to where its last points leave, in lambda = 1 / distance; the
selected clusters coloured as in plot_clusters.py), the GLOSH outlier scores,
and the membership probabilities. Exit status: 0 on success, 1 on bad input,
2 on command-line usage errors.
"""

import argparse
import os
import sys

import numpy as np

import matplotlib

matplotlib.use("Agg")  # never needs a display
import matplotlib.pyplot as plt  # noqa: E402

import h5py  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot_clusters import InputError, cluster_color, save_atomic  # noqa: E402

NEEDED = ("condensed_tree", "labels", "probabilities", "outlier_scores", "selected")


def load(path, requested=None):
    """Read what the plot needs; InputError names what is missing."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise InputError(f"{path} is not an HDF5 file ({e})") from e
    with f:
        groups = f["clusters"] if "clusters" in f else {}
        names = sorted(n for n in groups if "condensed_tree" in groups[n])
        if requested is None:
            if not names:
                raise InputError(f"{path} has no HDBSCAN clustering (run: embclust cluster FILE --method hdbscan)")
            requested = "hdbscan" if "hdbscan" in names else names[0]
        if requested not in names:
            listing = ", ".join(names) if names else "none"
            raise InputError(f"{path}: no HDBSCAN clustering '{requested}'; HDBSCAN clusterings: {listing}")
        g = groups[requested]
        missing = [d for d in NEEDED if d not in g]
        if missing:
            raise InputError(f"{path}: clustering '{requested}' lacks {', '.join(missing)}")
        return requested, {d: g[d][()] for d in NEEDED}


def cluster_boxes(tree, n_points):
    """One box per condensed-tree cluster: (id, x-left, width, birth lambda, death lambda).

    Clusters are laid out left to right in depth-first order, each as wide as its
    points, children inside their parent's span."""
    parent, child = tree["parent"], tree["child"]
    lam, size = tree["lambda_val"], tree["child_size"]
    is_cluster = size > 1
    root = int(parent.min())
    children = {}
    birth = {root: 0.0}
    width = {root: float(size[parent == root].sum())}
    for p, c, l, s in zip(parent[is_cluster], child[is_cluster], lam[is_cluster], size[is_cluster]):
        children.setdefault(int(p), []).append(int(c))
        birth[int(c)] = float(l)
        width[int(c)] = float(s)
    death = {}
    finite = lam[np.isfinite(lam)]
    cap = float(finite.max()) if finite.size else 1.0
    for c in width:
        rows = lam[parent == c]
        rows = rows[np.isfinite(rows)]
        death[c] = float(rows.max()) if rows.size else cap
    boxes, stack = [], [(root, 0.0)]
    while stack:
        c, left = stack.pop()
        boxes.append((c, left, width[c], birth[c], max(death[c], birth[c])))
        offset = left
        for ch in children.get(c, []):
            stack.append((ch, offset))
            offset += width[ch]
    return boxes


def make_figure(name, data, title=None):
    tree, labels = data["condensed_tree"], data["labels"]
    selected = [int(s) for s in data["selected"]]
    k = len(selected)
    fig, (ax_tree, ax_out, ax_prob) = plt.subplots(1, 3, figsize=(16, 5), gridspec_kw={"width_ratios": [2, 1, 1]})
    for c, left, w, b, d in cluster_boxes(tree, len(labels)):
        color = cluster_color(selected.index(c), k) if c in selected else "#bbbbbb"
        ax_tree.add_patch(plt.Rectangle((left, b), w, d - b, facecolor=color, edgecolor="#555555", linewidth=0.3))
    ax_tree.set_xlim(0, len(labels))
    top = max((d for _, _, _, _, d in cluster_boxes(tree, len(labels))), default=1.0)
    ax_tree.set_ylim(top * 1.02 if top > 0 else 1.0, 0)
    ax_tree.set_xlabel("points")
    ax_tree.set_ylabel("lambda = 1 / distance")
    ax_tree.set_title(f"condensed tree: {k} clusters selected (coloured)")
    ax_out.hist(data["outlier_scores"][np.isfinite(data["outlier_scores"])], bins=40, color="#4c72b0")
    ax_out.set_xlabel("GLOSH outlier score")
    ax_out.set_ylabel("points")
    clustered = labels >= 0
    ax_prob.hist(data["probabilities"][clustered], bins=40, color="#55a868")
    ax_prob.set_xlabel("membership probability (clustered points)")
    noise = int((~clustered).sum())
    fig.suptitle(title or f"{name}: {k} clusters, {noise} noise points of {len(labels)}")
    fig.tight_layout()
    return fig


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Plot the trees of an HDBSCAN clustering in an embclust file.")
    p.add_argument("file", help="embclust HDF5 file")
    p.add_argument("-o", "--output", required=True, help="image to write (.png, .pdf, .svg)")
    p.add_argument("--clusters", help="name of the HDBSCAN clustering (default: hdbscan, or the first)")
    p.add_argument("--title", help="figure title")
    p.add_argument("--dpi", type=int, default=120, help="resolution of raster images")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        name, data = load(args.file, args.clusters)
        fig = make_figure(name, data, args.title)
        save_atomic(fig, args.output, args.dpi)
    except InputError as e:
        print(f"plot_hdbscan.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
