#!/bin/sh
# test_share.sh: dcc share from the command line: the stored form, export
# as dequantized floats or raw codebooks, fine-tuning that keeps indices and
# masks, per-layer bit specs, determinism and the errors.
. "$(dirname "$0")/lib.sh"
make_d8
$DCC train --net mlp:64-48-32-4 --data d8 --epochs 3 --lr 0.1 -o m.dct >/dev/null 2>&1
$DCC prune m.dct --sparsity 0.6 -o p.dct >/dev/null
$DCC export p.dct -o p.npz

run $DCC share p.dct --bits 3 -o s.dct
expect_status 0 "share"
expect_out_has "fc1.weight" "table"
run $DCC info --json s.dct
check $PY -c "
import json; d = json.load(open('$T/.out')); t = {x['name']: x for x in d['tensors']}
assert 'fc1.weight' not in t
assert t['fc1.weight.codebook']['shape'] == [8] and t['fc1.weight.codebook']['dtype'] == 'f32'
assert t['fc1.weight.index']['dtype'] == 'packed' and t['fc1.weight.index']['bits'] == 3, t['fc1.weight.index']
assert t['fc1.weight.index']['shape'] == [48, 64] and t['fc1.weight.mask']['shape'] == [48, 64]
assert d['metadata']['dcc.provenance'][-1].startswith('share bits=3 init=linear optimal=0 zero=0 finetune=0 fc1.weight:bits=3,iterations=')"
$DCC export s.dct -o s.npz
$DCC export --raw s.dct -o raw.npz
check $PY -c "
import numpy as np; p = np.load('p.npz'); s = np.load('s.npz'); r = np.load('raw.npz')
for k in ('fc1.weight', 'fc2.weight', 'fc3.weight'):
    assert ((p[k] == 0) == (s[k] == 0)).all(), k          # zeros stay zero, survivors stay
    assert len(np.unique(s[k][s[k] != 0])) <= 8, k
    cb = r[k + '.codebook']; assert cb.shape == (8,) and (np.diff(cb) >= 0).all()
    # each survivor took its nearest centroid
    d = np.abs(p[k][p[k] != 0][:, None] - cb[None, :]).min(1)
    assert np.allclose(np.abs(p[k][p[k] != 0] - s[k][s[k] != 0]), d, atol=0, rtol=0), k
assert (p['fc1.bias'] == s['fc1.bias']).all()
"
# dequantize(share(x)) round-trips: export, import, evaluate the same
$DCC import --net mlp:64-48-32-4 --data d8 s.npz -o back.dct
$DCC eval --data d8 --logits l1.npy s.dct >/dev/null
$DCC eval --data d8 --logits l2.npy back.dct >/dev/null
check cmp -s l1.npy l2.npy
# the same input and options give the same bytes
$DCC share p.dct --bits 3 -o s2.dct >/dev/null 2>&1
check cmp -s s.dct s2.dct

# a layer of over a million weights goes through the passes split over the
# cores: a bare one (its nonzeros make the mask) and a pruned one (its mask)
$PY -c "
import numpy as np; r = np.random.default_rng(5); w = r.standard_normal((1100, 1000)).astype(np.float32)
w[r.random(w.shape) < 0.85] = 0; w[7, 3] = 0.0; np.save('big.npy', w)"
$DCC import big.npy -o big.dct >/dev/null
$DCC prune big.dct --sparsity 0.9 -o bigp.dct >/dev/null
for f in big bigp; do
	run $DCC share $f.dct --bits 5 -o ${f}_s.dct
	expect_status 0 "share $f"
	$DCC export $f.dct -o ${f}_w.npy
	$DCC export ${f}_s.dct -o ${f}_d.npy
	$DCC export --raw ${f}_s.dct -o ${f}_r.npz
	check $PY -c "
import numpy as np; w = np.load('${f}_w.npy'); d = np.load('${f}_d.npy'); r = np.load('${f}_r.npz')
cb = r['weight.codebook'] if 'weight.codebook' in r else r[[k for k in r if k.endswith('.codebook')][0]]
m = w != 0; assert ((d != 0) == m).all()
idx = np.abs(w[m][:, None] - cb[None, :]).argmin(1)
assert (np.abs(w[m] - d[m]) == np.abs(w[m] - cb[idx])).all()
mk = r[[k for k in r if k.endswith('.mask')][0]]; assert (mk.astype(bool) == m).all()"
done

