#!/usr/bin/python3
"""test_csc_scipy.py: the CSC arrays stored in a blob (dcc decode --csc)
equal what SciPy's csc_matrix builds from the same matrix: for the CSC
layout (with filler entries in the stream, dropped in the arrays) and for
EIE's layout, per PE, over that PE's interleaved rows."""
import os
import sys
import tempfile

import numpy as np
from scipy.sparse import csc_matrix

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import check, dcc, finish  # noqa: E402



rng = np.random.default_rng(11)
with tempfile.TemporaryDirectory() as tmp:
    p = lambda n: os.path.join(tmp, n)
    w = rng.standard_normal((70, 45)).astype(np.float32)
    w[:, 3] = 0                                   # an empty column
    w[rng.random(w.shape) < 0.85] = 0             # long gaps: fillers at 3-bit indices
    w[:, 7] = rng.standard_normal(70)             # a full column
    np.save(p("w.npy"), w)
    dcc("import", p("w.npy"), "-o", p("w.dct"))
    dcc("share", p("w.dct"), "--bits", "4", "--zero", "-o", p("s.dct"))
    dcc("export", "--raw", p("s.dct"), "-o", p("raw.npz"))
    raw = np.load(p("raw.npz"))
    mask, idx = raw["w.mask"].astype(bool), raw["w.index"].astype(np.int64)
    dense = np.where(mask, idx, 0)                # value symbols where kept (never 0 with --zero)
    for ib in ("3", "5"):
        check(dcc("encode", p("s.dct"), "--index-bits", ib, "--force", "-o", p("c.dcb")) == 0, "encode csc")
        check(dcc("decode", p("c.dcb"), "--csc", p("csc.npz"), "--force", "-o", p("d.dct")) == 0, "decode --csc")
        a = np.load(p("csc.npz"))
        ref = csc_matrix(dense)
        ref.sort_indices()
        check(np.array_equal(a["w.indptr"], ref.indptr) and np.array_equal(a["w.indices"], ref.indices) and
              np.array_equal(a["w.data"], ref.data), "CSC arrays = scipy's (%s-bit indices)" % ib)
    for P in (1, 4, 64):
        check(dcc("encode", p("s.dct"), "--layout", "eie", "--pes", str(P), "--force", "-o", p("e.dcb")) == 0, "encode eie")
        check(dcc("decode", p("e.dcb"), "--csc", p("eie.npz"), "--force", "-o", p("d.dct")) == 0, "decode eie --csc")
        a = np.load(p("eie.npz"))
        ok = True
        for pe in range(P):
            ref = csc_matrix(dense[pe::P]) if pe < 70 else csc_matrix(np.zeros((0, 45), np.int64))
            ref.sort_indices()
            k = "w.pe%d." % pe
            ok &= (np.array_equal(a[k + "indptr"], ref.indptr) and np.array_equal(a[k + "indices"], ref.indices) and
                   np.array_equal(a[k + "data"], ref.data))
        check(ok, "EIE per-PE arrays = scipy's over rows p::%d" % P)

finish("test_csc_scipy")
