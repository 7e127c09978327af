/* outfile.c: every output is written to a temporary file beside its
 * destination and renamed into place, so a failed run leaves no partial
 * file and a reader never sees half a model.  A character device or a
 * FIFO (-o /dev/null, a pipe) is written in place, never replaced; a
 * symbolic link's target is replaced, not the link.  The temporary files
 * alive at any moment are listed for dcc_out_cleanup, which a signal
 * handler may call; dcc_out_check refuses a set of outputs before any is
 * written. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal.h"

/* The temporary files now open: read by dcc_out_cleanup in a signal
 * handler, so a slot is published only once its string is complete. */
#define LIVE_MAX 16
static char *volatile live[LIVE_MAX];

static void live_add(char *p)
{
	for (int i = 0; i < LIVE_MAX; i++)
		if (!live[i]) {
			live[i] = p;
			return;
		}
}

static void live_drop(const char *p)
{
	for (int i = 0; p && i < LIVE_MAX; i++)
		if (live[i] == p)
			live[i] = NULL;
}

void dcc_out_cleanup(void)
{
	for (int i = 0; i < LIVE_MAX; i++) {
		char *p = live[i];
		if (p)
			unlink(p); /* async-signal-safe */
	}
}

static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	if (stat(a, &sa) || stat(b, &sb))
		return 0;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The directory part of path ("." for none), in buf. */
static const char *dir_of(const char *path, char *buf, size_t cap)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return ".";
	size_t n = slash == path ? 1 : (size_t)(slash - path);
	snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), path);
	return buf;
}

/* Whether an output at path can be created: an existing non-directory, or
 * a new name in a writable directory. */
static int creatable(const char *path, dcc_error *err)
{
	struct stat st;
	if (!path || !*path)
		return dcc_fail(err, DCC_E_ARG, "empty output path");
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return dcc_fail(err, DCC_E_IO, "'%s': is a directory", path);
		if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode))
			return dcc_fail(err, DCC_E_IO, "'%s': not a file, a character device or a FIFO", path);
		return 0;
	}
	char buf[PATH_MAX];
	const char *dir = dir_of(path, buf, sizeof(buf));
	if (stat(dir, &st))
		return dcc_fail(err, DCC_E_IO, "cannot create '%s': %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return dcc_fail(err, DCC_E_IO, "cannot create '%s': %s", path, strerror(ENOTDIR));
	if (access(dir, W_OK))
		return dcc_fail(err, DCC_E_IO, "cannot create '%s': %s", path, strerror(errno));
	return 0;
}

int dcc_out_check(const char *const *outs, size_t n, const char *const *inputs, int force, dcc_error *err)
{
	for (size_t i = 0; i < n; i++) {
		if (!outs[i])
			continue;
		int rc = creatable(outs[i], err);
		if (rc)
			return rc;
		for (size_t k = 0; inputs && inputs[k]; k++)
			if (!force && same_file(outs[i], inputs[k]))
				return dcc_fail(err, DCC_E_EXISTS, "'%s': output would overwrite an input (use --force)",
						outs[i]);
		for (size_t j = 0; j < i; j++)
			if (outs[j] && (!strcmp(outs[i], outs[j]) || same_file(outs[i], outs[j])))
				return dcc_fail(err, DCC_E_ARG, "'%s' is named for two outputs", outs[i]);
	}
	return 0;
}

/* In place: a character device or a FIFO, opened for writing as it is. */
static int open_in_place(dcc_outfile *o, const char *path, dcc_error *err)
{
	int fd = open(path, O_WRONLY | O_NOCTTY);
	if (fd < 0 || !(o->fp = fdopen(fd, "wb"))) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		dcc_out_abort(o);
		return dcc_fail(err, DCC_E_IO, "cannot write '%s': %s", path, strerror(e));
	}
	o->in_place = 1;
	return 0;
}

int dcc_out_open(dcc_outfile *o, const char *path, const char *const *inputs, int force, dcc_error *err)
{
	memset(o, 0, sizeof(*o));
	const char *one[] = {path};
	int rc = dcc_out_check(one, 1, inputs, force, err);
	if (rc)
		return rc;
	if (!(o->path = dcc_strdup(path)))
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	struct stat st, lst;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return open_in_place(o, path, err);
	/* a link is followed: its target is the file replaced */
	char *target = NULL;
	if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
		target = realpath(path, NULL);
	const char *dest = target ? target : path;
	const char *slash = strrchr(dest, '/');
	size_t dirlen = slash ? (size_t)(slash - dest) + 1 : 0;
	const char *base = slash ? slash + 1 : dest;
	size_t n = dirlen + strlen(base) + 16;
	char *tmp = malloc(n);
	if (!tmp || (target && (free(o->path), !(o->path = dcc_strdup(target))))) {
		free(tmp), free(target);
		dcc_out_abort(o);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	snprintf(tmp, n, "%.*s.%s.XXXXXX", (int)dirlen, dest, base);
	free(target);
	/* no signal between the file's creation and its listing */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int fd = mkstemp(tmp), e = errno;
	if (fd >= 0)
		live_add(tmp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (fd < 0) {
		free(tmp);
		dcc_out_abort(o);
		return dcc_fail(err, DCC_E_IO, "cannot create '%s': %s", path, strerror(e));
	}
	o->tmppath = tmp;
	mode_t um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um)) {
		/* not fatal: the file stays 0600 */
	}
	if (!(o->fp = fdopen(fd, "wb"))) {
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
	if (!e && !o->in_place && fsync(fileno(o->fp)) && errno != EINVAL && errno != EROFS)
		e = errno;
	if (fclose(o->fp) && !e)
		e = errno ? errno : EIO;
	o->fp = NULL;
	if (!e && o->tmppath && rename(o->tmppath, o->path))
		e = errno;
	if (e) {
		int rc = dcc_fail(err, DCC_E_IO, "cannot write '%s': %s", o->path, strerror(e));
		dcc_out_abort(o);
		return rc;
	}
	live_drop(o->tmppath);
	free(o->tmppath);
	free(o->path);
	memset(o, 0, sizeof(*o));
	return 0;
}

int dcc_out_finish(dcc_outfile *o, int rc, dcc_error *err)
{
	if (!rc)
		return dcc_out_commit(o, err);
	if (err && o->path && strncmp(err->msg, o->path, strlen(o->path)))
		dcc_fail(err, err->code, "%s: %s", o->path, err->msg[0] ? err->msg : dcc_strerror(err->code));
	dcc_out_abort(o);
	return rc;
}

void dcc_out_abort(dcc_outfile *o)
{
	if (!o)
		return;
	if (o->fp)
		fclose(o->fp);
	if (o->tmppath) {
		live_drop(o->tmppath);
		unlink(o->tmppath);
	}
	free(o->tmppath);
	free(o->path);
	memset(o, 0, sizeof(*o));
}

int dcc_out_bytes(FILE *fp, const void *b, size_t n, dcc_error *err)
{
	if (n && fwrite(b, 1, n, fp) != n)
		return dcc_fail(err, DCC_E_IO, "write failed: %s", strerror(errno ? errno : EIO));
	return 0;
}
