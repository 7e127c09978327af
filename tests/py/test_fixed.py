#!/usr/bin/python3
"""test_fixed.py: `dcc fixed` and `dcc eval --fixed` against an independent
NumPy implementation of formats/fixed.md: the stored integers are NumPy's
round-half-even and saturation of the float weights at the recorded formats,
and the integer-only logits of lenet300, lenet5 and a shared, pruned MLP
equal NumPy's int64 inference bit for bit."""
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DATA, DCC, check, finish  # noqa: E402
from common import run as run_dcc  # noqa: E402

N = 200


def dcc(*args, out=False):
    r = run_dcc(*args)
    if r.returncode:
        print("dcc", *args, "->", r.returncode, r.stderr, file=sys.stderr)
    return r.stdout if out else r.returncode


def quant(x, bw, fl):
    q = np.round(np.ldexp(x.astype(np.float64), fl))  # numpy rounds half to even
    return np.clip(q, -2 ** (bw - 1), 2 ** (bw - 1) - 1).astype(np.int64)


def rshift(v, s):
    v = v.astype(np.int64)
    if s <= 0:
        return v << -s
    q = v >> s
    r = v - (q << s)
    h = 1 << (s - 1)
    return q + ((r > h) | ((r == h) & (q & 1 == 1)))


def sat(v, bw):
    return np.clip(v, -2 ** (bw - 1), 2 ** (bw - 1) - 1)


def formats(path):
    md = json.loads(dcc("info", "--json", path, out=True))["metadata"]
    f = {}
    for line in md["dcc.fixed"]:
        name, *kv = line.split()
        f[name] = {k: int(v) for k, v in (x.split("=") for x in kv)}
    return f, md["dcc.graph"]


SIG = np.clip(np.round(1 / (1 + np.exp(-(-8 + np.arange(257) / 16))) * 32768), -65536, 65535).astype(np.int64)
TANH = np.clip(np.round(np.tanh(-4 + np.arange(257) / 32) * 32768), -65536, 65535).astype(np.int64)


def lut(table, z, fl, lo, shift):
    u = np.clip(rshift(z, fl - 12) + lo, 0, 2 * lo - 1)
    k, fr = u >> shift, u & ((1 << shift) - 1)
    return table[k] + (((table[k + 1] - table[k]) * fr + (1 << (shift - 1))) >> shift)


def lstm(x, L, p, name, in_fl, H):
    n, T, NI = x.shape[0], x.shape[2], x.shape[3]
    wi, wh = p[name + ".weight_ih_l0"], p[name + ".weight_hh_l0"]
    bi, bh = p[name + ".bias_ih_l0"], p[name + ".bias_hh_l0"]
    bw, zf, cf, hf = L["a_bw"], L["z_fl"], L["c_fl"], L["a_fl"]
    fx, fh = L["w_fl"] + in_fl, L["wh_fl"] + hf
    h = np.zeros((n, H), np.int64)
    c = np.zeros((n, H), np.int64)
    for t in range(T):
        xt = x[:, 0, t, :]
        z1 = sat(rshift(xt @ wi.T + rshift(bi, L["b_fl"] - fx)[None, :], fx - zf), bw)
        z2 = sat(rshift(h @ wh.T + rshift(bh, L["b_fl"] - fh)[None, :], fh - zf), bw)
        z = sat(z1 + z2, bw)
        i, f = lut(SIG, z[:, :H], zf, 32768, 8), lut(SIG, z[:, H:2 * H], zf, 32768, 8)
        g, o = lut(TANH, z[:, 2 * H:3 * H], zf, 16384, 7), lut(SIG, z[:, 3 * H:], zf, 32768, 8)
        c = sat(rshift(f * c, 15) + rshift(i * g, 30 - cf), bw)
        h = sat(rshift(o * lut(TANH, c, cf, 16384, 7), 30 - hf), bw)
    return h


