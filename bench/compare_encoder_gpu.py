#!/usr/bin/env python3
"""Transformer sentence embeddings on one GPU: embclust's CUDA encoder against
sentence-transformers at its best, on the same sentences and the same weights, in one run.
Prints speed, the ratio, how close the two tools' vectors are, and how near embclust's linear
layers come to the GEMM rate cuBLAS reaches on the same device.

  bench/compare_encoder_gpu.py [--count 500000] [--models all-MiniLM-L6-v2,multilingual-e5-small]
                               [--weights auto|real|random] [--precision fp16,fp32]
                               [--inputs PATH ...] [--segments FILE.h5] [--embclust build/embclust]
                               [--batch-sizes 64,128,256,512,1024] [--json OUT.json] [--cpu-smoke]

Sentences: the inputs (default ../shared/corpus, the five Korean documents) segmented by
`embclust segment --config configs/korean.toml`, or the /segments of an existing embclust
file (--segments). The corpus is repeated whole until there are at least --count sentences
(7,282 Korean sentences x 69 = 502,458 for the default 500,000; a --count below the
corpus keeps that many spread evenly over it), written as an embclust file
(/documents copied, every /segments column repeated) so that both tools embed exactly the
same sentences. A GPU needs that many to be timed: the corpus alone is a fraction of a second.

Models: each of --models is a name in the models folder or a folder, resolved as embclust
resolves it (scripts/encoder_tools.py). With --weights auto (the default) a folder holding
real weights (config.json and model.safetensors) is used as it is; otherwise the script
writes seeded random weights of the model's shape with `embclust models --export random:ARCH
--seed 1 --to DIR` (all-MiniLM-L6-v2 -> minilm-l6, multilingual-e5-small -> e5-small; each
borrows the installed model's tokenizer.json, which must be there) and both tools load that
folder, so they use identical weights; a note on stderr and the "weights" column say which.
`random:ARCH` in --models asks for random weights directly. Random weights give the same
speed as real ones (same shapes, same tokens; the random export has no prompts, so e5's
"query: " is not prepended) and cosines that check agreement just as well.

sentence-transformers: SentenceTransformer(folder) moved to "cuda" and cast with
model.half() (float16 weights and activations, the fastest it offers), the model's "query"
prompt where it has prompts (e5), model.encode(convert_to_numpy=True), which sorts sentences
by length itself. Batch size: a warm-up of --warmup (20,000) sentences drawn from all of them
is encoded with each of --batch-sizes in turn, stopping at the first that runs out of GPU
memory, and the fastest is kept. The timed run: model.encode over all sentences, between
torch.cuda.synchronize() calls (tokenization and the copy of the vectors to the host
included, model load excluded), best of --repeat. The model and PyTorch's cached GPU memory
are released before embclust runs.

embclust: `embclust embed FILE --model FOLDER --device cuda --precision P [--prompt query]`
for each P of --precision (fp16: float16 GEMM operands with float32 accumulation; fp32:
float32 GEMMs, for reference). Builds without the --precision option (found from
`embclust embed --help`) are run with the environment variable EMBCLUST_CUDA_ENCODER=P
instead, which they read, and a note says so. Its time is the `seconds` attribute of
/embeddings/vectors (the embedding stage, model load excluded: tokenization, the encoder,
pooling, and in builds that stream embeddings into the file chunk by chunk, storing them);
the wall time of the whole process is reported too, and the `device` attribute shows which
backend ran the encoder.

Columns: tokens are those the model actually processes (prompt + sentence + special tokens,
cut at max_seq_length), counted with the model's own tokenizer on the corpus once and
multiplied by the repeats; tokens/s of both tools use that same count. ratio = embclust
speed / sentence-transformers fp16 speed (above 1: embclust is faster; the fp32 row is also
against sentence-transformers in fp16). cos min / median: cosine between the two tools'
vectors, sentence by sentence (in float16 both tools round, so these fall short of the
1 - 1e-12 of the float32 CPU comparison; the notes count sentences below 0.999).

Linear layers: per token and layer the encoder's GEMMs are QKV (hidden x 3 hidden), the
output projection (hidden x hidden) and the feed-forward (hidden x intermediate, and back),
2 x (3 h^2 + h^2 + 2 h i) FLOPs; times layers and tokens, over the tool's seconds, that is
the "lin TFLOP/s" column (hidden, intermediate and layers from the folder's config.json).
Attention, LayerNorm, GELU and tokenization are not counted, yet their time is in the
seconds, so this is a lower bound on the GEMMs' own rate; sentence-transformers pads each
batch to its longest sentence, so its row counts only the FLOPs the sentences need. It is
set against cuBLAS measured on the same GPU in the same run with torch.matmul: the four
layer shapes with 65,536 token rows (embclust's default --batch-tokens on a GPU),
FLOP-weighted ("% cuBLAS"), and a square 8192 matmul (the device's practical peak, in the
notes below the table). float16 is measured with float32 accumulation
(allow_fp16_reduced_precision_reduction off), float32 without TF32.

--cpu-smoke checks the script on a machine without a GPU: everything on the CPU (300
sentences unless --count says otherwise, sentence-transformers in float32, embclust
--device cpu with --precision fp32, small GEMMs); its speeds mean nothing.
"""
import argparse
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
sys.path.insert(0, HERE)
import encoder_tools as et  # noqa: E402
from compare_encoder import subset_store  # noqa: E402

