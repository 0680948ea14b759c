/* Threads: their registers and per-thread kernel state (xstate, signal mask, rseq, robust list,
 * tid address, alternate stack, name), and recreating them in a restored process. Freezing them
 * is freeze.c's. */
#include "ckpt.h"

#include <dirent.h>
#include <elf.h>
#include <sched.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define XSTATE_MAX (64 * 1024)

int threads_release(struct proc_state *p)
{
	int rc = 0;
	for (size_t i = 0; i < p->nthreads; i++) {
		struct tracee *t = &p->threads[i].tr;
		if (!t->attached)
			continue;
		if (t->stopped) {
			if ((t->regs_changed || t->mask_changed) && inject_release(t) < 0)
				rc = -1;
			/* what the kernel dequeued while we drove the thread and was not queued back yet
			 * (a rollback, or SIGSTOP): delivered now, so that no signal is lost */
			int sig = t->ndequeued ? t->dequeued[0].si_signo : 0;
			for (uint32_t k = 0; k < t->ndequeued; k++)
				if (t->dequeued[k].si_signo == SIGSTOP)
					sig = SIGSTOP;
			if (ptrace(PTRACE_DETACH, t->tid, 0, sig) < 0 && errno != ESRCH)
				rc = -1;
		}
		/* a thread that never stopped is detached by our exit */
		t->attached = t->stopped = 0;
	}
	return rc;
}

/* A thread stopped inside an rseq critical section resumes at its abort handler, as the kernel
 * would make it after any preemption; our injections would otherwise just clear rseq_cs. */
static void rseq_fixup(pid_t pid, struct thread_state *t)
{
	if (!t->f.rseq_addr || (int64_t)t->tr.orig.orig_rax >= 0)
		return;
	uint64_t cs;
	struct {
		uint32_t version, flags;
		uint64_t start_ip, post_commit_offset, abort_ip;
	} desc;
	if (mem_read(pid, t->f.rseq_addr + 8, &cs, 8) < 0 || !cs || mem_read(pid, cs, &desc, sizeof(desc)) < 0)
		return;
	uint64_t ip = t->tr.orig.rip;
	if (ip >= desc.start_ip && ip - desc.start_ip < desc.post_commit_offset)
		t->tr.orig.rip = desc.abort_ip;
}

int threads_capture(pid_t pid, struct proc_state *p)
{
	uint8_t *xs = xmalloc(XSTATE_MAX);
	int rc = -1;
	for (size_t i = 0; i < p->nthreads; i++) {
		struct thread_state *t = &p->threads[i];
		pid_t tid = t->tr.tid;
		t->f.tid = (uint32_t)tid;
		if (ptrace(PTRACE_GETREGS, tid, 0, &t->tr.orig) < 0) {
			tracee_fail(&t->tr, "PTRACE_GETREGS");
			goto out;
		}
		struct iovec iov = {xs, XSTATE_MAX};
		if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov) == 0) {
			t->f.xstate_kind = CKPT_XSTATE_KIND_XSAVE;
		} else {
			iov.iov_len = sizeof(struct user_fpregs_struct);
			if (ptrace(PTRACE_GETFPREGS, tid, 0, xs) < 0) {
				tracee_fail(&t->tr, "PTRACE_GETFPREGS");
				goto out;
			}
			t->f.xstate_kind = CKPT_XSTATE_KIND_FXSAVE;
		}
		t->xstate_len = (uint32_t)iov.iov_len;
		t->xstate = memcpy(xmalloc(iov.iov_len), xs, iov.iov_len);

		struct __ptrace_rseq_configuration rs;
		if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(rs), &rs) == (long)sizeof(rs) && rs.rseq_abi_pointer) {
			t->f.rseq_addr = rs.rseq_abi_pointer;
			t->f.rseq_len = rs.rseq_abi_size;
			t->f.rseq_sig = rs.signature;
		}
		rseq_fixup(pid, t);

		uint64_t head = 0;
		size_t len = 0;
		if (syscall(SYS_get_robust_list, tid, &head, &len) == 0) {
			t->f.robust_list = head;
			t->f.robust_list_len = len;
		}
		size_t n;
		t->comm = read_filef(&n, "/proc/%d/task/%d/comm", pid, tid);
		if (!t->comm) {
			fail_errno(EXIT_NOPROC, "thread %d", tid);
			goto out;
		}
		if (n && t->comm[n - 1] == '\n')
			t->comm[n - 1] = 0;
		char *st = read_filef(NULL, "/proc/%d/task/%d/status", pid, tid);
		const char *v = st ? find_key(st, "SigPnd") : NULL;
		t->f.sigpending = v ? strtoull(v, NULL, 16) : 0;
		free(st);

		t->f.flags = (tid == pid ? CKPT_THREAD_FLAGS_MAIN_THREAD : 0) |
			     ((int64_t)t->tr.orig.orig_rax >= 0 ? CKPT_THREAD_FLAGS_IN_SYSCALL : 0);
		memcpy(&t->f.regs, &t->tr.orig, sizeof(t->f.regs));
	}
	rc = 0;
