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

# make_d8 [S]: a synthetic data set in the MNIST layout in ./dS (default
# d8): SxS images, 4 classes (a bright quadrant), 600 training and 200 test.
make_d8() {
$PY - "${1:-8}" <<'PYEOF'
import gzip, os, struct, sys
import numpy as np
S = int(sys.argv[1]); h = S // 2; D = "d%d" % S
rng = np.random.default_rng(0)
os.makedirs(D, exist_ok=True)
def idx(path, a, gz=True):
    hdr = struct.pack(">BBBB", 0, 0, 8, a.ndim) + b"".join(struct.pack(">I", s) for s in a.shape)
    (gzip.open if gz else open)(path, "wb").write(hdr + a.astype(np.uint8).tobytes())
for split, n in [("train", 600), ("t10k", 200)]:
    y = rng.integers(0, 4, n)
    x = rng.integers(0, 60, (n, S, S))
    for i in range(n):                      # class k: a bright quadrant
        r, c = divmod(int(y[i]), 2)
        x[i, r * h:r * h + h, c * h:c * h + h] += 150
    idx(D + "/%s-images-idx3-ubyte.gz" % split, x, gz=(split == "train"))
    idx(D + "/%s-labels-idx1-ubyte%s" % (split, ".gz" if split == "train" else ""), y, gz=(split == "train"))
PYEOF
f=d${1:-8}/t10k-images-idx3-ubyte.gz; [ -f "$f" ] && mv "$f" "${f%.gz}"
}
