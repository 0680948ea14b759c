/* The rt_sigframe through which an armed thread returns to its own state (see inject.h). The
 * layouts are the kernel's user ABI (uapi asm/sigcontext.h, asm-generic/ucontext.h, the 64-bit
 * struct rt_sigframe), declared here because glibc's ucontext_t is not the kernel's. */
#include "sigframe.h"

#include <cpuid.h>
#include <stddef.h>
#include <string.h>

struct k_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t di, si, bp, bx, dx, ax, cx, sp, ip, flags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate;
	uint64_t reserved1[8];
};

struct k_stack {
	uint64_t sp;
	int32_t flags, pad;
	uint64_t size;
};

struct k_ucontext {
	uint64_t flags, link;
	struct k_stack stack;
	struct k_sigcontext mcontext;
	uint64_t sigmask;
};

struct k_rt_sigframe {
	uint64_t pretcode;
	struct k_ucontext uc;
	uint8_t info[128];
};

_Static_assert(sizeof(struct k_sigcontext) == 256, "sigcontext");
_Static_assert(offsetof(struct k_ucontext, mcontext) == 40 && offsetof(struct k_ucontext, sigmask) == 296, "ucontext");
_Static_assert(sizeof(struct k_rt_sigframe) == 440, "rt_sigframe");

#define UC_FP_XSTATE 0x1
#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4
#define FP_XSTATE_MAGIC1 0x46505853u
#define FP_XSTATE_MAGIC2 0x46505845u
#define RED_ZONE 128
#define FXSAVE_LEN 512
#define XSAVE_HEADER_END 576 /* legacy area + XSAVE header */
#define SW_RESERVED_OFF 464  /* struct _fpx_sw_bytes inside the legacy area */
/* rt_sigreturn hands uc_stack to sigaltstack and ignores its errors: a mode that is neither 0,
 * SS_ONSTACK nor SS_DISABLE is refused (EINVAL) and leaves the thread's altstack as it is. */
#define ALTSTACK_LEAVE_ALONE 4

/* Bytes of the XSAVE area that hold state in use: up to the end of the highest component whose
 * XSTATE_BV bit is set (standard format offsets from CPUID leaf 0xd). The rest restores as init,
 * which is what an unset bit means. Smaller than the whole area (11 KiB with AMX) and never more
 * than the kernel's per-process sigframe size, which a larger xstate_size would fail against
 * (then only the FX part would be restored). */
static uint32_t xstate_used(const uint8_t *xs, uint32_t len, uint64_t *features)
{
	uint64_t bv;
	memcpy(&bv, xs + FXSAVE_LEN, 8);
	uint32_t end = XSAVE_HEADER_END;
	for (unsigned i = 2; i < 64; i++) {
		if (!(bv & (1ULL << i)))
			continue;
		unsigned size, off, ecx, edx;
		if (!__get_cpuid_count(0xd, i, &size, &off, &ecx, &edx) || !off || !size)
			return *features = bv | 3, len; /* not a user component we can place: keep it all */
		if (off + size > end)
			end = off + size;
	}
	*features = bv | 3; /* x87 and SSE (and MXCSR) always */
	return end < len ? end : len;
}

static uint32_t fpstate_len(const uint8_t *xstate, uint32_t xstate_len, int xsave, uint64_t *features)
{
	if (!xsave || xstate_len < XSAVE_HEADER_END)
		return *features = 3, FXSAVE_LEN;
	return xstate_used(xstate, xstate_len, features);
}

struct sigframe_layout sigframe_place(uint64_t rsp, const uint8_t *xstate, uint32_t xstate_len, int xsave)
{
	uint64_t features;
	uint32_t fl = fpstate_len(xstate, xstate_len, xsave, &features);
	struct sigframe_layout l;
	l.top = rsp - RED_ZONE;
	uint64_t fp = (l.top - fl - 4) & ~63ULL; /* XRSTOR wants 64-byte alignment; magic2 follows */
	l.frame = ((fp - sizeof(struct k_rt_sigframe)) & ~15ULL) - 8; /* rsp = frame + 8, 16-aligned, as after a call */
	l.mask_at = l.frame + offsetof(struct k_rt_sigframe, uc.sigmask);
	l.info_at = l.frame + offsetof(struct k_rt_sigframe, info);
	return l;
}

void sigframe_build(uint8_t *out, const struct sigframe_layout *l, const struct user_regs_struct *r, uint64_t mask,
		    const uint8_t *xstate, uint32_t xstate_len, int xsave)
{
	uint64_t features;
	uint32_t fl = fpstate_len(xstate, xstate_len, xsave, &features);
	uint64_t fp = (l->top - fl - 4) & ~63ULL;
	memset(out, 0, l->top - l->frame);
	struct k_rt_sigframe f;
	memset(&f, 0, sizeof(f));
	f.uc.flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	f.uc.stack.flags = ALTSTACK_LEAVE_ALONE;
	struct k_sigcontext *c = &f.uc.mcontext;
	c->r8 = r->r8, c->r9 = r->r9, c->r10 = r->r10, c->r11 = r->r11;
	c->r12 = r->r12, c->r13 = r->r13, c->r14 = r->r14, c->r15 = r->r15;
	c->di = r->rdi, c->si = r->rsi, c->bp = r->rbp, c->bx = r->rbx, c->dx = r->rdx, c->ax = r->rax, c->cx = r->rcx;
	c->sp = r->rsp, c->ip = r->rip, c->flags = r->eflags;
	c->cs = (uint16_t)r->cs, c->ss = (uint16_t)r->ss;
	c->fpstate = fp;
	f.uc.sigmask = mask;
	memcpy(out, &f, sizeof(f));

	uint8_t *fpo = out + (fp - l->frame);
	memcpy(fpo, xstate, fl <= xstate_len ? fl : xstate_len);
	struct {
		uint32_t magic1, extended_size;
		uint64_t xfeatures;
		uint32_t xstate_size, padding[7];
	} sw = {0};
	_Static_assert(sizeof(sw) == FXSAVE_LEN - SW_RESERVED_OFF, "fpx_sw_bytes");
	if (fl > FXSAVE_LEN) {
		sw.magic1 = FP_XSTATE_MAGIC1;
		sw.extended_size = fl + 4;
		sw.xfeatures = features;
		sw.xstate_size = fl;
		uint32_t m2 = FP_XSTATE_MAGIC2;
		memcpy(fpo + fl, &m2, 4);
	}
	memcpy(fpo + SW_RESERVED_OFF, &sw, sizeof(sw)); /* without magic1 the kernel restores the FX part only */
}
