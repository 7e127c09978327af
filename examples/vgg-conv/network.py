#!/usr/bin/python3
"""network.py DCC: the whole VGG16-SVD network of Qiu et al. (FPGA'16) on
dcc's machine at 150 MHz with 4.2 GB/s of DRAM: the thirteen convolutions
on the convolver engine (16 PEs x 4 convolvers of 3x3, 16-bit), fc6
factored to rank 500 as the paper does (25088x4096 -> 25088x500 and
500x4096), fc6-fc8 on the 64-PE sparse array (where dcc's compiler puts
fc layers), dense.  Synthetic layers of the published shapes.  Frames per
second, GOP/s overall and on the convolutions, energy per frame (45nm),
beside the paper's 4.45 fps, 137.0 GOP/s overall and 187.8 GOP/s on the
convolutions.  Differences: the PE array streams a dense weight as one
byte (a 4-bit shared value and a 4-bit index), where Qiu et al. stream
16-bit weights, so dcc's fc layers move half the bytes; the ops counted are
the network's (2 a MAC), with fc6 at its factored size."""
import json
import subprocess
import sys

DCC = sys.argv[1]
CLK = ["--freq", "150", "--dram-gbps", "4.2", "--energy", "45nm", "--json"]
CONV = [(3, 224, 64), (64, 224, 64), (64, 112, 128), (128, 112, 128), (128, 56, 256), (256, 56, 256),
        (256, 56, 256), (256, 28, 512), (512, 28, 512), (512, 28, 512), (512, 14, 512), (512, 14, 512),
        (512, 14, 512)]
FC = [("fc6a", 500, 25088), ("fc6b", 4096, 500), ("fc7", 4096, 4096), ("fc8", 1000, 4096)]


def emu(*args):
    return json.loads(subprocess.run([DCC, "emu", *args, *CLK], capture_output=True, text=True, check=True).stdout)


conv_s = conv_ops = fc_s = fc_ops = uj = 0.0
for c, hw, m in CONV:
    d = emu("--synthetic-conv", "%d,%d,%d,%d,3,1,1" % (c, hw, hw, m), "--conv-pes", "16", "--convolvers", "4")
    conv_s += d["us"] * 1e-6
    conv_ops += 2 * d["macs"]
    uj += d["energy"]["energy_uj"]
print("  %-6s %11s %9s %9s %9s %8s" % ("layer", "size", "us", "GOP/s", "uJ", "bound"))
for name, rows, cols in FC:
    d = emu("--synthetic", "%dx%d" % (rows, cols), "--weight-density", "1", "--act-density", "1", "--pes", "64")
    fc_s += d["us"] * 1e-6
    fc_ops += 2 * d["macs"]
    uj += d["energy"]["energy_uj"]
    print("  %-6s %11s %9.1f %9.1f %9.1f %8s" % (name, "%dx%d" % (rows, cols), d["us"], d["gops"],
                                                d["energy"]["energy_uj"], d["bound"]))
t = conv_s + fc_s
print("  convolutions: %.1f ms, %.1f GOP/s (the paper: 187.8)" % (conv_s * 1e3, conv_ops / conv_s / 1e9))
print("  fc6 (rank 500), fc7, fc8: %.2f ms" % (fc_s * 1e3))
print("  the network: %.2f frames/s (the paper: 4.45), %.1f GOP/s overall (the paper: 137.0), %.1f mJ a frame (45nm)"
      % (1 / t, (conv_ops + fc_ops) / t / 1e9, uj * 1e-3))
