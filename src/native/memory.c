/* Memory: the VMAs (from /proc/PID/smaps), the pages worth keeping (PAGEMAP_SCAN: present or
 * swapped, not the zero page, not clean file pages), streamed into pagemap+pages records; and
 * at restore, the same address space rebuilt by injected mmap/preadv/mprotect. */
#include "ckpt.h"
#include "pagemap_scan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_MAX_PAGES ((1u << 30) / 4096) /* one pagemap+pages pair per GiB at most */
#define IO_BLOCK (4u << 20)

/* ---- tracee memory ---- */

/* /proc/PID/smaps read before the freeze (vmas_prefetch) */
static struct {
	pid_t pid;
	char *text;
} prefetched;

void mem_forget(void)
{
	free(prefetched.text);
	prefetched.text = NULL;
	prefetched.pid = 0;
	proc_mem_close();
}

/* A process that is dying or dead: gone, a zombie, or without its memory already (exit
 * releases the mm before the state says so). Asked after a read failed, so it waits a little
 * for a dying process to show it. */
static int process_gone(pid_t pid)
{
	for (int i = 0; i < 20; i++) {
		struct proc_stat st;
		int gone = proc_stat(pid, 0, &st) < 0 || st.state == 'Z' || st.state == 'X';
		size_t n = 1;
		char *maps = gone ? NULL : read_filef(&n, "/proc/%d/maps", pid);
		free(maps);
		if (gone || n == 0)
			return 1;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* ---- VMAs ---- */

static uint16_t special_kind(const char *path)
{
	static const struct {
		const char *name;
		uint16_t kind;
	} names[] = {
		{"[heap]", CKPT_VMA_KIND_HEAP},   {"[stack]", CKPT_VMA_KIND_STACK},
		{"[vdso]", CKPT_VMA_KIND_VDSO},   {"[vvar]", CKPT_VMA_KIND_VVAR},
		{"[vvar_vclock]", CKPT_VMA_KIND_VVAR_VCLOCK}, {"[vsyscall]", CKPT_VMA_KIND_VSYSCALL},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(path, names[i].name))
			return names[i].kind;
	return CKPT_VMA_KIND_UNKNOWN;
}

static int has_flag(const char *vmflags, const char *f)
{
	for (const char *p = vmflags; p && *p && *p != '\n'; p += 3)
		if (p[0] == f[0] && p[1] == f[1])
			return 1;
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

/* Decides the kind of one area and whether restore can recreate it. */
static void classify(struct proc_state *p, struct vma_state *v, char perms3, const char *vmflags)
{
	const char *path = v->path;
	int shared = perms3 == 's';
	uint16_t k = special_kind(path);
	if (shared)
		v->f.flags |= CKPT_VMA_FLAGS_SHARED;
	if (has_flag(vmflags, "gd"))
		v->f.flags |= CKPT_VMA_FLAGS_GROWS_DOWN;
	if (has_flag(vmflags, "lo"))
		v->f.flags |= CKPT_VMA_FLAGS_LOCKED;
	if (has_flag(vmflags, "dd"))
		v->f.flags |= CKPT_VMA_FLAGS_DONT_DUMP;
	if (has_flag(vmflags, "dc"))
		v->f.flags |= CKPT_VMA_FLAGS_DONT_FORK;
	if (has_flag(vmflags, "wf"))
		v->f.flags |= CKPT_VMA_FLAGS_WIPE_ON_FORK;
	if (has_flag(vmflags, "hg"))
		v->f.flags |= CKPT_VMA_FLAGS_HUGE_PAGE;
	if (has_flag(vmflags, "nh"))
		v->f.flags |= CKPT_VMA_FLAGS_NO_HUGE_PAGE;
	if (has_flag(vmflags, "lf"))
		v->f.flags |= CKPT_VMA_FLAGS_LOCK_ON_FAULT;
	v->uffd_wp = has_flag(vmflags, "uw");
	if (ends_with(path, " (deleted)"))
		v->f.flags |= CKPT_VMA_FLAGS_FILE_DELETED;

	if (k != CKPT_VMA_KIND_UNKNOWN) {
		v->f.kind = k;
		return;
	}
	/* before the device test: a perf ring is VM_PFNMAP too, but it is no device */
	if (!strncmp(path, "anon_inode:", 11)) {
		v->f.kind = CKPT_VMA_KIND_UNKNOWN;
		int uring = strstr(path, "io_uring") != NULL;
		add_unsupported(p, uring ? CKPT_UNSUPPORTED_KIND_IO_URING : CKPT_UNSUPPORTED_KIND_VMA, -1, v->f.start, path,
				"a mapping of %s cannot be recreated", uring ? "an io_uring ring" : "a kernel object");
		return;
	}
	/* /dev/shm holds files (POSIX shared memory, named semaphores), not devices */
	if (has_flag(vmflags, "io") || has_flag(vmflags, "pf") ||
	    (!strncmp(path, "/dev/", 5) && strncmp(path, "/dev/zero", 9) && strncmp(path, "/dev/shm/", 9))) {
		v->f.kind = CKPT_VMA_KIND_DEVICE;
		add_unsupported(p, CKPT_UNSUPPORTED_KIND_VMA, -1, v->f.start, path, "a device mapping cannot be recreated");
		return;
	}
	if (!strncmp(path, "/SYSV", 5)) {
		v->f.kind = CKPT_VMA_KIND_ANON_SHARED;
		add_unsupported(p, CKPT_UNSUPPORTED_KIND_VMA, -1, v->f.start, path, "System V shared memory keeps its id in the kernel");
		return;
	}
	if (!path[0] || path[0] == '[' || !strncmp(path, "/dev/zero", 9)) {
		/* anonymous, also named ones ([anon:x], [anon_shmem:x]) and MAP_SHARED|MAP_ANONYMOUS (/dev/zero) */
		v->f.kind = shared ? CKPT_VMA_KIND_ANON_SHARED : CKPT_VMA_KIND_ANON_PRIVATE;
		v->dump_all = shared; /* shmem pages can exist without being mapped here */
		if (path[0] == '[' && strncmp(path, "[anon", 5)) {
			v->f.kind = CKPT_VMA_KIND_UNKNOWN;
			add_unsupported(p, CKPT_UNSUPPORTED_KIND_VMA, -1, v->f.start, path, "an unknown special mapping");
		}
		return;
	}
	v->f.kind = shared ? CKPT_VMA_KIND_FILE_SHARED : CKPT_VMA_KIND_FILE_PRIVATE;
	/* a shared area of a file opened for writing may be made writable later (VM_MAYWRITE) */
	if (shared && has_flag(vmflags, "mw"))
		v->f.flags |= CKPT_VMA_FLAGS_MAY_WRITE;
	struct stat st;
	if ((v->f.flags & CKPT_VMA_FLAGS_FILE_DELETED) || stat(path, &st) < 0 || st.st_ino != v->f.inode ||
	    major(st.st_dev) != v->f.dev_major || minor(st.st_dev) != v->f.dev_minor) {
		/* gone or replaced: the image must hold every page, restore maps anonymous memory */
		v->f.flags |= CKPT_VMA_FLAGS_FILE_DELETED;
		v->dump_all = 1;
		return;
	}
	v->f.file_size = (uint64_t)st.st_size;
	v->f.file_mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec;
}

/* /proc/PID/smaps walks every page of the process (for Rss and Pss): 20-50 ms for 1 GiB, too long
 * for a freeze of milliseconds. Read once before the freeze (vmas_prefetch), it is used when
 * /proc/PID/maps, cheap, shows the very same areas once frozen; the flags that a madvise could
 * have changed meanwhile without changing an area's line are checked again (vmas_verify) against
 * the snapshot, which has them as they were at the freeze, or the process while still frozen. */
void vmas_prefetch(pid_t pid)
{
	free(prefetched.text);
	prefetched.pid = pid;
	prefetched.text = read_filef(NULL, "/proc/%d/smaps", pid);
}

/* The smaps text read before the freeze when its areas are still those of /proc/PID/maps (NULL
 * otherwise). Taken: the caller frees it. */
static char *prefetched_if_current(pid_t pid)
{
	char *text = prefetched.pid == pid ? prefetched.text : NULL;
	if (prefetched.pid == pid)
		prefetched.text = NULL, prefetched.pid = 0;
	char *maps = text ? read_filef(NULL, "/proc/%d/maps", pid) : NULL;
	int same = maps != NULL;
	const char *m = maps, *t = text;
	while (same && *m) {
		/* the next area line of smaps: its other lines start with a capital letter */
		while (*t && !((*t >= '0' && *t <= '9') || (*t >= 'a' && *t <= 'f'))) {
			const char *nl = strchr(t, '\n');
			t = nl ? nl + 1 : t + strlen(t);
		}
		size_t ml = strcspn(m, "\n"), tl = strcspn(t, "\n");
		same = ml == tl && !memcmp(m, t, ml);
		m += ml + (m[ml] == '\n');
		t += tl + (t[tl] == '\n');
	}
	while (same && *t) { /* and no area more */
		same = !((*t >= '0' && *t <= '9') || (*t >= 'a' && *t <= 'f'));
		const char *nl = strchr(t, '\n');
		t = nl ? nl + 1 : t + strlen(t);
	}
	free(maps);
	if (!same) {
		free(text);
		return NULL;
	}
	return text;
}

static void parse_smaps(struct proc_state *p, char *text);

int vmas_capture(pid_t pid, struct proc_state *p)
{
	char *text = prefetched_if_current(pid);
	if (!text)
		text = read_filef(NULL, "/proc/%d/smaps", pid);
	if (!text)
		return fail_errno(EXIT_NOPROC, "cannot read /proc/%d/smaps", pid);
	parse_smaps(p, text);
	free(text);
	return 0;
}

/* Flags a fork keeps (mlock is not inherited), which decide what is read while frozen or restored. */
#define FORK_KEPT_FLAGS (CKPT_VMA_FLAGS_DONT_DUMP | CKPT_VMA_FLAGS_WIPE_ON_FORK | CKPT_VMA_FLAGS_GROWS_DOWN | CKPT_VMA_FLAGS_SHARED)

int vmas_verify(pid_t pid, const struct proc_state *p)
{
	/* without a snapshot, the process is still frozen; but after a precopy it runs again, and
	 * may have changed its areas since: only areas still there with the same bounds are compared */
	int live = !p->snap && p->pre_settled;
	pid_t from = p->snap ? p->snap : pid;
	char *text = read_filef(NULL, "/proc/%d/smaps", from);
	if (!text)
		return fail_errno(EXIT_FAIL, "cannot read /proc/%d/smaps", from);
	struct proc_state s;
	memset(&s, 0, sizeof(s));
	parse_smaps(&s, text);
	free(text);
	size_t j = 0;
	int same = 1;
	for (size_t i = 0; i < p->nvmas && same && live; i++) {
		const struct vma_state *v = &p->vmas[i];
		while (j < s.nvmas && s.vmas[j].f.start < v->f.start)
			j++;
		if (j < s.nvmas && s.vmas[j].f.start == v->f.start && s.vmas[j].f.end == v->f.end)
			same = ((s.vmas[j].f.flags ^ v->f.flags) & (FORK_KEPT_FLAGS | CKPT_VMA_FLAGS_DONT_FORK)) == 0;
	}
	for (size_t i = 0; i < p->nvmas && same && !live; i++) {
		const struct vma_state *v = &p->vmas[i];
		if (p->snap && (v->f.flags & CKPT_VMA_FLAGS_DONT_FORK)) {
			same = j >= s.nvmas || s.vmas[j].f.start >= v->f.end; /* absent from a fork */
			continue;
		}
		same = j < s.nvmas && s.vmas[j].f.start == v->f.start && s.vmas[j].f.end == v->f.end &&
		       ((s.vmas[j].f.flags ^ v->f.flags) & (p->snap ? FORK_KEPT_FLAGS : FORK_KEPT_FLAGS | CKPT_VMA_FLAGS_DONT_FORK)) == 0;
		j++;
	}
	same &= live || j == s.nvmas;
	proc_free(&s);
	if (!same)
		return fail(EXIT_FAIL, "process %d changed its memory areas (madvise) just as the checkpoint began: try again", pid);
	return 0;
}

static void parse_smaps(struct proc_state *p, char *text)
{
	struct vma_state *cur = NULL;
	char perms3 = 'p';
	for (char *line = text; line && *line;) {
		char *eol = strchr(line, '\n');
		if (eol)
			*eol = 0;
		unsigned long long start, end, off, ino;
		unsigned dmaj, dmin;
		char perms[8];
		int pos = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &off, &dmaj, &dmin, &ino, &pos) >= 7 &&
		    pos > 0) {
			p->vmas = xrealloc(p->vmas, (p->nvmas + 1) * sizeof(*p->vmas));
			cur = &p->vmas[p->nvmas++];
			memset(cur, 0, sizeof(*cur));
			cur->restore_fd = -1;
			cur->f.start = start;
			cur->f.end = end;
			cur->f.offset = off;
			cur->f.inode = ino;
			cur->f.dev_major = dmaj;
			cur->f.dev_minor = dmin;
			cur->f.prot = (perms[0] == 'r' ? CKPT_VMA_PROT_READ : 0) | (perms[1] == 'w' ? CKPT_VMA_PROT_WRITE : 0) |
				      (perms[2] == 'x' ? CKPT_VMA_PROT_EXEC : 0);
			perms3 = perms[3];
			cur->path = xstrdup(line + pos);
		} else if (cur && !strncmp(line, "VmFlags:", 8)) {
			classify(p, cur, perms3, line + 9);
			cur = NULL;
		}
		line = eol ? eol + 1 : NULL;
	}
	p->mm.nvmas = (uint32_t)p->nvmas;
}

uint32_t vma_write(struct image_writer *w, const struct vma_state *v, uint32_t mm_tag)
{
	struct buf b = {0};
	buf_put(&b, &v->f, sizeof(v->f));
	buf_lstr(&b, v->path);
	uint32_t tag = iw_record(w, CKPT_RECORD_TYPE_VMA, mm_tag, b.p, (uint32_t)b.len);
	buf_free(&b);
	return tag;
}

#define USER_SPACE_END (1ULL << 56)

int vma_read(const struct image *im, const struct image_record *r, struct vma_state *v)
{
	struct rcur c;
	rc_init(&c, im, r);
	v->restore_fd = -1;
	if (rc_get(&c, &v->f, sizeof(v->f), "vma fixed fields") < 0 || rc_lstr(&c, &v->path, "path") < 0)
		return -1;
	v->dump_all = (v->f.flags & CKPT_VMA_FLAGS_FILE_DELETED) || v->f.kind == CKPT_VMA_KIND_ANON_SHARED;
	if (!ckpt_valid_vma_end(&v->f, v->f.end))
		return image_bad(im, r, payload_at(r) + offsetof(struct ckpt_vma_fixed, end), "vma %llx-%llx ends before it starts",
				 (unsigned long long)v->f.start, (unsigned long long)v->f.end);
	if ((v->f.start | v->f.end) % im->page_size)
		return image_rule(im, r, payload_at(r), CKPT_RULE_VMA_RANGE, "vma %llx-%llx is not a page-aligned range",
				  (unsigned long long)v->f.start, (unsigned long long)v->f.end);
	/* User space ends below 2^56 even with 5-level paging; only the vsyscall page lies above. */
	if (v->f.kind != CKPT_VMA_KIND_VSYSCALL && v->f.end > USER_SPACE_END)
		return image_rule(im, r, payload_at(r), CKPT_RULE_VMA_RANGE, "vma %llx-%llx lies outside user space",
				  (unsigned long long)v->f.start, (unsigned long long)v->f.end);
	if (v->f.offset % im->page_size)
		return image_rule(im, r, payload_at(r) + 16, CKPT_RULE_VMA_RANGE, "vma %llx-%llx: file offset %llx is not page-aligned",
				  (unsigned long long)v->f.start, (unsigned long long)v->f.end, (unsigned long long)v->f.offset);
	return 0;
}

/* ---- pages ---- */

static int vma_pages_wanted(const struct vma_state *v)
{
	switch (v->f.kind) {
	case CKPT_VMA_KIND_ANON_PRIVATE:
	case CKPT_VMA_KIND_ANON_SHARED:
	case CKPT_VMA_KIND_HEAP:
	case CKPT_VMA_KIND_STACK:
	case CKPT_VMA_KIND_FILE_PRIVATE:
		return 1;
	case CKPT_VMA_KIND_FILE_SHARED:
		return v->dump_all; /* otherwise the pages are in the file */
	default:
		return 0;
	}
}

struct run_list {
	struct ckpt_page_run *v;
	size_t n, cap;
	size_t first_of_vma; /* runs never span two areas: each run belongs to one vma */
	uint64_t pages;
};

static void add_run(struct run_list *l, uint64_t start, uint64_t end, uint32_t ps, uint32_t flags)
{
	if (l->n > l->first_of_vma && l->v[l->n - 1].vaddr + (uint64_t)l->v[l->n - 1].npages * ps == start &&
	    l->v[l->n - 1].flags == flags &&
	    l->v[l->n - 1].npages + (end - start) / ps <= CHUNK_MAX_PAGES) {
		l->v[l->n - 1].npages += (uint32_t)((end - start) / ps);
		l->pages += (end - start) / ps;
		return;
	}
	while (start < end) {
		uint64_t n = (end - start) / ps;
		if (n > CHUNK_MAX_PAGES)
			n = CHUNK_MAX_PAGES;
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 256;
			l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
		}
		l->v[l->n++] = (struct ckpt_page_run){.vaddr = start, .npages = (uint32_t)n, .flags = flags};
		l->pages += n;
		start += n * ps;
	}
}

