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

/* The gang: every thread waits at the gate until all have started, so
 * fn may wait for its peers (a barrier); when one cannot start, none
 * runs fn and the call says so. */
typedef struct gang {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state; /* 0 waiting, 1 go, -1 called off */
} gang;

typedef struct gang_arg {
	par_arg a;
	gang *g;
} gang_arg;

static void *gang_main(void *v)
{
	gang_arg *p = v;
	pthread_mutex_lock(&p->g->mu);
	while (!p->g->state)
		pthread_cond_wait(&p->g->cv, &p->g->mu);
	int go = p->g->state > 0;
	pthread_mutex_unlock(&p->g->mu);
	if (go)
		p->a.fn(p->a.ctx, p->a.t);
	return NULL;
}

int dcc_parallel_gang(int nthreads, void (*fn)(void *ctx, int t), void *ctx)
{
	pthread_t th[64];
	gang_arg args[64];
	gang g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
	int started = 1;
	if (nthreads > 64)
		return -1;
	for (int t = 1; t < nthreads; t++) {
		args[t] = (gang_arg){{fn, ctx, t}, &g};
		if (pthread_create(&th[t], NULL, gang_main, &args[t]))
			break;
		started++;
	}
	pthread_mutex_lock(&g.mu);
	g.state = started == nthreads || nthreads < 1 ? 1 : -1;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	if (g.state > 0 && nthreads > 0)
		fn(ctx, 0);
	for (int t = 1; t < started; t++)
		pthread_join(th[t], NULL);
	return g.state > 0 ? 0 : -1;
}