out:
	free(xs);
	return rc;
}

/* Per-thread state only the thread itself can tell: asked by injected syscalls. */
int thread_inject_capture(pid_t pid, struct thread_state *t, uint64_t scratch)
{
	long r;
	if (inject_syscall(&t->tr, &r, SYS_sigaltstack, 0, scratch, 0, 0, 0, 0) < 0)
		return -1;
	stack_t ss;
	if (r < 0 || mem_read(pid, scratch, &ss, sizeof(ss)) < 0)
		return fail(EXIT_FAIL, "cannot read the alternate signal stack of thread %d (%ld)", t->tr.tid, r);
	t->f.altstack_sp = (uint64_t)ss.ss_sp;
	t->f.altstack_size = ss.ss_size;
	t->f.altstack_flags = (uint32_t)ss.ss_flags;
	if (inject_syscall(&t->tr, &r, SYS_prctl, PR_GET_TID_ADDRESS, scratch, 0, 0, 0, 0) < 0)
		return -1;
	uint64_t addr;
	if (r < 0 || mem_read(pid, scratch, &addr, 8) < 0)
		return fail(EXIT_FAIL, "cannot read the tid address of thread %d (%ld)", t->tr.tid, r);
	t->f.tid_address = addr;
	t->f.sigmask = t->tr.mask;
	return 0;
}

uint32_t thread_write(struct image_writer *w, const struct thread_state *t, uint32_t proc_tag)
{
	struct buf b = {0};
	buf_put(&b, &t->f, sizeof(t->f));
	buf_lstr(&b, t->comm);
	buf_lbytes(&b, t->xstate, t->xstate_len);
	uint32_t tag = iw_record(w, CKPT_RECORD_TYPE_THREAD, proc_tag, b.p, (uint32_t)b.len);
	buf_free(&b);
	return tag;
}

int thread_read(const struct image *im, const struct image_record *r, struct thread_state *t)
{
	struct rcur c;
	rc_init(&c, im, r);
	if (rc_get(&c, &t->f, sizeof(t->f), "thread fixed fields") < 0 || rc_lstr(&c, &t->comm, "comm") < 0 ||
	    rc_lbytes(&c, &t->xstate, &t->xstate_len, "xstate") < 0)
		return -1;
	if (!ckpt_valid_thread_xstate_kind(&t->f, t->f.xstate_kind))
		return image_bad(im, r, payload_at(r) + offsetof(struct ckpt_thread_fixed, xstate_kind), "unknown xstate kind %u",
				 t->f.xstate_kind);
	return 0;
}

/* ---- restore ---- */

#define THREAD_CLONE_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM)

/* A new thread made by an injected clone in the main thread; it stops before its first
 * instruction (PTRACE_O_TRACECLONE) and is then driven like the main thread. */
int thread_create(struct tracee *main, struct thread_state *t, uint64_t scratch)
{
	long r;
	/* its own TID again when that is free and allowed (CAP_CHECKPOINT_RESTORE), else a new one */
	struct clone3_args a = {.flags = THREAD_CLONE_FLAGS, .set_tid = scratch + 256, .set_tid_size = 1};
	int32_t tid = (int32_t)t->f.tid;
	if (mem_write(main->tid, scratch, &a, sizeof(a)) < 0 || mem_write(main->tid, scratch + 256, &tid, 4) < 0)
		return fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
	if (inject_syscall(main, &r, SYS_clone3, scratch, sizeof(a), 0, 0, 0, 0) < 0)
		return -1;
	if (r < 0 && inject_syscall(main, &r, SYS_clone, THREAD_CLONE_FLAGS, scratch + 4096, 0, 0, 0, 0) < 0)
		return -1;
	if (r < 0) {
		errno = (int)-r;
		return fail_errno(EXIT_FAIL, "cannot create thread %u (clone%s)", t->f.tid,
				  r == -EAGAIN ? ", the user's RLIMIT_NPROC?" : "");
	}
	t->tr.tid = (pid_t)r;
	t->tr.attached = 1;
	t->tr.syscall_ip = main->syscall_ip;
	int st;
	if (tracee_wait(&t->tr, &st) < 0)
		return -1;
	if (ptrace(PTRACE_GETREGS, t->tr.tid, 0, &t->tr.orig) < 0)
		return fail_errno(EXIT_FAIL, "PTRACE_GETREGS on new thread %d", t->tr.tid);
	return inject_begin(&t->tr, 0);
}

