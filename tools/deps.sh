#!/bin/sh
# deps.sh: installs the Debian packages dcc needs, only those missing.
#   sh tools/deps.sh build   what `make`, `make check` and `make demo` need
#   sh tools/deps.sh bench   and the peers `make bench` measures against
#   sh tools/deps.sh fuzz    and clang for `make fuzz`
set -e
# to compile dcc, and the default data set
compile="gcc make libc6-dev binutils libopenblas-dev liblapacke-dev libpng-dev libzstd-dev zlib1g-dev
libjansson-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev dataset-fashion-mnist"
# the references the tests compare with (NumPy, SciPy, ONNX, PyTorch and
# torchvision), man for the man-page checks
test="python3 python3-numpy python3-scipy python3-onnx python3-torch python3-torchvision man-db"
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
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing; run 'make deps' as root or install them" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
