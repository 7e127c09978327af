#!/usr/bin/python3
"""test_nn_numpy.py: dcc's float forward pass against an independent NumPy
forward pass (and PyTorch's, when python3-torch is installed) on weights
exported by `dcc export`, for lenet300, lenet5 and the row LSTM: logits agree
within 1e-4.  Also `dcc import --net` of those weights evaluates the same."""
import gzip
import os
import sys
import tempfile

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DATA, check, dcc, finish  # noqa: E402

N = 300


def images():
    raw = gzip.open(DATA + "t10k-images-idx3-ubyte.gz").read()
    return np.frombuffer(raw[16:], np.uint8).reshape(-1, 1, 28, 28)[:N].astype(np.float32) / 255


def conv(x, w, b):
    win = sliding_window_view(x, w.shape[2:], axis=(2, 3))  # (N, C, Ho, Wo, K, K)
    return np.einsum("nchwij,ocij->nohw", win, w, optimize=True) + b[None, :, None, None]


def pool2(x):
    n, c, h, w = x.shape
    return x[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward(net, p, x):
    x = x.astype(np.float64)
    p = {k: v.astype(np.float64) for k, v in p.items()}
    if net == "lenet300":
        h = x.reshape(len(x), -1)
        h = np.maximum(h @ p["fc1.weight"].T + p["fc1.bias"], 0)
        h = np.maximum(h @ p["fc2.weight"].T + p["fc2.bias"], 0)
        return h @ p["fc3.weight"].T + p["fc3.bias"]
    if net == "lenet5":
        h = pool2(conv(x, p["conv1.weight"], p["conv1.bias"]))
        h = pool2(conv(h, p["conv2.weight"], p["conv2.bias"]))
        h = np.maximum(h.reshape(len(x), -1) @ p["fc1.weight"].T + p["fc1.bias"], 0)
        return h @ p["fc2.weight"].T + p["fc2.bias"]
    if net == "lstm":
        H = p["lstm.weight_hh_l0"].shape[1]
        h = np.zeros((len(x), H))
        c = np.zeros((len(x), H))
        seq = x.reshape(len(x), 28, 28)
        for t in range(28):
            z = seq[:, t] @ p["lstm.weight_ih_l0"].T + p["lstm.bias_ih_l0"] + h @ p["lstm.weight_hh_l0"].T + p["lstm.bias_hh_l0"]
            i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sigmoid(z[:, 3 * H:])
            c = f * c + i * g
            h = o * np.tanh(c)
        return h @ p["fc.weight"].T + p["fc.bias"]


def torch_forward(net, path, x):
    import torch
    from torch import nn

    class L300(nn.Module):
        def __init__(s):
            super().__init__()
            s.fc1, s.fc2, s.fc3 = nn.Linear(784, 300), nn.Linear(300, 100), nn.Linear(100, 10)

        def forward(s, x):
            return s.fc3(torch.relu(s.fc2(torch.relu(s.fc1(x.flatten(1))))))

    class L5(nn.Module):
        def __init__(s):
            super().__init__()
            s.conv1, s.conv2 = nn.Conv2d(1, 20, 5), nn.Conv2d(20, 50, 5)
            s.fc1, s.fc2 = nn.Linear(800, 500), nn.Linear(500, 10)

        def forward(s, x):
            x = nn.functional.max_pool2d(s.conv2(nn.functional.max_pool2d(s.conv1(x), 2)), 2)
            return s.fc2(torch.relu(s.fc1(x.flatten(1))))

    class R(nn.Module):
        def __init__(s):
            super().__init__()
            s.lstm, s.fc = nn.LSTM(28, 128, batch_first=True), nn.Linear(128, 10)

        def forward(s, x):
            out, _ = s.lstm(x.reshape(len(x), 28, 28))
            return s.fc(out[:, -1])

    m = {"lenet300": L300, "lenet5": L5, "lstm": R}[net]()
    sd = {k: torch.from_numpy(v) for k, v in np.load(path).items()}
    m.load_state_dict(sd, strict=True)
    with torch.no_grad():
        return m(torch.from_numpy(x)).numpy()


import torch  # noqa: E402,F401  (python3-torch: a test dependency, always run)
have_torch = True

os.chdir(tempfile.mkdtemp())
x = images()
for net in ["lenet300", "lenet5", "lstm"]:
    check(dcc("train", "--net", net, "--limit", "1000", "--epochs", "1", "-o", net + ".dct") == 0, "train " + net)
    check(dcc("eval", "--limit", str(N), "--logits", net + ".npy", net + ".dct") == 0, "eval " + net)
    check(dcc("export", net + ".dct", "-o", net + ".npz") == 0, "export " + net)
    got = np.load(net + ".npy")
    params = dict(np.load(net + ".npz"))
    want = forward(net, params, x)
    err = np.abs(got - want).max()
    check(got.shape == (N, 10) and got.dtype == np.float32, "logits shape " + net)
    check(err < 1e-4, "%s: dcc vs numpy max |diff| %.2e" % (net, err))
    if have_torch:
        t = torch_forward(net, net + ".npz", x)
        check(np.abs(got - t).max() < 1e-4, "%s: dcc vs pytorch max |diff| %.2e" % (net, np.abs(got - t).max()))
    # The same weights brought back as a PyTorch user would.
    check(dcc("import", "--net", net, net + ".npz", "-o", net + "2.dct") == 0, "import --net " + net)
    check(dcc("eval", "--limit", str(N), "--logits", net + "2.npy", net + "2.dct") == 0, "eval imported " + net)
    check(np.array_equal(np.load(net + "2.npy"), got), "import --net %s evaluates identically" % net)

finish("test_nn_numpy")
