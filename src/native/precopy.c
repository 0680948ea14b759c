/* The leave-running precopy: a process's pages copied while it runs, then, once it is frozen, only
 * the pages it wrote meanwhile, so that the freeze does not grow with its memory.
 *
 * A fork snapshot (snapshot.c) costs the fork's copy of the page tables while frozen: ~20 ms per
 * GiB of touched memory here, as long as write-protecting the same pages would. Tracking writes
 * instead costs nothing at the freeze but a scan: the process's own userfaultfd, in the
 * asynchronous write-protect mode (UFFD_FEATURE_WP_ASYNC, Linux 6.7), in which the kernel
 * resolves each first write to a protected page by itself (the process never waits for us) and
 * clears the page's uffd-wp bit, which PAGEMAP_SCAN reports as PAGE_IS_WRITTEN (~1 ms per GiB
 * when few pages were written). This is what soft-dirty tracking gives CRIU's pre-dump, on
 * kernels without soft-dirty.
 *
 *  1. A short freeze of its own (dump.c): the armed main thread clones a helper that shares its
 *     memory but not its descriptors (snapshot.c), which makes the userfaultfd
 *     (UFFD_USER_MODE_ONLY, which an unprivileged process may), which ckpt takes (pidfd_getfd)
 *     before it kills the helper; the process goes on. The userfaultfd acts on the process's
 *     memory from ckpt's ioctls.
 *  2. While it runs: each private anonymous writable area is registered and write-protected,
 *     then its pages are copied (process_vm_readv) into a staging file, unlinked (O_TMPFILE) in
 *     the image's directory: page cache, dropped unwritten when it is closed. Once more, just
 *     before the freeze, for the pages written meanwhile.
 *  3. The dump's freeze (memory.c, pages_settle_precopy): the pages present then that were
 *     written since (or were not staged) are copied while frozen, or, when they are many, taken
 *     from a fork snapshot as without a precopy. Every other page comes from the staging file.
 *
 * Never harm the target: the process never holds the userfaultfd (the helper does, killed with
 * ckpt); closing ckpt's (also by its death) unregisters every area and clears the protection. A write
 * never waits for ckpt. Pages that a device or io_uring writes through a pin taken before the
 * protection are not seen as written, as with soft-dirty: such memory is not checkpointable anyway
 * (io_uring is refused). */
#include "ckpt.h"
#include "pagemap_scan.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#define STAGE_BLOCK (4u << 20)

struct staged_run {
	uint64_t vaddr, len, off; /* [vaddr, vaddr + len) of the process at `off` of the staging file */
};

struct precopy {
	int uffd;                 /* the process's userfaultfd, ours alone; -1 once closed */
	int fd;                   /* the staging file */
	struct page_interval *areas; /* registered and write-protected */
	size_t nareas;
	struct staged_run *runs;  /* in address order */
	size_t nruns, cap;
	uint64_t staged;          /* bytes staged */
	uint64_t again;           /* bytes staged again in the second round */
	uint64_t ns;              /* how long staging took */
	uint8_t program[16];      /* the 16 random bytes of AT_RANDOM: new with every execve */
	int have_program;
};

/* The 16 bytes the kernel put at AT_RANDOM for the program the process runs: another execve,
 * other bytes (and the userfaultfd would watch the memory of a program that is gone). */
static int program_mark(pid_t pid, uint8_t mark[16])
{
	size_t n = 0;
	uint64_t *auxv = (uint64_t *)read_filef(&n, "/proc/%d/auxv", pid);
	uint64_t at = 0;
	for (size_t i = 0; auxv && i + 1 < n / 8; i += 2)
		if (auxv[i] == 25 /* AT_RANDOM */)
			at = auxv[i + 1];
	free(auxv);
	return at && mem_read(pid, at, mark, 16) == 0 ? 0 : -1;
}

/* A precopy that cannot go on is no failure of the dump: the freeze reads the pages (1). Said with
 * -v; never through fail(), whose first message would then name this instead of a real failure. */
