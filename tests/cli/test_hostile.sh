#!/bin/sh
# test_hostile.sh: every reproducer of the hostile-input audit
# (../shared/reliability/REPRO.md, issue 25) and its siblings, as
# regression tests: each hostile file or option gets one clear line on
# stderr and a non-zero exit, never a crash, a hang or a sanitizer report
# (make check runs this under ASan/UBSan too), and no file is left behind.
# `timeout` guards the inputs that once took minutes: a hang fails, it is
# not a timing assertion.
. "$(dirname "$0")/lib.sh"
TO="timeout 300"

# one clear line and a failure: status, a single stderr line, a phrase
refused() { # status phrase what
	expect_status "$1" "$3"
	expect_err_lines 1 "$3"
	expect_err_has "$2" "$3"
}

# ---- setup: a small model through the whole pipeline ----
make_d8
$DCC train --net mlp:64-32-4 --data d8 --epochs 1 -o m.dct >/dev/null 2>&1
$DCC prune m.dct --sparsity 0.9 -o p.dct >/dev/null
$DCC share p.dct --bits 4 --zero -o sz.dct >/dev/null 2>&1
$DCC fixed sz.dct --data d8 --calib 64 -o fz.dct >/dev/null
$DCC encode fz.dct --layout eie --pes 4 -o fz.dcb >/dev/null
$DCC compile fz.dcb --pes 4 -o fz.dci >/dev/null
$DCC disasm fz.dci >fz.s
check [ -s fz.s ]
dram=$(sed -n 's/^\.dram //p' fz.s)
last=$(printf '0x%x' $((dram - 4)))

# ---- C1, C2: the program's input and output regions ----
sed "s/^\.input .*/.input $last 1/" fz.s >bad_in.s
run $DCC asm bad_in.s -o bad_in.dci
refused 1 "input" "C1: an .input that disagrees with .input_shape"
expect_no_file bad_in.dci "C1: no program written"
# consistent but tiny: runs as written, refused for a data set of another shape
sed "s/^\.input .*/.input $last 1/; s/^\.input_shape .*/.input_shape 1 1 1/" fz.s >one_in.s
run $DCC asm one_in.s -o one_in.dci
expect_status 0 "C1: a one-word input at the end of DRAM assembles"
run $DCC emu one_in.dci --data d8 --limit 5 --threads 1
refused 1 "1x1x1" "C1: the data's shape against the program's"
$PY -c "import numpy as np; np.save('one.npy', np.full((3, 1), 0.25, np.float32))"
run $DCC emu one_in.dci --input one.npy --threads 1
expect_status 0 "C1: the edited program runs as edited, inside its DRAM"
sed "s/^\.output .*/.output $last 1/" fz.s >bad_out.s
run $DCC asm bad_out.s -o bad_out.dci
expect_status 0 "C2: a one-word output at the end of DRAM assembles"
run $DCC emu bad_out.dci --data d8 --limit 5 --threads 1
refused 1 "1 output" "C2: one output for a data set of 4 classes"
run $DCC emu bad_out.dci --input one.npy --threads 1
expect_status 1 "C2: an input of the wrong size"
for f in "$last 2" "0x$(printf %x $dram) 1" "0xfffffffc 1" "0x2 1"; do
	sed "s/^\.output .*/.output $f/" fz.s >x.s
	run $DCC asm x.s -o x.dci
	refused 1 "output" "C2: .output $f outside DRAM or unaligned"
done

