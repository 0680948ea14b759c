/* Page data streamed into the image by a pipeline of three threads. The tracer thread (the only
 * one that may ptrace) copies blocks of pages out of the process into free buffers; a hasher
 * thread hashes each block page by page; a writer thread writes it at its place in the file. So
 * the copy, the hash and the write of successive blocks overlap, and the file sees only large
 * writes. On 2 cores, with the write mostly the disk's time, 1 GiB took 0.41-0.57 s to copy
 * plus 0.22-0.36 s to hash on one thread; split, the copy alone sets the pace of the CPUs.
 * The writes go around the page cache (O_DIRECT, on a second fd of the same file) where the
 * file system allows it. On this VM's ext4, 1 GiB took 0.6-1.1 s written direct in 16 MiB
 * blocks, 2.3-5.4 s buffered with its fsync; and even a --no-fsync image, which need not wait
 * for the disk, dumped slower buffered (256 MiB: 1.8-2.8 s against 0.8-1.3 s direct with its
 * fsync, at 3.4 times the CPU): every page of page cache is fresh memory, whose first touch
 * costs much here. Page data is page-aligned in the file and in whole pages, as O_DIRECT
 * wants; a file system that refuses (EINVAL) gets buffered writes. */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 4

struct slot {
	uint8_t *data;
	size_t len;
	uint64_t off;     /* where in the file */
	uint64_t *hashes; /* one per page */
};

struct pageflow {
	int fd;
	int direct_fd; /* the same file opened O_DIRECT, or -1 */
	uint32_t ps;
	pthread_t hasher, writer;
	int nthreads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot slots[SLOTS];
	/* a ring, in submission order: [hashed, tail) wait for the hasher, [written, hashed) for the
	 * writer; the others are free */
	unsigned written, hashed, tail;
	int stop;
	int err; /* errno of the first failed write; nothing is written after it */
};

static void *hash_blocks(void *arg)
{
	struct pageflow *f = arg;
	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (f->hashed == f->tail && !f->stop)
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->hashed == f->tail)
			break;
		struct slot *s = &f->slots[f->hashed % SLOTS];
		pthread_mutex_unlock(&f->mu);
		for (size_t o = 0; o < s->len; o += f->ps)
			s->hashes[o / f->ps] = xxh64(s->data + o, f->ps, 0);
		pthread_mutex_lock(&f->mu);
		f->hashed++;
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static void *write_blocks(void *arg)
{
	struct pageflow *f = arg;
	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (f->written == f->hashed && !(f->stop && f->hashed == f->tail))
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->written == f->hashed)
			break;
		struct slot *s = &f->slots[f->written % SLOTS];
		int failed = f->err != 0;
		pthread_mutex_unlock(&f->mu);
		int e = 0;
		if (!failed && f->direct_fd >= 0 && pwrite_all(f->direct_fd, s->data, s->len, s->off) < 0) {
			if (errno != EINVAL)
				e = errno ? errno : EIO;
			close(f->direct_fd); /* refused: buffered from here on (pwrite_all rewrites the whole block) */
			f->direct_fd = -1;
		}
		if (!failed && !e && f->direct_fd < 0 && pwrite_all(f->fd, s->data, s->len, s->off) < 0)
			e = errno ? errno : EIO;
		pthread_mutex_lock(&f->mu);
		if (e && !f->err)
			f->err = e;
		f->written++;
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* The block now, on the caller's thread (a pageflow without threads). */
static void hash_and_write(struct pageflow *f, struct slot *s)
{
	for (size_t o = 0; o < s->len; o += f->ps)
		s->hashes[o / f->ps] = xxh64(s->data + o, f->ps, 0);
	if (!f->err && pwrite_all(f->fd, s->data, s->len, s->off) < 0)
		f->err = errno ? errno : EIO;
}

struct pageflow *pageflow_start(int fd, uint32_t page_size, int threads)
{
	struct pageflow *f = xcalloc(1, sizeof(*f));
	f->fd = fd;
	f->ps = page_size;
	f->direct_fd = -1;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	if (!threads) {
		/* one block: threads would cost more to start and to hand over to than they save */
		f->slots[0].data = xmalloc(PAGEFLOW_BLOCK);
		return f;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	f->direct_fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
	int e = 0;
	for (int i = 0; i < SLOTS && !e; i++)
		e = posix_memalign((void **)&f->slots[i].data, page_size, PAGEFLOW_BLOCK);
	/* every signal blocked in the threads: the SIGCHLD of a ptrace stop must reach the tracer
	 * thread's sigtimedwait (tracee_wait), and SIGINT/SIGTERM its cancel handler */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (!e && !(e = pthread_create(&f->hasher, NULL, hash_blocks, f)))
		f->nthreads++;
	if (!e && !(e = pthread_create(&f->writer, NULL, write_blocks, f)))
		f->nthreads++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		pageflow_stop(f);
		errno = e;
		fail_errno(EXIT_FAIL, "cannot start the page writer threads");
		return NULL;
	}
	return f;
}

uint8_t *pageflow_buffer(struct pageflow *f)
{
	if (!f->nthreads)
		return f->err ? (errno = f->err, fail_errno(EXIT_IO, "cannot write the image"), NULL) : f->slots[0].data;
	pthread_mutex_lock(&f->mu);
	while (f->tail - f->written == SLOTS && !f->err)
		pthread_cond_wait(&f->cv, &f->mu);
	int e = f->err;
	pthread_mutex_unlock(&f->mu);
	if (e) {
		errno = e;
		fail_errno(EXIT_IO, "cannot write the image");
		return NULL;
	}
	return f->slots[f->tail % SLOTS].data;
}

void pageflow_submit(struct pageflow *f, size_t len, uint64_t off, uint64_t *hashes)
{
	if (!f->nthreads) {
		f->slots[0].len = len, f->slots[0].off = off, f->slots[0].hashes = hashes;
		hash_and_write(f, &f->slots[0]);
		return;
	}
	pthread_mutex_lock(&f->mu);
	struct slot *s = &f->slots[f->tail % SLOTS];
	s->len = len, s->off = off, s->hashes = hashes;
	f->tail++;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

int pageflow_wait(struct pageflow *f)
{
	if (!f->nthreads)
		return f->err ? (errno = f->err, fail_errno(EXIT_IO, "cannot write the image")) : 0;
	pthread_mutex_lock(&f->mu);
	while (f->written != f->tail)
		pthread_cond_wait(&f->cv, &f->mu);
	int e = f->err;
	pthread_mutex_unlock(&f->mu);
	if (e) {
		errno = e;
		return fail_errno(EXIT_IO, "cannot write the image");
	}
	return 0;
}

void pageflow_stop(struct pageflow *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	if (f->nthreads > 0)
		pthread_join(f->hasher, NULL);
	if (f->nthreads > 1)
		pthread_join(f->writer, NULL);
	f->nthreads = 0;
	for (int i = 0; i < SLOTS; i++)
		free(f->slots[i].data);
	if (f->direct_fd >= 0)
		close(f->direct_fd);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
}
