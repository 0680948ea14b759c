/* The memory descriptor: code/data/brk/stack/arg/env bounds, the auxiliary vector, and the
 * vdso (its hash ties an image to a kernel). Restore sets them all at once with
 * PR_SET_MM_MAP, which brk and /proc/PID/cmdline depend on. */
#include "ckpt.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

int mm_capture(pid_t pid, struct proc_state *p)
{
	size_t len;
	char *auxv = read_filef(&len, "/proc/%d/auxv", pid);
	if (!auxv)
		return fail_errno(EXIT_PERM, "cannot read /proc/%d/auxv", pid);
	size_t n = len / sizeof(struct ckpt_auxv_entry);
	p->auxv = xmalloc(n * sizeof(struct ckpt_auxv_entry) + 1);
	memcpy(p->auxv, auxv, n * sizeof(struct ckpt_auxv_entry));
	p->mm.nauxv = (uint32_t)n;
	free(auxv);
	return 0;
}

/* One past the last byte the vdso's ELF headers describe (program segments, section headers,
 * section contents): what follows, up to the end of the mapping, is zero padding. */
static uint64_t elf_extent(const uint8_t *b, size_t len)
{
	Elf64_Ehdr eh;
	if (len < sizeof(eh))
		return len;
	memcpy(&eh, b, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    eh.e_shentsize != sizeof(Elf64_Shdr))
		return len;
	uint64_t end = sizeof(eh);
	if (eh.e_phoff > len || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff ||
	    eh.e_shoff > len || (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr) > len - eh.e_shoff)
		return len;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, b + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_offset + ph.p_filesz > end)
			end = ph.p_offset + ph.p_filesz;
	}
	if (eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > end)
		end = eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		Elf64_Shdr sh;
		memcpy(&sh, b + eh.e_shoff + i * sizeof(sh), sizeof(sh));
		if (sh.sh_type != SHT_NOBITS && sh.sh_offset + sh.sh_size > end)
			end = sh.sh_offset + sh.sh_size;
	}
	if (eh.e_shoff + (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr) > end)
		end = eh.e_shoff + (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr);
	return end < len ? end : len;
}

/* Where the injection gadget goes: the last INJECT_GADGET_SLOT bytes of the vdso mapping, if
 * they lie past its ELF contents and are zero, or already hold the gadget (left by a dump that
 * was killed). Returns the offset, or -1. */
static long gadget_slot(uint8_t *b, size_t len)
{
	if (len < 2 * INJECT_GADGET_SLOT)
		return -1;
	size_t off = (len - INJECT_GADGET_SLOT) & ~(size_t)15;
	if (off < ((elf_extent(b, len) + 15) & ~15ULL))
		return -1;
	uint8_t zero[INJECT_GADGET_SLOT] = {0}, ours[INJECT_GADGET_SLOT] = {0};
	memcpy(ours, inject_gadget, INJECT_GADGET_LEN);
	if (!memcmp(b + off, ours, INJECT_GADGET_SLOT))
		memset(b + off, 0, INJECT_GADGET_SLOT); /* the vdso as the kernel made it, for its hash */
	return memcmp(b + off, zero, INJECT_GADGET_SLOT) ? -1 : (long)off;
}

/* The vdso's hash; the address for the injection gadget (0 when its padding has no room); and a
 * `syscall` instruction to inject through without one: in the vdso (the kernel's own fallback
 * paths have one), else in any executable area. */
int mm_find_syscall(pid_t pid, struct proc_state *p, uint64_t *gadget, uint64_t *ip)
{
	*ip = *gadget = 0;
	for (int pass = 0; pass < 2 && !*ip; pass++) {
		for (size_t i = 0; i < p->nvmas && !*ip; i++) {
			const struct vma_state *v = &p->vmas[i];
			int vdso = v->f.kind == CKPT_VMA_KIND_VDSO;
			if (pass == 0 ? !vdso : (vdso || !(v->f.prot & CKPT_VMA_PROT_EXEC) || v->f.kind == CKPT_VMA_KIND_VSYSCALL))
				continue;
			size_t len = v->f.end - v->f.start;
			if (len > (16u << 20))
				len = 16u << 20;
			uint8_t *code = xmalloc(len);
			if (mem_read(pid, v->f.start, code, len) == 0) {
				if (vdso) {
					long slot = gadget_slot(code, len);
					if (slot >= 0)
						*gadget = v->f.start + (uint64_t)slot;
					p->mm.vdso_hash = xxh64(code, len, 0);
				}
				for (size_t k = 0; k + 1 < len; k++)
					if (code[k] == 0x0f && code[k + 1] == 0x05) {
						*ip = v->f.start + k;
						break;
					}
			}
			free(code);
		}
	}
	if (!*ip && !*gadget)
		return fail(EXIT_UNSUPPORTED, "process %d has no syscall instruction to inject through", pid);
	return 0;
}

int mm_inject_capture(struct tracee *t, struct proc_state *p)
{
	long r;
	if (inject_syscall(t, &r, SYS_brk, 0, 0, 0, 0, 0, 0) < 0)
		return -1;
	p->mm.brk = (uint64_t)r;
	return 0;
}