static int scan_vma(int pagemap_fd, const struct vma_state *v, struct run_list *l, uint32_t ps)
{
	uint32_t flags = (v->f.kind == CKPT_VMA_KIND_FILE_PRIVATE || v->f.kind == CKPT_VMA_KIND_FILE_SHARED)
				 ? CKPT_PAGE_RUN_FLAGS_FILE_BACKED
				 : 0;
	l->first_of_vma = l->n;
	if (v->dump_all) {
		add_run(l, v->f.start, v->f.end, ps, flags);
		return 0;
	}
	struct page_region regs[512];
	uint64_t start = v->f.start;
	while (start < v->f.end) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.start = start,
			.end = v->f.end,
			.vec = (uint64_t)(uintptr_t)regs,
			.vec_len = sizeof(regs) / sizeof(regs[0]),
			.category_inverted = PAGE_IS_PFNZERO | PAGE_IS_FILE,
			.category_mask = PAGE_IS_PFNZERO | PAGE_IS_FILE,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		};
		long n = ioctl(pagemap_fd, PAGEMAP_SCAN, &a);
		if (n < 0)
			return fail_errno(errno == ENOTTY || errno == EINVAL ? EXIT_UNSUPPORTED : EXIT_FAIL,
					  "PAGEMAP_SCAN on /proc/PID/pagemap (Linux 6.7 or later is needed)");
		for (long i = 0; i < n; i++)
			add_run(l, regs[i].start, regs[i].end, ps, flags);
		if (a.walk_end <= start)
			break;
		start = a.walk_end;
	}
	return 0;
}

