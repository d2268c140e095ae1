"""The embclust binary on the shipped sample, read back with plain h5py and plotted.

Run by ctest, which sets EMBCLUST_BINARY; run by hand, point it at build/embclust.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
BINARY = os.environ.get("EMBCLUST_BINARY", os.path.join(ROOT, "build", "embclust"))


@unittest.skipUnless(os.path.exists(BINARY), f"embclust binary not built at {BINARY}")
class EndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.h5 = os.path.join(cls.tmp.name, "sample.h5")
        subprocess.run([BINARY, "run", os.path.join(ROOT, "tests", "data", "sample"), "-o", cls.h5,
                        "--config", os.path.join(ROOT, "configs", "default.toml"), "--device", "cpu", "-q"],
                       check=True, cwd=ROOT)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_layout_as_h5py_reads_it(self):
        with h5py.File(self.h5, "r") as f:
            self.assertEqual(int(f.attrs["schema_version"]), 1)
            for a in ("embclust_version", "created", "command"):
                self.assertIn(a, f.attrs)
            text = f["segments/text"].asstr()[()]
            n = len(text)
            self.assertGreater(n, 100)
            self.assertEqual(f["segments/document"].dtype, np.int32)
            self.assertEqual(f["segments/offset"].dtype, np.int64)
            self.assertEqual(f["segments/length"].dtype, np.int32)
            vec = f["embeddings/vectors"]
            self.assertEqual(vec.dtype, np.float32)
            self.assertEqual(vec.shape[0], n)
            # Streamed chunk by chunk into contiguous storage; nothing of the streaming is left.
            self.assertIsNone(vec.chunks)
            self.assertNotIn("progress", f["embeddings"])
            self.assertNotIn("resume_key", vec.attrs)
            norms = np.linalg.norm(vec[()], axis=1)
            np.testing.assert_allclose(norms, 1.0, atol=1e-4)
            g = f["clusters/kmeans"]
            labels = g["labels"][()]
            self.assertEqual(labels.dtype, np.int32)
            self.assertEqual(labels.shape, (n,))
            k = int(g.attrs["n_clusters"])
            self.assertEqual(g["centroids"].shape, (k, vec.shape[1]))
            self.assertEqual(set(labels.tolist()), set(range(k)))
            self.assertEqual(json.loads(g.attrs["params"])["k"], k)
            self.assertGreater(float(g.attrs["inertia"]), 0.0)

    def test_offsets_point_into_the_files(self):
        with h5py.File(self.h5, "r") as f:
            paths = f["documents/path"].asstr()[()]
            text = f["segments/text"].asstr()[()]
            doc, off, length = f["segments/document"][()], f["segments/offset"][()], f["segments/length"][()]
        checked = 0
        for t, d, o, n in zip(text, doc, off, length):
            path = paths[d]
            if path.endswith(".jsonl"):
                continue
            with open(os.path.join(ROOT, path) if not os.path.isabs(path) else path, "rb") as fh:
                data = fh.read()
            self.assertEqual(data[o:o + n].decode("utf-8"), t)
            checked += 1
        self.assertGreater(checked, 200)

    def test_cluster_vectors_from_another_tool(self):
        # A plain HDF5 file with float16 vectors, as another tool would write it.
        rng = np.random.default_rng(0)
        centres = rng.normal(size=(3, 8)) * 10
        x = np.concatenate([c + rng.normal(size=(40, 8)) for c in centres]).astype(np.float16)
        src = os.path.join(self.tmp.name, "foreign.h5")
        with h5py.File(src, "w") as f:
            f["vecs"] = x
        out = os.path.join(self.tmp.name, "clusters.h5")
        subprocess.run([BINARY, "cluster", out, "--input", src + ":/vecs", "--k", "3", "--device", "cpu", "-q"],
                       check=True)
        with h5py.File(out, "r") as f:
            labels = f["clusters/kmeans/labels"][()]
            self.assertEqual(json.loads(f["clusters/kmeans"].attrs["params"])["input"], src + ":/vecs")
        self.assertEqual(labels.shape, (120,))
        for b in range(3):  # each blob is one cluster
            self.assertEqual(len(set(labels[40 * b:40 * (b + 1)].tolist())), 1)
        self.assertEqual(len(set(labels.tolist())), 3)

    def test_plot(self):
        png = os.path.join(self.tmp.name, "sample.png")
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "plot_clusters.py"), self.h5, "-o", png],
                       check=True, capture_output=True)
        with open(png, "rb") as fh:
            self.assertEqual(fh.read(8), b"\x89PNG\r\n\x1a\n")


if __name__ == "__main__":
    unittest.main()
