/* check.h: a minimal unit-test harness: CHECK records a failure and goes on,
 * check_done() prints "N passed, N failed" and returns the exit status. */
#ifndef DCC_CHECK_H
#define DCC_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_pass, check_fail;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (cond) {                                                  \
			check_pass++;                                        \
		} else {                                                     \
			check_fail++;                                        \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                            \
		}                                                            \
	} while (0)

#define CHECK_MSG(cond, ...)                                                 \
	do {                                                                 \
		if (cond) {                                                  \
			check_pass++;                                        \
		} else {                                                     \
			check_fail++;                                        \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, \
				__LINE__, #cond);                            \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
		}                                                            \
	} while (0)

/* An expected library failure: rc is the code and the message holds substr. */
#define CHECK_ERR(rc, e, code, substr)                                        \
	CHECK_MSG((rc) == (code) && strstr((e).msg, (substr)),                \
		  "rc=%d (want %d) msg='%s' (want '%s')", (rc), (code), (e).msg, \
		  (substr))

static inline int check_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, check_pass, check_fail);
	return check_fail ? 1 : 0;
}

/* xorshift64*: deterministic test data without libc's rand(). */
static inline unsigned long long check_rng(unsigned long long *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

#endif
