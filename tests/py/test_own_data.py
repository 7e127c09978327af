#!/usr/bin/python3
"""test_own_data.py: a user's own data through every stage (issue 22).
Data sets made here by NumPy: Fashion-MNIST padded to 3x32x32 float with
per-channel offsets (a CIFAR-like .npz), its rows as a float32 (28, 28)
sequence set, a regression set and a binary set.  Checked: the CNN goes
through train, prune, share, fixed, encode, compile and the emulator,
bit-exact against `dcc run --fixed`; the LSTM trains as through IDX; a
regression head reaches NumPy's least squares; precision and recall,
top-5, `dcc run` and `dcc compare` agree with NumPy's computation on the
same outputs; hostile data sets are refused with one line."""
import gzip
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DATA, check, dcc, finish, ort_run, run  # noqa: E402

NTR, NTE = 2000, 500


def idx(name, off, shape):
    raw = gzip.open(DATA + name).read()
    return np.frombuffer(raw[off:], np.uint8).reshape(shape)


xtr = idx("train-images-idx3-ubyte.gz", 16, (-1, 28, 28))[:NTR]
ytr = idx("train-labels-idx1-ubyte.gz", 8, (-1,))[:NTR].astype(np.int64)
xte = idx("t10k-images-idx3-ubyte.gz", 16, (-1, 28, 28))[:NTE]
yte = idx("t10k-labels-idx1-ubyte.gz", 8, (-1,))[:NTE].astype(np.int64)
tmp = tempfile.mkdtemp()


def p(name):
    return os.path.join(tmp, name)


def js(*args):
    r = run(*args, "--json")
    check(r.returncode == 0, "%s: %s" % (" ".join(args), r.stderr))
    return json.loads(r.stdout) if r.returncode == 0 else {}


def rgb(x):
    """28x28 uint8 -> 3x32x32 float32 in [0, 1] plus per-channel offsets."""
    f = np.pad(x.astype(np.float32) / 255, ((0, 0), (2, 2), (2, 2)))
    return np.stack([f + 0.1, 0.8 * f - 0.2, f * 0.5 + 0.3], axis=1).astype(np.float32)


# ---- 3x32x32 float images: the whole pipeline, bit-exact on the emulator ----
np.savez(p("rgb.npz"), x_train=rgb(xtr), y_train=ytr, x_test=rgb(xte), y_test=yte)
check(dcc("train", "--net", "cnn:8,16:32", "--data", p("rgb.npz"), "--normalize", "--epochs", "3",
          "-o", p("c.dct")) == 0, "train cnn on 3x32x32")
ev = js("eval", "--data", p("rgb.npz"), p("c.dct"))
check(ev.get("accuracy", 0) > 0.65 and ev.get("images") == NTE, "cnn accuracy %s" % ev.get("accuracy"))
mean = np.array([[rgb(xtr)[:, c].mean(dtype=np.float64) for c in range(3)]])
r = run("info", "--json", p("c.dct"))
md = json.loads(r.stdout)["metadata"] if r.returncode == 0 else {}
check(np.allclose(md.get("dcc.input_mean", [0, 0, 0]), mean, rtol=1e-9), "normalize: the training set's mean per channel")
check(dcc("prune", "--data", p("rgb.npz"), "--sparsity", "0.5", "--retrain", "1", p("c.dct"), "-o", p("cp.dct")) == 0,
      "prune")
check(dcc("share", "--data", p("rgb.npz"), "--bits", "4", "--zero", "--finetune", "1", p("cp.dct"), "-o", p("cs.dct")) == 0,
      "share")
check(dcc("fixed", "--data", p("rgb.npz"), p("cs.dct"), "-o", p("cf.dct")) == 0, "fixed")
check(dcc("encode", p("cf.dct"), "-o", p("c.dcb")) == 0, "encode")
check(dcc("compile", p("c.dcb"), "-o", p("c.dci")) == 0, "compile")
check(dcc("run", "--input", p("rgb.npz"), "--fixed", "--limit", "200", p("cf.dct"), "-o", p("run_fixed.npy")) == 0,
      "run --fixed")
