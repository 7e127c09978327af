#!/usr/bin/python3
"""test_dag.py: graphs with branches.  torchvision's resnet18, mobilenet_v2,
squeezenet1_1, mobilenet_v3_small (squeeze-excitation gates) and
shufflenet_v2_x0_5 (channel slices and shuffles) (num_classes=10, eval
mode, seeded random weights, their BatchNorm statistics drawn away from the
identity so the logits are not tiny), exported by torch.onnx.export at
3x32x32 with opset 13 (constants folded: BN already in the convolutions)
and opset 17 (do_constant_folding off and BN kept as nodes: dcc keeps them
as batchnorm layers under their state_dict names), import into dcc; its
float logits equal PyTorch's and ONNX Runtime's (1e-4) on 100 inputs; the
BN graphs' state_dict loads strict into torchvision and gives dcc's logits,
and dcc fold keeps them (1e-5); the graphs go through prune, share and
retraining in float, and export back to ONNX (onnx.checker, and ONNX
Runtime gives dcc's logits) and into 16-bit fixed point (the integer
reference close to float) and a blob; and all five run on the emulator
bit-exact with the integer reference."""
import json
import os
import sys
import tempfile

import numpy as np
import onnx
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import check, finish, ort_run, pipeline, run, strict_diff, to_emulator  # noqa: E402

N = 100
tmp = tempfile.mkdtemp(prefix="dcc-dag-")
p = lambda name: os.path.join(tmp, name)
rng = np.random.default_rng(1)
X = rng.standard_normal((N, 3, 32, 32)).astype(np.float32)
np.save(p("x.npy"), X)


def model(name):
    """the torchvision model, seeded, its BatchNorms' statistics and affine drawn at random"""
    torch.manual_seed(0)
    m = getattr(torchvision.models, name)(num_classes=10)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2), mod.running_var.uniform_(0.5, 2)
            mod.weight.data.uniform_(0.5, 1.5), mod.bias.data.uniform_(-0.2, 0.2)
        if name in ("mobilenet_v3_small", "shufflenet_v2_x0_5") and isinstance(mod, torch.nn.Linear):
            mod.weight.data.uniform_(-0.3, 0.3)  # small classifier weights: tiny logits
    return m.eval()


def export(m, path, opset, fold):
    kw = {} if fold else {"do_constant_folding": False, "training": torch.onnx.TrainingMode.PRESERVE}
    torch.onnx.export(m, torch.zeros(1, 3, 32, 32), path, opset_version=opset, input_names=["x"],
                      output_names=["logits"], dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}}, **kw)