def forward(graph, f, p, px):
    a = f["input"]
    num = px.astype(np.int64) << a["a_fl"] if a["a_fl"] >= 0 else px.astype(np.int64)
    den = 255 if a["a_fl"] >= 0 else 255 << -a["a_fl"]
    q, r = num // den, num % den
    x = sat(q + ((2 * r > den) | ((2 * r == den) & (q & 1 == 1))), a["a_bw"])
    fl = a["a_fl"]
    for line in graph:
        op, name, *_ = line.split()
        if op in ("fc", "conv2d"):
            L = f[name]
            w, b = p[name + ".weight"].astype(np.int64), p[name + ".bias"].astype(np.int64)
            facc = L["w_fl"] + fl
            if op == "fc":
                acc = x @ w.T
                bias = rshift(b, L["b_fl"] - facc)
                acc = acc + bias[None, :]
            else:
                win = sliding_window_view(x, w.shape[2:], axis=(2, 3))
                acc = np.einsum("nchwij,ocij->nohw", win, w)
                acc = acc + rshift(b, L["b_fl"] - facc)[None, :, None, None]
            x = sat(rshift(acc, facc - L["a_fl"]), L["a_bw"])
            fl = L["a_fl"]
        elif op == "lstm":
            H = int(line.split("hidden=")[1].split()[0])
            x = lstm(x, f[name], p, name, fl, H)
            fl = f[name]["a_fl"]
        elif op == "relu":
            x = np.maximum(x, 0)
        elif op == "maxpool2d":
            n, c, h, w_ = x.shape
            x = x[:, :, :h // 2 * 2, :w_ // 2 * 2].reshape(n, c, h // 2, 2, w_ // 2, 2).max(axis=(3, 5))
        elif op == "flatten":
            x = x.reshape(len(x), -1)
    return x, fl


def run(tmp, model, args, graph_net):
    out = os.path.join(tmp, "f.dct")
    check(dcc("fixed", model, *args, "--limit", "500", "--calib", "64", "--force", "-o", out) == 0,
          "dcc fixed %s" % " ".join(args))
    f, graph = formats(out)
    # the stored integers: NumPy's quantisation of the float weights
    dcc("export", model, "-o", os.path.join(tmp, "float.npz"))
    dcc("export", "--raw", out, "-o", os.path.join(tmp, "raw.npz"))
    fw, raw = np.load(os.path.join(tmp, "float.npz")), dict(np.load(os.path.join(tmp, "raw.npz")))
    p = {}
    for name, L in f.items():
        if name == "input":
            continue
        tensors = ((name + ".weight", L["w_bw"], L["w_fl"]), (name + ".bias", L["b_bw"], L["b_fl"]))
        if "z_fl" in L:  # lstm
            tensors = ((name + ".weight_ih_l0", L["w_bw"], L["w_fl"]), (name + ".weight_hh_l0", L["w_bw"], L["wh_fl"]),
                       (name + ".bias_ih_l0", L["b_bw"], L["b_fl"]), (name + ".bias_hh_l0", L["b_bw"], L["b_fl"]))
        for t, bw, fl in tensors:
            if t + ".codebook" in raw:  # shared: the codebook is what is quantised
                cb = raw[t + ".codebook"].astype(np.int64)
                fcb = np.load(os.path.join(tmp, "float_raw.npz"))[t + ".codebook"]
                check((cb == quant(fcb, bw, fl)).all(), "%s codebook = numpy quantisation" % t)
                idx, mask = raw[t + ".index"], raw[t + ".mask"]
                p[t] = np.where(mask.astype(bool), cb[idx.astype(np.int64)], 0)
            else:
                check((raw[t].astype(np.int64) == quant(fw[t], bw, fl)).all(), "%s = numpy quantisation" % t)
                check(raw[t].min() >= -2 ** (bw - 1) and raw[t].max() <= 2 ** (bw - 1) - 1, "%s in range" % t)
                p[t] = raw[t].astype(np.int64)
    px = np.frombuffer(gzip.open(DATA + "t10k-images-idx3-ubyte.gz").read()[16:], np.uint8)
    px = px.reshape(-1, 1, 28, 28)[:N]
    y, fl = forward(graph, f, p, px)
    lg = os.path.join(tmp, "logits.npy")
    check(dcc("eval", "--fixed", "--limit", str(N), "--logits", lg, out) == 0, "eval --fixed")
    got = np.load(lg)
    want = np.ldexp(y.astype(np.float64), -fl).astype(np.float32)
    check(got.shape == want.shape and (got == want).all(),
          "%s %s: integer logits equal numpy's (%d of %d differ)" % (graph_net, " ".join(args),
                                                                      int((got != want).sum()), want.size))


with tempfile.TemporaryDirectory() as tmp:
    def path(n):
        return os.path.join(tmp, n)
    dcc("train", "--net", "lenet300", "--epochs", "1", "--limit", "3000", "-o", path("l300.dct"))
    dcc("train", "--net", "lenet5", "--epochs", "1", "--limit", "1500", "-o", path("l5.dct"))
    for args in (["--weights", "16", "--acts", "16"], ["--weights", "8", "--acts", "8"],
                 ["--weights", "fc1=3,default=6", "--acts", "7", "--bias-bits", "9"],
                 ["--weights", "8", "--acts", "8", "--static"]):
        run(tmp, path("l300.dct"), args, "lenet300")
    for args in (["--weights", "conv=8,fc=4", "--acts", "8"], ["--weights", "16", "--acts", "12"]):
        run(tmp, path("l5.dct"), args, "lenet5")
    # pruned and shared: the codebook is quantised, pruned weights stay zero
    dcc("prune", path("l300.dct"), "--sparsity", "0.9", "-o", path("p.dct"))
    dcc("share", path("p.dct"), "--bits", "4", "-o", path("s.dct"))
    dcc("export", "--raw", path("s.dct"), "-o", path("float_raw.npz"))
    run(tmp, path("s.dct"), ["--weights", "8", "--acts", "8"], "lenet300 shared")
    # errors
    r = subprocess.run([DCC, "fixed", path("l300.dct"), "--weights", "30", "-o", path("x.dct")], capture_output=True,
                       text=True)
    check(r.returncode == 2 and "--weights: '30' is not a bit count in 1..24" in r.stderr, "bit width range")
    dcc("fixed", path("l300.dct"), "-o", path("f16.dct"))
    r = subprocess.run([DCC, "fixed", path("f16.dct"), "-o", path("x.dct")], capture_output=True, text=True)
    check(r.returncode == 1 and "already fixed point" in r.stderr, "fixed twice: " + r.stderr)
    r = subprocess.run([DCC, "eval", "--fixed", path("l300.dct")], capture_output=True, text=True)
    check(r.returncode == 1 and "no fixed-point formats (dcc.fixed): run dcc fixed first" in r.stderr,
          "eval --fixed on a float model: " + r.stderr)
    dcc("train", "--net", "lstm", "--epochs", "1", "--limit", "500", "-o", path("lstm.dct"))
    for args in (["--weights", "16", "--acts", "16"], ["--weights", "8", "--acts", "12"]):
        run(tmp, path("lstm.dct"), args, "lstm")
    r = subprocess.run([DCC, "fixed", path("lstm.dct"), "--static", "-o", path("x.dct")], capture_output=True, text=True)
    check(r.returncode == 1 and "--static does not cover lstm layers" in r.stderr, "lstm static: " + r.stderr)
    check(not os.path.exists(path("x.dct")), "no output on failure")

finish("test_fixed")
