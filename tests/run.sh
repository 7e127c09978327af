#!/bin/sh
# run.sh: the test suite: C unit tests, fuzz-corpus replays, CLI tests (shell)
# and interchange tests against NumPy.  Each part prints "N passed, N failed";
# this script runs JOBS parts at a time (default: the processors, at most 4) through
# tests/part.sh, which prints each part's line as it ends, then adds them up
# and fails if anything failed.
#   DCC=path/to/dcc BUILD=build/release [JOBS=2] sh tests/run.sh
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
: "${DCC:=$top/dcc}" "${BUILD:=build/release}"
# the processors, at most 4: a part may itself run threads, and the Python
# parts hold PyTorch (hundreds of MB each)
n=$(nproc 2>/dev/null || echo 1)
: "${JOBS:=$(( n > 4 ? 4 : n ))}"
export DCC BUILD
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The parts, one a line: a name, then the command.  The longest first, so
# that the others fill the remaining processors beside it.
{
	echo "py/test_dag $PY tests/py/test_dag.py"
	for t in tests/py/test_*.py; do
		[ "$t" = tests/py/test_dag.py ] || echo "py/$(basename "$t" .py) $PY $t"
	done
	for t in tests/cli/test_*.sh; do
		echo "cli/$(basename "$t" .sh) sh $t"
	done
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] && echo "unit/$(basename "$t") $t"
	done
	for r in "$BUILD"/tests/replay_fuzz_*; do
		fmt=${r##*replay_fuzz_}
		[ -x "$r" ] && echo "fuzz-replay/$fmt $r tests/fuzz/corpus/$fmt" $(ls -d tests/fuzz/crashes/"$fmt"-* 2>/dev/null)
	done
} >"$tmp/parts"

xargs -P "$JOBS" -L 1 sh tests/part.sh "$tmp" <"$tmp/parts"
# a part that did not report (killed) counts as failed
while read -r name cmd; do
	f=$tmp/$(echo "$name" | tr / _)
	[ -f "$f.sum" ] || { echo "FAIL $name (no result)"; echo "0 1" >"$f.sum"; }
done <"$tmp/parts"
pass=$(cat "$tmp"/*.sum | awk '{ s += $1 } END { print s + 0 }')
fail=$(cat "$tmp"/*.sum | awk '{ s += $2 } END { print s + 0 }')
[ "$fail" -eq 0 ] || { echo "failed:"; cat "$tmp"/*.out | grep '^FAIL'; }
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
