#!/bin/sh
# test_emu.sh: dcc compile, disasm, asm and emu from the command line: the
# emulator's outputs equal dcc eval --fixed bit for bit for several PE
# counts and FIFO depths; asm/disasm round trips; mismatched, malformed and
# out-of-range programs give one clear line.
. "$(dirname "$0")/lib.sh"
make_d8
$DCC train --net mlp:64-48-32-4 --data d8 --epochs 3 --lr 0.1 -o m.dct >/dev/null 2>&1
$DCC prune m.dct --sparsity 0.7 -o p.dct >/dev/null
$DCC share p.dct --bits 4 --zero -o s.dct >/dev/null 2>&1
for w in 16 8; do
	$DCC fixed s.dct --data d8 --calib 64 --weights $w --acts $w --force -o f.dct >/dev/null
	$DCC eval --data d8 --fixed --logits ref.npy f.dct >/dev/null
	for pes in 1 3 64; do
		$DCC encode f.dct --layout eie --pes $pes --force -o f.dcb >/dev/null
		run $DCC compile f.dcb --pes $pes --force -o f.dci
		expect_status 0 "compile $w $pes"
		for fifo in 1 8; do
			run $DCC emu f.dcb f.dci --data d8 --fifo $fifo --logits emu.npy
			expect_status 0 "emu $w bits, $pes PEs, FIFO $fifo"
			check cmp -s ref.npy emu.npy
			rm -f emu.npy
		done
	done
done
run $DCC emu f.dcb f.dci --data d8 --json --count 50
expect_status 0 "emu json"
check $PY -c "
import json; d = json.load(open('$T/.out'))
assert d['inputs'] == 50 and len(d['layers']) == 3 and d['pes'] == 64, d
l = d['layers'][0]; assert l['rows'] == 48 and l['cols'] == 64 and l['cycles'] > 0
assert 0 < l['load_balance'] <= 1 and 0 < l['utilisation'] <= 1 and l['bound'] == 'compute'"
# a bigger FIFO never balances the load worse
run $DCC emu f.dcb f.dci --data d8 --count 40 --sweep fifo=1,8,64 --json
check $PY -c "
import json; rows = json.load(open('$T/.out'))
lb = [r['layers'][0]['load_balance'] for r in rows]
assert lb[0] <= lb[1] + 1e-9 <= lb[2] + 2e-9, lb"
# asm and disasm round-trip to the identical binary
$DCC disasm f.dci >f.s
check grep -q '^spmv desc=0x' f.s
run $DCC asm f.s -o g.dci
expect_status 0 "asm"
check cmp -s f.dci g.dci
# a CNN (LeNet-5 on 16x16 images): convolutions as sparse matrix-vector
# products per output position, max-pooling, then the fc layers
make_d8 16
$DCC train --net lenet5 --data d16 --epochs 1 --limit 300 -o c.dct >/dev/null 2>&1
$DCC prune c.dct --sparsity 0.6 -o cp.dct >/dev/null
$DCC share cp.dct --bits 4 --zero -o cs.dct >/dev/null 2>&1
$DCC fixed cs.dct --data d16 --calib 32 -o cf.dct >/dev/null
$DCC eval --data d16 --fixed --logits cref.npy cf.dct >/dev/null
for pes in 1 8; do
	$DCC encode cf.dct --layout eie --pes $pes --force -o cf.dcb >/dev/null
	run $DCC compile cf.dcb --pes $pes --convolvers 0 --force -o cf.dci
	expect_status 0 "compile cnn $pes"
	run $DCC emu cf.dcb cf.dci --data d16 --fifo 4 --logits cemu.npy
	expect_status 0 "emu cnn $pes"
	check cmp -s cref.npy cemu.npy
	rm -f cemu.npy
