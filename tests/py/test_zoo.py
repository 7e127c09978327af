#!/usr/bin/python3
"""test_zoo.py: the built-in networks with branches, built from the command
line.  dcc train --net resnet:... and mobilenet:... build the nets that
formats/dct.md describes; after a training epoch (batchnorm statistics of
their own), their state_dict loads strict into the same nets written in
PyTorch (tests/py/zoo_torch.py, from the description, not from dcc) and
gives dcc's logits; each goes through prune, share, fixed, encode, compile
and the emulator, bit-exact with dcc eval --fixed; a spec that does not
parse or does not fit the data is one line."""
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import check, finish, pipeline, run, strict_diff, to_emulator  # noqa: E402
from zoo_torch import from_spec  # noqa: E402

tmp = tempfile.mkdtemp(prefix="dcc-zoo-")
p = lambda name: os.path.join(tmp, name)
rng = np.random.default_rng(5)
X = rng.standard_normal((320, 1, 16, 16)).astype(np.float32)
Y = (X[:, 0, :8].mean((1, 2)) > 0).astype(np.int64) + 2 * (X[:, 0, :, :8].mean((1, 2)) > 0)
np.savez(p("d.npz"), x_train=X[:256], y_train=Y[:256], x_test=X[256:], y_test=Y[256:])
np.save(p("x.npy"), X[256:])
torch.set_num_threads(1)

for spec, marks in (("resnet:8,16:2", {"add ": 4, "downsample.0": 1, "ewop addsh": 4}),
                    ("mobilenet:8,8,16:3:2", {"group=": 4, "clip ": 9, "ewop clip": 9, "ewop addsh": 2}),
                    # wide pointwise layers: the compiler's cycle model puts them on the PE array (spconv)
                    ("mobilenet:8,64:4:1", {"group=": 1, "spconv": 1})):
    dct = p("net.dct")
    r = run("train", "--net", spec, "--data", p("d.npz"), "--epochs", "1", "--batch", "32", "--lr", "0.05",
            "-o", dct)
    check(r.returncode == 0, "%s: trained from the command line: %s" % (spec, r.stderr))
    if r.returncode:
        continue
    info = run("info", dct).stdout
    r = run("run", dct, "--input", p("x.npy"), "-o", p("y.npy"))
    got = np.load(p("y.npy")) if r.returncode == 0 else None
    r2 = run("export", dct, "-o", p("sd.npz"))
    err = strict_diff(from_spec(spec, 1, 4).eval(), p("sd.npz"), X[256:], got) if got is not None else "no logits"
    print("%s: PyTorch's logits from dcc's state_dict, max diff %s" % (spec, err))
    check(r2.returncode == 0 and got is not None and not isinstance(err, str) and err < 1e-4 and
          np.abs(got).max() > 0.05,
          "%s: the state_dict loads strict into the PyTorch net and gives dcc's logits (%s) %s" % (spec, err, r2.stderr))
    # the batchnorm statistics are the epoch's, not the initial ones
    sd = np.load(p("sd.npz"))
    check(all(np.abs(sd[k]).max() > 0 for k in sd if k.endswith("running_mean")) and
          any(k.endswith("running_var") for k in sd), "%s: running statistics trained" % spec)
    # batchnorm folds into its convolution before the weights are shared (fixed point needs it folded)
    steps = [["fold", dct, "-o", p("e_b.dct")]] + to_emulator(p("e_b.dct"), p("d.npz"), p, 16, 64)
    ok = pipeline(spec, steps)
    text = info + (run("disasm", p("e.dci")).stdout if ok else "")
    seen = {k: text.count(k) for k in marks}
    check(ok and open(p("emu.npy"), "rb").read() == open(p("ref.npy"), "rb").read() and
          all(seen[k] >= v for k, v in marks.items()),
          "%s: folded, pruned, shared, 16-bit fixed, on the emulator bit-exact with eval --fixed (%s)" % (spec, seen))

# LeakyReLU from PyTorch: imported as leakyrelu layers (their slopes kept), dcc's logits equal PyTorch's and, exported
# back, ONNX Runtime's; trained further; then fixed point (the slope in Q16) through the compiler (ewop leaky) and the
# emulator, bit-exact with dcc eval --fixed
from common import ort_run  # noqa: E402
# (and MobileNetV3's Hardswish and Hardsigmoid, exported at opset 14, where HardSwish came)
torch.manual_seed(4)
lk = torch.nn.Sequential(torch.nn.Conv2d(1, 6, 3, padding=1), torch.nn.LeakyReLU(), torch.nn.MaxPool2d(2),
                         torch.nn.Conv2d(6, 8, 3, padding=1), torch.nn.LeakyReLU(0.2), torch.nn.Hardswish(),
                         torch.nn.Conv2d(8, 8, 1), torch.nn.Hardsigmoid(), torch.nn.Flatten(),
                         torch.nn.Linear(8 * 8 * 8, 16), torch.nn.LeakyReLU(-0.1), torch.nn.Linear(16, 4)).eval()