ops_seen = set()
for name in ("resnet18", "mobilenet_v2", "squeezenet1_1", "mobilenet_v3_small", "shufflenet_v2_x0_5"):
    m = model(name)
    with torch.no_grad():
        want = m(torch.from_numpy(X)).numpy()
    check(np.abs(want).max() > 0.1, "%s: logits of a useful size (%g)" % (name, np.abs(want).max()))
    for opset, fold in ((13, True), (17, False)):
        tag = "%s opset %d%s" % (name, opset, "" if fold else " no folding")
        onx, dct = p("%s_%d.onnx" % (name, opset)), p("%s_%d.dct" % (name, opset))
        export(m, onx, opset, fold)
        g = onnx.load(onx).graph
        ops_seen |= {n.op_type for n in g.node}
        if not fold and name != "squeezenet1_1":  # squeezenet has no BatchNorm
            check(any(n.op_type == "BatchNormalization" for n in g.node), tag + ": BN kept as nodes")
        r = run("import", onx, "-o", dct)
        check(r.returncode == 0, "%s: import: %s" % (tag, r.stderr))
        if r.returncode:
            continue
        r = run("run", dct, "--input", p("x.npy"), "-o", p("y.npy"))
        got = np.load(p("y.npy")) if r.returncode == 0 else None
        ort = ort_run(onx, p("x.npy"), p("ort.npy"))
        check(got is not None and got.shape == want.shape and np.abs(got - want).max() < 1e-4,
              "%s: dcc = PyTorch (max diff %s) %s" % (tag, None if got is None else np.abs(got - want).max(), r.stderr))
        check(got is not None and ort is not None and np.abs(got - ort).max() < 1e-4,
              "%s: dcc = ONNX Runtime (max diff %s)" % (tag, None if got is None or ort is None
                                                        else np.abs(got - ort).max()))
        check(got is not None and (got.argmax(1) == want.argmax(1)).mean() >= 0.99, tag + ": same predictions")
        info = run("info", dct).stdout
        r = run("export", dct, "-o", p("names.npz"))
        # torch.onnx.export's constant folding renames the weights it folds BatchNorm into: dcc says so, once
        unnamed = sum(n.op_type in ("Conv", "Gemm") and not n.input[1].endswith(".weight") for n in g.node)
        check(r.returncode == 0 and (r.stderr == "" if not unnamed else r.stderr.count("\n") == 1 and
                                     "%d layers carry dcc's names" % unnamed in r.stderr),
              "%s: %d layers without their module's name, said so: %r" % (tag, unnamed, r.stderr))
        if fold:
            continue
        # BatchNorm kept as nodes, every initializer under its state_dict name: the export loads strict into a
        # fresh torchvision model, which then gives dcc's logits
        nbn = sum(n.op_type == "BatchNormalization" for n in g.node)
        check(info.count("batchnorm ") == nbn, "%s: %d batchnorm layers in the graph" % (tag, nbn))
        r = run("export", dct, "-o", p("sd.npz"))
        err = strict_diff(getattr(torchvision.models, name)(num_classes=10).eval(), p("sd.npz"), X, got)
        check(r.returncode == 0 and not isinstance(err, str) and err < 1e-4,
              "%s: dcc's state_dict loads strict into torchvision's %s and gives dcc's logits: %s %s" %
              (tag, name, err, r.stderr))
        # folded: the same logits within 1e-5, one provenance line per fold
        r = run("fold", dct, "-o", p("fold.dct"))
        r2 = run("run", p("fold.dct"), "--input", p("x.npy"), "-o", p("yf.npy")) if r.returncode == 0 else r
        fi = run("info", p("fold.dct")).stdout
        check(r2.returncode == 0 and np.abs(np.load(p("yf.npy")) - got).max() < 1e-5 and
              fi.count("fold batchnorm=") == nbn and "batchnorm " not in fi.split("dcc.graph")[1].split("dcc.input")[0],
              "%s: %d batchnorms folded, logits within 1e-5 (%s) %s" %
              (tag, nbn, np.abs(np.load(p("yf.npy")) - got).max() if r2.returncode == 0 else None, r.stderr))
        # and back to ONNX with its BatchNormalization nodes
        r = run("export", dct, "-o", p("bnback.onnx"))
        ort = ort_run(p("bnback.onnx"), p("x.npy"), p("ort3.npy")) if r.returncode == 0 else None
        check(ort is not None and np.abs(ort - got).max() < 1e-4,
              "%s: exported with BatchNormalization nodes, ONNX Runtime gives dcc's logits %s" % (tag, r.stderr))
    check(name != "resnet18" or ("add add1 from=" in info and "maxpool2d pool1 k=3 stride=2 pad=1" in info),
          "resnet18: residual adds and the padded max pool in the graph")
    check(name != "mobilenet_v2" or ("group=" in info and "clip clip1 min=0 max=6" in info),
          "mobilenet_v2: depthwise convolutions and ReLU6 in the graph")
    check(name != "squeezenet1_1" or ("concat cat1 from=" in info and "ceil=1" in info),
          "squeezenet1_1: concatenations and ceil_mode pools in the graph")
    check(name != "mobilenet_v3_small" or (info.count("mul mul") == 9 and "hardswish " in info),
          "mobilenet_v3_small: nine squeeze-excitation gates (mul) and hardswish in the graph")
    check(name != "shufflenet_v2_x0_5" or (info.count("shuffle shuffle") == 16 and info.count("slice slice") == 26),
          "shufflenet_v2_x0_5: 16 channel shuffles and 26 channel slices (chunk) in the graph")

check({"Add", "Concat", "Clip", "MaxPool", "GlobalAveragePool", "Conv", "Gemm", "Slice", "Transpose"} <= ops_seen,
      "the networks use the operators dcc claims: %s" % sorted(ops_seen))

