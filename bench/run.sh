#!/bin/sh
# run.sh: `make bench` -- speed and quality figures, each beside a peer
# measured in the same run on the same machine.  Figures only: nothing here
# passes or fails on time.  Set BENCH_ONLY=name to run one section.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
: "${DCC:=$top/dcc}"
: "${HUFFBENCH:=$top/build/release/bench/huffbench}" "${GEMMFLOOR:=$top/build/release/bench/gemmfloor}"
PY=/usr/bin/python3
out=$top/bench/out
mkdir -p "$out"
cd "$out"
only=${BENCH_ONLY:-}

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | xargs printf '%.3f'; }
# peak RSS in MB of a command: rss CMD... (its standard output kept in $out/.stdout)
rss() { /usr/bin/time -f "%M" -o "$out/.rss" "$@" >"$out/.stdout"; echo "$(( $(cat "$out/.rss") * 1024 / 1000000 ))"; } # MB, as the layer sizes
want() { [ -z "$only" ] || [ "$only" = "$1" ]; }

echo "dcc bench on $(nproc) cores, $(sed -n 's/^model name.*: //p' /proc/cpuinfo | head -1)"

if want info; then
	echo
	echo "== dcc info on a 400 MB container (one 100M-element f32 tensor)"
	if [ ! -f big.dct ] || [ ! -f big.npy ]; then
		$PY -c "import numpy as np; a = np.lib.format.open_memmap('big.npy', 'w+', np.float32, (10000, 10000)); a[:] = 1.0; a.flush()"
		$DCC import big.npy -o big.dct
	fi
	sync
	t0=$(now); $DCC info big.dct >/dev/null; t1=$(now)
	$DCC info --verify big.dct >/dev/null; t2=$(now)
	t3=$($PY -c "
import time; t = time.perf_counter(); import numpy as np
a = np.load('big.npy', mmap_mode='r'); print(a.shape[0] * 0 + time.perf_counter() - t)")
	t4=$($PY -c "
import time, zlib; t = time.perf_counter(); zlib.crc32(open('big.npy', 'rb').read()); print(time.perf_counter() - t)")
	printf '  %-52s %8s s\n' "dcc info (reads the table only)" "$(secs "$t0" "$t1")"
	printf '  %-52s %8s s\n' "dcc info --verify (reads 400 MB, checks CRC32C)" "$(secs "$t1" "$t2")"
	printf '  %-52s %8.3f s\n' "peer: numpy.load(mmap_mode='r') of the same .npy" "$t3"
	printf '  %-52s %8.3f s\n' "peer: python read + zlib.crc32 of the same .npy" "$t4"
fi

if want train; then
	rm -f "$out/.train_times"
	echo
	echo "== one training epoch (60,000 images, batch 64, $(nproc) threads), dcc vs PyTorch $($PY -c 'import torch; print(torch.__version__)')"
	printf '  %-24s %10s %10s %10s %8s %12s %12s %10s\n' net "dcc s" "torch s" "dcc wall s" ratio "dcc eval/s" \
		"torch eval/s" "dcc RSS MB"
	for net in lenet300 lenet5 lstm resnet:16,32,64:1 mobilenet:16,16,24,32:4; do
		t0=$(now)
		f=train_$(echo "$net" | tr ':,' '__').dct
		mb=$(rss $DCC train --net $net --epochs 1 --threads "$(nproc)" -o "$f")
		t1=$(now)
		loop=$(sed -n 's/.* epochs in \([0-9.]*\) s .*/\1/p' "$out/.stdout")
		ev=$($DCC eval --json "$f" | $PY -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["images_per_s"])')
		set -- $($PY "$top/bench/torch_epoch.py" $net "$(nproc)")
		echo "$net $loop $1" >>"$out/.train_times"
		d=$(secs "$t0" "$t1")
		printf '  %-24s %10s %10s %10s %7.2fx %12s %12s %10s\n' $net "$loop" "$1" "$d" "$(echo "$1 / $loop" | bc -l)" \
			"$ev" "$2" "$mb"
	done
	echo "  (dcc s and torch s: the training loop alone, as dcc train reports it and as torch_epoch.py"
	echo "   times it; ratio = torch s / dcc s; dcc wall s adds loading the data set and the test-set"
	echo "   evaluation after training; RSS: the data set is 55 MB as bytes)"
	echo
	echo "== the floor under an im2col + GEMM epoch: bench/gemmfloor.c replays every cblas_sgemm of the"
	echo "   net's conv and fc layers (forward, dW, dX; the same shapes, tiles and threads as dcc train)"
	echo "   and nothing else, then again with each tile's patches copied in and out at memcpy's speed"
	printf '  %-24s %10s %12s %8s %8s %10s %10s\n' net "GEMM s" "+patches s" GFLOP "GFLOP/s" "dcc s" "torch s/2"
	while read -r net loop torch; do
		case $net in lenet300|lstm) continue ;; esac
		set -- $($GEMMFLOOR "$net" 1 28 28 10 60000 64 "$(nproc)")
		printf '  %-24s %10s %12s %8s %8s %10s %10.2f\n' "$net" "$1" "$2" "$3" "$4" "$loop" \
			"$(echo "$torch / 2" | bc -l)"
	done <"$out/.train_times"
	rm -f "$out/.train_times"
	echo "  (dcc's convolutions as they are, im2col and GEMM in these tiles, cannot go below '+patches s';"
	echo "   2x PyTorch needs the whole epoch under 'torch s/2'; depthwise convolutions are direct"
	echo "   loops, not in the floor)"
fi

if want prune; then
	echo
	echo "== dcc prune: selecting the threshold of a 100M-weight layer (exact count, radix select)"
	if [ ! -f big_rand.dct ]; then
		$PY -c "
import numpy as np; rng = np.random.default_rng(0)
a = np.lib.format.open_memmap('big_rand.npy', 'w+', np.float32, (10000, 10000))
for i in range(0, 10000, 1000): a[i:i + 1000] = rng.standard_normal((1000, 10000), np.float32)
a.flush()"
		$DCC import big_rand.npy -o big_rand.dct
		rm -f big_rand.npy
	fi
	t0=$(now); mb=$(rss $DCC prune big_rand.dct --sparsity 0.9 --force -o big_pruned.dct); t1=$(now)
	printf '  %-52s %8s s  peak RSS %s MB (layer 400 MB)\n' "dcc prune --sparsity 0.9 (load, select, mask, write)" "$(secs "$t0" "$t1")" "$mb"
	$DCC prune big_rand.dct --sparsity 0.9 --json --force -o big_pruned.dct >prune.json
	printf '  %-52s %8.3f s\n' "  of which the selection and the mask" \
		"$(sed -n 's/^  "select_seconds": \([0-9.e+-]*\),*$/\1/p' prune.json)"
	ts=$($PY -c "
import time, numpy as np; a = np.random.default_rng(0).standard_normal(100_000_000, np.float32)
t = time.perf_counter(); np.partition(np.abs(a), 90_000_000); print('%.3f' % (time.perf_counter() - t))")
	printf '  %-52s %8s s\n' "peer: numpy.partition(|w|, k) on the same size" "$ts"
	rm -f big_pruned.dct
fi

if want share; then
	echo
	echo "== dcc share vs scikit-learn $($PY -c 'import sklearn; print(sklearn.__version__)') KMeans (linspace init, n_init=1, lloyd)"
	echo "   4096x4096 layer pruned to 9% (1.5M surviving weights), 5 bits"
	$PY -c "
import numpy as np; rng = np.random.default_rng(1)
w = rng.standard_normal((4096, 4096)).astype(np.float32) * 0.02
t = np.quantile(np.abs(w), 0.91); w[np.abs(w) < t] = 0; np.save('fc7.npy', w)"
	$DCC import fc7.npy -o fc7.dct
	t0=$(now); $DCC share fc7.dct --bits 5 --json --force -o fc7_s.dct >lloyd.json 2>/dev/null; t1=$(now)
	$DCC share fc7.dct --bits 5 --optimal --json --force -o fc7_o.dct >opt.json 2>/dev/null; t2=$(now)
	# the peers' call (sklearn's default tol stops early), then run until no centroid moves, as dcc does
	set -- $($PY -c "
import time, numpy as np
from sklearn.cluster import KMeans
w = np.load('fc7.npy'); x = w[w != 0].reshape(-1, 1).astype(np.float64)
for kw in ({}, {'tol': 0, 'max_iter': 10000}):
    t = time.perf_counter()
    km = KMeans(n_clusters=32, init=np.linspace(x.min(), x.max(), 32).reshape(-1, 1), n_init=1, algorithm='lloyd', **kw).fit(x)
    print('%.3f %.6g %d' % (time.perf_counter() - t, km.inertia_, km.n_iter_))")
	dl=$(secs "$t0" "$t1"); dopt=$(secs "$t1" "$t2")
	read -r sl il <<EOT
$($PY -c "import json; l = json.load(open('lloyd.json'))['layers'][0]; print('%.6g %d' % (l['sse'], l['iterations']))")
EOT
	so=$($PY -c "import json; print('%.6g' % json.load(open('opt.json'))['layers'][0]['sse'])")
	printf '  %-40s %9s %14s %10s\n' "" seconds "sq. error" iterations
	printf '  %-40s %9s %14s %10s\n' "dcc share --bits 5 (whole command)" "$dl" "$sl" "$il"
	printf '  %-40s %9s %14s %10s\n' "dcc share --bits 5 --optimal" "$dopt" "$so" "-"
	printf '  %-40s %9s %14s %10s\n' "peer: sklearn KMeans.fit" "$1" "$2" "$3"
	printf '  %-40s %9s %14s %10s\n' "peer: sklearn KMeans.fit, tol=0" "$4" "$5" "$6"
	printf '  speed-up over scikit-learn: %.0fx (Lloyd), %.1fx (optimal); run to convergence: %.0fx\n' \
		"$(echo "$1 / $dl" | bc -l)" "$(echo "$1 / $dopt" | bc -l)" "$(echo "$4 / $dl" | bc -l)"
	echo "   a dense 102.8M-weight layer (VGG-16 fc6, 4096x25088) at 8 bits"
	if [ ! -f fc6.dct ]; then
		$PY -c "
import numpy as np; rng = np.random.default_rng(2)
a = np.lib.format.open_memmap('fc6.npy', 'w+', np.float32, (4096, 25088))
for i in range(0, 4096, 512): a[i:i + 512] = rng.standard_normal((512, 25088), np.float32) * 0.01
a.flush()"
		$DCC import fc6.npy -o fc6.dct
		rm -f fc6.npy
	fi
	t0=$(now); mb=$(rss $DCC share fc6.dct --bits 8 --force -o fc6_s.dct); t1=$(now)
	printf '  %-40s %9s s, peak RSS %s MB (layer 411 MB)\n' "dcc share --bits 8" "$(secs "$t0" "$t1")" "$mb"
	rm -f fc6_s.dct fc7_s.dct fc7_o.dct
fi

if want fixed; then
	echo
	echo "== dcc eval --fixed: integer-only inference, lenet300 on the 10,000 test images"
	[ -f f_lenet300.dct ] || { $DCC train --net lenet300 --epochs 1 --force -o f_float.dct >/dev/null 2>&1; \
		$DCC fixed f_float.dct --force -o f_lenet300.dct >/dev/null; }
	t0=$(now); $DCC eval --fixed f_lenet300.dct >/dev/null; t1=$(now)
	t2=$(now); $DCC eval f_lenet300.dct >/dev/null; t3=$(now)
	printf '  %-52s %8s s\n' "dcc eval --fixed (integers and shifts only)" "$(secs "$t0" "$t1")"
	printf '  %-52s %8s s\n' "dcc eval (float, OpenBLAS), same weights" "$(secs "$t2" "$t3")"
fi

if want encode; then
	echo
	echo "== Huffman decoding, one core: 50M weight-like symbols (4.1 bits each after coding)"
	set -- $($HUFFBENCH 50000000 3 syms.bin)
	zstd -19 -q -f syms.bin -o syms.zst
	t0=$(now); zstd -d -q -c syms.zst >/dev/null; t1=$(now)
	zs=$(secs "$t0" "$t1")
	printf '  %-52s %8s MB/s (%s bits/symbol)\n' "dcc canonical Huffman decode (table-driven)" "$1" "$2"
	printf '  %-52s %8.0f MB/s (%s bytes compressed)\n' "peer: zstd -d of the same symbols (zstd -19)" "$(echo "50 / $zs" | bc -l)" "$(wc -c <syms.zst)"
	rm -f syms.bin syms.zst
fi

if want emu; then
	echo
	echo "== emulator speed (one thread): simulated sparse MACs per second of host time"
	t0=$(now); $DCC emu --synthetic 4096x25088 --weight-density 0.04 --act-density 1.0 --json >vgg6.json; t1=$(now)
	set -- $($PY -c "import json; d = json.load(open('vgg6.json')); print(d['macs'], d['host_seconds'])")
	d=$(secs "$t0" "$t1")
	tg=$($PY -c "
import time, numpy as np; w = np.random.default_rng(0).standard_normal((4096, 25088), np.float32); x = np.ones(25088, np.float32)
t = time.perf_counter(); [w @ x for _ in range(5)]; print('%.4f' % ((time.perf_counter() - t) / 5))")
	printf '  %-52s %8.3f s (%.0f M simulated MACs/s; whole command %s s)\n' "dcc emu --synthetic VGG-6 4096x25088, 4%, dense input" "$2" "$(echo "$1 / $2 / 1000000" | bc -l)" "$d"
	printf '  %-52s %8s s (dense %d MACs)\n' "peer: numpy (OpenBLAS) dense sgemv of the same layer" "$tg" $((4096 * 25088))
	t0=$(now); $DCC emu --synthetic 4096x25088 --weight-density 0.04 --act-density 1.0 --energy eie-pe --json >vgg6e.json; t1=$(now)
	printf '  %-52s %8.3f s (whole command %s s)\n' "the same with --energy eie-pe (energy from the counts)" \
		"$($PY -c "import json; print(json.load(open('vgg6e.json'))['host_seconds'])")" "$(secs "$t0" "$t1")"
fi

if want energy; then
	echo
	echo "== energy: EIE's Table II (power of 64 PEs, breakdown by module) beside the emulator's, SRAM width"
	/usr/bin/python3 "$top/examples/eie-bench/energy.py" "$DCC" | sed 's/^/  /'
fi

if want svd; then
	echo
	echo "== dcc svd vs numpy.linalg.svd (both LAPACK)"
	$PY -c "import numpy as np; np.save('s4096.npy', np.random.default_rng(0).standard_normal((4096, 4096), np.float32))"
	$DCC import s4096.npy --force -o s4096.dct
	t0=$(now); $DCC svd s4096.dct --layer s4096 --rank 4096 --json --force -o s4096_f.dct >svdf.json; t1=$(now)
	tn=$($PY -c "
import time, numpy as np; a = np.load('s4096.npy')
t = time.perf_counter(); np.linalg.svd(a, full_matrices=False); print('%.3f' % (time.perf_counter() - t))")
	printf '  %-52s %8s s\n' "dcc svd, full 4096x4096 (dgesdd in double, whole command)" "$(secs "$t0" "$t1")"
	printf '  %-52s %8.3f s\n' "  of which the factorisation, as numpy's call" \
		"$(sed -n 's/^  "seconds": \([0-9.e+-]*\),*$/\1/p' svdf.json)"
	printf '  %-52s %8s s\n' "peer: numpy.linalg.svd (dgesdd in double too)" "$tn"
	if [ ! -f fc6r.dct ]; then
		$PY -c "
import numpy as np; rng = np.random.default_rng(3)
a = np.lib.format.open_memmap('fc6r.npy', 'w+', np.float32, (4096, 25088))
u = rng.standard_normal((4096, 300), np.float32); v = rng.standard_normal((300, 25088), np.float32)
for i in range(0, 4096, 512): a[i:i + 512] = u[i:i + 512] @ v + 3 * rng.standard_normal((512, 25088), np.float32)
a.flush()"
		$DCC import fc6r.npy -o fc6r.dct && rm -f fc6r.npy
	fi
	t0=$(now); $DCC svd fc6r.dct --layer fc6r --rank 256 --method randomized --json --force -o fc6r_f.dct >svd.json; t1=$(now)
	printf '  %-52s %8s s, relative error %s\n' "dcc svd --method randomized, rank 256 of 4096x25088" "$(secs "$t0" "$t1")" \
		"$(sed -n 's/^  "rel_error": \([0-9.e+-]*\),*$/\1/p' svd.json)"
	t0=$(now); $DCC svd fc6r.dct --layer fc6r --spectrum --json >spec.json; t1=$(now)
	printf '  %-52s %8s s, relative error %s (the optimum)\n' "exact rank-256 truncation (dcc svd --spectrum)" \
		"$(secs "$t0" "$t1")" "$($PY -c "
import json, numpy as np; s = np.array(json.load(open('spec.json'))['singular_values'], np.float64)
print('%.6g' % np.sqrt((s[256:] ** 2).sum() / (s ** 2).sum()))")"
	rm -f s4096.npy s4096.dct s4096_f.dct fc6r_f.dct
fi

if want plot; then
	echo
	echo "== dcc plot on a 100M-weight layer"
	[ -f big_rand.dct ] || { $PY -c "
import numpy as np; a = np.lib.format.open_memmap('big_rand.npy', 'w+', np.float32, (10000, 10000)); a[:] = 0.5; a.flush()"; \
		$DCC import big_rand.npy -o big_rand.dct; rm -f big_rand.npy; }
	t0=$(now); $DCC plot hist big_rand.dct --layer big_rand --force -o big_hist.png >/dev/null; t1=$(now)
	$DCC plot spy big_rand.dct --layer big_rand --force -o big_spy.png >/dev/null; t2=$(now)
	printf '  %-52s %8s s\n' "dcc plot hist (load, histogram, PNG)" "$(secs "$t0" "$t1")"
	printf '  %-52s %8s s\n' "dcc plot spy (load, density per cell, PNG)" "$(secs "$t1" "$t2")"
fi

# Opt-in (BENCH_ONLY=accuracy; about 35 minutes on 2 cores): examples/resnet's
# float recipe run to the end by dcc and by PyTorch, both accuracies
# (BENCH_EPOCHS and BENCH_AUGMENT change the recipe).
if [ "$only" = accuracy ]; then
	net=resnet:16,32,64:1 aug=${BENCH_AUGMENT:-flip} ep=${BENCH_EPOCHS:-20}
	echo
	echo "== $net trained to the end ($ep epochs, batch 64, lr 0.1 cosine, --augment $aug, $(nproc) threads)"
	t0=$(now); $DCC train --net $net --epochs "$ep" --lr 0.1 --augment "$aug" --threads "$(nproc)" --force \
		-o acc_resnet.dct >/dev/null 2>&1; t1=$(now)
	acc=$($DCC eval --json acc_resnet.dct | $PY -c 'import json,sys; print("%.2f" % (100 * json.load(sys.stdin)["accuracy"]))')
	set -- $($PY "$top/bench/torch_train.py" $net "$ep" 0.1 "$aug" "$(nproc)" 2>/dev/null)
	printf '  %-10s %10s %14s\n' "" "test acc" "s per epoch"
	printf '  %-10s %9s%% %14.1f\n' dcc "$acc" "$(echo "($t1 - $t0) / $ep" | bc -l)"
	printf '  %-10s %9.2f%% %14s\n' PyTorch "$(echo "100 * $1" | bc -l)" "$2"
	echo "  (dcc's seconds include loading the data and the final evaluation)"
fi
