// SPDX-License-Identifier: MIT
/*
 * The compression pipeline: files to compress are cut into fixed-size
 * segments, which worker threads compress ahead of the writer while the
 * writer takes them back in order.
 *
 * The ring is bounded by bytes, not by a count of segments: segments are
 * queued while their input in flight (queued, being compressed, done and
 * not yet released) stays within a budget (64 MiB by default), in a ring
 * with a slot per 64 KiB of it, so neither a few slow big segments nor a
 * flood of small files (a segment each) leaves a worker idle while the
 * writer is behind.  Memory stays bounded by the budget: a segment's
 * output buffer exists only from its claim to its release, and shrinks to
 * its compressed size once done.  The peak of the buffers is reported in
 * the build stats.
 *
 * The writer may hold a segment it took in its slot (zfile.c), which then
 * counts against the budget until released.  When the writer's next
 * segment is still unclaimed it compresses it itself (with one worker it
 * always does).  The output never depends on the number of workers or the
 * size of the ring: segments are cut the same way and placed in order.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/builder.h"
#include "builder/place/place.h"

enum { SEG_FREE, SEG_PENDING, SEG_CLAIMED, SEG_DONE };

#define ZPIPE_DEFAULT_BYTES	(64ull << 20)
#define ZPIPE_BYTES_PER_SLOT	(64u << 10)

struct zpipe {
	struct eroot_builder *b;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct zseg *ring;
	size_t cap;
	uint64_t submitted, claimed, taken, consumed;	/* sequence numbers */
	uint64_t budget, in_flight;		/* input bytes */
	uint64_t mem, mem_peak;			/* bytes of buffers */
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

static void mem_add(struct zpipe *p, uint64_t more, uint64_t less)
{
	p->mem += more;
	p->mem -= less;
	if (p->mem > p->mem_peak)
		p->mem_peak = p->mem;
}

/* Queue segments while the budget and the ring allow (lock held). */
static void fill(struct zpipe *p)
{
	struct eroot_builder *b = p->b;

	while (p->submitted - p->consumed < p->cap && p->node_i < b->nnodes) {
		struct bnode *n = b->nodes[p->node_i];
		uint64_t seg, len;
		struct zseg *s;

		if (n->is_packed && !p->packed_sized)
			break;	/* its size comes with the last fragment */
		if (!S_ISREG(n->mode) || !is_compressed(n) || n->frag_all || p->seg_off >= n->size) {
			p->node_i++;
			p->seg_off = 0;
			continue;
		}
		seg = zpipe_segment_bytes(profile_of(b, n));
		len = n->size - p->seg_off < seg ? n->size - p->seg_off : seg;
		if (p->in_flight && p->in_flight + len > p->budget)
			break;
		s = &p->ring[p->submitted++ % p->cap];
		memset(s, 0, sizeof(*s));
		s->n = n;
		s->start = p->seg_off;
		s->len = len;
		s->state = SEG_PENDING;
		p->seg_off += len;
		p->in_flight += len;
	}
	pthread_cond_broadcast(&p->cv);
}

/* Claim @s (lock held): its output buffer is counted from now on. */
static void claim(struct zpipe *p, struct zseg *s)
{
	s->state = SEG_CLAIMED;
	p->claimed++;
	s->mem = s->len + blksz_of(p->b);	/* compress_segment()'s output */
	mem_add(p, s->mem, 0);
}

/* Compress @s (lock not held); done when the lock is taken again. */
static void compress_one(struct zpipe *p, struct zworker *w, struct zseg *s)
{
	size_t keep;

	compress_segment(p->b, w, s);
	/* most output is smaller than its input: give the rest back */
	keep = (size_t)s->out_blocks << p->b->blkszbits;
	if (s->out && keep && keep < s->len + blksz_of(p->b)) {
		uint8_t *out = realloc(s->out, keep);

		if (out)
			s->out = out;
	}
}

