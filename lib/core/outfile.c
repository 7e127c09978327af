/* outfile.c: every output is written to a temporary file beside its
 * destination and renamed into place, so a failed run leaves no partial
 * file and a reader never sees half a model. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal.h"

static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	if (stat(a, &sa) || stat(b, &sb))
		return 0;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int dcc_out_open(dcc_outfile *o, const char *path, const char *const *inputs,
		 int force, dcc_error *err)
{
	memset(o, 0, sizeof(*o));
	if (!path || !*path)
		return dcc_fail(err, DCC_E_ARG, "empty output path");
	for (size_t i = 0; inputs && inputs[i]; i++)
		if (!force && same_file(path, inputs[i]))
			return dcc_fail(err, DCC_E_EXISTS,
					"'%s': output would overwrite an input (use --force)", path);
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return dcc_fail(err, DCC_E_IO, "'%s': is a directory", path);

	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
	const char *base = slash ? slash + 1 : path;
	size_t n = dirlen + strlen(base) + 16;
	o->tmppath = malloc(n);
	o->path = dcc_strdup(path);
	if (!o->tmppath || !o->path) {
		dcc_out_abort(o);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	snprintf(o->tmppath, n, "%.*s.%s.XXXXXX", (int)dirlen, path, base);
	int fd = mkstemp(o->tmppath);
	if (fd < 0) {
		int e = errno;
		free(o->tmppath);
		o->tmppath = NULL;
		dcc_out_abort(o);
		return dcc_fail(err, DCC_E_IO, "cannot create '%s': %s", path, strerror(e));
	}
	mode_t um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um)) {
		/* not fatal: the file stays 0600 */
	}
	o->fp = fdopen(fd, "wb");
	if (!o->fp) {
		int e = errno;
		close(fd);
		dcc_out_abort(o);
		return dcc_fail(err, DCC_E_IO, "cannot create '%s': %s", path, strerror(e));
	}
	return 0;
}

int dcc_out_commit(dcc_outfile *o, dcc_error *err)
{
	int e = 0;
	if (fflush(o->fp) || ferror(o->fp))
		e = errno ? errno : EIO;
	if (!e && fsync(fileno(o->fp)) && errno != EINVAL && errno != EROFS)
		e = errno;
	if (fclose(o->fp) && !e)
		e = errno ? errno : EIO;
	o->fp = NULL;
	if (!e && rename(o->tmppath, o->path))
		e = errno;
	if (e) {
		int rc = dcc_fail(err, DCC_E_IO, "cannot write '%s': %s", o->path, strerror(e));
		dcc_out_abort(o);
		return rc;
	}
	free(o->tmppath);
	free(o->path);
	o->tmppath = o->path = NULL;
	return 0;
}

void dcc_out_abort(dcc_outfile *o)
{
	if (!o)
		return;
	if (o->fp)
		fclose(o->fp);
	if (o->tmppath)
		unlink(o->tmppath);
	free(o->tmppath);
	free(o->path);
	memset(o, 0, sizeof(*o));
}
