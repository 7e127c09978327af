#!/usr/bin/python3
"""test_nhwc.py: graphs as tf2onnx writes them from a Keras model: a
channels-last (N, H, W, C) input, a Transpose to (N, C, H, W) before each
Conv and one back after it, the bias, scales, activations, a residual Add
and a Concat on axis 3 done channels last, then a Reshape to (N, -1) and a
MatMul whose weight reads the (H, W, C) order.  dcc folds the Transposes
that cancel, takes the input channels first (saying so in one line on
import, and refusing channels-last data in one line), and reorders the
MatMul's weight: its logits on x.transpose(0, 3, 1, 2) equal ONNX
Runtime's on x, its export gives them in ONNX Runtime, and pruned, shared
and in 16-bit fixed point it runs on the emulator bit-exact with eval
--fixed.  A Transpose without its inverse before a Conv, and a graph whose
output is a channels-last map, are refused in one line each."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import check, export_round_trip, finish, ort_run, pipeline, run, to_emulator, workdir  # noqa: E402

p = workdir("nhwc", 3)
rng = np.random.default_rng(8)


def const(name, shape, scale=0.3):
    return helper.make_tensor(name, TensorProto.FLOAT, shape, (rng.standard_normal(int(np.prod(shape))) * scale)
                              .astype(np.float32))


def T(x, y, perm):
    return helper.make_node("Transpose", [x], [y], perm=perm)


NCHW, NHWC = [0, 3, 1, 2], [0, 2, 3, 1]
nodes = [T("x", "t0", NCHW),
         helper.make_node("Conv", ["t0", "w1", "b1"], ["c1"], auto_pad="SAME_UPPER", kernel_shape=[3, 3]),
         T("c1", "h1", NHWC), helper.make_node("Add", ["h1", "k1"], ["a1"]), helper.make_node("Relu", ["a1"], ["r1"]),
         T("r1", "t1", NCHW),
         helper.make_node("Conv", ["t1", "w2", "b2"], ["c2"], strides=[2, 2], pads=[0, 0, 1, 1]),
         T("c2", "h2", NHWC), helper.make_node("Mul", ["h2", "k2"], ["m2"]), helper.make_node("Relu", ["m2"], ["r2"]),
         T("r2", "t2", NCHW), helper.make_node("Conv", ["t2", "w3"], ["c3"]), T("c3", "h3", NHWC),
         helper.make_node("Add", ["h3", "r2"], ["s"]), helper.make_node("Concat", ["s", "r2"], ["cat"], axis=3),
         helper.make_node("Reshape", ["cat", "shp"], ["f"]), helper.make_node("MatMul", ["f", "wf"], ["mm"]),
         helper.make_node("Add", ["mm", "bf"], ["y"])]
inits = [const("w1", [4, 3, 3, 3]), const("b1", [4], 0.1), const("k1", [4], 0.1), const("w2", [6, 4, 3, 3]),
         const("b2", [6], 0.1), helper.make_tensor("k2", TensorProto.FLOAT, [1, 1, 1, 6], [0.5, 1, 1.5, 2, 0.7, 1.2]),
         const("w3", [6, 6, 1, 1]), helper.make_tensor("shp", TensorProto.INT64, [2], [-1, 192]),
         const("wf", [192, 4], 0.1), const("bf", [4], 0.1)]


def save(nodes, inits, out, name):
    g = helper.make_graph(nodes, "tf", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8, 8, 3])],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["n", "k"])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(m)
    onnx.save(m, p(name))
    return p(name)


path = save(nodes, inits, "y", "tf.onnx")
X = rng.random((160, 8, 8, 3), dtype=np.float32)
np.save(p("x_nhwc.npy"), X[128:])
np.save(p("x.npy"), X[128:].transpose(0, 3, 1, 2).copy())
ort = ort_run(path, p("x_nhwc.npy"), p("ort.npy"))
r = run("import", path, "-o", p("tf.dct"))
check(r.returncode == 0 and r.stderr.count("\n") == 1 and "the ONNX input is channels last (N, H, W, C)" in r.stderr,
      "imported, the input's layout said in one line: " + r.stderr)
r2 = run("run", p("tf.dct"), "--input", p("x.npy"), "-o", p("y.npy")) if r.returncode == 0 else r
got = np.load(p("y.npy")) if r2.returncode == 0 else None
err = np.abs(got - ort).max() if got is not None and ort is not None else None
print("dcc's logits on (N, C, H, W) against ONNX Runtime's on (N, H, W, C): max diff %s (logits to %.3g)" %
      (err, np.abs(ort).max() if ort is not None else 0))
check(err is not None and err < 1e-5 and np.abs(ort).max() > 0.1, "dcc's logits are ONNX Runtime's: %s %s" % (err, r2.stderr))
info = run("info", p("tf.dct")).stdout
check("dcc.input_shape: [3, 8, 8]" in info and info.count("conv2d ") == 3 and "transpose" not in info,
      "three convs, the input 3x8x8, no layer for the Transposes: " + info)
r = run("run", p("tf.dct"), "--input", p("x_nhwc.npy"), "-o", p("bad.npy"))
check(r.returncode == 1 and r.stderr.count("\n") == 1 and "channels last; the network takes 3x8x8" in r.stderr and
      not os.path.exists(p("bad.npy")), "channels-last data refused in one line: " + r.stderr)
export_round_trip(p, p("tf.dct"), got)

# every stage on the emulator, the bias and scale folded into their convs (a training set of the transposed images, labelled by the float net's argmax)
lab = None
np.save(p("xall.npy"), X.transpose(0, 3, 1, 2).copy())
if run("run", p("tf.dct"), "--input", p("xall.npy"), "-o", p("yall.npy")).returncode == 0:
    lab = np.load(p("yall.npy")).argmax(1)
    Xc = X.transpose(0, 3, 1, 2).copy()
    np.savez(p("d.npz"), x_train=Xc[:128], y_train=lab[:128], x_test=Xc[128:], y_test=lab[128:])
ok = lab is not None and pipeline("nhwc", [["fold", p("tf.dct"), "-o", p("fold.dct")]] +
                                  to_emulator(p("fold.dct"), p("d.npz"), p, 8, 32))
check(ok and np.array_equal(np.load(p("emu.npy")), np.load(p("ref.npy"))), "on the emulator bit-exact with eval --fixed")

# what does not cancel: one line each, no file
for tag, nn, out, want in (
        ("a Transpose without its inverse before a Conv", [T("x", "t0", NCHW), T("t0", "h", NHWC),
                                                          helper.make_node("Conv", ["h", "w1"], ["y"], name="cv")], "y",
         "node 'cv' (Conv) reads 'h', a channels-last (N, H, W, C) map"),
        ("a channels-last output", [T("x", "t0", NCHW), helper.make_node("Conv", ["t0", "w1"], ["c"]), T("c", "y", NHWC)],
         "y", "the ONNX graph's output 'y' is a channels-last map")):
    bad = save(nn, [const("w1", [4, 3, 3, 3]) if tag.endswith("output") else const("w1", [4, 8, 3, 3])], out, "bad.onnx")
    r = run("import", bad, "-o", p("bad.dct"))
    check(r.returncode == 1 and r.stderr.count("\n") == 1 and want in r.stderr and not os.path.exists(p("bad.dct")),
          "%s: refused in one line: %s" % (tag, r.stderr))
finish("test_nhwc")
