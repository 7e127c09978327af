#!/usr/bin/python3
"""test_channels.py: the ONNX nodes that move whole channels, as
ShuffleNet writes them.  A network with torch.split (a Split with sizes),
chunk (Slices whose ends are shape arithmetic), a channel shuffle of four
groups (Reshape to five dimensions, Transpose, Reshape back) and a slice
of a vector's features comes in as slice and shuffle layers: dcc's logits
equal PyTorch's, its export gives them in ONNX Runtime and imports back,
and pruned, shared and in 16-bit fixed point it runs on the emulator
bit-exact with eval --fixed, fixed point close to float.  An equal Split
written by hand equals ONNX Runtime; a Slice of the height, a Split of the
batch and a Transpose that is no shuffle are each refused in one line."""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (check, export_round_trip, finish, four_classes, ort_run, pipeline, run,  # noqa: E402
                    to_emulator, workdir)

p = workdir("channels", 5)


def shuffle(x, g):
    n, c, h, w = x.shape
    return x.view(n, g, c // g, h, w).transpose(1, 2).reshape(n, c, h, w)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.b1 = nn.Conv2d(5, 5, 3, padding=1, groups=5)
        self.c2 = nn.Conv2d(8, 8, 1)
        self.b2 = nn.Conv2d(4, 4, 3, padding=1)
        self.fc1 = nn.Linear(8 * 8 * 8, 12)
        self.fc = nn.Linear(5, 4)

    def forward(self, x):
        y = torch.relu(self.c1(x))
        a, b = torch.split(y, [3, 5], 1)
        y = shuffle(torch.cat([a, torch.relu(self.b1(b))], 1), 4)
        y = torch.relu(self.c2(y))
        a, b = y.chunk(2, 1)
        y = shuffle(torch.cat([torch.relu(self.b2(a)), b], 1), 2)
        return self.fc(torch.tanh(self.fc1(y.flatten(1)))[:, 2:7])


X = four_classes(p, 7, 8)
net = Net().eval()
with torch.no_grad():
    want = net(torch.from_numpy(X[128:])).numpy()
torch.onnx.export(net, torch.from_numpy(X[:1]), p("ch.onnx"), opset_version=13, input_names=["x"],
                  dynamic_axes={"x": {0: "n"}})
ops = {n.op_type for n in onnx.load(p("ch.onnx")).graph.node}
r = run("import", p("ch.onnx"), "-o", p("ch.dct"))
r2 = run("run", p("ch.dct"), "--input", p("x.npy"), "-o", p("y.npy")) if r.returncode == 0 else r
got = np.load(p("y.npy")) if r2.returncode == 0 else None
err = np.abs(got - want).max() if got is not None else None
print("dcc's logits against PyTorch's, max diff %s (logits to %.3g)" % (err, np.abs(want).max()))
check({"Split", "Slice", "Transpose"} <= ops and err is not None and err < 1e-5 and np.abs(want).max() > 0.05,
      "dcc's logits are PyTorch's (%s, %s) %s" % (err, sorted(ops), r.stderr + r2.stderr))
info = run("info", p("ch.dct")).stdout
check(info.count("shuffle shuffle") == 2 and "group=4" in info and info.count("slice slice") == 5,
      "two shuffles and five slices (split, chunk, the features) in the graph: " + info)
export_round_trip(p, p("ch.dct"), got)
ok = pipeline("channels", to_emulator(p("ch.dct"), p("d.npz"), p, 8, 32))
check(ok and np.array_equal(np.load(p("emu.npy")), np.load(p("ref.npy"))), "on the emulator bit-exact with eval --fixed")
r = run("run", p("e_s.dct"), "--input", p("x.npy"), "-o", p("ys.npy"))
r2 = run("run", "--fixed", p("e_f.dct"), "--input", p("x.npy"), "-o", p("yq.npy"))
fx = np.abs(np.load(p("yq.npy")) - np.load(p("ys.npy"))).max() if r.returncode == 0 and r2.returncode == 0 else None
print("16-bit fixed point against float, max diff %s" % fx)
check(fx is not None and fx < 2e-3 * np.abs(np.load(p("ys.npy"))).max(), "fixed point follows float: %s" % fx)


def graph(nodes, out_shape, inits=(), name="g"):
    gr = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 6, 4, 4])],
                           [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], list(inits))
    onnx.save(helper.make_model(gr, opset_imports=[helper.make_opsetid("", 13)]), p(name + ".onnx"))
    return p(name + ".onnx")


# an equal Split of three parts, joined in another order: ONNX Runtime's output
np.save(p("x6.npy"), np.random.default_rng(3).standard_normal((5, 6, 4, 4)).astype(np.float32))
path = graph([helper.make_node("Split", ["x"], ["a", "b", "c"], axis=1),
              helper.make_node("Concat", ["c", "a", "b"], ["cat"], axis=1), helper.make_node("Flatten", ["cat"], ["f"]),
              helper.make_node("Gemm", ["f", "w"], ["y"], transB=1)], ["n", 3],
             [helper.make_tensor("w", TensorProto.FLOAT, [3, 96], np.arange(288, dtype=np.float32) / 288 - 0.5)], "split3")
r = run("import", path, "-o", p("split3.dct"))
r2 = run("run", p("split3.dct"), "--input", p("x6.npy"), "-o", p("ys3.npy")) if r.returncode == 0 else r
ort = ort_run(path, p("x6.npy"), p("os3.npy"))
check(r2.returncode == 0 and ort is not None and np.abs(np.load(p("ys3.npy")) - ort).max() < 1e-5,
      "an equal three-way Split = ONNX Runtime: " + r.stderr + r2.stderr)

# what dcc has no layer for: one line each, no file
i64 = lambda name, v: helper.make_tensor(name, TensorProto.INT64, [len(v)], v)
for tag, nodes, inits, want_msg in (
        ("slice of the height", [helper.make_node("Slice", ["x", "s", "e", "ax"], ["y"], name="crop")],
         [i64("s", [1]), i64("e", [3]), i64("ax", [2])], "node 'crop' (Slice): dcc slices the channel axis"),
        ("split of the batch", [helper.make_node("Split", ["x"], ["y", "z"], axis=0, name="bs")], [],
         "node 'bs' (Split): dcc splits the channel axis"),
        ("a transpose", [helper.make_node("Transpose", ["x"], ["y"], perm=[0, 1, 3, 2], name="tr")], [],
         "node 'tr' (Transpose): dcc reads a Transpose of activations only inside a channel shuffle"),
        ("a five-dimensional reshape", [helper.make_node("Reshape", ["x", "s5"], ["y"], name="r5")],
         [i64("s5", [-1, 2, 3, 4, 4])], "node 'r5' (Reshape): dcc reads a Reshape to five dimensions as a channel")):
    path = graph(nodes, ["n", 6, 4, 4], inits, "bad")
    r = run("import", path, "-o", p("bad.dct"))
    check(r.returncode == 1 and r.stderr.count("\n") == 1 and want_msg in r.stderr and not os.path.exists(p("bad.dct")),
          "%s: refused in one line: %s" % (tag, r.stderr))
finish("test_channels")