# ---- C6: the instructions graphs with branches brought: operands out of range are refused when the
# program is read, and bounds the program itself stores in DRAM only bound what it computes ----
for ins in "ewop addsh a=0 b=1 out=0 n=8 bw=0 sa=0 sb=0" "ewop addsh a=0 b=1 out=0 n=8 bw=16 sa=300 sb=0" \
	"ewop addsh a=0 b=9 out=0 n=8 bw=16 sa=0 sb=0" "ewop shift a=0 b=0 out=0 n=8 bw=33 sa=1 sb=0" \
	"ewop subsh a=0 b=1 out=0 n=8 bw=0 sa=0 sb=0" "ewop subsh a=0 b=1 out=0 n=8 bw=16 sa=200 sb=0" \
	"ewop clip a=0 b=0 out=0 n=8 shift=$dram" "ewop clip a=0 b=0 out=0 n=8 shift=2" \
	"ewop leaky a=0 b=0 out=0 n=8 shift=$dram" "ewop leaky a=0 b=0 out=0 n=8 shift=6" \
	"ewop hsig a=0 b=0 out=0 n=8 shift=$((dram - 8))" "ewop hswish a=0 b=0 out=0 n=8 shift=2" \
	"ewop mulsh a=0 b=1 out=0 n=8 shift=$((dram - 8))" "ewop mulsh a=0 b=1 out=0 n=8 shift=6" \
	"ewop divsh a=0 b=1 out=0 n=8 shift=$((dram - 4))" "ewop divsh a=0 b=1 out=0 n=8 shift=6" \
	"maxpool in=0 out=1 c=1 h=8 w=8 k=2 stride=2 pad=2" "maxpool in=0 out=1 c=1 h=8 w=8 k=3 stride=2 pad=1 ceil=2" \
	"avgpool in=0 out=1 c=1 h=8 w=8 k=3 stride=2 pad=2" "maxpool in=0 out=1 c=1 h=8 w=8 k=3 stride=2 incl=1" \
	"maxpool in=0 out=1 c=1 h=2 w=2 k=5 stride=1 pad=1"; do
	awk -v ins="$ins" '/^load buf=0/ && !done { print; print ins; done = 1; next } { print }' fz.s >c6.s
	run $DCC asm c6.s -o c6.dci
	expect_status 1 "C6: '$ins' refused"
	expect_err_lines 1 "C6: '$ins' in one line"
	expect_no_file c6.dci "C6: '$ins': no program"
done
# a clip reading its bounds from the input's own words: whatever they hold, the run stays inside its buffers
awk '/^load buf=0/ && !done { print; print "ewop clip a=0 b=0 out=0 n=8 shift=0"; done = 1; next } { print }' fz.s >c6.s
run $DCC asm c6.s -o c6.dci
expect_status 0 "C6: a clip with its bounds in the input region assembles"
run $DCC emu c6.dci --data d8 --limit 5 --threads 1
expect_status 0 "C6: and runs"
# a leaky or a hardswish gate reading its operands from the input's words: operands out of range (a width
# outside 1..32, a gate's shift or G) are refused when they are met, in one line; any others stay inside the buffers
for ew in "leaky:leaky's width" "hswish:bad hswish operands" "mulsh:bad mulsh operands" "divsh:bad divsh operands"; do
	awk -v ins="ewop ${ew%%:*} a=0 b=0 out=0 n=8 shift=0" '/^load buf=0/ && !done { print; print ins; done = 1; next } { print }' \
		fz.s >c6.s
	run $DCC asm c6.s -o c6.dci
	expect_status 0 "C6: a ${ew%%:*} with its operands in the input region assembles"
	run $DCC emu c6.dci --data d8 --limit 5 --threads 1
	check [ "$status" -le 1 ] && check [ "$(wc -l <"$T/.err")" -le 1 ]
	[ "$status" -eq 0 ] || expect_err_has "${ew#*:}" "C6: a ${ew%%:*}'s operands out of range named"
done

# ---- C3: a forged PE table in DRAM, stored by the program itself ----
# The program overwrites PE 3's table entry of fc1 (local rows one past its
# share) and fc1's row count, then runs the layer: the emulator checks what
# it follows at run time.
$PY - <<'EOF'
import re, struct
s = open('fz.s').read()
desc = int(re.search(r'spmv desc=(0x[0-9a-f]+)', s).group(1), 16)
data = bytearray()
for m in re.finditer(r'^\.data (0x[0-9a-f]+) ([0-9a-f]+)$', s, re.M):
    a = int(m.group(1), 16); b = bytes.fromhex(m.group(2))
    if len(data) < a + len(b): data.extend(bytes(a + len(b) - len(data)))
    data[a:a + len(b)] = b
rows, cols, P = struct.unpack_from('<III', data, desc + 4)
pet = struct.unpack_from('<I', data, desc + 36)[0]
ptr, ent, n, lr = struct.unpack_from('<IIII', data, pet + 16 * (P - 1))
inp = [0] * cols
inp[4:8] = [ptr, ent, n, lr + P]      # local rows past the accumulators
inp[8:10] = [rows + P - 1, cols]
open('forge_in.txt', 'w').write(' '.join(str(v) for v in inp))
head = [l for l in s.splitlines() if l.startswith('.')]
prog = head + ['load buf=0 dram=0x0 words=%d offset=0' % cols,
               'store buf=0 dram=0x%x words=4 offset=4' % (pet + 16 * (P - 1)),
               'store buf=0 dram=0x%x words=2 offset=8' % (desc + 4),
               'spmv desc=0x%x in=0 out=1 offset=0 relu' % desc, 'end']