# densenet121: concatenations of up to 25 values (and of one), each transition's Pad of nothing before its
# AvgPool; most of its BatchNorms come before their convolutions (after a concat)
m = model("densenet121")
with torch.no_grad():
    want = m(torch.from_numpy(X[:20])).numpy()
export(m, p("densenet.onnx"), 13, True)
np.save(p("x20.npy"), X[:20])
r = run("import", p("densenet.onnx"), "-o", p("densenet.dct"))
r2 = run("run", p("densenet.dct"), "--input", p("x20.npy"), "-o", p("yd.npy")) if r.returncode == 0 else r
got = np.load(p("yd.npy")) if r2.returncode == 0 else None
cats = [ln for ln in run("info", p("densenet.dct")).stdout.splitlines() if ln.startswith("    concat ")]
check(got is not None and np.abs(got - want).max() < 1e-4 and np.abs(want).max() > 0.1 and
      max(ln.count(",") + 1 for ln in cats) == 25,
      "densenet121: dcc = PyTorch (%s), concats of up to 25 values %s" %
      (None if got is None else np.abs(got - want).max(), r.stderr + r2.stderr))
# fold: the export has folded the 59 batchnorms that follow convolutions; the 62 after a concat (each dense
# layer's norm1, the transitions' and norm5) become per-channel scales (depthwise 1x1 conv2d), the logits kept
r = run("fold", p("densenet.dct"), "-o", p("densenet_f.dct"))
r2 = run("run", p("densenet_f.dct"), "--input", p("x20.npy"), "-o", p("ydf.npy")) if r.returncode == 0 else r
prov = run("info", p("densenet_f.dct")).stdout if r.returncode == 0 else ""
fd = np.load(p("ydf.npy")) if r2.returncode == 0 else None
check(fd is not None and got is not None and np.abs(fd - got).max() < 1e-4 and
      prov.count("as=depthwise") == 62 and prov.count("fold batchnorm=") == 62 and "    batchnorm " not in prov,
      "densenet121: its 62 batchnorms made per-channel scales, the logits kept (%s) %s" %
      (None if fd is None or got is None else np.abs(fd - got).max(), r.stderr + r2.stderr))

# dcc train keeps a batchnorm's running statistics as PyTorch does: after one step on one batch of 64 (--threads 2:
# a network with batchnorm still normalises each batch whole), running_mean and running_var equal PyTorch's after
# one forward pass in training mode, momentum 0.1, the variance unbiased; a bias-free nn.Linear exported without
# constant folding (MatMul of a Transpose of its weight) comes in too
torch.manual_seed(3)
tiny = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1, bias=False), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                           torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 8, bias=False), torch.nn.BatchNorm1d(8),
                           torch.nn.Linear(8, 10)).eval()
torch.onnx.export(tiny, torch.zeros(1, 3, 8, 8), p("tiny.onnx"), opset_version=13, do_constant_folding=False,
                  training=torch.onnx.TrainingMode.PRESERVE, input_names=["x"], dynamic_axes={"x": {0: "N"}})
xb = rng.standard_normal((64, 3, 8, 8)).astype(np.float32) * 2 + 0.5
np.savez(p("tiny.npz"), x_train=xb, y_train=rng.integers(0, 10, 64), x_test=xb[:8], y_test=np.zeros(8, np.int64))
r = run("import", p("tiny.onnx"), "-o", p("tiny.dct"))
r2 = run("train", "--init", p("tiny.dct"), "--data", p("tiny.npz"), "--epochs", "1", "--batch", "64", "--threads", "2",
         "--lr", "0.01", "-o", p("tiny_t.dct")) if r.returncode == 0 else r
r3 = run("export", p("tiny_t.dct"), "-o", p("tiny_t.npz")) if r2.returncode == 0 else r2
tiny.train()
with torch.no_grad():
    tiny(torch.from_numpy(xb))
want = {k: v.numpy() for k, v in tiny.state_dict().items() if "running" in k}
got = dict(np.load(p("tiny_t.npz"))) if r3.returncode == 0 else {}
err = max((np.abs(got[k] - v).max() for k, v in want.items() if k in got), default=None)
rel = max((np.abs(got[k] - v).max() / np.abs(v).max() for k, v in want.items() if k in got), default=None)
check(r3.returncode == 0 and len(want) == 4 and all(k in got for k in want) and rel < 1e-5,
      "batchnorm running statistics after a training step = PyTorch's (max diff %s, relative %s) %s" %
      (err, rel, r3.stderr))

