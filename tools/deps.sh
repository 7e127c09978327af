#!/bin/sh
# deps.sh: installs the Debian packages dcc needs, only those missing.
#   sh tools/deps.sh build   what `make`, `make check` and `make demo` need
#   sh tools/deps.sh bench   and the peers `make bench` measures against
#   sh tools/deps.sh fuzz    and clang for `make fuzz`
set -e
# to compile dcc, and the default data set
compile="gcc make libc6-dev binutils libopenblas-dev liblapacke-dev libpng-dev libzstd-dev zlib1g-dev
libjansson-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev dataset-fashion-mnist"
# the references the tests compare with (NumPy, SciPy, ONNX and its backend
# node tests, PyTorch and
# torchvision; Node.js and npm for ONNX Runtime, below), man for the
# man-page checks
test="python3 python3-numpy python3-scipy python3-onnx python3-torch python3-torchvision man-db nodejs npm libonnx-testdata"
build="$compile $test"
bench="python3-sklearn zstd clang bc time"
case "${1:-build}" in
build) want=$build ;;
bench) want="$build $bench" ;;
fuzz) want="$build clang" ;;
*) echo "usage: tools/deps.sh build|bench|fuzz" >&2; exit 2 ;;
esac
missing=
for p in $want; do
	# Node.js and npm from elsewhere (NodeSource's nodejs carries npm) will do
	case $p in nodejs | npm) command -v "${p%js}" >/dev/null && continue ;; esac
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = installed ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps: installing$missing" >&2
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing Debian packages:$missing; run 'make deps' as root or install them" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# ONNX Runtime, the reference for imported graphs' logits (tests/py run
# tools/ort_run.js on it): the npm package, pinned with every dependency's
# sha512 in tools/ort/package-lock.json, installed under build/ort by
# `npm ci`; its CPU library for linux x64 is inside the package, so its
# postinstall download is skipped.  Behind a proxy whose certificate the
# system does not know, the download is retried without TLS verification:
# npm still checks each package against the lockfile's sha512, so the
# bytes are the pinned ones either way.
ort=1.20.1
if ! grep -qs "\"version\": \"$ort\"" build/ort/node_modules/onnxruntime-node/package.json; then
	echo "deps: installing onnxruntime-node@$ort (npm ci, tools/ort/package-lock.json) under build/ort" >&2
	mkdir -p build/ort
	cp tools/ort/package.json tools/ort/package-lock.json build/ort/
	npm_ci() { npm ci --prefix build/ort --ignore-scripts --no-audit --no-fund --loglevel=error "$@" >&2 2>build/ort/npm.log; }
	if ! npm_ci; then
		if grep -q "CERT\|certificate" build/ort/npm.log; then
			echo "deps: npm: the registry's TLS certificate is not trusted here; retrying with the lockfile's sha512 as the check" >&2
			npm_ci --strict-ssl=false || { cat build/ort/npm.log >&2; exit 1; }
		else
			cat build/ort/npm.log >&2
			exit 1
		fi
	fi
fi
