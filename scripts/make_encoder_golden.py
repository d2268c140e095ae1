#!/usr/bin/env python3
"""Write the sentence-transformers reference vectors that embclust's transformer encoders
are checked against: tests/data/encoder/golden.h5.

    python3 scripts/make_encoder_golden.py                      # the two default models
    python3 scripts/make_encoder_golden.py MODEL_OR_FOLDER ...  # others, by name or path
    python3 scripts/make_encoder_golden.py -o OUT.h5 --sentences FILE.txt

Models are found as embclust finds them: a folder path, or NAME under $EMBCLUST_MODELS
(default ${XDG_DATA_HOME:-~/.local/share}/embclust/models). Defaults: all-MiniLM-L6-v2 and
multilingual-e5-small.

Input: tests/data/encoder/golden_sentences.txt, one sentence per line (English and Korean,
numbers, dates, mixed scripts, emoji, and paragraphs longer than the models' max_seq_length
so that truncation is covered).

Each model runs the real sentence-transformers on the CPU in float32 with the folder's own
max_seq_length, pooling and Normalize module; a model with prompts is run with its "query"
prompt (e5: "query: "). Sentences are encoded one at a time (batch_size=1), so no padding
enters the reference.

Layout of the output (gzip-compressed):
  /sentences                 UTF-8 strings (n,): the input, in order
  /<model>/vectors           float32 (n, dim): model.encode(..., normalize_embeddings=False)
  /<model>/token_counts      int32 (n,): tokens the model sees per sentence (prompt + text,
                             special tokens included), counted before truncation
  /<model> attributes        sentence_transformers, torch, transformers (versions), prompt_name
                             and prompt ("" when none), max_seq_length, normalized (Normalize
                             module present), pooling, pooling_include_prompt, do_lower_case,
                             dim, truncated (sentences with token_counts > max_seq_length),
                             model_safetensors_sha256
"""
import argparse
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import encoder_tools as et  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "data", "encoder")
DEFAULT_MODELS = ["all-MiniLM-L6-v2", "multilingual-e5-small"]


def read_sentences(path):
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    return [s for s in lines if s.strip()]


def pooling_info(model):
    """Pooling mode and include_prompt of the model's Pooling module (None when it has none)."""
    for module in model:
        if type(module).__name__ == "Pooling":
            cfg = module.get_config_dict()
            mode = cfg.get("pooling_mode")  # sentence-transformers 6; older ones: pooling_mode_* flags
            if not mode:
                mode = "+".join(k[len("pooling_mode_"):] for k, v in cfg.items() if k.startswith("pooling_mode_") and v)
            return mode, bool(cfg.get("include_prompt", True))
    return "none", True


def golden_for(name_or_path, sentences):
    import sentence_transformers
    import torch
    import transformers

    path = et.resolve_model(name_or_path)
    if not os.path.isdir(path):
        sys.exit(f"make_encoder_golden: model {name_or_path} is not installed in {et.models_dir()}")
    weights = os.path.join(path, "model.safetensors")
    if not os.path.isfile(weights):
        sys.exit(f"make_encoder_golden: {path} has no model.safetensors")
    model, prompt_name, prompt = et.load_sentence_transformer(path, threads=2)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    with torch.inference_mode():
        vectors = et.encode_st(model, sentences, prompt_name, batch_size=1)
    counts = et.token_counts(model, sentences, prompt)
    pooling, include_prompt = pooling_info(model)
    normalized = any(type(m).__name__ == "Normalize" for m in model)
    attrs = {
        "sentence_transformers": sentence_transformers.__version__,
        "torch": str(torch.__version__),
        "transformers": transformers.__version__,
        "prompt_name": prompt_name or "",
        "prompt": prompt,
        "max_seq_length": np.int64(model.max_seq_length),
        "normalized": np.uint8(normalized),
        "pooling": pooling,
        "pooling_include_prompt": np.uint8(include_prompt),
        "do_lower_case": np.uint8(bool(getattr(model[0], "do_lower_case", False))),
        "dim": np.int64(vectors.shape[1]),
        "truncated": np.int64((counts > model.max_seq_length).sum()),
        "model_safetensors_sha256": et.file_sha256(weights),
    }
    return os.path.basename(path.rstrip("/")), vectors, counts, attrs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=DEFAULT_MODELS, help="model names or folders")
    ap.add_argument("--sentences", default=os.path.join(DATA, "golden_sentences.txt"))
    ap.add_argument("-o", "--output", default=os.path.join(DATA, "golden.h5"))
    args = ap.parse_args()

    sentences = read_sentences(args.sentences)
    results = [golden_for(m, sentences) for m in args.models]

    tmp = args.output + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["sentences_file"] = os.path.basename(args.sentences)
        f.create_dataset("sentences", data=np.array(sentences, dtype=h5py.string_dtype("utf-8")))
        for name, vectors, counts, attrs in results:
            g = f.create_group(name)
            g.create_dataset("vectors", data=vectors, compression="gzip", compression_opts=9, shuffle=True)
            g.create_dataset("token_counts", data=counts, compression="gzip", compression_opts=9)
            for k, v in attrs.items():
                g.attrs[k] = v
            print(f"{name}: {vectors.shape[0]} x {vectors.shape[1]}, prompt {attrs['prompt']!r}, "
                  f"max_seq_length {attrs['max_seq_length']}, tokens {int(counts.sum())} "
                  f"(max {int(counts.max())}), truncated {attrs['truncated']}, "
                  f"normalized {bool(attrs['normalized'])}")
    os.replace(tmp, args.output)
    print(f"wrote {args.output} ({os.path.getsize(args.output) / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