check(dcc("emu", p("c.dci"), "--input", p("rgb.npz"), "--limit", "200", "--logits", p("emu.npy")) == 0, "emu .dci")
a, b = np.load(p("run_fixed.npy")), np.load(p("emu.npy"))
check(a.shape == (200, 10) and np.array_equal(a, b), "3x32x32: emulator bit-exact with dcc run --fixed")
# the .dci carries the normalisation (its bits) and the head; asm(disasm) is the same file
r = run("disasm", p("c.dci"))
norms = [ln.split()[1:] for ln in r.stdout.splitlines() if ln.startswith(".input_norm ")]
check(len(norms) == 3 and np.allclose([float.fromhex(m) for m, _ in norms], md.get("dcc.input_mean", []), rtol=1e-12)
      and np.allclose([float.fromhex(sd) for _, sd in norms], md.get("dcc.input_std", []), rtol=1e-12),
      "disasm: .input_norm per channel")
with open(p("c.s"), "w") as f:
    f.write(r.stdout)
check(dcc("asm", p("c.s"), "-o", p("c2.dci")) == 0 and open(p("c.dci"), "rb").read() == open(p("c2.dci"), "rb").read(),
      "asm(disasm(.dci)) is the same bytes")
with open(p("c3.s"), "w") as f:
    f.write(r.stdout.replace(".input_norm " + " ".join(norms[1]), ".input_norm 0.5 0x1p-1"))
check(dcc("asm", p("c3.s"), "-o", p("c3.dci")) == 0 and
      dcc("emu", p("c3.dci"), "--input", p("rgb.npz"), "--limit", "20", "--logits", p("emu3.npy")) == 0 and
      not np.array_equal(np.load(p("emu3.npy")), b[:20]), "an edited .input_norm changes what the emulator computes")
fx = js("eval", "--data", p("rgb.npz"), "--fixed", p("cf.dct"))
check(fx.get("accuracy", 0) > ev.get("accuracy", 1) - 0.05, "fixed accuracy %s" % fx.get("accuracy"))

# dcc run equals dcc eval --logits, bit for bit; --argmax and --probs from them
check(dcc("run", "--input", p("rgb.npz"), p("c.dct"), "-o", p("run.npy")) == 0, "run float")
check(dcc("eval", "--data", p("rgb.npz"), "--logits", p("ev.npy"), p("c.dct")) == 0, "eval --logits")
z = np.load(p("run.npy"))
check(z.dtype == np.float32 and np.array_equal(z, np.load(p("ev.npy"))), "run == eval --logits bit for bit")
# the normalisation goes out with the ONNX export (Sub and Div on the input): ONNX Runtime on the raw images
np.save(p("rgb_x.npy"), rgb(xte))
ort = ort_run(p("c.onnx"), p("rgb_x.npy"), p("c_ort.npy")) if dcc("export", p("c.dct"), "-o", p("c.onnx")) == 0 else None
check(ort is not None and np.abs(ort - z).max() < 1e-4,
      "ONNX Runtime on the raw images gives dcc's logits of the normalised model (%s)" %
      (np.abs(ort - z).max() if ort is not None else None))
check(dcc("run", "--input", p("rgb.npz"), "--argmax", p("c.dct"), "-o", p("am.npy")) == 0, "run --argmax")
am = np.load(p("am.npy"))
check(am.dtype == np.int64 and np.array_equal(am, z.argmax(1)), "--argmax is NumPy's argmax of the outputs")
check(abs((am == yte).mean() - ev.get("accuracy", -1)) < 1e-9, "accuracy is the argmax's agreement with the labels")
top5 = (np.argsort(-z, axis=1, kind="stable")[:, :5] == yte[:, None]).any(1).mean()
check(abs(ev.get("top5", -1) - top5) < 1e-9, "top-5 %s vs NumPy %s" % (ev.get("top5"), top5))
check(dcc("run", "--input", p("rgb.npz"), "--probs", p("c.dct"), "-o", p("pr.npy")) == 0, "run --probs")
e = np.exp(z.astype(np.float64) - z.max(1, keepdims=True))
check(np.allclose(np.load(p("pr.npy")), e / e.sum(1, keepdims=True), atol=1e-6), "--probs is the softmax")
# one sample of the input shape, and a member of an .npz
np.save(p("one.npy"), rgb(xte[:1])[0])
check(dcc("run", "--input", p("one.npy"), p("c.dct"), "-o", p("one_out.npy")) == 0, "run on one sample")
# (a batch of one takes another BLAS kernel than 500: the last bits may differ)
check(np.allclose(np.load(p("one_out.npy"))[0], z[0], rtol=1e-5, atol=1e-6), "one sample gives the batch's first row")
np.savez(p("two.npz"), a=np.zeros(3), feats=rgb(xte[:7]))
check(dcc("run", "--input", p("two.npz") + ":feats", p("c.dct"), "-o", p("m_out.npy")) == 0, "run FILE:MEMBER")
check(np.load(p("m_out.npy")).shape == (7, 10), "FILE:MEMBER: 7 samples")

