# lib.sh: helpers for the CLI tests: run a command, then pin its exit status,
# stdout and stderr.  Sourced by tests/cli/test_*.sh; DCC names the binary.
set -u
: "${DCC:?DCC must name the dcc binary}"
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
npass=0 nfail=0 status=0

run() { "$@" >"$T/.out" 2>"$T/.err"; status=$?; }
ok() { npass=$((npass + 1)); }
bad() {
	nfail=$((nfail + 1))
	echo "FAILED: $*" >&2
	echo "  command status $status; stdout:" >&2; [ -f "$T/.out" ] && sed "s/^/    /" "$T/.out" | head -20 >&2
	echo "  stderr:" >&2; [ -f "$T/.err" ] && sed "s/^/    /" "$T/.err" | head -20 >&2
}
expect_status() { [ "$status" -eq "$1" ] && ok || bad "$2: status $status, want $1"; }
expect_err() { [ "$(cat "$T/.err")" = "$1" ] && ok || bad "$2: stderr differs, want: $1"; }
expect_out() { [ "$(cat "$T/.out")" = "$1" ] && ok || bad "$2: stdout differs, want: $1"; }
expect_out_has() { grep -qF -- "$1" "$T/.out" && ok || bad "$2: stdout lacks: $1"; }
expect_err_has() { grep -qF -- "$1" "$T/.err" && ok || bad "$2: stderr lacks: $1"; }
expect_err_lines() { [ "$(wc -l <"$T/.err")" -eq "$1" ] && ok || bad "$2: stderr has $(wc -l <"$T/.err") lines, want $1"; }
expect_no_file() { [ ! -e "$1" ] && ok || bad "$2: $1 exists"; }
expect_no_temp() { # no temporary .NAME.XXXXXX left in the directory
	if ls -a "${2:-.}" | grep -q '^\..*\.[A-Za-z0-9]\{6\}$'; then bad "$1: temporary file left"; else ok; fi
}
check() { if "$@"; then ok; else bad "$*"; fi; }
finish() { echo "$(basename "$0"): $npass passed, $nfail failed"; [ "$nfail" -eq 0 ]; }
