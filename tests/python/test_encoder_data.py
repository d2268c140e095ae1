"""The encoder reference data: tests/data/encoder/golden.h5 matches its sentence file, and every
row of tests/data/corpus_labels.tsv names a sentence of ../shared/corpus (checked by hash when
the corpus is there)."""
import collections
import hashlib
import os
import unittest

import h5py
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DATA = os.path.join(ROOT, "tests", "data")
CORPUS = os.path.join(ROOT, "..", "shared", "corpus")


def label_rows():
    with open(os.path.join(DATA, "corpus_labels.tsv"), encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if not line.startswith("#") and line.strip()]
    assert lines[0] == "file\tbyte_start\tbyte_end\tsha256_16\tlabel", lines[0]
    return [line.split("\t") for line in lines[1:]]


class GoldenFile(unittest.TestCase):
    def test_layout_matches_sentences(self):
        with open(os.path.join(DATA, "encoder", "golden_sentences.txt"), encoding="utf-8") as f:
            sentences = [s.rstrip("\n") for s in f if s.strip()]
        with h5py.File(os.path.join(DATA, "encoder", "golden.h5"), "r") as f:
            self.assertEqual(list(f["sentences"].asstr()[()]), sentences)
            models = [k for k in f if isinstance(f[k], h5py.Group)]
            self.assertIn("all-MiniLM-L6-v2", models)
            self.assertIn("multilingual-e5-small", models)
            for m in models:
                g = f[m]
                v, counts = g["vectors"][()], g["token_counts"][()]
                self.assertEqual(v.dtype, np.float32)
                self.assertEqual(v.shape, (len(sentences), g.attrs["dim"]))
                self.assertEqual(counts.shape, (len(sentences),))
                self.assertTrue(np.isfinite(v).all())
                self.assertEqual(int((counts > g.attrs["max_seq_length"]).sum()), g.attrs["truncated"])
                self.assertGreater(g.attrs["truncated"], 0, f"{m}: no sentence exercises truncation")
                if g.attrs["normalized"]:
                    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
                self.assertEqual(len(g.attrs["model_safetensors_sha256"]), 64)


class CorpusLabels(unittest.TestCase):
    def test_format_and_counts(self):
        rows = label_rows()
        counts = collections.Counter(r[4] for r in rows)
        self.assertGreaterEqual(len(counts), 6)
        self.assertLessEqual(len(counts), 10)
        self.assertGreaterEqual(min(counts.values()), 20, counts)
        self.assertEqual(len({(r[0], r[1]) for r in rows}), len(rows), "a range is listed twice")
        self.assertEqual(len({r[0] for r in rows}), 5, "rows should cover all five documents")
        for r in rows:
            self.assertLess(int(r[1]), int(r[2]))
            self.assertRegex(r[3], "^[0-9a-f]{16}$")

    @unittest.skipUnless(os.path.isdir(CORPUS), "../shared/corpus is not there")
    def test_hashes_match_corpus(self):
        docs = {}
        for name, start, end, digest, _ in label_rows():
            if name not in docs:
                with open(os.path.join(CORPUS, name), "rb") as f:
                    docs[name] = f.read()
            raw = docs[name][int(start):int(end)]
            self.assertEqual(hashlib.sha256(raw).hexdigest()[:16], digest, f"{name} {start}-{end}")


if __name__ == "__main__":
    unittest.main()
