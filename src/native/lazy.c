/* restore --lazy: the dumped pages of private areas are mapped from the image file
 * (MAP_PRIVATE | MAP_FIXED, read from the image fd the new process already holds, which is open
 * read-only) instead of copied, so that the process runs at once and its pages fault in from the
 * page cache on first use; a write copies the page (copy-on-write), never into the file.
 * The mmaps, and the reads of the runs copied, are one table that the new process runs itself
 * (inject_batch): a few ptrace stops for all of them, where one injected call per run (~23 us
 * each) was most of the time of a large restore.
 *
 * What is copied as usual instead: shared areas (the bytes must be in the shared object), areas
 * that grow down (a file mapping below a stack would stop its growth), executable ones (an image
 * on a noexec mount cannot be mapped PROT_EXEC), areas with MADV_WIPEONFORK or huge page advice
 * (which only anonymous memory takes), compressed pages (they must be decompressed), and the runs
 * past LAZY_MAX_MAPS (each mapped run is an area of its own: vm.max_map_count is 65530).
 * A mapped page differs from anonymous memory in one way a program can see: MADV_DONTNEED
 * (MADV_FREE) brings the file's bytes back, not zeros (README: allocators that rely on it).
 * Page hashes are checked for the copied pages only: the mapped ones are not read at all (that is
 * the point), so they are not checked; `ckpt-inspect verify` or `restore --dry-run` checks them. */
#include "ckpt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "image.h"
#include "inject.h"
#include "util.h"
#include "xxh64.h"

#define LAZY_MAX_MAPS 16384

static const struct vma_state *vma_of(const struct proc_state *p, uint64_t addr)
{
	size_t lo = 0, hi = p->nvmas;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->vmas[mid].f.end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->nvmas && p->vmas[lo].f.start <= addr ? &p->vmas[lo] : NULL;
}

static int mappable(const struct vma_state *v)
{
	uint16_t k = v->f.kind;
	return v && (k == CKPT_VMA_KIND_ANON_PRIVATE || k == CKPT_VMA_KIND_HEAP || k == CKPT_VMA_KIND_FILE_PRIVATE) &&
	       !(v->f.flags & (CKPT_VMA_FLAGS_SHARED | CKPT_VMA_FLAGS_GROWS_DOWN | CKPT_VMA_FLAGS_WIPE_ON_FORK | CKPT_VMA_FLAGS_HUGE_PAGE)) &&
	       !(v->f.prot & CKPT_VMA_PROT_EXEC);
}

/* n pages at addr of the new process against hashes[0..n) (read back, as the copy path does). */
static int check_back(struct restore_ctx *rc, uint64_t addr, uint64_t n, const uint64_t *hashes, uint8_t *block, size_t c)
{
	uint32_t ps = rc->im->page_size;
	for (uint64_t done = 0; done < n;) {
		uint64_t k = n - done > (4u << 20) / ps ? (4u << 20) / ps : n - done;
		if (mem_read(rc->pid, addr + done * ps, block, (size_t)(k * ps)) < 0)
			return fail_errno(EXIT_FAIL, "restore: cannot read back the pages at 0x%llx", (unsigned long long)(addr + done * ps));
		for (uint64_t i = 0; i < k; i++)
			if (xxh64(block + i * ps, ps, 0) != hashes[done + i])
				return fail(EXIT_BADIMAGE, "bad image %s: page at 0x%llx of pagemap #%zu does not match its hash (rule page_hash)",
					    rc->im->path, (unsigned long long)(addr + (done + i) * ps), c);
		done += k;
	}
	return 0;
}

/* A run too big for one pread64 (it reads at most 2 GiB - 4 KiB) is read in pieces of this. */
#define LAZY_READ_PIECE (1ULL << 30)

/* A failed entry of the table, named by the run it was for. */
static int entry_failed(struct restore_ctx *rc, const struct syscall_entry *e, size_t chunk, uint32_t run, long r)
{
	int map = e->nr == SYS_mmap;
	uint64_t addr = e->args[map ? 0 : 1], len = e->args[map ? 1 : 2], off = e->args[map ? 5 : 3];
	char what[200];
	snprintf(what, sizeof(what), "run %u of pagemap #%zu (%llu KiB at 0x%llx, from byte %llu of the image)", run, chunk,
		 (unsigned long long)(len >> 10), (unsigned long long)addr, (unsigned long long)off);
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return fail_errno(EXIT_FAIL, "restore --lazy: cannot %s %s", map ? "map" : "read", what);
	}
	if (map)
		return fail(EXIT_FAIL, "restore --lazy: %s landed at 0x%lx", what, r);
	return fail(EXIT_BADIMAGE, "bad image %s: short read (%ld bytes) of %s", rc->im->path, r, what);
}

