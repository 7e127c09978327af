#!/bin/sh
# test_prune.sh: dcc prune, dsd and sensitivity from the command line:
# exact counts, the bank- and PE-balanced invariants on the exported
# weights, masks through retraining and re-pruning, and the errors.
. "$(dirname "$0")/lib.sh"
make_d8
$DCC train --net mlp:64-48-32-4 --data d8 --epochs 3 --lr 0.1 -o m.dct >/dev/null 2>&1

# zeros LAYER FILE: the number of zero weights of a tensor in an exported .npz
zeros() { $PY -c "import numpy as np; print(int((np.load('$2')['$1'] == 0).sum()))"; }

run $DCC prune m.dct --sparsity 0.5 -o p.dct
expect_status 0 "prune 0.5"
expect_out_has "fc1.weight             48x64                  3072         1536   50.00%" "table"
$DCC export p.dct -o p.npz
check test "$(zeros fc1.weight p.npz)" -eq 1536
check test "$(zeros fc2.weight p.npz)" -eq 768
check test "$(zeros fc3.weight p.npz)" -eq 64
check test "$(zeros fc1.bias p.npz)" -eq 0
run $DCC info --json p.dct
check $PY -c "
import json; d = json.load(open('$T/.out')); t = {x['name']: x for x in d['tensors']}
assert t['fc1.weight.mask']['dtype'] == 'mask' and t['fc1.weight.mask']['shape'] == [48, 64]
assert t['fc1.weight']['nonzeros'] == 1536
assert 'fc1.bias.mask' not in t
p = d['metadata']['dcc.provenance'][-1]
assert p == 'prune sparsity=0.5 pattern=unstructured steps=1 retrain=0', p"

# Per layer, with a default; an exact count of ties (a model of equal weights).
run $DCC prune m.dct --sparsity fc1=0.9,default=0.25 -o q.dct
expect_status 0 "per-layer"
$DCC export q.dct -o q.npz
check test "$(zeros fc1.weight q.npz)" -eq 2765
check test "$(zeros fc2.weight q.npz)" -eq 384
$PY -c "import numpy as np; np.save('ones.npy', np.ones((10, 10), np.float32))"
$DCC import ones.npy -o ones.dct
run $DCC prune ones.dct --sparsity 0.37 -o ones_p.dct
expect_status 0 "bare container"
$DCC export ones_p.dct -o ones_p.npy
check $PY -c "import numpy as np; assert (np.load('ones_p.npy') == 0).sum() == 37"

# Re-pruning only removes more: the old zeros stay, the count grows.
run $DCC prune p.dct --sparsity 0.7 -o pp.dct
expect_status 0 "re-prune"
$DCC export pp.dct -o pp.npz
check $PY -c "
import numpy as np; a = np.load('p.npz'); b = np.load('pp.npz')
for k in ('fc1.weight', 'fc2.weight', 'fc3.weight'):
    assert ((a[k] == 0) <= (b[k] == 0)).all(), k
    assert (b[k] == 0).sum() == round(0.7 * b[k].size), k"
run $DCC prune p.dct --sparsity 0.2 -o pl.dct
expect_status 0 "re-prune to less"
$DCC export pl.dct -o pl.npz
check test "$(zeros fc1.weight pl.npz)" -eq 1536

# banks_keep FILE.npz TENSOR:B:K ...: every B consecutive weights of each
# row of TENSOR keep exactly K nonzeros.
banks_keep() {
	$PY - "$@" <<'PYEOF'
import sys, numpy as np
w = np.load(sys.argv[1])
for s in sys.argv[2:]:
    k, B, K = s.split(':'); a = w[k]
    banks = (a != 0).reshape(a.shape[0], -1, int(B)).sum(axis=2)
    assert (banks == int(K)).all(), (k, np.unique(banks))
PYEOF
}

# Bank-balanced: every bank of 8 consecutive weights of a row keeps 2.
run $DCC prune m.dct --sparsity 0.75 --bank 8 -o b.dct
expect_status 0 "bank"
$DCC export b.dct -o b.npz
check banks_keep b.npz fc1.weight:8:2 fc2.weight:8:2 fc3.weight:8:2
# ... and the kept weights are each bank's largest, unchanged.
$DCC export m.dct -o m.npz
check $PY -c "
import numpy as np; w = np.load('m.npz')['fc1.weight']; b = np.load('b.npz')['fc1.weight']
for r in range(w.shape[0]):
    for c0 in range(0, w.shape[1], 8):
        bank = np.abs(w[r, c0:c0 + 8]); kept = b[r, c0:c0 + 8] != 0
        assert bank[kept].min() >= bank[~kept].max()
        assert (b[r, c0:c0 + 8][kept] == w[r, c0:c0 + 8][kept]).all()"
