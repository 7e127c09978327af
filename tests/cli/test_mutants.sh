#!/bin/sh
# test_mutants.sh: mutated files through the real commands: every run ends
# with status 0, or status 1 with exactly one line on stderr and no output
# file or temporary left behind.  (The in-process test_mutate runs 1,000 per
# format; this checks the CLI's promises on a sample.)
. "$(dirname "$0")/lib.sh"

$PY - <<'PYEOF'
import numpy as np, random, struct, json
random.seed(1)
np.save('seed.npy', np.arange(24, dtype='<f4').reshape(4, 6))
np.savez('seed.npz', a=np.arange(10, dtype='i2'), b=np.ones((2, 2)))
np.savez_compressed('seedz.npz', a=np.arange(100, dtype='f4'))
h = json.dumps({'w': {'dtype': 'F32', 'shape': [2, 2], 'data_offsets': [0, 16]}}).encode()
open('seed.safetensors', 'wb').write(struct.pack('<Q', len(h)) + h + np.arange(4, dtype='f4').tobytes())
PYEOF
$DCC import seed.npy seed.npz -o seed.dct || bad "seed"
$PY - <<'PYEOF'
import random
random.seed(2)
for name in ['seed.npy', 'seed.npz', 'seedz.npz', 'seed.safetensors', 'seed.dct']:
    data = open(name, 'rb').read()
    ext = name.split('.')[-1]
    for i in range(40):
        b = bytearray(data)
        k = random.randrange(4)
        if k == 0:
            for _ in range(random.randint(1, 6)):
                b[random.randrange(len(b))] ^= 1 << random.randrange(8)
        elif k == 1:
            b = b[:random.randrange(len(b))]
        elif k == 2:
            p = random.randrange(len(b) - 8); b[p:p + 8] = b'\xff' * 8
        else:
            p, q = random.randrange(len(b)), random.randrange(len(b)); b[p:p + 16] = data[q:q + 16]
        open('m%03d_%s.%s' % (i, name.split('.')[0], ext), 'wb').write(bytes(b))
PYEOF
n=0
for f in m[0-9]*; do
	n=$((n + 1))
	run $DCC import "$f" -o out.dct
	if [ $status -eq 0 ]; then
		ok; rm -f out.dct
	elif [ $status -eq 1 ]; then
		expect_err_lines 1 "import $f"
		expect_err_has "dcc import: $f: " "import $f"
		expect_no_file out.dct "import $f"
	else
		bad "import $f: status $status"
	fi
	run $DCC info "$f"
	[ $status -le 1 ] && ok || bad "info $f: status $status"
done
expect_no_temp "mutants"
[ $n -eq 200 ] && ok || bad "expected 200 mutants, ran $n"
finish
