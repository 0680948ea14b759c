/* Running syscalls inside a stopped tracee: at a `syscall` instruction, through PTRACE_SYSCALL
 * entry and exit stops, with every blockable signal blocked. Never int3 or single-step: the
 * forced SIGTRAP would reset a blocked or ignored SIGTRAP handler.
 *
 * A dump must leave its target alive whatever happens to ckpt, and a tracee whose tracer dies
 * simply runs on with the registers it has. So a dump arms each thread first (inject_arm): an
 * rt_sigframe holding the thread's own registers, signal mask and FPU/AVX state goes on its
 * stack, and every syscall runs at a gadget `syscall; mov $15,%eax; syscall; ud2` (in the spare
 * bytes of the vdso) with rsp just above that frame. Abandoned at any instant, the thread
 * finishes the syscall in flight and rt_sigreturns into exactly its own state. Restore does not
 * need this (its tracee dies with it: PTRACE_O_EXITKILL) and injects plainly. */
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
	int at_entry;            /* its last stop was the entry of an injected syscall */
	struct user_regs_struct orig; /* registers at the freeze (dump) */
	uint64_t mask;           /* the thread's own signal mask */
	uint64_t syscall_ip;     /* address of a `syscall` instruction in the tracee (dump: the gadget's) */
	struct ckpt_siginfo *dequeued; /* signals the kernel dequeued while we drove the thread */
	uint32_t ndequeued;
	pid_t tgid;              /* its process (dump), for messages and the frame's memory */
	/* dump, armed threads only (frame != 0) */
	uint64_t frame;          /* the rt_sigframe on the thread's stack; rsp is frame + 8 while injecting */
	uint64_t scratch;        /* INJECT_SCRATCH_LEN bytes inside the frame for syscall answers */
	uint8_t *covered;        /* what the frame overwrote below the red zone, put back at the end */
	uint32_t covered_len;
	pid_t new_task;          /* the task its last injected clone made (PTRACE_GETEVENTMSG, our pid namespace) */
	uint64_t batch_ip;       /* restore: where inject_batch_stub is in the tracee (0: no batches) */
};

/* The gadget: the injected syscall, then rt_sigreturn through the frame at rsp - 8. Two more
 * entries serve the leave-running snapshot (snapshot.c), whose new processes must never run the
 * program if ckpt dies while it drives them: at INJECT_FORK_ENTRY a clone whose child (rax == 0)
 * calls exit_group while the caller rt_sigreturns as above; at INJECT_ONEWAY_ENTRY a syscall
 * after which the caller, whatever it returned, calls exit_group. The slot is INJECT_GADGET_SLOT
 * bytes at the end of the vdso. */
#define INJECT_GADGET_LEN 33
#define INJECT_GADGET_SLOT 48
#define INJECT_ONEWAY_ENTRY 11
#define INJECT_FORK_ENTRY 24
extern const uint8_t inject_gadget[INJECT_GADGET_LEN];
/* The frame's siginfo, which rt_sigreturn does not read: the armed thread's own scratch. */
#define INJECT_SCRATCH_LEN 128

/* waitpid for one tracee, retrying EINTR; fails (exit 3) when the thread is gone. */
int tracee_wait(struct tracee *t, int *status);
/* A ptrace request on a stopped thread failed: ESRCH means it is gone, which here (in a stop we
 * saw) means its process is exiting, killed from outside: exit 3 naming the process. */
int tracee_fail(const struct tracee *t, const char *request);
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
/* Ends injecting: sets the signal mask `mask`, then `regs` (an armed thread keeps returning
 * through its frame until the second step), then puts back the stack bytes its frame covered. */
int inject_end(struct tracee *t, const struct user_regs_struct *regs, uint64_t mask);
/* Ends injecting into a live thread that is to go on as it was (a leave-running dump, a cancel,
 * a failure): its own registers and mask, set so that the kernel itself completes the call it
 * was stopped in, once detached. */
int inject_release(struct tracee *t);

/* Bytes of the frame for a thread with this XSAVE area, counted down from the red zone. */
uint32_t inject_frame_len(const uint8_t *xstate, uint32_t xstate_len, int xsave);
/* Arms a stopped thread (t->orig and its xstate captured, t->syscall_ip the gadget, placed):
 * writes its frame ending at rsp - 128 (`frame_len` bytes, checked by the caller to lie in a
 * private writable area), then blocks every signal. A thread stopped in a call that swapped its
 * mask (sigsuspend, ppoll, pselect6, epoll_pwait...) first runs rt_sigprocmask into its frame, so
 * that the frame holds the mask the kernel puts back, not the temporary one; signals dequeued
 * meanwhile are kept in t->dequeued for the caller to queue back at once. On return t->mask is
 * the thread's own mask. */
int inject_arm(pid_t pid, struct tracee *t, const uint8_t *xstate, uint32_t xstate_len, int xsave, uint32_t frame_len);

/* A batch: many syscalls for the price of one injection (each injected syscall is two ptrace
 * stops, ~23 us; hundreds of mmaps of a restore --lazy were most of its time). The tracee runs
 * them itself in a loop (inject_batch_stub, which restore places in its trampoline page) over
 * a table of entries written into its memory, under PTRACE_CONT, so that no stop comes between
 * them; the loop stops at the first call whose result is not the entry's `expect`, or at the
 * end, and reports by sending itself SIGSTOP (tgkill), whose signal-delivery-stop the tracer
 * takes and suppresses. Not int3 or a fault: a forced signal would reset a blocked or ignored
 * handler (see above); a SIGSTOP that is caught at its delivery changes nothing. A tracer that
 * dies meanwhile takes the tracee with it (restore's PTRACE_O_EXITKILL): a batch is for
 * processes ckpt made, never for a dump's target. */
struct syscall_entry {
	uint64_t nr, args[6];
	uint64_t expect; /* the result that counts as success; anything else ends the batch */
};
_Static_assert(sizeof(struct syscall_entry) == 64, "the stub's entry layout");
#define INJECT_BATCH_STUB_LEN 91
#define INJECT_BATCH_STOP 0x59 /* where the stub stops, just after its tgkill */
extern const uint8_t inject_batch_stub[INJECT_BATCH_STUB_LEN];
/* Runs e[0..n) in the stopped thread t (t->batch_ip set), as many at a time as fit in the
 * `table_len` bytes at `table` (writable scratch memory of the tracee). 0 with *failed = n when
 * every call returned its expect; 0 with *failed the index of the first that did not and *ret
 * what it returned (none after it ran); -1 (failure set) when the thread is lost. */
int inject_batch(struct tracee *t, uint64_t table, size_t table_len, const struct syscall_entry *e, size_t n, size_t *failed,
		 long *ret);

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
