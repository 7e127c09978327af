#!/usr/bin/python3
"""test_geometry.py: convolutions of any window, as the small CNNs in
public packages write them.  A PyTorch network with 1x3 and 3x1 kernels,
unequal strides, asymmetric padding (a ZeroPad2d before a Conv, which
torch.onnx.export writes as a Pad node), a dilated depthwise convolution
and LeakyReLU comes in at opsets 13 and 17: dcc's logits equal PyTorch's,
its state_dict loads strict into the PyTorch model and gives them back, its
ONNX export gives them in ONNX Runtime and imports back, and pruned, shared
and in 16-bit fixed point it runs on the convolver engine of the emulator
bit-exact with eval --fixed, fixed point close to float.  Hand-written
Convs with auto_pad SAME_UPPER, SAME_LOWER and VALID equal ONNX Runtime;
a 3-D convolution and pads of the channels are refused in one line."""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (check, export_round_trip, finish, four_classes, ort_run, pipeline, run,  # noqa: E402
                    strict_diff, to_emulator, workdir)

p = workdir("geometry", 11)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.row = nn.Conv2d(3, 8, (1, 3), padding=(0, 1))
        self.col = nn.Conv2d(8, 8, (3, 1), stride=(2, 1), padding=(1, 0))
        self.dil = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8)
        self.pad = nn.ZeroPad2d((0, 1, 1, 0))  # left, right, top, bottom
        self.down = nn.Conv2d(8, 6, 2, stride=(1, 2))
        self.wide = nn.Conv2d(6, 6, (2, 3), padding=1, dilation=(1, 2), bias=False)
        self.fc = nn.Linear(6 * 5 * 2, 4)

    def forward(self, x):
        y = nn.functional.leaky_relu(self.row(x), 0.1)
        y = torch.relu(self.col(y))
        y = torch.relu(self.dil(y))
        y = torch.relu(self.down(self.pad(y)))
        y = self.wide(y)
        return self.fc(y.flatten(1))


X = four_classes(p, 13, 8)
net = Net().eval()
with torch.no_grad():
    want = net(torch.from_numpy(X[128:])).numpy()
for opset in (13, 17):
    path = p("g%d.onnx" % opset)
    torch.onnx.export(net, torch.from_numpy(X[:1]), path, opset_version=opset, input_names=["x"],
                      dynamic_axes={"x": {0: "n"}})
    ops = {n.op_type for n in onnx.load(path).graph.node}
    dct = p("g%d.dct" % opset)
    r = run("import", path, "-o", dct)
    r2 = run("run", dct, "--input", p("x.npy"), "-o", p("y.npy")) if r.returncode == 0 else r
    got = np.load(p("y.npy")) if r2.returncode == 0 else None
    err = np.abs(got - want).max() if got is not None else None
    print("opset %d: dcc's logits against PyTorch's, max diff %s (logits to %.3g)" % (opset, err, np.abs(want).max()))
    check({"Pad", "LeakyRelu"} <= ops and err is not None and err < 1e-5 and np.abs(want).max() > 0.05,
          "opset %d: dcc's logits are PyTorch's (%s, %s) %s" % (opset, err, sorted(ops), r.stderr + r2.stderr))
info = run("info", p("g13.dct")).stdout
for line in ("k=1x3 stride=1 pad=0,1,0,1", "k=3x1 stride=2x1 pad=1,0,1,0", "k=3 stride=1 pad=2 dilation=2 group=8",
             "k=2 stride=1x2 pad=1,0,0,1\n", "k=2x3 stride=1 pad=1 dilation=1x2 bias=0"):
    check(line in info, "the graph holds '%s': %s" % (line, info))

# the state_dict under PyTorch's names and shapes, strict
r = run("export", p("g13.dct"), "-o", p("sd.npz"))
err = strict_diff(Net().eval(), p("sd.npz"), X[128:], got)
check(r.returncode == 0 and not isinstance(err, str) and err < 1e-5,
      "the state_dict loads strict and gives dcc's logits: %s %s" % (err, r.stderr))
export_round_trip(p, p("g13.dct"), got)

