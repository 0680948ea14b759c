/* How one injected syscall runs: registers set to {rip = a syscall instruction, rax = nr,
 * args}, then PTRACE_SYSCALL to its entry stop and again to its exit stop, where rax is the
 * result. PTRACE_GET_SYSCALL_INFO tells our syscall's stops from any other; signals the kernel
 * dequeues meanwhile are kept (and re-queued by the caller) instead of delivered, so no
 * program code runs while we drive a thread. How a dump arms a thread first, so that a ckpt
 * killed at any instant leaves it as it was: inject.h. */
#include "ckpt.h"
#include "sigframe.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/futex.h>
#include <time.h>

const uint8_t inject_gadget[INJECT_GADGET_LEN] = {
	0x0f, 0x05,                   /*  0 syscall            the injected one */
	0xb8, 0x0f, 0x00, 0x00, 0x00, /*  2 mov $15, %eax      __NR_rt_sigreturn */
	0x0f, 0x05,                   /*  7 syscall            back to the frame at rsp - 8 */
	0x0f, 0x0b,                   /*  9 ud2                never reached */
	0x0f, 0x05,                   /* 11 syscall            INJECT_ONEWAY_ENTRY */
	0x31, 0xff,                   /* 13 xor %edi, %edi */
	0xb8, 0xe7, 0x00, 0x00, 0x00, /* 15 mov $231, %eax     __NR_exit_group */
	0x0f, 0x05,                   /* 20 syscall */
	0x0f, 0x0b,                   /* 22 ud2                never reached */
	0x0f, 0x05,                   /* 24 syscall            INJECT_FORK_ENTRY: a clone */
	0x48, 0x85, 0xc0,             /* 26 test %rax, %rax */
	0x74, 0xee,                   /* 29 jz 13              the child exits */
	0xeb, 0xe1,                   /* 31 jmp 2              the caller returns through its frame */
};

/* A traced thread that has exited but whose exit the kernel holds back: a thread group leader
 * is reported only once its sibling threads, ours too, have been reaped (the group was killed,
 * or another thread exec'd, while we drove the leader). Reaps the siblings that are zombies. */
static void reap_zombie_siblings(pid_t tid)
{
	char path[64];
	struct proc_stat ps;
	if (proc_stat(tid, tid, &ps) < 0 || (ps.state != 'Z' && ps.state != 'X'))
		return;
	snprintf(path, sizeof(path), "/proc/%d/task", tid);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *de;
	int st;
	while ((de = readdir(d)))
		if (atoi(de->d_name) > 0 && atoi(de->d_name) != tid)
			waitpid(atoi(de->d_name), &st, __WALL | WNOHANG);
	closedir(d);
}

