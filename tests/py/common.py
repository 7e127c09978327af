"""common.py: what every tests/py file shares: the dcc binary under test,
the default data set, check() counting results, the dcc runners, and the
closing line tests/run.sh adds up.  Debian's Python packages are
/usr/bin/python3's; run.sh runs the tests with it."""
import os
import subprocess
import sys

DCC = os.environ["DCC"]
DATA = "/usr/share/datasets/fashion-mnist/"
counts = {"passed": 0, "failed": 0}


def check(cond, what):
    """One check: counted, and its description printed when it fails."""
    if cond:
        counts["passed"] += 1
    else:
        counts["failed"] += 1
        print("FAILED:", what, file=sys.stderr)


def run(*args):
    """dcc with these arguments: the CompletedProcess (text output)."""
    return subprocess.run([DCC, *args], capture_output=True, text=True)


def dcc(*args):
    """dcc with these arguments: its exit status; stderr shown on failure."""
    r = run(*args)
    if r.returncode:
        print("dcc", *args, "->", r.returncode, r.stderr, file=sys.stderr)
    return r.returncode


def finish(name):
    """The closing line run.sh counts, and the exit status."""
    print("%s: %d passed, %d failed" % (name, counts["passed"], counts["failed"]))
    sys.exit(1 if counts["failed"] else 0)
