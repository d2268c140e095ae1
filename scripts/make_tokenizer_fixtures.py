#!/usr/bin/env python3
"""Reference data for the C++ tokenizers (host/tokenize/), taken from the Python
`tokenizers` package (pip install tokenizers).

Default mode: writes tests/data/tokenizer/fixture.json, the token ids that
    Tokenizer.from_file(path).encode(s, add_special_tokens=True).ids
gives for every sentence of tests/data/tokenizer/sentences.txt and each model below,
with truncation and padding switched off.

sentences.txt holds ONE JSON STRING LITERAL PER LINE (UTF-8, e.g. "Hello, world!"),
so a sentence can carry tabs, control characters, NBSP or zero-width spaces as
\\t, \\u0001, \\u00a0, \\u200b escapes. Blank lines and lines starting with # are
skipped.

--unicode-tables mode: writes host/tokenize/unicode_tables.hpp, the character
classes the BERT normalizer and pre-tokenizer use (control characters, punctuation,
nonspacing marks, lowercase mapping). `tokenizers` takes them from crates with their
own, older Unicode tables, so we probe every code point through the package rather
than trusting the system's Unicode version.

Model files are looked up in the models folder ($EMBCLUST_MODELS, else
${XDG_DATA_HOME:-~/.local/share}/embclust/models), or given with --model NAME=PATH.

    python3 scripts/make_tokenizer_fixtures.py
    python3 scripts/make_tokenizer_fixtures.py --unicode-tables
"""
import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["all-MiniLM-L6-v2", "multilingual-e5-small"]


def models_dir() -> Path:
    env = os.environ.get("EMBCLUST_MODELS")
    if env:
        return Path(env)
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "embclust" / "models"


def read_sentences(path: Path) -> list:
    sentences = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        s = json.loads(line)
        if not isinstance(s, str):
            sys.exit(f"{path}:{n}: expected one JSON string per line")
        sentences.append(s)
    return sentences


def write_fixture(sentences: list, model_paths: dict, out: Path) -> None:
    import tokenizers

    lines = ["{", f'"tokenizers_version": {json.dumps(tokenizers.__version__)},', '"sentences": [']
    lines += [json.dumps(s, ensure_ascii=False) + ("," if i + 1 < len(sentences) else "") for i, s in enumerate(sentences)]
    lines += ["],", '"models": {']
    for m, (name, path) in enumerate(model_paths.items()):
        tok = tokenizers.Tokenizer.from_file(str(path))
        tok.no_truncation()
        tok.no_padding()
        lines.append(f"{json.dumps(name)}: [")
        rows = [json.dumps(tok.encode(s, add_special_tokens=True).ids, separators=(",", ":")) for s in sentences]
        lines += [r + ("," if i + 1 < len(rows) else "") for i, r in enumerate(rows)]
        lines.append("]" + ("," if m + 1 < len(model_paths) else ""))
    lines += ["}", "}"]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(sentences)} sentences x {len(model_paths)} models (tokenizers {tokenizers.__version__})")


# ---- --unicode-tables ------------------------------------------------------

def code_points():
    for cp in range(0x110000):
        if not 0xD800 <= cp <= 0xDFFF:  # surrogates cannot reach Rust strings
            yield cp


def ranges(cps) -> list:
    out = []
    for c in sorted(cps):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def case_runs(pairs: list) -> list:
    """Single code point mappings as runs (first, last, stride, delta)."""
    runs = []
    for cp, lo in pairs:
        delta = lo - cp
        if runs:
            first, last, stride, d = runs[-1]
            if d == delta and (stride == 0 and cp - last in (1, 2) or stride and cp - last == stride):
                runs[-1] = [first, cp, cp - last, d]
                continue
        runs.append([cp, cp, 0, delta])
    return [[f, l, s or 1, d] for f, l, s, d in runs]


def emit_ranges(name: str, rs: list, doc: str) -> list:
    lines = [f"/// {doc}", f"inline constexpr CodeRange {name}[] = {{"]
    items = [f"{{0x{a:X}, 0x{b:X}}}" for a, b in rs]
    for i in range(0, len(items), 6):
        lines.append("    " + ", ".join(items[i:i + 6]) + ",")
    lines.append("};")
    return lines