open('forge.s', 'w').write('\n'.join(prog) + '\n')
import numpy as np
fl = int(re.search(r'^\.input_format \d+ (-?\d+)', s, re.M).group(1))
np.save('forge_in.npy', (np.array(inp, np.float64) / 2.0 ** fl).astype(np.float32).reshape(1, cols))
EOF
run $DCC asm forge.s -o forge.dci
expect_status 0 "C3: the forging program assembles (its static facts are sound)"
run $DCC emu forge.dci --input forge_in.npy --threads 1
refused 1 "local rows" "C3: a forged PE table is refused at run time"

# ---- C4: a 55-byte npz ----
$PY -c "
import struct
loc = struct.pack('<IIQI', 0x07064b50, 0, 0x4141414141414141, 1)
eocd = struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, 0xffff, 0xffff, 0xffffffff, 0xffffffff, 0)
open('tiny.npz', 'wb').write(b'PK\x03\x04' + b'\0' * 9 + loc + eocd)"
run $DCC info tiny.npz
refused 1 "ZIP64" "C4: info of a 55-byte npz"
run $DCC import tiny.npz -o x.dct
refused 1 "ZIP64" "C4: import of a 55-byte npz"
# the sibling: 200 members sharing one deflated stream (each would inflate it)
$PY - <<'EOF'
import numpy as np, struct
np.savez_compressed('one.npz', a=np.zeros(100000, np.float32))
b = open('one.npz', 'rb').read()
cd = b.index(b'PK\x01\x02'); eo = b.index(b'PK\x05\x06')
ent = b[cd:eo]; nlen = struct.unpack_from('<H', ent, 28)[0]; n = 200
ents = b''.join(ent[:28] + struct.pack('<H', 8) + ent[30:46] + b'%04d.npy' % i + ent[46 + nlen:] for i in range(n))
e = bytearray(b[eo:eo + 22]); struct.pack_into('<HHII', e, 8, n, n, len(ents), cd)
open('shared.npz', 'wb').write(b[:cd] + ents + bytes(e))
EOF
run $DCC info shared.npz
refused 1 "overlap" "C4 sibling: npz members sharing one local header"

# ---- C5: deeply nested protobuf ----
$PY - <<'EOF'
def v(x):
    o = b''
    while x >= 0x80: o += bytes([x & 0x7f | 0x80]); x >>= 7
    return o + bytes([x])
f = lambda n, p: v(n << 3 | 2) + v(len(p)) + p
t = f(1, b'\x08\x01')
for _ in range(10000): t = f(4, f(1, t))
open('deep.onnx', 'wb').write(f(7, f(11, f(1, b'x') + f(2, t))))
EOF
run $DCC info deep.onnx
refused 1 "nest" "C5: info of deeply nested ONNX"
run $DCC import deep.onnx -o x.dct
refused 1 "nest" "C5: import of deeply nested ONNX"

# ---- C6, C7: the graph's shape arithmetic ----
cat >mkgraph.py <<'EOF'
import sys, struct, numpy as np
T = [0] * 256
for i in range(256):
    c = i
    for _ in range(8): c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    T[i] = c
def crc(b):
    c = 0xffffffff
    for x in b: c = T[(c ^ x) & 0xff] ^ (c >> 8)
    return c ^ 0xffffffff
def kv(k, t, val, e=None):
    k = k.encode(); o = struct.pack('<H', len(k)) + k + bytes([t])
    sc = lambda t, x: struct.pack('<q', x) if t == 1 else struct.pack('<I', len(x.encode())) + x.encode()
    if t == 4: return o + bytes([e]) + struct.pack('<Q', len(val)) + b''.join(sc(e, x) for x in val)
    return o + sc(t, val)
def dct(kvs, ts):
    meta = b''.join(kvs); data = b''; off = 0
    for n, a in ts:
        d = np.asarray(a, np.float32).tobytes(); n = n if isinstance(n, bytes) else n.encode()
        meta += struct.pack('<H', len(n)) + n + bytes([0, a.ndim, 32, 0]) + b''.join(struct.pack('<Q', s) for s in a.shape)
        meta += struct.pack('<QQQI', off, len(d), int(np.count_nonzero(a)), crc(d))
        pad = (-len(d)) % 64; data += d + b'\0' * pad; off += len(d) + pad
    if ts: data = data[:len(data) - ((-len(np.asarray(ts[-1][1], np.float32).tobytes())) % 64)]
    doff = (64 + len(meta) + 63) & ~63
    h = b'\x89DCT' + struct.pack('<III', 1, 0, 64) + struct.pack('<QQQQQ', len(kvs), len(ts), len(meta), doff, len(data)) + struct.pack('<I', crc(meta))
    return h + struct.pack('<I', crc(h)) + meta + b'\0' * (doff - 64 - len(meta)) + data
