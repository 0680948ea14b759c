/* Files whose path is gone: a regular file unlinked while open, an O_TMPFILE file, a memfd, and
 * a working directory that was removed. At dump the bytes of such a file are read through
 * /proc/PID/fd/N (holes skipped with SEEK_DATA) and streamed into the image in page-aligned
 * `file_data` records of at most 64 MiB, each under a `file_extent` that holds a hash per page:
 * never the whole file in memory. At restore the process that makes the description (as the
 * restoring user, after the switch to its final credentials) makes the file again without a
 * path (at its old name, unlinked at once, or O_TMPFILE), writes the bytes back checking every hash, sets its size, mode and seals, and opens each
 * description of the file with its own flags and position. Shared areas that mapped the file
 * map the restored file, so they stay shared with it. */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fdslots.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef __O_TMPFILE
#define __O_TMPFILE 020000000
#endif
#ifndef F_GET_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 2U
#endif
#define HUGETLBFS_MAGIC_ 0x958458f6
#define EXTENT_MAX (64ULL << 20) /* the .ksy's bound on a file_extent's len */
#define IO_CHUNK (1U << 20)
#define MEMFD_NAME_MAX 249

static const char DELETED[] = " (deleted)";

static int ends_deleted(const char *s)
{
	size_t n = strlen(s), k = sizeof(DELETED) - 1;
	return n > k && !strcmp(s + n - k, DELETED);
}

/* The path without " (deleted)". */
static char *strip_deleted(const char *s)
{
	char *r = xstrdup(s);
	if (ends_deleted(r))
		r[strlen(r) - (sizeof(DELETED) - 1)] = 0;
	return r;
}

/* ---- dump ---- */

/* The runs of data of a file (holes left out), each at most EXTENT_MAX bytes, from page-aligned
 * offsets. Returns the bytes in all runs. */
static uint64_t find_extents(struct ghost *g, uint64_t size, uint64_t ps)
{
	uint64_t total = 0;
	off_t at = 0;
	while ((uint64_t)at < size) {
		off_t d = lseek(g->src, at, SEEK_DATA);
		if (d < 0)
			break; /* ENXIO: only a hole is left */
		off_t h = lseek(g->src, d, SEEK_HOLE);
		if (h < 0 || (uint64_t)h > size)
			h = (off_t)size;
		uint64_t lo = (uint64_t)d / ps * ps, hi = (uint64_t)h;
		if (g->next && g->ext[g->next - 1].offset + g->ext[g->next - 1].len > lo)
			lo = g->ext[g->next - 1].offset + g->ext[g->next - 1].len; /* a hole shorter than a page */
		for (uint64_t o = lo; o < hi;) {
			uint64_t len = hi - o > EXTENT_MAX ? EXTENT_MAX : hi - o;
			g->ext = xrealloc(g->ext, (g->next + 1) * sizeof(*g->ext));
			g->ext[g->next++] = (struct ghost_extent){.offset = o, .len = len, .npages = (uint32_t)((len + ps - 1) / ps)};
			total += len;
			o += len;
			if (total > GHOST_MAX_DATA)
				return total;
		}
		at = h;
	}
	return total;
}

