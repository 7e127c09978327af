#!/usr/bin/python3
"""test_trainstep.py: dcc emu --train-step's multiply-accumulate counts
against counts made by hand in NumPy for a pruned MLP: forward (kept
weights x nonzero inputs), error back-propagation (kept weights x nonzero
errors, zero where the ReLU was inactive) and the weight gradient (kept
positions with both nonzero), on the first training images."""
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DCC, check, dcc, finish, run  # noqa: E402



B = 16
with tempfile.TemporaryDirectory() as tmp:
    p = lambda n: os.path.join(tmp, n)
    subprocess.run([DCC, "train", "--net", "mlp:784-32-10", "--epochs", "1", "--limit", "1000", "-o", p("m.dct")],
                   capture_output=True)
    subprocess.run([DCC, "prune", p("m.dct"), "--sparsity", "0.7", "-o", p("pr.dct")], capture_output=True)
    subprocess.run([DCC, "export", p("pr.dct"), "-o", p("w.npz")], capture_output=True)
    r = subprocess.run([DCC, "emu", "--train-step", p("pr.dct"), "--batch", str(B), "--pes", "4", "--json"],
                       capture_output=True, text=True)
    check(r.returncode == 0, "train-step: " + r.stderr)
    rep = {(s["layer"], s["stage"]): s for s in json.loads(r.stdout)["stages"]} if r.returncode == 0 else {}
    w = np.load(p("w.npz"))
    x = np.frombuffer(gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").read()[16:],
                      np.uint8).reshape(-1, 784)[:B].astype(np.float32) / 255
    h = np.maximum(x @ w["fc1.weight"].T + w["fc1.bias"], 0)
    M1, M2 = w["fc1.weight"] != 0, w["fc2.weight"] != 0
    want = {
        ("fc1", "FP"): sum(M1[:, xs != 0].sum() for xs in x),
        ("fc1", "EB"): sum(M1[hs != 0, :].sum() for hs in h),
        ("fc1", "WG"): sum(M1[np.ix_(hs != 0, xs != 0)].sum() for xs, hs in zip(x, h)),
        ("fc2", "FP"): sum(M2[:, hs != 0].sum() for hs in h),
        ("fc2", "EB"): B * M2.sum(),
        ("fc2", "WG"): sum(M2[:, hs != 0].sum() for hs in h),
    }
    for k, v in want.items():
        got = rep.get(k, {}).get("sparse_macs")
        check(got == v, "%s %s: %s sparse MACs, hand count %d" % (k[0], k[1], got, v))
        check(rep.get(k, {}).get("dense_macs") == B * M1.size if k[0] == "fc1" else B * M2.size, "%s dense" % (k,))

# a convolution (cnn:4:16: conv 1->4 3x3 pad 1, ReLU, 2x2 max-pooling, ...):
# per output position, FP counts kept weights x nonzero patch inputs, EB the
# kept weights of the channels whose error is nonzero (ReLU active and the
# pooling's maximum), WG the kept positions with both nonzero
with tempfile.TemporaryDirectory() as tmp:
    p = lambda n: os.path.join(tmp, n)
    subprocess.run([DCC, "train", "--net", "cnn:4:16", "--epochs", "1", "--limit", "1000", "-o", p("c.dct")],
                   capture_output=True)
    subprocess.run([DCC, "prune", p("c.dct"), "--sparsity", "conv1=0.5,default=0.7", "--include-first", "-o", p("cp.dct")],
                   capture_output=True)
    subprocess.run([DCC, "export", p("cp.dct"), "-o", p("cw.npz")], capture_output=True)
    r = subprocess.run([DCC, "emu", "--train-step", p("cp.dct"), "--batch", str(B), "--pes", "4", "--json"],
                       capture_output=True, text=True)
    check(r.returncode == 0, "conv train-step: " + r.stderr)
    rep = {(s["layer"], s["stage"]): s for s in json.loads(r.stdout)["stages"]} if r.returncode == 0 else {}
    w = np.load(p("cw.npz"))
    W1, b1 = w["conv1.weight"].astype(np.float64).reshape(4, 9), w["conv1.bias"].astype(np.float64)
    K = W1 != 0
    check(0 < K.mean() < 1, "conv1 is pruned")
    xi = np.pad(x.reshape(B, 28, 28).astype(np.float64), ((0, 0), (1, 1), (1, 1)))
    from numpy.lib.stride_tricks import sliding_window_view
    pt = sliding_window_view(xi, (3, 3), axis=(1, 2)).reshape(B, 28, 28, 9)   # (c, ky, kx) with c = 1
    z = np.maximum(pt @ W1.T + b1, 0)                                          # (B, 28, 28, 4)
    win = z.reshape(B, 14, 2, 14, 2, 4).transpose(0, 1, 3, 5, 2, 4).reshape(B, 14, 14, 4, 4)
    first = win.argmax(axis=4)                                                 # the first maximum, row-major
    arg = np.zeros((B, 14, 14, 4, 4), bool)
    np.put_along_axis(arg, first[..., None], True, axis=4)
    arg = arg.reshape(B, 14, 14, 4, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(B, 28, 28, 4)
    e = (z > 0) & arg
    xnz = pt != 0
    fp = int(np.einsum("bhwj,mj->", xnz.astype(np.int64), K.astype(np.int64)))
    eb = int((e * K.sum(1)).sum())
    wg = int(np.einsum("bhwm,bhwj,mj->", e.astype(np.int64), xnz.astype(np.int64), K.astype(np.int64)))
    for stage, v in (("FP", fp), ("EB", eb), ("WG", wg)):
        got = rep.get(("conv1", stage), {}).get("sparse_macs")
        check(got == v, "conv1 %s: %s sparse MACs, hand count %d" % (stage, got, v))
        check(rep.get(("conv1", stage), {}).get("dense_macs") == B * 28 * 28 * 4 * 9, "conv1 %s dense" % stage)

finish("test_trainstep")
