"""HDBSCAN's datasets as h5py reads them, and scripts/plot_hdbscan.py on them."""

import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SCRIPT = os.path.join(ROOT, "scripts", "plot_hdbscan.py")
BINARY = os.environ.get("EMBCLUST_BINARY", os.path.join(ROOT, "build", "embclust"))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@unittest.skipUnless(os.path.exists(BINARY), f"no embclust binary at {BINARY}")
class PlotHdbscan(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.h5 = os.path.join(cls.tmp.name, "s.h5")
        subprocess.run([BINARY, "run", os.path.join(ROOT, "tests", "data", "sample"), "-o", cls.h5, "--model",
                        "hashing", "--dim", "64", "--method", "hdbscan", "--min-cluster-size", "4", "--device",
                        "cpu", "-q"], check=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_datasets_read_as_the_package_exports_them(self):
        with h5py.File(self.h5, "r") as f:
            g = f["clusters/hdbscan"]
            n = g["labels"].shape[0]
            tree = g["condensed_tree"][()]
            self.assertEqual(tree.dtype.names, ("parent", "child", "lambda_val", "child_size"))
            self.assertEqual(int(tree["parent"].min()), n)  # the root
            self.assertEqual(int(tree["child_size"][tree["child"] < n].max()), 1)
            self.assertEqual(g["single_linkage_tree"].shape, (n - 1, 4))
            self.assertEqual(g["single_linkage_tree"][-1, 3], n)
            mst = g["minimum_spanning_tree"][()]
            self.assertEqual(mst.shape, (n - 1, 3))
            self.assertTrue(np.all(np.diff(mst[:, 2]) >= 0))
            labels, probs = g["labels"][()], g["probabilities"][()]
            self.assertTrue(np.all(probs[labels < 0] == 0))
            self.assertEqual(len(g["persistence"]), g.attrs["n_clusters"])
            offsets = g["exemplar_offsets"][()]
            self.assertEqual(offsets[-1], len(g["exemplars"]))

    def test_plot_writes_a_png(self):
        out = os.path.join(self.tmp.name, "tree.png")
        r = subprocess.run([sys.executable, SCRIPT, self.h5, "-o", out], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as fh:
            self.assertEqual(fh.read(8), PNG_SIGNATURE)

    def test_bad_input_is_one_sentence_and_exit_1(self):
        out = os.path.join(self.tmp.name, "x.png")
        r = subprocess.run([sys.executable, SCRIPT, self.h5, "-o", out, "--clusters", "nope"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no HDBSCAN clustering 'nope'", r.stderr)
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main()