# A row of 32 with banks of 12: the partial bank of 8 keeps round(8 x 0.5).
run $DCC prune m.dct --sparsity fc3=0.5 --bank 12 -o b12.dct
expect_status 0 "partial bank"
$DCC export b12.dct -o b12.npz
check $PY -c "
import numpy as np; a = np.load('b12.npz')['fc3.weight'] != 0
assert (a[:, 0:12].sum(1) == 6).all() and (a[:, 12:24].sum(1) == 6).all() and (a[:, 24:].sum(1) == 4).all()"
# Bank sizes per layer: fc3's rows of 32 in banks of 16, the others of 8.
run $DCC prune m.dct --sparsity 0.75 --bank fc3=16,default=8 -o bl.dct
expect_status 0 "bank per layer"
$DCC export bl.dct -o bl.npz
check banks_keep bl.npz fc1.weight:8:2 fc2.weight:8:2 fc3.weight:16:4
run $DCC info --json bl.dct
check $PY -c "
import json; d = json.load(open('$T/.out'))
assert ' pattern=bank bank=fc3=16,default=8 ' in d['metadata']['dcc.provenance'][-1], d['metadata']['dcc.provenance']"
run $DCC prune m.dct --sparsity 0.75 --bank fc3=16 -o x.dct
expect_status 2 "bank missing for a layer"
expect_err "dcc prune: --bank 'fc3=16' gives no bank size for 'fc1.weight' (name it, or add default=B) (see 'dcc prune --help')" "bank missing"
run $DCC prune m.dct --sparsity fc3=0.75 --bank fc3=16 -o b3.dct
expect_status 0 "bank for the one pruned layer"
run $DCC prune m.dct --sparsity 0.75 --bank 8,fc9=4 -o x.dct
expect_status 2 "bank unknown layer"; expect_err_has "--bank: no prunable layer 'fc9'" "bank unknown layer"
run $DCC prune m.dct --sparsity 0.75 --bank 2.5 -o x.dct
expect_status 2 "bank not whole"; expect_err_has "--bank: '2.5' is not a bank size in 1..65536" "bank not whole"

# PE-balanced: rows interleaved over 4 PEs, every PE keeps the same count.
run $DCC prune m.dct --sparsity 0.8 --balance-pes 4 -o e.dct
expect_status 0 "balance-pes"
$DCC export e.dct -o e.npz
check $PY -c "
import numpy as np; w = np.load('e.npz')
for k in ('fc1.weight', 'fc2.weight', 'fc3.weight'):
    a = w[k] != 0
    per = [int(a[pe::4].sum()) for pe in range(4)]
    assert len(set(per)) == 1 and per[0] == round(a.size * 0.2 / 4), (k, per)"

# Standard-deviation rule and one global threshold.
run $DCC prune m.dct --std-factor 0.5 -o s.dct
expect_status 0 "std-factor"
$DCC export s.dct -o s.npz
check $PY -c "
import numpy as np; w = np.load('m.npz'); s = np.load('s.npz')
for k in ('fc1.weight', 'fc2.weight', 'fc3.weight'):
    t = 0.5 * w[k].std()
    assert ((s[k] == 0) == (np.abs(w[k]) < np.float32(t))).all(), k"
run $DCC prune m.dct --global 0.6 -o g.dct
expect_status 0 "global"
$DCC export g.dct -o g.npz
check $PY -c "
import numpy as np; w = np.load('m.npz'); g = np.load('g.npz'); ks = ('fc1.weight', 'fc2.weight', 'fc3.weight')
z = sum(int((g[k] == 0).sum()) for k in ks); n = sum(g[k].size for k in ks)
assert z == round(0.6 * n), (z, n)
th = max(np.abs(w[k][g[k] == 0]).max() for k in ks)
assert all(np.abs(w[k][g[k] != 0]).min() >= th for k in ks)"

# Retraining keeps pruned weights at zero; iterative steps reach the target.
run $DCC prune m.dct --sparsity 0.8 --retrain 2 --steps 2 --data d8 -o r.dct
expect_status 0 "retrain"
expect_out_has "step 2/2: accuracy" "retrain report"
expect_err_has "retrain: epoch 2/2" "retrain progress"
$DCC export r.dct -o r.npz
check $PY -c "
import numpy as np; r = np.load('r.npz'); m = np.load('m.npz')
for k in ('fc1.weight', 'fc2.weight', 'fc3.weight'):
    assert (r[k] == 0).sum() == round(0.8 * r[k].size), k