torch.onnx.export(lk, torch.zeros(1, 1, 16, 16), p("lk.onnx"), opset_version=14, input_names=["x"],
                  dynamic_axes={"x": {0: "N"}})
with torch.no_grad():
    want = lk(torch.from_numpy(X[256:])).numpy()
r = run("import", p("lk.onnx"), "-o", p("lk.dct"))
r2 = run("run", p("lk.dct"), "--input", p("x.npy"), "-o", p("lk_y.npy")) if r.returncode == 0 else r
got = np.load(p("lk_y.npy")) if r2.returncode == 0 else None
info = run("info", p("lk.dct")).stdout
check(got is not None and np.abs(got - want).max() < 1e-5 and "alpha=0.200000003" in info and "alpha=-0.100000001" in info
      and "hardswish " in info and "alpha=0.166666672 beta=0.5" in info,
      "LeakyReLU, Hardswish, Hardsigmoid imported, dcc = PyTorch (%s) %s" % (
          None if got is None else np.abs(got - want).max(), r.stderr))
r = run("export", p("lk.dct"), "-o", p("lk_back.onnx"))
ort = ort_run(p("lk_back.onnx"), p("x.npy"), p("lk_ort.npy")) if r.returncode == 0 else None
check(ort is not None and got is not None and np.abs(ort - got).max() < 1e-5,
      "LeakyRelu, HardSwish, HardSigmoid exported (opset 14): ONNX Runtime = dcc")
steps = [["train", "--init", p("lk.dct"), "--data", p("d.npz"), "--epochs", "1", "-o", p("lk_t.dct")],
         ["prune", p("lk_t.dct"), "--sparsity", "0.5", "--data", p("d.npz"), "-o", p("lk_p.dct")],
         ["share", p("lk_p.dct"), "--bits", "4", "--zero", "--data", p("d.npz"), "-o", p("lk_s.dct")],
         ["fixed", p("lk_s.dct"), "--data", p("d.npz"), "--calib", "16", "-o", p("lk_f.dct")],
         ["encode", p("lk_f.dct"), "-o", p("lk.dcb")], ["compile", p("lk.dcb"), "-o", p("lk.dci")],
         ["emu", p("lk.dcb"), p("lk.dci"), "--data", p("d.npz"), "--logits", p("lk_emu.npy")],
         ["eval", "--fixed", p("lk_f.dct"), "--data", p("d.npz"), "--logits", p("lk_ref.npy")],
         ["eval", p("lk_s.dct"), "--data", p("d.npz")], ["eval", "--fixed", p("lk_f.dct"), "--data", p("d.npz")]]
outs = []
for st in steps:
    r = run(*st)
    outs.append(r.stdout)
    if r.returncode:
        print("leakyrelu: dcc", st[0], "failed:", r.stderr, file=sys.stderr)
        break
acc = [float(o.split("accuracy ")[1].split("%")[0]) if "accuracy " in o else -1 for o in outs[-2:]]
dis = run("disasm", p("lk.dci")).stdout if len(outs) == len(steps) else ""
check(len(outs) == len(steps) and dis.count("ewop leaky") == 3 and dis.count("ewop hswish") == 1 and
      dis.count("ewop hsig ") == 1 and
      open(p("lk_emu.npy"), "rb").read() == open(p("lk_ref.npy"), "rb").read() and abs(acc[0] - acc[1]) <= 3.2,
      "leakyrelu, hardswish, hardsigmoid in fixed point and on the emulator, bit-exact (%d ewop leaky; float %s%%, "
      "fixed %s%%)" %
      (dis.count("ewop leaky"), acc[0], acc[1]))

# specs that do not parse, or do not fit the data: one line, exit 1, no file
for spec, what in (("resnet:16", "resnet:W1,...,Ws:N"), ("resnet:16,0:1", "resnet:W1,...,Ws:N"),
                   ("resnet:16:99", "resnet:W1,...,Ws:N"), ("mobilenet:16:4", "mobilenet:C0,C1,...,Cs:E[:N]"),
                   ("mobilenet:8,8:x", "mobilenet:C0,C1,...,Cs:E[:N]"), ("mobilenet:8,8:2:0", "mobilenet:C0"),
                   ("resnex:1", "unknown network")):
    r = run("train", "--net", spec, "--data", p("d.npz"), "-o", p("bad.dct"))
    check(r.returncode == 1 and r.stderr.count("\n") == 1 and what in r.stderr and not os.path.exists(p("bad.dct")),
          "%s refused in one line: %r" % (spec, r.stderr))
np.savez(p("rect.npz"), x_train=X[:8, :, :, :12], y_train=Y[:8], x_test=X[:4, :, :, :12], y_test=Y[:4])
r = run("train", "--net", "resnet:8:1", "--data", p("rect.npz"), "-o", p("bad.dct"))
check(r.returncode == 1 and "square" in r.stderr and r.stderr.count("\n") == 1, "non-square maps: " + r.stderr)

finish("test_zoo")
