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

/* The GNU build-id of an ELF file a VMA maps (buildid.c). */
#define CKPT_BUILD_ID_MAX 64
struct build_id {
	uint8_t id[CKPT_BUILD_ID_MAX];
	uint32_t len;
	uint16_t source;     /* enum ckpt_build_id_source */
};

/* [start, end) of an address space */
struct page_interval {
	uint64_t start, end;
};

struct vma_state {
	struct ckpt_vma_fixed f;
	char *path;
	int dump_all;        /* dump every page (file gone or replaced, or the area's backing is not restorable) */
	int restore_fd;      /* restore: fd of the backing file inside the new process, -1 when anonymous */
	int shm;             /* restore: the shared memory object it maps (index in the tree), -1 none */
	int ghost_file;      /* restore: index + 1 of the file without a path it maps (ghost.c), 0 none */
	uint8_t *frozen;     /* dump: its pages read while frozen (a snapshot would not hold them), at their offsets */
	struct ckpt_page_run *frozen_runs; /* dump: which pages `frozen` holds */
	size_t nfrozen_runs;
	int uffd_wp;         /* dump: VmFlags has uw (registered for a userfaultfd's write-protect) */
	int runs_at_freeze;  /* dump: frozen_runs are the pages present at the freeze (a precopy), `frozen` holds `fresh` */
	struct page_interval *fresh; /* dump, precopy: pages read at the freeze (into `frozen`, or from the snapshot), not staged */
	size_t nfresh;
	struct build_id *build_id; /* dump: of the ELF file it maps from offset 0, or NULL */
};

/* The contents of a file whose path is gone (ghost.c): saved from `src` at dump, read from the
 * image's extents at restore. */
struct ghost_extent {
	uint64_t offset, len;
	uint32_t npages;
	const uint8_t *hashes; /* restore: npages XXH64s, in the loaded extent record */
	uint64_t data_off;     /* restore: where its file_data bytes start in the image */
	uint32_t rec;          /* restore: index of its file_extent record, for messages */
};
struct ghost {
	struct ckpt_file_content_fixed f;
	char *name;
	struct ghost_extent *ext;
	size_t next;
	int src;               /* dump: the file, opened for reading through /proc/PID/fd */
};

/* One open file description: what open(2), pipe(2), socket(2)... made, and what dup(2) and
 * fork share. Descriptors of any process of the tree point to it. */
struct file_state {
	struct ckpt_file_fixed f;
	char *path;
	uint8_t *extra;
	uint32_t extra_len;
	uint32_t tag;        /* its record's tag: given when written (dump), read (restore) */
	pid_t pid;           /* dump: a process and a descriptor through which it is reached */
	int fd;
	int external;        /* dump: a pipe or socket whose other end is outside the tree */
	const char *why;     /* dump: why its descriptors cannot be checkpointed, or NULL */
	uint16_t what;       /* dump: the unsupported kind that says so */
	int owner;           /* restore: the process that creates it (index in the tree), -1 none */
	int slot;            /* restore: the fd where its owner keeps it until every process has it */
	struct ghost *ghost; /* its contents, when its path is gone (on the first description of the inode) */
	int ghost_of;        /* index + 1 of the description that holds the contents of its inode, 0 none */
	struct ckpt_file_lock *locks; /* locks held through it (locks.c) */
	uint32_t nlocks;
};

struct fd_state {
	struct ckpt_fd f;    /* number, descriptor flags, and the tag of its file */
	int file;            /* index of its file in the tree */
	int unsupported;     /* dump: already recorded as unsupported (restore skips every fd an unsupported record names) */
};

struct zombie_state {
	struct ckpt_zombie_fixed f;
	char *comm;
};

struct unsupported_state {
	struct ckpt_unsupported_fixed f;
	char *reason, *detail;
};

struct timer_list { /* POSIX timers (timers.c) */
	struct ckpt_posix_timer *v;
	uint32_t n;
};

struct seccomp_one {
	uint32_t count, flags;
	void *insns;         /* count struct sock_filter */
};
struct seccomp_chain {  /* seccomp.c: dump, most recent first; restore, first installed first */
	struct seccomp_one *f;
	uint32_t n;
};