if __name__ == '__main__':
    g, ishape, out = sys.argv[1].split('|'), [int(x) for x in sys.argv[2].split(',')], sys.argv[3]
    r = np.random.RandomState(0)
    ts = [('fc1.weight', r.randn(4, 64) * 0.05), ('fc1.bias', np.zeros(4))]
    if 'conv2d' in sys.argv[1]: ts = [('c1.weight', np.ones((1, 1, 1, 1))), ('c1.bias', np.zeros(1))] + ts
    extra = [kv(k, 1, int(v)) for k, v in (a.split('=') for a in sys.argv[4:])]
    open(out, 'wb').write(dct([kv('dcc.graph', 4, g, 3), kv('dcc.input_shape', 4, ishape, 1), kv('dcc.classes', 1, 4)] + extra, ts))
EOF
$PY mkgraph.py 'conv2d c1 in=1 out=1 k=1 stride=1 pad=1073741823|flatten f|fc fc1 in=64 out=4|softmax_ce loss' 1,8,8 pad.dct
run $DCC eval --data d8 --limit 10 pad.dct
refused 1 "pad" "C6: a padding that overflows the output size"
$PY mkgraph.py 'conv2d c1 in=1 out=1 k=1 stride=1 pad=0,1073741823,0,1073741823|flatten f|fc fc1 in=64 out=4|softmax_ce loss' 1,8,8 apad.dct
run $DCC eval --data d8 --limit 10 apad.dct
refused 1 "too large" "C6: asymmetric pads that overflow the output size"
$PY mkgraph.py 'conv2d c1 in=1 out=1 k=1x1 stride=1 pad=0 dilation=1073741823x1|flatten f|fc fc1 in=64 out=4|softmax_ce loss' 1,8,8 dil1.dct
run $DCC eval --data d8 --limit 10 dil1.dct
expect_status 0 "C6: a huge dilation of a 1x1 kernel reaches nothing: it runs"
$PY mkgraph.py 'conv2d c1 in=1 out=1 k=1x2 stride=1 pad=0 dilation=1x1073741823|flatten f|fc fc1 in=64 out=4|softmax_ce loss' 1,8,8 dil.dct
run $DCC eval --data d8 --limit 10 dil.dct
refused 1 "(dilated) does not fit" "C6: a dilation past the input"
$PY mkgraph.py 'flatten f|fc fc1 in=64 out=4|softmax_ce loss' 2147483648,2147483648,4 ish.dct
run $DCC eval --data d8 --limit 10 ish.dct
refused 1 "input" "C7: an input shape whose product overflows"
$PY mkgraph.py 'flatten f|fc fc1 in=64 out=4|softmax_ce loss' 4611686018427387905,4,16 ish2.dct
run $DCC eval --data d8 --limit 10 ish2.dct
refused 1 "input" "C7: an input shape past the limit by wrapping"

# ---- C8: --train-step on a blob (a leak under LeakSanitizer) ----
run $DCC emu --train-step fz.dcb
refused 1 "fz.dcb" "C8: --train-step of a blob"

