#!/bin/sh
# part.sh: one part of the suite, for tests/run.sh: sh tests/part.sh DIR NAME
# COMMAND...  runs COMMAND, keeps its output in DIR/NAME.log (NAME's / as _),
# prints the part's line when it ends (its log's tail if it failed) and
# writes "passed failed" to DIR/NAME.sum.  A part that exits non-zero without
# counting a failure counts one.
dir=$1 name=$2
shift 2
f=$dir/$(echo "$name" | tr / _)
start=$(date +%s)
"$@" >"$f.log" 2>&1
rc=$?
line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$f.log" | tail -n 1)
p=$(echo "$line" | sed -n 's/.*\b\([0-9][0-9]*\) passed.*/\1/p')
n=$(echo "$line" | sed -n 's/.*, \([0-9][0-9]*\) failed.*/\1/p')
[ -n "$p" ] || p=0
[ -n "$n" ] || n=0
if [ $rc -ne 0 ] && [ "$n" -eq 0 ]; then n=1; fi
if [ "$n" -ne 0 ]; then
	{ echo "FAIL $name ($p passed, $n failed)"; sed 's/^/    /' "$f.log" | tail -n 40; } >"$f.out"
else
	echo "ok   $name ($p passed, $(( $(date +%s) - start ))s)" >"$f.out"
fi
cat "$f.out"
echo "$p $n" >"$f.sum"
