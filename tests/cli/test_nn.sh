#!/bin/sh
# test_nn.sh: dcc train, eval and import --net from the command line: small
# runs on a synthetic 8x8 data set, repeatability, and the errors users meet.
. "$(dirname "$0")/lib.sh"

make_d8

run $DCC train --net lenet300 --data d8 --epochs 3 --lr 0.1 -o m.dct
expect_status 0 "train mlp on 8x8"
expect_out_has "lenet300: 3 epochs in" "train summary"
expect_err_has "train: epoch 3/3 loss" "progress line per epoch when not a terminal"
run $DCC info --json m.dct
check $PY -c "
import json; d = json.load(open('$T/.out'))
t = {x['name']: x['shape'] for x in d['tensors']}
assert t['fc1.weight'] == [300, 64] and t['fc3.weight'] == [4, 100], t
md = d['metadata']
assert md['dcc.input_shape'] == [1, 8, 8] and md['dcc.classes'] == 4 and md['dcc.net'] == 'lenet300'
assert md['dcc.graph'][0] == 'flatten flatten' and md['dcc.graph'][-1] == 'softmax_ce loss'
assert md['dcc.provenance'][-1].startswith('train net=lenet300 epochs=3'), md['dcc.provenance']
"
run $DCC eval --data d8 --json m.dct
expect_status 0 "eval json"
check $PY -c "
import json; d = json.load(open('$T/.out'))
assert d['images'] == 200 and 0.9 <= d['accuracy'] <= 1, d['accuracy']
assert len(d['confusion']) == 4 and sum(map(sum, d['confusion'])) == 200
"
run $DCC eval --data d8 m.dct
expect_status 0 "eval text"
expect_out_has "200 test images, accuracy" "eval text"
expect_out_has "class  accuracy   confusion" "eval text"

# The same seed and thread count give the same bytes.
$DCC train --net mlp:64-32-4 --data d8 --epochs 2 --seed 5 --threads 2 -o a.dct 2>/dev/null >/dev/null
$DCC train --net mlp:64-32-4 --data d8 --epochs 2 --seed 5 --threads 2 -o b.dct 2>/dev/null >/dev/null
check cmp -s a.dct b.dct
$DCC train --net mlp:64-32-4 --data d8 --epochs 2 --seed 6 --threads 2 -o c.dct 2>/dev/null >/dev/null
check test -n "$(cmp a.dct c.dct)"

# Continuing from a model.
run $DCC train --init a.dct --data d8 --epochs 1 -o a2.dct
expect_status 0 "train --init"
run $DCC info --json a2.dct
check $PY -c "
import json; p = json.load(open('$T/.out'))['metadata']['dcc.provenance']
assert len(p) == 2 and 'init=a.dct' in p[1], p"

# A small CNN from its spec: 3x3 convolutions with padding, pooling, fc layers.
run $DCC train --net cnn:4,8:16 --data d8 --epochs 2 --lr 0.05 -o cnn.dct
expect_status 0 "cnn spec"
run $DCC info --json cnn.dct
check $PY -c "
import json; g = json.load(open('$T/.out'))['metadata']['dcc.graph']
assert g[:3] == ['conv2d conv1 in=1 out=4 k=3 stride=1 pad=1', 'relu crelu1', 'maxpool2d pool1 k=2 stride=2'], g
assert 'fc fc1 in=32 out=16' in g and 'fc fc2 in=16 out=4' in g, g"
# --augment: the draws are recorded and move the training (other weights,
# other logits); vectors cannot be moved, and a bad spec is a usage error.
run $DCC train --net cnn:4,8:16 --data d8 --epochs 2 --lr 0.05 --augment flip,crop:1 -o aug.dct
expect_status 0 "augment"
run $DCC info --json aug.dct
check $PY -c "
import json; p = json.load(open('$T/.out'))['metadata']['dcc.provenance']
assert p[-1].endswith(' augment=flip,crop:1'), p"
$DCC eval --data d8 --logits la.npy aug.dct >/dev/null && $DCC eval --data d8 --logits lc.npy cnn.dct >/dev/null
check $PY -c "
import numpy as np; a, c = np.load('la.npy'), np.load('lc.npy')
assert a.shape == c.shape and np.isfinite(a).all() and not np.array_equal(a, c)"
$PY -c "
import numpy as np; r = np.random.default_rng(0)
np.savez('vec.npz', x_train=r.random((64, 6), np.float32), y_train=np.arange(64) % 2,
         x_test=r.random((8, 6), np.float32), y_test=np.arange(8) % 2)"
