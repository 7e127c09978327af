#!/usr/bin/python3
"""torch_onnx.py export OUT.onnx | check IN.npz IN.onnx: a custom network
defined in PyTorch goes to dcc as ONNX and comes back.  `export` trains a
784-256-128-10 MLP for one epoch and writes it with torch.onnx.export;
`check` loads dcc's compressed weights back (load_state_dict, strict) and
compares PyTorch's accuracy with the exported ONNX graph's weights.  Needs
Debian's python3-torch; without it, says so and exits 0."""
import gzip
import sys

try:
    import numpy as np
    import torch
    from torch import nn
except ImportError:
    print("python3-torch is not installed: skipping (apt-get install python3-torch)")
    sys.exit(0)

D = sys.argv[3] if sys.argv[1] == "export" and len(sys.argv) > 3 else "/usr/share/datasets/fashion-mnist"


def idx(name, off, shape):
    return np.frombuffer(gzip.open("%s/%s.gz" % (D, name)).read()[off:], np.uint8).reshape(shape)


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden1, self.hidden2, self.out = nn.Linear(784, 256), nn.Linear(256, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = torch.relu(self.hidden1(torch.flatten(x, 1)))
        return self.out(torch.relu(self.hidden2(x)))


torch.manual_seed(0)
net = Custom()
if sys.argv[1] == "export":
    x = torch.from_numpy(idx("train-images-idx3-ubyte", 16, (-1, 1, 28, 28)).astype(np.float32) / 255)
    y = torch.from_numpy(idx("train-labels-idx1-ubyte", 8, (-1,)).astype(np.int64))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    for i in range(0, len(x), 64):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x[i:i + 64]), y[i:i + 64]).backward()
        opt.step()
    net.eval()
    torch.onnx.export(net, torch.zeros(1, 1, 28, 28), sys.argv[2], input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=13)
    print("PyTorch exported its custom network to", sys.argv[2])
else:
    import onnx
    from onnx import numpy_helper
    sd = {k: torch.from_numpy(v) for k, v in np.load(sys.argv[2]).items()}
    net.load_state_dict(sd, strict=True)
    x = torch.from_numpy(idx("t10k-images-idx3-ubyte", 16, (-1, 1, 28, 28)).astype(np.float32) / 255)
    y = torch.from_numpy(idx("t10k-labels-idx1-ubyte", 8, (-1,)).astype(np.int64))
    with torch.no_grad():
        acc = (net(x).argmax(1) == y).float().mean().item()
    m = onnx.load(sys.argv[3])
    onnx.checker.check_model(m)
    same = all(np.array_equal(numpy_helper.to_array(t), sd[t.name].numpy()) for t in m.graph.initializer)
    print("PyTorch loaded dcc's weights (strict): test accuracy %.2f%%; the exported ONNX passes onnx.checker "
          "and holds the same weights: %s" % (100 * acc, same))
