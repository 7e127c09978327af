#!/bin/sh
# test_basics.sh: dispatch, help, version, and info/import/export on success
# and failure paths, with stdout, stderr and exit status pinned.
. "$(dirname "$0")/lib.sh"

run $DCC --version
expect_status 0 version; expect_out "dcc 0.1.0" version

run $DCC
expect_status 2 "no command"; expect_err_has "usage: dcc" "no command"

run $DCC nosuch
expect_status 2 "unknown command"
expect_err "dcc: 'nosuch' is not a dcc command (see 'dcc --help')" "unknown command"

for c in info import export; do
	run $DCC help $c; h1=$(cat .out)
	expect_status 0 "help $c"; expect_out_has "usage: dcc $c" "help $c"
	run $DCC $c --help
	expect_status 0 "$c --help"; [ "$(cat .out)" = "$h1" ] && ok || bad "$c --help differs from dcc help $c"
	run $DCC $c --no-such-option
	expect_status 2 "$c bad option"
	expect_err "dcc $c: option '--no-such-option' is unknown or lacks its argument (see 'dcc $c --help')" "$c bad option"
done

run $DCC info
expect_status 2 "info no file"; expect_err_has "dcc info: no file given" "info no file"

run $DCC info missing.dct
expect_status 1 "info missing"
expect_err "dcc info: missing.dct: No such file or directory" "info missing"

printf 'hello, world\n' >garbage
run $DCC info garbage
expect_status 1 "info garbage"
expect_err "dcc info: garbage: unrecognised file format (not .dct, .npy, .npz, .safetensors or IDX)" "info garbage"

$PY -c "import numpy as np; np.save('w.npy', np.array([[1.5, 0, -2], [0, 0, 4]], dtype=np.float32))"
run $DCC import w.npy -o m.dct
expect_status 0 import; expect_out "" "import is quiet"; expect_err "" "import is quiet"

run $DCC info m.dct
expect_status 0 info
expect_out "m.dct: dct, 1 tensor, 216 B on disk, 24 B of tensor data
  name   dtype  shape      elements      nonzeros   density         bytes
  w      f32    2x3               6             3    50.00%            24
  total                           6             3    50.00%            24
checksums: header and metadata verified; tensor data not read (use --verify)
metadata:
  dcc.provenance: (1)
    import files=1
  dcc.version: 0.1.0" "info table"

run $DCC info --json --verify m.dct
expect_status 0 "info json"
check $PY -c "
import json; d = json.load(open('$T/.out'))
t = d['tensors'][0]
assert d['format'] == 'dct' and d['verified'] is True
assert t['name'] == 'w' and t['shape'] == [2, 3] and t['nonzeros'] == 3 and t['density'] == 0.5, t
assert d['metadata']['dcc.provenance'] == ['import files=1']
"

# An output equal to an input is refused without --force.
run $DCC import m.dct -o m.dct
expect_status 1 "overwrite refused"
expect_err "dcc import: 'm.dct': output would overwrite an input (use --force)" "overwrite refused"
run $DCC import --force m.dct -o m.dct
expect_status 0 "overwrite forced"

# A failure leaves no output and no temporary file.
head -c 140 w.npy >cut.npy
run $DCC import cut.npy -o cut.dct
expect_status 1 "truncated npy"
expect_err "dcc import: cut.npy: .npy data truncated (12 of 24 bytes)" "truncated npy"
expect_no_file cut.dct "truncated npy"; expect_no_temp "truncated npy"

run $DCC import w.npy -o /nonexistent/dir/x.dct
expect_status 1 "unwritable"
expect_err "dcc import: cannot create '/nonexistent/dir/x.dct': No such file or directory" "unwritable"

