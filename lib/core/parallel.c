/* parallel.c: the threads every stage shares: run one function on N
 * threads, each with its index, and wait for all of them. */
#include <pthread.h>
#include <unistd.h>

#include "internal.h"

int dcc_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

typedef struct par_arg {
	void (*fn)(void *, int);
	void *ctx;
	int t;
} par_arg;

static void *par_main(void *a)
{
	par_arg *p = a;
	p->fn(p->ctx, p->t);
	return NULL;
}

int dcc_parallel(int nthreads, void (*fn)(void *ctx, int t), void *ctx)
{
	pthread_t th[64];
	par_arg args[64];
	int started = 1;
	if (nthreads > 64)
		nthreads = 64;
	for (int t = 1; t < nthreads; t++) {
		args[t] = (par_arg){fn, ctx, t};
		if (pthread_create(&th[t], NULL, par_main, &args[t]))
			break;
		started++;
	}
	fn(ctx, 0);
	for (int t = 1; t < started; t++)
		pthread_join(th[t], NULL);
	/* Threads that could not start: do their share here, in order. */
	for (int t = started; t < nthreads; t++)
		fn(ctx, t);
	return 0;
}
