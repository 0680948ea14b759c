/* Signals: handlers (asked by injected rt_sigaction), queued siginfos (PTRACE_PEEKSIGINFO),
 * and signals the kernel dequeued while we drove a thread. Timers are in timers.c. */
#include "ckpt.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

/* Signals with a handler or ignored (SigCgt, SigIgn of /proc/PID/status), and SIGCHLD, whose
 * SA_NOCLDSTOP/SA_NOCLDWAIT act even with SIG_DFL: the others are SIG_DFL, whose flags and mask
 * change nothing, and need no injected syscall each (about 64 fewer, a millisecond or more). */
static uint64_t sigactions_worth_asking(pid_t pid)
{
	char *st = read_filef(NULL, "/proc/%d/status", pid);
	const char *cgt = st ? find_key(st, "SigCgt") : NULL, *ign = st ? find_key(st, "SigIgn") : NULL;
	uint64_t set = cgt && ign ? strtoull(cgt, NULL, 16) | strtoull(ign, NULL, 16) | (1ULL << (SIGCHLD - 1)) : ~0ULL;
	free(st);
	return set;
}

int sigactions_inject_capture(struct tracee *t, pid_t pid, struct proc_state *p, uint64_t scratch)
{
	uint64_t ask = sigactions_worth_asking(pid);
	for (int sig = 1; sig <= NSIG_KERNEL; sig++) {
		long r;
		if (!(ask & (1ULL << (sig - 1)))) {
			memset(&p->sigact[sig - 1], 0, sizeof(p->sigact[0])); /* SIG_DFL */
			continue;
		}
		if (inject_syscall(t, &r, SYS_rt_sigaction, (uint64_t)sig, 0, scratch, 8, 0, 0) < 0)
			return -1;
		if (r < 0) {
			memset(&p->sigact[sig - 1], 0, sizeof(p->sigact[0]));
			continue;
		}
		if (mem_read(pid, scratch, &p->sigact[sig - 1], sizeof(p->sigact[0])) < 0)
			return fail_errno(EXIT_FAIL, "cannot read the handler of signal %d", sig);
	}
	p->have_sigact = 1;
	return 0;
}

/* Puts back what the kernel dequeued while we drove the thread (all signals are blocked now,
 * so it stays queued), except SIGSTOP, which the detach delivers. */
int requeue_dequeued(struct tracee *t, pid_t pid, uint64_t scratch)
{
	for (uint32_t i = 0; i < t->ndequeued; i++) {
		struct ckpt_siginfo *si = &t->dequeued[i];
		if (si->si_signo == SIGSTOP)
			continue;
		long r;
		if (mem_write(pid, scratch, si, sizeof(*si)) < 0)
			return fail_errno(EXIT_FAIL, "cannot write to process %d", pid);
		if (inject_syscall(t, &r, SYS_rt_tgsigqueueinfo, (uint64_t)pid, (uint64_t)t->tid, (uint64_t)si->si_signo, scratch, 0, 0) < 0)
			return -1;
		if (r < 0) {
			errno = (int)-r;
			return fail_errno(EXIT_FAIL, "cannot queue signal %d back to thread %d", si->si_signo, t->tid);
		}
		/* queued again: forget it, keeping only what the detach must deliver */
		memmove(si, si + 1, (t->ndequeued - i - 1) * sizeof(*si));
		t->ndequeued--;
		i--;
	}
	return 0;
}

static int peek(const struct tracee *t, uint32_t flags, struct siginfo_list *l)
{
	pid_t tid = t->tid;
	for (uint64_t off = 0;; off += 32) {
		struct __ptrace_peeksiginfo_args a = {.off = off, .flags = flags, .nr = 32};
		l->v = xrealloc(l->v, (off + 32) * sizeof(struct ckpt_siginfo));
		long n = ptrace(PTRACE_PEEKSIGINFO, tid, &a, &l->v[off]);
		if (n < 0) /* ESRCH: killed from outside meanwhile, said so */
			return tracee_fail(t, "PTRACE_PEEKSIGINFO");
		l->n = (uint32_t)(off + (uint64_t)n);
		if (n < 32)
			return 0;
	}
}

int pending_capture(struct proc_state *p)
{
	if (peek(&p->threads[0].tr, PTRACE_PEEKSIGINFO_SHARED, &p->pending) < 0)
		return -1;
	for (size_t i = 0; i < p->nthreads; i++)
		if (peek(&p->threads[i].tr, 0, &p->threads[i].pending) < 0)
			return -1;
	return 0;
}

