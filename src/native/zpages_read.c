/* Reading compressed pages (format 2.2, `pages_zstd`; zpages_write.c writes them): the chunk
 * index checked (rule zstd_chunks), one chunk decompressed per page read into a buffer of exactly
 * its pages' size (a frame that states another size, or decodes to another, is refused), and the
 * restore's fill of the new process. Without zstd (no HAVE_ZSTD) a compressed image is refused
 * with a message that says why. */
#include "ckpt.h"

#include <errno.h>
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

#define HDR CKPT_RECORD_HEADER_FIXED_SIZE

/* The chunk index of a pages_zstd record (rule zstd_chunks), checked against its pagemap. */
int zpages_read_index(const struct image *im, const struct image_record *r, struct page_chunk *c)
{
	struct ckpt_pages_zstd_fixed f;
	uint64_t at = r->off + HDR;
	if (r->len < sizeof(f) || pread_all(im->fd, &f, sizeof(f), at) < 0)
		return image_rule(im, r, at, CKPT_RULE_ZSTD_CHUNKS, "the chunk index cannot be read");
	if (f.chunk_pages == 0 || (uint64_t)f.chunk_pages * im->page_size > CKPT_MAX_ZSTD_CHUNK)
		return image_rule(im, r, at, CKPT_RULE_ZSTD_CHUNKS, "chunks of %u pages (at most %llu bytes of pages each)", f.chunk_pages,
				  (unsigned long long)CKPT_MAX_ZSTD_CHUNK);
	uint64_t want = ((uint64_t)c->npages + f.chunk_pages - 1) / f.chunk_pages;
	if (f.nchunks != want)
		return image_rule(im, r, at + 4, CKPT_RULE_ZSTD_CHUNKS, "%u chunks, its pagemap's %u pages make %llu", f.nchunks, c->npages,
				  (unsigned long long)want);
	uint64_t frames = sizeof(f) + (uint64_t)f.nchunks * 4;
	if (frames > r->len)
		return image_rule(im, r, at + 4, CKPT_RULE_ZSTD_CHUNKS, "an index of %u chunks does not fit the payload of %u bytes", f.nchunks,
				  r->len);
	c->zends = xmalloc(f.nchunks ? (size_t)f.nchunks * 4 : 1);
	if (pread_all(im->fd, c->zends, (size_t)f.nchunks * 4, at + sizeof(f)) < 0)
		return fail_errno(EXIT_IO, "cannot read image %s", im->path);
	uint32_t prev = 0;
	for (uint32_t i = 0; i < f.nchunks; i++) {
		uint64_t pages = i + 1 < f.nchunks ? f.chunk_pages : c->npages - (uint64_t)i * f.chunk_pages;
		if (c->zends[i] < prev || c->zends[i] - prev > zchunk_bound(pages * im->page_size))
			return image_rule(im, r, at + sizeof(f) + (uint64_t)i * 4, CKPT_RULE_ZSTD_CHUNKS,
					  "chunk %u ends at %u: before the chunk before it, or larger than its pages may compress to", i, c->zends[i]);
		prev = c->zends[i];
	}
	if (frames + prev != r->len)
		return image_rule(im, r, at + frames, CKPT_RULE_ZSTD_CHUNKS, "the chunks end at byte %llu of the payload, which has %u",
				  (unsigned long long)(frames + prev), r->len);
	c->zstd = 1;
	c->zchunk_pages = f.chunk_pages;
	c->znchunks = f.nchunks;
	c->zframes_off = at + frames;
	c->zrec = r->index;
	return 0;
}

/* Chunk i of c into out (exactly its pages' bytes, *len); every fault names record and offset. */
int zpages_chunk(const struct image *im, const struct page_chunk *c, uint32_t i, uint8_t *in, uint8_t *out, size_t *len)
{
#ifdef HAVE_ZSTD
	static ZSTD_DCtx *d;
	uint64_t pages = i + 1 < c->znchunks ? c->zchunk_pages : c->npages - (uint64_t)i * c->zchunk_pages;
	uint64_t want = pages * im->page_size;
	uint32_t from = i ? c->zends[i - 1] : 0, n = c->zends[i] - from;
	uint64_t at = c->zframes_off + from;
	if (pread_all(im->fd, in, n, at) < 0)
		return fail_errno(EXIT_IO, "cannot read image %s", im->path);
	if (!d) {
		d = ZSTD_createDCtx();
		if (!d)
			zstd_no_context();
		ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 23); /* 8 MiB: more than a chunk needs */
	}
	unsigned long long stated = ZSTD_getFrameContentSize(in, n);
	/* no dictionary, no checksum, no reserved bit: as the TypeScript reader requires */
	if (n < 5 || (in[4] & 0x0f))
		return image_rule(im, &im->recs[c->zrec], at, CKPT_RULE_ZSTD_CHUNKS, "chunk %u is not one zstd frame without dictionary and checksum", i);
	if (stated != want)
		return image_rule(im, &im->recs[c->zrec], at, CKPT_RULE_ZSTD_CHUNKS, "chunk %u is not one zstd frame that states its size of %llu bytes", i,
				  (unsigned long long)want);
	size_t got = ZSTD_decompressDCtx(d, out, (size_t)want, in, n);
	if (ZSTD_isError(got) || got != want)
		return image_rule(im, &im->recs[c->zrec], at, CKPT_RULE_ZSTD_CHUNKS, "chunk %u does not decompress to its %llu bytes (%s)", i,
				  (unsigned long long)want, ZSTD_isError(got) ? ZSTD_getErrorName(got) : "another size");
	*len = (size_t)want;
	return 0;