# ---- calibration from a file without labels, recorded in the provenance ----


def crc32c(data):
    """CRC-32C (Castagnoli), bitwise: an independent check of the provenance's."""
    c, tab = 0xFFFFFFFF, []
    for i in range(256):
        v = i
        for _ in range(8):
            v = (v >> 1) ^ 0x82F63B78 if v & 1 else v >> 1
        tab.append(v)
    for byte in data:
        c = tab[(c ^ byte) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


np.save(p("calib.npy"), rgb(xtr[:64]))
check(dcc("fixed", p("cs.dct"), "--calib", p("calib.npy"), "--calib-count", "50", "-o", p("cc.dct")) == 0,
      "fixed --calib an unlabelled .npy, no --data")
r = run("info", "--json", p("cc.dct"))
prov = json.loads(r.stdout)["metadata"].get("dcc.provenance", []) if r.returncode == 0 else []
line = [x for x in prov if x.startswith("fixed ")]
blob = open(p("calib.npy"), "rb").read()
check(line and "calib_data=%s bytes=%d crc32c=0x%08x" % (p("calib.npy"), len(blob), crc32c(blob)) in line[-1] and
      "samples=50" in line[-1],
      "provenance names the calibration file, its size and the samples used: %s" % line)
check(dcc("run", "--input", p("rgb.npz"), "--fixed", "--limit", "50", p("cc.dct"), "-o", p("cc.npy")) == 0,
      "run the model calibrated without labels")

# ---- compare: agreement and SQNR as NumPy computes them from dcc run ----
check(dcc("share", "--data", p("rgb.npz"), "--bits", "4", p("c.dct"), "-o", p("c4.dct")) == 0, "c.dct shared, 4 bits")
check(dcc("run", "--input", p("rgb.npz"), p("c4.dct"), "-o", p("run_s.npy")) == 0, "run shared")
zs = np.load(p("run_s.npy")).astype(np.float64)
zf = z.astype(np.float64)
cm = js("compare", "--input", p("rgb.npz"), p("c.dct"), p("c4.dct"))
agree = (zf.argmax(1) == zs.argmax(1)).mean()
sqnr = 10 * np.log10((zf ** 2).sum() / ((zf - zs) ** 2).sum())
check(abs(cm.get("agreement", -1) - agree) < 1e-9, "compare agreement %s vs NumPy %s" % (cm.get("agreement"), agree))
check(abs(cm.get("sqnr_db", -1) - sqnr) < 1e-6, "compare SQNR %s vs NumPy %s" % (cm.get("sqnr_db"), sqnr))
check(abs(cm.get("mean_abs", -1) - np.abs(zf - zs).mean()) < 1e-9 and
      abs(cm.get("max_abs", -1) - np.abs(zf - zs).max()) < 1e-9, "compare mean_abs, max_abs")
cl = js("compare", "--input", p("rgb.npz"), "--fixed", "--layers", "--limit", "20", p("cf.dct"), p("c.dcb"))
rows = {r["layer"]: r for r in cl.get("layers", [])}
check(set(rows) >= {"conv1", "pool1", "conv2", "fc1", "fc2"}, "compare --layers lists each layer")
check(all(r["sqnr_db"] is not None and r["sqnr_db"] > 40 for r in rows.values()),
      "float vs its own integer reference: every layer above 40 dB (layouts agree)")
same = js("compare", p("run.npy"), p("ev.npy"))
check(same.get("sqnr_db", 0) is None and same.get("agreement") == 1.0, "identical arrays: agreement 1, SQNR inf (null)")

# ---- (T, F) float sequences: the row LSTM as through IDX ----
seq = lambda x: x.astype(np.float32) / 255  # noqa: E731  the bits dcc reads uint8 as
np.savez(p("seq.npz"), x_train=seq(xtr), y_train=ytr, x_test=seq(xte), y_test=yte)
check(dcc("train", "--net", "lstm", "--data", p("seq.npz"), "--epochs", "1", "-o", p("l1.dct")) == 0, "lstm on .npz")
check(dcc("train", "--net", "lstm", "--limit", str(NTR), "--epochs", "1", "-o", p("l2.dct")) == 0, "lstm on IDX")
a1 = js("eval", "--data", p("seq.npz"), p("l1.dct")).get("accuracy", -1)
a2 = js("eval", "--limit", str(NTE), p("l2.dct")).get("accuracy", -9)
check(abs(a1 - a2) <= 0.003, "lstm: .npz %s vs IDX %s (within 0.3 points)" % (a1, a2))
check(dcc("share", "--data", p("seq.npz"), "--bits", "4", "--zero", p("l1.dct"), "-o", p("ls.dct")) == 0, "lstm share")
check(dcc("fixed", "--data", p("seq.npz"), p("ls.dct"), "-o", p("lf.dct")) == 0, "lstm fixed")
check(dcc("encode", p("lf.dct"), "-o", p("l.dcb")) == 0, "lstm encode")
check(dcc("run", "--input", p("seq.npz"), "--fixed", "--limit", "40", p("lf.dct"), "-o", p("lr.npy")) == 0, "lstm run")
check(dcc("emu", p("l.dcb"), "--input", p("seq.npz"), "--limit", "40", "--logits", p("le.npy")) == 0, "lstm emu")
check(np.array_equal(np.load(p("lr.npy")), np.load(p("le.npy"))), "sequences: emulator bit-exact with dcc run --fixed")

# ---- regression: a linear model against NumPy's least squares ----
rg = np.random.default_rng(7)
W, b0 = rg.normal(size=(8, 2)), np.array([0.5, -1.0])


def reg(n):
    x = (rg.normal(size=(n, 8)) * 3 + 1).astype(np.float32)
    return x, (x @ W + b0 + 0.1 * rg.normal(size=(n, 2))).astype(np.float32)


(rx, ry), (qx, qy) = reg(4000), reg(1000)
np.savez(p("reg.npz"), x_train=rx, y_train=ry, x_test=qx, y_test=qy)
check(dcc("train", "--net", "mlp:8-2", "--data", p("reg.npz"), "--normalize", "--epochs", "20", "-o", p("r.dct")) == 0,
      "train regression (mse by default for float targets)")
rv = js("eval", "--data", p("reg.npz"), p("r.dct"))
A = np.c_[rx, np.ones(len(rx))].astype(np.float64)
sol = np.linalg.lstsq(A, ry.astype(np.float64), rcond=None)[0]
ls = ((np.c_[qx, np.ones(len(qx))] @ sol - qy) ** 2).mean()
check(rv.get("head") == "mse" and rv.get("mse", 9) <= 1.10 * ls, "regression mse %s vs least squares %s" % (rv.get("mse"), ls))
check(dcc("run", "--input", p("reg.npz"), p("r.dct"), "-o", p("ro.npy")) == 0, "run regression")
ro = np.load(p("ro.npy")).astype(np.float64)
check(abs(rv.get("mae", -1) - np.abs(ro - qy).mean()) < 1e-6, "mae as NumPy computes it")
r = run("prune", p("r.dct"), "--data", p("reg.npz"), "--sparsity", "0.25", "-o", p("rp.dct"))
check(r.returncode == 0 and r.stdout.startswith("mse %s before" % ("%.6g" % rv.get("mse", -1))), "prune reports the mse: %r"
      % r.stdout[:80])
r = run("info", "--json", p("rp.dct"))
md = json.loads(r.stdout)["metadata"] if r.returncode == 0 else {}
check("dcc.accuracy" not in md and "test_mse=" in md.get("dcc.provenance", [""])[-1],
      "a regression model records its mse, never an accuracy")
r = run("sensitivity", p("r.dct"), "--data", p("reg.npz"))
check(r.returncode == 1 and "head is mse" in r.stderr, "sensitivity refuses a regression head: %r" % r.stderr)
check(run("run", "--input", p("reg.npz"), "--argmax", p("r.dct"), "-o", p("x.npy")).returncode == 1 and
      not os.path.exists(p("x.npy")), "--argmax of a regression head refused")

# ---- a binary sigmoid head: precision and recall as NumPy computes them ----
bx = rg.normal(size=(5000, 6)).astype(np.float32)
by = ((bx[:, 0] + 0.5 * bx[:, 1] - 0.3 * bx[:, 2] + 0.3 * rg.normal(size=5000)) > 0.2).astype(np.int64)
np.savez(p("bin.npz"), x_train=bx[:4000], y_train=by[:4000], x_test=bx[4000:], y_test=by[4000:])
check(dcc("train", "--net", "mlp:6-16-1", "--loss", "bce", "--data", p("bin.npz"), "--epochs", "5",
          "-o", p("b.dct")) == 0, "train bce")
bv = js("eval", "--data", p("bin.npz"), p("b.dct"))
check(dcc("run", "--input", p("bin.npz"), p("b.dct"), "-o", p("bo.npy")) == 0, "run bce")
pred, true = np.load(p("bo.npy"))[:, 0] > 0, by[4000:] == 1
tp, fp, fn = (pred & true).sum(), (pred & ~true).sum(), (~pred & true).sum()
check(bv.get("head") == "bce" and abs(bv.get("precision", -1) - tp / (tp + fp)) < 1e-9 and
      abs(bv.get("recall", -1) - tp / (tp + fn)) < 1e-9, "precision %s recall %s vs NumPy %s %s" %
      (bv.get("precision"), bv.get("recall"), tp / (tp + fp), tp / (tp + fn)))
check(abs(bv.get("accuracy", -1) - (pred == true).mean()) < 1e-9, "bce accuracy at 0.5")
check(dcc("fixed", "--data", p("bin.npz"), p("b.dct"), "-o", p("bf.dct")) == 0, "fixed bce")

# ---- hostile data: one line naming the file and the problem, exit 1, nothing written ----
bad = {
    "count": dict(x_train=rx[:10], y_train=ry[:9], x_test=qx[:5], y_test=qy[:5]),
    "label": dict(x_train=bx[:10], y_train=np.array([0] * 9 + [-1]), x_test=bx[:5], y_test=by[:5]),
    "nan": dict(x_train=np.where(np.arange(80).reshape(10, 8) == 17, np.nan, rx[:10]).astype(np.float32),
                y_train=ry[:10], x_test=qx[:5], y_test=qy[:5]),
    "inf": dict(x_train=rx[:10], y_train=ry[:10], x_test=np.full((5, 8), np.inf, np.float32), y_test=qy[:5]),
    "shape": dict(x_train=bx[:10], y_train=ry[:10], x_test=bx[:5], y_test=qy[:5]),
    "members": dict(weights=rx[:10], other=ry[:10]),
    "split": dict(x_train=rx[:10], y_train=ry[:10], x_test=bx[:5], y_test=qy[:5]),
}
for name, arrays in bad.items():
    np.savez(p("bad_%s.npz" % name), **arrays)
    for args in (["train", "--net", "mlp:8-2", "--data", p("bad_%s.npz" % name), "--epochs", "1", "-o", p("o.dct")],
                 ["eval", "--data", p("bad_%s.npz" % name), p("r.dct")]):
        r = run(*args)
        lines = r.stderr.strip().splitlines()
        check(r.returncode == 1 and len(lines) == 1 and "bad_%s.npz" % name in lines[0] and not os.path.exists(p("o.dct")),
              "%s: %s -> %d %r" % (name, args[0], r.returncode, r.stderr))
# a set larger than memory: one line, not a crash (a sparse 1 GB file; memory capped at 700 MB, or for
# the sanitizer build its allocator's largest allocation)
import resource  # noqa: E402
import subprocess  # noqa: E402
os.makedirs(p("big"))
with open(p("big/x_train.npy"), "wb") as f:
    np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (262144, 1024)})
    f.truncate(f.tell() + 262144 * 1024 * 4)
