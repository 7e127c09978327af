#!/usr/bin/python3
"""make_data.py OUT.npz [TRAIN TEST]: a CIFAR-shaped data set a user might
have, made from Fashion-MNIST: each image padded to 32x32 and replicated
to 3 channels with per-channel offsets and gains, float32, channels first,
as np.savez writes it (x_train, y_train, x_test, y_test)."""
import gzip
import sys

import numpy as np

DATA = "/usr/share/datasets/fashion-mnist/"
out = sys.argv[1]
ntr, nte = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (10000, 2000)


def idx(name, off, shape):
    return np.frombuffer(gzip.open(DATA + name).read()[off:], np.uint8).reshape(shape)


def rgb(x):
    f = np.pad(x.astype(np.float32) / 255, ((0, 0), (2, 2), (2, 2)))
    return np.stack([f + 0.1, 0.8 * f - 0.2, f * 0.5 + 0.3], axis=1).astype(np.float32)


np.savez(out,
         x_train=rgb(idx("train-images-idx3-ubyte.gz", 16, (-1, 28, 28))[:ntr]),
         y_train=idx("train-labels-idx1-ubyte.gz", 8, (-1,))[:ntr].astype(np.int64),
         x_test=rgb(idx("t10k-images-idx3-ubyte.gz", 16, (-1, 28, 28))[:nte]),
         y_test=idx("t10k-labels-idx1-ubyte.gz", 8, (-1,))[:nte].astype(np.int64))
