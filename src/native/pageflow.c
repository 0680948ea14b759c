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
 * wants; a file system that refuses (EINVAL) gets buffered writes.
 *
 * dump --compress (zpages_write.c) runs the same pipeline with two workers in place of the
 * hasher: each takes the next zstd chunk (64 pages) of the oldest block, hashes its pages and
 * compresses it from the block itself, and the writer appends the block's frames in chunk order
 * (buffered: the frames are not page-aligned). Before, the tracer thread hashed each block and
 * copied it into the compressors' slots, and wrote every frame itself: its 1.0-1.2 s for 1 GiB of
 * heap-like memory set the dump's pace, whatever zstd's level, while the compressors waited. */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "image.h"

#define SLOTS 4
#define ZWORKERS 2 /* 2 cores: the tracer's copy and the writer leave them the rest */

struct slot {
	uint8_t *data;
	size_t len;
	uint64_t off;     /* where in the file (uncompressed) */
	uint64_t *hashes; /* one per page */
	/* its pieces, each hashed (and compressed) by one worker: the whole block, or its zstd chunks */
	uint32_t npieces, taken, finished;
	uint8_t *out;         /* compressed: chunk k's frame at k * bound */
	struct iovec *frames; /* and its length */
};

struct pageflow {
	int fd;
	int direct_fd; /* the same file opened O_DIRECT, or -1 */
	uint32_t ps;
	struct zpages *z; /* compressed: the frames go through zpages_put */
	size_t piece;     /* bytes of a piece: PAGEFLOW_BLOCK, or a zstd chunk */
	size_t bound;     /* room for one piece's frame */
	void *zctx;       /* without threads: the caller's zstd context */
	pthread_t workers[ZWORKERS], writer;
	int nworkers, has_writer;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot slots[SLOTS];
	/* a ring, in submission order: [hashed, tail) wait for the workers, [written, hashed) for the
	 * writer; the others are free */
	unsigned written, hashed, tail;
	int stop;
	int err;          /* errno of the first failed write; nothing is written after it */
	const char *why;  /* or an internal error's message */
	const char *zerr; /* or zstd's error name */
};

/* Piece k of block s: its pages hashed, and compressed into its frame. */
static const char *do_piece(struct pageflow *f, struct slot *s, uint32_t k, void *zctx)
{
	size_t at = (size_t)k * f->piece, n = s->len - at < f->piece ? s->len - at : f->piece;
	for (size_t o = 0; o < n; o += f->ps)
		s->hashes[(at + o) / f->ps] = xxh64(s->data + at + o, f->ps, 0);
	if (!f->z)
		return NULL;
	const char *err;
	s->frames[k].iov_base = s->out + (size_t)k * f->bound;
	s->frames[k].iov_len = zchunk_compress(f->z, zctx, s->frames[k].iov_base, s->data + at, n, &err);
	return err;
}

/* Block s, hashed (and compressed): to the file. 0, or the errno of a failed write (f->why set
 * for an internal error). */
static int write_block(struct pageflow *f, struct slot *s)
{
	if (f->z) {
		const char *why;
		if (zpages_put(f->z, f->fd, s->frames, (int)s->npieces, s->len, &why) == 0)
			return 0;
		f->why = why;
		return why || !errno ? EIO : errno;
	}
	if (f->direct_fd >= 0 && pwrite_all(f->direct_fd, s->data, s->len, s->off) < 0) {
		if (errno != EINVAL)
			return errno ? errno : EIO;
		close(f->direct_fd); /* refused: buffered from here on (pwrite_all rewrites the whole block) */
		f->direct_fd = -1;
	}
	if (f->direct_fd < 0 && pwrite_all(f->fd, s->data, s->len, s->off) < 0)
		return errno ? errno : EIO;
	return 0;
}

