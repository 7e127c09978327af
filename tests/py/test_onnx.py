#!/usr/bin/python3
"""test_onnx.py: ONNX in and out.  Models written with python3-onnx's helper
API and by torch.onnx.export (when python3-torch is installed) import into
dcc and give the same logits (1e-4) as NumPy / PyTorch; unsupported
operators and malformed protobufs give one clear line; dcc export -o
x.onnx passes onnx.checker and computes the same logits; a custom MLP
(784-512-256-10) from ONNX goes through the whole pipeline to the
emulator, bit-exact against dcc eval --fixed."""
import gzip
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DATA, check, dcc, finish, run  # noqa: E402

N = 300


dcc = run


x8 = np.frombuffer(gzip.open(DATA + "t10k-images-idx3-ubyte.gz").read()[16:], np.uint8).reshape(-1, 1, 28, 28)[:N]
X = x8.astype(np.float32) / 255
rng = np.random.default_rng(5)


def onnx_lstm(x, W, R, B):
    """ONNX's LSTM over the image rows (gates i, o, f, c), the last hidden state"""
    H = R.shape[1]
    sg = lambda z: 1 / (1 + np.exp(-z))
    h, c = np.zeros((len(x), H)), np.zeros((len(x), H))
    for t in range(x.shape[2]):
        z = x[:, 0, t, :].astype(np.float64) @ W.T + h @ R.T + B[:4 * H] + B[4 * H:]
        i_, o_, f_, c_ = np.split(z, 4, axis=1)
        c = sg(f_) * c + sg(i_) * np.tanh(c_)
        h = sg(o_) * np.tanh(c)
    return h


def run_steps(steps):
    """dcc commands in order; False (and the failing one's stderr) at the first failure"""
    for st in steps:
        r = dcc(*st)
        if r.returncode:
            print("dcc", st[0], "failed:", r.stderr, file=sys.stderr)
            return False
    return True


def logits_of(tmp, model):
    out = os.path.join(tmp, "l.npy")
    r = dcc("eval", "--limit", str(N), "--logits", out, model)
    return np.load(out) if r.returncode == 0 else None