#else
	(void)c, (void)i, (void)in, (void)out, (void)len;
	return fail(EXIT_UNSUPPORTED, "image %s has compressed pages: %s", im->path, zstd_unavailable());
#endif
}

/* Calls fn for every chunk of c, decompressed, with the address of its first page and the index
 * of that page in the pagemap (a chunk may span several runs: fn gets the run pieces). */
static int for_each_chunk(const struct image *im, const struct page_chunk *c,
			  int (*fn)(void *arg, uint64_t addr, const uint8_t *bytes, size_t len, uint64_t page), void *arg)
{
	uint32_t ps = im->page_size;
	uint8_t *in = xmalloc(zchunk_bound(CKPT_MAX_ZSTD_CHUNK)), *out = xmalloc(CKPT_MAX_ZSTD_CHUNK);
	int rc = -1;
	uint32_t run = 0;
	uint64_t in_run = 0, page = 0; /* pages of the current run already handed out */
	for (uint32_t i = 0; i < c->znchunks; i++) {
		size_t len = 0;
		if (zpages_chunk(im, c, i, in, out, &len) < 0)
			goto out;
		for (size_t off = 0; off < len;) {
			while (run < c->nruns && in_run == c->runs[run].npages)
				run++, in_run = 0;
			if (run == c->nruns)
				break; /* cannot happen: the runs hold npages pages (rule pagemap_runs) */
			uint64_t k = c->runs[run].npages - in_run;
			if (k > (len - off) / ps)
				k = (len - off) / ps;
			if (fn(arg, c->runs[run].vaddr + in_run * ps, out + off, (size_t)(k * ps), page) < 0)
				goto out;
			in_run += k, page += k, off += k * ps;
		}
	}
	rc = 0;
out:
	free(in);
	free(out);
	return rc;
}

struct check_arg {
	const struct image *im;
	const struct page_chunk *c;
	size_t chunk_no;
};

static int check_piece(void *arg, uint64_t addr, const uint8_t *bytes, size_t len, uint64_t page)
{
	const struct check_arg *a = arg;
	uint32_t ps = a->im->page_size;
	for (size_t o = 0; o < len; o += ps, page++)
		if (xxh64(bytes + o, ps, 0) != a->c->hashes[page])
			return fail(EXIT_BADIMAGE,
				    "bad image %s: page %llu of pagemap #%zu (address 0x%llx, compressed in the pages_zstd record at byte %llu of the file) does not match its hash (rule page_hash)",
				    a->im->path, (unsigned long long)page, a->chunk_no, (unsigned long long)(addr + o),
				    (unsigned long long)a->im->recs[a->c->zrec].off);
	return 0;
}

/* Every compressed page of p against its hash (restore --dry-run). */
int zpages_check_in_file(const struct image *im, const struct proc_state *p)
{
	for (size_t c = 0; c < p->nchunks; c++) {
		struct check_arg a = {im, &p->chunks[c], c};
		if (p->chunks[c].zstd && for_each_chunk(im, &p->chunks[c], check_piece, &a) < 0)
			return -1;
	}
	return 0;
}

struct fill_arg {
	struct restore_ctx *rc;
	uint64_t done, total, last;
};

static int fill_piece(void *arg, uint64_t addr, const uint8_t *bytes, size_t len, uint64_t page)
{
	(void)page;
	struct fill_arg *a = arg;
	if (mem_write(a->rc->pid, addr, bytes, len) < 0)
		return fail_errno(EXIT_FAIL, "restore: cannot write pages to the new process at 0x%llx", (unsigned long long)addr);
	a->done += len;
	if (a->done - a->last >= (4u << 20) || a->done == a->total) {
		progress_bytes("restore-pages", a->done, a->total);
		a->last = a->done;
	}
	return 0;
}

/* The compressed chunks of the new process: decompressed here and written into it (its areas are
 * writable while they are filled); the hashes are checked by reading them back, as for the rest. */
int zpages_fill(struct restore_ctx *rc)
{
	struct fill_arg a = {.rc = rc};
	for (size_t c = 0; c < rc->p->nchunks; c++)
		if (rc->p->chunks[c].zstd)
			a.total += (uint64_t)rc->p->chunks[c].npages * rc->im->page_size;
	for (size_t c = 0; c < rc->p->nchunks; c++)
		if (rc->p->chunks[c].zstd && for_each_chunk(rc->im, &rc->p->chunks[c], fill_piece, &a) < 0)
			return -1;
	return 0;
}
