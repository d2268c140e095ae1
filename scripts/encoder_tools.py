"""Shared helpers for the scripts that compare embclust's transformer encoders with
sentence-transformers: where models are installed, loading a model folder the reference
way, running `embclust segment` / `embclust embed`, and reading segments back.

Used by scripts/make_encoder_golden.py, scripts/eval_models.py and bench/compare_encoder.py.
"""
import hashlib
import os
import subprocess
import time

import h5py
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_EMBCLUST = os.path.join(REPO, "build", "embclust")
DEFAULT_CORPUS = os.path.join(os.path.dirname(REPO), "shared", "corpus")
KOREAN_CONFIG = os.path.join(REPO, "configs", "korean.toml")


def models_dir():
    """The folder of installed models, found the way embclust finds it (io/model_files.hpp)."""
    if os.environ.get("EMBCLUST_MODELS"):
        return os.environ["EMBCLUST_MODELS"]
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "embclust", "models")


def resolve_model(name_or_path):
    """An existing folder is used as is; otherwise NAME under models_dir()."""
    if os.path.isdir(name_or_path):
        return os.path.abspath(name_or_path)
    return os.path.join(models_dir(), name_or_path)


def installed_models():
    """Names of the model folders in models_dir() (those with a config.json), sorted."""
    d = models_dir()
    if not os.path.isdir(d):
        return []
    return sorted(n for n in os.listdir(d) if os.path.isfile(os.path.join(d, n, "config.json")))


def file_sha256(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def load_sentence_transformer(path, threads=None):
    """The reference model: sentence-transformers on the CPU in float32.

    Returns (model, prompt_name, prompt_text). A model with prompts is used with its "query"
    prompt (e5 expects "query: "), else its default prompt, else none.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    if threads:
        torch.set_num_threads(threads)
    model = SentenceTransformer(path, device="cpu")
    # transformers may load weights in their stored dtype (e.g. float16); the reference is float32.
    model.float()
    # sentence-transformers 5+ lists empty "query"/"document" prompts for every model; only a
    # prompt with text counts.
    prompts = {k: v for k, v in (getattr(model, "prompts", None) or {}).items() if v}
    name = "query" if "query" in prompts else getattr(model, "default_prompt_name", None)
    if name not in prompts:
        name = None
    return model, name, (prompts[name] if name else "")


def encode_st(model, texts, prompt_name, batch_size=32):
    """model.encode exactly as the reference: no extra normalization, float32 numpy rows."""
    return model.encode(list(texts), prompt_name=prompt_name, batch_size=batch_size,
                        normalize_embeddings=False, convert_to_numpy=True,
                        show_progress_bar=False).astype(np.float32, copy=False)


def token_counts(model, texts, prompt_text=""):
    """Tokens per text as the model sees it (prompt + text), special tokens included, before truncation."""
    tok = model.tokenizer
    enc = tok([prompt_text + t for t in texts], add_special_tokens=True, truncation=False,
              verbose=False)["input_ids"]
    return np.array([len(ids) for ids in enc], dtype=np.int32)


def cpu_seconds(children=False):
    """User + system CPU time of this process (or of its finished children)."""
    t = os.times()
    return t.children_user + t.children_system if children else t.user + t.system


def run(cmd, quiet=True):
    """Runs a command; on failure raises with its stderr. Returns (wall seconds, CPU seconds)."""
    c0, t0 = cpu_seconds(children=True), time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall, cpu = time.perf_counter() - t0, cpu_seconds(children=True) - c0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {p.returncode}:\n{p.stderr.strip()}")
    if not quiet and p.stderr:
        print(p.stderr, end="")
    return wall, cpu


def embclust_segment(embclust, inputs, out, config=KOREAN_CONFIG):
    cmd = [embclust, "segment", *inputs, "-o", out, "-q"]
    if config:
        cmd += ["--config", config]
    run(cmd)


def embclust_embed(embclust, store, model, threads, prompt=None, device="cpu", extra=()):
    """Runs `embclust embed` on STORE; returns (vectors, attrs of /embeddings/vectors, wall seconds,
    CPU seconds of the process)."""
    cmd = [embclust, "embed", store, "--model", model, "--threads", str(threads),
           "--device", device, "-q", *extra]
    if prompt:
        cmd += ["--prompt", prompt]
    wall, cpu = run(cmd)
    with h5py.File(store, "r") as f:
        ds = f["embeddings/vectors"]
        return ds[()].astype(np.float32, copy=False), dict(ds.attrs), wall, cpu


def read_segments(store):
    """(texts, document file names, offsets, lengths) of a store's /segments, one entry per segment."""
    with h5py.File(store, "r") as f:
        texts = f["segments/text"].asstr()[()]
        docs = f["documents/path"].asstr()[()]
        doc_of = f["segments/document"][()]
        offsets = f["segments/offset"][()]
        lengths = f["segments/length"][()]
    names = np.array([os.path.basename(p) for p in docs])[doc_of]
    return list(texts), names, offsets.astype(np.int64), lengths.astype(np.int64)


def unit_rows(x):
    x = np.asarray(x, dtype=np.float64)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n == 0, 1, n)


def row_cosines(a, b):
    """Cosine between row i of a and row i of b, for every i."""
    return (unit_rows(a) * unit_rows(b)).sum(axis=1)