int tracee_wait(struct tracee *t, int *status)
{
	/* Not a blocking waitpid(tid): a leader whose exit is held back by its siblings would never
	 * report. Every ptrace stop and exit sends us SIGCHLD, blocked here so that none is lost
	 * between the look and the wait. */
	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	pid_t r;
	for (;;) {
		r = waitpid(t->tid, status, __WALL | WNOHANG);
		if (r == t->tid || (r < 0 && errno != EINTR))
			break;
		if (r == 0)
			reap_zombie_siblings(t->tid); /* then its own exit comes, with a SIGCHLD */
		struct timespec tick = {0, 50 * 1000000L};
		sigtimedwait(&chld, NULL, &tick);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (r != t->tid) {
		t->stopped = t->attached = 0;
		return fail_errno(EXIT_NOPROC, "thread %d went away", t->tid);
	}
	if (WIFEXITED(*status) || WIFSIGNALED(*status)) {
		t->stopped = t->attached = 0;
		pid_t pid = t->tgid ? t->tgid : t->tid;
		if (WIFSIGNALED(*status))
			return fail(EXIT_NOPROC, "process %d exited during the checkpoint (thread %d killed by signal %d)", pid, t->tid, WTERMSIG(*status));
		return fail(EXIT_NOPROC, "process %d exited during the checkpoint (thread %d, status %d)", pid, t->tid, WEXITSTATUS(*status));
	}
	t->stopped = 1;
	return 0;
}

static int keep_dequeued(struct tracee *t)
{
	siginfo_t si;
	if (ptrace(PTRACE_GETSIGINFO, t->tid, 0, &si) < 0)
		return tracee_fail(t, "PTRACE_GETSIGINFO");
	t->dequeued = xrealloc(t->dequeued, (t->ndequeued + 1) * sizeof(*t->dequeued));
	_Static_assert(sizeof(si) == sizeof(struct ckpt_siginfo), "siginfo size");
	memcpy(&t->dequeued[t->ndequeued++], &si, sizeof(si));
	return 0;
}

int tracee_fail(const struct tracee *t, const char *request)
{
	if (errno == ESRCH)
		return fail(EXIT_NOPROC, "process %d exited during the checkpoint (thread %d is gone)", t->tgid ? t->tgid : t->tid, t->tid);
	return fail_errno(EXIT_FAIL, "%s on thread %d", request, t->tid);
}

static int set_regs(struct tracee *t, const struct user_regs_struct *r)
{
	if (ptrace(PTRACE_SETREGS, t->tid, 0, r) < 0)
		return tracee_fail(t, "PTRACE_SETREGS");
	fault_point("setregs");
	return 0;
}

static int set_mask(struct tracee *t, uint64_t mask)
{
	if (ptrace(PTRACE_SETSIGMASK, t->tid, sizeof(uint64_t), &mask) < 0)
		return tracee_fail(t, "PTRACE_SETSIGMASK");
	fault_point("setsigmask");
	return 0;
}

/* Registers for one injected syscall: an armed thread runs it at the gadget with its frame
 * just above rsp; otherwise at t->syscall_ip on its own stack. */
static struct user_regs_struct syscall_regs(const struct tracee *t, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
					    uint64_t a4, uint64_t a5, uint64_t a6)
{
	struct user_regs_struct r = t->orig;
	r.rip = t->syscall_ip;
	if (t->frame)
		r.rsp = t->frame + 8;
	r.rax = (uint64_t)nr;
	r.orig_rax = (uint64_t)-1;
	r.rdi = a1, r.rsi = a2, r.rdx = a3, r.r10 = a4, r.r8 = a5, r.r9 = a6;
	return r;
}

int inject_syscall(struct tracee *t, long *ret, long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
		   uint64_t a5, uint64_t a6)
{
	struct user_regs_struct r = syscall_regs(t, nr, a1, a2, a3, a4, a5, a6);
	t->regs_changed = 1; /* before: a failed SETREGS may still have changed them */
	if (set_regs(t, &r) < 0)
		return -1;
	int entered = 0;
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, t->tid, 0, 0) < 0)
			return tracee_fail(t, "PTRACE_SYSCALL");
		t->stopped = 0;
		fault_point("resume");
		int st;
		if (tracee_wait(t, &st) < 0)
			return -1;
		fault_point("stop");
		int sig = WSTOPSIG(st), event = st >> 16;
		if (sig == (SIGTRAP | 0x80)) {
			struct __ptrace_syscall_info info;
			if (ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, sizeof(info), &info) < 0)
				return tracee_fail(t, "PTRACE_GET_SYSCALL_INFO");
			t->at_entry = info.op == PTRACE_SYSCALL_INFO_ENTRY;
			if (!entered && info.op == PTRACE_SYSCALL_INFO_ENTRY && info.entry.nr == (uint64_t)nr &&
			    info.instruction_pointer == t->syscall_ip + 2) {
				entered = 1;
			} else if (entered && info.op == PTRACE_SYSCALL_INFO_EXIT) {
				*ret = (long)info.exit.rval;
				return 0;
			}
			continue; /* a stop of some other syscall: not ours */
		}
		t->at_entry = 0;
		if (event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK) {
			unsigned long msg;
			if (ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &msg) == 0)
				t->new_task = (pid_t)msg;
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

/* The loop of a batch (inject.h), position-independent; r12 = first entry, r13 = end of the
 * table. It stops with r12 at the entry that failed (or the end) and r15 = that call's result. */
const uint8_t inject_batch_stub[INJECT_BATCH_STUB_LEN] = {
	0x4d, 0x39, 0xec,             /* 00 next: cmp %r13, %r12 */
	0x73, 0x31,                   /* 03 jae stop               the end of the table */
	0x49, 0x8b, 0x04, 0x24,       /* 05 mov (%r12), %rax       nr */
	0x49, 0x8b, 0x7c, 0x24, 0x08, /* 09 mov 8(%r12), %rdi      args[0..5] */
	0x49, 0x8b, 0x74, 0x24, 0x10, /* 0e mov 16(%r12), %rsi */
	0x49, 0x8b, 0x54, 0x24, 0x18, /* 13 mov 24(%r12), %rdx */
	0x4d, 0x8b, 0x54, 0x24, 0x20, /* 18 mov 32(%r12), %r10 */
	0x4d, 0x8b, 0x44, 0x24, 0x28, /* 1d mov 40(%r12), %r8 */
	0x4d, 0x8b, 0x4c, 0x24, 0x30, /* 22 mov 48(%r12), %r9 */
	0x0f, 0x05,                   /* 27 syscall */
	0x49, 0x3b, 0x44, 0x24, 0x38, /* 29 cmp 56(%r12), %rax     expect */
	0x75, 0x06,                   /* 2e jne stop */
	0x49, 0x83, 0xc4, 0x40,       /* 30 add $64, %r12 */
	0xeb, 0xca,                   /* 34 jmp next */
	0x49, 0x89, 0xc7,             /* 36 stop: mov %rax, %r15 */
	0xb8, 0x27, 0x00, 0x00, 0x00, /* 39 again: mov $39, %eax   __NR_getpid */
	0x0f, 0x05,                   /* 3e syscall */
	0x48, 0x89, 0xc7,             /* 40 mov %rax, %rdi */
	0xb8, 0xba, 0x00, 0x00, 0x00, /* 43 mov $186, %eax         __NR_gettid */
	0x0f, 0x05,                   /* 48 syscall */
	0x48, 0x89, 0xc6,             /* 4a mov %rax, %rsi */
	0xba, 0x13, 0x00, 0x00, 0x00, /* 4d mov $19, %edx          SIGSTOP */
	0xb8, 0xea, 0x00, 0x00, 0x00, /* 52 mov $234, %eax         __NR_tgkill */
	0x0f, 0x05,                   /* 57 syscall */
	0xeb, 0xde,                   /* 59 jmp again              INJECT_BATCH_STOP: resumed as is, it stops again */
};