# a batchnorm net trains data-parallel with the whole batch's statistics (synchronised, as SyncBatchNorm): after
# one step on one batch, the weights of two workers equal one worker's (to float summation order), and the same
# thread count gives the same bytes
r = run("train", "--init", p("tiny.dct"), "--data", p("tiny.npz"), "--epochs", "1", "--batch", "64", "--threads", "1",
        "--lr", "0.01", "-o", p("tiny_1.dct"))
r2 = run("export", p("tiny_1.dct"), "-o", p("tiny_1.npz")) if r.returncode == 0 else r
r3 = run("train", "--init", p("tiny.dct"), "--data", p("tiny.npz"), "--epochs", "1", "--batch", "64", "--threads", "2",
         "--lr", "0.01", "-o", p("tiny_t2.dct"))
one = dict(np.load(p("tiny_1.npz"))) if r2.returncode == 0 else {}
start = dict(np.load(p("tiny_start.npz"))) if run("export", p("tiny.dct"), "-o", p("tiny_start.npz")).returncode == 0 else {}
moved = [k for k in one if k in start and np.abs(one[k] - start[k]).max() > 1e-4]
rel = max((np.abs(got[k] - v).max() / max(np.abs(v).max(), 1e-6) for k, v in one.items() if k in got), default=None)
check(len(one) == len(got) > 0 and rel is not None and rel < 1e-5 and len(moved) >= 6 and
      open(p("tiny_t.dct"), "rb").read() == open(p("tiny_t2.dct"), "rb").read(),
      "batchnorm training on 2 workers = 1 worker (relative %s; %d tensors moved) and repeatable %s" %
      (rel, len(moved), r.stderr + r3.stderr))

# one SGD step (lr 0.1, no momentum or decay, a constant schedule) on a batch of 64 equals PyTorch's: batchnorms
# followed by a ReLU and by a clip with both bounds reached (a training batchnorm applies such an activation itself),
# and one whose output is read twice (relu(c) + c: it does not)
torch.manual_seed(5)


class Fused(torch.nn.Module):
    def __init__(s):
        super().__init__()
        s.c1, s.b1 = torch.nn.Conv2d(3, 6, 3, padding=1, bias=False), torch.nn.BatchNorm2d(6)
        s.c2, s.b2 = torch.nn.Conv2d(6, 6, 3, padding=1, bias=False), torch.nn.BatchNorm2d(6)
        s.c3, s.b3 = torch.nn.Conv2d(6, 6, 1, bias=False), torch.nn.BatchNorm2d(6)
        s.fc = torch.nn.Linear(6 * 8 * 8, 10)

    def forward(s, x):
        a = torch.relu(s.b1(s.c1(x)))
        b = torch.nn.functional.hardtanh(s.b2(s.c2(a)), -0.5, 0.7)
        c = s.b3(s.c3(b))
        return s.fc((torch.relu(c) + c).flatten(1))


fm = Fused().eval()
torch.onnx.export(fm, torch.zeros(1, 3, 8, 8), p("fused.onnx"), opset_version=13, do_constant_folding=False,
                  training=torch.onnx.TrainingMode.PRESERVE, input_names=["x"], dynamic_axes={"x": {0: "N"}})
yb = rng.integers(0, 10, 64)
np.savez(p("fused.npz"), x_train=xb, y_train=yb, x_test=xb[:8], y_test=yb[:8])
r = run("import", p("fused.onnx"), "-o", p("fused.dct"))
r2 = run("train", "--init", p("fused.dct"), "--data", p("fused.npz"), "--epochs", "1", "--batch", "64", "--lr", "0.1",
         "--lr-schedule", "const", "--momentum", "0", "--weight-decay", "0", "-o", p("fused_t.dct")) \
    if r.returncode == 0 else r
