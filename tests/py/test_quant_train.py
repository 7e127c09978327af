#!/usr/bin/python3
"""test_quant_train.py: dcc train --quant W:A:E against a NumPy model of the
same rounding rules (formats/fixed.md: a power-of-two scale, round half to
even, saturate).  One batch of a 784-32-10 MLP: the forward pass on 8-bit
weights with 8-bit activations after each fc layer, the errors reaching
each fc layer quantised to E bits, the weight gradient into the float32
master weights.  The updated weights must match NumPy's, and the formats
and overflow/underflow counts dcc reports must be NumPy's too."""
import gzip
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DATA, DCC, check, dcc, finish, run  # noqa: E402



def fl_for_max(mx, bits):
    """the largest fl at which mx fits bits bits (lib/nn/net.c)"""
    mx = np.float32(mx)
    fl = bits - 1 - int(np.ceil(np.log2(mx)))
    if np.ldexp(mx, fl) > np.float32(2.0 ** (bits - 1) - 0.5):
        fl -= 1
    return fl


def fq(x, bits):
    """fake quantisation at the values' own fl: (result, fl, overflow, underflow)"""
    x = x.astype(np.float32)
    fl = fl_for_max(np.abs(x).max(), bits)
    v = np.rint(np.ldexp(x, fl))  # round half to even
    hi, lo = 2.0 ** (bits - 1) - 1, -(2.0 ** (bits - 1))
    ovf = int(((v > hi) | (v < lo)).sum())
    unf = int(((v == 0) & (x != 0)).sum())
    return np.ldexp(np.clip(v, lo, hi), -fl).astype(np.float32), fl, ovf, unf


B, LR = 32, 0.05
for W, A, E in ((8, 8, 16), (6, 8, 12)):
    with tempfile.TemporaryDirectory() as tmp:
        p = lambda n: os.path.join(tmp, n)
        subprocess.run([DCC, "train", "--net", "mlp:784-32-10", "--epochs", "1", "--limit", "2000", "-o", p("m.dct")],
                       capture_output=True)
        r = subprocess.run([DCC, "train", "--init", p("m.dct"), "--epochs", "1", "--limit", str(B), "--batch", str(B),
                            "--threads", "1", "--quant", "%d:%d:%d" % (W, A, E), "--warmup", "0", "--lr", str(LR),
                            "--momentum", "0", "--weight-decay", "0", "--lr-schedule", "const", "-o", p("q.dct")],
                           capture_output=True, text=True)
        check(r.returncode == 0, "quantised step: " + r.stderr)
        subprocess.run([DCC, "export", p("m.dct"), "-o", p("m.npz")], capture_output=True)
        subprocess.run([DCC, "export", p("q.dct"), "-o", p("q.npz")], capture_output=True)
        m, q = np.load(p("m.npz")), np.load(p("q.npz"))
        x = np.frombuffer(gzip.open(DATA + "/train-images-idx3-ubyte.gz").read()[16:], np.uint8)
        x = x.reshape(-1, 784)[:B].astype(np.float32) / np.float32(255)
        y = np.frombuffer(gzip.open(DATA + "/train-labels-idx1-ubyte.gz").read()[8:], np.uint8)[:B]
        W1, b1, W2, b2 = (m[k].astype(np.float32) for k in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"))
        W1q, flw1, _, _ = fq(W1, W)
        W2q, flw2, _, _ = fq(W2, W)
        # forward: each fc layer's output quantised to A bits
        a1, fla1, o1, u1 = fq(x @ W1q.T + b1, A)
        h = np.maximum(a1, 0)
        z, fla2, o2, u2 = fq(h @ W2q.T + b2, A)
        z64 = z.astype(np.float64)
        pr = np.exp(z64 - z64.max(1, keepdims=True))
        pr /= pr.sum(1, keepdims=True)
        dl = (pr - np.eye(10)[y]) / B
        # backward: the error reaching each fc layer quantised to E bits
        d2, fle2, eo2, eu2 = fq(dl, E)
        gW2, gb2 = d2.T.astype(np.float64) @ h, d2.sum(0)
        dh = (d2.astype(np.float64) @ W2q) * (h > 0)
        d1, fle1, eo1, eu1 = fq(dh, E)
        gW1, gb1 = d1.T.astype(np.float64) @ x, d1.sum(0)
        # the updates go to the float32 master weights
        want = {"fc1.weight": W1 - LR * gW1, "fc1.bias": b1 - LR * gb1,
                "fc2.weight": W2 - LR * gW2, "fc2.bias": b2 - LR * gb2}
        for k, v in want.items():
            moved = np.abs(v - m[k]).max()
            err = np.abs(q[k] - v).max()
            check(moved > 0 and err <= 1e-3 * moved + 1e-7,
                  "%d:%d:%d %s: |dcc - numpy| %.3g against an update of %.3g" % (W, A, E, k, err, moved))
        # the reported formats and counts are NumPy's
        rep = {}
        for line in r.stderr.splitlines():
            g = re.match(r"train:\s+(\w+)\s+fl w\s+(-?\d+)\s+act\s+(-?\d+) \(overflow ([\d.]+)%, underflow ([\d.]+)%\)"
                         r"\s+err\s+(-?\d+) \(overflow ([\d.]+)%, underflow ([\d.]+)%\)", line)
            if g:
                rep[g.group(1)] = g.groups()[1:]
        check(set(rep) == {"fc1", "fc2"}, "%d:%d:%d: a report line per layer: %s" % (W, A, E, r.stderr))
        pct = lambda c, n: "%.3f" % (100 * c / n)
        upct = lambda c, n: "%.2f" % (100 * c / n)
        for name, flw, fla, ov, un, fle, eov, eun, n_a in (
                ("fc1", flw1, fla1, o1, u1, fle1, eo1, eu1, B * 32), ("fc2", flw2, fla2, o2, u2, fle2, eo2, eu2, B * 10)):
            got = rep.get(name)
            exp = (str(flw), str(fla), pct(ov, n_a), upct(un, n_a), str(fle), pct(eov, n_a), upct(eun, n_a))
            check(got == exp, "%d:%d:%d %s: dcc reports %s, numpy %s" % (W, A, E, name, got, exp))

finish("test_quant_train")
