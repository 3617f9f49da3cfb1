// SPDX-License-Identifier: MIT
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "fsck_pool.h"

/* A batch: about what one decode-heavy step of a worker should be, small
 * enough that two workers share a tree of small files evenly. */
#define BATCH_RANGES	128
#define BATCH_BYTES	(2u << 20)
/* One read: a file's data is read in pieces of this size. */
#define PIECE		(256u << 10)
#define MAX_WORKERS	64

struct batch {
	struct fsck_range r[BATCH_RANGES];
	size_t path_off[BATCH_RANGES];
	unsigned int n;
	uint64_t bytes;
	char *paths;			/* the ranges' paths, NUL-terminated */
	size_t paths_len, paths_cap;
	bool done;
};

struct worker {
	struct fsck_pool *pool;
	struct eroot_image *img;	/* its own, or the caller's when inline */
	uint8_t *buf;
	pthread_t thread;
};

struct fsck_pool {
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	struct batch *ring;
	unsigned int slots;
	/* ring positions: [tail, next) given to workers or done, [next, head)
	 * waiting, head being filled; tail is the oldest not yet reported */
	uint64_t tail, next, head;
	bool stop;
	unsigned int nworkers;		/* threads; 0: read on the caller's thread */
	unsigned int nhandles;		/* workers[] with a handle open */
	struct worker *workers;
	struct worker inline_worker;
	fsck_result_fn done_fn;
	void *ctx;
};

unsigned int fsck_default_workers(void)
{
	cpu_set_t set;
	long n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n < 1)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (unsigned int)n;
}

static void read_range(struct worker *w, struct fsck_range *r)
{
	uint64_t off = r->start;

	while (off < r->end) {
		size_t want = r->end - off < PIECE ? (size_t)(r->end - off) : PIECE;
		/* fragments: read where they live, the packed inode, itself
		 * a range of the pool (the caller's choice) */
		ssize_t n = eroot_pread_skip_fragments(w->img, &r->ino, w->buf, want, off);

		if (n <= 0) {
			r->err = n ? (int)n : -EUCLEAN;
			/* a message lost to memory shortage leaves strerror() */
			r->why = strdup(n ? eroot_image_errmsg(w->img) : "file data ends early");
			return;
		}
		off += (uint64_t)n;
		r->bytes += (uint64_t)n;
	}
}

static void run_batch(struct worker *w, struct batch *b)
{
	for (unsigned int i = 0; i < b->n; i++) {
		/* a file stops at its first failure, as a sequential read does */
		if (i && b->r[i - 1].file == b->r[i].file && b->r[i - 1].err) {
			b->r[i].err = b->r[i - 1].err;
			continue;
		}
		read_range(w, &b->r[i]);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct fsck_pool *p = w->pool;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct batch *b;

		while (p->next == p->head && !p->stop)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->next == p->head)
			break;
		b = &p->ring[p->next++ % p->slots];
		pthread_mutex_unlock(&p->lock);
		run_batch(w, b);
		pthread_mutex_lock(&p->lock);
		b->done = true;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Report the oldest batch, waiting for it when @wait; false if not done. */
static bool retire(struct fsck_pool *p, bool wait)
{
	struct batch *b = &p->ring[p->tail % p->slots];

	if (p->nworkers) {
		pthread_mutex_lock(&p->lock);
		while (wait && !b->done)
			pthread_cond_wait(&p->done, &p->lock);
		pthread_mutex_unlock(&p->lock);
	}
	if (!b->done)
		return false;
	for (unsigned int i = 0; i < b->n; i++) {
		p->done_fn(p->ctx, &b->r[i]);
		free((char *)b->r[i].why);
	}
	b->n = 0;
	b->bytes = 0;
	b->paths_len = 0;
	b->done = false;
	p->tail++;
	return true;
}

/* Hand the batch being filled to the workers (or read it here). */
static void submit(struct fsck_pool *p)
{
	struct batch *b = &p->ring[p->head % p->slots];

	if (!b->n)
		return;
	for (unsigned int i = 0; i < b->n; i++)
		b->r[i].path = b->paths + b->path_off[i];
	if (!p->nworkers) {
		run_batch(&p->inline_worker, b);
		b->done = true;
		p->head++;
	} else {
		pthread_mutex_lock(&p->lock);
		p->head++;
		pthread_cond_signal(&p->work);
		pthread_mutex_unlock(&p->lock);
	}
	/* report what is finished, and free the next slot to fill */
	while (p->tail < p->head && retire(p, p->head - p->tail >= p->slots))
		;
}

static int add_path(struct batch *b, const char *path, uint64_t file)
{
	size_t len = strlen(path) + 1;

	if (b->n && b->r[b->n - 1].file == file) {
		b->path_off[b->n] = b->path_off[b->n - 1];
		return 0;
	}
	if (b->paths_cap - b->paths_len < len) {
		size_t cap = b->paths_cap ? b->paths_cap : 4096;
		char *s;

		while (cap - b->paths_len < len)
			cap *= 2;
		s = realloc(b->paths, cap);
		if (!s)
			return -ENOMEM;
		b->paths = s;
		b->paths_cap = cap;
	}
	memcpy(b->paths + b->paths_len, path, len);
	b->path_off[b->n] = b->paths_len;
	b->paths_len += len;
	return 0;
}

int64_t fsck_pool_add(struct fsck_pool *p, const struct eroot_inode *ino, const char *path,
		      uint64_t file, uint64_t start, uint64_t end)
{
	struct batch *b = &p->ring[p->head % p->slots];
	uint64_t len = end - start, room = BATCH_BYTES - b->bytes;
	int err;

	if (start >= end)
		return -EINVAL;
	/* a file larger than the room left is cut at a piece boundary,
	 * so a range is read in the same pieces whatever the batches */
	if (len > room) {
		uint64_t cut = (start + room) & ~(uint64_t)(PIECE - 1);

		len = cut > start ? cut - start : room;
	}
	err = add_path(b, path, file);
	if (err)
		return err;
	b->r[b->n++] = (struct fsck_range){
		.ino = *ino, .file = file, .start = start, .end = start + len,
	};
	b->bytes += len;
	if (b->n == BATCH_RANGES || b->bytes >= BATCH_BYTES)
		submit(p);
	return (int64_t)len;
}

void fsck_pool_drain(struct fsck_pool *p)
{
	submit(p);
	while (p->tail < p->head)
		retire(p, true);
}

static void stop_workers(struct fsck_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned int i = 0; i < p->nworkers; i++)
		pthread_join(p->workers[i].thread, NULL);
}