r3 = run("export", p("fused_t.dct"), "-o", p("fused_t.npz")) if r2.returncode == 0 else r2
fm.train()
torch.nn.functional.cross_entropy(fm(torch.from_numpy(xb)), torch.from_numpy(yb)).backward()
torch.optim.SGD(fm.parameters(), lr=0.1).step()
want = {k: v.detach().numpy() for k, v in fm.state_dict().items() if "num_batches" not in k}
got = dict(np.load(p("fused_t.npz"))) if r3.returncode == 0 else {}
rel = max((np.abs(got[k] - v).max() / max(np.abs(v).max(), 1e-6) for k, v in want.items() if k in got), default=None)
check(len(want) == 17 and all(k in got for k in want) and rel < 1e-5,
      "one training step through batchnorm + relu / clip / a value read twice = PyTorch's (relative %s) %s" %
      (rel, r3.stderr))

# A data set labelled by resnet18 itself: the imported model is right on every sample, and pruning and sharing
# cost it measurable accuracy, evaluated in float through the residual graph.
m = model("resnet18")
Xt = rng.standard_normal((300, 3, 32, 32)).astype(np.float32)
with torch.no_grad():
    yt = m(torch.from_numpy(Xt)).argmax(1).numpy().astype(np.int64)
np.savez(p("teach.npz"), x_train=Xt[:200], y_train=yt[:200], x_test=Xt[200:], y_test=yt[200:])
base = p("resnet18_13.dct")
r = run("eval", base, "--data", p("teach.npz"))
check(r.returncode == 0 and "100.00%" in r.stdout, "resnet18 imported: its own labels at 100%: " + r.stdout + r.stderr)
r = run("prune", base, "--sparsity", "0.7", "--data", p("teach.npz"), "-o", p("rp.dct"))
check(r.returncode == 0, "prune 70% of resnet18: " + r.stderr)
r2 = run("info", p("rp.dct"))
check(r.returncode == 0 and "conv19.weight" in r2.stdout, "the pruned graph's layers listed")
r = run("share", p("rp.dct"), "--bits", "5", "--data", p("teach.npz"), "-o", p("rs.dct"))
check(r.returncode == 0, "share 5 bits: " + r.stderr)
r = run("eval", p("rs.dct"), "--data", p("teach.npz"))
acc = float(r.stdout.split("accuracy ")[1].split("%")[0]) if r.returncode == 0 and "accuracy " in r.stdout else -1
check(0 <= acc < 100, "pruned and shared resnet18 evaluated in float through the graph: %.2f%% (%s)" % (acc, r.stderr))
r = run("train", "--init", p("rp.dct"), "--data", p("teach.npz"), "--epochs", "2", "--batch", "50", "-o", p("rt.dct"))
r2 = run("eval", p("rt.dct"), "--data", p("teach.npz"))
acc2 = float(r2.stdout.split("accuracy ")[1].split("%")[0]) if r2.returncode == 0 and "accuracy " in r2.stdout else -1
r3 = run("info", p("rt.dct"))
dens = [ln.split()[-2] for ln in r3.stdout.splitlines() if ln.split()[:1] == ["conv2.weight"]]
check(r.returncode == 0 and acc2 > acc and dens == ["30.00%"],
      "retraining the pruned resnet18 through its residuals, masks kept: %.2f%% -> %.2f%%, %s %s" % (acc, acc2, dens,
                                                                                                 r.stderr))

# back to ONNX: it passes onnx.checker and ONNX Runtime gives dcc's logits, for each imported network and for the
# pruned and shared resnet18
for name in ("resnet18_13", "mobilenet_v2_13", "squeezenet1_1_13", "rs"):
    src, onx = p(name + ".dct"), p(name + "_back.onnx")
    r = run("export", src, "-o", onx)
    ok = r.returncode == 0
    try:
        onnx.checker.check_model(onnx.load(onx)) if ok else None
    except Exception as e:  # noqa: BLE001
        ok = False
        print(e, file=sys.stderr)
    r2 = run("run", src, "--input", p("x.npy"), "-o", p("yd.npy"))
    ort = ort_run(onx, p("x.npy"), p("ort2.npy")) if ok else None
    check(ok and r2.returncode == 0 and ort is not None and np.abs(ort - np.load(p("yd.npy"))).max() < 1e-4,
          "%s exported to ONNX: passes the checker, ONNX Runtime gives dcc's logits (%s) %s" %
          (name, None if ort is None else np.abs(ort - np.load(p("yd.npy"))).max(), r.stderr))

