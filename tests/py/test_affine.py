#!/usr/bin/python3
"""test_affine.py: ONNX's Add, Sub, Mul and Div by a constant (a scalar or
one value per channel), as torch.onnx.export writes them for PyTorch code
such as (x - mean) / std, y * gain + 0.1, 1 - y, logits / 2.  On the
graph's input they become the model's input normalisation; elsewhere an
affine layer (x scale + shift per channel), which dcc fold folds into the
conv2d or fc before it.  dcc's logits equal PyTorch's; its ONNX export
(the normalisation as Sub and Div, each affine as Mul and Add) gives them
in ONNX Runtime and imports back to the same graph; a network whose
affines all fold goes through prune, share, fixed, encode, compile and the
emulator bit-exact; one with no layer to fold into becomes a per-channel
scale (a depthwise 1x1 conv2d) and goes there too.  Arithmetic dcc has no
operator for is refused in one line.  Sub of two activations is a
sub layer, through every stage to the emulator.  Max and Min with a constant
(clips) and ReduceMean over H and W (global average pools) come in too."""
import os
import re
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (check, export_round_trip, finish, four_classes, ort_run, pipeline, run,  # noqa: E402
                    to_emulator, workdir)

p = workdir("affine", 3)


class Folds(nn.Module):
    """Constant arithmetic where dcc folds it: on the input, after convolutions and the fc."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.25, 0.2, 0.3]).view(1, 3, 1, 1))
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.register_buffer("gain", torch.linspace(0.5, 1.5, 8).view(1, 8, 1, 1))
        self.fc = nn.Linear(8 * 4 * 4, 4)

    def forward(self, x):
        x = (x - self.mean) / self.std
        y = torch.relu(self.c1(x))
        y = 1.0 - (self.c2(y) * self.gain + 0.1)
        y = nn.functional.max_pool2d(torch.relu(y), 2)
        return self.fc(y.flatten(1)) / 2.0


class Stays(nn.Module):
    """An affine after a ReLU (no layer to fold into) and on a vector, the constant first."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.fc1 = nn.Linear(8 * 8 * 8, 16)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        y = torch.relu(self.c1(x * 2.0 - 1.0)) * -0.5 + 0.25
        y = 3.0 * torch.relu(self.fc1(y.flatten(1))) - torch.linspace(-1, 1, 16)
        return self.fc(y)


