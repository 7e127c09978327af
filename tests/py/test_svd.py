#!/usr/bin/python3
"""test_svd.py: `dcc svd` against NumPy's SVD: the truncation error equals
the Eckart-Young optimum, the rank rules pick the documented rank, the
randomized method comes close on low-rank-plus-noise matrices, and a model
with a factored layer computes U (S V^T x) + b (logits against NumPy)."""
import gzip
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import check, dcc, finish, run  # noqa: E402



dcc = run


rng = np.random.default_rng(7)
with tempfile.TemporaryDirectory() as tmp:
    p = lambda n: os.path.join(tmp, n)
    for (m, n, r) in ((60, 40, 5), (33, 90, 12), (128, 128, 30)):
        w = (rng.standard_normal((m, r)) @ rng.standard_normal((r, n)) + 0.05 * rng.standard_normal((m, n)))
        w = w.astype(np.float32)
        np.save(p("w.npy"), w)
        dcc("import", p("w.npy"), "--force", "-o", p("w.dct"))
        s = np.linalg.svd(w.astype(np.float64), compute_uv=False)
        for R in (1, r, min(m, n) - 1):
            for method in ("exact", "randomized"):
                out = dcc("svd", p("w.dct"), "--layer", "w", "--rank", str(R), "--method", method, "--json", "--force",
                          "-o", p("f.dct"))
                check(out.returncode == 0, "svd %dx%d rank %d %s: %s" % (m, n, R, method, out.stderr))
                if out.returncode:
                    continue
                rep = json.loads(out.stdout)
                dcc("export", p("f.dct"), "--force", "-o", p("f.npz"))
                f = np.load(p("f.npz"))
                a, u = f["w_sv"].astype(np.float64), f["w_u"].astype(np.float64)
                check(a.shape == (R, n) and u.shape == (m, R), "factor shapes")
                err = np.linalg.norm(w - u @ a) / np.linalg.norm(w)
                opt = np.sqrt((s[R:] ** 2).sum() / (s ** 2).sum())
                if method == "exact":
                    check(abs(err - opt) <= 1e-4 * max(opt, 1e-3), "%dx%d rank %d: error %.8g, optimum %.8g" % (m, n, R, err, opt))
                    check(abs(rep["rel_error"] - opt) <= 1e-4 * max(opt, 1e-3), "reported error %.8g vs %.8g" % (rep["rel_error"], opt))
                else:
                    check(err <= opt * 1.05 + 1e-4, "randomized %dx%d rank %d: %.6g vs optimum %.6g" % (m, n, R, err, opt))
                    check(abs(rep["rel_error"] - err) <= 0.05 * err + 1e-4,  # float factors at near-full rank
                          "randomized reported error %.8g, actual %.8g (rank %d)" % (rep["rel_error"], err, R))
        # the rank rules
        e2 = np.cumsum(s ** 2) / (s ** 2).sum()
        want = int(np.argmax(e2 >= 0.9 * (1 - 1e-12))) + 1
        rep = json.loads(dcc("svd", p("w.dct"), "--layer", "w", "--energy", "0.9", "--json", "--force", "-o", p("f.dct")).stdout)
        check(rep["rank"] == want, "energy rule: %d, want %d" % (rep["rank"], want))
        rep = json.loads(dcc("svd", p("w.dct"), "--layer", "w", "--params", "0.3", "--json", "--force", "-o", p("f.dct")).stdout)
        check(rep["rank"] == max(1, int(0.3 * m * n / (m + n))) and rep["params_after"] <= 0.3 * m * n + (m + n),
              "params rule: %d" % rep["rank"])
        sp = json.loads(dcc("svd", p("w.dct"), "--layer", "w", "--spectrum", "--json").stdout)
        check(np.allclose(sp["singular_values"], s, rtol=1e-5, atol=1e-6), "spectrum")

    # a model with a factored layer computes U (S V^T x) + b
    dcc("train", "--net", "lenet300", "--epochs", "1", "--limit", "2000", "-o", p("m.dct"))
    out = dcc("svd", p("m.dct"), "--layer", "fc2", "--rank", "20", "-o", p("s.dct"))
    check(out.returncode == 0, "svd fc2: " + out.stderr)
    info = json.loads(dcc("info", "--json", p("s.dct")).stdout)
    g = info["metadata"]["dcc.graph"]
    check("fc fc2 in=300 out=20" in g and "fc fc2_u in=20 out=100" in g and
          g.index("fc fc2_u in=20 out=100") == g.index("fc fc2 in=300 out=20") + 1, "graph rewritten: %s" % g)
    dcc("export", p("s.dct"), "-o", p("s.npz"))
    d = np.load(p("s.npz"))
    check(set(d) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc2_u.weight", "fc2_u.bias", "fc3.weight",
                     "fc3.bias"}, "state_dict names %s" % sorted(d))
    check(not d["fc2.bias"].any(), "the first factor's bias is zero")
    raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
    x = np.frombuffer(raw[16:], np.uint8).reshape(-1, 784)[:200].astype(np.float64) / 255
    h = np.maximum(x @ d["fc1.weight"].T + d["fc1.bias"], 0)
    h = d["fc2_u.weight"] @ (d["fc2.weight"] @ h.T) + d["fc2_u.bias"][:, None]
    z = d["fc3.weight"] @ np.maximum(h, 0) + d["fc3.bias"][:, None]
    dcc("eval", "--limit", "200", "--logits", p("l.npy"), p("s.dct"))
    check(np.abs(np.load(p("l.npy")) - z.T).max() < 1e-4, "factored model logits = numpy's")
    # the factors go on through the pipeline
    check(dcc("prune", p("s.dct"), "--sparsity", "0.5", "-o", p("sp.dct")).returncode == 0, "prune a factor")
    # errors
    r = dcc("svd", p("m.dct"), "--layer", "fc2", "--rank", "0", "-o", p("x.dct"))
    check(r.returncode == 2 and "give one of --rank, --energy or --params" in r.stderr, "rank 0: " + r.stderr)
    r = dcc("svd", p("m.dct"), "--layer", "fc2", "--rank", "101", "-o", p("x.dct"))
    check(r.returncode == 2 and "rank 101 is above min(100, 300)" in r.stderr, "rank too big: " + r.stderr)
    r = dcc("svd", p("m.dct"), "--layer", "relu1", "--rank", "3", "-o", p("x.dct"))
    check(r.returncode == 1 and "not an fc layer" in r.stderr, "not fc: " + r.stderr)
    np.save(p("v.npy"), np.ones(5, np.float32))
    dcc("import", p("v.npy"), "-o", p("v.dct"))
    r = dcc("svd", p("v.dct"), "--layer", "v", "--rank", "1", "-o", p("x.dct"))
    check(r.returncode == 1 and "not 2-D" in r.stderr, "1-D: " + r.stderr)
    check(not os.path.exists(p("x.dct")), "no output on failure")

finish("test_svd")