run $DCC train --net mlp:6-4-2 --data vec.npz --augment flip -o x.dct
expect_status 1 "augment vectors"; expect_err "dcc train: --augment moves images; the data's samples are 1x1x6" "augment vectors"
run $DCC train --net cnn:4:8 --data d8 --augment crop:8 -o x.dct
expect_status 1 "augment too far"; expect_err "dcc train: --augment crop:8 moves further than the 8x8 images" "augment too far"
run $DCC train --net cnn:4:8 --data d8 --augment flip,shift:1 -o x.dct
expect_status 2 "augment spec"; expect_err_has "--augment: 'flip,shift:1' is not flip, crop:P, flip,crop:P or none" "augment spec"
expect_err_lines 1 "augment spec"
expect_no_file x.dct "no output on failure"
# the retraining stages take it too
run $DCC prune aug.dct --sparsity 0.5 --retrain 1 --data d8 --augment crop:2 -o augp.dct
expect_status 0 "prune augment"
run $DCC info --json augp.dct
check $PY -c "
import json; p = json.load(open('$T/.out'))['metadata']['dcc.provenance']
assert ' retrain=1 augment=crop:2 ' in p[-1], p"
run $DCC prune aug.dct --sparsity 0.5 --data d8 --augment crop:2 -o augp0.dct
run $DCC info --json augp0.dct
check $PY -c "
import json; p = json.load(open('$T/.out'))['metadata']['dcc.provenance']
assert 'augment' not in p[-1], p"
run $DCC share aug.dct --bits 4 --finetune 1 --data d8 --augment flop -o x.dct
expect_status 2 "share augment spec"; expect_err_has "--augment: 'flop' is not flip" "share augment spec"
run $DCC train --net cnn:4,8,16,32:8 --data d8 -o x.dct
expect_status 1 "cnn too deep"; expect_err_has "pools 8x8 images below 1x1" "cnn too deep"

# Compressed training: 8-bit compute on float32 master weights.  Updates far
# below one 8-bit step still move the master copy.
run $DCC train --net mlp:64-32-4 --data d8 --epochs 3 --lr 0.1 --quant 8:8:16 -o q.dct
expect_status 0 "quant training"
check $PY -c "
import json, subprocess; p = json.loads(subprocess.run(['$DCC', 'info', '--json', 'q.dct'], capture_output=True, text=True).stdout)
assert p['metadata']['dcc.provenance'][-1].endswith('quant=8:8:16 window=4 master=fixed32 warmup=1') and p['metadata']['dcc.accuracy'] > 0.8"
# the masters are 32-bit fixed point: every weight a multiple of one 2^-fl
# per tensor, all below 2^31 steps (float32 masters are not)
$DCC train --net mlp:64-32-4 --data d8 --epochs 3 --lr 0.1 --quant 8:8:16 --master float -o qf.dct >/dev/null 2>&1
$DCC export q.dct -o q32.npz
$DCC export qf.dct -o qf.npz
check $PY -c "
import numpy as np
def on_grid(w):
    nz = w.astype(np.float64)[w != 0]
    f = next(f for f in range(-8, 80) if (np.ldexp(nz, f) % 1 == 0).all())  # the coarsest grid they are all on
    return np.abs(nz).max() * 2.0 ** f < 2 ** 31
a, b = np.load('q32.npz'), np.load('qf.npz')
assert all(on_grid(a[k]) for k in a.files), [k for k in a.files if not on_grid(a[k])]
assert not all(on_grid(b[k]) for k in b.files)"
$DCC train --init q.dct --data d8 --epochs 1 --lr 0.00001 --momentum 0 --weight-decay 0 --quant 8:8:16 --warmup 0 -o q2.dct >/dev/null 2>&1
$DCC export q.dct -o q.npz
$DCC export q2.dct -o q2.npz
check $PY -c "
import numpy as np; a = np.load('q.npz')['fc1.weight'].astype(np.float64); b = np.load('q2.npz')['fc1.weight'].astype(np.float64)
fl = 7 - int(np.ceil(np.log2(np.abs(a).max()))); step = 2.0 ** -fl
d = np.abs(b - a)
assert (d > 0).mean() > 0.5, 'the master weights moved'
assert d.max() < step / 4, (d.max(), step)          # every update far below one 8-bit step
q = lambda w: np.round(w * 2.0 ** fl)
assert (q(a) == q(b)).mean() > 0.9                   # an 8-bit copy alone would not have moved"
# the formats follow a window of batches: with a window longer than the
# run, a layer's scale never shrinks (its fl never grows) from epoch to epoch
run $DCC train --net mlp:64-32-4 --data d8 --epochs 4 --lr 0.1 --quant 8:8:16 --quant-window 12 --batch 16 -o qw.dct
expect_status 0 "quant window"
check $PY -c "
import re; fl = {}
for line in open('$T/.err'):
    g = re.match(r'train:\s+(\w+)\s+fl w\s+-?\d+\s+act\s+(-?\d+) .*err\s+(-?\d+) ', line)
    if g: fl.setdefault(g.group(1), []).append((int(g.group(2)), int(g.group(3))))
