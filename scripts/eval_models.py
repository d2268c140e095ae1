#!/usr/bin/env python3
"""How well each embedding model separates the topics of the Korean corpus: the hand-labelled
sentences of tests/data/corpus_labels.tsv, embedded by every model given, scored four ways.

  python3 scripts/eval_models.py                       # every installed model + hashing
  python3 scripts/eval_models.py all-MiniLM-L6-v2 hashing --embclust
  python3 scripts/eval_models.py --json out.json

Sentences: each row of the labels file names a byte range of a corpus file
(../shared/corpus); the text is read from the file and checked against the row's hash.

Models: by default through sentence-transformers (the folder's "query" prompt where it has
prompts, e.g. e5). With --embclust, through embclust instead: the corpus is segmented with
configs/korean.toml, `embclust embed --model NAME` embeds every segment, and the labelled
rows are picked by (file, byte range). `hashing` is embclust's own model and always goes
through embclust (its idf weights come from the whole corpus).

Scores (vectors L2-normalized first; k = number of labels):
  ARI, NMI   scikit-learn KMeans(k, n_init=10, random_state=--seed) against the labels
  5-NN acc   leave-one-out: each sentence gets the majority label of its 5 nearest other
             sentences by cosine (a tie goes to the tied label of the nearest neighbour)
  silhouette of the true labels, cosine distance
"""
import argparse
import collections
import hashlib
import json
import os
import sys
import tempfile
import time

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import encoder_tools as et  # noqa: E402

DEFAULT_LABELS = os.path.join(et.REPO, "tests", "data", "corpus_labels.tsv")
EMBCLUST_ONLY = {"hashing"}


def read_labels(path, corpus):
    """Rows of the labels file with their text: list of (file, start, end, label, text).

    Raises ValueError naming the row when a range does not hold the sentence its hash names.
    """
    rows, cache = [], {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.startswith("#") or not line.strip() or line.startswith("file\t"):
                continue
            name, start, end, digest, label = line.rstrip("\n").split("\t")
            if name not in cache:
                with open(os.path.join(corpus, name), "rb") as doc:
                    cache[name] = doc.read()
            raw = cache[name][int(start):int(end)]
            if hashlib.sha256(raw).hexdigest()[:16] != digest:
                raise ValueError(f"{path}:{lineno}: bytes {start}-{end} of {name} do not match hash {digest}")
            rows.append((name, int(start), int(end), label, raw.decode("utf-8")))
    return rows


def knn_accuracy(x, labels, k=5):
    """Leave-one-out k-NN label accuracy by cosine (x has unit rows)."""
    sim = x @ x.T
    np.fill_diagonal(sim, -np.inf)
    order = np.argsort(-sim, axis=1)[:, :k]
    correct = 0
    for i, nn in enumerate(order):
        votes = collections.Counter(labels[nn])
        top = max(votes.values())
        tied = {lab for lab, c in votes.items() if c == top}
        guess = next(labels[j] for j in nn if labels[j] in tied)
        correct += guess == labels[i]
    return correct / len(labels)


def scores(vectors, labels, seed):
    x = et.unit_rows(vectors)
    k = len(set(labels))
    pred = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)
    return {
        "ari": adjusted_rand_score(labels, pred),
        "nmi": normalized_mutual_info_score(labels, pred),
        "knn5": knn_accuracy(x, labels),
        "silhouette": float(silhouette_score(x, labels, metric="cosine")),
    }


def embed_st(name, texts, threads):
    import torch

    model, prompt_name, _ = et.load_sentence_transformer(et.resolve_model(name), threads=threads)
    t0 = time.perf_counter()
    with torch.inference_mode():
        v = et.encode_st(model, texts, prompt_name)
    return v, {"via": "sentence-transformers", "prompt": prompt_name or "", "seconds": time.perf_counter() - t0}


class EmbclustCorpus:
    """The corpus segmented once by embclust; embeds it per model and picks the labelled rows."""

    def __init__(self, embclust, corpus, rows, tmp):
        self.embclust, self.store = embclust, os.path.join(tmp, "corpus.h5")
        et.embclust_segment(embclust, [corpus], self.store)
        _, names, offsets, lengths = et.read_segments(self.store)
        where = {(n, int(o), int(o + ln)): i for i, (n, o, ln) in enumerate(zip(names, offsets, lengths))}
        missing = [r for r in rows if (r[0], r[1], r[2]) not in where]
        if missing:
            raise ValueError(f"{len(missing)} labelled ranges are not segments of `embclust segment` "
                             f"(first: {missing[0][0]} {missing[0][1]}-{missing[0][2]}); the segmenter changed")
        self.pick = np.array([where[(r[0], r[1], r[2])] for r in rows])

    def embed(self, name, threads, prompt=None):
        v, attrs, wall, _ = et.embclust_embed(self.embclust, self.store, name, threads, prompt=prompt)
        return v[self.pick], {"via": "embclust", "prompt": prompt or "",
                              "seconds": float(attrs.get("seconds", wall)), "segments": int(v.shape[0])}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", help="names or folders (default: every installed model, and hashing)")
    ap.add_argument("--embclust", action="store_true", help="embed transformer models with embclust too")
    ap.add_argument("--embclust-path", default=et.DEFAULT_EMBCLUST)
    ap.add_argument("--labels", default=DEFAULT_LABELS)
    ap.add_argument("--corpus", default=et.DEFAULT_CORPUS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the scores here")
    args = ap.parse_args()

    models = args.models or et.installed_models() + ["hashing"]
    rows = read_labels(args.labels, args.corpus)
    texts = [r[4] for r in rows]
    labels = np.array([r[3] for r in rows])
    counts = collections.Counter(labels)
    print(f"{len(rows)} labelled sentences, {len(counts)} labels: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), file=sys.stderr)

    results = []
    with tempfile.TemporaryDirectory(prefix="eval_models_") as tmp:
        corpus = None
        for name in models:
            via_embclust = args.embclust or name in EMBCLUST_ONLY
            print(f"{name}: embedding via {'embclust' if via_embclust else 'sentence-transformers'} ...",
                  file=sys.stderr)
            try:
                if via_embclust:
                    if corpus is None:
                        corpus = EmbclustCorpus(args.embclust_path, args.corpus, rows, tmp)
                    prompt = None
                    if name not in EMBCLUST_ONLY:  # the same prompt sentence-transformers would use
                        cfg = os.path.join(et.resolve_model(name), "config_sentence_transformers.json")
                        prompts = json.load(open(cfg)).get("prompts", {}) if os.path.isfile(cfg) else {}
                        prompt = "query" if "query" in prompts else None
                    v, info = corpus.embed(name, args.threads, prompt)
                else:
                    v, info = embed_st(name, texts, args.threads)
            except (RuntimeError, OSError, ValueError) as e:
                print(f"eval_models: {name} failed: {e}", file=sys.stderr)
                results.append({"model": name, "error": str(e)})
                continue
            r = {"model": name, "dim": int(v.shape[1]), **info, **scores(v, labels, args.seed)}
            results.append(r)

    print("| model | via | dim | k-means ARI | k-means NMI | 5-NN acc | silhouette |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in results:
        if "error" in r:
            print(f"| {r['model']} | failed | | | | | |")
            continue
        print(f"| {r['model']} | {r['via']} | {r['dim']} | {r['ari']:.3f} | {r['nmi']:.3f} | "
              f"{r['knn5']:.3f} | {r['silhouette']:.3f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"labels": dict(counts), "sentences": len(rows), "seed": args.seed, "results": results},
                      f, indent=2, ensure_ascii=False)


if __name__ == "__main__":
    main()