uint32_t sigactions_write(struct image_writer *w, const struct proc_state *p, uint32_t proc_tag)
{
	struct buf b = {0};
	struct ckpt_sigactions_fixed f = {.count = NSIG_KERNEL};
	buf_put(&b, &f, sizeof(f));
	buf_put(&b, p->sigact, sizeof(p->sigact));
	uint32_t tag = iw_record(w, CKPT_RECORD_TYPE_SIGACTIONS, proc_tag, b.p, (uint32_t)b.len);
	buf_free(&b);
	return tag;
}

uint32_t pending_write(struct image_writer *w, const struct siginfo_list *l, uint32_t ptag)
{
	struct buf b = {0};
	struct ckpt_pending_signals_fixed f = {.count = l->n};
	buf_put(&b, &f, sizeof(f));
	buf_put(&b, l->v, l->n * sizeof(struct ckpt_siginfo));
	uint32_t tag = iw_record(w, CKPT_RECORD_TYPE_PENDING_SIGNALS, ptag, b.p, (uint32_t)b.len);
	buf_free(&b);
	return tag;
}

int sigactions_read(const struct image *im, const struct image_record *r, struct proc_state *p)
{
	struct rcur c;
	rc_init(&c, im, r);
	struct ckpt_sigactions_fixed f;
	if (rc_get(&c, &f, sizeof(f), "count") < 0)
		return -1;
	if (!ckpt_valid_sigactions_count(&f, f.count))
		return image_bad(im, r, payload_at(r), "%u signal handlers, the kernel has %d signals", f.count, NSIG_KERNEL);
	const uint8_t *a = rc_ptr(&c, (uint64_t)f.count * sizeof(struct ckpt_sigaction), "actions");
	if (!a)
		return -1;
	uint32_t n = f.count;
	memcpy(p->sigact, a, n * sizeof(struct ckpt_sigaction));
	p->have_sigact = 1;
	return 0;
}

int pending_read(const struct image *im, const struct image_record *r, struct siginfo_list *l)
{
	struct rcur c;
	rc_init(&c, im, r);
	struct ckpt_pending_signals_fixed f;
	if (rc_get(&c, &f, sizeof(f), "count") < 0)
		return -1;
	const uint8_t *a = rc_ptr(&c, (uint64_t)f.count * sizeof(struct ckpt_siginfo), "signals");
	if (!a)
		return -1;
	l->v = xrealloc(l->v, (l->n + f.count + 1) * sizeof(struct ckpt_siginfo));
	memcpy(&l->v[l->n], a, (size_t)f.count * sizeof(struct ckpt_siginfo));
	l->n += f.count;
	return 0;
}

/* In the restore child, with every signal blocked: the handlers are only addresses until the
 * image's memory is in place, and no signal can reach them before then. */
int sigactions_apply_in_child(const struct proc_state *p)
{
	if (!p->have_sigact)
		return 0;
	for (int sig = 1; sig <= NSIG_KERNEL; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (syscall(SYS_rt_sigaction, sig, &p->sigact[sig - 1], NULL, 8) < 0)
			return fail_errno(EXIT_FAIL, "cannot restore the handler of signal %d", sig);
	}
	return 0;
}

static int queue(struct restore_ctx *rc, struct tracee *t, const struct ckpt_siginfo *si, int thread)
{
	long r;
	if (mem_write(rc->pid, rc->scratch, si, sizeof(*si)) < 0)
		return fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
	if (thread ? inject_syscall(t, &r, SYS_rt_tgsigqueueinfo, (uint64_t)rc->pid, (uint64_t)t->tid, (uint64_t)si->si_signo, rc->scratch, 0, 0)
		   : inject_syscall(t, &r, SYS_rt_sigqueueinfo, (uint64_t)rc->pid, (uint64_t)si->si_signo, rc->scratch, 0, 0, 0))
		return -1;
	if (r < 0)
		warn("signal %d that was pending could not be queued again (%s)", si->si_signo, strerror((int)-r));
	return 0;
}

int pending_restore(struct restore_ctx *rc)
{
	for (uint32_t i = 0; i < rc->p->pending.n; i++)
		if (queue(rc, rc->main, &rc->p->pending.v[i], 0) < 0)
			return -1;
	for (size_t k = 0; k < rc->p->nthreads; k++) {
		struct thread_state *t = &rc->p->threads[k];
		for (uint32_t i = 0; i < t->pending.n; i++)
			if (queue(rc, &t->tr, &t->pending.v[i], 1) < 0)
				return -1;
	}
	return 0;
}