done
$DCC disasm cf.dci >cf.s
check grep -q '^spconv desc=0x' cf.s
check grep -q '^maxpool in=1 out=0 c=20 h=12 w=12 k=2 stride=2' cf.s
$DCC asm cf.s -o cg.dci
check cmp -s cf.dci cg.dci
# the same convolutions on the convolver engine (dense 16-bit weights, tiled
# to its buffers): every engine shape and buffer size gives the same bits;
# 5x5 kernels on a 3x3, 2x2 or 5x5 convolver
for eng in "1 1 3 32" "16 4 3 32" "3 5 5 1" "7 3 2 2" "2 2 3 2"; do
	set -- $eng
	run $DCC compile cf.dcb --pes 8 --conv-pes $1 --convolvers $2 --conv-k $3 --conv-buf-kb $4 --force -o cv.dci
	expect_status 0 "compile convolver $eng"
	run $DCC emu cf.dcb cv.dci --data d16 --logits cemu.npy
	expect_status 0 "emu convolver $eng"
	check cmp -s cref.npy cemu.npy
	rm -f cemu.npy
done
$DCC disasm cv.dci >cv.s
check grep -q '^conv desc=0x.* in=0 out=1$' cv.s
check grep -q '^.convolver pes=2 convolvers=2 k=3 buf_kb=2' cv.s
$DCC asm cv.s -o cw.dci
check cmp -s cv.dci cw.dci
run $DCC emu cf.dcb cv.dci --data d16 --count 20 --json
check $PY -c "
import json; d = json.load(open('$T/.out'))
c1 = d['layers'][0]; assert c1['engine'] == 'convolver' and c1['multipliers'] == 2 * 2 * 9, c1
# conv1: 20 x (1 x 5 x 5) x 12 x 12 MACs, dense; 20 channels on 2 PEs, 1 channel on 2 convolvers
assert c1['macs'] == 20 * 25 * 144 and abs(c1['utilisation'] - 25 / (2 * 36)) < 1e-6, c1
assert c1['dram_bytes'] > 20 * 25 * 2 and c1['tile'][0] >= 1, c1
assert d['layers'][2]['engine'] == 'pe-array'"
# padding 1 (a cnn: spec) through the engine, several tilings
$DCC train --net cnn:6,5:16 --data d8 --epochs 1 --limit 200 -o pc.dct >/dev/null 2>&1
$DCC share pc.dct --bits 4 --zero -o pcs.dct >/dev/null 2>&1
$DCC fixed pcs.dct --data d8 --calib 32 -o pcf.dct >/dev/null
$DCC eval --data d8 --fixed --logits pref.npy pcf.dct >/dev/null
$DCC encode pcf.dct --layout eie --pes 4 -o pcf.dcb >/dev/null
for buf in 1 2 64; do
	run $DCC compile pcf.dcb --pes 4 --conv-pes 5 --convolvers 3 --conv-buf-kb $buf --force -o pcv.dci
	expect_status 0 "compile padded convolver $buf"
	run $DCC emu pcf.dcb pcv.dci --data d8 --logits pemu.npy
	expect_status 0 "emu padded convolver $buf"
	check cmp -s pref.npy pemu.npy
	rm -f pemu.npy
done
# the emulator reruns over convolver counts
run $DCC emu pcf.dcb pcv.dci --data d8 --count 10 --sweep convolvers=1,2,6 --json
expect_status 0 "sweep convolvers"
check $PY -c "
import json; rows = json.load(open('$T/.out'))
cy = [sum(l['compute_cycles'] for l in r['layers'] if l['engine'] == 'convolver') for r in rows]
assert [r['convolvers'] for r in rows] == [1, 2, 6] and cy[0] > cy[1] > cy[2], cy"
# engines mixed wrongly: a conv without a convolver engine; weights too big
grep -v '^.convolver' cv.s >nc.s
run $DCC asm nc.s -o nc.dci
expect_status 1 "conv without engine"; expect_err_has "conv in a program without a convolver engine" "conv without engine"
run $DCC compile cf.dcb --conv-pes 64 --convolvers 16 --conv-buf-kb 1 --force -o cx.dci
expect_status 1 "no tiling"; expect_err_lines 1 "no tiling"
expect_err_has "layer 'conv1': a 5x5 convolution's weights for 64 x 16 convolvers do not fit a 1 KB buffer" "no tiling"
check test ! -e cx.dci
# a VGG-16 layer by the cycle model
run $DCC emu --synthetic-conv 256,56,56,256,3,1,1 --freq 150 --dram-gbps 4.2 --json
expect_status 0 "synthetic conv"
check $PY -c "
import json; d = json.load(open('$T/.out'))
assert abs(d['macs'] / (256 * 256 * 9 * 56 * 56) - 1) < 1e-5 and d['multipliers'] == 576, d
assert 0.5 * 172.8 < d['gops'] <= 172.8, d"

