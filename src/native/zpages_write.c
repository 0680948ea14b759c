/* dump --compress: the writing of compressed pages (format 2.2, `pages_zstd`); zpages_read.c
 * reads them (split so that image.c, which writes through here, and the reader, which checks
 * records through image.c, do not need each other).
 *
 * The writer cuts a pagemap's pages, as the dump streams them (iw_pages_write), into chunks of
 * ZCHUNK_PAGES pages and writes each as one zstd frame; the chunk index (`chunk_ends`) is reserved
 * at the start of the payload and written last, with the record's real length. Page hashes stay
 * those of the uncompressed pages (the dump computes them before the bytes reach the writer).
 * Readers decompress one chunk per page read, into a buffer of exactly its pages' size: a frame
 * that states another size, or that decodes to another, is refused (rule zstd_chunks).
 *
 * zstd is linked when the build found zstd.h (Debian's libzstd-dev: src/native/Makefile sets
 * HAVE_ZSTD); without it, `--compress` is refused up front and compressed images cannot be
 * restored (exit 5), with a message that says why. */
#include "ckpt.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "image.h"
#include "util.h"
#include "xxh64.h"

#ifdef HAVE_ZSTD
#include <zstd.h>
#endif

#define ZCHUNK_PAGES 64u /* 256 KiB chunks: a page read decompresses ~0.1 ms of data */

void zstd_no_context(void)
{
	fputs("ckpt: out of memory (a zstd context)\n", stderr);
	_exit(EXIT_FAIL);
}

/* The largest frame a chunk of n bytes may take (rule zstd_chunks; above ZSTD_compressBound). */
uint64_t zchunk_bound(uint64_t n)
{
	return n + n / 128 + 512;
}

const char *zstd_unavailable(void)
{
#ifdef HAVE_ZSTD
	return NULL;
#else
	return "this ckpt was built without zstd (install libzstd-dev and rebuild: make -C src/native)";
#endif
}

/* Chunks are compressed by ZWORKERS threads while the dump goes on reading pages (2 cores: the
 * dump's own thread reads and hashes, the workers compress); frames are written in chunk order.
 * Each of ZSLOTS slots holds one chunk, reused round-robin: the oldest is written before reuse. */
#define ZWORKERS 2
#define ZSLOTS 6

enum { SLOT_FREE, SLOT_READY, SLOT_BUSY, SLOT_DONE };

struct zslot {
	uint8_t *in, *out;
	size_t n, outn;
	int state;
	uint64_t seq;
	const char *err; /* a zstd error name */
};

struct zpages {
	int level;
	uint32_t chunk_bytes, chunk_pages;
	struct zslot slot[ZSLOTS];
	unsigned cur;         /* the slot being filled */
	uint64_t seq;         /* chunks handed to the workers so far */
	uint32_t *ends, nchunks, done;
	uint64_t payload_off; /* file offset of the pages_zstd payload */
	uint64_t frames_len;
	uint64_t raw, packed; /* totals, for the summary */
#ifdef HAVE_ZSTD
	pthread_t th[ZWORKERS];
	int nth, stop;
	pthread_mutex_t mu;
	pthread_cond_t work, finished;
#endif
};

#ifdef HAVE_ZSTD
static void *zworker(void *arg)
{
	struct zpages *z = arg;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	pthread_mutex_lock(&z->mu);
	for (;;) {
		struct zslot *s = NULL;
		for (int i = 0; i < ZSLOTS; i++) /* the oldest ready chunk first */
			if (z->slot[i].state == SLOT_READY && (!s || z->slot[i].seq < s->seq))
				s = &z->slot[i];
		if (!s) {
			if (z->stop)
				break;
			pthread_cond_wait(&z->work, &z->mu);
			continue;
		}
		s->state = SLOT_BUSY;
		pthread_mutex_unlock(&z->mu);
		size_t n = cctx ? ZSTD_compressCCtx(cctx, s->out, zchunk_bound(z->chunk_bytes), s->in, s->n, z->level) : 0;
		pthread_mutex_lock(&z->mu);
		s->err = !cctx ? "out of memory" : ZSTD_isError(n) ? ZSTD_getErrorName(n) : NULL;
		s->outn = n;
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&z->finished);
	}
	pthread_mutex_unlock(&z->mu);
	ZSTD_freeCCtx(cctx);
	return NULL;
}
#endif

struct zpages *zpages_new(int level)
{
#ifdef HAVE_ZSTD
	struct zpages *z = xcalloc(1, sizeof(*z));
	z->level = level;
	pthread_mutex_init(&z->mu, NULL);
	pthread_cond_init(&z->work, NULL);
	pthread_cond_init(&z->finished, NULL);
	/* the workers take no signal: cancels and the tracer's waits are the dump thread's */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 0; i < ZWORKERS; i++)
		if (pthread_create(&z->th[z->nth], NULL, zworker, z) == 0)
			z->nth++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!z->nth)
		zstd_no_context();
	return z;
#else
	(void)level;
	return NULL;
#endif
}

void zpages_free(struct zpages *z)
{
	if (!z)
		return;
#ifdef HAVE_ZSTD
	pthread_mutex_lock(&z->mu);
	z->stop = 1;
	pthread_cond_broadcast(&z->work);
	pthread_mutex_unlock(&z->mu);
	for (int i = 0; i < z->nth; i++)
		pthread_join(z->th[i], NULL);
	pthread_mutex_destroy(&z->mu);
	pthread_cond_destroy(&z->work);
	pthread_cond_destroy(&z->finished);
#endif
	for (int i = 0; i < ZSLOTS; i++) {
		free(z->slot[i].in);
		free(z->slot[i].out);
	}
	free(z->ends);
	free(z);
}

