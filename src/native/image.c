/* Records: a 32-byte header, the payload, zero padding to 8. The writer assigns tags 1, 2, 3...
 * in file order and keeps every header for the tail's headers_sum; the reader checks the whole
 * structure before restore trusts any of it, and names the record and byte offset of a fault. */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "xxh64.h"

#define HDR CKPT_RECORD_HEADER_FIXED_SIZE

/* A payload's length with the zero padding after it (record.padding in the .ksy). */
static inline uint64_t padded(uint64_t n) { return (n + CKPT_RECORD_ALIGN - 1) & ~(uint64_t)(CKPT_RECORD_ALIGN - 1); }

static const uint8_t zeros[64];

/* ---- writer ---- */

void iw_init(struct image_writer *w, int fd, uint32_t page_size)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->next_tag = 1;
	w->page_size = page_size;
}

void iw_free(struct image_writer *w)
{
	free(w->hdrs);
	w->hdrs = NULL;
}

static size_t push_header(struct image_writer *w)
{
	if (w->nhdrs == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 64;
		w->hdrs = xrealloc(w->hdrs, w->cap * sizeof(*w->hdrs));
	}
	memset(&w->hdrs[w->nhdrs], 0, sizeof(*w->hdrs));
	return w->nhdrs++;
}

static void seal_header(struct ckpt_record_header *h)
{
	h->reserved = 0;
	h->header_sum = (uint32_t)xxh64(h, offsetof(struct ckpt_record_header, header_sum), 0);
}

static int write_zeros(struct image_writer *w, uint64_t off, uint64_t n)
{
	while (n) {
		size_t k = n > sizeof(zeros) ? sizeof(zeros) : (size_t)n;
		if (pwrite_all(w->fd, zeros, k, off) < 0)
			return fail_errno(EXIT_IO, "cannot write the image");
		off += k;
		n -= k;
	}
	return 0;
}

static int write_record_at(struct image_writer *w, uint64_t off, struct ckpt_record_header *h, const void *payload)
{
	if (pwrite_all(w->fd, h, HDR, off) < 0)
		return fail_errno(EXIT_IO, "cannot write the image");
	if (h->len && pwrite_all(w->fd, payload, h->len, off + HDR) < 0)
		return fail_errno(EXIT_IO, "cannot write the image");
	return write_zeros(w, off + HDR + h->len, padded(h->len) - h->len);
}

uint32_t iw_record(struct image_writer *w, uint32_t type, uint32_t ptag, const void *payload, uint32_t len)
{
	size_t i = push_header(w);
	struct ckpt_record_header *h = &w->hdrs[i];
	h->type = type;
	h->len = len;
	h->tag = w->next_tag++;
	h->ptag = ptag;
	h->payload_sum = (uint32_t)xxh64(payload, len, 0);
	seal_header(h);
	uint32_t tag = h->tag;
	if (write_record_at(w, w->off, h, payload) < 0)
		return 0;
	w->off += HDR + padded(len);
	return tag;
}

int iw_pages_begin(struct image_writer *w, uint32_t mm_tag, uint32_t pagemap_len, uint64_t pages_len)
{
	return iw_bulk_begin(w, CKPT_RECORD_TYPE_PAGEMAP, CKPT_RECORD_TYPE_PAGES, mm_tag, pagemap_len, pages_len);
}