# 16-bit dynamic fixed point of the pruned, shared resnet18: formats per value (the residual adds' own, chosen on
# calibration samples as every layer's), the integer-only reference within a few points of float and close to it
# output by output; the blob encodes every weighted layer; the compiler, which runs chains only so far, says so
r = run("fixed", p("rs.dct"), "--data", p("teach.npz"), "--calib", "16", "-o", p("rf.dct"))
fx = r.stdout
r2 = run("eval", "--fixed", p("rf.dct"), "--data", p("teach.npz"))
accq = float(r2.stdout.split("accuracy ")[1].split("%")[0]) if r2.returncode == 0 and "accuracy " in r2.stdout else -1
r3 = run("compare", p("rs.dct"), p("rf.dct"), "--input", p("x.npy"))
sq = float(r3.stdout.split("SQNR ")[1].split()[0]) if r3.returncode == 0 and "SQNR " in r3.stdout else -1
check(r.returncode == 0 and "add1" in run("info", p("rf.dct")).stdout and abs(accq - acc) <= 3 and sq > 40,
      "resnet18 in 16-bit fixed point: %.2f%% (float %.2f%%), SQNR %.1f dB against float %s %s" %
      (accq, acc, sq, r.stderr, r3.stderr))
r = run("encode", p("rf.dct"), "-o", p("rf.dcb"))
check(r.returncode == 0 and "21 layers encoded" in r.stdout, "the fixed resnet18 encoded: " + r.stdout + r.stderr)
# onto the accelerator, each of the four networks: pruned 70%, 4-bit shared weights (what the PE array's codebooks
# hold), 16-bit fixed point, a blob for 64 PEs; the compiler schedules the graph (convolutions, depthwise ones
# included, on the convolver engine; residual adds as ewop addsh aligning their inputs' formats; ReLU6 as ewop clip;
# a concat as a DRAM layout; padded and ceil_mode max pools; mobilenet_v3_small's 9 squeeze-excitation gates and
# its 19 HardSwish, x HardSigmoid(x) before opset 14, as ewop mulsh; shufflenet's channel slices and shuffles as
# DRAM layouts, a load per shuffled channel; densenet121 folded, its 62 per-channel scales depthwise 1x1 convolutions
# on the convolver engine beside its 58 3x3 ones and the stem, its 61 1x1 convolutions on the PE array) and the
# emulator's logits equal dcc eval --fixed's bit for bit on 100 inputs
for name, marks in (("resnet18", {"ewop addsh": 8, "pad=1": 1}), ("mobilenet_v2", {"ewop clip": 35, "ewop addsh": 10}),
                    ("squeezenet1_1", {"ceil=1": 3}), ("mobilenet_v3_small", {"ewop mulsh": 28, "ewop hsig": 28}),
                    ("shufflenet_v2_x0_5", {"load ": 1500}), ("densenet121", {"\nconv ": 121, "spconv": 61})):
    src = p("densenet_f.dct" if name == "densenet121" else name + "_13.dct")
    steps = to_emulator(src, p("teach.npz"), p, 64, 100)
    ok = pipeline(name, steps[:-2])
    r = run(*steps[-2], "--json") if ok else None
    ok = ok and r.returncode == 0 and pipeline(name, steps[-1:])
    if ok:  # the figure README quotes
        j = json.loads(r.stdout)
        print("  %s: %.1f us per input on the emulator, %.0f of its cycles element-wise and pooling" %
              (name, j["latency_us"], sum(l["vector_cycles"] for l in j["layers"])))
    dis = run("disasm", p("e.dci")).stdout if ok else ""
    seen = {k: dis.count(k) for k in marks}
    check(ok and open(p("emu.npy"), "rb").read() == open(p("ref.npy"), "rb").read() and
          all(seen[k] >= v for k, v in marks.items()) and (name != "squeezenet1_1" or dis.count("store") >= 17),
          "%s on the emulator, bit-exact with eval --fixed on 100 inputs (%s)" % (name, seen))
    for f in ("e_p.dct", "e_s.dct", "e_f.dct", "e.dcb", "e.dci"):
        if os.path.exists(p(f)):
            os.remove(p(f))

finish("test_dag")
