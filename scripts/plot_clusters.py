#!/usr/bin/env python3
"""Plot one clustering stored in an embclust HDF5 file.

Usage:
    plot_clusters.py FILE.h5 -o OUT.png [--clusters NAME] [--max-points N]
                     [--title T] [--dpi D]

The figure has two panels: a 2-D PCA projection of /embeddings/vectors with
points coloured by cluster label, and a bar chart of the cluster sizes.
Exit status: 0 on success, 1 on bad input, 2 on command-line usage errors.
"""

import argparse
import os
import sys
import tempfile

import numpy as np

import matplotlib

matplotlib.use("Agg")  # never needs a display
import matplotlib.pyplot as plt  # noqa: E402

import h5py  # noqa: E402

NOISE_COLOR = "#d3d3d3"
LEGEND_CAP = 20
SEED = 0


class InputError(Exception):
    """Bad input; the message is one sentence shown to the user."""


def _text(value):
    """Return an HDF5 attribute as str (h5py may give bytes or numpy scalars)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value[()])
    return str(value)


def pick_clustering(names, requested=None):
    """Choose a clustering name: the requested one, the only one, 'kmeans', or the first sorted."""
    names = sorted(names)
    listing = ", ".join(names) if names else "none"
    if requested is not None:
        if requested not in names:
            raise InputError(f"clustering '{requested}' not found; available clusterings: {listing}")
        return requested
    if not names:
        raise InputError(f"no clusterings in file; available clusterings: {listing}")
    if len(names) == 1:
        return names[0]
    return "kmeans" if "kmeans" in names else names[0]


def read_rows(dataset, idx, block=65536):
    """Read the sorted rows idx of a 2-D dataset block by block, so that only the
    selected rows (not the whole matrix) are held in memory."""
    out = np.empty((len(idx), dataset.shape[1]), dtype=np.float32)
    done = 0
    for start in range(0, dataset.shape[0], block):
        stop = min(start + block, dataset.shape[0])
        hi = np.searchsorted(idx, stop)
        if hi > done:
            out[done:hi] = dataset[start:stop][idx[done:hi] - start]
            done = hi
    return out


def load(path, requested=None, max_points=50000):
    """Read (subsampled vectors, subsample indices, all labels, metadata) from an
    embclust file; raise InputError on bad input."""
    if not os.path.isfile(path):
        raise InputError(f"input file '{path}' does not exist")
    if not h5py.is_hdf5(path):
        raise InputError(f"input file '{path}' is not an HDF5 file")
    with h5py.File(path, "r") as f:
        vec_ds = f.get("embeddings/vectors")
        if not isinstance(vec_ds, h5py.Dataset):
            raise InputError(f"'{path}' has no /embeddings/vectors dataset")
        if vec_ds.ndim != 2 or vec_ds.shape[0] == 0 or vec_ds.shape[1] == 0:
            raise InputError(f"/embeddings/vectors in '{path}' is not a non-empty n x d matrix")
        clusters = f.get("clusters")
        names = []
        if isinstance(clusters, h5py.Group):
            names = [k for k, g in clusters.items() if isinstance(g, h5py.Group) and "labels" in g]
        name = pick_clustering(names, requested)
        group = clusters[name]
        labels = np.asarray(group["labels"][()]).astype(np.int64).ravel()
        n = vec_ds.shape[0]
        if labels.shape[0] != n:
            raise InputError(f"clustering '{name}' has {labels.shape[0]} labels "
                             f"but there are {n} vectors")
        idx = subsample(n, max_points)
        vectors = read_rows(vec_ds, idx)
        meta = {
            "name": name,
            "model": _text(vec_ds.attrs.get("model", "unknown model")),
            "method": _text(group.attrs.get("method", name)),
            "n_clusters": int(group.attrs.get("n_clusters", len(set(labels.tolist()) - {-1}))),
        }
    return vectors, idx, labels, meta


def pca_2d(x, n_components=2):
    """Project rows of x onto their top principal components via SVD.

    Returns (projection n x k, components k x d, explained variance ratio k).
    """
    x = np.asarray(x, dtype=np.float64)
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(n_components, vt.shape[0])
    var = s ** 2
    total = var.sum()
    ratio = var[:k] / total if total > 0 else np.zeros(k)
    proj = centred @ vt[:k].T
    if k < n_components:  # degenerate input (d == 1 or n == 1): pad with zeros
        pad = n_components - k
        proj = np.hstack([proj, np.zeros((proj.shape[0], pad))])
        ratio = np.concatenate([ratio, np.zeros(pad)])
    return proj, vt[:k], ratio


def subsample(n, max_points, seed=SEED):
    """Return sorted row indices: all rows, or a fixed-seed random subset of max_points."""
    if max_points <= 0 or n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


def cluster_color(index, n_real):
    """Qualitative colour for the index-th of n_real clusters: tab10 when it suffices,
    otherwise tab20, cycling when colours run out. The greys of both maps are skipped
    so that only noise is grey."""
    if n_real <= 10:
        palette = [i for i in range(10) if i != 7]  # tab10 index 7 is grey
        return plt.get_cmap("tab10")(palette[index % len(palette)])
    palette = [i for i in range(20) if i not in (14, 15)]  # tab20 greys
    return plt.get_cmap("tab20")(palette[index % len(palette)])


def make_figure(vectors, idx, labels, meta, title=None):
    """Build the two-panel figure (PCA scatter, cluster size bars).

    vectors holds the rows idx of the embeddings; labels covers all rows.
    """
    proj, _, ratio = pca_2d(vectors)
    sub_labels = labels[idx]

    # Cluster ids and sizes over the whole file, largest first; noise kept apart.
    ids, counts = np.unique(labels, return_counts=True)
    order = np.lexsort((ids, -counts))
    ids, counts = ids[order], counts[order]
    real = [int(c) for c in ids if c != -1]
    colors = {c: cluster_color(i, len(real)) for i, c in enumerate(real)}
    colors[-1] = NOISE_COLOR
    size = dict(zip(ids.tolist(), counts.tolist()))

    fig, (ax_pca, ax_bar) = plt.subplots(1, 2, figsize=(14, 6))
    marker = max(1.0, min(12.0, 20000.0 / len(idx)))

    # Noise first so that real clusters are drawn on top of it.
    for c in ([-1] if -1 in size else []) + real:
        mask = sub_labels == c
        if not mask.any():
            continue
        name = "noise" if c == -1 else f"{c}"
        ax_pca.scatter(proj[mask, 0], proj[mask, 1], s=marker, color=colors[c],
                       linewidths=0, label=f"{name} ({size[c]})")
    handles, texts = ax_pca.get_legend_handles_labels()
    if len(handles) > LEGEND_CAP:
        extra = len(handles) - LEGEND_CAP
        handles = handles[:LEGEND_CAP] + [plt.Line2D([], [], linestyle="none")]
        texts = texts[:LEGEND_CAP] + [f"+{extra} more"]
    if handles:
        ax_pca.legend(handles, texts, title="cluster (size)", fontsize="small",
                      markerscale=max(1.0, 30.0 / marker) ** 0.5, loc="best")
    ax_pca.set_xlabel(f"PC1 ({ratio[0] * 100:.1f}% variance)")
    ax_pca.set_ylabel(f"PC2 ({ratio[1] * 100:.1f}% variance)")
    shown = "" if len(idx) == len(labels) else f", {len(idx)} of {len(labels)} points"
    ax_pca.set_title(f"PCA projection{shown}")

    # Bar chart of all cluster sizes, sorted descending.
    bar_colors = [colors[int(c)] for c in ids]
    ax_bar.bar(np.arange(len(ids)), counts, color=bar_colors)
    if len(ids) <= 40:
        ax_bar.set_xticks(np.arange(len(ids)))
        ax_bar.set_xticklabels(["noise" if c == -1 else str(c) for c in ids],
                               rotation=90 if len(ids) > 15 else 0, fontsize="small")
    ax_bar.set_xlabel("cluster (sorted by size)")
    ax_bar.set_ylabel("segments")
    ax_bar.set_title("Cluster sizes")

    method = meta["method"] if meta["method"] == meta["name"] else f"{meta['method']} ({meta['name']})"
    fig.suptitle(title or (f"{meta['file']} - model {meta['model']} - "
                           f"{method}, n_clusters={meta['n_clusters']}"))
    fig.tight_layout()
    return fig


def output_dir(out):
    """Return the directory that will hold out; raise InputError if it does not exist."""
    out_dir = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(out_dir):
        raise InputError(f"output directory '{out_dir}' does not exist")
    return out_dir


def save_atomic(fig, out, dpi):
    """Write the PNG to a temp file next to out, then rename it into place."""
    out_dir = output_dir(out)
    fd, tmp = tempfile.mkstemp(prefix=".plot_clusters.", suffix=".png", dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format="png", dpi=dpi)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; use normal file permissions
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Plot a clustering from an embclust HDF5 file.")
    p.add_argument("file", help="embclust HDF5 file")
    p.add_argument("-o", "--output", required=True, help="output PNG path")
    p.add_argument("--clusters", default=None, help="clustering name under /clusters")
    p.add_argument("--max-points", type=int, default=50000,
                   help="random subsample size for the scatter plot (default 50000)")
    p.add_argument("--title", default=None, help="figure title")
    p.add_argument("--dpi", type=int, default=100, help="output resolution (default 100)")
    args = p.parse_args(argv)
    if args.max_points < 1:
        p.error("--max-points must be at least 1")
    if args.dpi < 1:
        p.error("--dpi must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        output_dir(args.output)  # fail before the (possibly slow) load
        vectors, idx, labels, meta = load(args.file, args.clusters, args.max_points)
        meta["file"] = os.path.basename(args.file)
        fig = make_figure(vectors, idx, labels, meta, args.title)
        try:
            save_atomic(fig, args.output, args.dpi)
        finally:
            plt.close(fig)
    except InputError as e:
        print(f"plot_clusters: {e}", file=sys.stderr)
        return 1
    except (OSError, KeyError, ValueError) as e:
        print(f"plot_clusters: cannot plot '{args.file}': {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
