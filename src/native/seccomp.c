/* seccomp filters. Only a tracer with CAP_SYS_ADMIN may read them (PTRACE_SECCOMP_GET_FILTER):
 * a user's dump refuses a process in filter mode, as it must, and so does any dump of one whose
 * threads do not all have the same filters (restore installs one chain for all, TSYNC) or that is
 * in strict mode. Restore installs the chain, the first filter first, by injected seccomp() as
 * the last thing before the process runs: every syscall restore injects after it passes through
 * the filters too, so they are few (the filter's own buffer, and the trampoline's munmap). A
 * filter only ever takes away: installing one gives the process nothing. */
#include "ckpt.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#ifndef PTRACE_SECCOMP_GET_METADATA
#define PTRACE_SECCOMP_GET_METADATA 0x420d
#endif

struct seccomp_meta {
	uint64_t filter_off, flags;
};

/* One thread's chain, most recent first as the kernel numbers it; -1 with errno on failure. */
static int read_chain(pid_t tid, struct seccomp_chain *c)
{
	memset(c, 0, sizeof(*c));
	for (unsigned long i = 0;; i++) {
		long n = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, i, NULL);
		if (n < 0)
			return errno == ENOENT && i > 0 ? 0 : -1;
		c->f = xrealloc(c->f, (c->n + 1) * sizeof(*c->f));
		struct seccomp_one *f = &c->f[c->n++];
		f->insns = xcalloc((size_t)n, sizeof(struct sock_filter));
		f->count = (uint32_t)n;
		if (ptrace(PTRACE_SECCOMP_GET_FILTER, tid, i, f->insns) != n)
			return -1;
		struct seccomp_meta m = {.filter_off = i};
		f->flags = ptrace(PTRACE_SECCOMP_GET_METADATA, tid, sizeof(m), &m) >= 0 ? (uint32_t)m.flags : 0;
	}
}

static int same_chain(const struct seccomp_chain *a, const struct seccomp_chain *b)
{
	if (a->n != b->n)
		return 0;
	for (uint32_t i = 0; i < a->n; i++)
		if (a->f[i].count != b->f[i].count || memcmp(a->f[i].insns, b->f[i].insns, a->f[i].count * sizeof(struct sock_filter)))
			return 0;
	return 1;
}

/* The threads are stopped (ptrace): p->seccomp_mode is from /proc/PID/status. */
int seccomp_capture(struct proc_state *p)
{
	if (p->seccomp_mode == 1)
		add_unsupported(p, CKPT_UNSUPPORTED_KIND_SECCOMP, -1, 0, "strict", "seccomp strict mode cannot be entered again by restore");
	if (p->seccomp_mode != 2)
		return 0;
	if (read_chain(p->threads[0].tr.tid, &p->seccomp) < 0) {
		seccomp_free(&p->seccomp);
		if (errno == ESRCH)
			return tracee_fail(&p->threads[0].tr, "PTRACE_SECCOMP_GET_FILTER");
		add_unsupported(p, CKPT_UNSUPPORTED_KIND_SECCOMP, -1, 0, "filter",
				"seccomp filter mode: filters cannot be read back and reinstalled without CAP_SYS_ADMIN (PTRACE_SECCOMP_GET_FILTER: %s)",
				strerror(errno));
		return 0;
	}
	for (size_t i = 1; i < p->nthreads; i++) {
		struct seccomp_chain other;
		int r = read_chain(p->threads[i].tr.tid, &other), e = errno;
		int same = r == 0 && same_chain(&p->seccomp, &other);
		seccomp_free(&other);
		if (r < 0 && e == ESRCH) {
			errno = e;
			return tracee_fail(&p->threads[i].tr, "PTRACE_SECCOMP_GET_FILTER");
		}
		if (!same) {
			add_unsupported(p, CKPT_UNSUPPORTED_KIND_SECCOMP_FILTER, -1, 0, "filter",
					"thread %d has other seccomp filters than thread %d: restore installs one chain for all", p->threads[i].tr.tid,
					p->threads[0].tr.tid);
			break;
		}
	}
	return 0;
}