class Reduce(nn.Module):
    """Max and Min with a constant (clips), ReduceMean over H and W kept and not (global average pools)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        y = torch.minimum(torch.maximum(self.c1(x), torch.tensor(0.05)), torch.tensor(0.6))
        y = self.c2(y.mean((2, 3), keepdim=True))
        return self.fc(torch.maximum(y, torch.tensor(-0.2)).mean((2, 3)))


X = four_classes(p, 4, 8)


def logits(dct, out):
    r = run("run", dct, "--input", p("x.npy"), "-o", p(out))
    return np.load(p(out)) if r.returncode == 0 else None


def graph(dct):
    return [ln.strip() for ln in run("info", dct).stdout.splitlines() if ln.startswith("    ")]


# each run of arithmetic is one affine: Folds's after c2 and after the fc, Stays's after the ReLU and after fc1
for tag, net, naff in (("folds", Folds(), 2), ("stays", Stays(), 2), ("reduce", Reduce(), 0)):
    net = net.eval()
    with torch.no_grad():
        want = net(torch.from_numpy(X[128:])).numpy()
    torch.onnx.export(net, torch.from_numpy(X[:2]), p(tag + ".onnx"), opset_version=13, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    dct = p(tag + ".dct")
    r = run("import", p(tag + ".onnx"), "-o", dct)
    check(r.returncode == 0, "%s: imported: %s" % (tag, r.stderr))
    if r.returncode:
        continue
    g = graph(dct)
    info = run("info", dct).stdout
    check(sum(ln.startswith("affine ") for ln in g) == naff, "%s: %d affine layers: %s" % (tag, naff, g))
    # the input's arithmetic is the model's normalisation: Folds's per channel, Stays's 2x - 1 = (x - 0.5) / 0.5
    norm = {"folds": "dcc.input_mean: [0.5, 0.4", "stays": "dcc.input_mean: [0.5]", "reduce": "clip clip3 min=-0.2"}[tag]
    check(norm in info and (tag == "reduce") != ("dcc.input_std" in info),
          "%s: the input's arithmetic became the normalisation (reduce: none, Max a clip): %s" % (tag, info))
    if tag == "reduce":
        check(info.count("avgpool2d ") == 2 and info.count("clip ") == 3, "reduce: two pools and three clips: %s" % info)
    got = logits(dct, tag + ".npy")
    err = np.abs(got - want).max() if got is not None else None
    print("%s: dcc's logits against PyTorch's, max diff %s" % (tag, err))
    check(err is not None and err < 1e-5, "%s: dcc's logits are PyTorch's (%s)" % (tag, err))
    # export: ONNX Runtime gives dcc's logits on the raw input; the export imports back to the same graph
    r = run("export", dct, "-o", p(tag + "_x.onnx"))
    ort = ort_run(p(tag + "_x.onnx"), p("x.npy"), p(tag + "_ort.npy")) if r.returncode == 0 else None
    err = np.abs(ort - got).max() if ort is not None and got is not None else None
    print("%s: ONNX Runtime on dcc's export against dcc, max diff %s" % (tag, err))
    check(err is not None and err < 1e-5, "%s: ONNX Runtime gives dcc's logits from its export (%s) %s" % (tag, err, r.stderr))
    r = run("import", p(tag + "_x.onnx"), "-o", p(tag + "2.dct"))
    back = logits(p(tag + "2.dct"), tag + "2.npy") if r.returncode == 0 else None
    layers = lambda lines: [ln for ln in lines if ln.split()[0] in ("affine", "conv2d", "fc", "relu")]
    check(back is not None and np.array_equal(back, got) and layers(graph(p(tag + "2.dct"))) == layers(g),
          "%s: the export imports back to the same layers and logits %s" % (tag, r.stderr))

# Folds: every affine folds into the layer before it, the logits kept
r = run("fold", p("folds.dct"), "-o", p("folded.dct"))
folded = logits(p("folded.dct"), "folded.npy") if r.returncode == 0 else None
base = np.load(p("folds.npy"))
check(folded is not None and np.abs(folded - base).max() < 1e-5 and
      not any(ln.startswith("affine ") for ln in graph(p("folded.dct"))) and
      run("info", p("folded.dct")).stdout.count("fold affine=") == 2,
      "folds: both affines folded, the logits kept within 1e-5, each fold in the provenance: %s" % r.stderr)
ok = pipeline("folds", to_emulator(p("folded.dct"), p("d.npz"), p, 8, 32))
emu = np.load(p("emu.npy")) if ok else None
ref = np.load(p("ref.npy")) if ok else None
check(ok and emu.shape == ref.shape and np.array_equal(emu, ref),
      "folds: pruned, shared, fixed, on the emulator bit-exact with eval --fixed")

ok = pipeline("reduce", to_emulator(p("reduce.dct"), p("d.npz"), p, 8, 32))
emu = np.load(p("emu.npy")) if ok else None
ref = np.load(p("ref.npy")) if ok else None
check(ok and emu.shape == ref.shape and np.array_equal(emu, ref),
      "reduce: the clips and pools on the emulator bit-exact with eval --fixed")

# Stays: an affine after a ReLU has no layer to fold into: it becomes a per-channel scale (a depthwise 1x1
# conv2d of its name, on the map and on the vector), the logits kept; pruning passes the scales by, and the
# network goes through every stage to the emulator bit-exact
r = run("fold", p("stays.dct"), "-o", p("sf.dct"))
sf = logits(p("sf.dct"), "sf.npy") if r.returncode == 0 else None
base = np.load(p("stays.npy"))
g = graph(p("sf.dct")) if r.returncode == 0 else []
check(sf is not None and np.abs(sf - base).max() < 1e-5 and not any(ln.startswith("affine ") for ln in g) and
      "conv2d affine1 in=8 out=8 k=1 group=8" in g and "conv2d affine2 in=16 out=16 k=1 group=16" in g and
      run("info", p("sf.dct")).stdout.count("into=itself as=depthwise") == 2,
      "stays: each affine a depthwise 1x1 conv2d of its name, the logits kept within 1e-5: %s %s" % (r.stderr, g))
ok = pipeline("stays", to_emulator(p("sf.dct"), p("d.npz"), p, 8, 32))
kept = run("info", p("e_p.dct")).stdout if ok else ""
emu = np.load(p("emu.npy")) if ok else None
ref = np.load(p("ref.npy")) if ok else None
check(ok and np.array_equal(emu, ref) and re.search(r"affine1\.weight +f32 +8x1x1x1 +8 +8 ", kept) and
      re.search(r"affine2\.weight +f32 +16x1x1x1 +16 +16 ", kept),
      "stays: pruned 70% with its scales whole, shared, fixed, on the emulator bit-exact with eval --fixed")
# training leaves the constants as they are
r = run("train", "--init", p("stays.dct"), "--data", p("d.npz"), "--epochs", "1", "-o", p("st.dct"))
sd0 = p("sd0.npz")
sd1 = p("sd1.npz")
ok = r.returncode == 0 and run("export", p("stays.dct"), "-o", sd0).returncode == 0 and \
    run("export", p("st.dct"), "-o", sd1).returncode == 0
a, b = (np.load(sd0), np.load(sd1)) if ok else ({}, {})
check(ok and all(np.array_equal(a[k], b[k]) for k in a if ".scale" in k or ".shift" in k) and
      not np.array_equal(a["fc.weight"], b["fc.weight"]),
      "stays: an epoch of training moves the weights, not the affines' constants %s" % r.stderr)


# arithmetic dcc has no operator for: one line naming the node
class Diff(nn.Module):
    """Sub of two activations: x - sigmoid(x) (SiLU's cousin) and two branches' difference"""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 6, 3, padding=1)
        self.c2 = nn.Conv2d(3, 6, 3, padding=1)
        self.fc = nn.Linear(6 * 8 * 8, 4)

    def forward(self, x):
        y = torch.relu(self.c1(x)) - self.c2(x)
        return self.fc((y - torch.sigmoid(y)).flatten(1))


class Recip(nn.Module):
    def forward(self, x):
        return (x / (x + 1.0)).flatten(1)


class Ratio(nn.Module):
    """Div of two activations: a branch over a sigmoid gate of the same shape"""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 6, 3, padding=1)
        self.c2 = nn.Conv2d(3, 6, 3, padding=1)
        self.fc = nn.Linear(6 * 8 * 8, 4)

    def forward(self, x):
        return self.fc((torch.relu(self.c1(x)) / torch.sigmoid(self.c2(x))).flatten(1))


class Spatial(nn.Module):
    def forward(self, x):
        return (x + torch.arange(8.0).view(1, 1, 1, 8)).flatten(1)


# Sub of two activations: a sub layer, PyTorch's logits, ONNX Runtime's from the export, and on the emulator
# bit-exact as ewop subsh (each input shifted to the sub's format, the second negated, as an add's)
net = Diff().eval()
with torch.no_grad():
    want = net(torch.from_numpy(X[128:])).numpy()
torch.onnx.export(net, torch.from_numpy(X[:2]), p("diff.onnx"), opset_version=13, input_names=["x"],
                  dynamic_axes={"x": {0: "n"}})
r = run("import", p("diff.onnx"), "-o", p("diff.dct"))
got = logits(p("diff.dct"), "yd.npy") if r.returncode == 0 else None
check(got is not None and np.abs(got - want).max() < 1e-5 and run("info", p("diff.dct")).stdout.count("sub sub") == 2,
      "two Subs of activations: sub layers, dcc = PyTorch (%s) %s" %
      (None if got is None else np.abs(got - want).max(), r.stderr))
export_round_trip(p, p("diff.dct"), got, " (Sub)")
ok = pipeline("diff", to_emulator(p("diff.dct"), p("d.npz"), p, 8, 32))
check(ok and np.array_equal(np.load(p("emu.npy")), np.load(p("ref.npy"))) and
      run("disasm", p("e.dci")).stdout.count("ewop subsh") == 2, "the subs on the emulator bit-exact with eval --fixed")

# Div of two activations: x / (x + 1) in float (its affine has no layer to fold into), and a branch over a
# sigmoid through every stage, on the emulator bit-exact as ewop divsh
for tag, net, emu in (("recip", Recip(), False), ("ratio", Ratio(), True)):
    net.eval()
    with torch.no_grad():
        want = net(torch.from_numpy(X[128:])).numpy()
    torch.onnx.export(net, torch.from_numpy(X[:2]), p(tag + ".onnx"), opset_version=13, input_names=["x"],
                      dynamic_axes={"x": {0: "n"}})
    r = run("import", p(tag + ".onnx"), "-o", p(tag + ".dct"))
    got = logits(p(tag + ".dct"), "y%s.npy" % tag) if r.returncode == 0 else None
    check(got is not None and np.abs(got - want).max() < 1e-5 and "div div1 from=" in run("info", p(tag + ".dct")).stdout,
          "%s: a Div of activations, dcc = PyTorch (%s) %s" % (tag, None if got is None else np.abs(got - want).max(),
                                                                  r.stderr))
    export_round_trip(p, p(tag + ".dct"), got, " (%s)" % tag)
    if emu:
        ok = pipeline(tag, to_emulator(p(tag + ".dct"), p("d.npz"), p, 8, 32))
        check(ok and np.array_equal(np.load(p("emu.npy")), np.load(p("ref.npy"))) and
              run("disasm", p("e.dci")).stdout.count("ewop divsh") == 1, "ratio: on the emulator bit-exact with eval --fixed")
        r = run("run", p("e_s.dct"), "--input", p("x.npy"), "-o", p("ys.npy"))
        r2 = run("run", "--fixed", p("e_f.dct"), "--input", p("x.npy"), "-o", p("yq.npy"))
        ys = np.load(p("ys.npy")) if r.returncode == 0 else None
        fx = np.abs(np.load(p("yq.npy")) - ys).max() if ys is not None and r2.returncode == 0 else None
        print("ratio: 16-bit fixed point against float, max diff %s (logits to %.3g)" % (fx, np.abs(ys).max()))
        check(fx is not None and fx < 1e-2 * np.abs(ys).max(), "ratio: fixed point follows float: %s" % fx)
for tag, net, says in (("spatial", Spatial(), "has 8 values; dcc takes one, or one per channel"),):
    torch.onnx.export(net, torch.from_numpy(X[:2]), p(tag + ".onnx"), opset_version=13)
    r = run("import", p(tag + ".onnx"), "-o", p(tag + ".dct"))
    check(r.returncode == 1 and r.stderr.count("\n") == 1 and says in r.stderr and not os.path.exists(p(tag + ".dct")),
          "%s: refused in one line naming what dcc lacks: %s" % (tag, r.stderr))
# a constant divided by an activation (no reciprocal in dcc), written as ONNX nodes
import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402
k = helper.make_tensor("k", TensorProto.FLOAT, [], [2.0])
g = helper.make_graph([helper.make_node("Div", ["k", "x"], ["q"], name="kdiv"), helper.make_node("Flatten", ["q"], ["y"])],
                      "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 8, 8])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 192])], [k])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), p("kdiv.onnx"))
r = run("import", p("kdiv.onnx"), "-o", p("kdiv.dct"))
check(r.returncode == 1 and r.stderr.count("\n") == 1 and "node 'kdiv' (Div): a constant divided by an activation" in r.stderr,
      "k / x: refused in one line: %s" % r.stderr)
finish("test_affine")
