/* Loading an opened image into the model: the open file descriptions, then one proc_state per
 * process record, checking as it goes every payload rule of the .ksy that image_open() could
 * not: the fields' `valid:` rules (in each kind's *_read), and the named -ckpt-rules across
 * records. Everything here is linear in the number of records (n log n where it sorts): a
 * hostile image cannot make it quadratic. */
#include "ckpt.h"

#include <stdlib.h>
#include <string.h>

#include "sock_view.h"

#define GROW(arr, n, cap)                                                                                               \
	do {                                                                                                            \
		if ((n) == (cap)) {                                                                                     \
			(cap) = (cap) ? (cap) * 2 : 8;                                                                  \
			(arr) = xrealloc((arr), (cap) * sizeof(*(arr)));                                                \
		}                                                                                                       \
	} while (0)

static int load_head(const struct image *im, const struct image_record *r, struct proc_state *p)
{
	struct rcur c;
	rc_init(&c, im, r);
	if (rc_get(&c, &p->head, sizeof(p->head), "head fixed fields") < 0 || rc_lstr(&c, &p->sysname, "sysname") < 0 ||
	    rc_lstr(&c, &p->nodename, "nodename") < 0 || rc_lstr(&c, &p->release, "release") < 0 ||
	    rc_lstr(&c, &p->version, "version") < 0 || rc_lstr(&c, &p->machine, "machine") < 0 ||
	    rc_lstr(&c, &p->checkpointer, "checkpointer") < 0 || rc_lstr(&c, &p->boot_id, "boot_id") < 0)
		return -1;
	return 0;
}

static int load_unsupported(const struct image *im, const struct image_record *r, struct proc_state *p, size_t *cap)
{
	GROW(p->unsup, p->nunsup, *cap);
	struct unsupported_state *u = &p->unsup[p->nunsup++];
	memset(u, 0, sizeof(*u));
	struct rcur c;
	rc_init(&c, im, r);
	if (rc_get(&c, &u->f, sizeof(u->f), "unsupported fixed fields") < 0 || rc_lstr(&c, &u->reason, "reason") < 0 ||
	    rc_lstr(&c, &u->detail, "detail") < 0)
		return -1;
	return 0;
}

/* Per-process bookkeeping while loading: what the rules compare record by record. */
struct proc_load {
	uint32_t rec; /* its process record */
	size_t cap_threads, cap_vmas, cap_chunks, cap_fds, cap_unsup, cap_zombies;
	uint32_t *chunk_rec;   /* record index of each pagemap, for messages */
	uint32_t *fd_rec;      /* record index of each fd */
	uint32_t main_threads; /* threads flagged main_thread */
	uint64_t runs_end;     /* end of the last run seen (run_order) */
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* fd_unique: no two fds of one table share a number (sorted (number, index) pairs). */
static int check_fd_unique(const struct image *im, const struct proc_state *p, const struct proc_load *pl)
{
	if (p->nfds < 2)
		return 0;
	uint64_t *k = xmalloc(p->nfds * sizeof(uint64_t));
	for (size_t i = 0; i < p->nfds; i++)
		k[i] = (uint64_t)p->fds[i].f.fd << 32 | i;
	qsort(k, p->nfds, sizeof(uint64_t), cmp_u64);
	int rc = 0;
	for (size_t i = 1; i < p->nfds && rc == 0; i++)
		if (k[i] >> 32 == k[i - 1] >> 32) {
			const struct image_record *r = &im->recs[pl->fd_rec[(uint32_t)k[i]]];
			rc = image_rule(im, r, payload_at(r), CKPT_RULE_FD_UNIQUE, "fd %u appears twice in one file table", (uint32_t)(k[i] >> 32));
		}
	free(k);
	return rc;
}

/* The VMA that holds [start, end), by binary search over VMAs in ascending order (vma_order). */
static const struct vma_state *vma_holding(const struct proc_state *p, uint64_t start, uint64_t end)
{
	size_t lo = 0, hi = p->nvmas;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->vmas[mid].f.end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < p->nvmas && p->vmas[lo].f.start <= start && end <= p->vmas[lo].f.end)
		return &p->vmas[lo];
	return NULL;
}

