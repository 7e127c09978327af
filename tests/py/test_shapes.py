#!/usr/bin/python3
"""test_shapes.py: the shape arithmetic torch.onnx.export writes around
view(), expand_as() and y[:, :, None, None] (Shape of an activation,
Gather, Unsqueeze, Concat, integer Add/Sub/Mul/Div), folded while the
graph is read, exported with a fixed batch and with a symbolic one.  The
original SENet's squeeze-excitation (Linear layers, view(b, c, 1, 1),
expand_as) and a gate unsqueezed by indexing come in as fc layers whose
vector gates a mul: dcc's logits equal PyTorch's, its export gives them in
ONNX Runtime and imports back, and pruned, shared and in fixed point the
network runs on the emulator bit-exact.  Shape arithmetic that branches and
joins thirty levels deep is read in linear time (each node once), and a
Reshape dcc has no layer for is one line."""
import os
import sys
import time

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (check, export_round_trip, finish, four_classes, pipeline, run,  # noqa: E402
                    to_emulator, workdir)

p = workdir("shapes", 4)


class SE(nn.Module):
    """the original SENet's block: Linear layers, view, expand_as"""

    def __init__(self, c, r=4):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(c, c // r), nn.ReLU(), nn.Linear(c // r, c), nn.Sigmoid())

    def forward(self, x):
        b, c, _, _ = x.size()
        y = nn.functional.adaptive_avg_pool2d(x, 1).view(b, c)
        return x * self.fc(y).view(b, c, 1, 1).expand_as(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, padding=1)
        self.se = SE(16)
        self.c2 = nn.Conv2d(16, 8, 3, stride=2, padding=1)
        self.g = nn.Linear(8, 8)
        self.fc = nn.Linear(8 * 4 * 4, 4)

    def forward(self, x):
        y = torch.relu(self.c2(self.se(torch.relu(self.c1(x)))))
        y = y * torch.sigmoid(self.g(y.mean((2, 3))))[:, :, None, None]
        return self.fc(y.view(y.size(0), -1))


X = four_classes(p, 8, 8)
net = Net().eval()
with torch.no_grad():
    want = net(torch.from_numpy(X[128:])).numpy()

for tag, dyn in (("fixed batch", {}), ("symbolic batch", {"dynamic_axes": {"x": {0: "n"}}})):
    torch.onnx.export(net, torch.from_numpy(X[:1]), p("se.onnx"), opset_version=13, input_names=["x"], **dyn)
    ops = {n.op_type for n in onnx.load(p("se.onnx")).graph.node}
    r = run("import", p("se.onnx"), "-o", p("se.dct"))
    r2 = run("run", p("se.dct"), "--input", p("x.npy"), "-o", p("y.npy")) if r.returncode == 0 else r
    got = np.load(p("y.npy")) if r2.returncode == 0 else None
    err = np.abs(got - want).max() if got is not None else None
    print("%s: dcc's logits against PyTorch's, max diff %s" % (tag, err))
    check({"Shape", "Expand", "Unsqueeze"} <= ops and err is not None and err < 1e-5 and np.abs(want).max() > 0.05,
          "%s (%s): dcc's logits are PyTorch's (%s) %s" % (tag, sorted(ops), err, r.stderr + r2.stderr))
    g = run("info", p("se.dct")).stdout
    check(g.count("mul mul") == 2 and "fc se.fc.0" in g, "%s: two gates (mul) after fc layers: %s" % (tag, g))
export_round_trip(p, p("se.dct"), got, " (a vector gate reshaped to (N, C, 1, 1))")
ok = pipeline("se", to_emulator(p("se.dct"), p("d.npz"), p, 8, 32))
check(ok and np.array_equal(np.load(p("emu.npy")), np.load(p("ref.npy"))) and
      run("disasm", p("e.dci")).stdout.count("ewop mulsh") == 2, "on the emulator bit-exact with eval --fixed")
# 16-bit fixed point is the float network's, to its rounding: each gate scales its own channel's H x W run
r = run("run", p("e_s.dct"), "--input", p("x.npy"), "-o", p("ys.npy"))
r2 = run("run", "--fixed", p("e_f.dct"), "--input", p("x.npy"), "-o", p("yq.npy"))
fx = np.abs(np.load(p("yq.npy")) - np.load(p("ys.npy"))).max() if r.returncode == 0 and r2.returncode == 0 else None
print("16-bit fixed point against float, max diff %s (logits to %.3g)" % (fx, np.abs(np.load(p("ys.npy"))).max()))
check(fx is not None and fx < 2e-3 * np.abs(np.load(p("ys.npy"))).max(), "fixed point follows float: %s" % fx)

# thirty levels of shape arithmetic, each reading the one before twice: 2^30 paths, read once a node
nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "one"], ["l0"], axis=0)]
for i in range(30):
    nodes.append(helper.make_node("Sub" if i == 0 else "Add", ["l%d" % i, "l%d" % i], ["l%d" % (i + 1)]))
nodes += [helper.make_node("Add", ["l30", "minus1"], ["last"]), helper.make_node("Gather", ["s", "zero"], ["b"], axis=0),
          helper.make_node("Concat", ["b", "last"], ["shape"], axis=0),
          helper.make_node("Reshape", ["x", "shape"], ["flat"]),
          helper.make_node("Gemm", ["flat", "w"], ["y"], transB=1)]
inits = [helper.make_tensor("one", TensorProto.INT64, [1], [1]), helper.make_tensor("zero", TensorProto.INT64, [1], [0]),
         helper.make_tensor("minus1", TensorProto.INT64, [1], [-1]),
         helper.make_tensor("w", TensorProto.FLOAT, [4, 192], [0.01] * 768)]
gr = helper.make_graph(nodes, "deep", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 8, 8])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])], inits)
onnx.save(helper.make_model(gr, opset_imports=[helper.make_opsetid("", 13)]), p("deep.onnx"))
t0 = time.time()
r = run("import", p("deep.onnx"), "-o", p("deep.dct"))
took = time.time() - t0
check(r.returncode == 0 and "flatten" in run("info", p("deep.dct")).stdout and took < 20,
      "branching shape arithmetic folded to a flatten in %.1f s: %s" % (took, r.stderr))

# a Reshape dcc has no layer for (a map to another map): one line
gr = helper.make_graph([helper.make_node("Reshape", ["x", "to"], ["y"], name="remap")], "g",
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 8, 8])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 12, 4, 4])],
                       [helper.make_tensor("to", TensorProto.INT64, [4], [-1, 12, 4, 4])])
onnx.save(helper.make_model(gr, opset_imports=[helper.make_opsetid("", 13)]), p("remap.onnx"))
r = run("import", p("remap.onnx"), "-o", p("remap.dct"))
check(r.returncode == 1 and r.stderr.count("\n") == 1 and "node 'remap' (Reshape): dcc reshapes to" in r.stderr and
      not os.path.exists(p("remap.dct")), "a Reshape of a map into another: refused in one line: " + r.stderr)
finish("test_shapes")