static int give_up(const char *what)
{
	if (g_verbose)
		fprintf(stderr, "ckpt: no precopy: %s: %s\n", what, strerror(errno));
	return 1;
}

struct precopy *precopy_new(void)
{
	struct precopy *pc = xcalloc(1, sizeof(*pc));
	pc->uffd = pc->fd = -1;
	return pc;
}

void precopy_end(struct precopy *pc)
{
	if (!pc)
		return;
	if (pc->uffd >= 0)
		close(pc->uffd);
	if (pc->fd >= 0)
		close(pc->fd);
	free(pc->areas);
	free(pc->runs);
	free(pc);
}

int precopy_inject_uffd(struct tracee *t0, pid_t pid, uint64_t gadget, struct precopy *pc)
{
	pc->have_program = program_mark(pid, pc->program) == 0;
	/* made by a helper sharing the process's memory but not its descriptors: the process never
	 * holds it, even for an instant a killed ckpt could leave behind */
	int fd = helper_userfaultfd(pid, t0, gadget, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd == -1)
		return -1;
	pc->uffd = fd >= 0 ? fd : -1;
	if (fd == -2 && g_verbose)
		fprintf(stderr, "ckpt: no precopy: the main thread of process %d could not be armed\n", pid);
	fault_point("precopy-uffd");
	return 0;
}

static void add_staged(struct precopy *pc, uint64_t vaddr, uint64_t len, uint64_t off)
{
	if (pc->nruns && pc->runs[pc->nruns - 1].vaddr + pc->runs[pc->nruns - 1].len == vaddr &&
	    pc->runs[pc->nruns - 1].off + pc->runs[pc->nruns - 1].len == off) {
		pc->runs[pc->nruns - 1].len += len;
		return;
	}
	if (pc->nruns == pc->cap) {
		pc->cap = pc->cap ? pc->cap * 2 : 64;
		pc->runs = xrealloc(pc->runs, pc->cap * sizeof(*pc->runs));
	}
	pc->runs[pc->nruns++] = (struct staged_run){vaddr, len, off};
}

/* [vaddr, vaddr + len) staged for the first time: appended to the staging file. */
static int append_staged(struct precopy *pc, uint64_t vaddr, const uint8_t *buf, uint64_t len)
{
	if (pwrite_all(pc->fd, buf, len, pc->staged) < 0)
		return give_up("cannot write its staging file");
	add_staged(pc, vaddr, len, pc->staged);
	pc->staged += len;
	return 0;
}

