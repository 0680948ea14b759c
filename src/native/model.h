/* The in-memory model of one checkpointed process, shared by dump (filled from the live
 * process, then written as records) and restore (filled from records, then applied).
 * Fixed-size parts are the generated format structs themselves. */
#ifndef CKPT_MODEL_H
#define CKPT_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "ckpt_format.h"
#include "inject.h"

_Static_assert(sizeof(struct user_regs_struct) == sizeof(struct ckpt_user_regs), "user_regs layout");

#define NSIG_KERNEL 64

struct siginfo_list {
	struct ckpt_siginfo *v;
	uint32_t n;
};

struct thread_state {
	struct ckpt_thread_fixed f;
	char *comm;
	uint8_t *xstate;
	uint32_t xstate_len;
	struct siginfo_list pending; /* private to this thread */
	struct tracee tr;            /* live thread while dumping or restoring */
};

struct vma_state {
	struct ckpt_vma_fixed f;
	char *path;
	int dump_all;        /* dump every page (file gone or replaced, or the area's backing is not restorable) */
	int restore_fd;      /* restore: fd of the backing file inside the new process, -1 when anonymous */
};

struct fd_state {
	struct ckpt_fd_fixed f;
	char *path;
	uint8_t *extra;
	uint32_t extra_len;
	int32_t dup_of;      /* lower fd sharing this open file description, or -1 */
	int unsupported;     /* dump: already recorded as unsupported (restore skips every fd an unsupported record names) */
};

struct unsupported_state {
	struct ckpt_unsupported_fixed f;
	char *reason, *detail;
};

struct page_chunk { /* one pagemap + pages pair */
	struct ckpt_page_run *runs;
	uint32_t nruns, npages;
	uint64_t *hashes;
	uint64_t data_off;   /* restore: file offset of the first page byte */
};

struct proc_state {
	int32_t parent; /* loaded image: index of the parent process, -1 at the top */
	struct ckpt_head_fixed head;
	char *sysname, *nodename, *release, *version, *machine, *checkpointer, *boot_id;

	struct ckpt_process_fixed pf;
	char *comm, *exe, *cwd, *root;
	uint8_t *cmdline, *environ;
	uint32_t cmdline_len, environ_len;
	uint32_t ngroups;
	uint32_t *groups;

	struct thread_state *threads;
	size_t nthreads;

	struct ckpt_mm_fixed mm;
	struct ckpt_auxv_entry *auxv;
	struct vma_state *vmas;
	size_t nvmas;
	struct page_chunk *chunks;
	size_t nchunks;

	struct ckpt_sigaction sigact[NSIG_KERNEL];
	int have_sigact;
	struct siginfo_list pending; /* process-wide */

	struct ckpt_files files;
	struct fd_state *fds;
	size_t nfds;

	struct unsupported_state *unsup;
	size_t nunsup;
};

/* Every process of an image, in file order (a parent before its children). The head and the
 * image-wide unsupported records are kept with the first. */
struct loaded_image {
	struct proc_state *procs;
	size_t nprocs;
};

void proc_free(struct proc_state *p);
void add_unsupported(struct proc_state *p, uint16_t what, int32_t fd, uint64_t addr, const char *detail,
		     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
