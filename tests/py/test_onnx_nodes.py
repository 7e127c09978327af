#!/usr/bin/python3
"""test_onnx_nodes.py: ONNX's own backend node tests (Debian's
libonnx-testdata: model.onnx, inputs and expected outputs per case) for
every operator dcc claims and every one the real-network issue lists.  The
table in formats/onnx.md ("Backend node tests") is the truth this checks:
each case of those operators has a row; a "pass" row imports and gives
the expected outputs within the backend's tolerance (rtol 1e-3, atol
1e-7); a "refused" row is refused in one line and no file (and starts to
fail here the day it passes, so the table is kept true).

dcc's networks have one input: a case's other inputs become initializers
holding their test values (a Conv's W, a Gemm's B and C), which is how a
trained network holds them.  The first input is the batch: (N, C, H, W),
(N, C, L) or (N, F); dcc run's outputs are each sample's values in ONNX's
order, compared with the expected output reshaped to (N, -1)."""
import glob
import os
import re
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, check, finish, run  # noqa: E402

NODE = "/usr/share/libonnx-testdata/data/node"
OPS = ("add sub mul div concat split slice conv basic_conv batchnorm maxpool averagepool globalaveragepool globalmaxpool relu clip "
       "leakyrelu hardsigmoid hardswish sigmoid tanh max min softmax gemm matmul flatten reshape transpose squeeze "
       "unsqueeze identity dropout reduce_mean lstm").split()
tmp = tempfile.mkdtemp(prefix="dcc-nodes-")
p = lambda name: os.path.join(tmp, name)

table = {}
doc = open(os.path.join(ROOT, "formats", "onnx.md")).read().split("## Backend node tests", 1)
for ln in (doc[1] if len(doc) > 1 else "").splitlines():
    m = re.match(r"\| `(test_\w+)` \| (pass|refused) \| ?(.*?) ?\|$", ln)
    if m:
        table[m.group(1)] = (m.group(2), m.group(3).strip())
check(len(doc) > 1 and len(table) > 100, "formats/onnx.md has the node-test table (%d rows)" % len(table))

cases = sorted(d for d in os.listdir(NODE) if "expanded" not in d and
               any(d == "test_" + op or d.startswith("test_" + op + "_") for op in OPS))
check(len(cases) > 200, "libonnx-testdata's cases for the operators (%d)" % len(cases))
missing = [c for c in cases if c not in table]
extra = [c for c in table if c not in cases]
check(not missing and not extra, "every case in the table and no other: missing %s, extra %s" % (missing, extra))


def attempt(case):
    """imports and runs the case: ("pass" | "refused" | "wrong", what)"""
    d = os.path.join(NODE, case)
    m = onnx.load(os.path.join(d, "model.onnx"))
    ds = os.path.join(d, "test_data_set_0")
    try:
        ins = [numpy_helper.to_array(onnx.load_tensor(f)) for f in sorted(glob.glob(ds + "/input_*.pb"))]
        outs = [numpy_helper.to_array(onnx.load_tensor(f)) for f in sorted(glob.glob(ds + "/output_*.pb"))]
    except Exception:  # noqa: BLE001 -- optional and sequence values: the model as it is
        ins = outs = None
    g = m.graph
    inits = {i.name for i in g.initializer}
    real = [i for i in g.input if i.name not in inits]
    for vi, arr in list(zip(real, ins or []))[1:]:
        g.initializer.append(numpy_helper.from_array(arr, vi.name))
        g.input.remove(vi)
    onnx.save(m, p("m.onnx"))
    for f in ("m.dct", "y.npy"):
        if os.path.exists(p(f)):
            os.remove(p(f))
    r = run("import", p("m.onnx"), "-o", p("m.dct"))
    if r.returncode:
        one = r.returncode == 1 and r.stderr.count("\n") == 1 and not os.path.exists(p("m.dct"))
        return ("refused" if one else "wrong"), r.stderr.strip()
    if not ins:
        return "wrong", "imported a case whose data dcc cannot read"
    np.save(p("x.npy"), ins[0])
    args = ["run", p("m.dct"), "--input", p("x.npy"), "-o", p("y.npy")]
    r = run(*args + (["--probs"] if g.node[-1].op_type == "Softmax" else []))
    if r.returncode:
        one = r.returncode == 1 and r.stderr.count("\n") == 1 and not os.path.exists(p("y.npy"))
        return ("refused" if one else "wrong"), r.stderr.strip()
    y, want = np.load(p("y.npy")), outs[0].reshape(ins[0].shape[0], -1)
    if y.shape != want.shape or not np.allclose(y, want, rtol=1e-3, atol=1e-7):
        return "wrong", "outputs %s, expected %s, max diff %s" % (
            y.shape, want.shape, np.abs(y - want).max() if y.shape == want.shape else None)
    return "pass", "max diff %g" % np.abs(y - want).max()


npass = 0
for case in cases:
    if case not in table:
        continue
    want, why = table[case]
    got, what = attempt(case)
    npass += got == "pass"
    check(got == want and (why or want == "pass"), "%s: the table says %s (%s), dcc: %s (%s)" % (case, want, why, got, what))
print("node tests: %d cases, %d pass, %d refused in one line" % (len(cases), npass, len(cases) - npass))
finish("test_onnx_nodes")
