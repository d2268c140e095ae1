"""Tests for scripts/plot_clusters.py (run: python3 -m unittest discover -s tests/python)."""

import importlib.util
import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.normpath(os.path.join(HERE, "..", "..", "scripts", "plot_clusters.py"))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load_module():
    """Import the script as a module so its helpers can be tested directly."""
    spec = importlib.util.spec_from_file_location("plot_clusters", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_store(path, with_embeddings=True, clusterings=("kmeans", "hdbscan"), n_labels=None):
    """Write a small file in the embclust layout: 3 blobs in 8-D, some noise labels."""
    rng = np.random.default_rng(42)
    centres = np.array([[5.0] + [0.0] * 7, [0.0, 5.0] + [0.0] * 6, [0.0, 0.0, 5.0] + [0.0] * 5])
    per_blob = 40
    vectors = np.vstack([c + rng.normal(0, 0.3, (per_blob, 8)) for c in centres]).astype(np.float32)
    truth = np.repeat(np.arange(3), per_blob).astype(np.int32)
    n = vectors.shape[0]
    str_t = h5py.string_dtype("utf-8")
    with h5py.File(path, "w") as f:
        f.attrs["schema_version"] = np.int64(1)
        f.attrs["embclust_version"] = "0.1.0"
        f.attrs["created"] = "2024-01-01T00:00:00Z"
        f.attrs["command"] = "embclust test"
        f.create_dataset("documents/path", data=["a.txt"], dtype=str_t)
        f.create_dataset("documents/id", data=["a"], dtype=str_t)
        f.create_dataset("segments/text", data=[f"segment {i}" for i in range(n)], dtype=str_t)
        f.create_dataset("segments/document", data=np.zeros(n, np.int32))
        f.create_dataset("segments/offset", data=np.arange(n, dtype=np.int64) * 10)
        f.create_dataset("segments/length", data=np.full(n, 9, np.int32))
        if with_embeddings:
            ds = f.create_dataset("embeddings/vectors", data=vectors)
            ds.attrs["model"] = "test-model"
            ds.attrs["dim"] = np.int64(8)
            ds.attrs["normalized"] = np.uint8(0)
        for name in clusterings:
            labels = truth.copy()
            if name != "kmeans":
                labels[::7] = -1  # sprinkle noise
            if n_labels is not None:
                labels = labels[:n_labels]
            g = f.create_group(f"clusters/{name}")
            g.create_dataset("labels", data=labels)
            g.attrs["method"] = name
            g.attrs["params"] = "{}"
            g.attrs["inertia"] = 1.0
            g.attrs["n_clusters"] = np.int64(3)
            g.attrs["seconds"] = 0.01
    return n


class PlotScriptTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.h5 = os.path.join(self.dir, "store.h5")
        write_store(self.h5)

    def tearDown(self):
        self.tmp.cleanup()

    def run_script(self, *args):
        return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                              timeout=120)

    def assert_valid_png(self, path):
        with open(path, "rb") as fh:
            self.assertEqual(fh.read(8), PNG_SIGNATURE)
        import matplotlib.image as mpimg
        img = mpimg.imread(path)
        self.assertEqual(img.ndim, 3)
        self.assertGreaterEqual(img.shape[0], 200)
        self.assertGreaterEqual(img.shape[1], 400)
        flat = img.reshape(-1, img.shape[2])
        self.assertGreater(len(np.unique(flat, axis=0)), 10, "image is (nearly) a single colour")

    def assert_no_temp_files(self):
        leftovers = [n for n in os.listdir(self.dir) if n.startswith(".plot_clusters.")]
        self.assertEqual(leftovers, [])

    def test_default_plot(self):
        out = os.path.join(self.dir, "plot.png")
        r = self.run_script(self.h5, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isfile(out))
        self.assert_valid_png(out)
        self.assert_no_temp_files()

    def test_select_clustering_and_options(self):
        out = os.path.join(self.dir, "hdb.png")
        r = self.run_script(self.h5, "-o", out, "--clusters", "hdbscan", "--max-points", "50",
                            "--title", "custom", "--dpi", "60")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_valid_png(out)

    def test_single_clustering_is_default(self):
        h5 = os.path.join(self.dir, "single.h5")
        write_store(h5, clusterings=("agglo",))
        out = os.path.join(self.dir, "single.png")
        r = self.run_script(h5, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_valid_png(out)

    def test_missing_clustering_lists_names(self):
        out = os.path.join(self.dir, "x.png")
        r = self.run_script(self.h5, "-o", out, "--clusters", "nope")
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope", r.stderr)
        self.assertIn("hdbscan", r.stderr)
        self.assertIn("kmeans", r.stderr)
        self.assertFalse(os.path.exists(out))

    def test_no_clusterings(self):
        h5 = os.path.join(self.dir, "nocl.h5")
        write_store(h5, clusterings=())
        r = self.run_script(h5, "-o", os.path.join(self.dir, "x.png"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("no clusterings", r.stderr)

    def test_no_embeddings(self):
        h5 = os.path.join(self.dir, "noemb.h5")
        write_store(h5, with_embeddings=False)
        r = self.run_script(h5, "-o", os.path.join(self.dir, "x.png"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("embeddings", r.stderr)

    def test_label_length_mismatch(self):
        h5 = os.path.join(self.dir, "short.h5")
        write_store(h5, n_labels=10)
        r = self.run_script(h5, "-o", os.path.join(self.dir, "x.png"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("labels", r.stderr)

    def test_missing_file(self):
        missing = os.path.join(self.dir, "does_not_exist.h5")
        r = self.run_script(missing, "-o", os.path.join(self.dir, "x.png"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("does_not_exist.h5", r.stderr)

    def test_not_hdf5(self):
        bogus = os.path.join(self.dir, "bogus.h5")
        with open(bogus, "w") as fh:
            fh.write("not hdf5\n")
        r = self.run_script(bogus, "-o", os.path.join(self.dir, "x.png"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("HDF5", r.stderr)

    def test_missing_output_dir(self):
        out = os.path.join(self.dir, "no", "such", "dir", "x.png")
        r = self.run_script(self.h5, "-o", out)
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not exist", r.stderr)
        self.assertFalse(os.path.exists(out))

    def test_usage_error(self):
        r = self.run_script(self.h5)  # -o is required
        self.assertEqual(r.returncode, 2)


class HelperTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mod = load_module()

    def test_pca_dominant_direction(self):
        rng = np.random.default_rng(7)
        d = 6
        direction = rng.normal(size=d)
        direction /= np.linalg.norm(direction)
        n = 4000
        # Std 10 along `direction`, isotropic std 1 noise: the first PC carries
        # 100 / (100 + d) of the total variance.
        x = rng.normal(0, 10, (n, 1)) * direction + rng.normal(0, 1, (n, d)) + 3.0
        proj, comps, ratio = self.mod.pca_2d(x)
        self.assertEqual(proj.shape, (n, 2))
        self.assertEqual(comps.shape, (2, d))
        self.assertGreater(abs(float(comps[0] @ direction)), 0.99)
        self.assertAlmostEqual(float(ratio[0]), 100.0 / (100.0 + d), delta=0.02)
        self.assertLess(float(ratio[1]), 0.05)
        self.assertAlmostEqual(float(proj[:, 0].mean()), 0.0, places=6)  # centred

    def test_pca_degenerate_one_dim(self):
        proj, _, ratio = self.mod.pca_2d(np.arange(10.0).reshape(-1, 1))
        self.assertEqual(proj.shape, (10, 2))
        self.assertAlmostEqual(float(ratio[0]), 1.0)
        self.assertEqual(float(ratio[1]), 0.0)

    def test_subsample_fixed_seed(self):
        a = self.mod.subsample(1000, 100)
        b = self.mod.subsample(1000, 100)
        self.assertEqual(len(a), 100)
        self.assertEqual(len(set(a.tolist())), 100)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(self.mod.subsample(50, 100), np.arange(50))

    def test_read_rows_blockwise(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "v.h5")
            data = np.random.default_rng(3).normal(size=(1000, 4)).astype(np.float32)
            with h5py.File(path, "w") as f:
                f.create_dataset("v", data=data)
            with h5py.File(path, "r") as f:
                for keep in (1, 37, 999, 1000):
                    idx = self.mod.subsample(1000, keep)
                    rows = self.mod.read_rows(f["v"], idx, block=64)
                    np.testing.assert_array_equal(rows, data[idx])

    def test_pick_clustering(self):
        pick = self.mod.pick_clustering
        self.assertEqual(pick(["hdbscan"]), "hdbscan")
        self.assertEqual(pick(["zeta", "kmeans", "alpha"]), "kmeans")
        self.assertEqual(pick(["zeta", "alpha"]), "alpha")
        self.assertEqual(pick(["a", "b"], "b"), "b")
        with self.assertRaises(self.mod.InputError):
            pick([])
        with self.assertRaises(self.mod.InputError):
            pick(["a"], "missing")


if __name__ == "__main__":
    unittest.main()
