#!/bin/sh
# test_layers.sh: the tree's rooms and the arrows between them (README's
# Layout): every #include and every call of a dcc_ function points down --
#   core (lib/core, lib/dcc.h, dcc_graph.h, dcc_blob.h, dcc_isa.h): nothing above it
#   nn: core;  prune, share, svd, encode, plot: core;  fixed: core, nn;
#   accel: core, nn, fixed, encode;  formats: core;  cmd: anything but cmd's own
# -- and cmd/ stays thin: no function over 120 lines, under a quarter of the code.
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/cli/lib.sh"
cd "$top" || exit 1
obj=${BUILD:-build/release}

# the room of a source or header path
room() {
	case $1 in
	lib/dcc.h | lib/dcc_graph.h | lib/dcc_blob.h | lib/dcc_isa.h | lib/core/*) echo core ;;
	lib/dcc_nn.h | lib/nn/*) echo nn ;;
	lib/dcc_prune.h | lib/prune/*) echo prune ;;
	lib/dcc_share.h | lib/share/*) echo share ;;
	lib/dcc_svd.h | lib/svd/*) echo svd ;;
	lib/dcc_fixed.h | lib/fixed/*) echo fixed ;;
	lib/dcc_encode.h | lib/encode/*) echo encode ;;
	lib/dcc_accel.h | lib/accel/*) echo accel ;;
	lib/plot/*) echo plot ;;
	formats/* | onnx.pb-c.h) echo formats ;;
	cmd/*) echo cmd ;;
	*) echo unknown ;;
	esac
}
# the rooms a room may use, itself included
allowed() {
	case $1 in
	core) echo core ;;
	nn | prune | share | svd | encode | plot) echo "core $1" ;;
	fixed) echo "core nn fixed" ;;
	accel) echo "core nn fixed encode accel" ;;
	formats) echo "core formats" ;;
	cmd) echo "core nn prune share svd fixed encode accel plot formats cmd" ;;
	esac
}
ok_arrow() { # from to
	for r in $(allowed "$1"); do [ "$r" = "$2" ] && return 0; done
	return 1
}

# 1. includes: each quoted #include resolved against the including file
files=$(ls lib/*.h lib/*/*.c lib/*/*.h formats/*.c formats/*.h cmd/*.c cmd/*.h)
n=0
for f in $files; do
	from=$(room "$f")
	dir=$(dirname "$f")
	for inc in $(sed -n 's/^#include "\(.*\)"/\1/p' "$f"); do
		case $inc in
		onnx.pb-c.h) to=formats ;;
		*) p=$(realpath -m --relative-to=. "$dir/$inc"); [ -e "$p" ] || p=$(realpath -m --relative-to=. "lib/$inc")
		   [ -e "$p" ] || p=$(realpath -m --relative-to=. "formats/$inc"); to=$(room "$p") ;;
		esac
		n=$((n + 1))
		ok_arrow "$from" "$to" && ok || bad "$f ($from) includes $inc ($to): an arrow up"
	done
done
[ "$n" -gt 100 ] && ok || bad "only $n includes were checked"

# 2. calls: every dcc_ symbol an object uses is defined in a room it may use
# (objects of sources that exist; a removed file's stale object is no code)
if ! command -v nm >/dev/null || [ ! -d "$obj/lib" ]; then
	bad "nm or the objects in $obj are missing"
else
	srcs=$(ls lib/*/*.c formats/*.c)
	: >"$T/defs.txt"
	for src in $srcs; do
		[ -f "$obj/${src%.c}.o" ] && nm --defined-only "$obj/${src%.c}.o" |
			awk -v s="$src" '$2 ~ /^[TDBR]$/ && $3 ~ /^dcc_/ { print $3, s }' >>"$T/defs.txt"
	done
	m=0
	for src in $srcs; do
		o=$obj/${src%.c}.o
		[ -f "$o" ] || { bad "$o is missing"; continue; }
		from=$(room "$src")
		for sym in $(nm -u "$o" | awk '$2 ~ /^dcc_/ { print $2 }'); do
			def=$(awk -v s="$sym" '$1 == s { print $2; exit }' "$T/defs.txt")
			[ -n "$def" ] || continue # a static inline, or the generated code's
			to=$(room "$def")
			m=$((m + 1))
			ok_arrow "$from" "$to" && ok || bad "$src ($from) calls $sym of $def ($to): an arrow up"
		done
	done
	[ "$m" -gt 100 ] && ok || bad "only $m calls were checked"
fi

# 3. cmd/ parses, calls and prints: short functions, a small share of the code
long=$(awk 'FNR == 1 { f = FILENAME; open = 0 } !open && /^[a-z][^;=]*\(/ { name = $0; start = FNR }
	/^\{$/ { open = 1 } /^\}$/ && open { if (FNR - start > 120) print f ": " name " (" FNR - start " lines)"; open = 0 }' cmd/*.c)
[ -z "$long" ] && ok || bad "functions in cmd/ over 120 lines: $long"
cmd_lines=$(cat cmd/*.c cmd/*.h | wc -l)
all_lines=$(cat cmd/*.c cmd/*.h lib/*.h lib/*/*.c lib/*/*.h formats/*.c formats/*.h | wc -l)
[ $((cmd_lines * 4)) -lt "$all_lines" ] && ok || bad "cmd/ is $cmd_lines of $all_lines lines: a quarter or more"
finish
