#!/bin/sh
# test_man.sh: every subcommand has a man page that renders without warnings
# and whose SYNOPSIS is the usage line its --help prints.
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/cli/lib.sh"
# the commands are those of cmd/commands.h's X-macro list
for n in $(sed -n 's/^[[:space:]]*X(\([a-z]*\),.*/\1/p' "$top/cmd/commands.h"); do
	page="$top/man/dcc-$n.1"
	if [ ! -f "$page" ]; then bad "no man page for $n"; continue; fi
	ok
	warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
	[ -z "$warn" ] && ok || bad "man dcc-$n warns: $warn"
	want=$($DCC "$n" --help | sed -n 's/^usage: //p; s/^       \(dcc .*\)/\1/p')
	got=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH/p' "$page" | grep -v '^\.' | sed 's/\\-/-/g')
	[ "$want" = "$got" ] && ok || bad "dcc-$n.1 SYNOPSIS '$got' differs from --help '$want'"
	grep -q "^\.B $n$\|^\.B $n\b" "$top/man/dcc.1" && ok || bad "dcc.1 does not list $n"
done
for page in "$top"/man/*.[157]; do
	for sec in NAME SYNOPSIS DESCRIPTION; do
		grep -q "^\.SH $sec" "$page" && ok || bad "$(basename "$page") lacks $sec"
	done
done
finish
