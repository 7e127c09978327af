#!/bin/sh
# test_encode.sh: dcc encode, decode and report from the command line:
# exact round trips for every layout, index width and coder on a pruned,
# shared and fixed model and on bare layers with extreme columns; corrupted
# and truncated blobs give one clear line and no output; the report.
. "$(dirname "$0")/lib.sh"
make_d8
$DCC train --net mlp:64-48-32-4 --data d8 --epochs 2 --lr 0.1 -o m.dct >/dev/null 2>&1
$DCC prune m.dct --sparsity 0.8 -o p.dct >/dev/null
$DCC share p.dct --bits 4 --zero -o s.dct >/dev/null 2>&1
$DCC fixed s.dct --data d8 --calib 32 -o f.dct >/dev/null
$DCC share p.dct --bits 3 -o s3.dct >/dev/null 2>&1
$DCC fixed p.dct --data d8 --calib 32 --weights 6 --acts 8 -o fq.dct >/dev/null

for model in s.dct f.dct s3.dct fq.dct; do
	for ent in huffman zstd none; do
		for ib in 1 3 5 8; do
			run $DCC encode $model --entropy $ent --index-bits $ib --force -o b.dcb
			expect_status 0 "encode $model $ent $ib"
			run $DCC decode b.dcb --force -o d.dct
			expect_status 0 "decode $model $ent $ib"
			check cmp -s $model d.dct
		done
	done
done
for model in s.dct f.dct; do
	for pes in 1 3 64; do
		run $DCC encode $model --layout eie --pes $pes --force -o e.dcb
		expect_status 0 "eie $model $pes"
		run $DCC decode e.dcb --force -o d.dct
		check cmp -s $model d.dct
	done
done
$DCC eval --data d8 --fixed --logits l1.npy f.dct >/dev/null
$DCC encode f.dct -o f.dcb >/dev/null
$DCC decode f.dcb -o fd.dct
$DCC eval --data d8 --fixed --logits l2.npy fd.dct >/dev/null
check cmp -s l1.npy l2.npy

# compressed sparse banks for a bank-balanced layer, refused for another
$DCC prune m.dct --sparsity 0.75 --bank 8 -o pb.dct >/dev/null
$DCC share pb.dct --bits 3 -o sb.dct >/dev/null 2>&1
for ent in huffman none; do
	run $DCC encode sb.dct --layout cbs --bank 8 --entropy $ent --force -o cbs.dcb
	expect_status 0 "cbs $ent"
	$DCC decode cbs.dcb --force -o cbsd.dct
	check cmp -s sb.dct cbsd.dct
done
run $DCC report --json cbs.dcb
check $PY -c "
import json; d = json.load(open('$T/.out')); assert all(l['layout'] == 'cbs' and l['fillers'] == 0 for l in d['layers'])"
run $DCC encode s3.dct --layout cbs --bank 8 -o x.dcb
expect_status 1 "cbs on an unbalanced layer"
expect_err_has "not bank-balanced for banks of 8" "cbs on an unbalanced layer"
run $DCC encode s3.dct --layout cbs -o x.dcb
expect_status 1 "cbs, no bank recorded"
expect_err "dcc encode: s3.dct: 'fc1.weight': no bank size recorded (dcc prune --bank B) and no --bank B" "cbs, no bank recorded"
run $DCC encode p.dct --bank 8 -o x.dcb
expect_status 2 "--bank without cbs"
# each layer's own bank size, as prune cut it: fc1 rows of 64 in banks of 16,
# fc2 and fc3 rows of 48 and 32 in banks of 8
$DCC prune m.dct --sparsity 0.75 --bank 16,fc2.weight=8,fc3.weight=8 -o pb2.dct >/dev/null
$DCC share pb2.dct --bits 3 -o sb2.dct >/dev/null 2>&1
run $DCC encode sb2.dct --layout cbs -o cbs2.dcb
expect_status 0 "cbs, per-layer banks"
run $DCC report --json cbs2.dcb
check $PY -c "
import json; d = json.load(open('$T/.out'))
assert [(l['layer'], l['layout'], l['pes']) for l in d['layers']] == [('fc1.weight', 'cbs', 16), ('fc2.weight', 'cbs', 8), ('fc3.weight', 'cbs', 8)], d['layers']"
$DCC decode cbs2.dcb -o cbs2d.dct
check cmp -s sb2.dct cbs2d.dct
run $DCC encode sb2.dct --layout cbs --bank 32 -o x.dcb
expect_status 1 "--bank overrides every layer's"
expect_err_has "'fc2.weight': bank size 32 does not divide the rows of 48 weights" "--bank overrides every layer's"