int pages_map_lazy(struct restore_ctx *rc)
{
	uint32_t ps = rc->im->page_size;
	const struct proc_state *p = rc->p;
	/* the file is the one that was checked: a file truncated since would fault (SIGBUS) later */
	struct stat st;
	if (fstat(rc->im->fd, &st) < 0 || (uint64_t)st.st_size != rc->im->size)
		return fail(EXIT_BADIMAGE, "bad image %s: it changed size while it was being restored", rc->im->path);
	progress_step("restore-pages", "--lazy: mapping pages from the image");
	/* One table for every run: an mmap of the image for each run that can be mapped, a pread64
	 * for each other (of plain pages), all run by the new process itself in one batch. */
	size_t n = 0, cap = 0;
	for (size_t c = 0; c < p->nchunks; c++)
		if (!p->chunks[c].zstd)
			for (uint32_t i = 0; i < p->chunks[c].nruns; i++)
				cap += (size_t)(((uint64_t)p->chunks[c].runs[i].npages * ps + LAZY_READ_PIECE - 1) / LAZY_READ_PIECE);
	struct syscall_entry *table = xmalloc((cap ? cap : 1) * sizeof(*table));
	struct {
		size_t chunk;
		uint32_t run;
		uint64_t page; /* its first page in the chunk */
	} *of = xmalloc((cap ? cap : 1) * sizeof(*of));
	uint64_t mapped = 0, copied = 0;
	size_t maps = 0;
	uint8_t *block = xmalloc(4u << 20);
	int ret = -1;
	for (size_t c = 0; c < p->nchunks; c++) {
		const struct page_chunk *ch = &p->chunks[c];
		if (ch->zstd) {
			copied += (uint64_t)ch->npages * ps;
			continue;
		}
		uint64_t page = 0;
		for (uint32_t i = 0; i < ch->nruns; page += ch->runs[i].npages, i++) {
			uint64_t addr = ch->runs[i].vaddr, len = (uint64_t)ch->runs[i].npages * ps, off = ch->data_off + page * ps;
			if (off + len > rc->im->size) { /* checked at load (pages_layout); kept as the guard against SIGBUS */
				fail(EXIT_BADIMAGE, "bad image %s: pages at 0x%llx lie past its end", rc->im->path, (unsigned long long)addr);
				goto out;
			}
			if (!len)
				continue;
			if (mappable(vma_of(p, addr)) && maps < LAZY_MAX_MAPS) {
				/* the area was mapped read-write for filling (finish_vma sets its protection) */
				uint64_t fd = (uint64_t)rc->image_fd;
				if (fault_injected("lazy-map"))
					fd = (uint64_t)-1; /* the tests' failing entry: EBADF in the new process */
				of[n].chunk = c, of[n].run = i, of[n].page = page;
				table[n++] = (struct syscall_entry){SYS_mmap, {addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, off}, addr};
				maps++;
				mapped += len;
				continue;
			}
			for (uint64_t done = 0; done < len; done += LAZY_READ_PIECE) {
				uint64_t k = len - done < LAZY_READ_PIECE ? len - done : LAZY_READ_PIECE;
				of[n].chunk = c, of[n].run = i, of[n].page = page + done / ps;
				table[n++] = (struct syscall_entry){SYS_pread64, {(uint64_t)rc->image_fd, addr + done, k, off + done, 0, 0}, k};
			}
			copied += len;
		}
	}
	size_t failed;
	long r;
	if (inject_batch(rc->main, rc->scratch_iov, RESTORE_TABLE_LEN, table, n, &failed, &r) < 0)
		goto out;
	if (failed < n) {
		entry_failed(rc, &table[failed], of[failed].chunk, of[failed].run, r);
		goto out;
	}
	/* the copied pages, read back and checked as the copy path does */
	for (size_t k = 0; k < n; k++)
		if (table[k].nr == SYS_pread64 &&
		    check_back(rc, table[k].args[1], table[k].args[2] / ps, p->chunks[of[k].chunk].hashes + of[k].page, block, of[k].chunk) < 0)
			goto out;
	if (zpages_fill(rc) < 0)
		goto out;
	for (size_t c = 0; c < p->nchunks; c++) {
		const struct page_chunk *ch = &p->chunks[c];
		uint64_t page = 0;
		for (uint32_t i = 0; ch->zstd && i < ch->nruns; page += ch->runs[i].npages, i++)
			if (check_back(rc, ch->runs[i].vaddr, ch->runs[i].npages, ch->hashes + page, block, c) < 0)
				goto out;
	}
	if (g_verbose)
		fprintf(stderr, "ckpt: restore --lazy: %llu KiB mapped from the image, %llu KiB copied\n", (unsigned long long)(mapped >> 10),
			(unsigned long long)(copied >> 10));
	ret = 0;
out:
	free(block);
	free(table);
	free(of);
	return ret;
}
