#!/bin/sh
# make_corpus.sh: how the seeds of the .dcb, .dci and emulator targets were
# made (kept in tests/fuzz/corpus/{dcb,dci,emu}): small networks on a
# synthetic 8x8 data set through prune, share, fixed, encode and compile,
# so each seed is a few KB.  Run from the project's root with DCC set.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
: "${DCC:=$top/dcc}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
. "$top/tests/cli/lib.sh" >/dev/null 2>&1 || true
make_d8
out=$top/tests/fuzz/corpus
mkdir -p "$out/dcb" "$out/dci" "$out/emu"
for net in mlp:64-16-4 cnn:2:8 lstm; do
	tag=$(echo "$net" | tr ':,-' '___')
	$DCC train --net "$net" --data d8 --epochs 1 -o m.dct >/dev/null
	sp=0.7; [ "$net" = lstm ] && sp=0.97
	$DCC prune m.dct --sparsity $sp -o p.dct >/dev/null
	$DCC share p.dct --bits 4 --zero -o s.dct >/dev/null 2>&1
	$DCC fixed s.dct --data d8 --calib 32 -o f.dct >/dev/null
	for layout in eie csc; do
		$DCC encode f.dct --layout $layout --pes 4 -o "$out/dcb/$tag-$layout.dcb" >/dev/null
	done
	$DCC encode f.dct --layout eie --pes 4 --entropy zstd -o "$out/dcb/$tag-zstd.dcb" >/dev/null
	$DCC compile "$out/dcb/$tag-eie.dcb" --pes 4 -o "$out/dci/$tag.dci" >/dev/null
	$DCC disasm "$out/dci/$tag.dci" >"$out/emu/$tag.s"
done
# a bank-balanced layer in compressed sparse banks
$DCC train --net mlp:64-16-4 --data d8 --epochs 1 -o m.dct >/dev/null
$DCC prune m.dct --sparsity 0.75 --bank 8 -o pb.dct >/dev/null
$DCC share pb.dct --bits 3 -o sb.dct >/dev/null 2>&1
$DCC encode sb.dct --layout cbs -o "$out/dcb/mlp-cbs.dcb" >/dev/null
ls -l "$out/dcb" "$out/dci" "$out/emu"