# ---- H1-H6: many names (timeout guards against the old quadratic time) ----
$PY - <<'EOF'
import struct, json
exec(open('mkgraph.py').read().split("if __name__")[0])
N = 200000
def ent(n): n = n.encode(); return struct.pack('<H', len(n)) + n + bytes([0, 1, 32, 0]) + struct.pack('<QQQQI', 0, 0, 0, 0, crc(b''))
meta = b''.join(ent('t%07d' % i) for i in range(N)); doff = (64 + len(meta) + 63) & ~63
h = b'\x89DCT' + struct.pack('<III', 1, 0, 64) + struct.pack('<QQQQQ', 0, N, len(meta), doff, 0) + struct.pack('<I', crc(meta))
open('many_t.dct', 'wb').write(h + struct.pack('<I', crc(h)) + meta + b'\0' * (doff - 64 - len(meta)))
meta = b''.join(kv('k%07d' % i, 1, i) for i in range(N)); doff = (64 + len(meta) + 63) & ~63
h = b'\x89DCT' + struct.pack('<III', 1, 0, 64) + struct.pack('<QQQQQ', N, 0, len(meta), doff, 0) + struct.pack('<I', crc(meta))
open('many_k.dct', 'wb').write(h + struct.pack('<I', crc(h)) + meta + b'\0' * (doff - 64 - len(meta)))
hd = json.dumps({'t%07d' % i: {'dtype': 'F32', 'shape': [0], 'data_offsets': [0, 0]} for i in range(N)}).encode()
open('many.safetensors', 'wb').write(struct.pack('<Q', len(hd)) + hd)
EOF
run $TO $DCC info --json many_t.dct
expect_status 0 "H1: 200,000 tensors"
check $PY -c "import json; assert len(json.load(open('$T/.out'))['tensors']) == 200000"
run $TO $DCC info many_k.dct
expect_status 0 "H2: 200,000 metadata keys"
run $TO $DCC import many.safetensors -o many.dct
expect_status 0 "H3: 200,000 safetensors entries"
run $TO $DCC export many.dct -o many.npz
expect_status 0 "H4: 200,000 npz members written"
run $TO $DCC import many.npz -o many2.dct
expect_status 0 "H4: and read"
$PY - <<'EOF'
import numpy as np, onnx
from onnx import helper as H, TensorProto as TP, numpy_helper as NH
W = NH.from_array(np.zeros((4, 64), np.float32), 'fc.weight'); B = NH.from_array(np.zeros(4, np.float32), 'fc.bias')
def m(nodes): return H.make_model(H.make_graph(nodes, 'g', [H.make_tensor_value_info('x', TP.FLOAT, [1, 64])], [H.make_tensor_value_info('y', TP.FLOAT, None)], [W, B]), opset_imports=[H.make_opsetid('', 13)])
N = 100000
open('shape.onnx', 'wb').write(m([H.make_node('Shape', ['x'], ['s%d' % i]) for i in range(N)] + [H.make_node('Gemm', ['x', 'fc.weight', 'fc.bias'], ['y'], transB=1)]).SerializeToString())
open('relu.onnx', 'wb').write(m([H.make_node('Relu', ['x' if i == 0 else 'r%d' % (i - 1)], ['r%d' % i]) for i in range(N)] + [H.make_node('Gemm', ['r%d' % (N - 1), 'fc.weight', 'fc.bias'], ['y'], transB=1)]).SerializeToString())
EOF
run $TO $DCC import shape.onnx -o x.dct
expect_status 0 "H5: 100,000 Shape nodes"
run $TO $DCC import relu.onnx -o relu.dct
expect_status 0 "H6: 100,000 Relu nodes import"
run $TO $DCC eval --data d8 --limit 10 --threads 1 relu.dct
expect_status 0 "H6: and the net builds and runs"

# ---- H7: a huge, very sparse synthetic layer ----
run $TO $DCC emu --synthetic 1000000x1000000 --weight-density 0.000001 --act-density 0.000001
expect_status 0 "H7: 10^12 candidates at density 10^-6"

# ---- R1, R2: zstd streams that claim more than their layer holds ----
$PY - <<'EOF'
import struct
exec(open('mkgraph.py').read().split("def kv")[0])
def zrle(size):   # a zstd frame of `size` zero bytes in RLE blocks: tiny, claims everything
    o = struct.pack('<I', 0xFD2FB528) + bytes([0xE0]) + struct.pack('<Q', size)
    left = size
    while left:
        n = min(left, 1 << 17); left -= n
        o += struct.pack('<I', (1 if not left else 0) | 1 << 1 | n << 3)[:3] + b'\0'
    return o
b = open('fz.dcb', 'rb').read(); nl, rs = struct.unpack_from('<IQ', b, 12); pos = (48 + rs + 7) & ~7
size, = struct.unpack_from('<I', b, pos); rec = bytearray(b[pos:pos + size])
q = 8; nlen, = struct.unpack_from('<H', rec, q); q = (q + 2 + nlen + 3) & ~3; ndim = rec[q + 7]; q += 20 + 8 * ndim + 16
z = zrle(1 << 27)
new = bytes(rec[:q]) + bytes([2, 1, 0, 0]) + struct.pack('<IQQ', 2, 1 << 30, len(z)) + z + b'\0' * ((-len(z)) % 4)
new += b'\0' * ((-len(new)) % 8); new = bytearray(new); struct.pack_into('<I', new, 0, len(new)); struct.pack_into('<I', new, 4, crc(bytes(new[8:])))
h = bytearray(b[:48]); struct.pack_into('<I', h, 12, 1); struct.pack_into('<I', h, 44, crc(bytes(h[:44])))
open('bomb.dcb', 'wb').write(bytes(h) + b[48:pos] + bytes(new))
r = zrle(1 << 30)
h = bytearray(b'\x89DCB\r\n\x1a\n' + struct.pack('<IIQQ', 1, 0, len(r), 1 << 30) + bytes([2]) + b'\0' * 7 + struct.pack('<I', crc(r)))
h += struct.pack('<I', crc(bytes(h)))
open('restbomb.dcb', 'wb').write(bytes(h) + r + b'\0' * ((-len(r)) % 8))
EOF
run $DCC report bomb.dcb
refused 1 "bomb.dcb" "R1: a stream claiming 2^30 symbols"
check [ "$(wc -c <bomb.dcb)" -lt 20000 ]
run $DCC report restbomb.dcb
refused 1 "embedded container" "R2: an embedded container claiming 1 GB"

