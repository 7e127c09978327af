#!/bin/sh
# test_fixed.sh: dcc fixed --search on a small network: it lowers the widths,
# stays within the margin on its held-out images, and records what it did.
. "$(dirname "$0")/lib.sh"
make_d8
$DCC train --net mlp:64-32-4 --data d8 --epochs 3 --lr 0.1 -o m.dct >/dev/null 2>&1
run $DCC fixed m.dct --data d8 --calib 32 --search --margin 2 --search-images 100 --json -o f.dct
expect_status 0 "search"
expect_err_has "search: fc weights at" "search progress"
check $PY -c "
import json; d = json.load(open('$T/.out'))
w = [l['w_bw'] for l in d['layers']]; a = [l['a_bw'] for l in d['layers']]
assert max(w) < 16 and max(a) < 16, (w, a)
assert d['accuracy_fixed'] >= d['accuracy_float'] - 0.10, d   # 200 test images: a loose check
assert d['unseen_images'] == 100 and 0 <= d['unseen_accuracy_fixed'] <= 1, d"
run $DCC info --json f.dct
check $PY -c "
import json; p = json.load(open('$T/.out'))['metadata']['dcc.provenance'][-1]
assert ' search=1 ' in p, p"
run $DCC fixed m.dct --data d8 --search --static -o x.dct
expect_status 2 "search with static"
run $DCC fixed m.dct --data d8 --search --margin -1 -o x.dct
expect_status 2 "negative margin"
# a weight no format can hold; no calibration data
$DCC export m.dct -o m.npz
$PY -c "
import numpy as np; d = dict(np.load('m.npz')); d['fc1.weight'][0, 0] = np.inf; np.savez('inf.npz', **d)"
$DCC import --net mlp:64-32-4 --data d8 inf.npz -o inf.dct
run $DCC fixed inf.dct --data d8 -o x.dct
expect_status 1 "infinite weight"
expect_err "dcc fixed: inf.dct: layer 'fc1': 'fc1.weight' holds inf, which no fixed-point format (fl -64..64) can hold" "infinite weight"
run $DCC fixed m.dct --data nodir -o x.dct
expect_status 1 "no calibration data"; expect_err_lines 1 "no calibration data"
run $DCC fixed m.dct --data d8 --weights 25 -o x.dct
expect_status 2 "width out of range"
expect_no_file x.dct "no output on failure"
finish
