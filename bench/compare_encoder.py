#!/usr/bin/env python3
"""Transformer sentence embeddings: embclust against sentence-transformers on the same
sentences, the same CPU threads, in one run. Prints speed, the ratio, and how close the
two tools' vectors are.

  bench/compare_encoder.py [--models all-MiniLM-L6-v2,multilingual-e5-small] [--threads 2]
                           [--limit N] [--inputs PATH ...] [--embclust build/embclust]
                           [--json OUT.json] [--no-embclust]

Sentences: the inputs (default ../shared/corpus, the five Korean documents) segmented by
`embclust segment --config configs/korean.toml`, the /segments text of that file. --limit N
keeps N segments spread evenly over the whole corpus (every n/N-th), written to a smaller
embclust file so that both tools embed exactly the same sentences.

sentence-transformers: SentenceTransformer(folder, device="cpu") in float32 with
torch.set_num_threads(T); the model's "query" prompt where it has prompts (e5). Its batch
size is tuned first: a warm-up of 500 sentences is encoded with each of --batch-sizes
(16, 32, 64, 128), twice over (best of two), and the fastest is kept; model.encode sorts
sentences by length itself. Then the timed run: model.encode over all sentences, encode only (model load excluded),
best of --repeat runs.

embclust: `embclust embed FILE --model NAME --threads T --device cpu [--prompt query]`; its
time is the `seconds` attribute of /embeddings/vectors (the embedding stage only, model load
excluded); the wall time of the whole process is reported too.

Columns: tokens are those the model actually processes (prompt + sentence + special tokens,
cut at max_seq_length), counted with the model's own tokenizer; tokens/s of both tools use
that same count. ratio = embclust speed / sentence-transformers speed (above 1: embclust is
faster). cos min / median: cosine between the two tools' vectors, sentence by sentence.
Below the table: the tuned batch size, truncation counts, and CPU use (CPU seconds over
threads x wall seconds); a sentence-transformers run under 85% means the machine was busy
with other work and the speeds are understated, so run it again on a quiet machine.
"""
import argparse
import json
import os
import platform
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import encoder_tools as et  # noqa: E402

DEFAULT_MODELS = "all-MiniLM-L6-v2,multilingual-e5-small"


def subset_store(src, dst, rows):
    """An embclust file holding only the given segment rows (all documents kept)."""
    with h5py.File(src, "r") as fi, h5py.File(dst, "w") as fo:
        for k, v in fi.attrs.items():
            fo.attrs[k] = v
        fi.copy("documents", fo)
        g = fo.create_group("segments")
        for name, ds in fi["segments"].items():
            g.create_dataset(name, data=ds[()][rows], dtype=ds.dtype)


def tune_batch_size(model, prompt_name, texts, sizes, rounds=2):
    """Seconds of model.encode on texts for each batch size, the best of `rounds` passes over all
    sizes (a pass disturbed by other work does not decide); returns (best size, {size: seconds})."""
    et.encode_st(model, texts[:32], prompt_name, batch_size=32)  # first-call overheads
    times = {b: float("inf") for b in sizes}
    for _ in range(rounds):
        for b in sizes:
            t0 = time.perf_counter()
            et.encode_st(model, texts, prompt_name, batch_size=b)
            times[b] = min(times[b], time.perf_counter() - t0)
    return min(times, key=times.get), times


def bench_st(path, texts, threads, sizes, warmup, repeat):
    import torch

    model, prompt_name, prompt = et.load_sentence_transformer(path, threads=threads)
    counts = et.token_counts(model, texts, prompt)
    rng = np.random.default_rng(0)
    pick = rng.choice(len(texts), size=min(warmup, len(texts)), replace=False)
    with torch.inference_mode():
        best, tuning = tune_batch_size(model, prompt_name, [texts[i] for i in pick], sizes)
        seconds, cpu = [], []
        for _ in range(repeat):
            c0, t0 = et.cpu_seconds(), time.perf_counter()
            vectors = et.encode_st(model, texts, prompt_name, batch_size=best)
            seconds.append(time.perf_counter() - t0)
            cpu.append(et.cpu_seconds() - c0)
    best_run = int(np.argmin(seconds))
    return {
        "prompt_name": prompt_name, "prompt": prompt,
        "max_seq_length": int(model.max_seq_length),
        "tokens_before_truncation": int(counts.sum()),
        "tokens": int(np.minimum(counts, model.max_seq_length).sum()),
        "truncated": int((counts > model.max_seq_length).sum()),
        "batch_size": int(best), "batch_size_seconds": {str(k): v for k, v in tuning.items()},
        "seconds": seconds[best_run], "all_seconds": seconds,
        "cpu_seconds": cpu[best_run], "cpu_use": cpu[best_run] / (seconds[best_run] * threads),
    }, vectors


