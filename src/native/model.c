/* The model's own operations (model.h): making and freeing a tree of processes (with the state
 * of the kinds the model holds: seccomp chains, the contents of files without a path), a
 * descriptor's file, a description's kind-specific data, tag and name for messages, and recording
 * what cannot be checkpointed. No /proc, no tracee: dump and
 * restore fill it. */
#include "model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util.h"

void seccomp_free(struct seccomp_chain *c)
{
	for (uint32_t i = 0; i < c->n; i++)
		free(c->f[i].insns);
	free(c->f);
	memset(c, 0, sizeof(*c));
}

void ghost_free(struct file_state *f)
{
	struct ghost *g = f->ghost;
	if (!g)
		return;
	if (g->src > 0)
		close(g->src);
	free(g->name);
	free(g->ext);
	free(g);
	f->ghost = NULL;
}

void proc_free(struct proc_state *p)
{
	free(p->sysname), free(p->nodename), free(p->release), free(p->version), free(p->machine);
	free(p->checkpointer), free(p->boot_id);
	free(p->comm), free(p->exe), free(p->cwd), free(p->root);
	free(p->cmdline), free(p->environ), free(p->groups);
	for (size_t i = 0; i < p->nthreads; i++) {
		free(p->threads[i].comm);
		free(p->threads[i].xstate);
		free(p->threads[i].pending.v);
		free(p->threads[i].tr.dequeued);
		free(p->threads[i].tr.covered);
	}
	free(p->threads);
	free(p->auxv);
	for (size_t i = 0; i < p->nvmas; i++) {
		free(p->vmas[i].path);
		free(p->vmas[i].build_id);
		free(p->vmas[i].frozen_runs);
		free(p->vmas[i].fresh);
		if (p->vmas[i].frozen)
			munmap(p->vmas[i].frozen, p->vmas[i].f.end - p->vmas[i].f.start);
	}
	free(p->vmas);
	for (size_t i = 0; i < p->nchunks; i++) {
		free(p->chunks[i].runs);
		free(p->chunks[i].hashes);
		free(p->chunks[i].zends);
	}
	free(p->chunks);
	free(p->pending.v);
	free(p->ptimers.v);
	seccomp_free(&p->seccomp);
	free(p->fds);
	for (size_t i = 0; i < p->nzombies; i++)
		free(p->zombies[i].comm);
	free(p->zombies);
	free(p->omitted);
	for (size_t i = 0; i < p->nunsup; i++) {
		free(p->unsup[i].reason);
		free(p->unsup[i].detail);
	}
	free(p->unsup);
	memset(p, 0, sizeof(*p));
}

struct proc_state *tree_add_process(struct tree *t, int32_t parent)
{
	t->procs = xrealloc(t->procs, (t->nprocs + 1) * sizeof(*t->procs));
	struct proc_state *p = xcalloc(1, sizeof(*p));
	p->tree = t;
	p->parent = parent;
	t->procs[t->nprocs++] = p;
	return p;
}

void tree_free(struct tree *t)
{
	for (size_t i = 0; i < t->nprocs; i++) {
		proc_free(t->procs[i]);
		free(t->procs[i]);
	}
	free(t->procs);
	for (size_t i = 0; i < t->nfiles; i++) {
		free(t->files[i].path);
		free(t->files[i].extra);
		ghost_free(&t->files[i]);
		free(t->files[i].locks);
	}
	free(t->files);
	free(t->shms);
	memset(t, 0, sizeof(*t));
}

struct file_state *fd_file(const struct proc_state *p, const struct fd_state *f)
{
	return &p->tree->files[f->file];
}

void put_extra(struct file_state *f, const struct buf *b)
{
	free(f->extra);
	f->extra = b->p;
	f->extra_len = (uint32_t)b->len;
}

int file_by_tag(const struct tree *t, uint32_t tag)
{
	for (size_t i = 0; i < t->nfiles; i++) /* called for socket peers and epoll targets: a few per image */
		if (t->files[i].tag == tag)
			return (int)i;
	return -1;
}

const char *fd_prefix(const struct tree *t, const struct file_state *f)
{
	static char buf[32];
	const struct proc_state *p = t->procs[f->owner];
	int best = -1, file = (int)(f - t->files);
	for (size_t i = 0; i < p->nfds; i++)
		if (p->fds[i].file == file && (best < 0 || (int)p->fds[i].f.fd < best))
			best = (int)p->fds[i].f.fd;
	buf[0] = 0;
	if (best >= 0)
		snprintf(buf, sizeof(buf), "fd %d: ", best);
	return buf;
}

void add_unsupported(struct proc_state *p, uint16_t what, int32_t fd, uint64_t addr, const char *detail, const char *fmt, ...)
{
	p->unsup = xrealloc(p->unsup, (p->nunsup + 1) * sizeof(*p->unsup));
	struct unsupported_state *u = &p->unsup[p->nunsup++];
	memset(u, 0, sizeof(*u));
	u->f.what = what;
	u->f.fd = fd;
	u->f.addr = addr;
	va_list ap;
	va_start(ap, fmt);
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	u->reason = xstrdup(msg);
	u->detail = xstrdup(detail ? detail : "");
}