DEFAULT_MODELS = "all-MiniLM-L6-v2,multilingual-e5-small"
# Installed model name -> the random architecture of its shape (host/embed/transformer_embedder.cpp).
RANDOM_ARCH = {"all-MiniLM-L6-v2": "minilm-l6", "multilingual-e5-small": "e5-small"}
GEMM_TOKENS = 65536
SQUARE = 8192


def note(msg):
    print(f"compare_encoder_gpu: {msg}", file=sys.stderr, flush=True)


# ---- sentences -----------------------------------------------------------------------------

def repeated_store(src, dst, count):
    """Writes dst: src's corpus repeated whole until it has at least `count` segments (fewer than
    the corpus: `count` of them spread evenly over it). Returns (the texts of one repeat, repeats)."""
    texts = et.read_segments(src)[0]
    if not texts:
        raise SystemExit(f"compare_encoder_gpu: {src} has no segments")
    if count < len(texts):
        rows = np.unique(np.linspace(0, len(texts) - 1, count).round().astype(np.int64))
        subset_store(src, dst, rows)
        return [texts[i] for i in rows], 1
    reps = math.ceil(count / len(texts))
    subset_store(src, dst, np.tile(np.arange(len(texts), dtype=np.int64), reps))
    return texts, reps


# ---- models --------------------------------------------------------------------------------

def has_weights(folder):
    return (os.path.isfile(os.path.join(folder, "config.json"))
            and os.path.isfile(os.path.join(folder, "model.safetensors")))


def export_random(embclust, arch, dst):
    et.run([embclust, "models", "--export", f"random:{arch}", "--seed", "1", "--to", dst, "-q"])
    return dst


def model_folder(embclust, name, weights, tmp):
    """(folder both tools load, 'real' or 'random (seed 1)'), or raises RuntimeError with why not."""
    if name.startswith("random:"):
        arch = name.split(":", 1)[1]
        return export_random(embclust, arch, os.path.join(tmp, "random-" + arch)), "random (seed 1)"
    path = et.resolve_model(name)
    if weights != "random" and has_weights(path):
        return path, "real"
    if weights == "real":
        raise RuntimeError(f"no weights for {name} in {path} (config.json and model.safetensors)")
    base = os.path.basename(path.rstrip("/"))
    arch = RANDOM_ARCH.get(base)
    if arch is None:
        raise RuntimeError(f"no weights for {name} in {path} and no random architecture of its shape "
                           f"(known: {', '.join(RANDOM_ARCH)}; or pass random:ARCH)")
    if weights == "auto":
        note(f"NOTE: {name} has no weights in {path}; using seeded random weights of its shape "
             f"(random:{arch}, seed 1) for both tools: speeds are those of the real model, the "
             f"cosines compare the tools, not the model")
    folder = export_random(embclust, arch, os.path.join(tmp, "random-" + arch))
    return folder, "random (seed 1)"


def linear_shape(folder):
    with open(os.path.join(folder, "config.json")) as f:
        c = json.load(f)
    return int(c["hidden_size"]), int(c["intermediate_size"]), int(c["num_hidden_layers"])


def linear_flops_per_token(hidden, intermediate, layers):
    h, i = hidden, intermediate
    return 2 * (h * 3 * h + h * h + 2 * h * i) * layers


# ---- torch helpers -------------------------------------------------------------------------

def sync(device):
    import torch
    if device == "cuda":
        torch.cuda.synchronize()


