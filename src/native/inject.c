/* How one injected syscall runs: registers set to {rip = a syscall instruction, rax = nr,
 * args}, then PTRACE_SYSCALL to its entry stop and again to its exit stop, where rax is the
 * result. PTRACE_GET_SYSCALL_INFO tells our syscall's stops from any other; signals the kernel
 * dequeues meanwhile are kept (and re-queued by the caller) instead of delivered, so no
 * program code runs while we drive a thread. */
#include "inject.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/futex.h>
#include <time.h>

#include "util.h"

int tracee_wait(struct tracee *t, int *status)
{
	for (;;) {
		pid_t r = waitpid(t->tid, status, __WALL);
		if (r == t->tid)
			break;
		if (r < 0 && errno == EINTR)
			continue;
		t->stopped = t->attached = 0;
		return fail_errno(EXIT_NOPROC, "thread %d went away", t->tid);
	}
	if (WIFEXITED(*status) || WIFSIGNALED(*status)) {
		t->stopped = t->attached = 0;
		if (WIFSIGNALED(*status))
			return fail(EXIT_NOPROC, "the process exited (thread %d killed by signal %d)", t->tid, WTERMSIG(*status));
		return fail(EXIT_NOPROC, "the process exited (thread %d, status %d)", t->tid, WEXITSTATUS(*status));
	}
	t->stopped = 1;
	return 0;
}

static int keep_dequeued(struct tracee *t)
{
	siginfo_t si;
	if (ptrace(PTRACE_GETSIGINFO, t->tid, 0, &si) < 0)
		return fail_errno(EXIT_FAIL, "PTRACE_GETSIGINFO on thread %d", t->tid);
	t->dequeued = xrealloc(t->dequeued, (t->ndequeued + 1) * sizeof(*t->dequeued));
	_Static_assert(sizeof(si) == sizeof(struct ckpt_siginfo), "siginfo size");
	memcpy(&t->dequeued[t->ndequeued++], &si, sizeof(si));
	return 0;
}

static int set_regs(struct tracee *t, const struct user_regs_struct *r)
{
	if (ptrace(PTRACE_SETREGS, t->tid, 0, r) < 0)
		return fail_errno(EXIT_FAIL, "PTRACE_SETREGS on thread %d", t->tid);
	return 0;
}

int inject_syscall(struct tracee *t, long *ret, long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
		   uint64_t a5, uint64_t a6)
{
	struct user_regs_struct r = t->orig;
	r.rip = t->syscall_ip;
	r.rax = (uint64_t)nr;
	r.orig_rax = (uint64_t)-1;
	r.rdi = a1, r.rsi = a2, r.rdx = a3, r.r10 = a4, r.r8 = a5, r.r9 = a6;
	if (set_regs(t, &r) < 0)
		return -1;
	t->regs_changed = 1;
	int entered = 0;
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, t->tid, 0, 0) < 0)
			return fail_errno(EXIT_FAIL, "PTRACE_SYSCALL on thread %d", t->tid);
		t->stopped = 0;
		int st;
		if (tracee_wait(t, &st) < 0)
			return -1;
		int sig = WSTOPSIG(st), event = st >> 16;
		if (sig == (SIGTRAP | 0x80)) {
			struct __ptrace_syscall_info info;
			if (ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, sizeof(info), &info) < 0)
				return fail_errno(EXIT_FAIL, "PTRACE_GET_SYSCALL_INFO on thread %d", t->tid);
			if (!entered && info.op == PTRACE_SYSCALL_INFO_ENTRY && info.entry.nr == (uint64_t)nr &&
			    info.instruction_pointer == t->syscall_ip + 2) {
				entered = 1;
			} else if (entered && info.op == PTRACE_SYSCALL_INFO_EXIT) {
				*ret = (long)info.exit.rval;
				return 0;
			}
			continue; /* a stop of some other syscall: not ours */
		}
		if (event)
			continue; /* PTRACE_EVENT_CLONE of an injected clone (its result says the new TID),
				   * PTRACE_EVENT_STOP (group stop or interrupt) and other events */
		/* a signal-delivery-stop: keep the signal, deliver nothing */
		if (keep_dequeued(t) < 0)
			return -1;
	}
}

int inject_checked(struct tracee *t, long *ret, const char *what, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
		   uint64_t a4, uint64_t a5, uint64_t a6)
{
	long r;
	if (inject_syscall(t, &r, nr, a1, a2, a3, a4, a5, a6) < 0)
		return -1;
	if (ret)
		*ret = r;
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return fail_errno(EXIT_FAIL, "%s", what);
	}
	return 0;
}

int inject_begin(struct tracee *t, int first_hop)
{
	if (first_hop) {
		long r;
		if (inject_syscall(t, &r, SYS_getpid, 0, 0, 0, 0, 0, 0) < 0)
			return -1;
	}
	if (ptrace(PTRACE_GETSIGMASK, t->tid, sizeof(uint64_t), &t->mask) < 0)
		return fail_errno(EXIT_FAIL, "PTRACE_GETSIGMASK on thread %d", t->tid);
	uint64_t all = ~0ULL;
	if (ptrace(PTRACE_SETSIGMASK, t->tid, sizeof(uint64_t), &all) < 0)
		return fail_errno(EXIT_FAIL, "PTRACE_SETSIGMASK on thread %d", t->tid);
	t->mask_changed = 1;
	return 0;
}

int inject_end(struct tracee *t, const struct user_regs_struct *regs, uint64_t mask)
{
	if (set_regs(t, regs) < 0)
		return -1;
	t->regs_changed = 0;
	if (ptrace(PTRACE_SETSIGMASK, t->tid, sizeof(uint64_t), &mask) < 0)
		return fail_errno(EXIT_FAIL, "PTRACE_SETSIGMASK on thread %d", t->tid);
	t->mask_changed = 0;
	return 0;
}

/* Calls whose restart_block (kernel state, lost in a new process) can be replaced by simply
 * running the call again with its own arguments: no timeout, an absolute one, or one the kernel
 * already updated to the time left (ppoll, pselect6, select). */
static int restartable_as_is(const struct user_regs_struct *r)
{
	switch (r->orig_rax) {
	case SYS_poll:
		return (int)r->rdx < 0;
	case SYS_ppoll:
	case SYS_pselect6:
	case SYS_select:
		return 1;
	case SYS_clock_nanosleep:
		return (r->rsi & TIMER_ABSTIME) != 0;
	case SYS_futex:
		return (r->rsi & FUTEX_CMD_MASK) == FUTEX_WAIT_BITSET || (r->rsi & FUTEX_CMD_MASK) == FUTEX_WAIT_REQUEUE_PI;
	default:
		return 0;
	}
}

void regs_for_resume(struct user_regs_struct *r, int live)
{
	if ((int64_t)r->orig_rax < 0)
		return;
	switch ((int64_t)r->rax) {
	case -ERESTARTSYS:
	case -ERESTARTNOINTR:
	case -ERESTARTNOHAND:
		r->rax = r->orig_rax;
		r->rip -= 2;
		break;
	case -ERESTART_RESTARTBLOCK:
		if (live) {
			r->rax = SYS_restart_syscall;
			r->rip -= 2;
		} else if (restartable_as_is(r)) {
			r->rax = r->orig_rax;
			r->rip -= 2;
		} else {
			r->rax = (uint64_t)-EINTR; /* relative sleeps: nanosleep has written the time left */
		}
		break;
	default:
		break;
	}
	r->orig_rax = (uint64_t)-1;
}
