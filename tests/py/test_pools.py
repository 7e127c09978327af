#!/usr/bin/python3
"""test_pools.py: average pooling with padding (counted or not) and
ceil_mode, as PyTorch's AvgPool2d computes it and torch.onnx.export writes
it (count_include_pad=True: a zero Pad before an AveragePool without pads;
False: the AveragePool's own pads), next to max pooling with the same
geometry.  dcc's logits equal PyTorch's; its ONNX export gives them in ONNX
Runtime; pruned, shared and in 16-bit fixed point the network runs on the
emulator bit-exact with eval --fixed, its pools `avgpool ... pad=1` with
and without `incl=1`.  An uneven zero Pad before a Conv becomes its pads
(ONNX Runtime's output); one before a MaxPool is refused in one line.
Pads that differ by side (TensorFlow's 'same', as tf2onnx writes it) are
read as one pad's windows, with ceil_mode, where that is exact: ONNX
Runtime's output, and on the emulator bit-exact; elsewhere one line."""
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (check, export_round_trip, finish, four_classes, ort_run, pipeline, run,  # noqa: E402
                    to_emulator, workdir)

p = workdir("pools", 2)


class Pools(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.p1 = nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=True)   # 9x9 -> 5x5
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.p2 = nn.AvgPool2d(3, 2, padding=1, ceil_mode=False, count_include_pad=False)  # 5x5 -> 3x3
        self.c3 = nn.Conv2d(8, 8, 1)
        self.p3 = nn.AvgPool2d(2, 2, ceil_mode=True)                                      # 3x3 -> 2x2, a partial window
        self.m = nn.MaxPool2d(3, 2, padding=1, ceil_mode=True)                            # 9x9 -> 5x5, beside p1
        self.fc = nn.Linear(8 * 2 * 2 + 8 * 5 * 5, 4)

    def forward(self, x):
        a = torch.relu(self.c1(x))
        y = self.p3(torch.relu(self.c3(self.p2(torch.relu(self.c2(self.p1(a)))))))
        return self.fc(torch.cat([y.flatten(1), self.m(a).flatten(1)], 1))


X = four_classes(p, 6, 9)

net = Pools().eval()
with torch.no_grad():
    want = net(torch.from_numpy(X[128:])).numpy()
torch.onnx.export(net, torch.from_numpy(X[:2]), p("pools.onnx"), opset_version=13, input_names=["x"],
                  dynamic_axes={"x": {0: "n"}})
r = run("import", p("pools.onnx"), "-o", p("pools.dct"))
check(r.returncode == 0, "imported: " + r.stderr)
info = run("info", p("pools.dct")).stdout
check("k=3 stride=2 pad=1 ceil=1 incl=1" in info and "k=3 stride=2 pad=1 ceil=0" in info and
      "avgpool2d pool3 k=2 stride=2 pad=0 ceil=1" in info,
      "the pools' padding, ceil_mode and count_include_pad in the graph: %s" % info)
r = run("run", p("pools.dct"), "--input", p("x.npy"), "-o", p("y.npy"))
got = np.load(p("y.npy")) if r.returncode == 0 else None
err = np.abs(got - want).max() if got is not None else None
print("dcc's logits against PyTorch's, max diff %s" % err)
check(err is not None and err < 1e-5, "dcc's logits are PyTorch's (%s) %s" % (err, r.stderr))
export_round_trip(p, p("pools.dct"), got, back=False)
ok = pipeline("pools", to_emulator(p("pools.dct"), p("d.npz"), p, 8, 32))
dis = run("disasm", p("e.dci")).stdout if ok else ""
check(ok and np.array_equal(np.load(p("emu.npy")), np.load(p("ref.npy"))) and
      "stride=2 pad=1 ceil=1 incl=1" in dis and dis.count("avgpool ") == 3,
      "on the emulator bit-exact with eval --fixed, the pools as avgpool with their padding")

