"""zoo_torch.py: dcc's resnet:W1,...:N and mobilenet:C0,C1,...:E[:N] written
in PyTorch from their description in formats/dct.md, module for module under
the names dcc gives its layers (torchvision's), so a state_dict exported by
dcc loads strict and the bench trains the same net in both.  Defaults as
PyTorch's modules have them (dcc initialises as PyTorch does)."""
import torch
from torch import nn


def _conv_bn(cin, cout, k, stride, groups=1):
    return nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = _conv_bn(cin, cout, 3, stride)
        self.conv2, self.bn2 = _conv_bn(cout, cout, 3, 1)
        self.downsample = nn.Sequential(*_conv_bn(cin, cout, 1, stride)) if stride != 1 or cin != cout else None

    def forward(self, x):
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (self.downsample(x) if self.downsample is not None else x))


class ResNet(nn.Module):
    """resnet:W1,...,Ws:N on in_ch x H x H images"""

    def __init__(self, widths, blocks, in_ch=1, classes=10):
        super().__init__()
        self.conv1, self.bn1 = _conv_bn(in_ch, widths[0], 3, 1)
        ch = widths[0]
        for s, w in enumerate(widths):
            layers = []
            for b in range(blocks):
                layers.append(BasicBlock(ch, w, 2 if s and not b else 1))
                ch = w
            setattr(self, "layer%d" % (s + 1), nn.Sequential(*layers))
        self.nstages = len(widths)
        self.fc = nn.Linear(ch, classes)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        for s in range(self.nstages):
            x = getattr(self, "layer%d" % (s + 1))(x)
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hid = cin * expand
        layers = [nn.Sequential(*_conv_bn(cin, hid, 1, 1), nn.ReLU6())] if expand != 1 else []
        layers += [nn.Sequential(*_conv_bn(hid, hid, 3, stride, hid), nn.ReLU6()), *_conv_bn(hid, cout, 1, 1)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNet(nn.Module):
    """mobilenet:C0,C1,...,Cs:E:N on in_ch x H x H images"""

    def __init__(self, widths, expand, blocks=2, in_ch=1, classes=10):
        super().__init__()
        feats = [nn.Sequential(*_conv_bn(in_ch, widths[0], 3, 1), nn.ReLU6())]
        ch = widths[0]
        for s, w in enumerate(widths[1:], 1):
            for b in range(blocks):
                feats.append(InvertedResidual(ch, w, 2 if s > 1 and not b else 1, expand))
                ch = w
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Dropout(0.0), nn.Linear(ch, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1))


def from_spec(spec, in_ch=1, classes=10):
    """the PyTorch net of a dcc network spec (resnet:... or mobilenet:...)"""
    kind, rest = spec.split(":", 1)
    parts = rest.split(":")
    widths = [int(v) for v in parts[0].split(",")]
    if kind == "resnet":
        return ResNet(widths, int(parts[1]), in_ch, classes)
    return MobileNet(widths, int(parts[1]), int(parts[2]) if len(parts) > 2 else 2, in_ch, classes)
