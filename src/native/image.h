/* Writing and reading .ckpt image records (formats/ckpt.ksy; layouts from ckpt_format.h). */
#ifndef CKPT_IMAGE_H
#define CKPT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt_format.h"

/* ---- writer ---- */

struct image_writer {
	int fd;
	uint64_t off;        /* where the next record starts */
	uint32_t next_tag;
	uint32_t page_size;
	struct ckpt_record_header *hdrs; /* every header so far, in file order (for the tail) */
	size_t nhdrs, cap;
	/* the open pagemap+pages chunk */
	size_t pm_index;
	uint64_t pm_off;
	uint32_t pm_tag, pm_len, pm_type;
	uint64_t pages_end;
	/* dump --compress (zpages_write.c): pages records become pages_zstd records */
	struct zpages *z;
	int zactive;          /* the open bulk record is compressed */
	uint64_t zleft;       /* page bytes it still expects */
	size_t bulk_index;
	uint64_t bulk_off;
};

/* zpages_write.c: the pages_zstd records of a dump (NULL without zstd). zpages_begin reserves
 * the chunk index of one pages payload starting at payload_off; pageflow.c compresses the chunks
 * (zchunk_compress, one context per thread) and hands their frames over in chunk order
 * (zpages_put: 0, or -1 with errno set or *why an internal error); zpages_end writes the index
 * and returns the payload's final length (0 on failure). */
struct iovec;
struct zpages *zpages_new(int level);
void zpages_free(struct zpages *z);
void zpages_totals(const struct zpages *z, uint64_t *raw, uint64_t *packed);
uint32_t zpages_chunk_pages(uint32_t page_size);
int zpages_begin(struct zpages *z, uint32_t page_size, uint64_t payload_off, uint64_t pages_len);
void *zchunk_ctx_new(void);
void zchunk_ctx_free(void *ctx);
/* The frame of n bytes at in, into out (room for zchunk_bound(n)); 0 and *err a zstd error name on failure. */
size_t zchunk_compress(const struct zpages *z, void *ctx, void *out, const void *in, size_t n, const char **err);
int zpages_put(struct zpages *z, int fd, const struct iovec *frames, int n, uint64_t raw, const char **why);
uint64_t zpages_end(struct zpages *z, int fd);

void iw_init(struct image_writer *w, int fd, uint32_t page_size);
/* Appends one record; returns its tag, 0 on failure (fail() already called). */
uint32_t iw_record(struct image_writer *w, uint32_t type, uint32_t ptag, const void *payload, uint32_t len);
/* A pagemap (ptag = mm) whose payload is only known after its pages were streamed:
 * reserves room for it, aligns the pages payload with a pad record and writes the pages header. */
int iw_pages_begin(struct image_writer *w, uint32_t mm_tag, uint32_t pagemap_len, uint64_t pages_len);
int iw_pages_write(struct image_writer *w, const void *data, size_t len);
/* The file offset for the next len page bytes, written by the caller (pageflow); UINT64_MAX if more
 * than announced. In a compressed record (zactive) the bytes are only counted: pageflow appends
 * their frames through zpages_put, and the offset means nothing. */
uint64_t iw_pages_reserve(struct image_writer *w, size_t len);
/* The same for any bulk record (page-aligned, page_hashed) under a metadata record written last. */
int iw_bulk_begin(struct image_writer *w, uint32_t meta_type, uint32_t bulk_type, uint32_t ptag, uint32_t meta_len, uint64_t bulk_len);
/* Writes the reserved pagemap; returns its tag or 0. */
uint32_t iw_pages_end(struct image_writer *w, const void *pagemap, uint32_t len);
/* Appends the tail; returns 0 or -1. */
int iw_finish(struct image_writer *w);
void iw_free(struct image_writer *w);

/* ---- reader ---- */

struct image_record {
	uint32_t type, flags, len, tag, ptag;
	uint32_t index;     /* 0-based position in the file */
	uint32_t parent;    /* index of the parent record, or UINT32_MAX at the top level */
	uint64_t off;       /* offset of the header */
	uint8_t *payload;   /* loaded payload; NULL for pages (read from the file on demand) */
};

/* Where a record's payload starts in the file (byte offsets in messages are the field's). */
static inline uint64_t payload_at(const struct image_record *r)
{
	return r->off + CKPT_RECORD_HEADER_FIXED_SIZE;
}

struct image {
	int fd;
	char *path;
	uint64_t size;
	uint32_t page_size;
	uint16_t version_minor;
	struct image_record *recs;
	size_t n; /* records before the tail */
	uint64_t *by_tag; /* (tag << 32 | index), sorted: image_record_by_tag() */
};

/* Opens and checks an image: every header, checksum, tag, ptag, length, alignment, the tail, and
 * the record grammar of the .ksy (parents, flags, how many children, the counts parents state).
 * Payload rules are checked as the model is loaded (load.c); page bytes against their hashes. */
int image_open(struct image *im, const char *path);
void image_close(struct image *im);
/* The record with this tag, or NULL. */
const struct image_record *image_record_by_tag(const struct image *im, uint32_t tag);
const char *record_type_name(uint32_t type);
int image_bad(const struct image *im, const struct image_record *r, uint64_t at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* image_bad() for a broken rule of the .ksy's -ckpt-rules, which the message names. */
int image_rule(const struct image *im, const struct image_record *r, uint64_t at, enum ckpt_rule rule, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* A cursor over one loaded payload (or a part of it); every read is bounds-checked and names
 * the field. */
struct rcur {
	const struct image *im;
	const struct image_record *r;
	uint32_t pos, end;
};
void rc_init(struct rcur *c, const struct image *im, const struct image_record *r);
/* A cursor over the next n bytes of c (a nested structure of known size), which c skips. */
int rc_sub(struct rcur *c, struct rcur *sub, uint32_t n, const char *field);
/* A field added by a later minor version: absent (0) when c is at its end, else read (1); a
 * part of it is a fault (-1), as for the Kaitai parser's `if: not _io.eof`. */
int rc_opt(struct rcur *c, void *dst, uint32_t n, const char *field);
int rc_get(struct rcur *c, void *dst, uint32_t n, const char *field);
int rc_lstr(struct rcur *c, char **out, const char *field);
int rc_lbytes(struct rcur *c, uint8_t **out, uint32_t *len, const char *field);
/* Pointer to the next n bytes without copying (NULL and a failure when short). */
const uint8_t *rc_ptr(struct rcur *c, uint64_t n, const char *field);

#endif
