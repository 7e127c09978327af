#!/usr/bin/python3
"""test_energy.py: the emulator's event counts and energy (issue 24).  A
dense 4x4 layer on two PEs counted by hand; energy = counts x table,
exactly, with a table of powers of two; every malformed table refused
with one line; counting changes no output and no cycle; the shipped
eie-pe table reproduces EIE's Table II on the nine benchmark layers (the
calibration still holds for this emulator)."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DATA, check, dcc, finish, run  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../examples/eie-bench"))
import eie  # noqa: E402  (EIE's published figures, shared with the example and the calibration)

tmp = tempfile.mkdtemp()
EVENTS = ["spmat_read", "ptr_read", "codebook", "mult", "add", "acc_rw", "queue", "act_read", "act_write",
          "conv_mult", "conv_add", "conv_in_read", "conv_w_read", "conv_out_rw", "dram_byte", "pe_cycle", "idle_cycle"]


def js(*args):
    r = run(*args, "--json")
    check(r.returncode == 0, "%s: %s" % (" ".join(args), r.stderr))
    return json.loads(r.stdout) if r.returncode == 0 else {}


# ---- hand counts: 4x4 dense weights, 4 nonzero activations, 2 PEs, 64-bit SRAM ----
d = js("emu", "--synthetic", "4x4", "--weight-density", "1", "--act-density", "1", "--pes", "2")
ev = d.get("events", {})
hand = {"spmat_read": 2,   # each PE's 8 entries (2 rows x 4 columns) are one 64-bit word
        "ptr_read": 8,     # 4 columns x 2 PEs
        "codebook": 16, "mult": 16, "add": 16, "acc_rw": 16,  # every weight nonzero
        "queue": 8,        # 4 activations into 2 FIFOs
        "act_read": 4, "act_write": 4,
        "pe_cycle": 26,    # 9 cycles (broadcasts at 1..4, 2 entries a column) + the 4-cycle pipeline, x 2
        "idle_cycle": 10}  # 26 - 16 busy
for k in EVENTS:
    check(ev.get(k) == hand.get(k, 0), "event %s: %s, by hand %s" % (k, ev.get(k), hand.get(k, 0)))
check(d.get("cycles") == 13, "cycles %s, by hand 13" % d.get("cycles"))
# half the activations: 2 of 4 columns, one each PE a column
d2 = js("emu", "--synthetic", "4x4", "--weight-density", "1", "--act-density", "0.5", "--pes", "2")
n = d2.get("nonzero_acts", 0)
check(d2["events"]["ptr_read"] == 2 * n and d2["events"]["codebook"] == 4 * n and d2["events"]["queue"] == 2 * n and
      d2["events"]["act_read"] == 4, "counts scale with the nonzero activations (%s)" % n)

# ---- a synthetic layer's inactive columns still take their room in the SRAM ----
# Alex-7 (9% weights, 35.3% activations): a 512-bit word holds 64 entries, ~9
# of a PE's columns, so nearly every word holds an active column and is read;
# a view that packed the active columns together would read ~35% of them.
# Reads fall with the width, but by less than half a doubling: a column's
# entries rarely fill a word and the next active column is seldom adjacent.
reads = {}
for w in (32, 64, 128, 256, 512):
    a7 = js("emu", "--synthetic", "4096x4096", "--weight-density", "0.09", "--act-density", "0.353", "--pes", "64",
            "--sram-bits", str(w))
    reads[w] = a7["events"]["spmat_read"]
words = a7["events"]["codebook"] * 4096 / a7["nonzero_acts"] / 64  # all the layer's entries, in 512-bit words
check(reads[512] >= 0.9 * words, "512-bit SRAM: %d reads of the %.0f words that hold the layer" % (reads[512], words))
check(all(0.52 < reads[2 * w] / reads[w] < 1 for w in (32, 64, 128, 256)),
      "reads fall with the width, by less than half a doubling: %s" % reads)

# ---- the read unit's policy: EIE's serves only the next column from the word it holds ----
# With every activation nonzero every column is the next one: the policies
# agree.  With Alex-7's 35.3% a read unit that compares addresses (any)
# also serves a column after ones it passed over, and reads less, the more
# so the wider the word.  The SRAM energy (45nm: CACTI's shape) is then least at
# 64 bits with EIE's unit, as EIE's Figure 9 has it, and at a wider width
# with the other.
for w in (64, 256):
    dn, da = (js("emu", "--synthetic", "64x256", "--weight-density", "0.3", "--act-density", "1", "--pes", "4",
                 "--sram-bits", str(w), "--spmat-reuse", r)["events"]["spmat_read"] for r in ("next", "any"))
    check(dn == da, "every column active, %d bits: next %s reads, any %s" % (w, dn, da))
energy_at = {}
for reuse in ("next", "any"):
    for w in (32, 64, 128, 256, 512):
        a7 = js("emu", "--synthetic", "4096x4096", "--weight-density", "0.09", "--act-density", "0.353", "--pes", "64",
                "--sram-bits", str(w), "--spmat-reuse", reuse, "--energy", "45nm")
        check(a7.get("spmat_reuse") == reuse, "--spmat-reuse %s reported as %s" % (reuse, a7.get("spmat_reuse")))
        energy_at[reuse, w] = (a7["events"]["spmat_read"], a7["energy"]["events_pj"]["spmat_read"])
check(all(energy_at["next", w][0] > energy_at["any", w][0] for w in (64, 128, 256, 512)) and
      energy_at["next", 64][0] == reads[64], "next reads more than any, and is the default: %s" % energy_at)
least = {r: min((w for w in (32, 64, 128, 256, 512)), key=lambda w: energy_at[r, w][1]) for r in ("next", "any")}
check(least["next"] == 64 and least["any"] > 64, "SRAM energy least at 64 bits with EIE's read unit: %s" % least)
r = run("emu", "--synthetic", "64x64", "--spmat-reuse", "some")
check(r.returncode == 2 and "--spmat-reuse" in r.stderr, "--spmat-reuse some: %d %r" % (r.returncode, r.stderr))

# ---- energy = counts x table, exactly: powers of two, static energy per PE-cycle ----
pj = {k: 2.0 ** i for i, k in enumerate(EVENTS)}
lines = ["dcc-energy 1", "name pow2", "module A area_um2=1000 cycle_pj=0.5", "module B area_um2=250"]
lines += ["event %s %g pJ %s%s" % (k, v, "A" if i % 2 else "B", " width=64 scale=1" if k == "spmat_read" else "")
          for i, (k, v) in enumerate(pj.items())]
with open(os.path.join(tmp, "pow2.energy"), "w") as f:
    f.write("\n".join(lines) + "\n")
e = js("emu", "--synthetic", "4x4", "--weight-density", "1", "--act-density", "1", "--pes", "2",
       "--energy", os.path.join(tmp, "pow2.energy"))
want = sum(hand.get(k, 0) * v for k, v in pj.items()) + 0.5 * hand["pe_cycle"]
got = e.get("energy", {}).get("energy_uj", -1) * 1e6
check(abs(got - want) < 1e-9 * want, "energy %s pJ, counts x table %s" % (got, want))
check(all(abs(e["energy"]["events_pj"][k] - hand.get(k, 0) * v) < 1e-9 for k, v in pj.items()), "energy by event")
a_share = (sum(hand.get(k, 0) * v for i, (k, v) in enumerate(pj.items()) if i % 2) + 0.5 * 26) / want
check(abs(e["energy"]["breakdown"]["A"] - a_share) < 1e-9, "breakdown by module")
s2 = js("emu", "--synthetic", "4x4", "--weight-density", "1", "--act-density", "1", "--pes", "2", "--sram-bits", "128",
        "--energy", os.path.join(tmp, "pow2.energy"))
check(abs(s2["energy"]["events_pj"]["spmat_read"] - 2 * 2 * pj["spmat_read"]) < 1e-9,
      "spmat_read at 128 bits: its energy x (128/64)^1")
# a part of the read that does not grow with the width: ((128 + 64) / (64 + 64))^1 = 1.5
with open(os.path.join(tmp, "fixed.energy"), "w") as f:
    f.write("\n".join(lines).replace("width=64 scale=1", "width=64 scale=1 fixed=64") + "\n")
s3 = js("emu", "--synthetic", "4x4", "--weight-density", "1", "--act-density", "1", "--pes", "2", "--sram-bits", "128",
        "--energy", os.path.join(tmp, "fixed.energy"))
check(abs(s3["energy"]["events_pj"]["spmat_read"] - 2 * 1.5 * pj["spmat_read"]) < 1e-9,
      "spmat_read at 128 bits, fixed=64: its energy x 1.5 (%s)" % s3["energy"]["events_pj"]["spmat_read"])
# operand widths (--act-bits, --weight-bits): the cost model's, not the arithmetic's
wl = [l.replace("event mult 8 pJ A", "event mult 8 pJ A width=16 scale=2")
       .replace("event add 16 pJ B", "event add 16 pJ B width=32 scale=1")
       .replace("event queue 64 pJ B", "event queue 64 pJ B width=32 scale=1") for l in lines]
with open(os.path.join(tmp, "widths.energy"), "w") as f:
    f.write("\n".join(wl) + "\n")
for abits, fm, fa, fq in ((32, 4, 2, 1.5), (8, 0.25, 0.5, 0.75)):
    sw = js("emu", "--synthetic", "4x4", "--weight-density", "1", "--act-density", "1", "--pes", "2", "--act-bits",
            str(abits), "--energy", os.path.join(tmp, "widths.energy"))
    ep = sw["energy"]["events_pj"]
    check(sw.get("act_bits") == abits and abs(ep["mult"] - 16 * 8 * fm) < 1e-9 and abs(ep["add"] - 16 * 16 * fa) < 1e-9
          and abs(ep["queue"] - 8 * 64 * fq) < 1e-9 and ep["spmat_read"] == 2 * pj["spmat_read"],
          "--act-bits %d: multiply x %g (square), accumulator x %g, FIFO entry x %g: %s" % (abits, fm, fa, fq, ep))
# a weight's index of B bits: entries of B + 4 bits, floor(64 / (B + 4)) to a word;
# each PE's 8 entries: 12-bit entries 5 a word (2 words), 6-bit ones 10 (1 word)
for wbits, by_hand in ((8, 4), (2, 2), (4, 2)):
    sw = js("emu", "--synthetic", "4x4", "--weight-density", "1", "--act-density", "1", "--pes", "2", "--weight-bits",
            str(wbits))
    check(sw["events"]["spmat_read"] == by_hand and sw.get("weight_bits") == wbits and sw.get("cycles") == 13,
          "--weight-bits %d: %s reads (by hand %d), %s cycles" % (wbits, sw["events"]["spmat_read"], by_hand,
                                                                sw.get("cycles")))
for bad_args in (("--act-bits", "3"), ("--weight-bits", "9"), ("--sweep", "weight-bits=2,9"), ("--sweep", "act-bits=2")):
    r = run("emu", "--synthetic", "4x4", *bad_args)
    check(r.returncode == 2 and len(r.stderr.strip().splitlines()) >= 1 and not r.stdout,
          "%s: exit %d %r" % (" ".join(bad_args), r.returncode, r.stderr))
us = e.get("us", 0)
check(abs(e["energy"]["power_mw"] - want * 1e-12 / (us * 1e-6) * 1e3) < 1e-6, "power = energy / latency")

# ---- malformed tables: one line naming the file and the problem, exit 1 ----
good = open(os.path.join(tmp, "pow2.energy")).read()
bad = {
    "missing": (good.replace("event queue", "# event queue"), "no energy for event 'queue'"),
    "negative": (good.replace("event mult 8 pJ", "event mult -8 pJ"), "not an energy"),
    "unit": (good.replace("event add 16 pJ", "event add 16 nJ"), "the unit is 'nJ'"),
    "garbage": ("\x7fELF\x01\x02 binary", "line 1: not text"),
    "header": (good.replace("dcc-energy 1", "dcc-energy 2"), "not a dcc energy table"),
    "twice": (good + "event mult 1 pJ A\n", "given twice"),
    "module": (good.replace("pJ B", "pJ C", 1), "module 'C' not declared"),
    "nan": (good.replace("event add 16 pJ", "event add nan pJ"), "not an energy"),
    "fixed<0": (good.replace("scale=1", "scale=1 fixed=-3"), "fixed=BITS"),
    "fixed-only": (good.replace("width=64 scale=1", "fixed=3"), "fixed=BITS"),
    "fixed-add": (good.replace("event add 16 pJ B", "event add 16 pJ B fixed=3"), "fixed=BITS"),
    "width-ptr": (good.replace("event ptr_read 2 pJ A", "event ptr_read 2 pJ A width=32 scale=1"), "not for pointers"),
}
for name, (text, msg) in bad.items():
    path = os.path.join(tmp, "%s.energy" % name)
    with open(path, "w") as f:
        f.write(text)
    r = run("emu", "--synthetic", "4x4", "--weight-density", "1", "--act-density", "1", "--energy", path)
    lines = r.stderr.strip().splitlines()
    check(r.returncode == 1 and len(lines) == 1 and path in lines[0] and msg in lines[0] and not r.stdout,
          "%s: %d %r" % (name, r.returncode, r.stderr))
r = run("emu", "--synthetic", "4x4", "--weight-density", "1", "--act-density", "1", "--energy", "nosuch")
check(r.returncode == 1 and "no energy table 'nosuch'" in r.stderr, "unknown table name: %r" % r.stderr)

# ---- counting changes nothing the emulator computed: a small model through the pipeline ----
m = os.path.join(tmp, "m")
ok = dcc("train", "--net", "mlp:784-64-10", "--epochs", "1", "--limit", "2000", "-o", m + ".dct") == 0
ok = ok and dcc("prune", m + ".dct", "--sparsity", "0.8", "-o", m + "p.dct") == 0
ok = ok and dcc("share", m + "p.dct", "--bits", "4", "--zero", "-o", m + "s.dct") == 0
ok = ok and dcc("fixed", m + "s.dct", "--calib", "64", "-o", m + "f.dct") == 0
ok = ok and dcc("encode", m + "f.dct", "-o", m + ".dcb") == 0
check(ok, "a small model through the pipeline")
plain = js("emu", m + ".dcb", "--limit", "200", "--logits", m + "a.npy")
en = js("emu", m + ".dcb", "--limit", "200", "--logits", m + "b.npy", "--energy", "eie-pe")
check(open(m + "a.npy", "rb").read() == open(m + "b.npy", "rb").read(), "--energy: the same outputs")
wide = js("emu", m + ".dcb", "--limit", "200", "--logits", m + "c.npy", "--energy", "eie-pe", "--act-bits", "8",
          "--weight-bits", "2")
check(open(m + "a.npy", "rb").read() == open(m + "c.npy", "rb").read() and
      wide.get("energy", {}).get("energy_uj", 0) < en.get("energy", {}).get("energy_uj", 0),
      "--act-bits 8 --weight-bits 2: the same outputs, less energy")
check([l["cycles"] for l in plain.get("layers", [])] == [l["cycles"] for l in en.get("layers", [])] and
      plain.get("latency_us") == en.get("latency_us"), "--energy: the same cycles")
tot = en.get("energy", {})
layer_uj = sum(l["energy"]["energy_uj"] for l in en.get("layers", []))
io = en.get("energy", {}).get("events_pj", {}).get("dram_byte", 0) * 1e-6 - sum(
    l["energy"]["events_pj"]["dram_byte"] for l in en["layers"]) * 1e-6
check(abs(tot.get("energy_uj", 0) - layer_uj - io) < 1e-9 and io > 0,
      "the run's energy is its layers' plus the input and output's DRAM traffic")
check(abs(tot.get("area_total_mm2", 0) - eie.PE_UM2 * 64 * 1e-6) < 1e-6, "eie-pe: Table II's 638,024 um^2 a PE x 64")

# ---- the shipped eie-pe table still reproduces Table II on EIE's nine layers ----
TABLE2 = {m: mw for m, (mw, _) in eie.TABLE2.items()}
tot_pj, tot_s, mods = 0.0, 0.0, {k: 0.0 for k in TABLE2}
for _, size, wd, ad, _ in eie.LAYERS:
    d = js("emu", "--synthetic", size, "--weight-density", str(wd), "--act-density", str(ad), "--pes", "64",
           "--energy", "eie-pe")
    tot_pj += d["energy"]["energy_uj"] * 1e6
    tot_s += d["us"] * 1e-6
    for k in mods:
        mods[k] += d["energy"]["breakdown"][k] * d["energy"]["energy_uj"] * 1e6
mw = tot_pj * 1e-12 / tot_s * 1e3
check(abs(mw / (64 * eie.PE_MW) - 1) < 0.15, "64 PEs: %.1f mW against EIE's %.1f" % (mw, 64 * eie.PE_MW))
for k, p in TABLE2.items():
    check(abs(100 * mods[k] / tot_pj - 100 * p / eie.PE_MW) < 5, "%s: %.2f%% against Table II's %.2f%%" %
          (k, 100 * mods[k] / tot_pj, 100 * p / eie.PE_MW))
finish("test_energy.py")