int iw_bulk_begin(struct image_writer *w, uint32_t meta_type, uint32_t bulk_type, uint32_t ptag, uint32_t meta_len, uint64_t bulk_len)
{
	uint32_t mm_tag = ptag, pagemap_len = meta_len;
	uint64_t pages_len = bulk_len;
	if (pages_len > UINT32_MAX)
		return fail(EXIT_FAIL, "internal error: a pages record of %llu bytes", (unsigned long long)pages_len);
	w->pm_type = meta_type;
	w->pm_index = push_header(w);
	w->pm_tag = w->next_tag++;
	w->pm_off = w->off;
	w->pm_len = pagemap_len;
	w->hdrs[w->pm_index].ptag = mm_tag; /* the rest is filled in by iw_pages_end */
	w->off += HDR + padded(pagemap_len);

	uint64_t ps = w->page_size;
	if ((w->off + HDR) % ps) {
		/* pad header + pad payload + pages header must end on a page boundary */
		uint64_t padlen = (ps - (w->off + 2 * HDR) % ps) % ps;
		uint8_t *z = xcalloc(1, padlen);
		uint32_t t = iw_record(w, CKPT_RECORD_TYPE_PAD, 0, z, (uint32_t)padlen);
		free(z);
		if (!t)
			return -1;
	}
	size_t i = push_header(w);
	struct ckpt_record_header *h = &w->hdrs[i];
	w->zactive = w->z && bulk_type == CKPT_RECORD_TYPE_PAGES; /* its length is known at the end */
	h->type = w->zactive ? CKPT_RECORD_TYPE_PAGES_ZSTD : bulk_type;
	h->flags = CKPT_RECORD_FLAGS_PAGE_HASHED | (w->zactive ? CKPT_RECORD_FLAGS_COMPRESSED : 0);
	h->len = (uint32_t)pages_len;
	h->tag = w->next_tag++;
	h->ptag = w->pm_tag;
	h->payload_sum = 0;
	seal_header(h);
	if (pwrite_all(w->fd, h, HDR, w->off) < 0)
		return fail_errno(EXIT_IO, "cannot write the image");
	w->bulk_index = i;
	w->bulk_off = w->off;
	w->off += HDR;
	w->pages_end = w->off + pages_len;
	if (w->zactive) {
		w->zleft = pages_len;
		return zpages_begin(w->z, w->page_size, w->off, pages_len);
	}
	return 0;
}

/* The compressed payload is complete: its header gets its length, the file its padding. */
static int zpages_close(struct image_writer *w)
{
	if (w->zleft)
		return fail(EXIT_FAIL, "internal error: fewer page bytes than the pagemap announced");
	uint64_t len = zpages_end(w->z, w->fd);
	if (!len)
		return -1;
	struct ckpt_record_header *h = &w->hdrs[w->bulk_index];
	h->len = (uint32_t)len;
	seal_header(h);
	if (pwrite_all(w->fd, h, HDR, w->bulk_off) < 0)
		return fail_errno(EXIT_IO, "cannot write the image");
	w->off = w->bulk_off + HDR + len;
	if (write_zeros(w, w->off, padded(len) - len) < 0)
		return -1;
	w->off = w->pages_end = w->bulk_off + HDR + padded(len);
	w->zactive = 0;
	return 0;
}

int iw_pages_write(struct image_writer *w, const void *data, size_t len)
{
	if (w->zactive)
		return fail(EXIT_FAIL, "internal error: compressed pages go through pageflow");
	if (w->off + len > w->pages_end)
		return fail(EXIT_FAIL, "internal error: more page bytes than the pagemap announced");
	if (pwrite_all(w->fd, data, len, w->off) < 0)
		return fail_errno(EXIT_IO, "cannot write the image");
	w->off += len;
	return 0;
}

uint64_t iw_pages_reserve(struct image_writer *w, size_t len)
{
	if (w->zactive) {
		if (len > w->zleft) {
			fail(EXIT_FAIL, "internal error: more page bytes than the pagemap announced");
			return UINT64_MAX;
		}
		w->zleft -= len;
		return 0;
	}
	if (w->off + len > w->pages_end) {
		fail(EXIT_FAIL, "internal error: more page bytes than the pagemap announced");
		return UINT64_MAX;
	}
	uint64_t at = w->off;
	w->off += len;
	return at;
}

uint32_t iw_pages_end(struct image_writer *w, const void *pagemap, uint32_t len)
{
	if (w->zactive && zpages_close(w) < 0)
		return 0;
	if (w->off != w->pages_end || len != w->pm_len) {
		fail(EXIT_FAIL, "internal error: pages chunk does not match its pagemap");
		return 0;
	}
	struct ckpt_record_header *h = &w->hdrs[w->pm_index];
	h->type = w->pm_type;
	h->len = len;
	h->tag = w->pm_tag;
	h->payload_sum = (uint32_t)xxh64(pagemap, len, 0);
	seal_header(h);
	if (write_record_at(w, w->pm_off, h, pagemap) < 0)
		return 0;
	return w->pm_tag;
}