# an uneven Pad before a Conv is its pads (ONNX Runtime's output); before a MaxPool dcc has no layer for it: one line
from onnx import TensorProto, helper, save  # noqa: E402
pads = helper.make_tensor("pads", TensorProto.INT64, [8], [0, 0, 0, 1, 0, 0, 0, 2])
w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], np.linspace(-0.5, 0.5, 108, dtype=np.float32))
for tag, last in (("Conv", helper.make_node("Conv", ["xp", "w"], ["c"], kernel_shape=[3, 3])),
                  ("MaxPool", helper.make_node("MaxPool", ["xp"], ["c"], kernel_shape=[3, 3]))):
    g = helper.make_graph([helper.make_node("Pad", ["x", "pads"], ["xp"], name="uneven"), last,
                           helper.make_node("Flatten", ["c"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 9, 9])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", (4 if tag == "Conv" else 3) * 7 * 10])],
                          [pads, w] if tag == "Conv" else [pads])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), p("pad.onnx"))
    r = run("import", p("pad.onnx"), "-o", p("pad%s.dct" % tag))
    if tag == "MaxPool":
        check(r.returncode == 1 and r.stderr.count("\n") == 1 and "(Pad): dcc reads a Pad of zeros" in r.stderr and
              not os.path.exists(p("padMaxPool.dct")), "an uneven Pad before a MaxPool: refused in one line: " + r.stderr)
        continue
    np.save(p("x9.npy"), np.random.default_rng(4).random((3, 3, 9, 9), dtype=np.float32))
    r2 = run("run", p("padConv.dct"), "--input", p("x9.npy"), "-o", p("y9.npy")) if r.returncode == 0 else r
    ort = ort_run(p("pad.onnx"), p("x9.npy"), p("o9.npy"))
    info = run("info", p("padConv.dct")).stdout
    check(r2.returncode == 0 and ort is not None and np.abs(np.load(p("y9.npy")) - ort).max() < 1e-5 and
          "pad=0,1,0,2" in info, "an uneven Pad before a Conv: its pads, = ONNX Runtime: " + r.stderr + r2.stderr)
# pads not the same on every side (tf2onnx writes TensorFlow's 'same' as pads, or auto_pad): dcc's pools take one
# pad, so each is read as that pad (the top and left one), with ceil_mode where that gives ONNX's output size --
# the same windows, the extra padding never taken (max) or counted (average without count_include_pad); ONNX
# Runtime's output, 3-channel 8x8 (9x9) maps
from onnx import numpy_helper  # noqa: E402
rng = np.random.default_rng(7)