/* The first staged run that ends above addr. */
static size_t run_at(const struct precopy *pc, uint64_t addr)
{
	size_t lo = 0, hi = pc->nruns;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (pc->runs[mid].vaddr + pc->runs[mid].len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int by_vaddr(const void *a, const void *b)
{
	const struct staged_run *x = a, *y = b;
	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* [vaddr, vaddr + len) read again: over its staged copy where it has one, appended where not. */
static int restage(struct precopy *pc, uint64_t vaddr, const uint8_t *buf, uint64_t len, int *unsorted)
{
	uint64_t end = vaddr + len;
	size_t i = run_at(pc, vaddr), nruns = pc->nruns;
	while (vaddr < end) {
		const struct staged_run *r = i < nruns ? &pc->runs[i] : NULL;
		uint64_t upto = !r || r->vaddr >= end ? end : r->vaddr > vaddr ? r->vaddr : 0;
		if (upto) { /* not staged yet */
			if (append_staged(pc, vaddr, buf, upto - vaddr))
				return 1;
			*unsorted = 1;
		} else {
			upto = r->vaddr + r->len < end ? r->vaddr + r->len : end;
			if (pwrite_all(pc->fd, buf, upto - vaddr, r->off + (vaddr - r->vaddr)) < 0)
				return give_up("cannot write its staging file");
			i++;
		}
		buf += upto - vaddr, vaddr = upto;
	}
	return 0;
}

/* Forgets the staged copies of [s, e): its pages are read at the freeze then. */
static void unstage(struct precopy *pc, uint64_t s, uint64_t e)
{
	size_t n = 0;
	struct staged_run *keep = xmalloc((pc->nruns + 1) * sizeof(*keep));
	for (size_t i = 0; i < pc->nruns; i++) {
		struct staged_run r = pc->runs[i];
		uint64_t re = r.vaddr + r.len;
		if (re <= s || r.vaddr >= e) {
			keep[n++] = r;
			continue;
		}
		if (r.vaddr < s)
			keep[n++] = (struct staged_run){r.vaddr, s - r.vaddr, r.off};
		if (re > e)
			keep[n++] = (struct staged_run){e, re - e, r.off + (e - r.vaddr)};
	}
	free(pc->runs);
	pc->runs = keep, pc->nruns = n, pc->cap = pc->nruns + 1;
}

/* Private anonymous writable areas of /proc/PID/maps (the heap and stacks too): the ones whose
 * pages a write-protect can watch. File-backed private areas (a library's .data) cannot be
 * registered for it; their few pages are copied at the freeze. */
static size_t watchable_areas(pid_t pid, struct page_interval **out)
{
	struct range *maps;
	size_t n = read_maps(pid, &maps), k = 0;
	*out = xcalloc(n + 1, sizeof(**out));
	for (size_t i = 0; i < n; i++) {
		const char *name = maps[i].name;
		int anon = !name[0] || !strcmp(name, "[heap]") || !strncmp(name, "[stack", 6) || !strncmp(name, "[anon:", 6);
		if (anon && maps[i].perms[1] == 'w' && maps[i].perms[3] == 'p')
			(*out)[k++] = (struct page_interval){maps[i].start, maps[i].end};
	}
	free(maps);
	return k;
}

/* Copies pages of the process into the staging file: what cannot be read (the area changed under
 * us) is left to the freeze. */
static int stage_pages(struct precopy *pc, pid_t pid, const struct page_region *iv, size_t n, uint8_t *buf)
{
	for (size_t i = 0; i < n; i++)
		for (uint64_t at = iv[i].start; at < iv[i].end && !(iv[i].categories & PAGE_IS_PFNZERO);) {
			if (cancelled())
				return -1;
			size_t k = iv[i].end - at < STAGE_BLOCK ? (size_t)(iv[i].end - at) : STAGE_BLOCK;
			struct iovec local = {buf, k}, remote = {(void *)(uintptr_t)at, k};
			ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
			got -= got > 0 ? got % 4096 : 0;
			if (got <= 0)
				break;
			if (append_staged(pc, at, buf, (uint64_t)got))
				return 1;
			at += (uint64_t)got;
		}
	return 0;
}

/* A second round, as the process runs: the pages written since they were staged are protected
 * again and read again (the kernel reports and protects them in one walk), so that only what it
 * writes in the few ms this takes is left for the freeze. Whatever cannot be read again is
 * forgotten, never left stale. */
static int restage_written(struct precopy *pc, pid_t pid, int pm, uint8_t *buf)
{
	struct page_region regs[512];
	int unsorted = 0, rc = 0;
	for (size_t i = 0; i < pc->nareas && rc == 0; i++) {
		uint64_t start = pc->areas[i].start, end = pc->areas[i].end;
		while (start < end && rc == 0) {
			struct pm_scan_arg a = {
				.size = sizeof(a),
				.flags = PM_SCAN_WP_MATCHING,
				.start = start,
				.end = end,
				.vec = (uint64_t)(uintptr_t)regs,
				.vec_len = sizeof(regs) / sizeof(regs[0]),
				.category_mask = PAGE_IS_WRITTEN,
				.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
				.return_mask = PAGE_IS_WRITTEN,
			};
			long n = ioctl(pm, PAGEMAP_SCAN, &a);
			if (n < 0) {
				unstage(pc, start, end);
				break;
			}
			for (long k = 0; k < n && rc == 0; k++)
				for (uint64_t at = regs[k].start; at < regs[k].end && rc == 0;) {
					size_t want = regs[k].end - at < STAGE_BLOCK ? (size_t)(regs[k].end - at) : STAGE_BLOCK;
					struct iovec local = {buf, want}, remote = {(void *)(uintptr_t)at, want};
					ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
					if (got != (ssize_t)want) {
						unstage(pc, at, regs[k].end);
						break;
					}
					rc = restage(pc, at, buf, want, &unsorted);
					pc->again += want;
					if (unsorted) {
						qsort(pc->runs, pc->nruns, sizeof(*pc->runs), by_vaddr);
						unsorted = 0;
					}
					at += want;
				}
			if (a.walk_end <= start)
				break;
			start = a.walk_end;
		}
	}
	return rc;
}

int precopy_stage(struct precopy *pc, pid_t pid, const char *dir)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	if (pc->uffd < 0)
		return 1;
	/* (not UFFD_FEATURE_WP_UNPOPULATED: a page first touched after the protection has no uffd-wp
	 * bit, and so reads as written, which is what it is) */
	struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC_};
	if (ioctl(pc->uffd, UFFDIO_API, &api) < 0) {
		if (g_verbose)
			fprintf(stderr, "ckpt: no precopy: asynchronous uffd write-protect (Linux 6.7): %s\n", strerror(errno));
		return 1;
	}
	pc->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (pc->fd < 0)
		pc->fd = memfd_create("ckpt-precopy", MFD_CLOEXEC);
	if (pc->fd < 0)
		return give_up("cannot make its staging file");
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	int pm = open(path, O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		return give_up(path);
	struct page_interval *areas;
	size_t n = watchable_areas(pid, &areas);
	pc->areas = xcalloc(n ? n : 1, sizeof(*pc->areas));
	uint8_t *buf = xmalloc(STAGE_BLOCK);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		/* an area the process watches with a userfaultfd of its own says EBUSY: left to the freeze */
		struct uffdio_register reg = {.range = {areas[i].start, areas[i].end - areas[i].start}, .mode = UFFDIO_REGISTER_MODE_WP};
		if (ioctl(pc->uffd, UFFDIO_REGISTER, &reg) < 0)
			continue;
		/* its pages before the protection: after it, the pages never touched read as swapped
		 * (the protection's markers), and would be copied as zeros */
		struct page_region *pages;
		size_t np = pagemap_regions(pm, areas[i].start, areas[i].end, PAGE_IS_PRESENT | PAGE_IS_SWAPPED, PAGE_IS_PFNZERO, &pages);
		struct uffdio_writeprotect wp = {.range = reg.range, .mode = UFFDIO_WRITEPROTECT_MODE_WP};
		if (np == SIZE_MAX || ioctl(pc->uffd, UFFDIO_WRITEPROTECT, &wp) < 0) {
			free(pages);
			struct uffdio_range ur = reg.range;
			ioctl(pc->uffd, UFFDIO_UNREGISTER, &ur);
			continue;
		}
		pc->areas[pc->nareas++] = areas[i];
		/* protected first, copied after: a page written in between is seen as written */
		rc = stage_pages(pc, pid, pages, np, buf);
		free(pages);
	}
	free(areas);
	free(buf);
	close(pm);
	pc->ns = now_ns(CLOCK_MONOTONIC) - t0;
	return rc;
}

int precopy_restage(struct precopy *pc, pid_t pid)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	int pm = open(path, O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		return give_up(path);
	uint8_t *buf = xmalloc(STAGE_BLOCK);
	int rc = restage_written(pc, pid, pm, buf);
	free(buf);
	close(pm);
	if (g_verbose)
		fprintf(stderr, "ckpt: precopy: %zu areas watched, %.1f MiB staged in %.1f ms, %.1f MiB written meanwhile staged again in %.1f ms\n",
			pc->nareas, pc->staged / 1048576.0, pc->ns / 1e6, pc->again / 1048576.0, (now_ns(CLOCK_MONOTONIC) - t0) / 1e6);
	pc->ns += now_ns(CLOCK_MONOTONIC) - t0;
	return rc;
}

int precopy_same_program(struct precopy *pc, pid_t pid)
{
	uint8_t now[16];
	if (pc->have_program && program_mark(pid, now) == 0 && !memcmp(now, pc->program, 16))
		return 1;
	pc->nareas = 0; /* it ran execve since: nothing of the precopy is its memory */
	if (g_verbose)
		fprintf(stderr, "ckpt: precopy: process %d ran another program since: its pages are all read at the freeze\n", pid);
	return 0;
}

int precopy_watches(const struct precopy *pc, uint64_t start, uint64_t end)
{
	for (size_t i = 0; pc && pc->uffd >= 0 && i < pc->nareas; i++)
		if (start >= pc->areas[i].start && end <= pc->areas[i].end)
			return 1;
	return 0;
}

size_t precopy_staged_in(const struct precopy *pc, uint64_t start, uint64_t end, struct page_interval **out)
{
	size_t n = 0;
	*out = NULL;
	for (size_t i = 0; i < pc->nruns; i++) {
		uint64_t s = pc->runs[i].vaddr > start ? pc->runs[i].vaddr : start;
		uint64_t e = pc->runs[i].vaddr + pc->runs[i].len < end ? pc->runs[i].vaddr + pc->runs[i].len : end;
		if (s >= e)
			continue;
		*out = xrealloc(*out, (n + 1) * sizeof(**out));
		(*out)[n++] = (struct page_interval){s, e};
	}
	return n;
}

size_t pagemap_regions(int pm, uint64_t start, uint64_t end, uint64_t anyof, uint64_t categories, struct page_region **out)
{
	size_t n = 0, cap = 0;
	*out = NULL;
	while (start < end) {
		if (cap - n < 512) {
			cap = cap ? cap * 2 : 1024;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.start = start,
			.end = end,
			.vec = (uint64_t)(uintptr_t)(*out + n),
			.vec_len = cap - n,
			.category_anyof_mask = anyof,
			.return_mask = categories,
		};
		long r = ioctl(pm, PAGEMAP_SCAN, &a);
		if (r < 0) {
			free(*out);
			*out = NULL;
			return SIZE_MAX;
		}
		n += (size_t)r;
		if (a.walk_end <= start)
			break;
		start = a.walk_end;
	}
	return n;
}

int precopy_read(const struct precopy *pc, uint64_t addr, void *buf, size_t n)
{
	size_t lo = run_at(pc, addr);
	for (size_t i = lo; n; i++) {
		if (i == pc->nruns || addr < pc->runs[i].vaddr)
			return fail(EXIT_FAIL, "the precopy holds no copy of the page at 0x%llx", (unsigned long long)addr);
		const struct staged_run *r = &pc->runs[i];
		size_t k = r->vaddr + r->len - addr < n ? (size_t)(r->vaddr + r->len - addr) : n;
		if (pread_all(pc->fd, buf, k, r->off + (addr - r->vaddr)) < 0)
			return fail_errno(EXIT_IO, "cannot read the staging file of the precopy");
		buf = (uint8_t *)buf + k, addr += k, n -= k;
	}
	return 0;
}

void precopy_stop_watching(struct precopy *pc)
{
	if (!pc || pc->uffd < 0)
		return;
	/* protection off in 4 MiB steps first (under the mmap read lock, beside the process's own
	 * faults), so that the close, which unregisters under the write lock, has nothing left to do */
	for (size_t i = 0; i < pc->nareas; i++)
		for (uint64_t at = pc->areas[i].start; at < pc->areas[i].end; at += STAGE_BLOCK) {
			uint64_t len = pc->areas[i].end - at < STAGE_BLOCK ? pc->areas[i].end - at : STAGE_BLOCK;
			struct uffdio_writeprotect wp = {.range = {at, len}, .mode = 0};
			if (ioctl(pc->uffd, UFFDIO_WRITEPROTECT, &wp) < 0)
				break;
		}
	close(pc->uffd);
	pc->uffd = -1;
}

uint64_t precopy_ns(const struct precopy *pc)
{
	return pc ? pc->ns : 0;
}