static void release(struct fsck_pool *p)
{
	for (unsigned int i = 0; i < p->nhandles; i++) {
		eroot_image_close(p->workers[i].img);
		free(p->workers[i].buf);
	}
	for (unsigned int i = 0; p->ring && i < p->slots; i++)
		free(p->ring[i].paths);
	free(p->inline_worker.buf);
	free(p->ring);
	free(p->workers);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void fsck_pool_free(struct fsck_pool *p)
{
	if (!p)
		return;
	fsck_pool_drain(p);
	stop_workers(p);
	release(p);
}

/* The worker's handle must show the image the caller's shows. */
static bool same_image(struct eroot_image *a, struct eroot_image *b)
{
	const struct eroot_super_info *x = eroot_image_super(a), *y = eroot_image_super(b);

	return x->blocks == y->blocks && x->root_nid == y->root_nid &&
	       x->inodes == y->inodes && x->checksum == y->checksum &&
	       x->meta_blkaddr == y->meta_blkaddr &&
	       x->feature_incompat == y->feature_incompat && !memcmp(x->uuid, y->uuid, 16);
}

static int open_workers(struct fsck_pool *p, struct eroot_image *img, const char *path,
			uint64_t offset, unsigned int n, char *why, size_t why_size)
{
	p->workers = calloc(n, sizeof(*p->workers));
	if (!p->workers)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		struct worker *w = &p->workers[i];
		int err = eroot_image_open_path(path, offset, &w->img);

		if (w->img)
			p->nhandles = i + 1;
		if (!err && !same_image(img, w->img))
			err = -EIO;
		if (!err)	/* a multi-device image's devices, as the caller's */
			err = reattach_devices(w->img);
		if (err) {
			snprintf(why, why_size, "%s", err == -EIO && w->img ?
				 "the image changed while being checked" :
				 w->img ? eroot_image_errmsg(w->img) : "out of memory");
			return err;
		}
		w->pool = p;
		w->buf = malloc(PIECE);
		if (!w->buf)
			return -ENOMEM;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]))
			break;	/* fewer threads still do the work */
		p->nworkers = i + 1;
	}
	return 0;
}

int fsck_pool_new(struct eroot_image *img, const char *path, uint64_t offset,
		  unsigned int workers, fsck_result_fn done, void *ctx,
		  struct fsck_pool **out, char *why, size_t why_size)
{
	struct fsck_pool *p = calloc(1, sizeof(*p));
	int err = 0;

	*out = NULL;
	snprintf(why, why_size, "out of memory");
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->done_fn = done;
	p->ctx = ctx;
	if (workers > MAX_WORKERS)
		workers = MAX_WORKERS;
	/* two batches a worker keep it busy while the walk goes on */
	p->slots = workers > 1 ? 2 * workers + 2 : 1;
	p->ring = calloc(p->slots, sizeof(*p->ring));
	if (!p->ring)
		err = -ENOMEM;
	if (!err && workers > 1)
		err = open_workers(p, img, path, offset, workers, why, why_size);
	if (!err && !p->nworkers) {
		/* one worker, or no thread could start: read here */
		p->slots = 1;
		p->inline_worker = (struct worker){ .pool = p, .img = img, .buf = malloc(PIECE) };
		if (!p->inline_worker.buf)
			err = -ENOMEM;
	}
	if (err) {
		stop_workers(p);
		release(p);
		return err;
	}
	*out = p;
	return 0;
}