# bare layers with extreme columns: empty, full, one nonzero far down, all equal
$PY -c "
import numpy as np
rng = np.random.default_rng(3)
a = np.zeros((300, 7), np.float32)
a[:, 1] = rng.standard_normal(300)            # a full column
a[299, 2] = 1.5                                # one nonzero after a long gap
a[::37, 3] = 0.25                              # all equal
a[rng.random(300) < 0.05, 4] = rng.standard_normal(300)[:1]
b = np.full((5, 5), 2.0, np.float32)           # one value everywhere
np.savez('bare.npz', a=a, b=b)"
$DCC import bare.npz -o bare.dct
$DCC share bare.dct --bits 2 -o bs.dct >/dev/null 2>&1
for ent in huffman zstd none; do
	for ib in 1 2 4 16; do
		run $DCC encode bs.dct --entropy $ent --index-bits $ib --force -o bb.dcb
		expect_status 0 "bare $ent $ib"
		$DCC decode bb.dcb --force -o bd.dct
		check cmp -s bs.dct bd.dct
	done
done

# the report
$DCC encode s.dct -o s.dcb >/dev/null
run $DCC report --json --baseline m.dct s.dcb
expect_status 0 "report"
check $PY -c "
import json; d = json.load(open('$T/.out'))
assert [l['layer'] for l in d['layers']] == ['fc1.weight', 'fc2.weight', 'fc3.weight']
import os; assert d['blob_bytes'] == os.path.getsize('s.dcb')
assert d['dense_f32_bytes'] == 4 * (48 * 64 + 48 + 32 * 48 + 32 + 4 * 32 + 4)
l = d['layers'][0]; assert l['weights'] == 3072 and l['nonzero'] == round(0.2 * 3072), l
assert sum(x['bytes'] for x in d['layers']) + d['container_bytes'] <= d['blob_bytes']"
run $DCC report s.dcb
expect_out_has "fc1.weight" "report text"
expect_out_has "zstd -19 on the dense float32 weights" "report zstd line"

# errors: models with nothing to encode, EIE without a zero codebook entry
run $DCC encode m.dct -o x.dcb
expect_status 1 "float model"
expect_err "dcc encode: m.dct: no shared or fixed-point weight layer to encode (run dcc share or dcc fixed first)" "float model"
run $DCC encode s3.dct --layout eie -o x.dcb
expect_status 1 "eie without zero"
expect_err_has "the EIE layout needs 4-bit shared weights whose codebook entry 0 is zero (dcc share --bits 4 --zero)" "eie without zero"
run $DCC encode s.dct --index-bits 17 -o x.dcb
expect_status 2 "index bits"
run $DCC decode m.dct -o x.dct
expect_status 1 "decode a dct"; expect_err "dcc decode: m.dct: not a dcc blob (make one with dcc encode)" "decode a dct"

# corrupted blobs: every flipped byte and truncation is caught, no output, no crash
size=$(wc -c <s.dcb)
bad=0 caught=0
i=0
while [ $i -lt "$size" ]; do
	$PY -c "
import sys; b = bytearray(open('s.dcb', 'rb').read()); b[$i] ^= 0x5a; open('c.dcb', 'wb').write(b)"
	$DCC decode c.dcb -o x.dct 2>err.txt
	rc=$?
	if [ $rc -eq 1 ] && [ "$(wc -l <err.txt)" -eq 1 ]; then caught=$((caught + 1)); else bad=$((bad + 1)); echo "byte $i: rc $rc" >&2; cat err.txt >&2; fi
	i=$((i + size / 40 + 1))
done
check test $bad -eq 0
check test $caught -gt 30
for cut in 0 7 47 48 100 $((size / 2)) $((size - 1)); do
	head -c $cut s.dcb >t.dcb
	run $DCC decode t.dcb -o x.dct
	expect_status 1 "truncated at $cut"
	expect_err_lines 1 "truncated at $cut: one line"
done
expect_no_file x.dct "no output from a bad blob"
expect_no_temp "no temporary"
finish