static void *work_pieces(void *arg)
{
	struct pageflow *f = arg;
	void *zctx = f->z ? zchunk_ctx_new() : NULL;
	pthread_mutex_lock(&f->mu);
	for (;;) {
		struct slot *s = NULL; /* the oldest block with a piece nobody took */
		for (unsigned i = f->hashed; i != f->tail && !s; i++)
			if (f->slots[i % SLOTS].taken < f->slots[i % SLOTS].npieces)
				s = &f->slots[i % SLOTS];
		if (!s) {
			if (f->stop)
				break;
			pthread_cond_wait(&f->cv, &f->mu);
			continue;
		}
		uint32_t k = s->taken++;
		pthread_mutex_unlock(&f->mu);
		const char *zerr = do_piece(f, s, k, zctx);
		pthread_mutex_lock(&f->mu);
		if (zerr && !f->err)
			f->err = EIO, f->zerr = zerr;
		s->finished++;
		int moved = 0;
		while (f->hashed != f->tail && f->slots[f->hashed % SLOTS].finished == f->slots[f->hashed % SLOTS].npieces)
			f->hashed++, moved = 1;
		if (moved)
			pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	zchunk_ctx_free(zctx);
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
		int e = failed ? 0 : write_block(f, s);
		pthread_mutex_lock(&f->mu);
		if (e && !f->err)
			f->err = e;
		f->written++;
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* The first failure, said with fail(); -1. */
static int flow_failed(const struct pageflow *f, int e)
{
	if (f->zerr)
		return fail(EXIT_FAIL, "zstd: %s", f->zerr);
	if (f->why)
		return fail(EXIT_FAIL, "%s", f->why);
	errno = e;
	return fail_errno(EXIT_IO, "cannot write the image");
}

struct pageflow *pageflow_start(int fd, uint32_t page_size, int threads, struct zpages *z)
{
	struct pageflow *f = xcalloc(1, sizeof(*f));
	f->fd = fd;
	f->ps = page_size;
	f->direct_fd = -1;
	f->z = z;
	f->piece = z ? (size_t)zpages_chunk_pages(page_size) * page_size : PAGEFLOW_BLOCK;
	f->bound = z ? zchunk_bound(f->piece) : 0;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	int nslots = threads ? SLOTS : 1, e = 0;
	for (int i = 0; i < nslots && !e; i++) {
		struct slot *s = &f->slots[i];
		e = posix_memalign((void **)&s->data, page_size, PAGEFLOW_BLOCK);
		if (!e && z) {
			/* untouched until a frame needs it: a compressible block uses little of it */
			s->out = xmalloc(PAGEFLOW_BLOCK / f->piece * f->bound);
			s->frames = xcalloc(PAGEFLOW_BLOCK / f->piece, sizeof(*s->frames));
		}
	}
	if (e) {
		pageflow_stop(f);
		errno = e;
		fail_errno(EXIT_FAIL, "cannot allocate the page blocks");
		return NULL;
	}
	if (!threads) {
		/* one block: threads would cost more to start and to hand over to than they save */
		f->zctx = z ? zchunk_ctx_new() : NULL;
		return f;
	}
	if (!z) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		f->direct_fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
	}
	/* every signal blocked in the threads: the SIGCHLD of a ptrace stop must reach the tracer
	 * thread's sigtimedwait (tracee_wait), and SIGINT/SIGTERM its cancel handler */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (int i = 0; i < (z ? ZWORKERS : 1) && !e; i++)
		if (!(e = pthread_create(&f->workers[i], NULL, work_pieces, f)))
			f->nworkers++;
	if (!e && !(e = pthread_create(&f->writer, NULL, write_blocks, f)))
		f->has_writer = 1;
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
	if (!f->has_writer)
		return f->err ? (flow_failed(f, f->err), NULL) : f->slots[0].data;
	pthread_mutex_lock(&f->mu);
	while (f->tail - f->written == SLOTS && !f->err)
		pthread_cond_wait(&f->cv, &f->mu);
	int e = f->err;
	pthread_mutex_unlock(&f->mu);
	if (e) {
		flow_failed(f, e);
		return NULL;
	}
	return f->slots[f->tail % SLOTS].data;
}

void pageflow_submit(struct pageflow *f, size_t len, uint64_t off, uint64_t *hashes)
{
	struct slot *s = &f->slots[f->has_writer ? f->tail % SLOTS : 0];
	s->len = len, s->off = off, s->hashes = hashes;
	s->npieces = (uint32_t)((len + f->piece - 1) / f->piece);
	s->taken = s->finished = 0;
	if (!f->has_writer) {
		/* the block now, on the caller's thread */
		for (uint32_t k = 0; k < s->npieces && !f->err; k++) {
			const char *zerr = do_piece(f, s, k, f->zctx);
			if (zerr)
				f->err = EIO, f->zerr = zerr;
		}
		if (!f->err)
			f->err = write_block(f, s);
		return;
	}
	pthread_mutex_lock(&f->mu);
	f->tail++;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

int pageflow_wait(struct pageflow *f)
{
	if (!f->has_writer)
		return f->err ? flow_failed(f, f->err) : 0;
	pthread_mutex_lock(&f->mu);
	while (f->written != f->tail)
		pthread_cond_wait(&f->cv, &f->mu);
	int e = f->err;
	pthread_mutex_unlock(&f->mu);
	return e ? flow_failed(f, e) : 0;
}

void pageflow_stop(struct pageflow *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	for (int i = 0; i < f->nworkers; i++)
		pthread_join(f->workers[i], NULL);
	if (f->has_writer)
		pthread_join(f->writer, NULL);
	f->nworkers = f->has_writer = 0;
	for (int i = 0; i < SLOTS; i++) {
		free(f->slots[i].data);
		free(f->slots[i].out);
		free(f->slots[i].frames);
	}
	zchunk_ctx_free(f->zctx);
	if (f->direct_fd >= 0)
		close(f->direct_fd);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
}