# A corrupted tensor is caught by its checksum.
cp m.dct bad.dct
off=$(( $(stat -c %s bad.dct) - 8 ))
printf '\177' | dd of=bad.dct bs=1 seek=$off conv=notrunc 2>/dev/null
run $DCC info bad.dct
expect_status 0 "info reads the table only"
run $DCC info --verify bad.dct
expect_status 1 "verify"; expect_err "dcc info: bad.dct: tensor 'w' checksum mismatch" "verify"
run $DCC export bad.dct -o bad.npy
expect_status 1 "export checks"; expect_err "dcc export: bad.dct: tensor 'w' checksum mismatch" "export checks"
expect_no_file bad.npy "export checks"

# A 4 MB layer (huge-page buffers): a stage that changes weights in place
# leaves its input's bytes alone, --force replaces the input it read, and
# a flipped byte deep in the data fails the checksum with no output.
$PY -c "
import numpy as np; rng = np.random.default_rng(5)
np.save('big.npy', rng.standard_normal((1024, 1024)).astype(np.float32))"
$DCC import big.npy -o big.dct && cp big.dct big0.dct
run $DCC prune big.dct --sparsity 0.75 -o bigp.dct
expect_status 0 "in-place prune"
check cmp -s big.dct big0.dct
run $DCC export bigp.dct -o bigp.npy
expect_status 0 "in-place prune exports"
check $PY -c "
import numpy as np; a = np.load('big.npy'); b = np.load('bigp.npy'); k = b != 0
assert k.sum() == a.size // 4 and (b[k] == a[k]).all() and np.abs(a[~k]).max() <= np.abs(a[k]).min()"
run $DCC prune big.dct --sparsity 0.5 -o big.dct --force
expect_status 0 "input replaced"
run $DCC export big.dct -o big2.npy
check $PY -c "import numpy as np; assert (np.load('big2.npy') != 0).sum() == 1024 * 512"
cp big0.dct bigbad.dct
printf '\177' | dd of=bigbad.dct bs=1 seek=$(( $(stat -c %s bigbad.dct) - 4096 )) conv=notrunc 2>/dev/null
run $DCC prune bigbad.dct --sparsity 0.5 -o x.dct
expect_status 1 "big checksum"; expect_err "dcc prune: bigbad.dct: tensor 'big' checksum mismatch" "big checksum"
expect_no_file x.dct "big checksum"

# Export: by extension, one tensor per .npy.
$PY -c "import numpy as np; np.savez('two.npz', a=np.zeros(2, 'f4'), b=np.ones(3, 'i2'))"
run $DCC import two.npz -o two.dct
expect_status 0 "import npz"
run $DCC export two.dct -o two.npy
expect_status 1 "npy of two"
expect_err "dcc export: two.dct: a .npy holds one tensor and this has 2: choose one with --tensor NAME, or write .npz or .safetensors" "npy of two"
run $DCC export two.dct --tensor b -o b.npy
expect_status 0 "export --tensor"
check $PY -c "import numpy as np; a = np.load('b.npy'); assert a.dtype == np.int16 and list(a) == [1, 1, 1]"
run $DCC export two.dct --tensor c -o c.npy
expect_status 1 "export missing tensor"; expect_err "dcc export: two.dct: no tensor 'c' (companions need --raw)" "export missing tensor"
run $DCC export two.dct -o two.txt
expect_status 2 "export extension"; expect_err_has "the output must end in .npy, .npz, .safetensors or .onnx" "export extension"

# Stage commands want a container, and say how to get one.
run $DCC export w.npy -o x.npz
expect_status 1 "export of npy"
expect_err "dcc export: w.npy: not a dcc container (import it first: dcc import w.npy -o FILE.dct)" "export of npy"

# --help of every command: the usage on stdout, status 0, nothing else run
# (a parser that returned 0 after the help once ran the command on no input)
for c in $($DCC --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }'); do
	run $DCC $c --help
	expect_status 0 "$c --help"
	expect_out_has "usage: dcc $c" "$c --help"
	expect_err "" "$c --help"
	run $DCC help $c
	expect_status 0 "dcc help $c"
	expect_err "" "dcc help $c"
done

# A closed stdout is an error, not silence.
run sh -c "$DCC info m.dct >/dev/full"
expect_status 1 "full disk"; expect_err_has "error writing standard output" "full disk"

finish
