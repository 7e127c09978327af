#!/usr/bin/python3
"""torch_train.py NET EPOCHS LR AUGMENT THREADS: PyTorch trains NET (a
resnet:/mobilenet: spec, tests/py/zoo_torch.py) on Fashion-MNIST with dcc
train's recipe -- batch 64, SGD momentum 0.9, weight decay 5e-4 on every
parameter, the learning rate cosine over the epochs and set before each
batch as dcc's lr_at sets it, images p / 255 -- and AUGMENT (none, flip,
crop:P or flip,crop:P) done by torchvision's RandomCrop(28, padding=P) and
RandomHorizontalFlip on every training image; prints the test accuracy and
the seconds per epoch."""
import gzip
import math
import os
import sys
import time

import numpy as np
import torch
import torchvision.transforms as T
from torch import nn

net, epochs, lr0, aug, threads = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(1)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "py"))
from zoo_torch import from_spec  # noqa: E402

D = "/usr/share/datasets/fashion-mnist/"


def load(images, labels):
    x = np.frombuffer(gzip.open(D + images).read()[16:], np.uint8).reshape(-1, 1, 28, 28)
    y = np.frombuffer(gzip.open(D + labels).read()[8:], np.uint8)
    return torch.from_numpy(x.astype(np.float32) / 255), torch.from_numpy(y.astype(np.int64))


X, Y = load("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
Xt, Yt = load("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
steps = []
for part in ([] if aug == "none" else aug.split(",")):
    if part == "flip":
        steps.append(T.RandomHorizontalFlip())
    elif part.startswith("crop:"):
        steps.insert(0, T.RandomCrop(28, padding=int(part[5:])))
    else:
        sys.exit("torch_train.py: augment '%s' is not none, flip or crop:P" % aug)
move = T.Compose(steps) if steps else None

m = from_spec(net)
opt = torch.optim.SGD(m.parameters(), lr=lr0, momentum=0.9, weight_decay=5e-4)
N, spent = len(X), 0.0
for ep in range(epochs):
    m.train()
    perm = torch.randperm(N)
    t = time.perf_counter()
    for b0 in range(0, N, 64):
        idx = perm[b0:b0 + 64]
        xb = X[idx]
        if move:
            xb = torch.stack([move(img) for img in xb])
        opt.zero_grad()
        nn.functional.cross_entropy(m(xb), Y[idx]).backward()
        for g in opt.param_groups:  # dcc's lr_at(epoch, b0 / N)
            g["lr"] = lr0 * 0.5 * (1 + math.cos(math.pi * (ep + b0 / N) / epochs))
        opt.step()
    spent += time.perf_counter() - t
    print("torch_train.py: epoch %d/%d" % (ep + 1, epochs), file=sys.stderr, flush=True)
m.eval()
with torch.no_grad():
    right = sum(int((m(Xt[i:i + 256]).argmax(1) == Yt[i:i + 256]).sum()) for i in range(0, len(Xt), 256))
print("%.4f %.1f" % (right / len(Xt), spent / max(epochs, 1)))