def is_oom(e):
    import torch
    oom = getattr(torch.cuda, "OutOfMemoryError", None) or getattr(torch, "OutOfMemoryError", None)
    return (oom is not None and isinstance(e, oom)) or "out of memory" in str(e).lower()


def free_gpu(device):
    import gc
    import torch
    gc.collect()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


def time_gemm(a, b, device, min_seconds):
    """Seconds per torch.matmul(a, b), after warm-up, over enough calls to last min_seconds."""
    import torch
    for _ in range(3):
        torch.matmul(a, b)
    sync(device)
    calls, elapsed = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(calls):
            torch.matmul(a, b)
        sync(device)
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds or calls >= 1 << 14:
            return elapsed / calls
        calls *= 4 if elapsed < min_seconds / 8 else 2


def gemm_rates(hidden, intermediate, precision, device, tokens, square, min_seconds):
    """cuBLAS (through torch.matmul) TFLOP/s on the encoder's linear-layer shapes and a square matmul."""
    import torch
    dtype = torch.float16 if precision == "fp16" else torch.float32
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32
        torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False  # fp32 accumulation
    g = torch.Generator(device=device).manual_seed(0)
    h, i = hidden, intermediate
    shapes = {"qkv": (tokens, h, 3 * h), "out": (tokens, h, h), "ffn_up": (tokens, h, i), "ffn_down": (tokens, i, h),
              "square": (square, square, square)}
    out, layer_flops, layer_seconds = {}, 0.0, 0.0
    with torch.inference_mode():
        for name, (m, k, n) in shapes.items():
            a = torch.randn(m, k, generator=g, device=device, dtype=torch.float32).to(dtype)
            b = torch.randn(k, n, generator=g, device=device, dtype=torch.float32).to(dtype)
            s = time_gemm(a, b, device, min_seconds)
            flops = 2.0 * m * k * n
            out[name] = {"m": m, "k": k, "n": n, "seconds": s, "tflops": flops / s / 1e12}
            if name != "square":
                layer_flops += flops
                layer_seconds += s
            del a, b
    out["layer"] = {"tflops": layer_flops / layer_seconds / 1e12, "tokens": tokens}
    free_gpu(device)
    return out


# ---- sentence-transformers -----------------------------------------------------------------

def bench_st(path, texts, corpus, device, fp16, sizes, warmup, repeat, threads):
    """Times sentence-transformers on texts; returns (results, token counts of the corpus's
    sentences before truncation, vectors)."""
    import torch

    model, prompt_name, prompt = et.load_sentence_transformer(path, threads=threads if device == "cpu" else None)
    model.to(device)
    if fp16:
        model.half()
    model.eval()
    rng = np.random.default_rng(0)
    warm = [texts[i] for i in rng.choice(len(texts), size=min(warmup, len(texts)), replace=False)]
    et.encode_st(model, warm[:256], prompt_name, batch_size=32)  # CUDA context, cuBLAS handles, kernels
    sweep = {}
    for b in sizes:
        try:
            sync(device)
            t0 = time.perf_counter()
            et.encode_st(model, warm, prompt_name, batch_size=b)
            sync(device)
            sweep[b] = time.perf_counter() - t0
        except (RuntimeError, MemoryError) as e:
            if not is_oom(e):
                raise
            sweep[b] = None
        if sweep[b] is None:  # outside the handler, so the failed batch's tensors can be freed
            note(f"sentence-transformers: batch size {b} ran out of memory; the sweep stops there")
            free_gpu(device)
            break
    timed = {b: s for b, s in sweep.items() if s is not None}
    if not timed:
        raise RuntimeError("sentence-transformers ran out of memory at every batch size")
    best = min(timed, key=timed.get)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    seconds, vectors = [], None
    for _ in range(repeat):
        vectors = None
        free_gpu(device)
        sync(device)
        t0 = time.perf_counter()
        vectors = et.encode_st(model, texts, prompt_name, batch_size=best)
        sync(device)
        seconds.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None
    result = {
        "precision": "fp16" if fp16 else "fp32", "prompt_name": prompt_name, "prompt": prompt,
        "max_seq_length": int(model.max_seq_length), "batch_size": int(best),
        "batch_size_seconds": {str(k): v for k, v in sweep.items()}, "warmup_sentences": len(warm),
        "seconds": min(seconds), "all_seconds": seconds, "peak_gpu_mib": peak,
    }
    counts = et.token_counts(model, corpus, prompt)
    del model
    free_gpu(device)
    return result, counts, vectors


# ---- embclust ------------------------------------------------------------------------------