# ---- S1: the assembler checks what the reader checks ----
for d in '.pes 0' '.pes 70000' '.buffers 4000000000' '.input 0xffffffff 0'; do
	k=${d%% *}
	sed "s/^\\$k .*/$d/" fz.s >x.s
	run $DCC asm x.s -o x.dci
	expect_status 1 "S1: asm of '$d'"
	expect_err_lines 1 "S1: asm of '$d'"
	expect_no_file x.dci "S1: no program for '$d'"
done
: >empty.s
run $DCC asm empty.s -o e.dci
expect_status 1 "S1: an empty source"
sed 's/^\.dram .*/.dram 99999999999999999999999/' fz.s >big.s
run $DCC asm big.s -o b.dci
refused 1 "dram" "S1: a 23-digit .dram"
# and what it accepts runs: an edit of one instruction runs as edited
sed 's/ relu$//' fz.s >norelu.s
run $DCC asm norelu.s -o norelu.dci
expect_status 0 "S1: an edited program assembles"
run $DCC emu norelu.dci --data d8 --limit 20 --logits l1.npy --threads 1
expect_status 0 "S1: and runs without its blob"
$DCC emu fz.dci --data d8 --limit 20 --logits l0.npy --threads 1 >/dev/null
check $PY -c "import numpy as np; assert not np.array_equal(np.load('l0.npy'), np.load('l1.npy'))"

# ---- S2, P2: outputs checked together before any is written ----
run $DCC plot hist m.dct --layer fc1 --csv o.png -o o.png
refused 1 "two outputs" "S2: plot --csv and -o the same"
expect_no_file o.png "S2: nothing written"
run $DCC decode fz.dcb --csc o.dct -o o.dct
refused 1 "two outputs" "S2: decode --csc and -o the same"
expect_no_file o.dct "S2: nothing written"
run $DCC plot hist m.dct --layer fc1 --csv m.dct -o o.png
refused 1 "overwrite an input" "P2: an output that is an input"
expect_no_file o.png "P2: the PNG is not written first"
expect_no_temp "P2"

# ---- S3: a layer pruned to nothing ----
run $DCC prune m.dct --sparsity 0.9999999 -o all0.dct
refused 1 "would keep no weights" "S3: --sparsity 0.9999999"
expect_no_file all0.dct "S3: no model written"
run $DCC prune m.dct --sparsity 0.9999999 --allow-empty -o all0.dct
expect_status 0 "S3: --allow-empty asks for it"
run $DCC prune all0.dct --sparsity 0.5 -o x.dct
refused 1 "no nonzero weights to prune" "S3: an all-zero layer is not 'sparsity 1'"
run $DCC train --net mlp:64-16-4 --data d8 --epochs 2 --prune-at 1 --sparsity 0.9999999 --limit 100 -o all0b.dct
expect_status 1 "S3: train --prune-at too"
expect_err_has "would keep no weights" "S3: train --prune-at too"
run $DCC prune m.dct --std-factor 99 -o x.dct
refused 1 "would keep no weights" "S3: a std threshold above every weight"

