#!/bin/sh
# test_intonly.sh: the integer-only inference (lib/fixed/infer.c) does no
# floating-point arithmetic: its object is disassembled and searched for
# SSE/x87 arithmetic, comparisons and conversions (plain 128-bit moves such
# as movups, which the compiler uses to zero or copy integer arrays, are
# not arithmetic and are allowed).
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/cli/lib.sh"
obj=$top/${BUILD:-build/release}/lib/fixed/infer.o
# every part runs: without the object or objdump the check fails
if [ ! -f "$obj" ] || ! command -v objdump >/dev/null; then
	bad "$obj or objdump (binutils) is missing"
	finish
	exit 1
fi
objdump -d --no-show-raw-insn "$obj" >dis.txt
check test -s dis.txt
check grep -q "dcc_qnet_forward_from" dis.txt
fp=$(grep -E '\s(cvt[a-z0-9]*|(add|sub|mul|div|min|max|sqrt|comi|ucomi|round|cmp)(ss|sd|ps|pd)|f(ld|st|add|sub|mul|div|ild|istp)[a-z]*)\s' dis.txt | head -5)
[ -z "$fp" ] && ok || bad "floating-point instructions in infer.o: $fp"
finish
