#!/bin/sh
# run.sh: builds each libFuzzer target with clang (ASan + UBSan) and runs it
# for SECONDS seconds on its corpus; new crashes land in tests/fuzz/crashes/.
set -e
secs=${1:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
sh tools/deps.sh fuzz
out=build/fuzz
mkdir -p $out tests/fuzz/crashes
# the whole library (the ONNX reader maps onto lib/nn), the protobuf code and the built-in energy tables
make --no-print-directory build/release/gen/onnx.pb-c.c build/release/gen/energy_tables.c >/dev/null
srcs="lib/*/*.c formats/*.c build/release/gen/onnx.pb-c.c build/release/gen/energy_tables.c"
for t in tests/fuzz/fuzz_*.c; do
	name=$(basename "$t" .c)
	fmt=${name#fuzz_}
	echo "fuzz: $name for ${secs}s"
	clang -std=c11 -g -O1 -D_GNU_SOURCE -Ilib -Iformats -Ibuild/release/gen -fsanitize=fuzzer,address,undefined \
		-o $out/$name "$t" $srcs -lopenblas -llapacke -lpng -lzstd -lz -ljansson -lprotobuf-c -lm -lpthread
	mkdir -p $out/corpus-$fmt
	$out/$name -max_total_time="$secs" -artifact_prefix=tests/fuzz/crashes/$fmt- \
		-max_len=65536 $out/corpus-$fmt tests/fuzz/corpus/$fmt
done