assert set(fl) == {'fc1', 'fc2'} and all(len(v) == 3 for v in fl.values()), fl
for v in fl.values():
    assert all(a[0] >= b[0] and a[1] >= b[1] for a, b in zip(v, v[1:])), fl"
run $DCC train --net mlp:64-32-4 --data d8 --quant 8:8 -o x.dct
expect_status 2 "bad quant"; expect_err_has "--quant: '8:8' is not W:A:E" "bad quant"

# Errors.
run $DCC train --net nosuch --data d8 -o x.dct
expect_status 1 "unknown net"
expect_err "dcc train: unknown network 'nosuch' (lenet300, lenet5, lstm, mlp:IN-H1-...-OUT, cnn:C1,...:F1,..., resnet:W1,...:N, mobilenet:C0,C1,...:E[:N])" "unknown net"
run $DCC train --net lenet5 --data d8 -o x.dct
expect_status 1 "lenet5 on 8x8"
expect_err "dcc train: d8: lenet5 cannot fit 8x8 images (it needs at least 16x16)" "lenet5 on 8x8"
run $DCC train --net mlp:60-10-4 --data d8 -o x.dct
expect_status 1 "mlp input"
expect_err "dcc train: d8: network 'mlp:60-10-4' takes 60 inputs but the data has 1x8x8 = 64" "mlp input"
run $DCC train --net lenet300 --data nodir -o x.dct
expect_status 1 "no data"
expect_err "dcc train: nodir: No such file or directory" "no data"
run $DCC train --net lenet300 --data d8 --lr -1 -o x.dct
expect_status 2 "bad lr"; expect_err_has "--lr must be in (0, 100)" "bad lr"
run $DCC train --data d8 -o x.dct
expect_status 2 "no net"; expect_err_has "give one of --net NAME or --init MODEL.dct" "no net"
expect_no_file x.dct "no output on failure"

mkdir bad
cp d8/* bad/
head -c 500 d8/t10k-images-idx3-ubyte >bad/t10k-images-idx3-ubyte
run $DCC eval --data bad m.dct
expect_status 1 "truncated data"
expect_err "dcc eval: bad/t10k-images-idx3-ubyte: IDX data truncated (484 of 12800 bytes)" "truncated data"
cp d8/* bad/
$PY -c "
import struct; b = open('d8/t10k-labels-idx1-ubyte','rb').read()
open('bad/t10k-labels-idx1-ubyte','wb').write(b[:4] + struct.pack('>I', 150) + b[8:158])"
run $DCC eval --data bad m.dct
expect_status 1 "mismatched labels"
expect_err "dcc eval: bad: the test set has 200 samples but 150 labels" "mismatched labels"

$PY -c "import numpy as np; np.save('w.npy', np.zeros((3, 4), np.float32))"
$DCC import w.npy -o bare.dct
run $DCC eval --data d8 bare.dct
expect_status 1 "eval bare"
expect_err "dcc eval: bare.dct: no network graph (dcc.graph): a bare container of tensors (create one with dcc train --net, or dcc import --net)" "eval bare"

# import --net: a state_dict checked against the network.
$DCC export m.dct -o sd.npz
run $DCC import --net lenet300 --data d8 sd.npz -o back.dct
expect_status 0 "import --net"
run $DCC eval --data d8 --logits l1.npy m.dct
run $DCC eval --data d8 --logits l2.npy back.dct
check cmp -s l1.npy l2.npy
$PY -c "
import numpy as np; d = dict(np.load('sd.npz')); d['fc2.weight'] = d['fc2.weight'][:, :50]; np.savez('bad.npz', **d)"
run $DCC import --net lenet300 --data d8 bad.npz -o x.dct
expect_status 1 "import --net shape"
expect_err "dcc import: tensor 'fc2.weight' is 100x50, the graph needs 100x300" "import --net shape"
$PY -c "
import numpy as np; d = dict(np.load('sd.npz')); d['extra.weight'] = np.zeros(3, np.float32); np.savez('extra.npz', **d)"
run $DCC import --net lenet300 --data d8 extra.npz -o x.dct
expect_status 1 "import --net extra"
expect_err "dcc import: tensor 'extra.weight' is not a parameter of lenet300" "import --net extra"
expect_no_file x.dct "import --net failures"
finish