# per-layer bits; optimal never worse than Lloyd; every init
run $DCC share p.dct --bits fc1=2,default=4 --json -o s4.dct
expect_status 0 "per-layer bits"
check $PY -c "
import json; d = json.load(open('$T/.out')); b = {l['tensor']: l['bits'] for l in d['layers']}
assert b == {'fc1.weight': 2, 'fc2.weight': 4, 'fc3.weight': 4}, b"
$DCC share p.dct --bits 4 --json -o l.dct >lloyd.json 2>/dev/null
$DCC share p.dct --bits 4 --optimal --json -o o.dct >opt.json 2>/dev/null
check $PY -c "
import json; a = json.load(open('lloyd.json'))['layers']; b = json.load(open('opt.json'))['layers']
for x, y in zip(a, b): assert y['sse'] <= x['sse'] * (1 + 1e-9), (x, y)"
for init in density random kmeans++; do
	run $DCC share p.dct --bits 3 --init $init -o i.dct
	expect_status 0 "init $init"
done

# fine-tuning: indices and masks fixed, centroids move, loss goes down
run $DCC share p.dct --bits 2 --finetune 2 --data d8 --lr 0.01 --json -o f.dct
expect_status 0 "finetune"
expect_err_has "finetune: epoch 2/2" "finetune progress"
check $PY -c "
import json; d = json.load(open('$T/.out'))
assert 'accuracy_finetuned' in d and d['accuracy_finetuned'] >= d['accuracy_shared'] - 0.02, d"
$DCC share p.dct --bits 2 -o nf.dct >/dev/null 2>&1
$DCC export --raw nf.dct -o nf.npz
$DCC export --raw f.dct -o f.npz
check $PY -c "
import numpy as np; a = np.load('nf.npz'); b = np.load('f.npz')
for k in ('fc1.weight', 'fc2.weight', 'fc3.weight'):
    assert (a[k + '.index'] == b[k + '.index']).all() and (a[k + '.mask'] == b[k + '.mask']).all(), k
assert not np.array_equal(a['fc1.weight.codebook'], b['fc1.weight.codebook'])"
$DCC eval --data d8 --json nf.dct >e1.json
$DCC eval --data d8 --json f.dct >e2.json
check $PY -c "
import json; a = json.load(open('e1.json')); b = json.load(open('e2.json'))
assert b['loss'] < a['loss'], (a['loss'], b['loss'])"

# a bare container: every float tensor of 2+ dimensions; fewer values than clusters is exact
$PY -c "
import numpy as np
np.savez('bare.npz', a=np.array([[1, 2, 2], [3, 0, 1]], np.float32), v=np.ones(5, np.float32))"
$DCC import bare.npz -o bare.dct
run $DCC share bare.dct --bits 2 -o bs.dct
expect_status 0 "bare share"
expect_out_has "(no more values than clusters: exact)" "exact note"
$DCC export bs.dct -o bs.npz
check $PY -c "
import numpy as np; d = np.load('bs.npz'); assert (d['a'] == [[1, 2, 2], [3, 0, 1]]).all() and (d['v'] == 1).all()"

# errors
run $DCC share p.dct --bits 0 -o x.dct
expect_status 2 "0 bits"; expect_err_has "--bits: '0' is not a bit count in 1..16" "0 bits"
run $DCC share p.dct --bits 17 -o x.dct
expect_status 2 "17 bits"
run $DCC share p.dct --bits fc9=4 -o x.dct
expect_status 2 "unknown layer"; expect_err_has "dcc share: --bits: no layer 'fc9'" "unknown layer"
run $DCC share s.dct --bits 4 -o x.dct
expect_status 1 "shared twice"; expect_err "dcc share: s.dct: 'fc1.weight' is already shared" "shared twice"
run $DCC share p.dct --bits 4 --init nosuch -o x.dct
expect_status 2 "bad init"
$PY -c "import numpy as np; np.save('z.npy', np.zeros((3, 3), np.float32))"
$DCC import z.npy -o z.dct
run $DCC share z.dct --bits 2 -o x.dct
expect_status 1 "empty layer"; expect_err "dcc share: z.dct: 'z' has no surviving weights to share" "empty layer"
run $DCC prune s.dct --sparsity 0.5 -o x.dct
expect_status 1 "prune after share"
expect_err "dcc prune: s.dct: 'fc1.weight' is shared (codebook and index): prune before dcc share and dcc fixed" "prune after share"
expect_no_file x.dct "no output on failure"
finish
