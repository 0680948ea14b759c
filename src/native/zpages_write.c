/* dump --compress: the writing of compressed pages (format 2.2, `pages_zstd`); zpages_read.c
 * reads them (split so that image.c, which writes through here, and the reader, which checks
 * records through image.c, do not need each other).
 *
 * A pagemap's pages are cut into chunks of ZCHUNK_PAGES pages, each written as one zstd frame; the
 * chunk index (`chunk_ends`) is reserved at the start of the payload and written last, with the
 * record's real length. Page hashes stay those of the uncompressed pages (the dump's workers hash
 * each chunk before they compress it).
 * Readers decompress one chunk per page read, into a buffer of exactly its pages' size: a frame
 * that states another size, or that decodes to another, is refused (rule zstd_chunks).
 *
 * zstd is linked when the build found zstd.h (Debian's libzstd-dev: src/native/Makefile sets
 * HAVE_ZSTD); without it, `--compress` is refused up front and compressed images cannot be
 * restored (exit 5), with a message that says why. */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
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

/* The chunks are compressed and written by the dump's page pipeline (pageflow.c): its workers
 * hash and compress the chunks of each block straight from the block the tracer copied the
 * pages into, in parallel, and its writer hands the frames here in chunk order. */
#define ZSTAGE (8u << 20)

struct zpages {
	int level;
	uint32_t page_size, chunk_bytes, chunk_pages;
	uint32_t *ends, nchunks, done;
	uint64_t payload_off; /* file offset of the pages_zstd payload */
	uint64_t frames_len;
	uint64_t raw, packed; /* totals, for the summary */
	/* The frames go to the file around the page cache, as pageflow.c writes uncompressed pages
	 * (there, fresh page cache cost a buffered 1 GiB of incompressible frames 0.1-1.6 s of
	 * copying, from one dump to the next): gathered in `stage` and written O_DIRECT in whole
	 * pages from stage_off on; the bytes before stage_off (the payload's first page, shared with
	 * the index) and the last partial page are written buffered. */
	int direct_fd; /* -1: buffered (not opened yet while direct_tried is 0) */
	int direct_tried;
	uint8_t *stage;
	size_t staged;
	uint64_t stage_off; /* page-aligned */
};

struct zpages *zpages_new(int level)
{
#ifdef HAVE_ZSTD
	struct zpages *z = xcalloc(1, sizeof(*z));
	z->level = level;
	z->direct_fd = -1;
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
	if (z->direct_fd >= 0)
		close(z->direct_fd);
	free(z->stage);
	free(z->ends);
	free(z);
}

void zpages_totals(const struct zpages *z, uint64_t *raw, uint64_t *packed)
{
	*raw = z ? z->raw : 0;
	*packed = z ? z->packed : 0;
}

uint32_t zpages_chunk_pages(uint32_t page_size)
{
	uint32_t pages = ZCHUNK_PAGES;
	while ((uint64_t)pages * page_size > CKPT_MAX_ZSTD_CHUNK)
		pages /= 2; /* large pages: fewer per chunk */
	return pages;
}

static uint64_t frames_off(const struct zpages *z)
{
	return z->payload_off + sizeof(struct ckpt_pages_zstd_fixed) + (uint64_t)z->nchunks * 4;
}

/* The pages payload of `pages_len` bytes starts at payload_off: reserve the chunk index. */
int zpages_begin(struct zpages *z, uint32_t page_size, uint64_t payload_off, uint64_t pages_len)
{
	z->chunk_pages = zpages_chunk_pages(page_size);
	z->chunk_bytes = z->chunk_pages * page_size;
	z->nchunks = (uint32_t)((pages_len + z->chunk_bytes - 1) / z->chunk_bytes);
	free(z->ends);
	z->ends = xcalloc(z->nchunks ? z->nchunks : 1, 4);
	z->done = 0;
	z->payload_off = payload_off;
	z->frames_len = 0;
	z->page_size = page_size;
	z->staged = 0;
	z->stage_off = (frames_off(z) + page_size - 1) / page_size * page_size;
	return 0;
}

void *zchunk_ctx_new(void)
{
#ifdef HAVE_ZSTD
	return ZSTD_createCCtx();
#else
	return NULL;
#endif
}

