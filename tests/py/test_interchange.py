#!/usr/bin/python3
"""test_interchange.py: NumPy -> dcc import -> dcc export -> NumPy is exact.

Every dtype dcc holds, little and big endian, C and Fortran order, 0-d and
empty arrays, names with dots; .npz stored and deflated as NumPy writes them;
safetensors written by an independent writer (below, from the published spec);
the Fashion-MNIST IDX files with their shapes."""
import json
import os
import struct
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import check, finish, run  # noqa: E402



def dcc(*args):
    r = run(*args)
    if r.returncode:
        print("dcc", *args, "->", r.returncode, r.stderr, file=sys.stderr)
    return r


def same(a, b):
    """Exact equality of value, dtype and shape (NaNs compared bitwise)."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape or a.dtype.newbyteorder("=") != b.dtype.newbyteorder("="):
        return False
    return a.astype(a.dtype.newbyteorder("<")).tobytes() == b.astype(b.dtype.newbyteorder("<")).tobytes()


rng = np.random.default_rng(0)
DTYPES = ["f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"]


def sample(dt, shape):
    if dt == "b1":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dt[0] == "f":
        a = rng.standard_normal(shape).astype(dt)
        if a.size > 3:
            a.flat[0], a.flat[1], a.flat[2] = np.inf, -0.0, np.nan
        return a
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dt)


os.chdir(tempfile.mkdtemp())
cases = {}
for dt in DTYPES:
    for order in "<>":
        if dt in ("i1", "u1", "b1") and order == ">":
            continue
        for fortran in (False, True):
            for shape in [(3, 4, 5), (7,), (), (0, 3), (2, 1, 3, 1)]:
                a = sample(dt, shape).astype(np.dtype(dt).newbyteorder(order))
                if fortran:
                    a = np.asfortranarray(a)
                name = "t.%s%s.%s.%s" % (dt, "be" if order == ">" else "le", "F" if fortran else "C",
                                         "x".join(map(str, shape)) or "scalar")
                cases[name] = a

# .npy one at a time: import, export as .npy, compare.
for name, a in list(cases.items())[::7]:
    np.save("one.npy", a)
    check(dcc("import", "one.npy", "-o", "one.dct").returncode == 0, "import " + name)
    check(dcc("export", "one.dct", "-o", "back.npy").returncode == 0, "export " + name)
    b = np.load("back.npy")
    check(same(a, b), "npy round trip " + name)
    check(b.dtype.byteorder in "<|=" and (b.flags.c_contiguous or b.ndim < 2), "written LE C order " + name)

# Everything at once through .npz (stored), .npz (deflated) and safetensors.
np.savez("all.npz", **cases)
np.savez_compressed("allz.npz", **cases)
for src in ["all.npz", "allz.npz"]:
    check(dcc("import", src, "-o", "all.dct").returncode == 0, "import " + src)
    for out in ["back.npz", "back.safetensors"]:
        check(dcc("export", "all.dct", "-o", out).returncode == 0, "export " + out)
    with np.load("back.npz") as z:
        check(list(z.keys()) == list(cases), "npz names and order kept")
        for k, a in cases.items():
            check(same(a, z[k]), "npz %s %s" % (src, k))
check(dcc("export", "--compress", "all.dct", "-o", "backz.npz").returncode == 0, "export --compress")
with np.load("backz.npz") as z:
    check(all(same(a, z[k]) for k, a in cases.items()), "deflated npz written by dcc reads in numpy")


# An independent safetensors reader and writer, from the published format.
ST = {"F16": "<f2", "F32": "<f4", "F64": "<f8", "I8": "i1", "I16": "<i2", "I32": "<i4", "I64": "<i8",
      "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}
ST_OF = {np.dtype(v).str: k for k, v in ST.items()}


def st_read(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    hdr = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        out[k] = np.frombuffer(body[b:e], dtype=ST[v["dtype"]]).reshape(v["shape"])
    return out, hdr.get("__metadata__")


def st_write(path, tensors, meta):
    hdr, body = {"__metadata__": meta}, b""
    for k in sorted(tensors):
        a = tensors[k].copy(order="C").astype(np.dtype(tensors[k].dtype).newbyteorder("<"))
        hdr[k] = {"dtype": ST_OF[a.dtype.str if a.dtype != bool else "|b1"], "shape": list(a.shape),
                  "data_offsets": [len(body), len(body) + a.nbytes]}
        body += a.tobytes()
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + body)


ST_OF["|b1"] = "BOOL"
got, _ = st_read("back.safetensors")
check(all(same(a, got[k]) for k, a in cases.items()), "safetensors written by dcc, read independently")
st_write("theirs.safetensors", cases, {"format": "pt", "note": "from python"})
check(dcc("import", "theirs.safetensors", "-o", "st.dct").returncode == 0, "import safetensors")
check(dcc("export", "st.dct", "-o", "st.safetensors").returncode == 0, "export safetensors")
got, meta = st_read("st.safetensors")
for k, a in cases.items():
    check(same(a, got[k]), "safetensors round trip " + k)
check(meta == {"format": "pt", "note": "from python"}, "safetensors __metadata__ kept: %r" % meta)

# Fashion-MNIST IDX, gzipped, as Debian ships it.
D = "/usr/share/datasets/fashion-mnist/"
for f, shape in [("train-images-idx3-ubyte.gz", [60000, 28, 28]), ("train-labels-idx1-ubyte.gz", [60000]),
                 ("t10k-images-idx3-ubyte.gz", [10000, 28, 28]), ("t10k-labels-idx1-ubyte.gz", [10000])]:
    r = dcc("info", "--json", D + f)
    check(r.returncode == 0, "info " + f)
    if r.returncode == 0:
        t = json.loads(r.stdout)["tensors"][0]
        check(t["shape"] == shape and t["dtype"] == "u8" and t["name"] == f[:-3], "idx shape " + f)
check(dcc("import", D + "t10k-labels-idx1-ubyte.gz", "-o", "l.dct").returncode == 0, "import idx")
check(dcc("export", "l.dct", "-o", "l.npy").returncode == 0, "export idx")
import gzip
raw = gzip.open(D + "t10k-labels-idx1-ubyte.gz").read()
check(same(np.frombuffer(raw[8:], np.uint8), np.load("l.npy")), "idx labels exact")

finish("test_interchange")