def bench_embclust(embclust, store, model, threads, prompt_name):
    vectors, attrs, wall, cpu = et.embclust_embed(embclust, store, model, threads, prompt=prompt_name)
    out = {"wall_seconds": wall, "cpu_seconds": cpu, "cpu_use": cpu / (wall * threads)}
    for k in ("model", "normalized", "tokens", "truncated", "seconds", "dim"):
        if k in attrs:
            v = attrs[k]
            out[k] = v.item() if hasattr(v, "item") else v
    return out, vectors


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def print_table(rows):
    head = ["model", "sentences", "tokens", "ST sent/s", "ST tok/s", "embclust sent/s",
            "embclust tok/s", "ratio", "cos min", "cos median"]
    lines = [head]
    for r in rows:
        lines.append([r["model"], str(r["sentences"]), str(r["tokens"]),
                      fmt(r["st_sentences_per_s"], ".1f"), fmt(r["st_tokens_per_s"], ".0f"),
                      fmt(r.get("embclust_sentences_per_s"), ".1f"), fmt(r.get("embclust_tokens_per_s"), ".0f"),
                      fmt(r.get("ratio"), ".2f"), fmt(r.get("cos_min"), ".6f"), fmt(r.get("cos_median"), ".6f")])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for j, line in enumerate(lines):
        print("| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))) + " |")
        if j == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated names or folders")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="keep N segments spread over the corpus (0: all)")
    ap.add_argument("--inputs", nargs="+", default=[et.DEFAULT_CORPUS])
    ap.add_argument("--config", default=et.KOREAN_CONFIG, help="embclust config for segmenting ('' for none)")
    ap.add_argument("--embclust", default=et.DEFAULT_EMBCLUST)
    ap.add_argument("--no-embclust", action="store_true", help="time sentence-transformers only")
    ap.add_argument("--batch-sizes", default="16,32,64,128")
    ap.add_argument("--warmup", type=int, default=500, help="sentences in the batch-size warm-up")
    ap.add_argument("--repeat", type=int, default=1, help="timed sentence-transformers runs (best kept)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    sizes = [int(s) for s in args.batch_sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="compare_encoder_") as tmp:
        store = os.path.join(tmp, "seg.h5")
        et.embclust_segment(args.embclust, args.inputs, store, config=args.config or None)
        texts = et.read_segments(store)[0]
        if args.limit and args.limit < len(texts):
            rows = np.unique(np.linspace(0, len(texts) - 1, args.limit).round().astype(np.int64))
            subset_store(store, os.path.join(tmp, "subset.h5"), rows)
            store = os.path.join(tmp, "subset.h5")
            texts = et.read_segments(store)[0]
        print(f"{len(texts)} sentences from {', '.join(args.inputs)}; {args.threads} threads", file=sys.stderr)

        results = []
        for name in args.models.split(","):
            path = et.resolve_model(name)
            if not os.path.isdir(path):
                print(f"compare_encoder: skipping {name}: not installed in {et.models_dir()}", file=sys.stderr)
                continue
            print(f"{name}: sentence-transformers ...", file=sys.stderr)
            st, st_vec = bench_st(path, texts, args.threads, sizes, args.warmup, args.repeat)
            n, tokens = len(texts), st["tokens"]
            row = {"model": os.path.basename(path.rstrip("/")), "sentences": n, "tokens": tokens,
                   "st": st, "st_sentences_per_s": n / st["seconds"], "st_tokens_per_s": tokens / st["seconds"]}
            if not args.no_embclust:
                print(f"{name}: embclust ...", file=sys.stderr)
                try:
                    ec, ec_vec = bench_embclust(args.embclust, store, name, args.threads, st["prompt_name"])
                except (RuntimeError, OSError, KeyError) as e:
                    row["embclust_error"] = str(e)
                    print(f"compare_encoder: embclust failed for {name}: {e}", file=sys.stderr)
                else:
                    secs = ec.get("seconds") or ec["wall_seconds"]
                    cos = et.row_cosines(st_vec, ec_vec)
                    row.update(embclust=ec, embclust_sentences_per_s=n / secs, embclust_tokens_per_s=tokens / secs,
                               embclust_wall_sentences_per_s=n / ec["wall_seconds"],
                               ratio=(n / secs) / row["st_sentences_per_s"],
                               cos_min=float(cos.min()), cos_median=float(np.median(cos)),
                               cos_below_0_999=int((cos < 0.999).sum()),
                               worst_sentences=[int(i) for i in np.argsort(cos)[:5]])
            results.append(row)

    print_table(results)
    for r in results:
        st = r["st"]
        note = (f"{r['model']}: ST batch size {st['batch_size']}, prompt {st['prompt']!r}, "
                f"max_seq_length {st['max_seq_length']}, {st['truncated']} sentences truncated, "
                f"CPU use {st['cpu_use']:.0%} of {args.threads} threads")
        if "embclust" in r:
            ec = r["embclust"]
            note += (f"; embclust {ec.get('seconds', float('nan')):.2f} s embedding, {ec['wall_seconds']:.2f} s wall "
                     f"(CPU use {ec['cpu_use']:.0%}), "
                     f"tokens attribute {ec.get('tokens')}, truncated {ec.get('truncated')}, "
                     f"{r['cos_below_0_999']} sentences with cosine < 0.999")
        elif "embclust_error" in r:
            note += "; embclust failed (see --json)"
        print(note)
    # The timed sentence-transformers run keeps every thread busy; when it got much less CPU time
    # than threads x wall, something else was running (embclust's figure includes its single-
    # threaded model load, so it is printed but not judged).
    busy = [r["model"] for r in results if r["st"]["cpu_use"] < 0.85]
    if busy:
        print(f"warning: sentence-transformers got less than 85% of {args.threads} threads' CPU time for "
              f"{', '.join(busy)}; other work was probably running, so the speeds are understated", file=sys.stderr)
    if args.json:
        import sentence_transformers
        import torch
        meta = {"threads": args.threads, "inputs": args.inputs, "limit": args.limit,
                "host": platform.node(), "cpu_count": os.cpu_count(),
                "sentence_transformers": sentence_transformers.__version__, "torch": str(torch.__version__),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=2, ensure_ascii=False)


if __name__ == "__main__":
    main()
