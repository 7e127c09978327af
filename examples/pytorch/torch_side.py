#!/usr/bin/python3
"""torch_side.py save OUT.npz | load IN.npz: the PyTorch user's side of the
round trip.  `save` trains LeNet-300-100 for one epoch in PyTorch and saves
its state_dict as .npz; `load` loads dcc's exported (compressed) weights
back with load_state_dict(strict=True) and prints the test accuracy PyTorch
measures.  Uses Debian's python3-torch; without it, says so and exits 0."""
import gzip
import sys

try:
    import numpy as np
    import torch
    from torch import nn
except ImportError:
    print("python3-torch is not installed: skipping the PyTorch side (apt-get install python3-torch)")
    sys.exit(0)

D = sys.argv[3] if len(sys.argv) > 3 else "/usr/share/datasets/fashion-mnist"


def idx(name, off, shape):
    return np.frombuffer(gzip.open("%s/%s.gz" % (D, name)).read()[off:], np.uint8).reshape(shape)


class LeNet300(nn.Module):  # dcc's lenet300: the same names and layouts
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 300), nn.Linear(300, 100), nn.Linear(100, 10)

    def forward(self, x):
        x = torch.relu(self.fc1(x.flatten(1)))
        return self.fc3(torch.relu(self.fc2(x)))


torch.manual_seed(0)
net = LeNet300()
if sys.argv[1] == "save":
    x = torch.from_numpy(idx("train-images-idx3-ubyte", 16, (-1, 784)).astype(np.float32) / 255)
    y = torch.from_numpy(idx("train-labels-idx1-ubyte", 8, (-1,)).astype(np.int64))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    for i in range(0, len(x), 64):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x[i:i + 64]), y[i:i + 64]).backward()
        opt.step()
    np.savez(sys.argv[2], **{k: v.detach().numpy() for k, v in net.state_dict().items()})
    print("saved PyTorch's state_dict to", sys.argv[2])
else:
    sd = {k: torch.from_numpy(v) for k, v in np.load(sys.argv[2]).items()}
    net.load_state_dict(sd, strict=True)
    x = torch.from_numpy(idx("t10k-images-idx3-ubyte", 16, (-1, 784)).astype(np.float32) / 255)
    y = torch.from_numpy(idx("t10k-labels-idx1-ubyte", 8, (-1,)).astype(np.int64))
    with torch.no_grad():
        acc = (net(x).argmax(1) == y).float().mean().item()
    zeros = sum(int((v == 0).sum()) for k, v in sd.items() if k.endswith("weight"))
    total = sum(v.numel() for k, v in sd.items() if k.endswith("weight"))
    print("PyTorch loaded %s (load_state_dict, strict): test accuracy %.2f%%, %.1f%% of weights zero, %d distinct "
          "fc1 values" % (sys.argv[2], 100 * acc, 100 * zeros / total, len(torch.unique(sd["fc1.weight"]))))
