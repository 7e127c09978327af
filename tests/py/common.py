"""common.py: what every tests/py file shares: the dcc binary under test,
the default data set, check() counting results, the dcc runners, a work
directory and a small 3-channel data set, and the closing line tests/run.sh adds up.  Debian's Python packages are
/usr/bin/python3's; run.sh runs the tests with it."""
import os
import subprocess
import sys

DCC = os.environ["DCC"]
DATA = "/usr/share/datasets/fashion-mnist/"
counts = {"passed": 0, "failed": 0}


def check(cond, what):
    """One check: counted, and its description printed when it fails."""
    if cond:
        counts["passed"] += 1
    else:
        counts["failed"] += 1
        print("FAILED:", what, file=sys.stderr)


def run(*args):
    """dcc with these arguments: the CompletedProcess (text output)."""
    return subprocess.run([DCC, *args], capture_output=True, text=True)


def dcc(*args):
    """dcc with these arguments: its exit status; stderr shown on failure."""
    r = run(*args)
    if r.returncode:
        print("dcc", *args, "->", r.returncode, r.stderr, file=sys.stderr)
    return r.returncode


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def ort_run(model, x_npy, out_npy):
    """ONNX Runtime (tools/deps.sh installs it under build/ort) on model and
    the float32 batch in x_npy: its first output, or None (the error shown)."""
    import numpy as np
    env = dict(os.environ, NODE_PATH=os.path.join(ROOT, "build", "ort", "node_modules"))
    r = subprocess.run(["node", os.path.join(ROOT, "tools", "ort_run.js"), model, x_npy, out_npy], capture_output=True,
                       text=True, env=env)
    if r.returncode:
        print("ort_run", model, "->", r.returncode, r.stderr, file=sys.stderr)
        return None
    return np.load(out_npy)


def pipeline(tag, steps):
    """dcc on each argument list in turn, stopping at the first failure
    (shown with tag): whether all succeeded."""
    for st in steps:
        r = run(*st)
        if r.returncode:
            print(tag, "dcc", st[0], "failed:", r.stderr, file=sys.stderr)
            return False
    return True


def to_emulator(src, data, p, pes, count):
    """The stages from a float model to the emulator, as pipeline() runs
    them: prune 70%, share 4 bits with a zero entry (what the PE array
    reads), 16-bit fixed point, a blob for pes PEs, compile, the emulator's
    logits on count samples (p("emu.npy")) and the integer reference's
    (p("ref.npy")); p names a file in the test's directory."""
    return [["prune", src, "--sparsity", "0.7", "--data", data, "-o", p("e_p.dct")],
            ["share", p("e_p.dct"), "--bits", "4", "--zero", "--data", data, "-o", p("e_s.dct")],
            ["fixed", p("e_s.dct"), "--data", data, "--calib", "16", "-o", p("e_f.dct")],
            ["encode", p("e_f.dct"), "--layout", "eie", "--pes", str(pes), "-o", p("e.dcb")],
            ["compile", p("e.dcb"), "-o", p("e.dci")],
            ["emu", p("e.dcb"), p("e.dci"), "--data", data, "--count", str(count), "--logits", p("emu.npy")],
            ["eval", "--fixed", p("e_f.dct"), "--data", data, "--logits", p("ref.npy")]]


def workdir(prefix, seed):
    """A fresh directory for a test's files and p(name) naming one in it;
    PyTorch seeded and on one thread, so its references repeat."""
    import tempfile
    import torch
    d = tempfile.mkdtemp(prefix="dcc-%s-" % prefix)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    return lambda name: os.path.join(d, name)


def four_classes(p, seed, hw):
    """A small 3-channel data set of 160 hw x hw images in [0, 1), its four
    classes from channel means (so training has something to find): 128 to
    train, 32 to test, written as p("d.npz"), the test images alone as
    p("x.npy"); returns every image."""
    import numpy as np
    X = np.random.default_rng(seed).random((160, 3, hw, hw)).astype(np.float32)
    Y = (X[:, 0].mean((1, 2)) > X[:, 1].mean((1, 2))).astype(np.int64) + 2 * (X[:, 2, :4].mean((1, 2)) > 0.5)
    np.savez(p("d.npz"), x_train=X[:128], y_train=Y[:128], x_test=X[128:], y_test=Y[128:])
    np.save(p("x.npy"), X[128:])
    return X


def export_round_trip(p, dct, got, what="", back=True):
    """dcc export of dct to ONNX, checked two ways: ONNX Runtime gives got
    (dcc's logits on p("x.npy")) within 1e-5, and (back) the export imports
    into dcc again and gives got exactly."""
    import numpy as np
    r = run("export", dct, "-o", p("back.onnx"))
    ort = ort_run(p("back.onnx"), p("x.npy"), p("ort.npy")) if r.returncode == 0 else None
    check(ort is not None and got is not None and np.abs(ort - got).max() < 1e-5,
          "ONNX Runtime gives dcc's logits from its export%s %s" % (what, r.stderr))
    if not back:
        return
    r = run("import", p("back.onnx"), "-o", p("back.dct"))
    r2 = run("run", p("back.dct"), "--input", p("x.npy"), "-o", p("y2.npy")) if r.returncode == 0 else r
    check(r2.returncode == 0 and np.array_equal(np.load(p("y2.npy")), got), "the export imports back: " + r.stderr + r2.stderr)


def strict_diff(net, sd_npz, x, want):
    """The state_dict in sd_npz (dcc export's) loaded strict into net, a
    fresh PyTorch module: the largest difference of its outputs on x from
    want, or the error's text when it does not load or run."""
    import numpy as np
    import torch
    try:
        net.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(sd_npz).items()}, strict=True)
        with torch.no_grad():
            return float(np.abs(net(torch.from_numpy(x)).numpy().reshape(want.shape) - want).max())
    except Exception as e:  # noqa: BLE001
        return str(e)[:300]


def finish(name):
    """The closing line run.sh counts, and the exit status."""
    print("%s: %d passed, %d failed" % (name, counts["passed"], counts["failed"]))
    sys.exit(1 if counts["failed"] else 0)