assert not np.array_equal(r['fc1.bias'], m['fc1.bias']), 'retraining changed nothing'"
run $DCC train --init r.dct --data d8 --epochs 1 -o rt.dct
$DCC export rt.dct -o rt.npz
check $PY -c "
import numpy as np; a = np.load('r.npz'); b = np.load('rt.npz')
for k in ('fc1.weight', 'fc2.weight', 'fc3.weight'):
    assert ((a[k] == 0) == (b[k] == 0)).all(), k
assert not np.array_equal(a['fc1.weight'], b['fc1.weight'])"
# Exported, re-imported: the same logits.
run $DCC import --net mlp:64-48-32-4 --data d8 r.npz -o back.dct
expect_status 0 "re-import"
$DCC eval --data d8 --logits l1.npy r.dct >/dev/null
$DCC eval --data d8 --logits l2.npy back.dct >/dev/null
check cmp -s l1.npy l2.npy

# A CNN keeps its first layer unless asked.
make_d8 16
$DCC train --net lenet5 --data d16 --epochs 1 --limit 64 -o c.dct >/dev/null 2>&1
run $DCC prune c.dct --sparsity 0.5 -o cp.dct
expect_status 0 "cnn"
$DCC export cp.dct -o cp.npz
check test "$(zeros conv1.weight cp.npz)" -eq 0
check test "$(zeros conv2.weight cp.npz)" -eq 12500
run $DCC prune c.dct --sparsity conv1=0.5,default=0.1 -o cp1.dct
$DCC export cp1.dct -o cp1.npz
check test "$(zeros conv1.weight cp1.npz)" -eq 250
run $DCC prune c.dct --sparsity 0.5 --include-first -o cp2.dct
$DCC export cp2.dct -o cp2.npz
check test "$(zeros conv1.weight cp2.npz)" -eq 250

# Pruning during training: cut after epoch 2 of 4, train on with the mask.
run $DCC train --net mlp:64-48-32-4 --data d8 --epochs 4 --lr 0.1 --prune-at 2 --sparsity 0.75 -o pa.dct
expect_status 0 "prune-at"
expect_out_has "pruned after epoch 2: accuracy" "prune-at report"
expect_err_has "train: epoch 4/4" "the schedule runs on"
$DCC export pa.dct -o pa.npz
check $PY -c "
import numpy as np; w = np.load('pa.npz')
for k in ('fc1.weight', 'fc2.weight', 'fc3.weight'): assert (w[k] == 0).sum() == round(0.75 * w[k].size), k"
run $DCC info --json pa.dct
check $PY -c "
import json; d = json.load(open('$T/.out')); names = [t['name'] for t in d['tensors']]
assert 'fc1.weight.mask' in names and ' prune_at=2 sparsity=0.75 pattern=unstructured' in d['metadata']['dcc.provenance'][-1]"
run $DCC train --net mlp:64-48-32-4 --data d8 --epochs 2 --prune-at 1 --sparsity 0.5 --bank 8 -o pb2.dct
expect_status 0 "prune-at bank"
$DCC export pb2.dct -o pb2.npz
check banks_keep pb2.npz fc1.weight:8:4 fc2.weight:8:4 fc3.weight:8:4
run $DCC train --net mlp:64-48-32-4 --data d8 --epochs 2 --bank 8 -o x.dct
expect_status 2 "bank without prune-at"; expect_err_has "--bank and --balance-pes go with --prune-at" "bank alone"
run $DCC train --net mlp:64-48-32-4 --data d8 --prune-at 2 -o x.dct
expect_status 2 "prune-at alone"; expect_err_has "--prune-at E and --sparsity SPEC go together" "prune-at alone"
run $DCC train --net mlp:64-48-32-4 --data d8 --epochs 2 --prune-at 5 --sparsity 0.5 -o x.dct
expect_status 2 "prune-at past the end"