/* Areas whose pages a fork child does not see as they were at the fork: shared memory (the
 * target can still change it), MADV_DONTFORK (absent in the child), MADV_WIPEONFORK (empty). */
static int fork_blind(const struct vma_state *v)
{
	return (v->f.flags & (CKPT_VMA_FLAGS_SHARED | CKPT_VMA_FLAGS_DONT_FORK | CKPT_VMA_FLAGS_WIPE_ON_FORK)) != 0;
}

/* [start, start + len) of area v read now, while the process is frozen, into v->frozen (a sparse
 * copy of the area at its own offsets, made on first use). */
static int copy_while_frozen(pid_t pid, struct vma_state *v, uint64_t start, uint64_t len)
{
	if (!v->frozen) {
		uint64_t size = v->f.end - v->f.start;
		void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED)
			return fail_errno(EXIT_FAIL, "cannot hold %llu bytes of memory of process %d", (unsigned long long)size, pid);
		v->frozen = m;
	}
	if (mem_read(pid, start, v->frozen + (start - v->f.start), len) < 0)
		return fail_errno(EXIT_FAIL, "cannot read the memory of process %d at 0x%llx", pid, (unsigned long long)start);
	return 0;
}

int pages_copy_frozen(pid_t pid, struct proc_state *p)
{
	uint32_t ps = (uint32_t)sysconf(_SC_PAGESIZE);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	int pm = -1, rc = -1;
	for (size_t i = 0; i < p->nvmas; i++) {
		struct vma_state *v = &p->vmas[i];
		if (!vma_pages_wanted(v) || !fork_blind(v))
			continue;
		if (pm < 0 && (pm = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return fail_errno(EXIT_PERM, "cannot open %s", path);
		struct run_list l = {0};
		if (scan_vma(pm, v, &l, ps) < 0)
			goto out;
		v->frozen_runs = l.v;
		v->nfrozen_runs = l.n;
		for (size_t r = 0; r < l.n; r++)
			if (copy_while_frozen(pid, v, l.v[r].vaddr, (uint64_t)l.v[r].npages * ps) < 0)
				goto out;
	}
	rc = 0;
out:
	if (pm >= 0)
		close(pm);
	return rc;
}

/* n bytes at addr from process `src` (the snapshot, or the frozen process). 1 when they came
 * from the snapshot. */
static int read_src(const struct proc_state *p, pid_t src, uint64_t addr, void *buf, size_t n)
{
	if (src == p->snap) {
		/* not process_vm_readv: it pins pages, and a pin of a page the snapshot shares with the
		 * target makes the kernel copy it first (unshare), doubling both memory and work */
		int fd = proc_mem(src);
		return fd < 0 || pread_all(fd, buf, n, addr) < 0 ? -1 : 1;
	}
	return mem_read(src, addr, buf, n);
}

/* n bytes at addr of an area settled at the freeze of a precopy: the pages read then (v->fresh:
 * from v->frozen, or from `src` when a snapshot holds them), the others from the staging file. */
static int read_settled(const struct proc_state *p, const struct vma_state *v, pid_t src, uint64_t addr, uint8_t *buf, size_t n)
{
	int from_snap = 0;
	size_t i = 0;
	while (n) {
		while (i < v->nfresh && v->fresh[i].end <= addr)
			i++;
		int fresh = i < v->nfresh && v->fresh[i].start <= addr;
		uint64_t until = fresh ? v->fresh[i].end : i < v->nfresh ? v->fresh[i].start : addr + n;
		size_t k = until - addr < n ? (size_t)(until - addr) : n;
		int r = !fresh ? precopy_read(p->pre, addr, buf, k)
		      : v->frozen ? (memcpy(buf, v->frozen + (addr - v->f.start), k), 0)
				  : read_src(p, src, addr, buf, k);
		if (r < 0)
			return -1;
		from_snap |= r;
		buf += k, addr += k, n -= k;
	}
	return from_snap;
}

/* n bytes at addr of a run: from the copy made while frozen, else from process `src`. 1 when they
 * came from the snapshot. */
static int read_run(const struct proc_state *p, pid_t src, uint64_t addr, void *buf, size_t n)
{
	for (size_t i = 0; i < p->nvmas; i++) {
		const struct vma_state *v = &p->vmas[i];
		if (addr < v->f.start || addr >= v->f.end)
			continue;
		if (v->runs_at_freeze)
			return read_settled(p, v, src, addr, buf, n);
		if (v->frozen) {
			memcpy(buf, v->frozen + (addr - v->f.start), n);
			return 0;
		}
		break;
	}
	return read_src(p, src, addr, buf, n);
}

/* a \ b, of sorted disjoint intervals each */
static size_t intervals_minus(const struct page_interval *a, size_t na, const struct page_interval *b, size_t nb,
			      struct page_interval **out)
{
	size_t n = 0, j = 0;
	*out = xmalloc((na + nb + 1) * sizeof(**out)); /* each interval of b splits one of a at most once */
	for (size_t i = 0; i < na; i++) {
		uint64_t s = a[i].start, e = a[i].end;
		while (j < nb && b[j].end <= s)
			j++;
		for (size_t k = j; k < nb && b[k].start < e && s < e; k++) {
			if (b[k].start > s)
				(*out)[n++] = (struct page_interval){s, b[k].start};
			if (b[k].end > s)
				s = b[k].end;
		}
		if (s < e)
			(*out)[n++] = (struct page_interval){s, e};
	}
	return n;
}

/* a ∪ b, of sorted disjoint intervals each, merged */
static size_t intervals_union(const struct page_interval *a, size_t na, const struct page_interval *b, size_t nb,
			      struct page_interval **out)
{
	size_t n = 0, i = 0, j = 0;
	*out = xmalloc((na + nb + 1) * sizeof(**out));
	while (i < na || j < nb) {
		struct page_interval x = j == nb || (i < na && a[i].start <= b[j].start) ? a[i++] : b[j++];
		if (n && (*out)[n - 1].end >= x.start) {
			if (x.end > (*out)[n - 1].end)
				(*out)[n - 1].end = x.end;
		} else {
			(*out)[n++] = x;
		}
	}
	return n;
}

/* The pages of a watched area at the freeze (present, or swapped out), and of those the ones to
 * read now: written since they were staged, or never staged. The protection leaves a marker in
 * every page never touched, which the pagemap calls swapped: a swapped page counts only when it
 * was written (the swap entry lost its bit) or staged (it was a page then). */
static int settle_watched(const struct proc_state *p, int pm, const struct vma_state *v, struct page_interval **now_out, size_t *nnow,
			  struct page_interval **fresh, size_t *nfresh)
{
	/* one walk of the page tables (~1 ms per GiB), sorted out here; not asking PAGE_IS_FILE, which
	 * costs a look at every page's struct page (13-16 ms per GiB): a watched area is anonymous */
	struct page_region *reg;
	size_t nreg = pagemap_regions(pm, v->f.start, v->f.end, PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
				      PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_WRITTEN | PAGE_IS_PFNZERO, &reg);
	if (nreg == SIZE_MAX)
		return fail_errno(EXIT_FAIL, "PAGEMAP_SCAN of process %u at 0x%llx", p->pf.pid, (unsigned long long)v->f.start);
	struct page_interval *present = xmalloc((nreg + 1) * sizeof(*present)), *swapped = xmalloc((nreg + 1) * sizeof(*swapped)),
			     *written = xmalloc((nreg + 1) * sizeof(*written)), *staged = NULL, *t1 = NULL, *t2 = NULL, *t3 = NULL;
	size_t np = 0, nsw = 0, nw = 0;
	for (size_t i = 0; i < nreg; i++) {
		struct page_interval iv = {reg[i].start, reg[i].end};
		uint64_t c = reg[i].categories;
		if ((c & PAGE_IS_PRESENT) && !(c & PAGE_IS_PFNZERO))
			present[np++] = iv;
		if (c & PAGE_IS_SWAPPED)
			swapped[nsw++] = iv;
		if ((c & PAGE_IS_WRITTEN) && !(c & PAGE_IS_PFNZERO))
			written[nw++] = iv;
	}
	free(reg);
	size_t ns = precopy_staged_in(p->pre, v->f.start, v->f.end, &staged);
	/* swapped pages that count: swapped ∩ (written ∪ staged) = swapped \ (swapped \ (written ∪ staged)) */
	size_t n1 = intervals_union(written, nw, staged, ns, &t1);
	size_t n2 = intervals_minus(swapped, nsw, t1, n1, &t2);
	size_t n3 = intervals_minus(swapped, nsw, t2, n2, &t3);
	*nnow = intervals_union(present, np, t3, n3, now_out);
	free(t1), free(t2), free(t3);
	/* fresh = now \ (staged \ written) */
	size_t nc = intervals_minus(staged, ns, written, nw, &t1);
	*nfresh = intervals_minus(*now_out, *nnow, t1, nc, fresh);
	free(t1), free(present), free(swapped), free(written), free(staged);
	return 0;
}

/* Above this many bytes of pages written since the precopy, a fork (~20 ms per GiB here) costs
 * less freeze than copying them (~5 GB/s). */
static uint64_t fork_above(uint64_t present)
{
	return present / 16 > (8u << 20) ? present / 16 : (8u << 20);
}

int pages_settle_precopy(pid_t pid, struct proc_state *p, int *need_fork)
{
	uint32_t ps = (uint32_t)sysconf(_SC_PAGESIZE);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	int pm = open(path, O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		return fail_errno(EXIT_PERM, "cannot open %s", path);
	uint64_t present = 0, fresh = 0;
	int rc = -1;
	precopy_same_program(p->pre, pid);
	for (size_t i = 0; i < p->nvmas; i++) {
		struct vma_state *v = &p->vmas[i];
		if (!vma_pages_wanted(v))
			continue;
		struct run_list l = {0};
		if (!fork_blind(v) && v->uffd_wp && precopy_watches(p->pre, v->f.start, v->f.end)) {
			struct page_interval *now = NULL;
			size_t nnow = 0;
			if (settle_watched(p, pm, v, &now, &nnow, &v->fresh, &v->nfresh) < 0)
				goto out;
			l.first_of_vma = l.n;
			for (size_t r = 0; r < nnow; r++)
				add_run(&l, now[r].start, now[r].end, ps, 0);
			free(now);
		} else {
			if (scan_vma(pm, v, &l, ps) < 0)
				goto out;
			v->fresh = xmalloc((l.n + 1) * sizeof(*v->fresh));
			for (size_t r = 0; r < l.n; r++)
				v->fresh[r] = (struct page_interval){l.v[r].vaddr, l.v[r].vaddr + (uint64_t)l.v[r].npages * ps};
			v->nfresh = l.n;
		}
		v->frozen_runs = l.v, v->nfrozen_runs = l.n, v->runs_at_freeze = 1;
		present += l.pages * ps;
		for (size_t r = 0; r < v->nfresh; r++)
			fresh += v->fresh[r].end - v->fresh[r].start;
	}
	*need_fork = fresh > fork_above(present);
	if (g_verbose)
		fprintf(stderr, "ckpt: precopy: %.1f of %.1f MiB written since or not staged: %s\n", fresh / 1048576.0,
			present / 1048576.0, *need_fork ? "too many to copy while frozen, a fork snapshot holds them" : "copied while frozen");
	for (size_t i = 0; i < p->nvmas; i++) {
		struct vma_state *v = &p->vmas[i];
		if (*need_fork && !fork_blind(v))
			continue;
		for (size_t r = 0; r < v->nfresh; r++)
			if (copy_while_frozen(pid, v, v->fresh[r].start, v->fresh[r].end - v->fresh[r].start) < 0)
				goto out;
	}
	/* the frames the inject phase put below the threads' stack pointers: their own bytes in the
	 * copies, as snapshot.c puts them back in a snapshot */
	for (size_t i = 0; i < p->nvmas; i++) {
		struct vma_state *v = &p->vmas[i];
		for (size_t k = 0; k < p->nthreads && v->frozen; k++) {
			const struct tracee *t = &p->threads[k].tr;
			uint64_t s = t->frame > v->f.start ? t->frame : v->f.start;
			uint64_t e = t->frame + t->covered_len < v->f.end ? t->frame + t->covered_len : v->f.end;
			if (t->covered && s < e)
				memcpy(v->frozen + (s - v->f.start), t->covered + (s - t->frame), e - s);
		}
	}
	p->pre_fresh = fresh;
	p->pre_settled = !*need_fork;
	rc = 0;
out:
	close(pm);
	return rc;
}

/* All chunks: pagemap reserved, pad, pages streamed from the tracee, then the pagemap. */
int pages_dump(pid_t pid, struct proc_state *p, struct image_writer *w, uint32_t mm_tag)
{
	uint32_t ps = w->page_size;
	pid_t src = p->snap ? p->snap : pid; /* the snapshot, when there is one */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/pagemap", src);
	int pm = open(path, O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		return fail_errno(EXIT_PERM, "cannot open %s", path);
	struct run_list l = {0};
	int rc = -1;
	for (size_t i = 0; i < p->nvmas; i++) {
		const struct vma_state *v = &p->vmas[i];
		if (!vma_pages_wanted(v))
			continue;
		if (v->runs_at_freeze || (p->snap && fork_blind(v))) {
			l.first_of_vma = l.n;
			for (size_t r = 0; r < v->nfrozen_runs; r++)
				add_run(&l, v->frozen_runs[r].vaddr, v->frozen_runs[r].vaddr + (uint64_t)v->frozen_runs[r].npages * ps, ps,
					v->frozen_runs[r].flags);
		} else if (scan_vma(pm, v, &l, ps) < 0) {
			goto out_close;
		}
	}
	close(pm);
	pm = -1;

	uint64_t total = l.pages * ps, done = 0, last_report = 0;
	progress_step("pages", "%llu pages (%llu KiB) in %zu runs", (unsigned long long)l.pages,
		      (unsigned long long)(total >> 10), l.n);
	progress_bytes("pages", 0, total);
	uint64_t t_read = 0, t_wait = 0;
	/* compressed (--compress): threads from 1 MiB on, where two compressors pay for themselves */
	struct pageflow *flow = pageflow_start(w->fd, ps, w->z ? total > (1u << 20) : total > PAGEFLOW_BLOCK, w->z);
	if (!flow)
		goto out_close;
	struct buf pmb = {0};
	for (size_t first = 0; first < l.n;) {
		/* one chunk: as many runs as fit in CHUNK_MAX_PAGES */
		size_t last = first;
		uint64_t npages = 0;
		while (last < l.n && npages + l.v[last].npages <= CHUNK_MAX_PAGES)
			npages += l.v[last++].npages;
		uint32_t nruns = (uint32_t)(last - first);
		uint64_t pmlen = sizeof(struct ckpt_pagemap_fixed) + (uint64_t)nruns * sizeof(struct ckpt_page_run) + npages * 8;
		pmb.len = 0;
		struct ckpt_pagemap_fixed pf = {.nruns = nruns, .npages = (uint32_t)npages};
		buf_put(&pmb, &pf, sizeof(pf));
		buf_put(&pmb, &l.v[first], nruns * sizeof(struct ckpt_page_run));
		uint64_t *hashes = buf_put(&pmb, NULL, npages * 8);
		if (iw_pages_begin(w, mm_tag, (uint32_t)pmlen, npages * ps) < 0)
			goto out_free;
		/* blocks of up to PAGEFLOW_BLOCK bytes, gathered across runs: one read call and one
		 * write per block however small the runs are */
		size_t r = first;
		uint64_t addr = l.v[r].vaddr, left = (uint64_t)l.v[r].npages * ps, h = 0;
		while (r < last) {
			if (cancelled())
				goto out_free;
			uint64_t tw0 = now_ns(CLOCK_MONOTONIC);
			uint8_t *block = pageflow_buffer(flow);
			uint64_t tw1 = now_ns(CLOCK_MONOTONIC);
			t_wait += tw1 - tw0;
			if (!block)
				goto out_free;
			size_t n = 0;
			while (r < last && n < PAGEFLOW_BLOCK) {
				/* IO_BLOCK at a time: progress as often as before the blocks grew */
				size_t k = left < PAGEFLOW_BLOCK - n ? (size_t)left : PAGEFLOW_BLOCK - n;
				if (k > IO_BLOCK)
					k = IO_BLOCK;
				int from = read_run(p, src, addr, block + n, k);
				if (from < 0) {
					if (src != pid && (kill(src, 0) < 0 || process_gone(src)))
						fail(EXIT_FAIL, "the snapshot of process %d was killed before its pages were read", pid);
					else if (kill(pid, 0) < 0 || process_gone(pid))
						fail(EXIT_NOPROC, "process %d exited during the checkpoint", pid);
					else
						fail_errno(EXIT_FAIL, "cannot read the memory of process %d at 0x%llx", pid, (unsigned long long)addr);
					goto out_free;
				}
				if (from == 1 && snapshot_read(p, addr, k) < 0)
					goto out_free;
				n += k, addr += k, left -= k;
				if (!left && ++r < last)
					addr = l.v[r].vaddr, left = (uint64_t)l.v[r].npages * ps;
				done += k;
				if (done - last_report >= IO_BLOCK || done == total) {
					progress_bytes("pages", done, total);
					last_report = done;
				}
			}
			t_read += now_ns(CLOCK_MONOTONIC) - tw1;
			/* (compressed: no offset; pageflow's writer appends the block's frames in chunk order) */
			uint64_t at = iw_pages_reserve(w, n);
			if (at == UINT64_MAX)
				goto out_free;
			pageflow_submit(flow, n, at, hashes + h);
			h += n / ps;
		}
		/* the hashes are all in only once every block is written */
		if (pageflow_wait(flow) < 0 || !iw_pages_end(w, pmb.p, (uint32_t)pmb.len))
			goto out_free;
		first = last;
	}
	if (total == 0)
		progress_bytes("pages", 0, 0);
	if (g_verbose) /* where the time went: copying, or waiting for the hash and the disk */
		fprintf(stderr, "ckpt: pages: %.1f ms copying them, %.1f ms waiting for the hasher and writer threads\n", t_read / 1e6,
			t_wait / 1e6);
	rc = 0;
out_free:
	pageflow_stop(flow);
	buf_free(&pmb);
out_close:
	if (pm >= 0)
		close(pm);
	free(l.v);
	return rc;
}

int pagemap_read(const struct image *im, const struct image_record *r, const struct image_record *pages, struct page_chunk *c)
{
	struct rcur cur;
	rc_init(&cur, im, r);
	struct ckpt_pagemap_fixed pf;
	if (rc_get(&cur, &pf, sizeof(pf), "pagemap fixed fields") < 0)
		return -1;
	const uint8_t *runs = rc_ptr(&cur, (uint64_t)pf.nruns * sizeof(struct ckpt_page_run), "runs");
	const uint8_t *hashes = runs ? rc_ptr(&cur, (uint64_t)pf.npages * 8, "page_hashes") : NULL;
	if (!hashes)
		return -1;
	c->nruns = pf.nruns;
	c->npages = pf.npages;
	c->runs = xmalloc((size_t)pf.nruns * sizeof(struct ckpt_page_run));
	memcpy(c->runs, runs, (size_t)pf.nruns * sizeof(struct ckpt_page_run));
	c->hashes = xmalloc((size_t)pf.npages * 8);
	memcpy(c->hashes, hashes, (size_t)pf.npages * 8);
	uint64_t sum = 0;
	for (uint32_t i = 0; i < c->nruns; i++) {
		if (c->runs[i].vaddr % im->page_size)
			return image_rule(im, r, payload_at(r) + 8 + (uint64_t)i * 16, CKPT_RULE_PAGEMAP_RUNS, "run %u starts at an unaligned address", i);
		sum += c->runs[i].npages;
	}
	if (sum != pf.npages)
		return image_rule(im, r, payload_at(r), CKPT_RULE_PAGEMAP_RUNS, "runs hold %llu pages, npages says %u", (unsigned long long)sum,
				  pf.npages);
	c->data_off = payload_at(pages); /* every pagemap has its pages record: the grammar says so */
	return 0;
}

/* ---- restore ---- */

#define TASK_SIZE_47 0x7ffffffff000ULL

static int is_special(uint16_t kind)
{
	return kind == CKPT_VMA_KIND_VDSO || kind == CKPT_VMA_KIND_VVAR || kind == CKPT_VMA_KIND_VVAR_VCLOCK;
}

static int overlaps(const struct range *r, size_t n, uint64_t s, uint64_t e)
{
	for (size_t i = 0; i < n; i++)
		if (s < r[i].end && r[i].start < e)
			return 1;
	return 0;
}

static int overlaps_image(const struct proc_state *p, uint64_t s, uint64_t e)
{
	for (size_t i = 0; i < p->nvmas; i++)
		if (s < p->vmas[i].f.end + (1ULL << 20) && p->vmas[i].f.start < e + (1ULL << 20))
			return 1; /* keep a MiB away: grows-down stacks and brk need room */
	return 0;
}

/* An address range of `len` bytes free in the image processes `procs` and in the given mappings. */
static uint64_t pick_free_area(struct proc_state *const *procs, size_t nprocs, const struct range *maps, size_t nmaps, uint64_t len)
{
	for (uint64_t at = 0x7f0000000000ULL; at > 0x10000000ULL; at -= 0x1000000000ULL) {
		for (uint64_t a = at; a < at + 0x1000000000ULL; a += 0x40000000ULL) {
			int busy = overlaps(maps, nmaps, a, a + len);
			for (size_t k = 0; k < nprocs && !busy; k++)
				busy = overlaps_image(procs[k], a, a + len);
			if (!busy)
				return a;
		}
	}
	return 0;
}

uint64_t pick_trampoline(const struct tree *t, uint64_t len)
{
	struct range *maps;
	size_t n = read_maps(getpid(), &maps);
	uint64_t a = pick_free_area(t->procs, t->nprocs, maps, n, len);
	free(maps);
	return a;
}

/* Empties the new process's address space but for the trampoline and the vdso, and moves the
 * vdso/vvar areas to where the image had them, keeping their relative layout. */
static int reset_address_space(struct restore_ctx *rc)
{
	struct range *maps;
	size_t n = read_maps(rc->pid, &maps);
	struct range keep[8];
	size_t nkeep = 0;
	struct range specials[4];
	size_t nspec = 0;
	keep[nkeep++] = (struct range){.start = rc->tramp, .end = rc->tramp + rc->tramp_len};
	for (size_t i = 0; i < n; i++) {
		uint16_t k = special_kind(maps[i].name);
		if (is_special(k) && nspec < 4 && nkeep < 8) {
			specials[nspec++] = maps[i];
			keep[nkeep++] = maps[i];
		}
	}
	/* keep[] sorted by address for the gaps between them */
	for (size_t i = 0; i < nkeep; i++)
		for (size_t j = i + 1; j < nkeep; j++)
			if (keep[j].start < keep[i].start) {
				struct range t = keep[i];
				keep[i] = keep[j];
				keep[j] = t;
			}
	uint64_t from = 0;
	for (size_t i = 0; i <= nkeep; i++) {
		uint64_t to = i < nkeep ? keep[i].start : TASK_SIZE_47;
		if (to > from && inject_checked(rc->main, NULL, "restore: munmap", SYS_munmap, from, to - from, 0, 0, 0, 0) < 0)
			goto fail;
		if (i < nkeep)
			from = keep[i].end;
	}

	/* the image's specials, in address order (vmas are sorted) */
	const struct vma_state *img[4];
	size_t nimg = 0;
	for (size_t i = 0; i < rc->p->nvmas; i++)
		if (is_special(rc->p->vmas[i].f.kind) && nimg < 4)
			img[nimg++] = &rc->p->vmas[i];
	if (nimg != nspec) {
		fail(EXIT_UNSUPPORTED, "restore: the image has %zu vdso/vvar areas, this kernel %zu", nimg, nspec);
		goto fail;
	}
	if (!nimg)
		goto done;
	int64_t delta = (int64_t)(img[0]->f.start - specials[0].start);
	for (size_t i = 0; i < nimg; i++) {
		if (special_kind(specials[i].name) != img[i]->f.kind || img[i]->f.end - img[i]->f.start != specials[i].end - specials[i].start ||
		    (int64_t)(img[i]->f.start - specials[i].start) != delta) {
			fail(EXIT_UNSUPPORTED, "restore: the vdso layout of this kernel differs from the image's (%s)", specials[i].name);
			goto fail;
		}
	}
	if (delta) {
		uint64_t span = specials[nspec - 1].end - specials[0].start;
		struct range busy[6];
		size_t nb = 0;
		busy[nb++] = (struct range){.start = rc->tramp, .end = rc->tramp + rc->tramp_len};
		busy[nb++] = (struct range){.start = specials[0].start, .end = specials[nspec - 1].end};
		uint64_t tmp = pick_free_area(&rc->p, 1, busy, nb, span);
		if (!tmp) {
			fail(EXIT_FAIL, "restore: no room to move the vdso");
			goto fail;
		}
		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < nspec; i++) {
				uint64_t len = specials[i].end - specials[i].start;
				uint64_t src = pass == 0 ? specials[i].start : tmp + (specials[i].start - specials[0].start);
				uint64_t dst = pass == 0 ? tmp + (specials[i].start - specials[0].start) : img[i]->f.start;
				if (inject_checked(rc->main, NULL, "restore: moving the vdso (mremap)", SYS_mremap, src, len, len,
						   MREMAP_MAYMOVE | MREMAP_FIXED, dst, 0) < 0)
					goto fail;
			}
	}
done:
	free(maps);
	return 0;
fail:
	free(maps);
	return -1;
}

static int map_vma(struct restore_ctx *rc, struct vma_state *v)
{
	uint64_t len = v->f.end - v->f.start;
	int prot = ((v->f.prot & CKPT_VMA_PROT_READ) ? PROT_READ : 0) | ((v->f.prot & CKPT_VMA_PROT_WRITE) ? PROT_WRITE : 0) |
		   ((v->f.prot & CKPT_VMA_PROT_EXEC) ? PROT_EXEC : 0);
	if (vma_pages_wanted(v))
		prot |= PROT_READ | PROT_WRITE;
	int shared = (v->f.flags & CKPT_VMA_FLAGS_SHARED) != 0;
	int flags = MAP_FIXED | (shared ? MAP_SHARED : MAP_PRIVATE);
	int fd = -1;
	uint64_t off = 0;
	if (v->restore_fd >= 0) {
		fd = v->restore_fd;
		off = v->f.offset;
	} else {
		flags |= MAP_ANONYMOUS;
	}
	if (v->f.flags & CKPT_VMA_FLAGS_GROWS_DOWN)
		flags |= MAP_GROWSDOWN;
	long r;
	char what[160];
	snprintf(what, sizeof(what), "restore: mmap %llx-%llx %s", (unsigned long long)v->f.start, (unsigned long long)v->f.end, v->path);
	if (inject_checked(rc->main, &r, what, SYS_mmap, v->f.start, len, (uint64_t)prot, (uint64_t)flags, (uint64_t)fd, off) < 0)
		return -1;
	if ((uint64_t)r != v->f.start)
		return fail(EXIT_FAIL, "%s landed at 0x%lx", what, r);
	return 0;
}

/* Pages go straight from the image into place: the new process reads them (an injected preadv
 * into its own mappings), in pieces of at most LOAD_PIECE bytes, while a second thread reads
 * back and checks the pieces already loaded (pagecheck.c). */
#define LOAD_PIECE (32u << 20)

static int fill_pages(struct restore_ctx *rc)
{
	uint32_t ps = rc->im->page_size;
	uint64_t total = 0, done = 0, last = 0;
	for (size_t c = 0; c < rc->p->nchunks; c++)
		if (!rc->p->chunks[c].zstd)
			total += (uint64_t)rc->p->chunks[c].npages * ps;
	progress_step("restore-pages", "loading %llu KiB of pages", (unsigned long long)(total >> 10));
	/* an eighth of the pages a piece, 4 to 32 MiB: the check of the last piece is all that does not overlap */
	uint64_t piece = total / 8 / ps * ps;
	piece = piece < (4u << 20) ? (4u << 20) : piece > LOAD_PIECE ? LOAD_PIECE : piece;
	int overlap = total > piece;
	struct pagecheck *check = total ? pagecheck_start(rc->pid, ps, overlap ? &rc->cpus : NULL) : NULL;
	if (total && !check)
		return -1;
	/* The new process is pinned to ckpt's CPU, where an injected syscall costs least; while it
	 * reads many pieces it may run on any: pinned, it waited for that one CPU (and the check
	 * thread) when the machine was busy, 1.8-2.3 times the fresh read at 256 MiB. */
	cpu_set_t pinned;
	int unpinned = overlap && sched_getaffinity(rc->pid, sizeof(pinned), &pinned) == 0 &&
		       sched_setaffinity(rc->pid, sizeof(rc->cpus), &rc->cpus) == 0;
	struct iovec iov[RESTORE_IOV_MAX];
	int rc_ = -1;
	for (size_t c = 0; c < rc->p->nchunks; c++) {
		const struct page_chunk *ch = &rc->p->chunks[c];
		if (ch->zstd)
			continue; /* zpages_fill */
		uint64_t off = ch->data_off, page = 0;
		uint32_t i = 0;
		uint64_t at = 0; /* bytes of run i already loaded */
		while (i < ch->nruns) {
			/* one preadv: up to RESTORE_IOV_MAX runs, or parts of runs, of `piece` bytes in all */
			uint32_t k = 0;
			uint64_t len = 0;
			while (i < ch->nruns && k < RESTORE_IOV_MAX && len < piece) {
				uint64_t run = (uint64_t)ch->runs[i].npages * ps, n = run - at;
				if (n > piece - len)
					n = piece - len;
				iov[k].iov_base = (void *)(ch->runs[i].vaddr + at);
				iov[k].iov_len = (size_t)n;
				len += n, k++, at += n;
				if (at == run)
					i++, at = 0;
			}
			if (mem_write(rc->pid, rc->scratch_iov, iov, k * sizeof(iov[0])) < 0) {
				fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
				goto out;
			}
			long r;
			if (inject_checked(rc->main, &r, "restore: reading pages from the image (preadv)", SYS_preadv,
					   (uint64_t)rc->image_fd, rc->scratch_iov, k, off, 0, 0) < 0)
				goto out;
			if ((uint64_t)r != len) {
				fail(EXIT_BADIMAGE, "bad image %s: short read of %llu page bytes at byte %llu", rc->im->path,
				     (unsigned long long)len, (unsigned long long)off);
				goto out;
			}
			for (uint32_t j = 0; j < k; j++) {
				pagecheck_submit(check, c, page, (uint64_t)(uintptr_t)iov[j].iov_base, iov[j].iov_len, ch->hashes + page,
						 off);
				page += iov[j].iov_len / ps;
				off += iov[j].iov_len;
			}
			done += len;
			if (done - last >= IO_BLOCK || done == total) {
				progress_bytes("restore-pages", done, total);
				last = done;
			}
		}
	}
	rc_ = check ? pagecheck_finish(check, rc->im) : 0;
out:
	if (unpinned)
		sched_setaffinity(rc->pid, sizeof(pinned), &pinned);
	pagecheck_stop(check);
	return rc_;
}

/* Every page of a process's page chunks against its hash (rule page_hash), read from the new
 * process (pid > 0: this also checks that they landed where they belong) or from the image file. */
static int check_page_hashes(const struct image *im, const struct proc_state *p, pid_t pid)
{
	uint32_t ps = im->page_size;
	uint8_t *block = xmalloc(IO_BLOCK);
	int rc = -1;
	for (size_t c = 0; c < p->nchunks; c++) {
		const struct page_chunk *ch = &p->chunks[c];
		/* in the file, compressed chunks are zpages_check_in_file's; in the new process, plain
		 * chunks were checked by fill_pages as they loaded, compressed ones are checked here */
		if (pid > 0 ? !ch->zstd : ch->zstd)
			continue;
		uint64_t h = 0;
		for (uint32_t i = 0; i < ch->nruns; i++) {
			uint64_t addr = ch->runs[i].vaddr, left = (uint64_t)ch->runs[i].npages * ps;
			while (left) {
				size_t n = left > IO_BLOCK ? IO_BLOCK : (size_t)left;
				if (pid > 0 ? mem_read(pid, addr, block, n) < 0 : pread_all(im->fd, block, n, ch->data_off + h * ps) < 0) {
					fail_errno(pid > 0 ? EXIT_FAIL : EXIT_IO, "restore: cannot read %s the pages at 0x%llx",
						   pid > 0 ? "back" : "from the image", (unsigned long long)addr);
					goto out;
				}
				for (size_t o = 0; o < n; o += ps, h++) {
					uint64_t got = xxh64(block + o, ps, 0);
					if (got != ch->hashes[h]) {
						fail(EXIT_BADIMAGE,
						     "bad image %s: page %llu of pagemap #%zu (address 0x%llx, byte %llu of the file) does not match its hash (rule page_hash)",
						     im->path, (unsigned long long)h, c, (unsigned long long)(addr + o),
						     (unsigned long long)(ch->data_off + h * ps));
						goto out;
					}
				}
				addr += n;
				left -= n;
			}
		}
	}
	rc = 0;
out:
	free(block);
	return rc;
}

int pages_check_in_file(const struct image *im, const struct proc_state *p)
{
	return check_page_hashes(im, p, 0) < 0 ? -1 : zpages_check_in_file(im, p);
}

static int finish_vma(struct restore_ctx *rc, const struct vma_state *v)
{
	uint64_t len = v->f.end - v->f.start;
	int prot = ((v->f.prot & CKPT_VMA_PROT_READ) ? PROT_READ : 0) | ((v->f.prot & CKPT_VMA_PROT_WRITE) ? PROT_WRITE : 0) |
		   ((v->f.prot & CKPT_VMA_PROT_EXEC) ? PROT_EXEC : 0);
	if (vma_pages_wanted(v) && prot != (PROT_READ | PROT_WRITE) &&
	    inject_checked(rc->main, NULL, "restore: mprotect", SYS_mprotect, v->f.start, len, (uint64_t)prot, 0, 0, 0) < 0)
		return -1;
	static const struct {
		uint32_t flag;
		int advice;
	} adv[] = {
		{CKPT_VMA_FLAGS_DONT_DUMP, MADV_DONTDUMP},
		{CKPT_VMA_FLAGS_DONT_FORK, MADV_DONTFORK},
		{CKPT_VMA_FLAGS_WIPE_ON_FORK, MADV_WIPEONFORK},
	};
	for (size_t i = 0; i < sizeof(adv) / sizeof(adv[0]); i++)
		if ((v->f.flags & adv[i].flag) &&
		    inject_checked(rc->main, NULL, "restore: madvise", SYS_madvise, v->f.start, len, (uint64_t)adv[i].advice, 0, 0, 0) < 0)
			return -1;
	/* what the kernel may refuse here (no THP, RLIMIT_MEMLOCK) is said, not fatal */
	long r = 0;
	if ((v->f.flags & (CKPT_VMA_FLAGS_HUGE_PAGE | CKPT_VMA_FLAGS_NO_HUGE_PAGE)) &&
	    inject_syscall(rc->main, &r, SYS_madvise, v->f.start, len,
			   (v->f.flags & CKPT_VMA_FLAGS_HUGE_PAGE) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE, 0, 0, 0) < 0)
		return -1;
	if (r < 0)
		warn("area %#llx-%#llx: its transparent huge page advice cannot be given again (%s)", (unsigned long long)v->f.start,
		     (unsigned long long)v->f.end, strerror((int)-r));
	r = 0;
	if ((v->f.flags & CKPT_VMA_FLAGS_LOCKED) &&
	    inject_syscall(rc->main, &r, SYS_mlock2, v->f.start, len, (v->f.flags & CKPT_VMA_FLAGS_LOCK_ON_FAULT) ? 1 /* MLOCK_ONFAULT */ : 0,
			   0, 0, 0) < 0)
		return -1;
	if (r < 0)
		warn("area %#llx-%#llx: it cannot be locked in memory again (%s)", (unsigned long long)v->f.start, (unsigned long long)v->f.end,
		     strerror((int)-r));
	return 0;
}

int memory_restore(struct restore_ctx *rc)
{
	progress_step("restore-vmas", "%zu areas", rc->p->nvmas);
	if (reset_address_space(rc) < 0)
		return -1;
	for (size_t i = 0; i < rc->p->nvmas; i++) {
		struct vma_state *v = &rc->p->vmas[i];
		if (!vma_restorable(v))
			continue;
		if (map_vma(rc, v) < 0)
			return -1;
	}
	if (rc->lazy ? pages_map_lazy(rc) < 0 : fill_pages(rc) < 0 || zpages_fill(rc) < 0 || check_page_hashes(rc->im, rc->p, rc->pid) < 0)
		return -1;
	for (size_t i = 0; i < rc->p->nvmas; i++) {
		const struct vma_state *v = &rc->p->vmas[i];
		if (!vma_restorable(v))
			continue;
		if (finish_vma(rc, v) < 0)
			return -1;
	}
	return 0;
}

int vma_uses_file(const struct vma_state *v)
{
	return (v->f.kind == CKPT_VMA_KIND_FILE_PRIVATE || v->f.kind == CKPT_VMA_KIND_FILE_SHARED) &&
	       !(v->f.flags & CKPT_VMA_FLAGS_FILE_DELETED);
}

int vma_frame_ok(const struct proc_state *p, uint64_t lo, uint64_t hi)
{
	for (size_t i = 0; i < p->nvmas; i++) {
		const struct vma_state *v = &p->vmas[i];
		if (lo < v->f.start || lo >= v->f.end)
			continue;
		uint16_t k = v->f.kind;
		return hi <= v->f.end && hi > lo && !(v->f.flags & CKPT_VMA_FLAGS_SHARED) &&
		       (v->f.prot & (CKPT_VMA_PROT_READ | CKPT_VMA_PROT_WRITE)) == (CKPT_VMA_PROT_READ | CKPT_VMA_PROT_WRITE) &&
		       (k == CKPT_VMA_KIND_ANON_PRIVATE || k == CKPT_VMA_KIND_STACK || k == CKPT_VMA_KIND_HEAP);
	}
	return 0;
}

/* Areas mapped by restore itself (the vdso areas are moved, not mapped; the vsyscall page is
 * the kernel's; unsupported areas are left out with a warning). */
int vma_restorable(const struct vma_state *v)
{
	return !is_special(v->f.kind) && v->f.kind != CKPT_VMA_KIND_VSYSCALL && v->f.kind != CKPT_VMA_KIND_DEVICE &&
	       v->f.kind != CKPT_VMA_KIND_UNKNOWN;
}

/* A shared area of a file is mapped from the file opened for writing when it is writable, or was
 * mapped from a file opened for writing (an mprotect may make it writable again). */
static int open_writable(const struct vma_state *v)
{
	return (v->f.flags & CKPT_VMA_FLAGS_SHARED) && ((v->f.prot & CKPT_VMA_PROT_WRITE) || (v->f.flags & CKPT_VMA_FLAGS_MAY_WRITE));
}

/* The fd each file-backed area is mapped from in the new process: one per file and access,
 * numbered from first_fd. Computed alike by the restore child (which opens them) and the tracer. */
int vma_assign_fds(struct proc_state *p, int first_fd)
{
	int next = first_fd;
	for (size_t i = 0; i < p->nvmas; i++) {
		struct vma_state *v = &p->vmas[i];
		v->restore_fd = -1;
		v->shm = -1;
		if (!vma_restorable(v) || !vma_uses_file(v))
			continue;
		for (size_t j = 0; j < i; j++)
			if (p->vmas[j].restore_fd >= 0 && !strcmp(p->vmas[j].path, v->path) &&
			    ((p->vmas[j].f.flags ^ v->f.flags) & CKPT_VMA_FLAGS_SHARED) == 0 &&
			    open_writable(&p->vmas[j]) == open_writable(v)) {
				v->restore_fd = p->vmas[j].restore_fd;
				break;
			}
		if (v->restore_fd < 0)
			v->restore_fd = next++;
	}
	return next;
}

/* Opens the files of file-backed areas at their assigned fds, checking that each is still the
 * file the image saw. Runs in the restore child. */
int vma_files_open_in_child(const struct proc_state *p)
{
	for (size_t i = 0; i < p->nvmas; i++) {
		const struct vma_state *v = &p->vmas[i];
		if (v->restore_fd < 0 || v->shm >= 0 || v->ghost_file || fcntl(v->restore_fd, F_GETFD) >= 0)
			continue; /* none, shared memory (shm_take), a file without a path (ghost_maps_take), or opened already */
		int fd = open(v->path, open_writable(v) ? O_RDWR : O_RDONLY);
		if (fd < 0)
			return fail_errno(denied_or(EXIT_FAIL), "cannot open %s to map it", v->path);
		struct stat st;
		int same = fstat(fd, &st) == 0 && st.st_ino == v->f.inode && major(st.st_dev) == v->f.dev_major &&
			   minor(st.st_dev) == v->f.dev_minor;
		/* a private mapping relies on the file's bytes for every page the image left out */
		int unchanged = (v->f.flags & CKPT_VMA_FLAGS_SHARED) ||
				((uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec == v->f.file_mtime_ns &&
				 (uint64_t)st.st_size == v->f.file_size);
		if (!same || !unchanged) {
			close(fd);
			return fail(EXIT_UNSUPPORTED, "%s is not the file the image mapped (%s since the checkpoint)", v->path,
				    same ? "it changed" : "it was replaced");
		}
		if (fd != v->restore_fd) {
			if (dup2(fd, v->restore_fd) < 0)
				return fail_errno(EXIT_FAIL, "dup2");
			close(fd);
		}
	}
	return 0;
}

/* ---- shared memory between the processes of a tree ---- */

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1U
#endif

/* Memory a process shares with another: MAP_SHARED anonymous memory, or a shared mapping of a
 * file that is gone (whose pages the image holds). */
static int shareable(const struct vma_state *v)
{
	return vma_restorable(v) && (v->f.flags & CKPT_VMA_FLAGS_SHARED) &&
	       (v->f.kind == CKPT_VMA_KIND_ANON_SHARED || (v->f.kind == CKPT_VMA_KIND_FILE_SHARED && (v->f.flags & CKPT_VMA_FLAGS_FILE_DELETED)));
}

int shm_plan(struct tree *t, int next_fd)
{
	for (size_t k = 0; k < t->nprocs; k++)
		for (size_t i = 0; i < t->procs[k]->nvmas; i++) {
			struct vma_state *v = &t->procs[k]->vmas[i];
			uint64_t dev = makedev(v->f.dev_major, v->f.dev_minor);
			if (!shareable(v))
				continue;
			/* more than one process maps it? */
			int others = 0;
			for (size_t j = 0; j < t->nprocs && !others; j++)
				for (size_t w = 0; j != k && w < t->procs[j]->nvmas && !others; w++) {
					const struct vma_state *o = &t->procs[j]->vmas[w];
					others = shareable(o) && o->f.inode == v->f.inode && o->f.dev_major == v->f.dev_major &&
						 o->f.dev_minor == v->f.dev_minor;
				}
			if (!others)
				continue;
			size_t s = 0;
			while (s < t->nshms && !(t->shms[s].dev == dev && t->shms[s].ino == v->f.inode))
				s++;
			if (s == t->nshms) {
				t->shms = xrealloc(t->shms, (t->nshms + 1) * sizeof(*t->shms));
				/* two fds each, in this order (initializers are not sequenced) */
				int slot = next_fd++, map_fd = next_fd++;
				t->shms[t->nshms++] = (struct shm_object){.dev = dev, .ino = v->f.inode, .owner = (int)k, .slot = slot, .map_fd = map_fd};
			}
			struct shm_object *o = &t->shms[s];
			uint64_t end = v->f.offset + (v->f.end - v->f.start);
			o->size = end > o->size ? end : o->size;
			v->shm = (int)s;
			v->restore_fd = o->map_fd;
		}
	return next_fd;
}

int shm_make(const struct tree *t, int me)
{
	for (size_t s = 0; s < t->nshms; s++) {
		const struct shm_object *o = &t->shms[s];
		if (o->owner != me)
			continue;
		int fd = (int)syscall(SYS_memfd_create, "ckpt-shared", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)o->size) < 0)
			return fail_errno(EXIT_FAIL, "cannot make %llu bytes of shared memory again (memfd)", (unsigned long long)o->size);
		if (dup2(fd, o->slot) < 0)
			return fail_errno(EXIT_FAIL, "dup2");
		close(fd);
	}
	return 0;
}

int shm_take(const struct tree *t, int me, const pid_t *pids)
{
	const struct proc_state *p = t->procs[me];
	for (size_t s = 0; s < t->nshms; s++) {
		const struct shm_object *o = &t->shms[s];
		int uses = 0;
		for (size_t i = 0; i < p->nvmas && !uses; i++)
			uses = p->vmas[i].shm == (int)s;
		if (!uses)
			continue;
		int fd;
		if (o->owner == me) {
			fd = dup(o->slot);
		} else {
			int pidfd = (int)syscall(SYS_pidfd_open, pids[o->owner], 0);
			fd = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, o->slot, 0);
			if (pidfd >= 0)
				close(pidfd);
		}
		if (fd < 0 || dup2(fd, o->map_fd) < 0)
			return fail_errno(EXIT_FAIL, "cannot take the shared memory of process %d", pids[o->owner]);
		close(fd);
	}
	return 0;
}

void shm_close_slots(const struct tree *t, int me)
{
	for (size_t s = 0; s < t->nshms; s++)
		if (t->shms[s].owner == me)
			close(t->shms[s].slot);
}