/* What can only be checked once a process is whole. */
static int check_process(const struct image *im, const struct image_record *proc_rec, const struct proc_state *p,
			 const struct proc_load *pl)
{
	if (pl->main_threads != 1)
		return image_rule(im, proc_rec, proc_rec->off, CKPT_RULE_ONE_MAIN_THREAD, "%u of its threads are flagged main_thread",
				  pl->main_threads);
	if (check_fd_unique(im, p, pl) < 0)
		return -1;
	for (size_t c = 0; c < p->nchunks; c++)
		for (uint32_t k = 0; k < p->chunks[c].nruns; k++) {
			const struct ckpt_page_run *run = &p->chunks[c].runs[k];
			uint64_t end = run->vaddr + (uint64_t)run->npages * im->page_size;
			const struct vma_state *v = vma_holding(p, run->vaddr, end);
			if (!v || !vma_restorable(v)) {
				const struct image_record *r = &im->recs[pl->chunk_rec[c]];
				return image_rule(im, r, payload_at(r) + 8 + (uint64_t)k * 16, CKPT_RULE_RUN_IN_VMA,
						  "run %u (0x%llx, %u pages) lies outside every restorable vma", k,
						  (unsigned long long)run->vaddr, run->npages);
			}
		}
	return 0;
}

/* run_order, as each pagemap is loaded: its runs go on where the mm's runs so far ended. */
static int check_run_order(const struct image *im, const struct image_record *r, const struct page_chunk *ch,
			   struct proc_load *pl)
{
	for (uint32_t k = 0; k < ch->nruns; k++) {
		const struct ckpt_page_run *run = &ch->runs[k];
		uint64_t len = (uint64_t)run->npages * im->page_size;
		if (run->vaddr < pl->runs_end || run->vaddr + len < run->vaddr)
			return image_rule(im, r, payload_at(r) + 8 + (uint64_t)k * 16, CKPT_RULE_RUN_ORDER,
					  "run %u at 0x%llx overlaps or precedes the runs before it", k, (unsigned long long)run->vaddr);
		pl->runs_end = run->vaddr + len;
	}
	return 0;
}

/* file_ref: the file record a reference names, as an index into t->files; -1 after a failure. */
static int file_index(const struct image *im, const struct image_record *from, uint64_t at, uint32_t tag, const uint32_t *file_of,
		      const char *what)
{
	const struct image_record *r = tag ? image_record_by_tag(im, tag) : NULL;
	if (!r || r->type != CKPT_RECORD_TYPE_FILE)
		return image_rule(im, from, at, CKPT_RULE_FILE_REF, "%s names tag %u, which is no file record", what, tag);
	return (int)file_of[r->index];
}

/* The references inside files (epoll targets, socket peers), once every file is known. */
static int resolve_file_refs(const struct image *im, struct tree *t, const uint32_t *file_rec, const uint32_t *file_of)
{
	for (size_t i = 0; i < t->nfiles; i++) {
		struct file_state *f = &t->files[i];
		const struct image_record *r = &im->recs[file_rec[i]];
		if (f->f.kind == CKPT_FD_KIND_EPOLL) {
			uint32_t cnt;
			memcpy(&cnt, f->extra, 4);
			for (uint32_t k = 0; k < cnt; k++) {
				struct ckpt_epoll_target tg;
				memcpy(&tg, f->extra + 4 + (size_t)k * sizeof(tg), sizeof(tg));
				if (file_index(im, r, payload_at(r), tg.file, file_of, "an epoll target") < 0)
					return -1;
			}
		} else if (f->f.kind == CKPT_FD_KIND_SOCKET) {
			struct sock_view v;
			if (sock_view(f, &v) < 0)
				return image_bad(im, r, payload_at(r), "a socket's fields do not fit its payload");
			const uint32_t refs[2] = {v.s.peer, v.d.listener};
			for (int k = 0; k < 2; k++) {
				if (!refs[k])
					continue;
				int o = file_index(im, r, payload_at(r), refs[k], file_of, k ? "a socket's listener" : "a socket's peer");
				if (o < 0)
					return -1;
				if (t->files[o].f.kind != CKPT_FD_KIND_SOCKET)
					return image_rule(im, r, payload_at(r), CKPT_RULE_FILE_REF, "a socket's %s names a file that is no socket", k ? "listener" : "peer");
			}
		}
	}
	return 0;
}