with tempfile.TemporaryDirectory() as tmp:
    p = lambda n: os.path.join(tmp, n)
    # MatMul + Add with the (N, 784) input a plain MLP takes
    w1, b1 = rng.standard_normal((784, 64), np.float32) * 0.05, rng.standard_normal(64, np.float32) * 0.1
    w2, b2 = rng.standard_normal((64, 10), np.float32) * 0.1, rng.standard_normal(10, np.float32) * 0.1
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Add", ["h", "b1"], ["h1"]),
         helper.make_node("Relu", ["h1"], ["h2"]), helper.make_node("Gemm", ["h2", "w2", "b2"], ["y"])],
        "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 784])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"), numpy_helper.from_array(w2, "w2"),
         numpy_helper.from_array(b2, "b2")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), p("mm.onnx"))
    r = dcc("import", p("mm.onnx"), "-o", p("mm.dct"))
    check(r.returncode == 0, "import MatMul+Add: " + r.stderr)
    want = np.maximum(X.reshape(N, -1) @ w1 + b1, 0) @ w2 + b2
    got = logits_of(tmp, p("mm.dct"))
    check(got is not None and np.abs(got - want).max() < 1e-4, "MatMul+Add logits = numpy")

    # unsupported operators and broken protobufs
    g2 = helper.make_graph([helper.make_node("Softplus", ["x"], ["y"], name="act0")], "s",
                           [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 784])],
                           [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 784])])
    onnx.save(helper.make_model(g2), p("sp.onnx"))
    r = dcc("import", p("sp.onnx"), "-o", p("x.dct"))
    check(r.returncode == 1 and "node 'act0' (Softplus): operator not supported" in r.stderr and
          r.stderr.count("\n") == 1, "unsupported op: " + r.stderr)
    g2 = helper.make_graph([helper.make_node("AveragePool", ["x"], ["y"], name="ap", kernel_shape=[2, 2],
                                             strides=[1, 2])], "s",
                           [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])],
                           [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, 27, 14])])
    onnx.save(helper.make_model(g2), p("ap.onnx"))
    r = dcc("import", p("ap.onnx"), "-o", p("x.dct"))
    check(r.returncode == 1 and "node 'ap' (AveragePool): dcc supports square kernels, equal strides and pads" in
          r.stderr and r.stderr.count("\n") == 1, "AveragePool of unequal strides: " + r.stderr)
    raw = open(p("mm.onnx"), "rb").read()
    for cut in (5, 100, len(raw) // 2, len(raw) - 3):
        open(p("cut.onnx"), "wb").write(raw[:cut])
        r = dcc("import", p("cut.onnx"), "-o", p("x.dct"))
        check(r.returncode == 1 and r.stderr.count("\n") == 1, "truncated protobuf at %d: %s" % (cut, r.stderr))
    open(p("junk.onnx"), "wb").write(bytes(rng.integers(0, 256, 4000, dtype=np.uint8)))
    r = dcc("import", p("junk.onnx"), "-o", p("x.dct"))
    check(r.returncode == 1 and r.stderr.count("\n") == 1, "random bytes: " + r.stderr)
    check(not os.path.exists(p("x.dct")), "no output on failure")

    # dcc export -o x.onnx: the checker passes and the logits are the same
    dcc("train", "--net", "lenet5", "--epochs", "1", "--limit", "1000", "-o", p("l5.dct"))
    r = dcc("export", p("l5.dct"), "-o", p("l5.onnx"))
    check(r.returncode == 0, "export onnx: " + r.stderr)
    m = onnx.load(p("l5.onnx"))
    try:
        onnx.checker.check_model(m)
        check(True, "")
    except Exception as e:  # noqa: BLE001
        check(False, "onnx.checker: %s" % e)
    init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    from numpy.lib.stride_tricks import sliding_window_view

    def conv(x, w, b):
        win = sliding_window_view(x, w.shape[2:], axis=(2, 3))
        return np.einsum("nchwij,ocij->nohw", win, w) + b[None, :, None, None]

    def pool(x):
        n, c, h, w_ = x.shape
        return x[:, :, :h // 2 * 2, :w_ // 2 * 2].reshape(n, c, h // 2, 2, w_ // 2, 2).max(axis=(3, 5))
    h = pool(conv(pool(conv(X.astype(np.float64), init["conv1.weight"], init["conv1.bias"])), init["conv2.weight"],
                  init["conv2.bias"]))
    h = np.maximum(h.reshape(N, -1) @ init["fc1.weight"].T + init["fc1.bias"], 0)
    want = h @ init["fc2.weight"].T + init["fc2.bias"]
    got = logits_of(tmp, p("l5.dct"))
    check([n.op_type for n in m.graph.node] == ["Conv", "MaxPool", "Conv", "MaxPool", "Flatten", "Gemm", "Relu", "Gemm"],
          "exported ops")
    check(got is not None and np.abs(got - want).max() < 1e-4, "exported ONNX computes dcc's logits")
    r = dcc("import", p("l5.onnx"), "-o", p("l5b.dct"))
    got2 = logits_of(tmp, p("l5b.dct"))
    check(r.returncode == 0 and got2 is not None and np.abs(got2 - got).max() < 1e-5, "export then import")

    # Sigmoid, Tanh and AveragePool (and a strided, padded Conv): NumPy's
    # logits, then the whole pipeline onto the emulator, bit-exact, on
    # both convolution engines, and back out to ONNX
    cw, cb = rng.standard_normal((6, 1, 3, 3), np.float32) * 0.5, rng.standard_normal(6, np.float32) * 0.1
    fw, fb = rng.standard_normal((32, 6 * 7 * 7), np.float32) * 0.1, rng.standard_normal(32, np.float32) * 0.1
    ow, ob = rng.standard_normal((10, 32), np.float32) * 0.3, rng.standard_normal(10, np.float32) * 0.1
    g3 = helper.make_graph(
        [helper.make_node("Conv", ["x", "c.weight", "c.bias"], ["a"], kernel_shape=[3, 3], strides=[2, 2],
                          pads=[1, 1, 1, 1]),
         helper.make_node("Sigmoid", ["a"], ["b"]),
         helper.make_node("AveragePool", ["b"], ["c"], kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("Flatten", ["c"], ["d"], axis=1),
         helper.make_node("Gemm", ["d", "f.weight", "f.bias"], ["e"], transB=1),
         helper.make_node("Tanh", ["e"], ["t"]),
         helper.make_node("Gemm", ["t", "o.weight", "o.bias"], ["y"], transB=1)],
        "act", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(v, k) for k, v in (("c.weight", cw), ("c.bias", cb), ("f.weight", fw),
                                                     ("f.bias", fb), ("o.weight", ow), ("o.bias", ob))])
    onnx.save(helper.make_model(g3, opset_imports=[helper.make_opsetid("", 13)]), p("act.onnx"))
    r = dcc("import", p("act.onnx"), "-o", p("act.dct"))
    check(r.returncode == 0, "import Sigmoid/Tanh/AveragePool: " + r.stderr)
    xp = np.pad(X.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    a = np.einsum("nchwij,ocij->nohw", sliding_window_view(xp, (3, 3), axis=(2, 3))[:, :, ::2, ::2], cw) + \
        cb[None, :, None, None]
    b_ = 1 / (1 + np.exp(-a))
    c_ = b_.reshape(N, 6, 7, 2, 7, 2).mean(axis=(3, 5))
    want = np.tanh(c_.reshape(N, -1) @ fw.T + fb) @ ow.T + ob
    got = logits_of(tmp, p("act.dct"))
    check(got is not None and np.abs(got - want).max() < 1e-4,
          "Sigmoid/Tanh/AveragePool logits = numpy (max diff %s)" % (None if got is None else np.abs(got - want).max()))
    steps = [["train", "--init", p("act.dct"), "--epochs", "1", "--limit", "2000", "--force", "-o", p("at.dct")],
             ["prune", p("at.dct"), "--sparsity", "0.5", "--include-first", "-o", p("ap.dct")],
             ["share", p("ap.dct"), "--bits", "4", "--zero", "-o", p("as.dct")],
             ["fixed", p("as.dct"), "--calib", "64", "--limit", "300", "-o", p("af.dct")],
             ["eval", "--fixed", "--limit", "300", "--logits", p("aref.npy"), p("af.dct")],
             ["encode", p("af.dct"), "-o", p("af.dcb")]]
    ok = run_steps(steps)
    check(ok, "Sigmoid/Tanh/AveragePool network through train, prune, share, fixed, encode")
    for engine in ("4", "0"):
        r1 = dcc("compile", p("af.dcb"), "--convolvers", engine, "--force", "-o", p("af.dci"))
        r2 = dcc("emu", p("af.dcb"), p("af.dci"), "--count", "300", "--logits", p("aemu.npy"))
        check(ok and r1.returncode == 0 and r2.returncode == 0 and
              open(p("aemu.npy"), "rb").read() == open(p("aref.npy"), "rb").read(),
              "Sigmoid/Tanh/AveragePool on the emulator (convolvers %s) == eval --fixed: %s%s" % (engine, r1.stderr,
                                                                                                r2.stderr))
    dis = dcc("disasm", p("af.dci")).stdout
    check("act sigmoid" in dis and "act tanh" in dis and "avgpool in=" in dis, "act and avgpool instructions")
    r = dcc("export", p("at.dct"), "-o", p("at.onnx"))
    m3 = onnx.load(p("at.onnx")) if r.returncode == 0 else None
    check(m3 is not None and [n.op_type for n in m3.graph.node] ==
          ["Conv", "Sigmoid", "AveragePool", "Flatten", "Gemm", "Tanh", "Gemm"], "Sigmoid/Tanh/AveragePool exported")
    try:
        onnx.checker.check_model(m3)
        check(True, "")
    except Exception as e:  # noqa: BLE001
        check(False, "onnx.checker on Sigmoid/Tanh/AveragePool: %s" % e)
    r = dcc("import", p("at.onnx"), "-o", p("atb.dct"))
    l1, l2 = logits_of(tmp, p("at.dct")), logits_of(tmp, p("atb.dct"))
    check(r.returncode == 0 and l1 is not None and l2 is not None and np.abs(l1 - l2).max() < 1e-5,
          "Sigmoid/Tanh/AveragePool: export then import")

    # the row LSTM out to ONNX (Reshape, Transpose, LSTM, Squeeze of Y_h) and
    # back; ONNX's own LSTM equations (gates i, o, f, c) in NumPy on the
    # exported initializers give dcc's logits
    dcc("train", "--net", "lstm", "--epochs", "1", "--limit", "500", "-o", p("lstm.dct"))
    r = dcc("export", p("lstm.dct"), "-o", p("lstm.onnx"))
    check(r.returncode == 0, "export lstm onnx: " + r.stderr)
    ml = onnx.load(p("lstm.onnx"))
    try:
        onnx.checker.check_model(ml)
        check(True, "")
    except Exception as e:  # noqa: BLE001
        check(False, "onnx.checker on the LSTM: %s" % e)
    check([n.op_type for n in ml.graph.node] == ["Reshape", "Transpose", "LSTM", "Squeeze", "Gemm"], "LSTM nodes")
    it = {t.name: numpy_helper.to_array(t) for t in ml.graph.initializer}
    Wl = next(v for k, v in it.items() if k.endswith(".W"))[0].astype(np.float64)
    Rl = next(v for k, v in it.items() if k.endswith(".R"))[0].astype(np.float64)
    Bl = next(v for k, v in it.items() if k.endswith(".B"))[0].astype(np.float64)
    want = onnx_lstm(X, Wl, Rl, Bl) @ it["fc.weight"].T.astype(np.float64) + it["fc.bias"]
    got = logits_of(tmp, p("lstm.dct"))
    check(got is not None and np.abs(got - want).max() < 1e-4,
          "LSTM exported to ONNX computes dcc's logits (max diff %s)" % (None if got is None else np.abs(got - want).max()))
    r = dcc("import", p("lstm.onnx"), "-o", p("lstmb.dct"))
    got2 = logits_of(tmp, p("lstmb.dct"))
    check(r.returncode == 0 and got2 is not None and got is not None and np.abs(got2 - got).max() < 1e-5,
          "LSTM: export then import: " + r.stderr)
    # the other spellings: Squeeze of the channel, a batch-first LSTM (layout 1), Gather of Y_h
    Hs = 16
    Wg, Rg, Bg = (rng.standard_normal(sh, np.float32) * 0.3 for sh in ((1, 4 * Hs, 28), (1, 4 * Hs, Hs), (1, 8 * Hs)))
    Fw, Fb = rng.standard_normal((10, Hs), np.float32), rng.standard_normal(10, np.float32)
    g4 = helper.make_graph(
        [helper.make_node("Squeeze", ["x", "ax1"], ["s"]),
         helper.make_node("LSTM", ["s", "W", "R", "B"], ["", "yh"], hidden_size=Hs, layout=1),
         helper.make_node("Gather", ["yh", "last"], ["g"], axis=0),
         helper.make_node("Gemm", ["g", "fcw", "fcb"], ["y"], transB=1)],
        "lstm2", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(np.array([1], np.int64), "ax1"), numpy_helper.from_array(Wg, "W"),
         numpy_helper.from_array(Rg, "R"), numpy_helper.from_array(Bg, "B"),
         numpy_helper.from_array(np.array(-1, np.int64), "last"), numpy_helper.from_array(Fw, "fcw"),
         numpy_helper.from_array(Fb, "fcb")])
    onnx.save(helper.make_model(g4, opset_imports=[helper.make_opsetid("", 14)]), p("lstm2.onnx"))
    r = dcc("import", p("lstm2.onnx"), "-o", p("lstm2.dct"))
    check(r.returncode == 0, "import Squeeze + batch-first LSTM + Gather: " + r.stderr)
    got = logits_of(tmp, p("lstm2.dct"))
    want = onnx_lstm(X, Wg[0].astype(np.float64), Rg[0].astype(np.float64), Bg[0].astype(np.float64)) @ \
        Fw.T.astype(np.float64) + Fb
    check(got is not None and np.abs(got - want).max() < 1e-4, "batch-first LSTM logits = numpy")
    g5 = helper.make_graph(
        [helper.make_node("Squeeze", ["x", "ax1"], ["s"]),
         helper.make_node("LSTM", ["s", "W", "R", "B"], ["", "yh"], hidden_size=Hs, layout=1, clip=3.0, name="L")],
        "lstm3", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("yh", TensorProto.FLOAT, [1, "N", Hs])],
        [numpy_helper.from_array(np.array([1], np.int64), "ax1"), numpy_helper.from_array(Wg, "W"),
         numpy_helper.from_array(Rg, "R"), numpy_helper.from_array(Bg, "B")])
    onnx.save(helper.make_model(g5, opset_imports=[helper.make_opsetid("", 14)]), p("lstm3.onnx"))
    r = dcc("import", p("lstm3.onnx"), "-o", p("x.dct"))
    check(r.returncode == 1 and "node 'L' (LSTM): dcc reads one forward layer" in r.stderr and
          r.stderr.count("\n") == 1, "LSTM with clip refused: " + r.stderr)

    import torch  # python3-torch: a test dependency, always run
    from torch import nn
    if True:
        torch.manual_seed(0)
        nets = {
            "mlp": nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                                 nn.Linear(256, 10)),
            "cnn": nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(8, 16, 3, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 6 * 6, 10)),
        }
        class RowH(nn.Module):  # the last hidden state
            def __init__(s):
                super().__init__()
                s.lstm, s.fc = nn.LSTM(28, 32, batch_first=True), nn.Linear(32, 10)

            def forward(s, x):
                _, (h, _) = s.lstm(x.view(-1, 28, 28))
                return s.fc(h[-1])

        class RowY(RowH):  # the last step of the output sequence
            def forward(s, x):
                out, _ = s.lstm(x.squeeze(1))
                return s.fc(out[:, -1])
        nets["rowh"], nets["rowy"] = RowH(), RowY()
        for name, net in nets.items():
            net.eval()
            torch.onnx.export(net, torch.zeros(1, 1, 28, 28), p(name + ".onnx"), input_names=["input"],
                              output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                              opset_version=13)
            r = dcc("import", p(name + ".onnx"), "--force", "-o", p(name + ".dct"))
            check(r.returncode == 0, "import torch %s: %s" % (name, r.stderr))
            with torch.no_grad():
                want = net(torch.from_numpy(X)).numpy()
            got = logits_of(tmp, p(name + ".dct"))
            check(got is not None and np.abs(got - want).max() < 1e-4,
                  "%s: dcc logits = PyTorch's (max diff %s)" % (name, None if got is None else np.abs(got - want).max()))
            check(got is not None and (got.argmax(1) == want.argmax(1)).mean() == 1.0, "%s: same predictions" % name)
        # the row LSTM: PyTorch's names come back, so dcc's export loads into the module
        dcc("export", p("rowh.dct"), "-o", p("rowh.npz"))
        sd = {k: torch.from_numpy(v) for k, v in np.load(p("rowh.npz")).items()}
        try:
            nets["rowh"].load_state_dict(sd, strict=True)
            check(True, "")
        except Exception as e:  # noqa: BLE001
            check(False, "state_dict of the imported LSTM: %s" % e)
        # and it goes through the pipeline onto the emulator
        steps = [["prune", p("rowh.dct"), "--sparsity", "0.7", "-o", p("rp.dct")],
                 ["share", p("rp.dct"), "--bits", "4", "--zero", "-o", p("rs.dct")],
                 ["fixed", p("rs.dct"), "--calib", "64", "--limit", "300", "-o", p("rf.dct")],
                 ["encode", p("rf.dct"), "--layout", "eie", "--pes", "16", "-o", p("rf.dcb")],
                 ["compile", p("rf.dcb"), "--pes", "16", "-o", p("rf.dci")],
                 ["emu", p("rf.dcb"), p("rf.dci"), "--count", "300", "--logits", p("remu.npy")],
                 ["eval", "--fixed", "--limit", "300", "--logits", p("rref.npy"), p("rf.dct")]]
        ok = run_steps(steps)
        check(ok and open(p("remu.npy"), "rb").read() == open(p("rref.npy"), "rb").read(),
              "row LSTM from torch.onnx.export: emulator == eval --fixed")

        # the custom MLP through the whole pipeline, onto the emulator
        steps = [["train", "--init", p("mlp.dct"), "--epochs", "1", "--limit", "3000", "--force", "-o", p("t.dct")],
                 ["prune", p("t.dct"), "--sparsity", "0.9", "-o", p("pr.dct")],
                 ["share", p("pr.dct"), "--bits", "4", "--zero", "-o", p("sh.dct")],
                 ["fixed", p("sh.dct"), "--calib", "64", "--limit", "300", "-o", p("fx.dct")],
                 ["encode", p("fx.dct"), "--layout", "eie", "--pes", "64", "-o", p("fx.dcb")],
                 ["compile", p("fx.dcb"), "-o", p("fx.dci")],
                 ["emu", p("fx.dcb"), p("fx.dci"), "--count", "300", "--logits", p("emu.npy")],
                 ["eval", "--fixed", "--limit", "300", "--logits", p("ref.npy"), p("fx.dct")]]
        ok = run_steps(steps)
        check(ok and open(p("emu.npy"), "rb").read() == open(p("ref.npy"), "rb").read(),
              "custom 784-512-256-10 MLP from ONNX: emulator == eval --fixed")

        # BatchNormalization kept as nodes (TrainingMode.PRESERVE on an eval model): batchnorm layers at import,
        # PyTorch's logits; dcc fold folds them into the Conv or Gemm before each, then onto the emulator
        torch.manual_seed(0)

        class BNNet(torch.nn.Module):
            def __init__(s):
                super().__init__()
                s.conv1, s.bn1 = torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8)
                s.conv2, s.bn2 = torch.nn.Conv2d(8, 16, 3, padding=1, bias=False), torch.nn.BatchNorm2d(16)
                s.fc1, s.bn3, s.fc2 = torch.nn.Linear(16 * 7 * 7, 32), torch.nn.BatchNorm1d(32), torch.nn.Linear(32, 10)

            def forward(s, x):
                x = torch.max_pool2d(torch.relu(s.bn1(s.conv1(x))), 2)
                x = torch.max_pool2d(torch.relu(s.bn2(s.conv2(x))), 2)
                return s.fc2(torch.relu(s.bn3(s.fc1(x.flatten(1)))))
        bnet = BNNet()
        for bn in (bnet.bn1, bnet.bn2, bnet.bn3):  # statistics far from the identity
            bn.running_mean.uniform_(-0.5, 0.5), bn.running_var.uniform_(0.5, 2)
            bn.weight.data.uniform_(0.5, 1.5), bn.bias.data.uniform_(-0.2, 0.2)
        bnet.eval()
        # a global average pool (AdaptiveAvgPool2d(1) exports GlobalAveragePool) with BN and no bias
        gnet = torch.nn.Sequential(torch.nn.Conv2d(1, 6, 3, bias=False), torch.nn.BatchNorm2d(6), torch.nn.ReLU(),
                                   torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(6, 10)).eval()
        gnet[1].running_mean.uniform_(-0.5, 0.5), gnet[1].running_var.uniform_(0.5, 2)
        torch.onnx.export(gnet, torch.zeros(1, 1, 28, 28), p("gap.onnx"), opset_version=13, do_constant_folding=False,
                          training=torch.onnx.TrainingMode.PRESERVE, input_names=["x"], dynamic_axes={"x": {0: "N"}})
        check(any(n.op_type == "GlobalAveragePool" for n in onnx.load(p("gap.onnx")).graph.node), "GlobalAveragePool")
        r = dcc("import", p("gap.onnx"), "-o", p("gap.dct"))
        with torch.no_grad():
            want = gnet(torch.from_numpy(X)).numpy()
        got = logits_of(tmp, p("gap.dct")) if r.returncode == 0 else None
        check(got is not None and np.abs(got - want).max() < 1e-4, "GlobalAveragePool: PyTorch's logits (%s) %s"
              % (None if got is None else np.abs(got - want).max(), r.stderr))
        # a fresh BN's running_var equals its weight (ones) and running_mean its bias (zeros): the export keeps one
        # copy of each and aliases the other through an Identity node, which dcc reads as the initializer
        fresh = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                    torch.nn.Flatten(), torch.nn.Linear(4 * 26 * 26, 10)).eval()
        torch.onnx.export(fresh, torch.zeros(1, 1, 28, 28), p("fresh.onnx"), opset_version=13, do_constant_folding=False,
                          training=torch.onnx.TrainingMode.PRESERVE)
        nid = sum(n.op_type == "Identity" for n in onnx.load(p("fresh.onnx")).graph.node)
        r = dcc("import", p("fresh.onnx"), "-o", p("fresh.dct"))
        with torch.no_grad():
            want = fresh(torch.from_numpy(X)).numpy()
        got = logits_of(tmp, p("fresh.dct")) if r.returncode == 0 else None
        check(nid >= 1 and got is not None and np.abs(got - want).max() < 1e-4,
              "%d Identity aliases of initializers read through: %s" % (nid, r.stderr))
        torch.onnx.export(bnet, torch.zeros(1, 1, 28, 28), p("bn.onnx"), opset_version=13, do_constant_folding=False,
                          training=torch.onnx.TrainingMode.PRESERVE, input_names=["x"], dynamic_axes={"x": {0: "N"}})
        check(sum(n.op_type == "BatchNormalization" for n in onnx.load(p("bn.onnx")).graph.node) == 3,
              "the export keeps three BatchNormalization nodes")
        r = dcc("import", p("bn.onnx"), "-o", p("bn.dct"))
        with torch.no_grad():
            want = bnet(torch.from_numpy(X)).numpy()
        got = logits_of(tmp, p("bn.dct")) if r.returncode == 0 else None
        check(got is not None and np.abs(got - want).max() < 1e-4, "BatchNormalization layers: PyTorch's logits (%s)"
              % (None if got is None else np.abs(got - want).max()))
        r = dcc("fold", p("bn.dct"), "-o", p("bnf.dct"))
        got2 = logits_of(tmp, p("bnf.dct")) if r.returncode == 0 else None
        r = run("info", p("bnf.dct"))
        check(r.stdout.count("fold batchnorm=") == 3 and "into=conv2" in r.stdout and got2 is not None and
              np.abs(got2 - got).max() < 1e-5, "dcc fold: the folds in the provenance, the logits kept")
        steps = [["prune", p("bnf.dct"), "--sparsity", "0.5", "-o", p("bp.dct")],
                 ["share", p("bp.dct"), "--bits", "4", "--zero", "-o", p("bs.dct")],
                 ["fixed", p("bs.dct"), "--calib", "64", "--limit", "300", "-o", p("bf.dct")],
                 ["encode", p("bf.dct"), "-o", p("bf.dcb")],
                 ["emu", p("bf.dcb"), "--count", "100", "--logits", p("bemu.npy")],
                 ["eval", "--fixed", "--limit", "100", "--logits", p("bref.npy"), p("bf.dct")]]
        ok = run_steps(steps)
        check(ok and open(p("bemu.npy"), "rb").read() == open(p("bref.npy"), "rb").read(),
              "a network with BatchNormalization: emulator == eval --fixed")
        # a one-output network ending in a Sigmoid: a bce head; dcc run --probs gives the Sigmoid's outputs, and
        # the export ends in the Sigmoid again
        sig = torch.nn.Sequential(torch.nn.Linear(784, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1),
                                  torch.nn.Sigmoid()).eval()
        torch.onnx.export(sig, torch.zeros(1, 784), p("sig.onnx"), opset_version=13, input_names=["x"],
                          dynamic_axes={"x": {0: "N"}})
        np.save(p("sx.npy"), X[:50].reshape(50, 784))
        r = dcc("import", p("sig.onnx"), "-o", p("sig.dct"))
        r2 = dcc("run", "--input", p("sx.npy"), "--probs", p("sig.dct"), "-o", p("sp.npy")) if r.returncode == 0 else r
        with torch.no_grad():
            want = sig(torch.from_numpy(X[:50].reshape(50, 784))).numpy()
        check(r2.returncode == 0 and "bce loss" in run("info", p("sig.dct")).stdout and
              np.abs(np.load(p("sp.npy")) - want).max() < 1e-5, "sigmoid head: %s %s" % (r.stderr, r2.stderr))
        r = dcc("export", p("sig.dct"), "-o", p("sig2.onnx"))
        m2 = onnx.load(p("sig2.onnx")) if r.returncode == 0 else None
        check(m2 is not None and m2.graph.node[-1].op_type == "Sigmoid" and m2.graph.output[0].name == "probabilities",
              "the export ends in the Sigmoid")
        # one that follows no Conv or Gemm (here the input's): dcc fold makes it a per-channel scale, a depthwise 1x1
        # conv2d of its name, whose output is the BatchNormalization's
        g = helper.make_graph([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn0"),
                               helper.make_node("Flatten", ["y"], ["f"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
                              [helper.make_tensor_value_info("f", TensorProto.FLOAT, [1, 16])],
                              [numpy_helper.from_array(np.array([v], np.float32), k)
                               for k, v in zip("sbmv", (1.5, 0.25, -0.5, 2.0))])
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), p("bn0.onnx"))
        bx = np.random.default_rng(4).standard_normal((3, 1, 4, 4)).astype(np.float32)
        np.save(p("bx.npy"), bx)
        r = dcc("import", p("bn0.onnx"), "-o", p("bn0.dct"))
        r2 = dcc("fold", p("bn0.dct"), "-o", p("bn0f.dct")) if r.returncode == 0 else r
        r3 = dcc("run", p("bn0f.dct"), "--input", p("bx.npy"), "-o", p("by.npy")) if r2.returncode == 0 else r2
        want = ((bx + 0.5) / np.sqrt(2.0 + 1e-5) * 1.5 + 0.25).reshape(3, 16)
        check(r3.returncode == 0 and "conv2d bn1 in=1 out=1 k=1 group=1" in run("info", p("bn0f.dct")).stdout and
              np.abs(np.load(p("by.npy")) - want).max() < 1e-5,
              "BatchNormalization first: folded into a depthwise 1x1 conv2d of its own %r" % (r2.stderr + r3.stderr))

finish("test_onnx")