# ---- S4: devices and FIFOs are written in place, never replaced ----
run $DCC prune m.dct --sparsity 0.5 -o /dev/full
refused 1 "No space left on device" "S4: /dev/full reports ENOSPC"
check [ -c /dev/full ]
run $DCC prune m.dct --sparsity 0.5 -o /dev/null
expect_status 0 "S4: -o /dev/null"
check [ -c /dev/null ]
mkfifo fifo
cat fifo >from_fifo &
run $DCC prune m.dct --sparsity 0.5 -o fifo
wait
expect_status 0 "S4: -o a FIFO"
check [ -p fifo ]
$DCC prune m.dct --sparsity 0.5 -o direct.dct >/dev/null
check cmp -s from_fifo direct.dct
# a symlink's target is replaced, the link kept
ln -s direct.dct link.dct
$DCC prune m.dct --sparsity 0.6 -o link.dct >/dev/null
check [ -L link.dct ]
check cmp -s link.dct direct.dct
mkdir -p ro && chmod 555 ro
run $DCC prune m.dct --sparsity 0.5 -o ro/x.dct
if [ "$(id -u)" -ne 0 ]; then refused 1 "Permission denied" "S4: a read-only directory, refused before the work"; fi
run $DCC prune m.dct --sparsity 0.5 -o nodir/x.dct
refused 1 "No such file or directory" "S4: a missing directory, refused before the work"

# ---- S5: plot emu wants emulator JSON ----
$DCC sensitivity m.dct --data d8 --limit 50 --json >sens.json
run $DCC plot emu sens.json -o e.png
refused 1 "not the output of dcc emu --json" "S5: sensitivity JSON to plot emu"
expect_no_file e.png "S5: no chart"
$DCC emu fz.dci --data d8 --limit 5 --json >emu.json
run $DCC plot sensitivity emu.json -o s.png
refused 1 "not the output of dcc sensitivity --json" "S5: and the other way"

# ---- S6: repeated keys in an .npy header ----
$PY -c "
import struct
h = b\"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'shape': (4,), }\n\"
open('dup.npy', 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h + b'\0' * 96)"
run $DCC import dup.npy -o dup.dct
refused 1 "'shape' twice" "S6: 'shape' twice"

# ---- S7: verify checks every stored fact ----
$PY - <<'EOF'
import struct
exec(open('mkgraph.py').read().split('def kv')[0])
def one(name, dtype, shape, bits, data, nnz):
    n = name.encode(); meta = struct.pack('<H', len(n)) + n + bytes([dtype, len(shape), bits, 0]) + b''.join(struct.pack('<Q', s) for s in shape) + struct.pack('<QQQI', 0, len(data), nnz, crc(data))
    doff = (64 + len(meta) + 63) & ~63
    h = b'\x89DCT' + struct.pack('<III', 1, 0, 64) + struct.pack('<QQQQQ', 0, 1, len(meta), doff, len(data)) + struct.pack('<I', crc(meta))
    return h + struct.pack('<I', crc(h)) + meta + b'\0' * (doff - 64 - len(meta)) + data
open('nnz.dct', 'wb').write(one('x', 0, [1], 32, struct.pack('<f', 1.0), 0))
open('pad.dct', 'wb').write(one('x', 15, [3], 1, b'\xff', 0))
EOF
run $DCC info --verify nnz.dct
refused 1 "nonzero" "S7: a stored nonzero count that is wrong"
run $DCC info --verify pad.dct
refused 1 "padding" "S7: mask padding bits set"

# ---- the siblings named in the issue ----
# a .dcb with the same layer record twice
$PY - <<'EOF'
import struct
exec(open('mkgraph.py').read().split('def kv')[0])
b = open('fz.dcb', 'rb').read(); nl, rs = struct.unpack_from('<IQ', b, 12); pos = (48 + rs + 7) & ~7
size, = struct.unpack_from('<I', b, pos)
h = bytearray(b[:48]); struct.pack_into('<I', h, 12, nl + 1); struct.pack_into('<I', h, 44, crc(bytes(h[:44])))
open('twice.dcb', 'wb').write(bytes(h) + b[48:pos] + b[pos:pos + size] + b[pos:])
EOF
run $DCC decode twice.dcb -o x.dct
refused 1 "twice" "a layer record twice"
# repeated keys in a per-layer spec
run $DCC prune m.dct --sparsity fc1=0.5,fc1=0.9 -o x.dct
refused 2 "fc1" "--sparsity fc1 twice"
run $DCC share p.dct --bits fc1=3,fc1=5 -o x.dct
refused 2 "fc1" "--bits fc1 twice"
# names with escapes and bytes that are not UTF-8
$PY -c "
import numpy as np
np.savez('names.npz', **{'a\x1b[2Jb': np.zeros(2, np.float32), 'ok': np.ones(2, np.float32)})"
$DCC import names.npz -o names.dct 2>/dev/null
run $DCC info names.dct
expect_status 0 "info of escape codes"
expect_out_has 'a\x1b[2Jb' "escape codes printed escaped"
check sh -c "! grep -q \"\$(printf '\\033')\" '$T/.out'"
$PY - <<'EOF'
exec(open('mkgraph.py').read().split("if __name__")[0])
import numpy as np
open('latin1.dct', 'wb').write(dct([], [(b'caf\xe9', np.zeros(2))]))
EOF
run $DCC info --json latin1.dct
expect_status 0 "info --json of a name that is not UTF-8"
check $PY -c "import json; d = json.load(open('$T/.out')); assert [t['name'] for t in d['tensors']] == ['caf\\\\xe9'], d"
run $DCC export latin1.dct -o l.safetensors
refused 1 "not UTF-8" "safetensors of a name that is not UTF-8"
$PY - <<'EOF'
exec(open('mkgraph.py').read().split("if __name__")[0])
import numpy as np
open('slip.dct', 'wb').write(dct([], [('../../etc/x', np.zeros(2))]))
EOF
run $DCC export slip.dct -o slip.npz
refused 1 "not a safe npz member name" "export of a member name out of the archive"
expect_no_file slip.npz "no archive written"

