/* Running syscalls inside a stopped tracee: at an existing `syscall` instruction, through
 * PTRACE_SYSCALL entry and exit stops, with every blockable signal blocked. Never int3 or
 * single-step: the forced SIGTRAP would reset a blocked or ignored SIGTRAP handler. */
#ifndef CKPT_INJECT_H
#define CKPT_INJECT_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "ckpt_format.h"

struct tracee {
	pid_t tid;
	int attached;            /* traced by us */
	int stopped;             /* in a ptrace stop */
	int regs_changed;        /* registers differ from `orig` */
	int mask_changed;        /* signal mask differs from `mask` */
	struct user_regs_struct orig; /* registers at the freeze (dump) */
	uint64_t mask;           /* the thread's own signal mask */
	uint64_t syscall_ip;     /* address of a `syscall` instruction in the tracee */
	struct ckpt_siginfo *dequeued; /* signals the kernel dequeued while we drove the thread */
	uint32_t ndequeued;
};

/* waitpid for one tracee, retrying EINTR; fails (exit 3) when the thread is gone. */
int tracee_wait(struct tracee *t, int *status);
/* Starts injecting (t->orig already holds the thread's registers): optionally first lets
 * the kernel finish its own return path with the thread's mask (so that a mask saved by
 * sigsuspend/ppoll/pselect is back in place and readable), then blocks every signal. */
int inject_begin(struct tracee *t, int first_hop);
/* One syscall; *ret is its return value (negative errno). -1 only when the thread is lost. */
int inject_syscall(struct tracee *t, long *ret, long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
		   uint64_t a5, uint64_t a6);
/* inject_syscall, and a failure saying `what` when the syscall returns an error. */
int inject_checked(struct tracee *t, long *ret, const char *what, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
		   uint64_t a4, uint64_t a5, uint64_t a6);
/* Ends injecting: sets `regs` and the signal mask `mask`. */
int inject_end(struct tracee *t, const struct user_regs_struct *regs, uint64_t mask);

/* Registers for resuming a thread that stopped inside a syscall: applies the restart the
 * kernel would have done (ERESTART* -> re-execute; ERESTART_RESTARTBLOCK -> restart_syscall
 * when `live`, -EINTR when restored, since restart_block is kernel state) and sets
 * orig_rax = -1 so that the kernel does not apply it a second time. */
void regs_for_resume(struct user_regs_struct *r, int live);

#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

#endif