# the row LSTM: two spmv per step, a saturating add and the cell
$DCC train --net lstm --data d8 --epochs 2 --lr 0.1 -o l.dct >/dev/null 2>&1
$DCC prune l.dct --sparsity 0.5 -o lp.dct >/dev/null
$DCC share lp.dct --bits 4 --zero -o ls.dct >/dev/null 2>&1
for w in "16" "8 --acts 12"; do
	$DCC fixed ls.dct --data d8 --calib 32 --weights $w --force -o lf.dct >/dev/null
	$DCC eval --data d8 --fixed --logits lref.npy lf.dct >/dev/null
	$DCC encode lf.dct --layout eie --pes 16 --force -o lf.dcb >/dev/null
	run $DCC compile lf.dcb --pes 16 --force -o lf.dci
	expect_status 0 "compile lstm"
	run $DCC emu lf.dcb lf.dci --data d8 --logits lemu.npy
	expect_status 0 "emu lstm"
	check cmp -s lref.npy lemu.npy
	rm -f lemu.npy
done
$DCC disasm lf.dci >lf.s
check grep -q '^lstmcell desc=0x' lf.s
check grep -q '^ewop add a=1 b=2 out=1 n=512 shift=12' lf.s
$DCC asm lf.s -o lg.dci
check cmp -s lf.dci lg.dci

# errors: another blob, a malformed program, DRAM out of range, a float model
$DCC encode f.dct --layout eie --pes 3 --force -o other.dcb >/dev/null
run $DCC emu other.dcb f.dci --data d8
expect_status 1 "blob mismatch"
expect_err_has "compiled from a different blob" "blob mismatch"
head -c 70 f.dci >t.dci
run $DCC emu f.dcb t.dci --data d8
expect_status 1 "truncated program"; expect_err_lines 1 "truncated program"
sed 's/^load buf=0 dram=0x0/load buf=0 dram=0x7ffffff0/' f.s >bad.s
run $DCC asm bad.s -o bad.dci
expect_status 1 "dram range"; expect_err_has "outside the" "dram range"
printf 'nonsense\n' >bad2.s
run $DCC asm bad2.s -o bad2.dci
expect_status 1 "bad asm"; expect_err "dcc asm: bad2.s: line 1: unknown instruction 'nonsense'" "bad asm"
$DCC share p.dct --bits 3 -o s3.dct >/dev/null 2>&1
$DCC fixed s3.dct --data d8 --calib 32 -o f3.dct >/dev/null
$DCC encode f3.dct -o f3.dcb >/dev/null
run $DCC compile f3.dcb -o x.dci
expect_status 1 "not eie-ready"
expect_err_has "needs 4-bit shared weights with codebook entry 0 zero" "not eie-ready"
run $DCC emu --synthetic 100x200 --weight-density 0.1 --act-density 0.5 --pes 8 --json
expect_status 0 "synthetic"
check $PY -c "
import json; d = json.load(open('$T/.out')); assert d['rows'] == 100 and d['cols'] == 200 and d['cycles'] > 0"
run $DCC emu --synthetic 100x200 --weight-density 0 --act-density 0.5
expect_status 2 "synthetic density"
expect_no_file x.dci "no output on failure"
finish