# ---- messages ----
run $DCC prune m.dct --sparsity -1 -o x.dct
refused 2 "see 'dcc prune --help'" "a usage error is one line"
mkdir -p small
$PY -c "
import struct
for pre, n in [('train', 200), ('t10k', 50)]:
    open('small/%s-images-idx3-ubyte' % pre, 'wb').write(bytes([0, 0, 8, 3]) + struct.pack('>III', n, 14, 14) + bytes(n * 196))
    open('small/%s-labels-idx1-ubyte' % pre, 'wb').write(bytes([0, 0, 8, 1]) + struct.pack('>I', n) + bytes(range(10)) * (n // 10))"
run $DCC train --init m.dct --data small --epochs 1 -o x.dct
refused 1 "m.dct: " "train --init names the model"
run $DCC prune m.dct --sparsity 0.5 --retrain 1 --data small -o x.dct
refused 1 "m.dct: " "prune --retrain names the model"
run $DCC share p.dct --bits 4 --finetune 1 --data small -o x.dct
refused 1 "p.dct: " "share --finetune names the model"
run $DCC dsd --init m.dct --data small -o x.dct
refused 1 "m.dct: " "dsd names the model"
run $DCC svd m.dct --layer fc1 --rank 4 --finetune 1 --data small -o x.dct
refused 1 "m.dct: " "svd --finetune names the model"
run $DCC emu fz.dci --data small --limit 5
refused 1 "fz.dci: " "emu names the program"
$PY - <<'EOF'
exec(open('mkgraph.py').read().split("if __name__")[0])
import numpy as np
w = np.zeros((4, 64)); w[1, 2] = np.nan
open('nan.dct', 'wb').write(dct([kv('dcc.graph', 4, ['flatten f', 'fc fc1 in=64 out=4', 'softmax_ce loss'], 3), kv('dcc.input_shape', 4, [1, 8, 8], 1), kv('dcc.classes', 1, 4)], [('fc1.weight', w), ('fc1.bias', np.zeros(4))]))
EOF
run $DCC train --init nan.dct --data d8 --epochs 1 -o x.dct
refused 1 "NaN" "NaN weights are the model's, not a divergence"
mkdir -p loop && ln -s train-images-idx3-ubyte loop/train-images-idx3-ubyte
run $DCC eval --data loop m.dct
refused 1 "symbolic links" "a symlink loop is not 'no such file'"

# ---- P1: an interrupted write leaves no temporary file ----
$PY -c "import numpy as np; np.save('w.npy', np.random.RandomState(0).randn(2000, 10000).astype(np.float32))"
$DCC import w.npy -o ref.dct
DCC=$DCC $PY - <<'EOF'
import filecmp, glob, os, signal, subprocess, time
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    for d in (0.05, 0.15, 0.3):
        p = subprocess.Popen([os.environ['DCC'], 'import', 'w.npy', '-o', 'imp.dct'], stderr=subprocess.DEVNULL)
        time.sleep(d); p.send_signal(sig); p.wait()
        left = glob.glob('.imp.dct.*')
        # killed before its rename: nothing; after it: the whole file
        whole = not os.path.exists('imp.dct') or filecmp.cmp('imp.dct', 'ref.dct', shallow=False)
        if left or not whole:
            print('FAILED: signal %d after %.2f s left %s' % (sig, d, left or 'a partial imp.dct')); raise SystemExit(1)
        if os.path.exists('imp.dct'): os.remove('imp.dct')
EOF
check [ $? -eq 0 ]
expect_no_temp "P1"
finish
