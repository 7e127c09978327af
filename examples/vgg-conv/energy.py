#!/usr/bin/python3
"""energy.py DCC: the energy of VGG-16's thirteen convolutions on the
convolver engine (the configuration of this example's Makefile), priced
with the 45nm table: per layer and in total, and the share spent on DRAM.
Qiu et al. (FPGA'16) report the power of their whole board (a Zynq
XC7Z045: 9.63 W with its ARM cores and DDR3), which an ASIC-style energy
table cannot be set beside; the DRAM share is the comparable quantity
(their paper argues the convolutions are compute-bound, the fc layers
memory-bound)."""
import json
import subprocess
import sys

DCC = sys.argv[1]
ENGINE = ["--conv-pes", "16", "--convolvers", "4", "--conv-k", "3", "--conv-buf-kb", "32", "--freq", "150",
          "--dram-gbps", "4.2", "--energy", "45nm", "--json"]
LAYERS = [("conv1_1", "3,224,224,64"), ("conv1_2", "64,224,224,64"), ("conv2_1", "64,112,112,128"),
          ("conv2_2", "128,112,112,128"), ("conv3_1", "128,56,56,256"), ("conv3_2", "256,56,56,256"),
          ("conv3_3", "256,56,56,256"), ("conv4_1", "256,28,28,512"), ("conv4_2", "512,28,28,512"),
          ("conv4_3", "512,28,28,512"), ("conv5_1", "512,14,14,512"), ("conv5_2", "512,14,14,512"),
          ("conv5_3", "512,14,14,512")]
print("  %-8s %10s %10s %9s %8s %10s" % ("layer", "energy mJ", "power mW", "DRAM", "pJ/op", "GOP/s/W"))
tot, dram, ops, secs = 0.0, 0.0, 0.0, 0.0
for name, shape in LAYERS:
    d = json.loads(subprocess.run([DCC, "emu", "--synthetic-conv", shape + ",3,1,1", *ENGINE], capture_output=True,
                                  text=True, check=True).stdout)
    e = d["energy"]
    tot += e["energy_uj"]
    dram += e["events_pj"]["dram_byte"] * 1e-6
    ops += 2 * d["macs"]
    secs += d["us"] * 1e-6
    print("  %-8s %10.3f %10.1f %8.1f%% %8.2f %10.1f" % (name, e["energy_uj"] * 1e-3, e["power_mw"],
                                                        100 * e["breakdown"]["DRAM"], e["pj_per_op"], e["gops_per_w"]))
print("  all 13: %.2f mJ an image, %.0f mW at 150 MHz, %.1f%% on DRAM, %.1f GOP/s/W" %
      (tot * 1e-3, tot * 1e-6 / secs * 1e3, 100 * dram / tot, ops / (tot * 1e-6) / 1e9))