uint32_t mm_write(struct image_writer *w, const struct proc_state *p, uint32_t proc_tag)
{
	struct buf b = {0};
	buf_put(&b, &p->mm, sizeof(p->mm));
	buf_put(&b, p->auxv, p->mm.nauxv * sizeof(struct ckpt_auxv_entry));
	uint32_t tag = iw_record(w, CKPT_RECORD_TYPE_MM, proc_tag, b.p, (uint32_t)b.len);
	buf_free(&b);
	return tag;
}

int mm_read(const struct image *im, const struct image_record *r, struct proc_state *p)
{
	struct rcur c;
	rc_init(&c, im, r);
	if (rc_get(&c, &p->mm, sizeof(p->mm), "mm fixed fields") < 0)
		return -1;
	/* What PR_SET_MM_MAP would refuse anyway, named here with the record instead of as EINVAL. */
	const char *bad = ckpt_mm_invalid(&p->mm);
	if (bad)
		return image_bad(im, r, payload_at(r), "%s is not the end of a range of user addresses after its start", bad);
	const uint8_t *a = rc_ptr(&c, (uint64_t)p->mm.nauxv * sizeof(struct ckpt_auxv_entry), "auxv");
	if (!a)
		return -1;
	p->auxv = xmalloc((size_t)p->mm.nauxv * sizeof(struct ckpt_auxv_entry) + 1);
	memcpy(p->auxv, a, (size_t)p->mm.nauxv * sizeof(struct ckpt_auxv_entry));
	return 0;
}

/* XXH64 of this process's own vdso, to compare with an image's. */
uint64_t own_vdso_hash(void)
{
	uint64_t base = getauxval(AT_SYSINFO_EHDR);
	char *maps = read_file("/proc/self/maps", NULL);
	uint64_t h = 0;
	for (char *line = maps; line && *line;) {
		unsigned long long s, e;
		if (sscanf(line, "%llx-%llx", &s, &e) == 2 && s == base && strstr(line, "[vdso]")) {
			h = xxh64((const void *)(uintptr_t)s, e - s, 0);
			break;
		}
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	free(maps);
	return h;
}

int mm_check_compatible(const struct proc_state *p)
{
	struct utsname u;
	uname(&u);
	if (strcmp(u.release, p->release ? p->release : ""))
		return fail(EXIT_UNSUPPORTED,
			    "the image was taken on kernel %s, this is %s: the vdso it relies on differs, restore refused",
			    p->release, u.release);
	uint64_t mine = own_vdso_hash();
	if (p->mm.vdso_hash && mine != p->mm.vdso_hash)
		return fail(EXIT_UNSUPPORTED,
			    "the image's vdso (hash %016llx) is not this kernel's (%016llx): a different kernel build, restore refused",
			    (unsigned long long)p->mm.vdso_hash, (unsigned long long)mine);
	return 0;
}

/* AT_VECTOR_SIZE on x86_64: what the kernel keeps in mm->saved_auxv. */
#define AUXV_WORDS_MAX 52

int mm_restore(struct restore_ctx *rc, int exe_fd)
{
	const struct proc_state *p = rc->p;
	struct prctl_mm_map m = {
		.start_code = p->mm.start_code,
		.end_code = p->mm.end_code,
		.start_data = p->mm.start_data,
		.end_data = p->mm.end_data,
		.start_brk = p->mm.start_brk,
		.brk = p->mm.brk,
		.start_stack = p->mm.start_stack,
		.arg_start = p->mm.arg_start,
		.arg_end = p->mm.arg_end,
		.env_start = p->mm.env_start,
		.env_end = p->mm.env_end,
	};
	uint64_t words[AUXV_WORDS_MAX] = {0};
	size_t nw = (size_t)p->mm.nauxv * 2;
	if (nw > AUXV_WORDS_MAX - 2)
		nw = AUXV_WORDS_MAX - 2; /* the kernel keeps no more; the last pair stays AT_NULL */
	memcpy(words, p->auxv, nw * 8);
	uint64_t auxv_at = rc->scratch + 512;
	m.auxv = (__u64 *)(uintptr_t)auxv_at;
	m.auxv_size = (uint32_t)((nw + 2) * 8);
	if (mem_write(rc->pid, auxv_at, words, m.auxv_size) < 0)
		return fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
	for (int attempt = 0; attempt < 2; attempt++) {
		m.exe_fd = attempt == 0 && exe_fd >= 0 ? (uint32_t)exe_fd : (uint32_t)-1;
		if (mem_write(rc->pid, rc->scratch, &m, sizeof(m)) < 0)
			return fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
		long r;
		if (inject_syscall(rc->main, &r, SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, rc->scratch, sizeof(m), 0, 0) < 0)
			return -1;
		if (r == 0)
			return 0;
		if (m.exe_fd != (uint32_t)-1 && (r == -EPERM || r == -EACCES || r == -EBUSY))
			continue; /* setting /proc/PID/exe needs CAP_CHECKPOINT_RESTORE; the rest does not */
		errno = (int)-r;
		return fail_errno(EXIT_FAIL, "restore: prctl(PR_SET_MM_MAP)");
	}
	return 0;
}
