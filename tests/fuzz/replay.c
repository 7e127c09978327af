/* replay.c: runs a fuzz target over the files of its corpus directories
 * without libFuzzer, so `make check` (and its sanitizer pass) replays every
 * seed and every crash kept as a regression test. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dcc.h"
#include "dcc_formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	uint8_t *buf;
	size_t n;
	dcc_error e;
	if (dcc_read_file(path, (size_t)1 << 30, &buf, &n, &e)) {
		fprintf(stderr, "replay: %s: %s\n", path, e.msg);
		return 1;
	}
	/* An exact-size heap copy, so sanitizers catch reads past the end. */
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int files = 0, failed = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st)) {
			fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
			failed++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			failed += run_file(argv[i]);
			files++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
			failed += run_file(path);
			files++;
		}
		if (d)
			closedir(d);
	}
	printf("%s: %d passed, %d failed\n", argc > 0 ? argv[0] : "replay", files - failed, failed);
	return failed ? 1 : 0;
}