const char *ghost_capture(struct file_state *f, pid_t pid, int fd, const struct stat *st, uint16_t *what)
{
	static char why[160];
	*what = CKPT_UNSUPPORTED_KIND_FILE_CONTENT;
	int memfd = f->f.kind == CKPT_FD_KIND_MEMFD;
	if (!memfd && (!ends_deleted(f->path) || f->path[0] != '/'))
		return "the file has no path to reopen";
	if (st->st_nlink > 0)
		return "its path is gone, but it has other links, which a checkpoint cannot find";
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/%d/fd/%d", pid, fd);
	int src = open(proc, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (src < 0)
		src = open(proc, O_RDONLY | O_CLOEXEC);
	if (src < 0) {
		snprintf(why, sizeof(why), "its contents cannot be read (%s)", strerror(errno));
		return why;
	}
	struct statfs sfs;
	if (fstatfs(src, &sfs) == 0 && (unsigned long)sfs.f_type == HUGETLBFS_MAGIC_) {
		close(src);
		return "a hugetlbfs file (or hugetlb memfd) cannot be written back";
	}
	struct ghost *g = xcalloc(1, sizeof(*g));
	g->src = src;
	g->f.size = (uint64_t)st->st_size;
	g->f.mode = st->st_mode & 07777;
	if (memfd) {
		g->f.flags |= CKPT_CONTENT_FLAGS_MEMFD;
		char *name = strip_deleted(f->path + 7); /* "/memfd:" */
		g->name = name;
		int seals = fcntl(src, F_GET_SEALS);
		g->f.seals = seals > 0 ? (uint32_t)seals : 0;
	} else {
		g->name = strip_deleted(f->path);
		if (f->f.flags & __O_TMPFILE)
			g->f.flags |= CKPT_CONTENT_FLAGS_TMPFILE;
	}
	f->ghost = g;
	uint64_t total = find_extents(g, g->f.size, (uint64_t)sysconf(_SC_PAGESIZE));
	if (total > GHOST_MAX_DATA) {
		snprintf(why, sizeof(why), "it holds more than the %llu GiB of data a checkpoint saves of a file without a path",
			 GHOST_MAX_DATA >> 30);
		ghost_free(f);
		return why;
	}
	g->f.data_bytes = total;
	g->f.nextents = (uint32_t)g->next;
	*what = CKPT_UNSUPPORTED_KIND_FD;
	return NULL;
}

static int same_inode(const struct file_state *a, const struct file_state *b)
{
	return a->f.dev == b->f.dev && a->f.ino == b->f.ino;
}

void ghost_finish(struct tree *t)
{
	for (size_t i = 0; i < t->nfiles; i++) {
		struct file_state *f = &t->files[i];
		if (!f->ghost)
			continue;
		/* another description of the same file: the first one holds the bytes */
		for (size_t j = 0; j < i; j++)
			if (t->files[j].ghost && same_inode(&t->files[j], f)) {
				f->ghost_of = (int)j + 1;
				ghost_free(f);
				break;
			}
		if (f->ghost_of)
			continue;
		/* shared areas that map it: their pages are the file's, which the image holds */
		for (size_t k = 0; k < t->nprocs; k++)
			for (size_t v = 0; v < t->procs[k]->nvmas; v++) {
				struct vma_state *a = &t->procs[k]->vmas[v];
				if (a->f.kind == CKPT_VMA_KIND_FILE_SHARED && (a->f.flags & CKPT_VMA_FLAGS_FILE_DELETED) && a->f.inode == f->f.ino &&
				    makedev(a->f.dev_major, a->f.dev_minor) == f->f.dev)
					a->dump_all = 0;
			}
	}
}

/* One extent: its pages streamed from the file, hashed as they go. */
static int write_extent(struct image_writer *w, const struct file_state *f, const struct ghost_extent *e, uint32_t content_tag)
{
	uint32_t ps = w->page_size;
	struct buf meta = {0};
	buf_u64(&meta, e->offset);
	buf_u64(&meta, e->len);
	buf_u32(&meta, e->npages);
	buf_reserve(&meta, (size_t)e->npages * 8);
	uint8_t *h = meta.p + meta.len; /* the hashes, filled as the pages go */
	if (iw_bulk_begin(w, CKPT_RECORD_TYPE_FILE_EXTENT, CKPT_RECORD_TYPE_FILE_DATA, content_tag, (uint32_t)(20 + (uint64_t)e->npages * 8),
			  (uint64_t)e->npages * ps) < 0) {
		buf_free(&meta);
		return -1;
	}
	uint8_t *buf = xmalloc(IO_CHUNK);
	uint64_t done = 0, bytes = (uint64_t)e->npages * ps;
	uint32_t page = 0;
	int rc = -1;
	while (done < bytes) {
		size_t n = bytes - done > IO_CHUNK ? IO_CHUNK : (size_t)(bytes - done);
		memset(buf, 0, n);
		size_t want = done >= e->len ? 0 : (e->len - done < n ? (size_t)(e->len - done) : n);
		ssize_t r = want ? pread(f->ghost->src, buf, want, (off_t)(e->offset + done)) : 0;
		if (r < 0) {
			fail_errno(EXIT_IO, "cannot read %s to save its contents", f->path);
			goto out;
		}
		/* a file that shrank meanwhile (a process outside the checkpoint): zeros */
		for (size_t o = 0; o < n; o += ps) {
			uint64_t x = xxh64(buf + o, ps, 0);
			memcpy(h + (size_t)page++ * 8, &x, 8);
		}
		if (iw_pages_write(w, buf, n) < 0)
			goto out;
		done += n;
	}
	meta.len += (size_t)e->npages * 8;
	rc = iw_pages_end(w, meta.p, (uint32_t)meta.len) ? 0 : -1;
out:
	free(buf);
	buf_free(&meta);
	return rc;
}

int ghost_write(struct image_writer *w, const struct tree *t)
{
	for (size_t i = 0; i < t->nfiles; i++) {
		const struct file_state *f = &t->files[i];
		const struct ghost *g = f->ghost;
		if (!g)
			continue;
		struct buf b = {0};
		buf_put(&b, &g->f, sizeof(g->f));
		buf_lstr(&b, g->name);
		uint32_t tag = iw_record(w, CKPT_RECORD_TYPE_FILE_CONTENT, f->tag, b.p, (uint32_t)b.len);
		buf_free(&b);
		if (!tag)
			return -1;
		progress_step("files", "saving %llu bytes of %s", (unsigned long long)g->f.data_bytes, f->path);
		for (size_t k = 0; k < g->next; k++)
			if (write_extent(w, f, &g->ext[k], tag) < 0)
				return -1;
	}
	return 0;
}

/* ---- reading the records ---- */

static int load_content(const struct image *im, const struct image_record *r, struct file_state *f)
{
	if (f->ghost)
		return image_bad(im, r, r->off, "a second file_content for one file");
	if (f->f.kind != CKPT_FD_KIND_REGULAR && f->f.kind != CKPT_FD_KIND_MEMFD)
		return image_bad(im, r, r->off, "file_content under a file of kind %u, which is neither regular nor memfd", f->f.kind);
	struct ghost *g = xcalloc(1, sizeof(*g));
	f->ghost = g;
	struct rcur c;
	rc_init(&c, im, r);
	if (rc_get(&c, &g->f, sizeof(g->f), "file_content fixed fields") < 0 || rc_lstr(&c, &g->name, "name") < 0)
		return -1;
	if (g->f.data_bytes > GHOST_MAX_DATA || g->f.data_bytes > g->f.size || g->f.size > (uint64_t)INT64_MAX)
		return image_bad(im, r, payload_at(r), "file_content of %llu bytes with %llu bytes of data: more than a file holds or a checkpoint saves",
				 (unsigned long long)g->f.size, (unsigned long long)g->f.data_bytes);
	if ((g->f.flags & CKPT_CONTENT_FLAGS_MEMFD) && strlen(g->name) > MEMFD_NAME_MAX)
		return image_bad(im, r, payload_at(r) + sizeof(g->f), "a memfd name of %zu bytes (at most %d)", strlen(g->name), MEMFD_NAME_MAX);
	if (!(g->f.flags & CKPT_CONTENT_FLAGS_MEMFD) && g->name[0] != '/')
		return image_bad(im, r, payload_at(r) + sizeof(g->f), "the directory of a file without a path is no absolute path");
	/* the extents come as the grammar counts them: room for exactly nextents */
	g->ext = xcalloc(g->f.nextents + 1, sizeof(*g->ext));
	return 0;
}

static int load_extent(const struct image *im, const struct image_record *r, struct file_state *f, uint32_t ps)
{
	struct ghost *g = f->ghost;
	struct rcur c;
	rc_init(&c, im, r);
	struct ckpt_file_extent_fixed x;
	if (rc_get(&c, &x, sizeof(x), "file_extent fixed fields") < 0)
		return -1;
	uint64_t at = payload_at(r);
	if (g->next >= g->f.nextents)
		return image_bad(im, r, at, "more file_extent records than its file_content states");
	if (!ckpt_valid_file_extent_len(&x, x.len) || x.len == 0)
		return image_bad(im, r, at + 8, "extent length %llu is not 1 to 64 MiB", (unsigned long long)x.len);
	if (x.offset % ps)
		return image_rule(im, r, at, CKPT_RULE_FILE_EXTENTS, "extent offset %llu is not page-aligned", (unsigned long long)x.offset);
	if ((uint64_t)x.npages != (x.len + ps - 1) / ps)
		return image_bad(im, r, at + 16, "%u pages for %llu bytes", x.npages, (unsigned long long)x.len);
	const uint8_t *hashes = rc_ptr(&c, (uint64_t)x.npages * 8, "page_hashes");
	if (!hashes)
		return -1;
	uint64_t prev_end = g->next ? g->ext[g->next - 1].offset + g->ext[g->next - 1].len : 0;
	if (x.offset < prev_end || x.offset > g->f.size || x.len > g->f.size - x.offset)
		return image_rule(im, r, at, CKPT_RULE_FILE_EXTENTS, "extent %llu+%llu overlaps the one before it or ends past the file's size %llu",
				  (unsigned long long)x.offset, (unsigned long long)x.len, (unsigned long long)g->f.size);
	g->ext[g->next++] = (struct ghost_extent){.offset = x.offset, .len = x.len, .npages = x.npages, .hashes = hashes, .rec = r->index};
	return 0;
}

static int load_data(const struct image *im, const struct image_record *r, struct ghost_extent *e, uint32_t ps)
{
	if ((payload_at(r)) % ps)
		return image_rule(im, r, payload_at(r), CKPT_RULE_FILE_EXTENTS, "file_data is not page-aligned");
	if ((uint64_t)r->len != (uint64_t)e->npages * ps)
		return image_rule(im, r, r->off + 8, CKPT_RULE_FILE_EXTENTS, "file_data of %u bytes is not the %u pages of its extent", r->len, e->npages);
	e->data_off = payload_at(r);
	return 0;
}

int ghost_load(const struct image *im, struct tree *t, const uint32_t *file_of)
{
	uint32_t ps = im->page_size;
	for (size_t i = 0; i < im->n; i++) {
		const struct image_record *r = &im->recs[i];
		if (r->type == CKPT_RECORD_TYPE_FILE_CONTENT) {
			if (load_content(im, r, &t->files[file_of[r->parent]]) < 0) /* a file: the grammar said so */
				return -1;
		} else if (r->type == CKPT_RECORD_TYPE_FILE_EXTENT) {
			if (load_extent(im, r, &t->files[file_of[im->recs[r->parent].parent]], ps) < 0)
				return -1;
		} else if (r->type == CKPT_RECORD_TYPE_FILE_DATA) {
			const struct image_record *x = &im->recs[r->parent];
			struct ghost *g = t->files[file_of[im->recs[x->parent].parent]].ghost;
			if (!g->next || g->ext[g->next - 1].rec != x->index)
				return image_bad(im, r, r->off, "file_data does not follow its file_extent");
			if (load_data(im, r, &g->ext[g->next - 1], ps) < 0)
				return -1;
		}
	}
	for (size_t i = 0; i < t->nfiles; i++) {
		struct file_state *f = &t->files[i];
		struct ghost *g = f->ghost;
		if (!g)
			continue;
		uint64_t sum = 0;
		for (size_t k = 0; k < g->next; k++)
			sum += g->ext[k].len;
		if (sum != g->f.data_bytes)
			return image_bad(im, image_record_by_tag(im, f->tag), image_record_by_tag(im, f->tag)->off,
					 "its file_content states %llu bytes of data, its extents hold %llu", (unsigned long long)g->f.data_bytes,
					 (unsigned long long)sum);
		for (size_t j = i + 1; j < t->nfiles; j++)
			if (!t->files[j].ghost_of && same_inode(&t->files[j], f) &&
			    (t->files[j].f.kind == CKPT_FD_KIND_REGULAR || t->files[j].f.kind == CKPT_FD_KIND_MEMFD))
				t->files[j].ghost_of = (int)i + 1;
	}
	return 0;
}

/* ---- restore ---- */

int ghost_plan_maps(struct tree *t, int next_fd)
{
	for (size_t k = 0; k < t->nprocs; k++) {
		struct proc_state *p = t->procs[k];
		for (size_t i = 0; i < p->nvmas; i++) {
			struct vma_state *v = &p->vmas[i];
			v->ghost_file = 0;
			if (v->f.kind != CKPT_VMA_KIND_FILE_SHARED || !(v->f.flags & CKPT_VMA_FLAGS_FILE_DELETED))
				continue;
			for (size_t j = 0; j < t->nfiles && !v->ghost_file; j++)
				if (t->files[j].ghost && t->files[j].f.ino == v->f.inode && t->files[j].f.dev == makedev(v->f.dev_major, v->f.dev_minor))
					v->ghost_file = (int)j + 1;
			if (!v->ghost_file)
				continue;
			/* a description that some process makes: the one holding the bytes, or one sharing it */
			int use = v->ghost_file - 1;
			if (t->files[use].owner < 0)
				for (size_t j = 0; j < t->nfiles; j++)
					if (t->files[j].ghost_of == v->ghost_file && t->files[j].owner >= 0) {
						use = (int)j;
						break;
					}
			if (t->files[use].owner < 0) {
				v->ghost_file = 0;
				continue;
			}
			v->ghost_file = use + 1;
			v->dump_all = 0; /* its pages are the file's */
			v->shm = -1;
			v->restore_fd = -1;
			for (size_t j = 0; j < i; j++)
				if (p->vmas[j].ghost_file == v->ghost_file)
					v->restore_fd = p->vmas[j].restore_fd;
			if (v->restore_fd < 0)
				v->restore_fd = next_fd++;
		}
	}
	return next_fd;
}

static const char *g_image_path;
static int g_image_fd = -1;

void ghost_set_image(const char *path, int image_fd)
{
	g_image_path = path;
	g_image_fd = image_fd;
}

/* The new file, without a path: in the old file's directory, as the restoring user. */
static int make_unlinked(const struct file_state *f)
{
	const struct ghost *g = f->ghost;
	if (g->f.flags & CKPT_CONTENT_FLAGS_MEMFD) {
		int fd = (int)syscall(SYS_memfd_create, g->name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0)
			return fail_errno(EXIT_FAIL, "cannot make the memfd %s again", g->name);
		return fd;
	}
	char *copy = xstrdup(g->name);
	char *dir = dirname(copy);
	int fd = -1;
	if (!(g->f.flags & CKPT_CONTENT_FLAGS_TMPFILE)) {
		/* at its old name, unlinked at once: /proc/PID/fd shows the name it showed ("... (deleted)") */
		fd = open(g->name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0 && unlink(g->name) < 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) /* an O_TMPFILE file (one linkat can still name), or its old name is taken */
		fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		/* no O_TMPFILE on this file system: a new name, unlinked at once */
		for (int k = 0; k < 100 && fd < 0; k++) {
			char *name = xasprintf("%s/.ckpt-unlinked-%d-%d", dir, (int)getpid(), k);
			fd = open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
			if (fd >= 0)
				unlink(name);
			free(name);
			if (fd < 0 && errno != EEXIST)
				break;
		}
	}
	if (fd < 0)
		fail_errno(denied_or(EXIT_FAIL), "cannot make the unlinked file %s again in %s", g->name, dir);
	free(copy);
	return fd;
}

/* The bytes of every extent, from the image, each page checked against its hash, written to fd
 * (or only checked, fd < 0). */
static int fill(int fd, const struct file_state *f)
{
	const struct ghost *g = f->ghost;
	uint32_t ps = (uint32_t)sysconf(_SC_PAGESIZE);
	uint8_t *buf = xmalloc(IO_CHUNK);
	int rc = -1;
	for (size_t k = 0; k < g->next; k++) {
		const struct ghost_extent *e = &g->ext[k];
		uint64_t bytes = (uint64_t)e->npages * ps;
		for (uint64_t done = 0; done < bytes;) {
			size_t n = bytes - done > IO_CHUNK ? IO_CHUNK : (size_t)(bytes - done);
			if (pread_all(g_image_fd, buf, n, e->data_off + done) < 0) {
				fail_errno(EXIT_BADIMAGE, "bad image %s: cannot read the file_data at byte %llu", g_image_path,
					   (unsigned long long)(e->data_off + done));
				goto out;
			}
			for (size_t o = 0; o < n; o += ps) {
				uint64_t want, got = xxh64(buf + o, ps, 0);
				uint32_t page = (uint32_t)((done + o) / ps);
				memcpy(&want, e->hashes + (size_t)page * 8, 8);
				if (want != got) {
					fail(EXIT_BADIMAGE, "bad image %s: record #%u (file_extent) page %u of %s at byte %llu does not match its hash",
					     g_image_path, e->rec, page, f->path, (unsigned long long)(e->data_off + done + o));
					goto out;
				}
			}
			size_t keep = done >= e->len ? 0 : (e->len - done < n ? (size_t)(e->len - done) : n);
			if (fd >= 0 && keep && pwrite_all(fd, buf, keep, e->offset + done) < 0) {
				fail_errno(EXIT_FAIL, "cannot write the contents of %s back", f->path);
				goto out;
			}
			done += n;
		}
	}
	if (fd >= 0 && ftruncate(fd, (off_t)g->f.size) < 0) {
		fail_errno(EXIT_FAIL, "cannot give %s its size %llu", f->path, (unsigned long long)g->f.size);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

int ghost_check_in_file(const struct image *im, const struct tree *t)
{
	ghost_set_image(im->path, im->fd);
	for (size_t i = 0; i < t->nfiles; i++)
		if (t->files[i].ghost && fill(-1, &t->files[i]) < 0)
			return -1;
	return 0;
}

/* One description of the made file, with its own access mode, status flags and position. */
static int open_description(int made, const struct file_state *d)
{
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", made);
	int flags = (int)(d->f.flags & ~(uint32_t)(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC | __O_TMPFILE | O_DIRECTORY));
	int fd = fd_high(open(self, flags | O_CLOEXEC));
	if (fd < 0)
		return fail_errno(denied_or(EXIT_FAIL), "cannot open %s again", d->path);
	if (d->f.pos && lseek(fd, (off_t)d->f.pos, SEEK_SET) < 0) {
		close(fd);
		return fail_errno(EXIT_FAIL, "cannot seek %s to %llu", d->path, (unsigned long long)d->f.pos);
	}
	return fd;
}

int ghost_make(const struct tree *t, size_t i)
{
	const struct file_state *f = &t->files[i];
	if (f->ghost_of) /* made with the description that holds the bytes (the same owner: files_plan) */
		return fcntl(f->slot, F_GETFD) >= 0 ? 0 : fail(EXIT_FAIL, "internal error: %s made before its file", f->path);
	const struct ghost *g = f->ghost;
	int made = fd_high(make_unlinked(f));
	if (made < 0)
		return -1;
	int rc = fill(made, f);
	for (size_t j = i; j < t->nfiles && rc == 0; j++) {
		const struct file_state *d = &t->files[j];
		if ((j != i && d->ghost_of != (int)i + 1) || d->owner != f->owner)
			continue;
		int fd = open_description(made, d);
		rc = fd < 0 || to_slot(fd, d, 0) < 0 ? -1 : 0;
	}
	/* the mode last: the descriptions above were opened as the file was made (0600) */
	if (rc == 0 && (g->f.mode & 07777) != 0600 && fchmod(made, g->f.mode & 07777) < 0)
		warn("%s: its mode %o cannot be set again (%s)", f->path, g->f.mode & 07777, strerror(errno));
	if (rc == 0 && g->f.seals && fcntl(made, F_ADD_SEALS, (int)g->f.seals) < 0)
		rc = fail_errno(EXIT_FAIL, "cannot seal the memfd %s again (seals 0x%x)", g->name, g->f.seals);
	close(made);
	return rc;
}

int ghost_maps_take(const struct tree *t, int me, const pid_t *pids)
{
	const struct proc_state *p = t->procs[me];
	for (size_t i = 0; i < p->nvmas; i++) {
		const struct vma_state *v = &p->vmas[i];
		if (!v->ghost_file || fcntl(v->restore_fd, F_GETFD) >= 0)
			continue;
		int fd = slot_take_one(t, (size_t)v->ghost_file - 1, me, pids);
		if (fd < 0 || dup2(fd, v->restore_fd) < 0)
			return fail_errno(EXIT_FAIL, "cannot take the file %s to map it", v->path);
		close(fd);
	}
	return 0;
}

/* ---- a removed working directory ---- */

int ghost_cwd_enter(const char *cwd)
{
	char *path = strip_deleted(cwd);
	char *copy = xstrdup(path), *copy2 = xstrdup(path);
	const char *base = basename(copy2);
	char *parent = dirname(copy);
	/* the nearest directory that is still there */
	struct stat st;
	while (strcmp(parent, "/") && (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode))) {
		char *up = xstrdup(dirname(parent));
		free(copy);
		copy = parent = up;
	}
	int rc = -1;
	char *made = NULL;
	for (int k = 0; k < 100 && !made; k++) {
		char *name = k ? xasprintf("%s/%s.ckpt-%d-%d", strcmp(parent, "/") ? parent : "", base, (int)getpid(), k)
			       : xasprintf("%s/%s", strcmp(parent, "/") ? parent : "", base);
		if (mkdir(name, 0700) == 0)
			made = name;
		else {
			int e = errno;
			free(name);
			if (e != EEXIST) {
				errno = e;
				break;
			}
		}
	}
	if (!made) {
		fail_errno(denied_or(EXIT_FAIL), "cannot make the removed working directory %s again in %s", path, parent);
		goto out;
	}
	if (chdir(made) < 0 || rmdir(made) < 0) {
		fail_errno(denied_or(EXIT_FAIL), "cannot enter and remove the working directory %s again", made);
		goto out;
	}
	rc = 0;
out:
	free(made);
	free(path);
	free(copy);
	free(copy2);
	return rc;
}