static void done(struct zpipe *p, struct zseg *s)
{
	uint64_t keep = s->out_blocks << p->b->blkszbits;
	uint64_t mem = (s->out && keep ? keep : s->len + blksz_of(p->b)) + s->tail_len +
		       (uint64_t)s->cap * sizeof(*s->ext);

	mem_add(p, mem, s->mem);
	s->mem = mem;
	s->state = SEG_DONE;
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
		s = &p->ring[p->claimed % p->cap];
		claim(p, s);
		pthread_mutex_unlock(&p->lock);
		compress_one(p, a->w, s);
		pthread_mutex_lock(&p->lock);
		done(p, s);
	}
	pthread_mutex_unlock(&p->lock);
	free(a);
	return NULL;
}

/* Buffers for the largest segment and pcluster of any profile. */
static int worker_init(struct zpipe *p, struct zworker *w)
{
	struct eroot_builder *b = p->b;
	uint64_t seg = 0, pcluster = 0;

	for (size_t i = 0; i < b->nprofiles; i++) {
		const struct zprofile *z = &b->profiles[i];

		if (zpipe_segment_bytes(z) > seg)
			seg = zpipe_segment_bytes(z);
		if (z->pcluster_bytes > pcluster)
			pcluster = z->pcluster_bytes;
	}
	w->states = calloc(b->nprofiles, sizeof(*w->states));
	w->in = malloc(seg);
	w->zout = malloc(pcluster);
	mem_add(p, seg + pcluster, 0);
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

/*
 * The budget: the option, else the default, and never less than what the
 * writer holds (zfile.c: one segment) and the one it takes next, with one
 * more for a worker; a slot per 64 KiB of it, and no fewer than before
 * (2 per worker, and 1).
 */
static void size_ring(struct zpipe *p, unsigned int n)
{
	struct eroot_builder *b = p->b;
	uint64_t seg = 0;

	for (size_t i = 0; i < b->nprofiles; i++)
		if (zpipe_segment_bytes(&b->profiles[i]) > seg)
			seg = zpipe_segment_bytes(&b->profiles[i]);
	p->budget = b->opts.pipeline_bytes ? b->opts.pipeline_bytes : ZPIPE_DEFAULT_BYTES;
	if (p->budget < 3 * seg)
		p->budget = 3 * seg;
	p->cap = p->budget / ZPIPE_BYTES_PER_SLOT;
	if (p->cap < 2 * (size_t)n + 1)
		p->cap = 2 * (size_t)n + 1;
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
	size_ring(p, n);
	p->ring = calloc(p->cap, sizeof(*p->ring));
	p->nworkers = n + 1;
	p->workers = calloc(n + 1, sizeof(*p->workers));
	p->threads = calloc(n + 1, sizeof(*p->threads));
	if (!p->ring || !p->workers || !p->threads || worker_init(p, &p->workers[0]))
		return -ENOMEM;
	for (unsigned int i = 0; i < p->nthreads; i++) {
		struct worker_arg *a = malloc(sizeof(*a));

		if (!a || worker_init(p, &p->workers[i + 1])) {
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
	if (s->state == SEG_PENDING) {
		/* claims go in order, so this is the next one to claim: the
		 * writer would only wait for it */
		claim(p, s);
		pthread_mutex_unlock(&p->lock);
		compress_one(p, &p->workers[0], s);
		pthread_mutex_lock(&p->lock);
		done(p, s);
	}
	while (s->state != SEG_DONE)
		pthread_cond_wait(&p->cv, &p->lock);
	p->taken++;
	pthread_mutex_unlock(&p->lock);
	return s;
}

void zpipe_release(struct zpipe *p)
{
	struct zseg *s;

	pthread_mutex_lock(&p->lock);
	s = &p->ring[p->consumed++ % p->cap];
	p->in_flight -= s->len;
	mem_add(p, 0, s->mem);
	zseg_release(s);
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
	p->b->stats.pipeline_peak_bytes = p->mem_peak;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cv);
	free(p->ring);
	free(p->workers);
	free(p->threads);
	free(p);
}
