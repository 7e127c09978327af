#!/usr/bin/python3
"""calibrate_eie_pe.py DCC: writes formats/energy/eie-pe.energy, the energy
table calibrated to EIE's Table II (Han et al., ISCA 2016: one PE at 45 nm,
800 MHz), on stdout.  The activity is that of EIE's nine benchmark layers
(examples/eie-bench, Table IV's sizes and densities) on dcc's EIE
configuration (64 PEs, FIFO 8, 64-bit sparse-matrix SRAM), time-weighted:
each module's events per PE-second there.  Within a module the events keep
the 45nm table's relative costs; each module is scaled so that its power
at that activity is Table II's, 20.46% of it (Table II's clock-network
share) as a static energy per PE-cycle and the rest per event."""
import json
import os
import subprocess
import sys

DCC = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../examples/eie-bench"))
import eie  # noqa: E402
TABLE2, FILLER_UM2, CLOCK_SHARE = eie.TABLE2, eie.FILLER_UM2, eie.CLOCK_SHARE
FREQ, PES = 800e6, 64


def table45():
    ev, mod, opts = {}, {}, {}
    for line in open(os.path.join(HERE, "../formats/energy/45nm.energy")):
        w = line.split("#")[0].split()
        if w and w[0] == "event":
            ev[w[1]] = float(w[2])
            mod[w[1]] = w[4]
            opts[w[1]] = "".join(" " + o for o in w[5:])  # spmat_read's width rule, kept as it is
    return ev, mod, opts


pj45, mod45, opts45 = table45()
counts, seconds = {k: 0.0 for k in pj45}, 0.0
for name, size, wd, ad, _ in eie.LAYERS:
    r = subprocess.run([DCC, "emu", "--synthetic", size, "--weight-density", str(wd), "--act-density", str(ad),
                        "--pes", str(PES), "--fifo", "8", "--json"], capture_output=True, text=True, check=True)
    d = json.loads(r.stdout)
    seconds += d["us"] * 1e-6
    for k, v in d["events"].items():
        counts[k] += v
scale = {}
for m, (mw, _) in TABLE2.items():
    e45 = sum(counts[k] * pj45[k] for k in pj45 if mod45[k] == m)  # pJ over the benchmark
    want = (1 - CLOCK_SHARE) * mw * 1e-3 * PES * seconds * 1e12  # pJ of dynamic energy, all PEs
    scale[m] = want / e45
print("dcc-energy 1")
print("name eie-pe")
print("# Calibrated to EIE's Table II (Han et al., \"EIE: Efficient Inference Engine on")
print("# Compressed Deep Neural Network\", ISCA 2016): one PE at 45 nm and 800 MHz,")
print("# 9.157 mW and 638,024 um^2, by module as below.  Written by")
print("# tools/calibrate_eie_pe.py; see its description for the method.")
print("# PUBLISHED: each module's power and area (Table II) and the clock network's")
print("# 20.46% share of the power.  DCC'S ASSUMPTIONS: the activity Table II was")
print("# measured at is the nine benchmark layers' average on dcc's EIE model; the")
print("# clock share is the same in every module (static energy per PE-cycle); within")
print("# a module the events keep the 45nm table's relative costs; the convolver")
print("# engine and DRAM, which Table II does not cover, keep the 45nm figures.")
print("# Activity (events per PE per second):", ", ".join(
    "%s %.3g" % (k, counts[k] / seconds / PES) for k in sorted(counts) if counts[k]))
for m, (mw, um2) in TABLE2.items():
    print("module %-10s area_um2=%d cycle_pj=%.6g" % (m, um2, CLOCK_SHARE * mw * 1e-3 / FREQ * 1e12))
print("module filler     area_um2=%d" % FILLER_UM2)
print("module Convolver")
print("module DRAM")
for k in pj45:
    m = mod45[k]
    pj = pj45[k] * scale.get(m, 1.0)
    print("event %-12s %.6g pJ %s%s" % (k, pj, m, opts45[k]))