def embclust_has_precision(embclust):
    outs = []
    for cmd in ([embclust, "embed", "--help"], [embclust, "--help"]):
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        outs.append(p.stdout)
    return any("--precision" in o for o in outs)


def embclust_version(embclust):
    p = subprocess.run([embclust, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.stdout.strip()


def plain(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if hasattr(v, "item") and getattr(v, "size", 1) == 1:
        v = v.item()
        return v.decode("utf-8", "replace") if isinstance(v, bytes) else v
    if hasattr(v, "tolist"):
        return v.tolist()
    return v


def bench_embclust(embclust, store, folder, device, precision, has_precision, threads, prompt_name):
    extra, env_key, old = [], "EMBCLUST_CUDA_ENCODER", None
    if has_precision:
        extra = ["--precision", precision]
    elif device == "cuda":
        old = os.environ.get(env_key)
        os.environ[env_key] = precision
    try:
        vectors, attrs, wall, cpu = et.embclust_embed(embclust, store, folder, threads, prompt=prompt_name,
                                                      device=device, extra=extra)
    finally:
        if not has_precision and device == "cuda":
            if old is None:
                os.environ.pop(env_key, None)
            else:
                os.environ[env_key] = old
    out = {"precision": precision, "wall_seconds": wall, "cpu_seconds": cpu,
           "how": " ".join(extra) if extra else (f"{env_key}={precision}" if device == "cuda" else "default")}
    out.update({k: plain(v) for k, v in attrs.items()})
    return out, vectors


def row_cosines_chunked(a, b, chunk=65536):
    return np.concatenate([et.row_cosines(a[i:i + chunk], b[i:i + chunk]) for i in range(0, len(a), chunk)])


# ---- report --------------------------------------------------------------------------------

def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def print_table(rows):
    head = ["model", "weights", "tool", "sentences", "tokens", "sent/s", "tok/s", "ratio", "cos min",
            "cos median", "lin TFLOP/s", "% cuBLAS"]
    lines = [head]
    for r in rows:
        lines.append([r["model"], r["weights"], r["tool"], str(r["sentences"]), str(r["tokens"]),
                      fmt(r.get("sentences_per_s"), ".0f"), fmt(r.get("tokens_per_s"), ".0f"),
                      fmt(r.get("ratio"), ".2f"), fmt(r.get("cos_min"), ".6f"), fmt(r.get("cos_median"), ".6f"),
                      fmt(r.get("linear_tflops"), ".3g"), fmt(r.get("pct_of_cublas"), ".0f")])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for j, line in enumerate(lines):
        print("| " + " | ".join(c.ljust(w) if i < 3 else c.rjust(w)
                                for i, (c, w) in enumerate(zip(line, widths))) + " |")
        if j == 0:
            print("|" + "|".join("-" * (w + 2) if i < 3 else "-" * (w + 1) + ":"
                                 for i, w in enumerate(widths)) + "|")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated names, folders or random:ARCH")
    ap.add_argument("--weights", choices=["auto", "real", "random"], default="auto",
                    help="auto: real weights where the folder has them, else random; real: skip models "
                         "without weights; random: seeded random weights of each model's shape")
    ap.add_argument("--count", type=int, help="at least this many sentences (default 500000; 300 with --cpu-smoke)")
    ap.add_argument("--inputs", nargs="+", default=[et.DEFAULT_CORPUS])
    ap.add_argument("--segments", help="an embclust .h5 whose /segments are the corpus (no segmenting)")
    ap.add_argument("--config", default=et.KOREAN_CONFIG, help="embclust config for segmenting ('' for none)")
    ap.add_argument("--embclust", default=et.DEFAULT_EMBCLUST)
    ap.add_argument("--precision", help="embclust precisions to run (default fp16,fp32; fp32 with --cpu-smoke)")
    ap.add_argument("--batch-sizes", help="sentence-transformers batch sizes tried, smallest first "
                                          "(default 64,128,256,512,1024; 16,32 with --cpu-smoke)")
    ap.add_argument("--warmup", type=int, help="sentences of the batch-size sweep (default 20000; 64 with --cpu-smoke)")
    ap.add_argument("--repeat", type=int, default=1, help="timed sentence-transformers runs (best kept)")
    ap.add_argument("--threads", type=int, default=0, help="embclust --threads (0: all cores)")
    ap.add_argument("--gemm-seconds", type=float, default=0.5, help="time per cuBLAS shape measured")
    ap.add_argument("--no-gemm", action="store_true", help="skip the cuBLAS measurement")
    ap.add_argument("--cpu-smoke", action="store_true", help="run everything on the CPU, small, to check the script")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    # Killed by a time limit (timeout sends SIGTERM): exit through the handlers, so the temporary
    # folder (a random e5-small export is 470 MB) is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))

    import torch

    smoke = args.cpu_smoke
    device = "cpu" if smoke else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("compare_encoder_gpu: torch sees no CUDA device (use --cpu-smoke to check the script "
                         "on a CPU)")
    count = args.count if args.count else (300 if smoke else 500000)
    precisions = (args.precision or ("fp32" if smoke else "fp16,fp32")).split(",")
    sizes = [int(s) for s in (args.batch_sizes or ("16,32" if smoke else "64,128,256,512,1024")).split(",")]
    warmup = args.warmup if args.warmup else (64 if smoke else 20000)
    threads = args.threads or os.cpu_count()
    st_fp16 = not smoke
    embclust = os.path.abspath(args.embclust)
    if not os.access(embclust, os.X_OK):
        raise SystemExit(f"compare_encoder_gpu: no embclust at {embclust} (--embclust)")
    has_precision = embclust_has_precision(embclust)
    if not has_precision:
        note("NOTE: this embclust has no --precision option; its CUDA runs get EMBCLUST_CUDA_ENCODER=fp16|fp32 "
             "instead" + (" (unused on the CPU)" if smoke else ""))

    results, notes = [], []
    gemm = {}
    with tempfile.TemporaryDirectory(prefix="compare_encoder_gpu_") as tmp:
        if args.segments:
            src = os.path.abspath(args.segments)
            source = args.segments
        else:
            src = os.path.join(tmp, "seg.h5")
            et.embclust_segment(embclust, args.inputs, src, config=args.config or None)
            source = ", ".join(args.inputs)
        store = os.path.join(tmp, "sentences.h5")
        base, reps = repeated_store(src, store, count)
        texts = et.read_segments(store)[0]
        n = len(texts)
        note(f"{n} sentences: {len(base)} from {source}, repeated {reps} times; device {device}"
             + (f" ({torch.cuda.get_device_name(0)})" if device == "cuda" else ""))

        for name in args.models.split(","):
            try:
                folder, weights = model_folder(embclust, name, args.weights, tmp)
            except RuntimeError as e:
                note(f"skipping {name}: {e}")
                notes.append(f"{name}: skipped: {e}")
                continue
            label = os.path.basename(name.rstrip("/"))
            hidden, inter, layers = linear_shape(folder)
            fpt = linear_flops_per_token(hidden, inter, layers)
            for p in precisions:
                key = (hidden, inter, p)
                if not args.no_gemm and key not in gemm:
                    note(f"cuBLAS {p} GEMMs for hidden {hidden}, intermediate {inter} ...")
                    gemm[key] = gemm_rates(hidden, inter, p, device, GEMM_TOKENS if not smoke else 1024,
                                           SQUARE if not smoke else 1024, args.gemm_seconds if not smoke else 0.05)

            note(f"{label}: sentence-transformers ({'fp16' if st_fp16 else 'fp32'}) ...")
            st, counts, st_vec = bench_st(folder, texts, base, device, st_fp16, sizes, warmup, args.repeat,
                                          threads)
            max_len = st["max_seq_length"]
            tokens = int(np.minimum(counts, max_len).sum()) * reps
            truncated = int((counts > max_len).sum()) * reps
            common = {"model": label, "weights": weights, "folder": folder, "sentences": n, "tokens": tokens,
                      "truncated": truncated, "hidden": hidden, "intermediate": inter, "layers": layers,
                      "linear_flops_per_token": fpt}
            st_row = dict(common, tool=f"sentence-transformers {st['precision']} (batch {st['batch_size']})",
                          st=st, seconds=st["seconds"], sentences_per_s=n / st["seconds"],
                          tokens_per_s=tokens / st["seconds"])
            st_row["linear_tflops"] = fpt * tokens / st["seconds"] / 1e12
            g = gemm.get((hidden, inter, st["precision"]))
            if g:
                st_row["pct_of_cublas"] = 100 * st_row["linear_tflops"] / g["layer"]["tflops"]
            results.append(st_row)

            for p in precisions:
                note(f"{label}: embclust {p} ...")
                row = dict(common, tool=f"embclust {p}")
                try:
                    ec, ec_vec = bench_embclust(embclust, store, folder, device, p, has_precision, threads,
                                                st["prompt_name"])
                except (RuntimeError, OSError, KeyError) as e:
                    row["error"] = str(e)
                    note(f"embclust {p} failed for {label}: {e}")
                    results.append(row)
                    continue
                secs = ec.get("seconds") or ec["wall_seconds"]
                cos = row_cosines_chunked(st_vec, ec_vec)
                del ec_vec
                row.update(embclust=ec, seconds=secs, sentences_per_s=n / secs, tokens_per_s=tokens / secs,
                           wall_sentences_per_s=n / ec["wall_seconds"], ratio=st["seconds"] / secs,
                           cos_min=float(cos.min()), cos_median=float(np.median(cos)),
                           cos_below_0_999=int((cos < 0.999).sum()),
                           worst_sentences=[int(i) for i in np.argsort(cos)[:5]],
                           linear_tflops=fpt * tokens / secs / 1e12)
                g = gemm.get((hidden, inter, p))
                if g:
                    row["pct_of_cublas"] = 100 * row["linear_tflops"] / g["layer"]["tflops"]
                    row["pct_of_square"] = 100 * row["linear_tflops"] / g["square"]["tflops"]
                results.append(row)
            del st_vec

    print(f"\n{n} sentences ({len(base)} x {reps}), {device}"
          + (f", {torch.cuda.get_device_name(0)}" if device == "cuda" else "") + "\n")
    print_table(results)
    print()
    for (hidden, inter, p), g in sorted(gemm.items()):
        shapes = ", ".join(f"{k} {v['m']}x{v['k']}x{v['n']} {v['tflops']:.3g}"
                           for k, v in g.items() if k not in ("layer",))
        print(f"cuBLAS {p} (torch.matmul) TFLOP/s: layer shapes {g['layer']['tflops']:.3g} "
              f"(FLOP-weighted); {shapes}")
    for r in results:
        if "st" in r:
            st = r["st"]
            sweep = ", ".join(f"{k}: {'OOM' if v is None else format(v, '.2f') + ' s'}"
                              for k, v in st["batch_size_seconds"].items())
            print(f"{r['model']}: sentence-transformers {st['precision']}, prompt {st['prompt']!r}, "
                  f"max_seq_length {st['max_seq_length']}, {r['truncated']} sentences truncated, "
                  f"batch sweep on {st['warmup_sentences']} sentences ({sweep}), "
                  f"{st['seconds']:.2f} s" + (f", peak {st['peak_gpu_mib']:.0f} MiB" if st["peak_gpu_mib"] else ""))
        elif "embclust" in r:
            ec = r["embclust"]
            pct = f", {r['pct_of_square']:.0f}% of the square GEMM" if "pct_of_square" in r else ""
            print(f"{r['model']}: {r['tool']} ({ec['how']}): {r['seconds']:.2f} s embedding, "
                  f"{ec['wall_seconds']:.2f} s wall ({r['wall_sentences_per_s']:.0f} sent/s), device "
                  f"{ec.get('device')!r}, tokens attribute {ec.get('tokens')}, truncated {ec.get('truncated')}, "
                  f"{r['cos_below_0_999']} sentences with cosine < 0.999{pct}")
        elif "error" in r:
            print(f"{r['model']}: {r['tool']} failed: {r['error'].splitlines()[-1] if r['error'] else ''}")
    for line in notes:
        print(line)
    if not has_precision:
        print("note: this embclust has no --precision option" +
              ("; its CUDA runs used EMBCLUST_CUDA_ENCODER" if device == "cuda" else ""))
    if smoke:
        print("note: --cpu-smoke: everything ran on the CPU; these speeds mean nothing")

    if args.json:
        import sentence_transformers
        meta = {"count": count, "sentences": n, "corpus_sentences": len(base), "repeats": reps, "source": source,
                "device": device, "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
                "precisions": precisions, "embclust": embclust, "embclust_version": embclust_version(embclust),
                "embclust_has_precision": has_precision, "batch_sizes": sizes, "warmup": warmup,
                "host": platform.node(), "cpu_count": os.cpu_count(),
                "sentence_transformers": sentence_transformers.__version__, "torch": str(torch.__version__),
                "cuda": torch.version.cuda, "cpu_smoke": smoke,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        gemm_out = {f"{p} hidden {h} intermediate {i}": g for (h, i, p), g in gemm.items()}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "gemm": gemm_out, "results": results, "notes": notes}, f, indent=2,
                      ensure_ascii=False)


if __name__ == "__main__":
    main()
