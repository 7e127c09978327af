#!/usr/bin/python3
"""test_plot.py: `dcc plot` pictures checked as facts: every PNG decoded by
an independent reader (chunk CRCs, IHDR, zlib, row filters), the bars of a
histogram of a known layer as tall as its counts, a spy image of a known
pattern dark where the weights are, the fixed palette, the CSV numbers,
and the errors."""
import json
import os
import struct
import sys
import tempfile
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import check, dcc, finish, run  # noqa: E402



dcc = run


def png(path):
    """An independent decoder for 8-bit RGB, non-interlaced PNG: (h, w, 3)."""
    b = open(path, "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n", "signature"
    pos, idat, ihdr = 8, b"", None
    while pos < len(b):
        n, = struct.unpack(">I", b[pos:pos + 4])
        typ, data = b[pos + 4:pos + 8], b[pos + 8:pos + 8 + n]
        crc, = struct.unpack(">I", b[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(typ + data) & 0xffffffff == crc, "chunk crc"
        if typ == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", data)
        elif typ == b"IDAT":
            idat += data
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and ctype == 2 and interlace == 0
    raw = zlib.decompress(idat)
    assert len(raw) == h * (1 + 3 * w)
    rows = np.frombuffer(raw, np.uint8).reshape(h, 1 + 3 * w)
    assert (rows[:, 0] == 0).all(), "filter type none"
    return rows[:, 1:].reshape(h, w, 3)


BLUE = (0x1f, 0x77, 0xb4)
with tempfile.TemporaryDirectory() as tmp:
    p = lambda n: os.path.join(tmp, n)
    # a layer of 60 ones and 30 minus ones (and zeros, left out)
    w = np.zeros((10, 10), np.float32)
    w.flat[:60] = 1.0
    w.flat[60:90] = -1.0
    np.save(p("w.npy"), w)
    dcc("import", p("w.npy"), "-o", p("w.dct"))
    r = dcc("plot", "hist", p("w.dct"), "--layer", "w", "--bins", "2", "--csv", p("h.csv"), "-o", p("h.png"))
    check(r.returncode == 0, "hist: " + r.stderr)
    rows = open(p("h.csv")).read().splitlines()
    check(rows[0].startswith("bin_low,bin_high") and rows[1].endswith(",30") and rows[2].endswith(",60"),
          "csv counts %s" % rows)
    im = png(p("h.png"))
    blue = (im == BLUE).all(axis=2)
    cols = np.nonzero(blue.any(axis=0))[0]
    check(len(cols) > 10, "bars drawn in the palette's first colour")
    left, right = cols[cols < im.shape[1] // 2], cols[cols >= im.shape[1] // 2]
    hl = blue[:, left[len(left) // 2]].sum() if len(left) else 0
    hr = blue[:, right[len(right) // 2]].sum() if len(right) else 0
    check(hl > 0 and abs(hr / hl - 2) < 0.03, "bar heights %d and %d for counts 30 and 60" % (hl, hr))

    # a spy image of a known pattern: left half kept
    s = np.zeros((64, 64), np.float32)
    s[:, :32] = 1
    np.save(p("s.npy"), s)
    dcc("import", p("s.npy"), "-o", p("s.dct"))
    r = dcc("plot", "spy", p("s.dct"), "--layer", "s", "-o", p("s.png"))
    check(r.returncode == 0, "spy: " + r.stderr)
    # "... as 64x64 cells of 1x1 weights, 7 px each, at (80,40)"
    txt = r.stdout
    px = int(txt.split(" px each")[0].split()[-1])
    x0, y0 = map(int, txt.split(" at (")[1].split(")")[0].split(","))
    im = png(p("s.png"))
    check(tuple(im[y0 + 10 * px, x0 + 10 * px]) == (0, 0, 0), "kept weights black")
    check(tuple(im[y0 + 10 * px, x0 + 50 * px]) == (255, 255, 255), "pruned weights white")
    # downsampled honestly: a 999x999 layer, one weight in nine kept, in 3x3 cells
    big = np.zeros((999, 999), np.float32)
    big[::3, ::3] = 1
    np.save(p("b.npy"), big)
    dcc("import", p("b.npy"), "-o", p("b.dct"))
    r = dcc("plot", "spy", p("b.dct"), "--layer", "b", "--csv", p("b.csv"), "-o", p("b.png"))
    d = np.loadtxt(p("b.csv"), delimiter=",", skiprows=1)
    check(r.returncode == 0 and "cells of 3x3 weights" in r.stdout and np.allclose(d[:, 2], 1 / 9),
          "every cell's density 1/9: " + r.stdout)
    im = png(p("b.png"))
    check(abs(int(im[y0 + 100, x0 + 100, 0]) - round(255 * 8 / 9)) <= 1, "grey level of a cell one ninth dense")

    # a bank-balanced layer: its own bank size's boundaries, dashed red, and another's not
    dcc("prune", p("b.dct"), "--sparsity", "0.5", "--bank", "333", "-o", p("bb.dct"))
    r = dcc("plot", "spy", p("bb.dct"), "--layer", "b", "-o", p("bb.png"))
    check(r.returncode == 0 and "bank boundaries dashed" in r.stdout, "spy of a banked layer: " + r.stdout + r.stderr)
    im = png(p("bb.png"))
    red = ((im[:, :, 0] == 0xd6) & (im[:, :, 1] == 0x27) & (im[:, :, 2] == 0x28)).any(axis=0)
    check(len(np.nonzero(red)[0]) == 2, "two bank boundaries in a row of three banks: columns %s" % np.nonzero(red)[0])
    r = dcc("plot", "spy", p("b.dct"), "--layer", "b", "-o", p("bn.png"))
    check("bank" not in r.stdout, "no boundaries for a layer never banked")

    # the other kinds render and decode
    sens = {"baseline": 0.9, "levels": [0, 0.5, 0.9], "layers": [
        {"layer": "fc1", "tensor": "fc1.weight", "accuracy": [0.9, 0.89, 0.7], "suggested": 0.5}]}
    json.dump(sens, open(p("sens.json"), "w"))
    check(dcc("plot", "sensitivity", p("sens.json"), "-o", p("sens.png")).returncode == 0, "sensitivity")
    png(p("sens.png"))
    r = dcc("emu", "--synthetic", "200x300", "--weight-density", "0.1", "--act-density", "0.5", "--sweep",
            "fifo=1,4,16", "--json")
    open(p("sw.json"), "w").write(r.stdout)
    check(dcc("plot", "emu", p("sw.json"), "--csv", p("sw.csv"), "-o", p("sw.png")).returncode == 0, "emu sweep")
    png(p("sw.png"))
    check(len(open(p("sw.csv")).read().splitlines()) == 4, "sweep csv rows")
    # energy: a sweep's energy and EDP, a run's layers by module, each number the JSON's
    r = dcc("emu", "--synthetic", "200x300", "--weight-density", "0.1", "--act-density", "0.5", "--sweep",
            "sram-bits=32,64,128", "--energy", "45nm", "--json")
    open(p("se.json"), "w").write(r.stdout)
    rows = json.loads(r.stdout)
    check(dcc("plot", "energy", p("se.json"), "--csv", p("se.csv"), "-o", p("se.png")).returncode == 0, "energy sweep")
    png(p("se.png"))
    got = [ln.split(",") for ln in open(p("se.csv")).read().splitlines()]
    check(got[0] == ["sram_bits", "energy_uj", "latency_us", "edp"] and [float(g[0]) for g in got[1:]] == [32, 64, 128] and
          all(abs(float(g[1]) - w["energy"]["energy_uj"]) < 1e-5 * w["energy"]["energy_uj"] for g, w in zip(got[1:], rows)),
          "energy sweep csv: %s" % got)
    run_json = {"layers": [dict(w, layer="l%d" % i) for i, w in enumerate(rows)]}
    json.dump(run_json, open(p("re.json"), "w"))
    check(dcc("plot", "energy", p("re.json"), "--csv", p("re.csv"), "-o", p("re.png")).returncode == 0, "energy layers")
    png(p("re.png"))
    got = [ln.split(",") for ln in open(p("re.csv")).read().splitlines()]
    check(len(got) == 4 and abs(sum(float(v) for v in got[1][1:]) - rows[0]["energy"]["energy_uj"]) < 1e-5 *
          rows[0]["energy"]["energy_uj"], "the modules add up to the layer's energy: %s" % got[:2])
    r = dcc("plot", "energy", p("sw.json"), "-o", p("x.png"))
    check(r.returncode == 1 and "not the output of dcc emu --energy --json" in r.stderr, "energy plot without energy")
    # a shared layer: centroids marked
    dcc("share", p("w.dct"), "--bits", "1", "-o", p("ws.dct"))
    r = dcc("plot", "hist", p("ws.dct"), "--layer", "w", "--compare", p("w.dct"), "--csv", p("c.csv"), "-o",
            p("ws.png"))
    check(r.returncode == 0 and "centroid,-1" in open(p("c.csv")).read(), "centroids in the csv")
    png(p("ws.png"))

    # per-PE work of one layer, from an emulator report
    json.dump({"layers": [{"layer": "fc1", "pe_busy_cycles": [10.0, 20.0], "compute_cycles": 24.0,
                           "load_balance": 0.75, "utilisation": 0.5, "cycles": 24.0}]}, open(p("emu.json"), "w"))
    r = dcc("plot", "emu", p("emu.json"), "--layer", "fc1", "--csv", p("pe.csv"), "-o", p("pe.png"))
    check(r.returncode == 0 and open(p("pe.csv")).read().splitlines() == ["pe,busy,bubble", "0,10,10", "1,20,0"],
          "per-PE busy and bubble cycles: " + r.stderr)
    png(p("pe.png"))
    r = dcc("plot", "emu", p("emu.json"), "--layer", "fc9", "-o", p("x.png"))
    check(r.returncode == 1 and "no per-PE figures for layer 'fc9'" in r.stderr, "unknown emu layer")
    # sensitivity measured on a model directly
    dcc("train", "--net", "mlp:784-16-10", "--epochs", "1", "--limit", "500", "-o", p("m.dct"))
    r = dcc("plot", "sensitivity", p("m.dct"), "--limit", "200", "--csv", p("ms.csv"), "-o", p("ms.png"))
    rows = open(p("ms.csv")).read().splitlines() if r.returncode == 0 else []
    check(r.returncode == 0 and len(rows) == 1 + 2 * 12 and rows[1].startswith("fc1.weight,0,"),
          "sensitivity of a model: " + r.stderr)

    # errors: no partial file
    r = dcc("plot", "hist", p("w.dct"), "--layer", "nosuch", "-o", p("x.png"))
    check(r.returncode == 1 and "no layer 'nosuch'" in r.stderr, "unknown layer: " + r.stderr)
    r = dcc("plot", "hist", p("w.dct"), "--layer", "w", "-o", p("nodir/x.png"))
    check(r.returncode == 1 and r.stderr.count("\n") == 1, "unwritable output: " + r.stderr)
    r = dcc("plot", "sensitivity", p("h.csv"), "-o", p("x.png"))
    check(r.returncode == 1 and "not JSON" in r.stderr, "bad json: " + r.stderr)
    r = dcc("plot", "sensitivity", p("w.dct"), "-o", p("x.png"))
    check(r.returncode == 1 and "no network graph" in r.stderr and r.stderr.count("\n") == 1, "bare model: " + r.stderr)
    r = dcc("plot", "pie", p("w.dct"), "-o", p("x.png"))
    check(r.returncode == 2 and "unknown kind 'pie'" in r.stderr, "unknown kind")
    check(not os.path.exists(p("x.png")), "no partial file")

finish("test_plot")