def pool_net(path, op, hw, attrs):
    cw = numpy_helper.from_array(rng.standard_normal((3, 3, 3, 3)).astype(np.float32), "cw")
    g = helper.make_graph([helper.make_node("Conv", ["x", "cw"], ["c"], pads=[1, 1, 1, 1]),
                           helper.make_node(op, ["c"], ["q"], name="pool", **attrs),
                           helper.make_node("Flatten", ["q"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, hw, hw])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", None])], [cw])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


k3s2 = dict(kernel_shape=[3, 3], strides=[2, 2])
for op, hw, attrs, line in (("MaxPool", 8, dict(k3s2, pads=[0, 0, 1, 1]), "k=3 stride=2 pad=0 ceil=1"),
                            ("MaxPool", 8, dict(k3s2, auto_pad="SAME_UPPER"), "k=3 stride=2 pad=0 ceil=1"),
                            ("MaxPool", 8, dict(k3s2, auto_pad="SAME_LOWER"), "k=3 stride=2 pad=1 ceil=0"),
                            ("AveragePool", 8, dict(k3s2, pads=[0, 0, 1, 1]), "k=3 stride=2 pad=0 ceil=1"),
                            ("AveragePool", 7, dict(kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_LOWER"),
                             "k=2 stride=2 pad=1 ceil=0"),
                            ("MaxPool", 9, dict(k3s2, pads=[0, 0, 1, 1]), "pool1 k=3 stride=2\n")):
    pool_net(p("asym.onnx"), op, hw, attrs)
    np.save(p("xa.npy"), rng.standard_normal((4, 3, hw, hw)).astype(np.float32))
    r = run("import", p("asym.onnx"), "-o", p("asym.dct"))
    r2 = run("run", p("asym.dct"), "--input", p("xa.npy"), "-o", p("ya.npy")) if r.returncode == 0 else r
    ort = ort_run(p("asym.onnx"), p("xa.npy"), p("oa.npy"))
    got = np.load(p("ya.npy")) if r2.returncode == 0 else None
    info = run("info", p("asym.dct")).stdout if r.returncode == 0 else ""
    check(got is not None and ort is not None and got.shape == ort.shape and np.abs(got - ort).max() < 1e-5 and
          line in info, "%s %s on %dx%d: read as %s, = ONNX Runtime %s" % (op, attrs, hw, hw, line, r.stderr + r2.stderr))
    os.remove(p("asym.dct")) if os.path.exists(p("asym.dct")) else None
# ... and where no one pad gives those windows, one line naming the node and its pads
for op, attrs, why in (("AveragePool", dict(k3s2, pads=[1, 1, 0, 0]), "pads 1,1,0,0"),
                       ("MaxPool", dict(kernel_shape=[2, 2], strides=[1, 1], auto_pad="SAME_UPPER"), "pads 0,0,1,1"),
                       ("AveragePool", dict(k3s2, pads=[0, 0, 1, 1], count_include_pad=1), "count_include_pad"),
                       ("MaxPool", dict(k3s2, pads=[0, 1, 1, 0]), "pads 0,1,1,0")):
    pool_net(p("asym.onnx"), op, 9, attrs)
    r = run("import", p("asym.onnx"), "-o", p("asym.dct"))
    check(r.returncode == 1 and r.stderr.count("\n") == 1 and "node 'pool' (%s)" % op in r.stderr and why in r.stderr
          and not os.path.exists(p("asym.dct")), "%s %s refused in one line: %s" % (op, attrs, r.stderr))

# a network with both kinds, TensorFlow-style, through every stage to the emulator, bit-exact with eval --fixed
cw1 = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.5, "cw1")
cw2 = numpy_helper.from_array(rng.standard_normal((4, 4, 3, 3)).astype(np.float32) * 0.3, "cw2")
fw = numpy_helper.from_array(rng.standard_normal((16, 4)).astype(np.float32) * 0.5, "fw")
g = helper.make_graph([helper.make_node("Conv", ["x", "cw1"], ["c1"], pads=[1, 1, 1, 1]),
                       helper.make_node("Relu", ["c1"], ["r1"]),
                       helper.make_node("MaxPool", ["r1"], ["m1"], pads=[0, 0, 1, 1], **k3s2),     # 9x9 -> 4x4
                       helper.make_node("Conv", ["m1", "cw2"], ["c2"], auto_pad="SAME_UPPER", kernel_shape=[3, 3]),
                       helper.make_node("Relu", ["c2"], ["r2"]),
                       helper.make_node("AveragePool", ["r2"], ["a2"], pads=[0, 0, 1, 1], **k3s2),  # 4x4 -> 2x2
                       helper.make_node("Flatten", ["a2"], ["f"]),
                       helper.make_node("MatMul", ["f", "fw"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 9, 9])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])], [cw1, cw2, fw])
save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), p("tf.onnx"))
r = run("import", p("tf.onnx"), "-o", p("tf.dct"))
ok = r.returncode == 0 and pipeline("tf-style pools", to_emulator(p("tf.dct"), p("d.npz"), p, 8, 32))
dis = run("disasm", p("e.dci")).stdout if ok else ""
check(ok and np.array_equal(np.load(p("emu.npy")), np.load(p("ref.npy"))) and "ceil=1" in dis and "maxpool " in dis,
      "TensorFlow-style pools on the emulator, bit-exact with eval --fixed " + r.stderr)

finish("test_pools")