np.save(p("big/y_train.npy"), np.zeros(262144, np.int64))
san = "/san-" in os.environ["DCC"]
env = dict(os.environ, ASAN_OPTIONS="allocator_may_return_null=1:max_allocation_size_mb=700") if san else None
cap = None if san else (lambda: resource.setrlimit(resource.RLIMIT_AS, (700 << 20, 700 << 20)))
r = subprocess.run([os.environ["DCC"], "train", "--net", "mlp:1024-2", "--data", p("big"), "-o", p("o.dct")],
                   capture_output=True, text=True, env=env, preexec_fn=cap)
ours = [ln for ln in r.stderr.splitlines() if not ln.startswith("==")]  # the sanitizer's own warning aside
check(r.returncode == 1 and len(ours) == 1 and "out of memory" in ours[0] and not os.path.exists(p("o.dct")),
      "a set larger than memory: %d %r" % (r.returncode, r.stderr))
r = run("run", "--input", p("bad_nan.npz") + ":x_train", p("r.dct"), "-o", p("o.npy"))
check(r.returncode == 1 and "NaN" in r.stderr and not os.path.exists(p("o.npy")), "run: NaN input refused: %r" % r.stderr)
r = run("run", "--input", p("one.npy"), p("r.dct"), "-o", p("o.npy"))
check(r.returncode == 1 and "one.npy" in r.stderr and not os.path.exists(p("o.npy")), "run: a sample that does not fit: %r"
      % r.stderr)
finish("test_own_data.py")