# DSD: three phases reported, the final model dense again.
run $DCC dsd --init m.dct --data d8 --sparse-epochs 1 --redense-epochs 1 --json -o dsd.dct
expect_status 0 "dsd"
check $PY -c "
import json; d = json.load(open('$T/.out'))
assert set(d) >= {'dense', 'sparse', 'redense', 'pruned'} and d['sparsity'] == 0.3, d
assert all(0 <= d[k] <= 1 for k in ('dense', 'sparse', 'redense'))"
$DCC export dsd.dct -o dsd.npz
run $DCC info --json dsd.dct
check $PY -c "
import json; d = json.load(open('$T/.out')); names = [t['name'] for t in d['tensors']]
assert not any(n.endswith('.mask') for n in names), names
assert d['metadata']['dcc.provenance'][-1].startswith('dsd init=m.dct dense_epochs=0 sparse_epochs=1')"
check $PY -c "
import numpy as np; w = np.load('dsd.npz')['fc1.weight']
z = (w == 0).sum(); assert z < 0.05 * w.size, z   # the re-dense phase regrew the pruned weights"
run $DCC dsd --net mlp:64-16-4 --data d8 --epochs 1 --sparse-epochs 1 --redense-epochs 1 -o dsd2.dct
expect_status 0 "dsd from scratch"
expect_out_has "dense:" "dsd dense"; expect_out_has "sparse:" "dsd sparse"; expect_out_has "re-dense:" "dsd re-dense"
run $DCC dsd --net mlp:64-16-4 --data d8 --dsd-sparsity 1 -o x.dct
expect_status 2 "dsd sparsity"; expect_err_has "--dsd-sparsity must be in (0, 1)" "dsd sparsity"

# Sensitivity: one row per layer, accuracy falls to chance as a layer empties.
run $DCC sensitivity --data d8 --levels 0,0.5,0.99 --budget 2 --json m.dct
expect_status 0 "sensitivity"
check $PY -c "
import json; d = json.load(open('$T/.out'))
assert [l['tensor'] for l in d['layers']] == ['fc1.weight', 'fc2.weight', 'fc3.weight']
assert d['levels'] == [0, 0.5, 0.99] and d['images'] == 200
for l in d['layers']:
    assert l['accuracy'][0] == d['baseline'], l
    assert l['suggested'] in d['levels']
    ok = [lv for lv, a in zip(d['levels'], l['accuracy']) if 100 * (d['baseline'] - a) <= 2 + 1e-9]
    assert l['suggested'] == max(ok), l
assert d['suggested_spec'].startswith('fc1.weight=')"
$DCC export m.dct -o m2.npz
check cmp -s m.npz m2.npz   # the model is not changed by the analysis
run $DCC sensitivity --data d8 --levels 0,2 m.dct
expect_status 2 "bad levels"; expect_err_has "--levels: '0,2' is not a list of fractions in [0, 1)" "bad levels"
run $DCC sensitivity --data d8 ones.dct
expect_status 1 "sensitivity bare"

# Errors.
run $DCC prune m.dct --sparsity 1 -o x.dct
expect_status 2 "sparsity 1"; expect_err_has "--sparsity: '1' is not a fraction in [0, 1)" "sparsity 1"
run $DCC prune m.dct --sparsity fc1=-0.1 -o x.dct
expect_status 2 "negative"; expect_err_has "--sparsity: '-0.1' is not a fraction in [0, 1)" "negative"
run $DCC prune m.dct --sparsity fc9=0.5 -o x.dct
expect_status 2 "unknown layer"
expect_err "dcc prune: --sparsity: no prunable layer 'fc9' (layers: fc1.weight, fc2.weight, fc3.weight) (see 'dcc prune --help')" "unknown layer"
run $DCC prune m.dct --sparsity 0.5 --bank 100 -o x.dct
expect_status 1 "bank > row"
expect_err "dcc prune: m.dct: 'fc1.weight': bank size 100 is outside 1..64 (the row length)" "bank > row"
# more PEs than rows (fc3 has 4): each row on its own PE, the rows balanced
run $DCC prune m.dct --sparsity 0.5 --balance-pes 8 -o x8.dct
expect_status 0 "pes > rows"
$DCC export x8.dct -o x8.npz
check $PY -c "
import numpy as np; w = np.load('x8.npz')
a = w['fc3.weight'] != 0; per = a.sum(1)
assert len(set(per)) == 1 and per[0] == round(a.size * 0.5 / 4), per
a = w['fc1.weight'] != 0; per = [int(a[pe::8].sum()) for pe in range(8)]
assert len(set(per)) == 1, per"
run $DCC prune m.dct --sparsity 0.5 --balance-pes 0 -o x.dct
expect_status 2 "pes 0"
run $DCC prune m.dct -o x.dct
expect_status 2 "no rule"; expect_err_has "give one of --sparsity, --std-factor or --global" "no rule"
run $DCC prune m.dct --global 0.5 --bank 4 -o x.dct
expect_status 2 "bank with global"
run $DCC prune ones.dct --sparsity 0.5 --retrain 1 -o x.dct
expect_status 2 "retrain bare"
expect_err "dcc prune: ones.dct: --retrain needs a model with a graph (dcc train, or dcc import --net)" "retrain bare"
run $DCC prune m.dct --sparsity 0.5 -o m.dct
expect_status 1 "overwrite input"
expect_no_file x.dct "no output on failure"
expect_no_temp "no temporary"
finish