/* pid_unique: processes and zombies by pid, threads by tid, each unique in the image. */
static int check_pids(const struct image *im, const struct tree *t)
{
	size_t np = 0, nt = 0;
	for (size_t k = 0; k < t->nprocs; k++)
		np += 1 + t->procs[k]->nzombies, nt += t->procs[k]->nthreads;
	uint64_t *pids = xmalloc((np + 1) * sizeof(uint64_t)), *tids = xmalloc((nt + 1) * sizeof(uint64_t));
	np = nt = 0;
	for (size_t k = 0; k < t->nprocs; k++) {
		const struct proc_state *p = t->procs[k];
		pids[np++] = p->pf.pid;
		for (size_t z = 0; z < p->nzombies; z++)
			pids[np++] = p->zombies[z].f.pid;
		for (size_t i = 0; i < p->nthreads; i++)
			tids[nt++] = p->threads[i].f.tid;
	}
	qsort(pids, np, sizeof(uint64_t), cmp_u64);
	qsort(tids, nt, sizeof(uint64_t), cmp_u64);
	int rc = 0;
	for (size_t i = 1; i < np && !rc; i++)
		if (pids[i] == pids[i - 1])
			rc = image_rule(im, NULL, 0, CKPT_RULE_PID_UNIQUE, "pid %llu belongs to two processes", (unsigned long long)pids[i]);
	for (size_t i = 1; i < nt && !rc; i++)
		if (tids[i] == tids[i - 1])
			rc = image_rule(im, NULL, 0, CKPT_RULE_PID_UNIQUE, "tid %llu belongs to two threads", (unsigned long long)tids[i]);
	free(pids);
	free(tids);
	return rc;
}

static int load_files(struct image *im, struct tree *t, uint32_t *file_rec, uint32_t *file_of)
{
	size_t cap = 0;
	for (size_t i = 0; i < im->n; i++) {
		if (im->recs[i].type != CKPT_RECORD_TYPE_FILE)
			continue;
		GROW(t->files, t->nfiles, cap);
		struct file_state *f = &t->files[t->nfiles];
		file_rec[t->nfiles] = (uint32_t)i;
		file_of[i] = (uint32_t)t->nfiles++;
		if (file_read(im, &im->recs[i], f) < 0)
			return -1;
	}
	return resolve_file_refs(im, t, file_rec, file_of);
}