def write_unicode_tables(out: Path) -> None:
    import tokenizers
    from tokenizers import normalizers as N
    from tokenizers import pre_tokenizers as P

    def bert(**kw):
        opts = dict(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=False)
        opts.update(kw)
        return N.BertNormalizer(**opts)

    clean, strip, lower, nfd = bert(clean_text=True), bert(strip_accents=True), bert(lowercase=True), N.NFD()
    bpt = P.BertPreTokenizer()
    control, punct, mn, case1, case_multi = [], [], [], [], []
    for cp in code_points():
        c = chr(cp)
        if clean.normalize_str(c) == "":
            control.append(cp)
        if len(bpt.pre_tokenize_str("a" + c + "a")) == 3:
            punct.append(cp)
        if cp != 0 and nfd.normalize_str(c) == c and strip.normalize_str(c) == "":
            mn.append(cp)
        lo = lower.normalize_str(c)
        if lo != c:
            (case1 if len(lo) == 1 else case_multi).append((cp, lo))
    runs = case_runs([(cp, ord(lo)) for cp, lo in case1])
    lines = [
        "#pragma once",
        f"// GENERATED by scripts/make_tokenizer_fixtures.py --unicode-tables from tokenizers {tokenizers.__version__}.",
        "// Character classes of the Hugging Face BERT normalizer and pre-tokenizer, probed",
        "// code point by code point (their crates carry older Unicode tables than utf8proc).",
        "#include <cstdint>",
        "",
        "namespace emb::tok::tables {",
        "",
        "struct CodeRange {",
        "  char32_t first, last;",
        "};",
        "/// Code points first..last (step stride) lowercase to cp + delta.",
        "struct CaseRun {",
        "  char32_t first, last;",
        "  int32_t stride, delta;",
        "};",
        "",
    ]
    lines += emit_ranges("kBertControl", ranges(control), "Dropped by clean_text (controls, format, private use, U+0000, U+FFFD).")
    lines += [""] + emit_ranges("kBertPunct", ranges(punct), "Isolated by BertPreTokenizer (ASCII punctuation and P*).")
    lines += [""] + emit_ranges("kNonspacingMark", ranges(mn), "Dropped by strip_accents after NFD (Mn).")
    lines += ["", "/// Single code point lowercase mappings.", "inline constexpr CaseRun kLowercase[] = {"]
    items = [f"{{0x{f:X}, 0x{l:X}, {s}, {d}}}" for f, l, s, d in runs]
    for i in range(0, len(items), 4):
        lines.append("    " + ", ".join(items[i:i + 4]) + ",")
    lines += ["};", "", "/// Lowercase mappings to more than one code point (UTF-8).", "struct CaseMulti {",
              "  char32_t cp;", "  const char* utf8;", "};", "inline constexpr CaseMulti kLowercaseMulti[] = {"]
    for cp, lo in case_multi:
        esc = "".join(f"\\x{b:02x}" for b in lo.encode())
        lines.append(f'    {{0x{cp:X}, "{esc}"}},')
    lines += ["};", "", "}  // namespace emb::tok::tables", ""]
    out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {out}: {len(control)} control, {len(punct)} punctuation, {len(mn)} Mn, "
          f"{len(case1)} lowercase ({len(runs)} runs), {len(case_multi)} multi")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sentences", type=Path, default=ROOT / "tests/data/tokenizer/sentences.txt")
    ap.add_argument("--out", type=Path, default=ROOT / "tests/data/tokenizer/fixture.json")
    ap.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                    help="tokenizer.json for a model (default: the models folder)")
    ap.add_argument("--unicode-tables", action="store_true", help="write host/tokenize/unicode_tables.hpp instead")
    args = ap.parse_args()
    if args.unicode_tables:
        write_unicode_tables(ROOT / "host/tokenize/unicode_tables.hpp")
        return
    paths = {name: models_dir() / name / "tokenizer.json" for name in MODELS}
    for spec in args.model:
        name, _, path = spec.partition("=")
        paths[name] = Path(path)
    for name, path in paths.items():
        if not path.is_file():
            sys.exit(f"{path}: missing; install it with scripts/fetch_model.sh {name} or pass --model {name}=PATH")
    write_fixture(read_sentences(args.sentences), paths, args.out)


if __name__ == "__main__":
    main()