struct page_chunk { /* one pagemap + pages pair */
	struct ckpt_page_run *runs;
	uint32_t nruns, npages;
	uint64_t *hashes;
	uint64_t data_off;   /* restore: file offset of the first page byte */
	/* (2.2) pages in zstd chunks (zpages_read.c): their record, index and where the frames start */
	int zstd;
	uint32_t zrec, zchunk_pages, znchunks, *zends;
	uint64_t zframes_off;
};

struct tree;

struct proc_state {
	struct tree *tree; /* the tree it belongs to (its files) */
	int32_t parent;    /* index of the parent process in the tree, -1 at the top */
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

	struct ckpt_timers timers;    /* itimers and timer slack (timers.c) */
	int have_timers;
	struct timer_list ptimers;    /* POSIX timers */
	struct ckpt_process_attrs attrs; /* prctl state, oom_score_adj (attrs.c) */
	int have_attrs;
	int seccomp_mode;             /* Seccomp: of /proc/PID/status (dump) */
	struct seccomp_chain seccomp;

	struct ckpt_files files;
	struct fd_state *fds;
	size_t nfds;

	struct zombie_state *zombies; /* unreaped children */
	size_t nzombies;
	uint32_t *omitted;            /* children a dump without --tree left out */
	uint32_t nomitted;

	struct unsupported_state *unsup;
	size_t nunsup;

	pid_t snap;            /* dump: the process holding its copy-on-write snapshot (snapshot.c), 0 none */
	struct tracee *snap_tr; /* dump: the snapshot, stopped, for the madvise that frees what was read */
	uint64_t snap_read_from, snap_read_to; /* dump: pages read from it and not freed yet */
	uint32_t snap_releases;                /* dump: how many times read pages were freed */
	uint64_t snap_fork_ns; /* dump: how long making it took */
	uint64_t snap_cost;    /* dump: the most bytes the snapshot was seen to hold alone (pages the target wrote) */
	struct precopy *pre;   /* dump: its pages copied while it ran (precopy.c), or NULL */
	int pre_settled;       /* dump: every page to dump is in the precopy or was copied at the freeze */
	uint64_t pre_fresh;    /* dump: bytes of pages written since the precopy, read at the freeze */
};

/* A tree of processes and the open file descriptions they share: what a dump captures and an
 * image holds. Processes in image order, a parent before its children; the root first. The head
 * and the image-wide unsupported records are kept with the root. */
/* Restore: shared memory that several processes of the tree map (MAP_SHARED anonymous memory
 * inherited across fork, or a shared mapping of a file that is gone), made again once, as a
 * memfd that each of them maps. */
struct shm_object {
	uint64_t dev, ino;   /* what identified it at the checkpoint */
	uint64_t size;       /* enough for every area mapping it */
	int owner;           /* the process that makes it */
	int slot;            /* the fd where the owner keeps it until every process has it */
	int map_fd;          /* the fd where each process that maps it has it */
};

struct tree {
	struct proc_state **procs;
	size_t nprocs;
	struct file_state *files;
	size_t nfiles;
	struct shm_object *shms;
	size_t nshms;
	uint64_t frozen_ns;  /* dump: CLOCK_MONOTONIC when every thread was stopped (timers count from it) */
};

void proc_free(struct proc_state *p);
void seccomp_free(struct seccomp_chain *c);
void ghost_free(struct file_state *f); /* its contents (f->ghost), and the fd they are read from at dump */
void tree_free(struct tree *t);
struct proc_state *tree_add_process(struct tree *t, int32_t parent);
/* The file of one of p's descriptors. */
struct file_state *fd_file(const struct proc_state *p, const struct fd_state *f);
struct buf;
/* A description's kind-specific data, replaced by b's bytes (the file takes them over). */
void put_extra(struct file_state *f, const struct buf *b);
/* The index of the description whose record has this tag, or -1. */
int file_by_tag(const struct tree *t, uint32_t tag);
/* "fd N: " for messages about a description (restore): the lowest fd of its owner that holds it. */
const char *fd_prefix(const struct tree *t, const struct file_state *f);
void add_unsupported(struct proc_state *p, uint16_t what, int32_t fd, uint64_t addr, const char *detail,
		     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