void zpages_totals(const struct zpages *z, uint64_t *raw, uint64_t *packed)
{
	*raw = z ? z->raw : 0;
	*packed = z ? z->packed : 0;
}

/* The pages payload of `pages_len` bytes starts at payload_off: reserve the chunk index. */
int zpages_begin(struct zpages *z, uint32_t page_size, uint64_t payload_off, uint64_t pages_len)
{
	uint32_t pages = ZCHUNK_PAGES;
	while ((uint64_t)pages * page_size > CKPT_MAX_ZSTD_CHUNK)
		pages /= 2; /* large pages: fewer per chunk */
	if (!z->slot[0].in) {
		z->chunk_pages = pages;
		z->chunk_bytes = pages * page_size;
		for (int i = 0; i < ZSLOTS; i++) {
			z->slot[i].in = xmalloc(z->chunk_bytes);
			z->slot[i].out = xmalloc(zchunk_bound(z->chunk_bytes));
		}
	}
	z->nchunks = (uint32_t)((pages_len + z->chunk_bytes - 1) / z->chunk_bytes);
	free(z->ends);
	z->ends = xcalloc(z->nchunks ? z->nchunks : 1, 4);
	z->done = 0;
	z->payload_off = payload_off;
	z->frames_len = 0;
	return 0;
}

static uint64_t frames_off(const struct zpages *z)
{
	return z->payload_off + sizeof(struct ckpt_pages_zstd_fixed) + (uint64_t)z->nchunks * 4;
}

#ifdef HAVE_ZSTD
/* Waits for slot s to be compressed and writes its frame, the next in chunk order. */
static int write_slot(struct zpages *z, struct zslot *s, int fd)
{
	pthread_mutex_lock(&z->mu);
	while (s->state == SLOT_READY || s->state == SLOT_BUSY)
		pthread_cond_wait(&z->finished, &z->mu);
	pthread_mutex_unlock(&z->mu);
	if (s->state != SLOT_DONE)
		return 0;
	s->state = SLOT_FREE;
	if (s->err)
		return fail(EXIT_FAIL, "zstd: %s", s->err);
	if (z->done == z->nchunks)
		return fail(EXIT_FAIL, "internal error: more compressed chunks than the pagemap announced");
	if (pwrite_all(fd, s->out, s->outn, frames_off(z) + z->frames_len) < 0)
		return fail_errno(EXIT_IO, "cannot write the image");
	z->frames_len += s->outn;
	if (z->frames_len > UINT32_MAX - 4096)
		return fail(EXIT_FAIL, "internal error: a compressed pages record over 4 GiB");
	z->ends[z->done++] = (uint32_t)z->frames_len;
	z->raw += s->n;
	z->packed += s->outn;
	s->n = 0;
	return 0;
}
#endif

/* The slot being filled goes to the workers; the next one is made free (written) for filling. */
static int flush_chunk(struct zpages *z, int fd)
{
#ifdef HAVE_ZSTD
	struct zslot *s = &z->slot[z->cur];
	if (!s->n)
		return 0;
	pthread_mutex_lock(&z->mu);
	s->seq = z->seq++;
	s->state = SLOT_READY;
	pthread_cond_signal(&z->work);
	pthread_mutex_unlock(&z->mu);
	z->cur = (z->cur + 1) % ZSLOTS;
	return write_slot(z, &z->slot[z->cur], fd);
#else
	(void)z, (void)fd;
	return -1;
#endif
}

int zpages_write(struct zpages *z, int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len) {
		struct zslot *s = &z->slot[z->cur];
		size_t k = z->chunk_bytes - s->n;
		if (k > len)
			k = len;
		memcpy(s->in + s->n, p, k);
		s->n += k;
		p += k;
		len -= k;
		if (s->n == z->chunk_bytes && flush_chunk(z, fd) < 0)
			return -1;
	}
	return 0;
}

/* The last chunk, every frame still being compressed, then the index; returns the payload's
 * length (0 on failure). */
uint64_t zpages_end(struct zpages *z, int fd)
{
#ifdef HAVE_ZSTD
	if (flush_chunk(z, fd) < 0)
		return 0;
	for (int i = 1; i < ZSLOTS; i++) /* the rest, oldest first (cur was written by flush_chunk) */
		if (write_slot(z, &z->slot[(z->cur + i) % ZSLOTS], fd) < 0)
			return 0;
#endif
	if (z->done != z->nchunks) {
		fail(EXIT_FAIL, "internal error: %u compressed chunks, the pagemap announced %u", z->done, z->nchunks);
		return 0;
	}
	struct ckpt_pages_zstd_fixed f = {.chunk_pages = z->chunk_pages, .nchunks = z->nchunks};
	if (pwrite_all(fd, &f, sizeof(f), z->payload_off) < 0 || pwrite_all(fd, z->ends, (size_t)z->nchunks * 4, z->payload_off + sizeof(f)) < 0) {
		fail_errno(EXIT_IO, "cannot write the image");
		return 0;
	}
	return frames_off(z) - z->payload_off + z->frames_len;
}
