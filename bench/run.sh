#!/bin/sh
# run.sh: `make bench` -- speed and quality figures, each beside a peer
# measured in the same run on the same machine.  Figures only: nothing here
# passes or fails on time.  Set BENCH_ONLY=name to run one section.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
: "${DCC:=$top/dcc}"
PY=/usr/bin/python3
out=$top/bench/out
mkdir -p "$out"
cd "$out"
only=${BENCH_ONLY:-}

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | xargs printf '%.3f'; }
# peak RSS in MB of a command: rss CMD...
rss() { /usr/bin/time -f '%M' -o "$out/.rss" "$@" >/dev/null; echo "$(( $(cat "$out/.rss") / 1024 ))"; }
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