# every stage, the convolutions on the convolver engine, bit-exact with the integer reference
ok = pipeline("geometry", to_emulator(p("g13.dct"), p("d.npz"), p, 8, 32))
check(ok and np.array_equal(np.load(p("emu.npy")), np.load(p("ref.npy"))), "on the emulator bit-exact with eval --fixed")
dis = run("disasm", p("e.dci")).stdout
check(dis.count("conv desc=") == 5, "five convolutions on the convolver engine: " + dis[:400])
r = run("run", p("e_s.dct"), "--input", p("x.npy"), "-o", p("ys.npy"))
r2 = run("run", "--fixed", p("e_f.dct"), "--input", p("x.npy"), "-o", p("yq.npy"))
fx = np.abs(np.load(p("yq.npy")) - np.load(p("ys.npy"))).max() if r.returncode == 0 and r2.returncode == 0 else None
print("16-bit fixed point against float, max diff %s (logits to %.3g)" % (fx, np.abs(np.load(p("ys.npy"))).max()))
check(fx is not None and fx < 2e-3 * np.abs(np.load(p("ys.npy"))).max(), "fixed point follows float: %s" % fx)
# without the convolver engine the PE array cannot take these windows: one line
r = run("compile", p("e.dcb"), "--convolvers", "0", "-o", p("pe.dci"))
check(r.returncode == 1 and r.stderr.count("\n") == 1 and "runs on the convolver engine only" in r.stderr and
      not os.path.exists(p("pe.dci")), "no convolver engine: refused in one line: " + r.stderr)


def graph(nodes, out_shape, inits=(), name="g", shape=("n", 2, 5, 6)):
    gr = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                           [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], list(inits))
    onnx.save(helper.make_model(gr, opset_imports=[helper.make_opsetid("", 13)]), p(name + ".onnx"))
    return p(name + ".onnx")


rng = np.random.default_rng(5)
np.save(p("x2.npy"), rng.standard_normal((4, 2, 5, 6)).astype(np.float32))
wt = helper.make_tensor("w", TensorProto.FLOAT, [3, 2, 2, 3], rng.standard_normal(36).astype(np.float32))
for mode, strides in (("SAME_UPPER", [2, 2]), ("SAME_LOWER", [1, 2]), ("VALID", [2, 1])):
    path = graph([helper.make_node("Conv", ["x", "w"], ["y"], auto_pad=mode, strides=strides, kernel_shape=[2, 3])],
                 ["n", 3, "h", "w"], [wt], "ap")
    r = run("import", path, "-o", p("ap.dct"))
    r2 = run("run", p("ap.dct"), "--input", p("x2.npy"), "-o", p("yap.npy")) if r.returncode == 0 else r
    ort = ort_run(path, p("x2.npy"), p("oap.npy"))
    got = np.load(p("yap.npy")).reshape(ort.shape) if r2.returncode == 0 and ort is not None else None
    check(got is not None and np.abs(got - ort).max() < 1e-5,
          "auto_pad %s, strides %s = ONNX Runtime: %s" % (mode, strides, r.stderr + r2.stderr))

# what dcc has no layer for: one line each, no file
for tag, nodes, inits, want_msg in (
        ("a 3-D kernel", [helper.make_node("Conv", ["x", "w3"], ["y"], name="c3")],
         [helper.make_tensor("w3", TensorProto.FLOAT, [3, 2, 1, 2, 2], np.ones(24, np.float32))],
         "node 'c3' (Conv): needs an (out, 2, kh, kw) weight initializer"),
        ("pads of three axes", [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1, 1, 1], name="cp")], [wt],
         "node 'cp' (Conv): strides, dilations, pads or kernel_shape not of a 2-D 2x3 kernel"),
        ("a pad of the channels", [helper.make_node("Pad", ["x", "pp"], ["z"], name="pc"),
                                   helper.make_node("Conv", ["z", "w"], ["y"])],
         [wt, helper.make_tensor("pp", TensorProto.INT64, [8], [0, 1, 0, 0, 0, 0, 0, 0])], "node 'pc' (Pad)")):
    path = graph(nodes, ["n", 3, "h", "w"], inits, "bad")
    r = run("import", path, "-o", p("bad.dct"))
    check(r.returncode == 1 and r.stderr.count("\n") == 1 and want_msg in r.stderr and not os.path.exists(p("bad.dct")),
          "%s: refused in one line: %s" % (tag, r.stderr))
finish("test_geometry")