int iw_finish(struct image_writer *w)
{
	struct ckpt_tail t;
	memset(&t, 0, sizeof(t));
	memcpy(t.magic, CKPT_TAIL_MAGIC, CKPT_TAIL_MAGIC_LEN);
	t.record_count = (uint32_t)w->nhdrs;
	t.headers_sum = xxh64(w->hdrs, w->nhdrs * HDR, 0);
	return iw_record(w, CKPT_RECORD_TYPE_TAIL, 0, &t, sizeof(t)) ? 0 : -1;
}

/* ---- reader ---- */

const char *record_type_name(uint32_t type)
{
	const char *n = ckpt_record_type_name(type);
	return n ? n : "unknown";
}

int image_bad(const struct image *im, const struct image_record *r, uint64_t at, const char *fmt, ...)
{
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (r)
		return fail(EXIT_BADIMAGE, "bad image %s: record #%u (%s, type %u, tag %u) at byte %llu: %s", im->path,
			    r->index, record_type_name(r->type), r->type, r->tag, (unsigned long long)at, why);
	return fail(EXIT_BADIMAGE, "bad image %s: at byte %llu: %s", im->path, (unsigned long long)at, why);
}

int image_rule(const struct image *im, const struct image_record *r, uint64_t at, enum ckpt_rule rule, const char *fmt, ...)
{
	char why[480];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return image_bad(im, r, at, "%s (rule %s)", why, ckpt_rule_name(rule));
}

/* u32 -> u32, open addressing; keys are never 0 */
struct tagmap {
	uint32_t *keys, *vals;
	size_t cap, n;
};

static size_t tm_slot(const struct tagmap *m, uint32_t tag)
{
	size_t i = (tag * 2654435761u) & (m->cap - 1);
	while (m->keys[i] && m->keys[i] != tag)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static void tm_put(struct tagmap *m, uint32_t tag, uint32_t val)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct tagmap o = *m;
		m->cap = o.cap ? o.cap * 2 : 256;
		m->keys = xcalloc(m->cap, sizeof(uint32_t));
		m->vals = xcalloc(m->cap, sizeof(uint32_t));
		m->n = 0;
		for (size_t i = 0; i < o.cap; i++)
			if (o.keys[i])
				tm_put(m, o.keys[i], o.vals[i]);
		free(o.keys);
		free(o.vals);
	}
	size_t i = tm_slot(m, tag);
	if (!m->keys[i])
		m->n++;
	m->keys[i] = tag;
	m->vals[i] = val;
}

static int tm_get(const struct tagmap *m, uint32_t tag, uint32_t *val)
{
	if (!m->cap)
		return 0;
	size_t i = tm_slot(m, tag);
	if (!m->keys[i])
		return 0;
	*val = m->vals[i];
	return 1;
}