uint32_t seccomp_write(struct image_writer *w, const struct proc_state *p, uint32_t proc_tag)
{
	/* the first installed first: the kernel numbers them the other way */
	for (uint32_t i = 0; i < p->seccomp.n; i++) {
		const struct seccomp_one *f = &p->seccomp.f[p->seccomp.n - 1 - i];
		struct buf b = {0};
		struct ckpt_seccomp_filter_fixed h = {.index = i, .flags = f->flags, .count = f->count};
		buf_put(&b, &h, sizeof(h));
		buf_put(&b, f->insns, f->count * sizeof(struct sock_filter));
		uint32_t tag = iw_record(w, CKPT_RECORD_TYPE_SECCOMP_FILTER, proc_tag, b.p, (uint32_t)b.len);
		buf_free(&b);
		if (!tag)
			return 0;
	}
	return proc_tag;
}

int seccomp_read(const struct image *im, const struct image_record *r, struct proc_state *p)
{
	struct rcur c;
	rc_init(&c, im, r);
	struct ckpt_seccomp_filter_fixed h;
	if (rc_get(&c, &h, sizeof(h), "seccomp_filter") < 0)
		return -1;
	if (!ckpt_valid_seccomp_filter_count(&h, h.count))
		return image_bad(im, r, payload_at(r) + 8, "a seccomp filter of %u instructions", h.count);
	/* installed in the order of the records (`index` says the same for readers) */
	const uint8_t *insns = rc_ptr(&c, (uint64_t)h.count * sizeof(struct sock_filter), "insns");
	if (!insns)
		return -1;
	p->seccomp.f = xrealloc(p->seccomp.f, (p->seccomp.n + 1) * sizeof(*p->seccomp.f));
	struct seccomp_one *f = &p->seccomp.f[p->seccomp.n++];
	f->count = h.count;
	f->flags = h.flags;
	f->insns = xmalloc(h.count * sizeof(struct sock_filter));
	memcpy(f->insns, insns, h.count * sizeof(struct sock_filter));
	return 0;
}

int seccomp_restore_final(struct restore_ctx *rc)
{
	struct proc_state *p = rc->p;
	for (uint32_t i = 0; i < p->seccomp.n; i++) {
		const struct seccomp_one *f = &p->seccomp.f[i];
		uint64_t len = 16 + (uint64_t)f->count * sizeof(struct sock_filter), buf;
		long r;
		if (inject_checked(rc->main, (long *)&buf, "restore: a buffer for a seccomp filter", SYS_mmap, 0, len, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0) < 0)
			return -1;
		struct {
			uint16_t len;
			uint16_t pad[3];
			uint64_t filter;
		} prog = {(uint16_t)f->count, {0, 0, 0}, buf + 16};
		if (mem_write(rc->pid, buf, &prog, sizeof(prog)) < 0 || mem_write(rc->pid, buf + 16, f->insns, f->count * sizeof(struct sock_filter)) < 0)
			return fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
		if (inject_syscall(rc->main, &r, SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				   SECCOMP_FILTER_FLAG_TSYNC | (f->flags & SECCOMP_FILTER_FLAG_LOG), buf, 0, 0, 0) < 0)
			return -1;
		if (r != 0) {
			errno = r < 0 ? (int)-r : EBUSY; /* > 0: a thread that could not be synchronized */
			return fail_errno(r == -EACCES ? EXIT_PERM : EXIT_FAIL,
					  "restore: cannot install seccomp filter %u of %u again (without no_new_privs it needs CAP_SYS_ADMIN)", i + 1,
					  p->seccomp.n);
		}
		long u;
		if (inject_syscall(rc->main, &u, SYS_munmap, buf, len, 0, 0, 0, 0) < 0)
			return -1;
		if (u < 0)
			warn("process %u: its seccomp filter forbids munmap: a page of %llu bytes stays mapped", p->pf.pid, (unsigned long long)len);
	}
	return 0;
}