int inject_batch(struct tracee *t, uint64_t table, size_t table_len, const struct syscall_entry *e, size_t n, size_t *failed,
		 long *ret)
{
	size_t cap = table_len / sizeof(*e);
	pid_t pid = t->tgid ? t->tgid : t->tid;
	*failed = n;
	*ret = 0;
	if (!t->batch_ip || !cap)
		return fail(EXIT_FAIL, "thread %d: no place to run a batch of syscalls", t->tid);
	for (size_t at = 0; at < n;) {
		size_t k = n - at < cap ? n - at : cap;
		if (mem_write(pid, table, e + at, k * sizeof(*e)) < 0)
			return fail_errno(EXIT_FAIL, "cannot write to process %d", pid);
		struct user_regs_struct r = t->orig;
		r.rip = t->batch_ip;
		r.orig_rax = (uint64_t)-1;
		r.r12 = table;
		r.r13 = table + k * sizeof(*e);
		t->regs_changed = 1;
		if (set_regs(t, &r) < 0)
			return -1;
		t->at_entry = 0;
		for (;;) {
			if (ptrace(PTRACE_CONT, t->tid, 0, 0) < 0)
				return tracee_fail(t, "PTRACE_CONT");
			t->stopped = 0;
			fault_point("batch");
			int st;
			if (tracee_wait(t, &st) < 0)
				return -1;
			int sig = WSTOPSIG(st), event = st >> 16;
			if (event || sig == (SIGTRAP | 0x80))
				continue; /* a group stop or an interrupt: not the loop's end */
			siginfo_t si;
			if (ptrace(PTRACE_GETSIGINFO, t->tid, 0, &si) < 0)
				return tracee_fail(t, "PTRACE_GETSIGINFO");
			if (ptrace(PTRACE_GETREGS, t->tid, 0, &r) < 0)
				return tracee_fail(t, "PTRACE_GETREGS");
			if (sig == SIGSTOP && si.si_code == SI_TKILL && r.rip == t->batch_ip + INJECT_BATCH_STOP)
				break; /* the loop's own stop: suppressed by the next resume, which passes no signal */
			if (keep_dequeued(t) < 0) /* another signal (all are blocked: SIGSTOP from outside) */
				return -1;
		}
		if (r.r12 < table || r.r12 > table + k * sizeof(*e) || (r.r12 - table) % sizeof(*e))
			return fail(EXIT_FAIL, "thread %d: its batch of syscalls stopped at an unexpected entry (0x%llx)", t->tid,
				    (unsigned long long)r.r12);
		size_t done = (size_t)(r.r12 - table) / sizeof(*e);
		if (done < k) {
			*failed = at + done;
			*ret = (long)r.r15;
			return 0;
		}
		at += k;
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
		return tracee_fail(t, "PTRACE_GETSIGMASK");
	t->mask_changed = 1;
	return set_mask(t, ~0ULL);
}

/* Whether the kernel may still owe this thread its own mask: a call that swaps in a temporary
 * mask (set_user_sigmask, sigsuspend) and was interrupted leaves TIF_RESTORE_SIGMASK set, and
 * the mask comes back only on the way out to user mode. Until then PTRACE_GETSIGMASK shows the
 * temporary one. */
static int mask_owed(const struct user_regs_struct *r)
{
	if ((int64_t)r->orig_rax < 0)
		return 0;
	switch (r->orig_rax) {
	case SYS_rt_sigsuspend:
	case SYS_ppoll:
	case SYS_pselect6:
	case SYS_epoll_pwait:
	case 441: /* epoll_pwait2 */
	case 333: /* io_pgetevents */
	case 426: /* io_uring_enter */
		return 1;
	default:
		return (int64_t)r->rax == -ERESTARTNOHAND;
	}
}

int inject_arm(pid_t pid, struct tracee *t, const uint8_t *xstate, uint32_t xstate_len, int xsave, uint32_t frame_len)
{
	if (ptrace(PTRACE_GETSIGMASK, t->tid, sizeof(uint64_t), &t->mask) < 0)
		return tracee_fail(t, "PTRACE_GETSIGMASK");
	struct sigframe_layout l = sigframe_place(t->orig.rsp, xstate, xstate_len, xsave);
	if (l.top - l.frame != frame_len)
		return fail(EXIT_FAIL, "thread %d: the frame layout changed", t->tid);
	/* rt_sigreturn resets restart_block, so the frame resumes a sleep the way a restored process
	 * does (re-run when exact, else EINTR with the time left written), not by restart_syscall */
	struct user_regs_struct resume = t->orig;
	regs_for_resume(&resume, 0);
	uint8_t *frame = xmalloc(frame_len);
	sigframe_build(frame, &l, &resume, t->mask, xstate, xstate_len, xsave);
	t->covered = xmalloc(frame_len);
	t->tgid = pid;
	if (mem_read(pid, l.frame, t->covered, frame_len) < 0) {
		free(frame);
		free(t->covered);
		t->covered = NULL;
		return fail_errno(EXIT_FAIL, "cannot read the stack of thread %d", t->tid);
	}
	t->covered_len = frame_len;
	int w = mem_write(pid, l.frame, frame, frame_len);
	free(frame);
	if (w < 0) {
		int e = errno;
		mem_write(pid, l.frame, t->covered, frame_len);
		free(t->covered);
		t->covered = NULL;
		errno = e;
		return fail_errno(EXIT_FAIL, "cannot write to the stack of thread %d", t->tid);
	}
	fault_point("frame");
	t->frame = l.frame;
	t->scratch = l.info_at;
	if (mask_owed(&t->orig)) {
		/* the thread itself writes the mask it has once the kernel gave it back into its frame */
		long r;
		if (inject_syscall(t, &r, SYS_rt_sigprocmask, SIG_BLOCK, 0, l.mask_at, sizeof(uint64_t), 0, 0) < 0)
			return -1;
		if (r < 0 || ptrace(PTRACE_GETSIGMASK, t->tid, sizeof(uint64_t), &t->mask) < 0)
			return fail(EXIT_FAIL, "cannot read the signal mask of thread %d (%ld)", t->tid, r);
	} else {
		/* at the gadget, with a harmless call to finish if abandoned right here */
		struct user_regs_struct r = syscall_regs(t, SYS_getpid, 0, 0, 0, 0, 0, 0);
		t->regs_changed = 1;
		if (set_regs(t, &r) < 0)
			return -1;
	}
	/* only now: blocked signals with the thread's own registers would stay blocked forever */
	t->mask_changed = 1;
	return set_mask(t, ~0ULL);
}

int inject_end(struct tracee *t, const struct user_regs_struct *regs, uint64_t mask)
{
	/* the mask first: until its registers are set too, an armed thread would still return
	 * through its frame, which holds the same mask */
	if (set_mask(t, mask) < 0)
		return -1;
	t->mask_changed = 0;
	if (set_regs(t, regs) < 0)
		return -1;
	t->regs_changed = 0;
	if (t->covered) {
		/* below the red zone, where a signal frame could have gone: nothing the program relies
		 * on, but the image and the process keep their own bytes */
		int w = mem_write(t->tgid, t->frame, t->covered, t->covered_len);
		fault_point("uncover");
		if (w < 0)
			warn("cannot put back %u bytes of the stack of thread %d below its red zone", t->covered_len, t->tid);
		free(t->covered);
		t->covered = NULL;
	}
	t->frame = t->scratch = 0;
	return 0;
}

int inject_release(struct tracee *t)
{
	struct user_regs_struct regs = t->orig;
	/* From an interrupt or syscall-exit stop, the thread leaves through the kernel's signal path
	 * (PTRACE_DETACH of a stopped tracee sets TIF_SIGPENDING), which restarts the call it was
	 * in exactly as if we had never stopped it: a signal that came meanwhile (blocked while we
	 * drove the thread) interrupts it with EINTR, as it would have, instead of meeting a thread
	 * rewound to just before the call, which would then sleep on in pause() or a read().
	 * From a syscall-entry stop the kernel would run the call at once: rewind it ourselves. */
	if (t->at_entry)
		regs_for_resume(&regs, 1);
	return inject_end(t, &regs, t->mask);
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
