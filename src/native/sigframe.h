/* The x86-64 rt_sigframe that returns a thread to its own state: what the kernel pushes when it
 * delivers a signal and what rt_sigreturn reads back at rsp - 8 (arch/x86/kernel/signal_64.c):
 * general registers, signal mask, and an XSAVE area with its software-reserved header, so that
 * the whole FPU/SSE/AVX state comes back, not the FX part only. */
#ifndef CKPT_SIGFRAME_H
#define CKPT_SIGFRAME_H

#include <stdint.h>
#include <sys/user.h>

struct sigframe_layout {
	uint64_t frame;   /* the frame's first byte (its return address slot); rsp is frame + 8 */
	uint64_t top;     /* one past its last byte: the end of the red zone below the thread's rsp */
	uint64_t mask_at; /* uc_sigmask */
	uint64_t info_at; /* the siginfo, which rt_sigreturn does not read */
};

/* Where a frame for this XSAVE area (or FXSAVE, xsave = 0) goes below a thread's stack pointer,
 * past the 128-byte red zone. */
struct sigframe_layout sigframe_place(uint64_t rsp, const uint8_t *xstate, uint32_t xstate_len, int xsave);
/* The frame's bytes, [frame, top): registers `regs` (resumed as given: rt_sigreturn sets
 * orig_rax = -1), signal mask `mask`, the altstack left alone, the FPU state `xstate`. */
void sigframe_build(uint8_t *out, const struct sigframe_layout *l, const struct user_regs_struct *regs, uint64_t mask,
		    const uint8_t *xstate, uint32_t xstate_len, int xsave);

#endif
