#!/bin/sh
# run.sh: the test suite: C unit tests, fuzz-corpus replays, CLI tests (shell)
# and interchange tests against NumPy.  Each part prints "N passed, N failed";
# this script adds them up and fails if anything failed.
#   DCC=path/to/dcc BUILD=build/release sh tests/run.sh
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
: "${DCC:=$top/dcc}" "${BUILD:=build/release}"
export DCC BUILD
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

part() { # name, command...
	name=$1
	shift
	start=$(date +%s)
	"$@" >"$tmp/log" 2>&1
	rc=$?
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$tmp/log" | tail -n 1)
	p=$(echo "$line" | sed -n 's/.*\b\([0-9][0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.*, \([0-9][0-9]*\) failed.*/\1/p')
	[ -n "$p" ] || p=0
	[ -n "$f" ] || f=0
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	pass=$((pass + p))
	fail=$((fail + f))
	if [ $rc -ne 0 ] || [ "$f" -ne 0 ]; then
		echo "FAIL $name ($p passed, $f failed)"
		sed 's/^/    /' "$tmp/log" | tail -n 40
	else
		echo "ok   $name ($p passed, $(( $(date +%s) - start ))s)"
	fi
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] && part "unit/$(basename "$t")" "$t"
done
for r in "$BUILD"/tests/replay_fuzz_*; do
	fmt=${r##*replay_fuzz_}
	[ -x "$r" ] && part "fuzz-replay/$fmt" "$r" tests/fuzz/corpus/"$fmt" $(ls -d tests/fuzz/crashes/"$fmt"-* 2>/dev/null)
done
for t in tests/cli/test_*.sh; do
	part "cli/$(basename "$t" .sh)" sh "$t"
done
for t in tests/py/test_*.py; do
	part "py/$(basename "$t" .py)" "$PY" "$t"
done
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