static const char *what(pid_t tid, const char *state)
{
	static char msg[128];
	snprintf(msg, sizeof(msg), "restore: cannot restore %s of thread %d", state, tid);
	return msg;
}

/* Per-thread kernel state, set by the thread itself. */
int thread_restore_state(pid_t pid, struct thread_state *t, uint64_t scratch)
{
	struct tracee *tr = &t->tr;
	if (inject_checked(tr, NULL, what(tr->tid, "the tid address"), SYS_set_tid_address, t->f.tid_address, 0, 0, 0, 0, 0) < 0)
		return -1;
	if (t->f.robust_list && inject_checked(tr, NULL, what(tr->tid, "the robust list"), SYS_set_robust_list, t->f.robust_list,
					       t->f.robust_list_len, 0, 0, 0, 0) < 0)
		return -1;
	stack_t ss = {.ss_sp = (void *)t->f.altstack_sp, .ss_flags = (int)(t->f.altstack_flags & ~SS_ONSTACK),
		      .ss_size = t->f.altstack_size};
	if (ss.ss_flags & SS_DISABLE)
		ss = (stack_t){.ss_sp = NULL, .ss_flags = SS_DISABLE, .ss_size = 0};
	if (mem_write(pid, scratch, &ss, sizeof(ss)) < 0)
		return fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
	if (inject_checked(tr, NULL, what(tr->tid, "the alternate signal stack"), SYS_sigaltstack, scratch, 0, 0, 0, 0, 0) < 0)
		return -1;
	char name[16] = {0};
	strncpy(name, t->comm ? t->comm : "", sizeof(name) - 1);
	if (mem_write(pid, scratch, name, sizeof(name)) < 0)
		return fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
	if (inject_checked(tr, NULL, what(tr->tid, "the name"), SYS_prctl, PR_SET_NAME, scratch, 0, 0, 0, 0) < 0)
		return -1;
	if (t->f.rseq_addr && inject_checked(tr, NULL, what(tr->tid, "the rseq area"), SYS_rseq, t->f.rseq_addr, t->f.rseq_len, 0,
					     t->f.rseq_sig, 0, 0) < 0)
		return -1;
	/* glibc caches the thread's TID in its struct pthread, where the tid address points */
	uint32_t cached;
	if (t->f.tid_address && mem_read(pid, t->f.tid_address, &cached, 4) == 0 && cached == t->f.tid) {
		uint32_t now = (uint32_t)tr->tid;
		if (mem_write(pid, t->f.tid_address, &now, 4) < 0)
			return fail_errno(EXIT_FAIL, "restore: cannot fix the cached TID of thread %d", tr->tid);
	}
	return 0;
}

/* Registers, FPU/AVX state and signal mask as they were, and the thread is ready to go. */
int thread_restore_final(struct thread_state *t)
{
	struct tracee *tr = &t->tr;
	if (t->xstate_len) {
		struct iovec iov = {t->xstate, t->xstate_len};
		long r = t->f.xstate_kind == CKPT_XSTATE_KIND_XSAVE ? ptrace(PTRACE_SETREGSET, tr->tid, NT_X86_XSTATE, &iov)
								  : ptrace(PTRACE_SETFPREGS, tr->tid, 0, t->xstate);
		if (r < 0)
			return fail_errno(EXIT_UNSUPPORTED, "cannot restore the FPU/AVX state of thread %u (a different CPU?)", t->f.tid);
	}
	struct user_regs_struct regs;
	memcpy(&regs, &t->f.regs, sizeof(regs));
	regs_for_resume(&regs, 0);
	return inject_end(tr, &regs, t->f.sigmask);
}
