#!/usr/bin/python3
"""torch_epoch.py NET THREADS: one training epoch of NET in PyTorch (CPU, batch
64, SGD momentum 0.9), the peer of `dcc train --epochs 1`; prints seconds.
NET is lenet300, lenet5, lstm or a resnet:/mobilenet: spec (the same net,
tests/py/zoo_torch.py)."""
import gzip
import os
import sys
import time

import numpy as np
import torch
from torch import nn

net, threads = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(1)
D = "/usr/share/datasets/fashion-mnist/"
x = np.frombuffer(gzip.open(D + "train-images-idx3-ubyte.gz").read()[16:], np.uint8).reshape(-1, 1, 28, 28)
y = np.frombuffer(gzip.open(D + "train-labels-idx1-ubyte.gz").read()[8:], np.uint8)
X = torch.from_numpy(x.astype(np.float32) / 255)
Y = torch.from_numpy(y.astype(np.int64))

if net == "lenet300":
    m = nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
elif net == "lenet5":
    m = nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))
elif ":" in net:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "py"))
    from zoo_torch import from_spec
    m = from_spec(net)
else:
    class R(nn.Module):
        def __init__(s):
            super().__init__()
            s.lstm, s.fc = nn.LSTM(28, 128, batch_first=True), nn.Linear(128, 10)

        def forward(s, x):
            return s.fc(s.lstm(x.reshape(len(x), 28, 28))[0][:, -1])
    m = R()
opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
perm = torch.randperm(len(X))
t = time.perf_counter()
for i in range(0, len(X), 64):
    idx = perm[i:i + 64]
    opt.zero_grad()
    loss = nn.functional.cross_entropy(m(X[idx]), Y[idx])
    loss.backward()
    opt.step()
train_s = time.perf_counter() - t
xt = np.frombuffer(gzip.open(D + "t10k-images-idx3-ubyte.gz").read()[16:], np.uint8).reshape(-1, 1, 28, 28)
Xt = torch.from_numpy(xt.astype(np.float32) / 255)
t = time.perf_counter()
m.eval()
with torch.no_grad():
    for i in range(0, len(Xt), 256):
        m(Xt[i:i + 256])
eval_s = time.perf_counter() - t
print("%.3f %.0f" % (train_s, len(Xt) / eval_s))
