#!/usr/bin/python3
"""energy.py DCC: EIE's power and its breakdown (Han et al., ISCA 2016,
Table II: one PE, 45 nm, 800 MHz) beside what dcc's emulator reports for
EIE's nine benchmark layers with the eie-pe and 45nm energy tables, and the
sparse-matrix SRAM width study on Alex-7 (the paper's Figure 9 shows it
as a plot: reads fall with width, energy per read rises, the total is least
at 64 bits)."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eie  # noqa: E402

DCC = sys.argv[1]
TABLE2 = {m: mw for m, (mw, _) in eie.TABLE2.items()}
PE_MW = eie.PE_MW


def emu(size, wd, ad, table, *more):
    r = subprocess.run([DCC, "emu", "--synthetic", size, "--weight-density", str(wd), "--act-density", str(ad),
                        "--pes", "64", "--fifo", "8", "--energy", table, "--json", *more],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


for table in ("eie-pe", "45nm"):
    print("== %s table: power of 64 PEs at 800 MHz (EIE: %.0f mW, Table II's %.3f mW per PE x 64)" %
          (table, 64 * PE_MW, PE_MW))
    print("  %-8s %9s %9s %8s %10s" % ("layer", "uJ", "mW", "ratio", "pJ/op"))
    tot_pj, tot_s, mods = 0.0, 0.0, {m: 0.0 for m in TABLE2}
    for name, size, wd, ad, _ in eie.LAYERS:
        d = emu(size, wd, ad, table)
        e = d["energy"]
        print("  %-8s %9.3f %9.1f %7.2fx %10.2f" % (name, e["energy_uj"], e["power_mw"],
                                                    e["power_mw"] / (64 * PE_MW), e["pj_per_op"]))
        tot_pj += e["energy_uj"] * 1e6
        tot_s += d["us"] * 1e-6
        for m in mods:
            mods[m] += e["breakdown"].get(m, 0) * e["energy_uj"] * 1e6
    mw = tot_pj * 1e-12 / tot_s * 1e3
    print("  %-8s %9.3f %9.1f %7.2fx   (all nine, time-weighted)" % ("total", tot_pj * 1e-6, mw, mw / (64 * PE_MW)))
    print("  %-10s %10s %10s %8s" % ("module", "Table II", "emulated", "points"))
    for m, p in TABLE2.items():
        pub, got = 100 * p / PE_MW, 100 * mods[m] / tot_pj
        print("  %-10s %9.2f%% %9.2f%% %+8.2f" % (m, pub, got, got - pub))
# The SRAM-width study (EIE's Figure 9): reads fall with the width, a read's
# energy rises, and EIE found the total least at 64 bits.  Two things decide
# where: how a read's energy grows with its width (45nm: CACTI's shape, a
# part every read pays plus a part per bit; against it Horowitz's figures
# taken as linear in width), and when a PE's read unit serves a column from
# the word it holds (EIE's: only the next column; or any column starting in
# it).  Both rules are run by dcc: the linear one from a copy of the table.
linear = os.path.join(tempfile.mkdtemp(), "45nm-linear.energy")
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../formats/energy/45nm.energy")) as f:
    text = f.read()
if " fixed=75" not in text:
    sys.exit("energy.py: the 45nm table's spmat_read has no fixed=75 to take away")
with open(linear, "w") as f:
    f.write(text.replace(" fixed=75", ""))
WIDTHS = (32, 64, 128, 256, 512)
for reuse in ("next", "any"):
    print("== sparse-matrix SRAM width on Alex-7, --spmat-reuse %s%s" %
          (reuse, " (EIE's read unit: the default)" if reuse == "next" else " (a read unit that compares addresses)"))
    print("  %6s %10s %7s %9s %10s %12s" % ("bits", "reads", "ratio", "pJ/read", "SRAM uJ", "linear uJ"))
    reads, sram, lin = {}, {}, {}
    for w in WIDTHS:
        d = emu("4096x4096", 0.09, 0.353, "45nm", "--sram-bits", str(w), "--spmat-reuse", reuse)
        dl = emu("4096x4096", 0.09, 0.353, linear, "--sram-bits", str(w), "--spmat-reuse", reuse)
        reads[w] = d["events"]["spmat_read"]
        sram[w], lin[w] = d["energy"]["events_pj"]["spmat_read"], dl["energy"]["events_pj"]["spmat_read"]
        print("  %6d %10.0f %7s %9.1f %10.3f %12.3f" % (w, reads[w], "%.2fx" % (reads[w] / reads[w // 2]) if w > 32 else "",
                                                       sram[w] / reads[w], sram[w] * 1e-6, lin[w] * 1e-6))
    for name, tot in (("CACTI's shape (45nm)", sram), ("linear in width", lin)):
        best = min(tot, key=tot.get)
        near = sorted(tot.values())
        print("  %-22s least SRAM energy at %3d bits (%.1f%% below the next best)" %
              (name + ":", best, 100 * (1 - near[0] / near[1])))
print("  EIE's Figure 9 (CACTI, its read unit): least at 64 bits")
print("== 16-bit fixed point against 32-bit float arithmetic on Alex-7 (45nm and 45nm-float32 tables)")
fx, fl = emu("4096x4096", 0.09, 0.353, "45nm"), emu("4096x4096", 0.09, 0.353, "45nm-float32")
ar = ("codebook", "mult", "add")
a_fx, a_fl = (sum(d["energy"]["events_pj"][k] for k in ar) for d in (fx, fl))
print("  arithmetic (codebook, multiply, add): %.3f uJ fixed, %.3f uJ float: %.2fx" % (a_fx * 1e-6, a_fl * 1e-6,
                                                                                       a_fl / a_fx))
print("  whole layer: %.3f uJ fixed, %.3f uJ float: %.2fx (the SRAM reads of the 4-bit weights dominate both)" %
      (fx["energy"]["energy_uj"], fl["energy"]["energy_uj"], fl["energy"]["energy_uj"] / fx["energy"]["energy_uj"]))
# EIE, Section VI-C (Arithmetic Precision, its Figure 10, from synthesized
# RTL at 45 nm): "16-bit fixed-point multiplication consumes 5x less energy
# than 32-bit fixed-point and 6.2x less energy than 32-bit floating-point".  Horowitz publishes the 32-bit
# multiplies (int 3.1 pJ, float 3.7 pJ) but no 16-bit one; dcc's tables take
# it as 3.1 x (16/32)^2.
m_fx, m_fl = (d["energy"]["events_pj"]["mult"] / d["events"]["mult"] for d in (fx, fl))
print("  one multiply: %.3f pJ 16-bit fixed, %.3f pJ 32-bit float: %.2fx (EIE: 6.2x); 32-bit fixed 3.1 pJ: %.2fx "
      "(EIE: 5x)" % (m_fx, m_fl, m_fl / m_fx, 3.1 / m_fx))
print("  EIE's two ratios put its 16-bit multiply at %.2f and %.2f pJ, below the %.3f pJ of the square rule" %
      (m_fl / 6.2, 3.1 / 5, m_fx))
print("== operand widths on Alex-7 (45nm table; the cost model's, not the arithmetic's)")
for kind in ("act-bits=8,16,32", "weight-bits=2,4,8"):
    r = subprocess.run([DCC, "emu", "--synthetic", "4096x4096", "--weight-density", "0.09", "--act-density", "0.353",
                        "--pes", "64", "--fifo", "8", "--energy", "45nm", "--sweep", kind],
                       capture_output=True, text=True, check=True)
    print(r.stdout.rstrip("\n"))
