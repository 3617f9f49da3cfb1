// SPDX-License-Identifier: MIT
/*
 * The compression pipeline: files to compress are cut into fixed-size
 * segments, which worker threads compress ahead of the writer while the
 * writer takes them back in order.  A bounded ring keeps memory to a few
 * segments per worker (2 per worker, and 1); the writer may hold a segment
 * it took in its slot (zfile.c), which then waits to be refilled.  With
 * one worker the writer compresses each segment itself when it gets to it.  The order of the output never depends on the
 * number of workers.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/builder.h"
#include "builder/place/place.h"

enum { SEG_FREE, SEG_PENDING, SEG_CLAIMED, SEG_DONE };

struct zpipe {
	struct eroot_builder *b;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct zseg *ring;
	size_t cap;
	uint64_t submitted, claimed, taken, consumed;	/* sequence numbers */
	bool stop;
	bool packed_sized;			/* the packed inode may be queued */
	size_t node_i;				/* what to submit next */
	uint64_t seg_off;
	unsigned int nthreads, nworkers;
	pthread_t *threads;
	struct zworker *workers;		/* [0] is the writer's own */
};

uint64_t zpipe_segment_bytes(const struct zprofile *p)
{
	uint64_t seg = 4ull << 20;

	return seg > 4 * p->max_in ? seg : 4 * p->max_in;
}

/* Queue segments until the ring is full (call with the lock held). */
static void fill(struct zpipe *p)
{
	struct eroot_builder *b = p->b;

	while (p->submitted - p->consumed < p->cap && p->node_i < b->nnodes) {
		struct bnode *n = b->nodes[p->node_i];
		struct zseg *s;

		if (n->is_packed && !p->packed_sized)
			break;	/* its size comes with the last fragment */
		if (!S_ISREG(n->mode) || !is_compressed(n) || n->frag_all || p->seg_off >= n->size) {
			p->node_i++;
			p->seg_off = 0;
			continue;
		}
		uint64_t seg = zpipe_segment_bytes(profile_of(b, n));

		s = &p->ring[p->submitted++ % p->cap];
		memset(s, 0, sizeof(*s));
		s->n = n;
		s->start = p->seg_off;
		s->len = n->size - p->seg_off < seg ? n->size - p->seg_off : seg;
		s->state = SEG_PENDING;
		p->seg_off += s->len;
	}
	pthread_cond_broadcast(&p->cv);
}

struct worker_arg {
	struct zpipe *p;
	struct zworker *w;
};

static void *worker_loop(void *arg)
{
	struct worker_arg *a = arg;
	struct zpipe *p = a->p;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct zseg *s;

		if (p->claimed == p->submitted) {
			pthread_cond_wait(&p->cv, &p->lock);
			continue;
		}
		s = &p->ring[p->claimed++ % p->cap];
		s->state = SEG_CLAIMED;
		pthread_mutex_unlock(&p->lock);
		compress_segment(p->b, a->w, s);
		pthread_mutex_lock(&p->lock);
		s->state = SEG_DONE;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->lock);
	free(a);
	return NULL;
}

/* Buffers for the largest segment and pcluster of any profile. */
static int worker_init(struct eroot_builder *b, struct zworker *w)
{
	uint64_t seg = 0, pcluster = 0;

	for (size_t i = 0; i < b->nprofiles; i++) {
		const struct zprofile *p = &b->profiles[i];

		if (zpipe_segment_bytes(p) > seg)
			seg = zpipe_segment_bytes(p);
		if (p->pcluster_bytes > pcluster)
			pcluster = p->pcluster_bytes;
	}
	w->states = calloc(b->nprofiles, sizeof(*w->states));
	w->in = malloc(seg);
	w->zout = malloc(pcluster);
	return w->states && w->in && w->zout ? 0 : -ENOMEM;
}

static void worker_fini(struct eroot_builder *b, struct zworker *w)
{
	for (size_t i = 0; w->states && i < b->nprofiles; i++)
		if (w->states[i])
			b->profiles[i].codec->enc_free(w->states[i]);
	free(w->states);
	free(w->in);
	free(w->zout);
}

int zpipe_new(struct eroot_builder *b, struct zpipe **out)
{
	struct zpipe *p = calloc(1, sizeof(*p));
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int n = b->opts.workers ? b->opts.workers : (cores > 0 ? (unsigned int)cores : 1);

	*out = p;
	if (!p)
		return -ENOMEM;
	p->b = b;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->nthreads = n > 1 ? n : 0;
	p->cap = 2 * (size_t)n + 1;
	p->ring = calloc(p->cap, sizeof(*p->ring));
	p->nworkers = n + 1;
	p->workers = calloc(n + 1, sizeof(*p->workers));
	p->threads = calloc(n + 1, sizeof(*p->threads));
	if (!p->ring || !p->workers || !p->threads || worker_init(b, &p->workers[0]))
		return -ENOMEM;
	for (unsigned int i = 0; i < p->nthreads; i++) {
		struct worker_arg *a = malloc(sizeof(*a));

		if (!a || worker_init(b, &p->workers[i + 1])) {
			free(a);
			p->nthreads = i;
			return -ENOMEM;
		}
		*a = (struct worker_arg){ p, &p->workers[i + 1] };
		if (pthread_create(&p->threads[i], NULL, worker_loop, a)) {
			free(a);
			p->nthreads = i;
			return -EAGAIN;
		}
	}
	return 0;
}

struct zseg *zpipe_take(struct zpipe *p, struct bnode *n)
{
	struct zseg *s;

	pthread_mutex_lock(&p->lock);
	fill(p);
	s = &p->ring[p->taken % p->cap];
	if (p->taken == p->submitted || s->n != n) {
		pthread_mutex_unlock(&p->lock);
		return NULL;	/* out of step: cannot happen */
	}
	if (!p->nthreads && s->state == SEG_PENDING) {
		/* no workers: compress it here */
		s->state = SEG_CLAIMED;
		p->claimed++;
		pthread_mutex_unlock(&p->lock);
		compress_segment(p->b, &p->workers[0], s);
		pthread_mutex_lock(&p->lock);
		s->state = SEG_DONE;
	}
	while (s->state != SEG_DONE)
		pthread_cond_wait(&p->cv, &p->lock);
	p->taken++;
	pthread_mutex_unlock(&p->lock);
	return s;
}

void zpipe_release(struct zpipe *p)
{
	pthread_mutex_lock(&p->lock);
	zseg_release(&p->ring[p->consumed++ % p->cap]);
	fill(p);
	pthread_mutex_unlock(&p->lock);
}

void zpipe_packed_sized(struct zpipe *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->packed_sized = true;
	fill(p);
	pthread_mutex_unlock(&p->lock);
}

void zpipe_free(struct zpipe *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->lock);
	for (unsigned int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	for (unsigned int i = 0; p->workers && i < p->nworkers; i++)
		worker_fini(p->b, &p->workers[i]);
	for (size_t i = 0; p->ring && i < p->cap; i++)
		zseg_release(&p->ring[i]);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cv);
	free(p->ring);
	free(p->workers);
	free(p->threads);
	free(p);
}