void zchunk_ctx_free(void *ctx)
{
#ifdef HAVE_ZSTD
	ZSTD_freeCCtx(ctx);
#else
	(void)ctx;
#endif
}

size_t zchunk_compress(const struct zpages *z, void *ctx, void *out, const void *in, size_t n, const char **err)
{
#ifdef HAVE_ZSTD
	size_t r = ctx ? ZSTD_compressCCtx(ctx, out, zchunk_bound(n), in, n, z->level) : 0;
	*err = !ctx ? "out of memory" : ZSTD_isError(r) ? ZSTD_getErrorName(r) : NULL;
	return *err ? 0 : r;
#else
	(void)z, (void)ctx, (void)out, (void)in, (void)n;
	*err = "not built in";
	return 0;
#endif
}

/* The staged bytes to the file: whole pages O_DIRECT (all: every byte, buffered); the rest moves
 * to the stage's start. */
static int stage_flush(struct zpages *z, int fd, int all)
{
	size_t n = all ? z->staged : z->staged / z->page_size * z->page_size;
	if (!n)
		return 0;
	if (!all && pwrite_all(z->direct_fd, z->stage, n, z->stage_off) < 0) {
		if (errno != EINVAL)
			return -1;
		close(z->direct_fd); /* refused: buffered from here on */
		z->direct_fd = -1;
		all = 1;
	}
	if (all && pwrite_all(fd, z->stage, n, z->stage_off) < 0)
		return -1;
	memmove(z->stage, z->stage + n, z->staged - n);
	z->staged -= n;
	z->stage_off += n;
	return 0;
}

/* len bytes of frames at file offset off: staged for O_DIRECT, or written buffered. */
static int put_bytes(struct zpages *z, int fd, const uint8_t *p, size_t len, uint64_t off)
{
	if (z->direct_fd < 0 || off < z->stage_off) {
		/* buffered: without O_DIRECT, or the payload's first page (the index shares it) */
		size_t k = z->direct_fd < 0 || z->stage_off - off > len ? len : (size_t)(z->stage_off - off);
		if (pwrite_all(fd, p, k, off) < 0)
			return -1;
		p += k, len -= k;
	}
	while (len) {
		if (z->staged == ZSTAGE && stage_flush(z, fd, 0) < 0)
			return -1;
		if (z->direct_fd < 0) /* refused meanwhile: what was staged went out buffered */
			return pwrite_all(fd, p, len, z->stage_off);
		size_t k = ZSTAGE - z->staged < len ? ZSTAGE - z->staged : len;
		memcpy(z->stage + z->staged, p, k);
		z->staged += k, p += k, len -= k;
	}
	return 0;
}

int zpages_put(struct zpages *z, int fd, const struct iovec *frames, int n, uint64_t raw, const char **why)
{
	*why = NULL;
	if (z->done + (uint64_t)n > z->nchunks) {
		*why = "internal error: more compressed chunks than the pagemap announced";
		return -1;
	}
	uint64_t len = 0;
	for (int i = 0; i < n; i++)
		len += frames[i].iov_len;
	if (z->frames_len + len > UINT32_MAX - 4096) {
		*why = "internal error: a compressed pages record over 4 GiB";
		return -1;
	}
	if (!z->direct_tried) {
		z->direct_tried = 1;
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (posix_memalign((void **)&z->stage, z->page_size, ZSTAGE) == 0)
			z->direct_fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
	}
	uint64_t off = frames_off(z) + z->frames_len;
	for (int i = 0; i < n; i++) {
		if (put_bytes(z, fd, frames[i].iov_base, frames[i].iov_len, off) < 0)
			return -1;
		off += frames[i].iov_len;
		z->frames_len += frames[i].iov_len;
		z->ends[z->done++] = (uint32_t)z->frames_len;
	}
	z->raw += raw;
	z->packed += len;
	return 0;
}

/* Every frame written (zpages_put): the index; returns the payload's length (0 on failure). */
uint64_t zpages_end(struct zpages *z, int fd)
{
	if (stage_flush(z, fd, 1) < 0) {
		fail_errno(EXIT_IO, "cannot write the image");
		return 0;
	}
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
