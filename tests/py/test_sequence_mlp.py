#!/usr/bin/python3
"""test_sequence_mlp.py: MLPs on a 3-D input (N, T, F), as small
pretrained models in public packages are written: nn.Linear applied per
position (torch.onnx.export writes MatMul then Add(bias, x)) with a
sigmoid head, of one position (N, 1, F) and of five, and a per-position
Linear flattened into a classifier.  dcc's logits and sigmoid
probabilities equal PyTorch's, its state_dict loads strict (the per-
position Linears back as (out, in)) and gives them again, its ONNX export
gives them in ONNX Runtime and imports back, and pruned, shared and in
16-bit fixed point each runs on the emulator bit-exact with eval
--fixed."""
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (check, export_round_trip, finish, ort_run, pipeline, run, strict_diff, to_emulator,  # noqa: E402
                    workdir)

p = workdir("seqmlp", 21)


class PerPosition(nn.Module):  # (N, T, F) -> (N, T, 1), a sigmoid per position
    def __init__(self, f):
        super().__init__()
        self.a = nn.Linear(f, 8)
        self.b = nn.Linear(8, 1)

    def forward(self, x):
        return torch.sigmoid(self.b(torch.relu(self.a(x))))


class Flattened(nn.Module):  # (N, T, F) -> per position, then flattened into a classifier
    def __init__(self, t, f):
        super().__init__()
        self.a = nn.Linear(f, 6)
        self.head = nn.Linear(t * 6, 3)

    def forward(self, x):
        return self.head(torch.tanh(self.a(x)).flatten(1))


rng = np.random.default_rng(2)
for tag, net, t, f in (("one position, a sigmoid head", PerPosition(7), 1, 7),
                       ("five positions, a sigmoid each", PerPosition(6), 5, 6),
                       ("per position, then flattened", Flattened(5, 6), 5, 6)):
    net.eval()
    X = rng.standard_normal((40, t, f)).astype(np.float32)
    with torch.no_grad():
        probs = net(torch.from_numpy(X)).numpy().reshape(40, -1)
        logits = (net.b(torch.relu(net.a(torch.from_numpy(X)))) if isinstance(net, PerPosition) else
                  net(torch.from_numpy(X))).numpy().reshape(40, -1)
    tg = tag.split(",")[0].replace(" ", "_")
    torch.onnx.export(net, torch.from_numpy(X[:1]), p(tg + ".onnx"), opset_version=13, input_names=["x"],
                      dynamic_axes={"x": {0: "n"}})
    dct = p(tg + ".dct")
    r = run("import", p(tg + ".onnx"), "-o", dct)
    info = run("info", dct).stdout
    shape = "[1, %d, %d]" % (t, f)
    check(r.returncode == 0 and r.stderr == "" and "dcc.input_shape: %s" % shape in info and
          ("bce loss" in info) == isinstance(net, PerPosition), "%s: imported, input %s: %s" % (tag, shape, r.stderr + info))
    np.save(p("x.npy"), X.reshape(40, 1, t, f))  # dcc's input (1, T, F), as its export takes it
    r = run("run", dct, "--input", p("x.npy"), "-o", p("y.npy"))
    r2 = run("run", dct, "--probs", "--input", p("x.npy"), "-o", p("yp.npy"))
    got = np.load(p("y.npy")) if r.returncode == 0 else None
    err = np.abs(got - logits).max() if got is not None else None
    perr = np.abs(np.load(p("yp.npy")) - probs).max() if r2.returncode == 0 and isinstance(net, PerPosition) else 0
    print("%s: logits against PyTorch's %s, probabilities %s" % (tag, err, perr))
    check(err is not None and err < 1e-5 and perr is not None and perr < 1e-6,
          "%s: dcc = PyTorch (%s, %s) %s" % (tag, err, perr, r.stderr + r2.stderr))
    r = run("export", dct, "-o", p("sd.npz"))
    fresh = type(net)(*((f,) if isinstance(net, PerPosition) else (t, f))).eval()
    serr = strict_diff(fresh, p("sd.npz"), X, probs)
    check(r.returncode == 0 and not isinstance(serr, str) and serr < 1e-5,
          "%s: the state_dict loads strict and gives PyTorch's outputs: %s %s" % (tag, serr, r.stderr))
    if isinstance(net, PerPosition):  # a bce head: the export ends in its Sigmoid, ONNX Runtime gives probabilities
        r = run("export", dct, "-o", p("back.onnx"))
        ort = ort_run(p("back.onnx"), p("x.npy"), p("ort.npy")) if r.returncode == 0 else None
        check(ort is not None and np.abs(ort.reshape(40, -1) - probs).max() < 1e-6,
              "%s: ONNX Runtime gives the probabilities from dcc's export %s" % (tag, r.stderr))
        r = run("import", p("back.onnx"), "-o", p("back.dct"))
        r2 = run("run", p("back.dct"), "--input", p("x.npy"), "-o", p("y2.npy")) if r.returncode == 0 else r
        check(r2.returncode == 0 and np.array_equal(np.load(p("y2.npy")), got),
              "%s: the export imports back (a bce head again) %s" % (tag, r.stderr + r2.stderr))
    else:
        export_round_trip(p, dct, got, " (%s)" % tag)
    Y = (got[:, 0] > 0).astype(np.int64) if got.shape[1] == 1 else got.argmax(1)
    if got.shape[1] > 1 and isinstance(net, PerPosition):
        Y = (got > 0).astype(np.float32)  # one label a position
    xs = np.load(p("x.npy"))
    np.savez(p("d.npz"), x_train=xs[:32], y_train=Y[:32], x_test=xs[32:], y_test=Y[32:])
    ok = pipeline(tg, to_emulator(dct, p("d.npz"), p, 8, 8))
    check(ok and np.array_equal(np.load(p("emu.npy")), np.load(p("ref.npy"))),
          "%s: on the emulator bit-exact with eval --fixed" % tag)
finish("test_sequence_mlp")