static void tm_free(struct tagmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

#define NGRAMMAR (sizeof(ckpt_grammar) / sizeof(ckpt_grammar[0]))

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Key of "children of grammar entry g under the record at index i", for counting. */
static uint32_t child_key(uint32_t parent_index, size_t g)
{
	return (parent_index + 1) * (uint32_t)NGRAMMAR + (uint32_t)g;
}

static int check_head(struct image *im, struct image_record *r)
{
	struct ckpt_head_fixed h;
	if (r->len < sizeof(h))
		return image_bad(im, r, r->off + HDR, "head payload of %u bytes is shorter than its %zu fixed bytes", r->len, sizeof(h));
	memcpy(&h, r->payload, sizeof(h));
	if (memcmp(h.magic, CKPT_HEAD_MAGIC, CKPT_HEAD_MAGIC_LEN))
		return image_bad(im, r, r->off + HDR, "bad magic (not a ckpt image)");
	if (!ckpt_valid_head_version_major(&h, h.version_major))
		return image_bad(im, r, r->off + HDR + offsetof(struct ckpt_head_fixed, version_major),
				 "format version %u.%u, this ckpt reads %u.x", h.version_major, h.version_minor, CKPT_VERSION_MAJOR);
	if (!ckpt_valid_head_page_size(&h, h.page_size))
		return image_bad(im, r, r->off + HDR + offsetof(struct ckpt_head_fixed, page_size), "page size %u is not valid", h.page_size);
	im->page_size = h.page_size;
	im->version_minor = h.version_minor;
	return 0;
}

/* Where a record may stand in the tree, and which header flags it carries (the .ksy grammar). */
static int check_place(const struct image *im, const struct image_record *r, const struct ckpt_grammar *g)
{
	uint32_t ptype = r->parent == UINT32_MAX ? CKPT_PARENT_TOP : im->recs[r->parent].type;
	if (!g)
		return 0; /* a type of a later minor version: anywhere */
	int allowed = 0;
	for (uint32_t i = 0; i < g->nparents; i++)
		allowed |= g->parents[i] == ptype;
	if (!allowed)
		return image_bad(im, r, r->off + 16, "a %s record cannot be %s%s", record_type_name(r->type),
				 ptype == CKPT_PARENT_TOP ? "at the top level" : "a child of a ",
				 ptype == CKPT_PARENT_TOP ? "" : record_type_name(ptype));
	if (r->flags != g->flags)
		return image_bad(im, r, r->off + 4, "header flags 0x%x, a %s record has 0x%x", r->flags, record_type_name(r->type), g->flags);
	return 0;
}

/* After the last record: how many children of each type every parent has, against the grammar's
 * min/max and the count its parent states, and how many of each type the image holds. */
static int check_counts(const struct image *im, const struct tagmap *children, const uint32_t *per_type)
{
	for (size_t gi = 0; gi < NGRAMMAR; gi++) {
		const struct ckpt_grammar *g = &ckpt_grammar[gi];
		if (per_type[gi] < g->image_min || (g->image_max && per_type[gi] > g->image_max))
			return image_bad(im, NULL, 0, "the image holds %u %s records, it must hold %s %u", per_type[gi],
					 record_type_name(g->type), per_type[gi] < g->image_min ? "at least" : "at most",
					 per_type[gi] < g->image_min ? g->image_min : g->image_max);
		if (!g->min && !g->max && g->count_off < 0)
			continue;
		for (size_t i = 0; i < im->n; i++) {
			const struct image_record *p = &im->recs[i];
			int parent_kind = 0;
			for (uint32_t k = 0; k < g->nparents; k++)
				parent_kind |= g->parents[k] == p->type;
			if (!parent_kind)
				continue;
			uint32_t n = 0;
			tm_get(children, child_key((uint32_t)i, gi), &n);
			if (n < g->min || (g->max && n > g->max))
				return image_bad(im, p, p->off, "it has %u %s records, it must have %s %u", n, record_type_name(g->type),
						 n < g->min ? "at least" : "at most", n < g->min ? g->min : g->max);
			if (g->count_off >= 0) {
				uint32_t stated;
				if (p->len < (uint32_t)g->count_off + 4)
					return image_bad(im, p, p->off + HDR, "payload of %u bytes is too short for its fixed fields", p->len);
				memcpy(&stated, p->payload + g->count_off, 4);
				if (stated != n)
					return image_bad(im, p, p->off + HDR + (uint64_t)g->count_off, "it states %u %s records, it has %u",
							 stated, record_type_name(g->type), n);
			}
		}
	}
	return 0;
}

/* Bulk data (page bytes, or a type of a later minor version flagged as such) is not read whole:
 * its bytes are checked by hashes kept elsewhere. */
static int is_bulk(const struct image_record *r, const struct ckpt_grammar *g)
{
	return g ? (g->flags & CKPT_RECORD_FLAGS_PAGE_HASHED) != 0 : (r->flags & CKPT_RECORD_FLAGS_PAGE_HASHED) != 0;
}

static int check_pages(struct image *im, const struct image_record *r)
{
	if ((r->off + HDR) % im->page_size)
		return image_rule(im, r, r->off + HDR, CKPT_RULE_PAGES_LAYOUT, "pages payload is not page-aligned");
	const struct image_record *pm = &im->recs[r->parent]; /* a pagemap: the grammar said so */
	struct ckpt_pagemap_fixed pmf;
	memcpy(&pmf, pm->payload, sizeof(pmf));
	if ((uint64_t)pmf.npages * im->page_size != r->len)
		return image_rule(im, r, r->off + 8, CKPT_RULE_PAGES_LAYOUT, "length %u is not the %u pages of its pagemap", r->len,
				  pmf.npages);
	return 0;
}

static int check_pagemap_size(const struct image *im, const struct image_record *r)
{
	struct ckpt_pagemap_fixed pmf;
	if (r->len < sizeof(pmf))
		return image_bad(im, r, r->off + HDR, "pagemap payload is too short");
	memcpy(&pmf, r->payload, sizeof(pmf));
	uint64_t need = sizeof(pmf) + (uint64_t)pmf.nruns * sizeof(struct ckpt_page_run) + (uint64_t)pmf.npages * 8;
	if (need > r->len)
		return image_bad(im, r, r->off + HDR, "pagemap of %u runs and %u pages needs %llu bytes, has %u", pmf.nruns, pmf.npages,
				 (unsigned long long)need, r->len);
	return 0;
}

static int check_tail(struct image *im, struct image_record *probe, const struct ckpt_record_header *h, uint64_t off,
		      uint32_t index, uint64_t headers_sum)
{
	struct ckpt_tail t;
	uint64_t end = off + HDR + padded(h->len);
	if (h->len < sizeof(t))
		return image_bad(im, probe, off + 8, "tail payload of %u bytes is too short", h->len);
	if (h->len > CKPT_MAX_METADATA_PAYLOAD)
		return image_bad(im, probe, off + 8, "payload length %u is larger than any metadata record may be", h->len);
	if (h->ptag || h->flags)
		return image_bad(im, probe, off + 4, "a tail record has no parent and no flags");
	uint8_t *payload = xmalloc(h->len);
	int rd = pread_all(im->fd, payload, h->len, off + HDR);
	uint32_t psum = (uint32_t)xxh64(payload, h->len, 0);
	memcpy(&t, payload, sizeof(t));
	free(payload);
	if (rd < 0)
		return fail_errno(EXIT_IO, "cannot read image %s", im->path);
	if (psum != h->payload_sum)
		return image_bad(im, probe, off + HDR, "payload checksum mismatch (stored 0x%08x, computed 0x%08x)", h->payload_sum, psum);
	if (memcmp(t.magic, CKPT_TAIL_MAGIC, CKPT_TAIL_MAGIC_LEN))
		return image_bad(im, probe, off + HDR, "bad tail magic");
	if (t.record_count != index)
		return image_bad(im, probe, off + HDR + 8, "tail counts %u records, the image has %u before it", t.record_count, index);
	if (headers_sum != t.headers_sum)
		return image_bad(im, probe, off + HDR + 16, "headers checksum mismatch (stored 0x%016llx, computed 0x%016llx)",
				 (unsigned long long)t.headers_sum, (unsigned long long)headers_sum);
	if (end != im->size)
		return image_bad(im, probe, end, "%llu unexpected bytes after the tail", (unsigned long long)(im->size - end));
	return 0;
}

int image_open(struct image *im, const char *path)
{
	memset(im, 0, sizeof(*im));
	im->fd = -1;
	im->path = xstrdup(path);
	im->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (im->fd < 0)
		return fail_errno(EXIT_IO, "cannot open image %s", path);
	struct stat st;
	if (fstat(im->fd, &st) < 0)
		return fail_errno(EXIT_IO, "cannot stat image %s", path);
	if (!S_ISREG(st.st_mode))
		return fail(EXIT_BADIMAGE, "bad image %s: not a regular file", path);
	im->size = (uint64_t)st.st_size;

	struct tagmap tags = {0}, children = {0};
	uint32_t per_type[NGRAMMAR] = {0};
	struct xxh64_state hs;
	xxh64_init(&hs, 0);
	size_t cap = 0;
	uint64_t off = 0;
	int rc = -1, have_tail = 0;
	for (uint32_t index = 0;; index++) {
		if (off == im->size)
			break;
		struct image_record probe = {.index = index, .off = off, .type = 0};
		if (im->size - off < HDR) {
			image_bad(im, NULL, off, "truncated: %llu bytes left where record #%u's 32-byte header starts (no tail)",
				  (unsigned long long)(im->size - off), index);
			goto out;
		}
		if (index >= CKPT_MAX_RECORDS) {
			image_bad(im, NULL, off, "more than %llu records", (unsigned long long)CKPT_MAX_RECORDS);
			goto out;
		}
		struct ckpt_record_header h;
		if (pread_all(im->fd, &h, HDR, off) < 0) {
			fail_errno(EXIT_IO, "cannot read image %s", path);
			goto out;
		}
		if (index == 0) {
			/* the magic first: a file that is no image at all is named as such */
			char magic[CKPT_HEAD_MAGIC_LEN];
			if (im->size < HDR + sizeof(magic) || pread_all(im->fd, magic, sizeof(magic), HDR) < 0 ||
			    memcmp(magic, CKPT_HEAD_MAGIC, sizeof(magic)) || h.type != CKPT_RECORD_TYPE_HEAD) {
				probe.type = CKPT_RECORD_TYPE_HEAD;
				probe.tag = h.tag;
				image_bad(im, &probe, HDR, "bad magic: not a ckpt image");
				goto out;
			}
		}
		probe.type = h.type;
		probe.tag = h.tag;
		uint32_t hsum = (uint32_t)xxh64(&h, offsetof(struct ckpt_record_header, header_sum), 0);
		if (hsum != h.header_sum) {
			image_bad(im, &probe, off, "header checksum mismatch (stored 0x%08x, computed 0x%08x)", h.header_sum, hsum);
			goto out;
		}
		if (h.tag == 0) {
			image_bad(im, &probe, off + 12, "tag 0 is not allowed");
			goto out;
		}
		uint32_t dup;
		if (tm_get(&tags, h.tag, &dup)) {
			image_bad(im, &probe, off + 12, "tag %u is already used by record #%u", h.tag, dup);
			goto out;
		}
		uint64_t end = off + HDR + padded(h.len);
		if ((uint64_t)h.len > im->size - off - HDR || end > im->size) {
			image_bad(im, &probe, off + 8, "payload length %u runs past the end of the file (%llu bytes): truncated or damaged",
				  h.len, (unsigned long long)im->size);
			goto out;
		}
		uint32_t parent = UINT32_MAX;
		if (h.ptag && !tm_get(&tags, h.ptag, &parent)) {
			image_bad(im, &probe, off + 16, "ptag %u names no earlier record", h.ptag);
			goto out;
		}
		if (h.type == CKPT_RECORD_TYPE_TAIL) {
			if (check_tail(im, &probe, &h, off, index, xxh64_digest(&hs)) < 0)
				goto out;
			have_tail = 1;
			break;
		}
		if (im->n == cap) {
			cap = cap ? cap * 2 : 256;
			im->recs = xrealloc(im->recs, cap * sizeof(*im->recs));
		}
		struct image_record *r = &im->recs[im->n];
		memset(r, 0, sizeof(*r));
		r->type = h.type;
		r->flags = h.flags;
		r->len = h.len;
		r->tag = h.tag;
		r->ptag = h.ptag;
		r->index = index;
		r->parent = parent;
		r->off = off;
		im->n++;
		const struct ckpt_grammar *g = ckpt_grammar_of(h.type);
		if (check_place(im, r, g) < 0)
			goto out;
		if (g) {
			size_t gi = (size_t)(g - ckpt_grammar);
			per_type[gi]++;
			if (parent != UINT32_MAX) {
				uint32_t n = 0, key = child_key(parent, gi);
				tm_get(&children, key, &n);
				tm_put(&children, key, n + 1);
			}
		}
		if (h.type == CKPT_RECORD_TYPE_PAGES) {
			if (check_pages(im, r) < 0)
				goto out;
		} else if (!is_bulk(r, g)) {
			if (h.len > CKPT_MAX_METADATA_PAYLOAD) {
				image_bad(im, r, off + 8, "payload length %u is larger than any metadata record may be (%llu)", h.len,
					  (unsigned long long)CKPT_MAX_METADATA_PAYLOAD);
				goto out;
			}
			r->payload = xmalloc(h.len ? h.len : 1);
			if (pread_all(im->fd, r->payload, h.len, off + HDR) < 0) {
				fail_errno(EXIT_IO, "cannot read image %s", path);
				goto out;
			}
			uint32_t psum = (uint32_t)xxh64(r->payload, h.len, 0);
			if (psum != h.payload_sum) {
				image_bad(im, r, off + HDR, "payload checksum mismatch (stored 0x%08x, computed 0x%08x)", h.payload_sum, psum);
				goto out;
			}
			if (h.type == CKPT_RECORD_TYPE_HEAD && check_head(im, r) < 0)
				goto out;
			if (h.type == CKPT_RECORD_TYPE_PAGEMAP && check_pagemap_size(im, r) < 0)
				goto out;
		}
		xxh64_update(&hs, &h, HDR);
		tm_put(&tags, h.tag, index);
		off = end;
	}
	if (!have_tail) {
		image_bad(im, NULL, off, "truncated: the image ends after %zu records without a tail", im->n);
		goto out;
	}
	if (check_counts(im, &children, per_type) < 0)
		goto out;
	im->by_tag = xmalloc((im->n + 1) * sizeof(uint64_t));
	for (size_t i = 0; i < im->n; i++)
		im->by_tag[i] = (uint64_t)im->recs[i].tag << 32 | i;
	qsort(im->by_tag, im->n, sizeof(uint64_t), cmp_u64);
	rc = 0;
out:
	tm_free(&tags);
	tm_free(&children);
	return rc;
}

const struct image_record *image_record_by_tag(const struct image *im, uint32_t tag)
{
	size_t lo = 0, hi = im->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t t = (uint32_t)(im->by_tag[mid] >> 32);
		if (t == tag)
			return &im->recs[(uint32_t)im->by_tag[mid]];
		if (t < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void image_close(struct image *im)
{
	free(im->by_tag);
	for (size_t i = 0; i < im->n; i++)
		free(im->recs[i].payload);
	free(im->recs);
	free(im->path);
	if (im->fd >= 0)
		close(im->fd);
	memset(im, 0, sizeof(*im));
	im->fd = -1;
}

void rc_init(struct rcur *c, const struct image *im, const struct image_record *r)
{
	c->im = im;
	c->r = r;
	c->pos = 0;
	c->end = r->len;
}

int rc_sub(struct rcur *c, struct rcur *sub, uint32_t n, const char *field)
{
	*sub = *c;
	if (!rc_ptr(c, n, field))
		return -1;
	sub->end = sub->pos + n;
	return 0;
}

int rc_opt(struct rcur *c, void *dst, uint32_t n, const char *field)
{
	if (c->pos == c->end)
		return 0;
	return rc_get(c, dst, n, field) < 0 ? -1 : 1;
}

const uint8_t *rc_ptr(struct rcur *c, uint64_t n, const char *field)
{
	if (n > c->end - c->pos) {
		image_bad(c->im, c->r, c->r->off + HDR + c->pos, "field %s needs %llu bytes, %s has %u left", field,
			  (unsigned long long)n, c->end == c->r->len ? "the payload" : "its structure", c->end - c->pos);
		return NULL;
	}
	const uint8_t *p = c->r->payload + c->pos;
	c->pos += (uint32_t)n;
	return p;
}

int rc_get(struct rcur *c, void *dst, uint32_t n, const char *field)
{
	const uint8_t *p = rc_ptr(c, n, field);
	if (!p)
		return -1;
	memcpy(dst, p, n);
	return 0;
}

int rc_lbytes(struct rcur *c, uint8_t **out, uint32_t *len, const char *field)
{
	uint32_t n;
	if (rc_get(c, &n, 4, field) < 0)
		return -1;
	const uint8_t *p = rc_ptr(c, n, field);
	if (!p)
		return -1;
	*out = xmalloc((size_t)n + 1);
	memcpy(*out, p, n);
	(*out)[n] = 0;
	if (len)
		*len = n;
	return 0;
}

int rc_lstr(struct rcur *c, char **out, const char *field)
{
	uint32_t n;
	if (rc_lbytes(c, (uint8_t **)out, &n, field) < 0)
		return -1;
	if (memchr(*out, 0, n)) {
		free(*out);
		*out = NULL;
		return image_rule(c->im, c->r, c->r->off + HDR + c->pos - n, CKPT_RULE_STRING_NUL, "string %s contains a NUL byte", field);
	}
	return 0;
}