static int load_records(struct image *im, struct tree *t, uint32_t *owner, uint32_t *slot, uint32_t *pages_of,
			const uint32_t *file_of, struct proc_load **pls)
{
	size_t cap_procs = 0;
	for (size_t i = 0; i < im->n; i++) {
		const struct image_record *r = &im->recs[i];
		owner[i] = r->parent == UINT32_MAX ? UINT32_MAX : owner[r->parent];
		if (r->type == CKPT_RECORD_TYPE_PROCESS) {
			int32_t parent = r->parent == UINT32_MAX ? -1 : (int32_t)owner[r->parent];
			struct proc_state *p = tree_add_process(t, parent);
			if (t->nprocs > cap_procs) {
				cap_procs = cap_procs ? cap_procs * 2 : 8;
				*pls = xrealloc(*pls, cap_procs * sizeof(**pls));
			}
			memset(&(*pls)[t->nprocs - 1], 0, sizeof((*pls)[0]));
			(*pls)[t->nprocs - 1].rec = (uint32_t)i;
			owner[i] = slot[i] = (uint32_t)(t->nprocs - 1);
			if (process_read(im, r, p) < 0)
				return -1;
			if (parent >= 0 && p->pf.ppid != t->procs[parent]->pf.pid)
				return image_rule(im, r, payload_at(r) + 4, CKPT_RULE_TREE_PIDS, "ppid %u is not its parent process's pid %u",
						  p->pf.ppid, t->procs[parent]->pf.pid);
			continue;
		}
		if ((r->type == CKPT_RECORD_TYPE_PAGES || r->type == CKPT_RECORD_TYPE_PAGES_ZSTD) && r->parent != UINT32_MAX) {
			if (pages_of[r->parent] != UINT32_MAX) /* the grammar allows one of each: not both */
				return image_rule(im, r, r->off, CKPT_RULE_PAGES_LAYOUT, "its pagemap already has its pages");
			pages_of[r->parent] = (uint32_t)i;
		}
		if (owner[i] == UINT32_MAX)
			continue; /* head, tail, pad, files, top-level unsupported, types of later versions */
		struct proc_state *p = t->procs[owner[i]];
		struct proc_load *pl = &(*pls)[owner[i]];
		switch (r->type) {
		case CKPT_RECORD_TYPE_THREAD:
			GROW(p->threads, p->nthreads, pl->cap_threads);
			memset(&p->threads[p->nthreads], 0, sizeof(p->threads[0]));
			slot[i] = (uint32_t)p->nthreads;
			if (thread_read(im, r, &p->threads[p->nthreads++]) < 0)
				return -1;
			pl->main_threads += (p->threads[slot[i]].f.flags & CKPT_THREAD_FLAGS_MAIN_THREAD) != 0;
			break;
		case CKPT_RECORD_TYPE_MM:
			if (mm_read(im, r, p) < 0)
				return -1;
			break;
		case CKPT_RECORD_TYPE_VMA:
			GROW(p->vmas, p->nvmas, pl->cap_vmas);
			memset(&p->vmas[p->nvmas], 0, sizeof(p->vmas[0]));
			if (vma_read(im, r, &p->vmas[p->nvmas++]) < 0)
				return -1;
			if (p->nvmas > 1 && p->vmas[p->nvmas - 1].f.start < p->vmas[p->nvmas - 2].f.end)
				return image_rule(im, r, payload_at(r), CKPT_RULE_VMA_ORDER, "vma overlaps or precedes the one before it");
			break;
		case CKPT_RECORD_TYPE_PAGEMAP:
			/* its pages record is its next child: pages_of[] is filled when that comes, so load pagemaps last */
			break;
		case CKPT_RECORD_TYPE_SIGACTIONS:
			if (sigactions_read(im, r, p) < 0)
				return -1;
			break;
		case CKPT_RECORD_TYPE_PENDING_SIGNALS:
			if (im->recs[r->parent].type == CKPT_RECORD_TYPE_THREAD) {
				if (pending_read(im, r, &p->threads[slot[r->parent]].pending) < 0)
					return -1;
			} else if (pending_read(im, r, &p->pending) < 0) {
				return -1;
			}
			break;
		case CKPT_RECORD_TYPE_TIMERS:
			if (timers_read(im, r, p) < 0)
				return -1;
			break;
		case CKPT_RECORD_TYPE_SECCOMP_FILTER:
			if (seccomp_read(im, r, p) < 0)
				return -1;
			break;
		case CKPT_RECORD_TYPE_PROCESS_ATTRS:
			if (attrs_read(im, r, p) < 0)
				return -1;
			break;
		case CKPT_RECORD_TYPE_POSIX_TIMER:
			if (posix_timer_read(im, r, p) < 0)
				return -1;
			break;
		case CKPT_RECORD_TYPE_FILES:
			if (files_read(im, r, p) < 0)
				return -1;
			break;
		case CKPT_RECORD_TYPE_FD: {
			size_t cap = pl->cap_fds;
			GROW(p->fds, p->nfds, pl->cap_fds);
			if (cap != pl->cap_fds)
				pl->fd_rec = xrealloc(pl->fd_rec, pl->cap_fds * sizeof(uint32_t));
			pl->fd_rec[p->nfds] = (uint32_t)i;
			struct fd_state *f = &p->fds[p->nfds++];
			if (fd_read(im, r, f) < 0)
				return -1;
			const struct image_record *fr = image_record_by_tag(im, f->f.file);
			if (!fr || fr->index >= r->index)
				return image_rule(im, r, payload_at(r) + 8, CKPT_RULE_FILE_REF, "fd %u names tag %u, which is no file record before it",
						  f->f.fd, f->f.file);
			if ((f->file = file_index(im, r, payload_at(r) + 8, f->f.file, file_of, "an fd")) < 0)
				return -1;
			break;
		}
		case CKPT_RECORD_TYPE_ZOMBIE:
			GROW(p->zombies, p->nzombies, pl->cap_zombies);
			memset(&p->zombies[p->nzombies], 0, sizeof(p->zombies[0]));
			if (zombie_read(im, r, &p->zombies[p->nzombies++]) < 0)
				return -1;
			break;
		case CKPT_RECORD_TYPE_UNSUPPORTED:
			if (load_unsupported(im, r, p, &pl->cap_unsup) < 0)
				return -1;
			break;
		case CKPT_RECORD_TYPE_BUILD_ID: /* for debuggers; checked, not restored */
			if (buildid_check(im, r) < 0)
				return -1;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* Pagemaps after every record is known (their pages record comes after them), in file order. */
static int load_pagemaps(struct image *im, struct tree *t, const uint32_t *owner, const uint32_t *pages_of, struct proc_load *pls)
{
	for (size_t i = 0; i < im->n; i++) {
		const struct image_record *r = &im->recs[i];
		if (r->type != CKPT_RECORD_TYPE_PAGEMAP)
			continue;
		struct proc_state *p = t->procs[owner[i]];
		struct proc_load *pl = &pls[owner[i]];
		size_t cap = pl->cap_chunks;
		GROW(p->chunks, p->nchunks, pl->cap_chunks);
		if (cap != pl->cap_chunks)
			pl->chunk_rec = xrealloc(pl->chunk_rec, pl->cap_chunks * sizeof(uint32_t));
		memset(&p->chunks[p->nchunks], 0, sizeof(p->chunks[0]));
		pl->chunk_rec[p->nchunks] = (uint32_t)i;
		struct page_chunk *ch = &p->chunks[p->nchunks++];
		if (pages_of[i] == UINT32_MAX)
			return image_rule(im, r, r->off, CKPT_RULE_PAGES_LAYOUT, "the pagemap has no pages record");
		const struct image_record *pr = &im->recs[pages_of[i]];
		if (pagemap_read(im, r, pr, ch) < 0 || check_run_order(im, r, ch, pl) < 0 ||
		    (pr->type == CKPT_RECORD_TYPE_PAGES_ZSTD && zpages_read_index(im, pr, ch) < 0))
			return -1;
	}
	return 0;
}

int image_load(struct image *im, struct tree *t)
{
	memset(t, 0, sizeof(*t));
	size_t n = im->n + 1;
	uint32_t *owner = xmalloc(n * sizeof(uint32_t)), *slot = xmalloc(n * sizeof(uint32_t));
	uint32_t *pages_of = xmalloc(n * sizeof(uint32_t)), *file_of = xmalloc(n * sizeof(uint32_t));
	uint32_t *file_rec = xmalloc(n * sizeof(uint32_t));
	memset(pages_of, 0xff, n * sizeof(uint32_t)); /* UINT32_MAX: no pages record (yet) */
	struct proc_load *pls = NULL;
	int rc = -1;
	if (load_files(im, t, file_rec, file_of) < 0 || ghost_load(im, t, file_of) < 0 || locks_load(im, t, file_of) < 0 ||
	    load_records(im, t, owner, slot, pages_of, file_of, &pls) < 0 ||
	    load_pagemaps(im, t, owner, pages_of, pls) < 0)
		goto out;
	for (size_t k = 0; k < t->nprocs; k++) {
		struct proc_state *p = t->procs[k];
		if (check_process(im, &im->recs[pls[k].rec], p, &pls[k]) < 0)
			goto out;
		/* the main thread first */
		for (size_t i = 1; i < p->nthreads; i++)
			if (p->threads[i].f.flags & CKPT_THREAD_FLAGS_MAIN_THREAD) {
				struct thread_state tmp = p->threads[0];
				p->threads[0] = p->threads[i];
				p->threads[i] = tmp;
			}
	}
	if (check_pids(im, t) < 0)
		goto out;
	/* the head (record 0, checked by image_open) describes the image: kept with the root */
	struct proc_state *root = t->procs[0]; /* the grammar requires a process */
	if (load_head(im, &im->recs[0], root) < 0)
		goto out;
	/* what could not be captured outside any process is the image's: warned about with the root */
	size_t cap_unsup = root->nunsup; /* exactly full: GROW doubles from there */
	for (size_t i = 0; i < im->n; i++)
		if (im->recs[i].type == CKPT_RECORD_TYPE_UNSUPPORTED && owner[i] == UINT32_MAX &&
		    load_unsupported(im, &im->recs[i], root, &cap_unsup) < 0)
			goto out;
	rc = 0;
out:
	for (size_t k = 0; pls && k < t->nprocs; k++) {
		free(pls[k].chunk_rec);
		free(pls[k].fd_rec);
	}
	free(pls);
	free(owner);
	free(slot);
	free(pages_of);
	free(file_of);
	free(file_rec);
	return rc;
}
