/* What the parts of ckpt offer each other: one section per kind of process state. */
#ifndef CKPT_H
#define CKPT_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "image.h"
#include "inject.h"
#include "model.h"
#include "util.h"
#include "xxh64.h"

/* The new process while restore builds it. */
#define RESTORE_IOV_MAX 1024
#define RESTORE_TABLE_LEN (RESTORE_IOV_MAX * 16) /* the iovecs' scratch pages, as a table of inject_batch entries */
struct restore_ctx {
	struct image *im;
	struct proc_state *p;
	pid_t pid;
	struct tracee *main;     /* the main thread, == &p->threads[0].tr */
	uint64_t tramp, tramp_len; /* trampoline page ("syscall; int3") and the scratch pages after it */
	uint64_t scratch;        /* small structs and strings */
	uint64_t scratch_iov;    /* RESTORE_IOV_MAX iovecs */
	int image_fd;            /* the image, open in the new process */
	int own_root_image;      /* root restores root's own image: the capabilities it records are kept (dropped to) */
	int lazy;                /* restore --lazy (lazy.c) */
	cpu_set_t cpus;          /* ckpt's CPUs before it pinned itself beside the new process (for its helper threads) */
};

/* clone3's argument (linux/sched.h would clash with glibc's sched.h) */
struct clone3_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

enum { STDIO_INHERIT, STDIO_NULL, STDIO_PATH };
#define INHERIT_MAX 16
struct stdio_plan {
	int mode;
	const char *path;
	int saved[3]; /* restore's own stdio, kept open in the child for STDIO_INHERIT */
	/* --inherit-fd N:FD: ckpt's fd FD becomes the external pipe or socket a process held at N */
	struct {
		int n, fd, saved;
	} inherit[INHERIT_MAX];
	int ninherit;
};

/* creds.c: the credentials a restore may give (see there) */
struct restore_creds {
	uid_t uid;
	gid_t gid;
	gid_t *groups;      /* the supplementary groups it may give */
	int ngroups;
	const char *whose;  /* "the user running ckpt", "the image file's owner" */
	int as_recorded;    /* --as-recorded: the image's own ids, unchecked */
};
int creds_allowed(int image_fd, int as_recorded, struct restore_creds *c);
int creds_check(const struct proc_state *p, const struct restore_creds *c);
int creds_switch_in_child(const struct proc_state *p, const struct restore_creds *c);
/* The restored process runs as another user than ckpt (root restoring a user's image). */
int creds_other_user(const struct proc_state *p, const struct restore_creds *c);
void creds_free(struct restore_creds *c);

/* commands */
int cmd_dump(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_check(int argc, char **argv);

/* process.c */
int process_capture(pid_t pid, struct proc_state *p);
uint32_t process_write(struct image_writer *w, const struct proc_state *p, uint32_t parent_tag);
uint32_t zombie_write(struct image_writer *w, const struct zombie_state *z, uint32_t proc_tag);
int zombie_read(const struct image *im, const struct image_record *r, struct zombie_state *z);
int process_read(const struct image *im, const struct image_record *r, struct proc_state *p);
int process_apply_in_child(const struct proc_state *p);
/* The warning when a hard rlimit of the image cannot be given back (no CAP_SYS_RESOURCE). */
void rlimit_kept_message(char *msg, size_t len, int resource, uint64_t image_max, uint64_t kept_max);

/* freeze.c: the process alone, or with every descendant (whole), stopped; and let go again */
int tree_freeze(struct tree *t, pid_t root, int whole);
int tree_release(struct tree *t);
/* After a failure: when a member of the tree has died meanwhile (killed from outside), which is
 * what made a ptrace request, a /proc file or a pidfd fail, the error says so, naming it. */
void tree_blame_exit(const struct tree *t);

/* threads.c */
int threads_capture(pid_t pid, struct proc_state *p);
int thread_inject_capture(pid_t pid, struct thread_state *t, uint64_t scratch);
int threads_release(struct proc_state *p);
uint32_t thread_write(struct image_writer *w, const struct thread_state *t, uint32_t proc_tag);
int thread_read(const struct image *im, const struct image_record *r, struct thread_state *t);
int thread_create(struct tracee *main, struct thread_state *t, uint64_t scratch);
int thread_restore_state(pid_t pid, struct thread_state *t, uint64_t scratch);
int thread_restore_final(struct thread_state *t);

/* mm.c */
int mm_capture(pid_t pid, struct proc_state *p);
int mm_find_syscall(pid_t pid, struct proc_state *p, uint64_t *gadget, uint64_t *ip);
int mm_inject_capture(struct tracee *t, struct proc_state *p);
uint32_t mm_write(struct image_writer *w, const struct proc_state *p, uint32_t proc_tag);
int mm_read(const struct image *im, const struct image_record *r, struct proc_state *p);
uint64_t own_vdso_hash(void);
int mm_check_compatible(const struct proc_state *p);
int mm_restore(struct restore_ctx *rc, int exe_fd);

/* buildid.c: the GNU build-ids of the ELF files mapped from offset 0 (never fails: a file
 * without one, or unreadable, has none) */
void buildids_capture(pid_t pid, struct proc_state *p);
uint32_t buildid_write(struct image_writer *w, const struct build_id *b, uint32_t vma_tag);
int buildid_check(const struct image *im, const struct image_record *r);

/* tracee_mem.c: the tracee's memory from outside (-1 with errno, no fail()) */
int mem_read(pid_t pid, uint64_t addr, void *buf, size_t len);
int mem_write(pid_t pid, uint64_t addr, const void *buf, size_t len);
int proc_mem(pid_t pid); /* the target's /proc/PID/mem, kept open until proc_mem_close() or another pid */
void proc_mem_close(void);

/* memory.c */
void mem_forget(void);
int vmas_capture(pid_t pid, struct proc_state *p);
/* /proc/PID/smaps read before the freeze, for vmas_capture to use if the areas are still the same;
 * and their flags checked again with the snapshot's (as at the freeze) or, without a snapshot,
 * with the frozen process's own. */
void vmas_prefetch(pid_t pid);
int vmas_verify(pid_t pid, const struct proc_state *p);
uint32_t vma_write(struct image_writer *w, const struct vma_state *v, uint32_t mm_tag);
int vma_read(const struct image *im, const struct image_record *r, struct vma_state *v);
int pages_dump(pid_t pid, struct proc_state *p, struct image_writer *w, uint32_t mm_tag);

/* pageflow.c: page blocks hashed (and compressed) and written on other threads while the next is copied */
#define PAGEFLOW_BLOCK (16u << 20)
struct pageflow;
struct zpages;
/* threads 0: everything on the caller's thread (one block: nothing to overlap); z: the blocks
 * are the pages of compressed records (image.c's zactive), written as zstd frames */
struct pageflow *pageflow_start(int fd, uint32_t page_size, int threads, struct zpages *z);
/* A free block of PAGEFLOW_BLOCK bytes to fill (waits for one); NULL, fail() called, once a write failed. */
uint8_t *pageflow_buffer(struct pageflow *f);
/* The block pageflow_buffer gave, filled with len bytes (whole pages) for file offset off
 * (page-aligned); one hash per page goes to hashes, which must stay until pageflow_wait. */
void pageflow_submit(struct pageflow *f, size_t len, uint64_t off, uint64_t *hashes);
/* Waits until every submitted block is written: 0, or -1 (fail() called) if a write failed. */
int pageflow_wait(struct pageflow *f);
void pageflow_stop(struct pageflow *f);

/* pagecheck.c: the pages a restore loaded, read back and checked against their hashes on a
 * second thread (on `cpus`) while the next are loaded */
struct pagecheck;
/* cpus NULL: no thread, each piece checked as it is submitted (one piece: nothing to overlap) */
struct pagecheck *pagecheck_start(pid_t pid, uint32_t page_size, const cpu_set_t *cpus);
/* len bytes at addr, loaded: pages `page`.. of pagemap #chunk, whose hashes start at `hashes`
 * (kept until pagecheck_finish), from byte file_off of the image */
void pagecheck_submit(struct pagecheck *c, size_t chunk, uint64_t page, uint64_t addr, uint64_t len, const uint64_t *hashes,
		      uint64_t file_off);
/* Waits for every check: 0, or -1 with fail() saying which page did not match or could not be read. */
int pagecheck_finish(struct pagecheck *c, const struct image *im);
void pagecheck_stop(struct pagecheck *c);
int pagemap_read(const struct image *im, const struct image_record *r, const struct image_record *pages,
		 struct page_chunk *c);
uint64_t pick_trampoline(const struct tree *t, uint64_t len);
int vma_uses_file(const struct vma_state *v);
/* Whether [lo, hi) lies in one private, writable, anonymous area (a stack, the heap), where the
 * kernel could put a signal frame too. */
int vma_frame_ok(const struct proc_state *p, uint64_t lo, uint64_t hi);
int vma_restorable(const struct vma_state *v);
int vma_assign_fds(struct proc_state *p, int first_fd);
int vma_files_open_in_child(const struct proc_state *p);
int memory_restore(struct restore_ctx *rc);
/* Shared memory across the processes of a tree: planned by the restorer (fds from next_fd; returns
 * the next free one), made by its owner (phase A), taken by the others (phase B). */
int shm_plan(struct tree *t, int next_fd);
int shm_make(const struct tree *t, int me);
int shm_take(const struct tree *t, int me, const pid_t *pids);
void shm_close_slots(const struct tree *t, int me);
/* The pages of the areas a fork does not copy as they are (shared, MADV_DONTFORK, MADV_WIPEONFORK),
 * read while p is frozen, for a dump from a snapshot. */
int pages_copy_frozen(pid_t pid, struct proc_state *p);
/* Every page of p in the image file against its hash (restore --dry-run). */
int pages_check_in_file(const struct image *im, const struct proc_state *p);

/* zpages_write.c / zpages_read.c: dump --compress (zstd chunks, format 2.2 pages_zstd) and
 * reading compressed pages. zstd_unavailable(): NULL when zstd was linked, else why not. The
 * writer side is driven by image.c (iw_pages_*, declared in image.h); zpages_fill restores the
 * compressed chunks of rc->p (fill_pages skips them), zpages_check_in_file checks their hashes in
 * the file (restore --dry-run). zchunk_bound: the largest frame a chunk of n bytes may take. */
const char *zstd_unavailable(void);
uint64_t zchunk_bound(uint64_t n);
void zstd_no_context(void) __attribute__((noreturn));
int zpages_read_index(const struct image *im, const struct image_record *r, struct page_chunk *c);
int zpages_chunk(const struct image *im, const struct page_chunk *c, uint32_t i, uint8_t *in, uint8_t *out, size_t *len);
int zpages_check_in_file(const struct image *im, const struct proc_state *p);
int zpages_fill(struct restore_ctx *rc);
/* lazy.c: restore --lazy, the pages of private areas mapped from the image instead of copied */
int pages_map_lazy(struct restore_ctx *rc);

/* tracee_mem.c: the areas of /proc/PID/maps (name cut at 31 bytes). */
struct range {
	uint64_t start, end;
	char perms[5]; /* "rw-p" */
	char name[32];
};
size_t read_maps(pid_t pid, struct range **out);

/* precopy.c: the leave-running precopy (pages copied while the process runs, only those written
 * since copied at the freeze). precopy_inject_uffd runs in a short freeze of its own (t0 armed):
 * pc gets the process's userfaultfd, or none where it has none (0 either way). precopy_stage,
 * after that freeze: 0 staged, 1 when it cannot be had (the kernel cannot track writes, the
 * process ran execve, the disk is full: no precopy then, said with -v), -1 when cancelled. At the dump's freeze (memory.c): which areas it watches, its staged pages and the
 * precopy_read reads staged pages. precopy_stop_watching
 * ends the tracking once the process runs again; precopy_end frees everything. */
struct precopy;
struct precopy *precopy_new(void);
int precopy_inject_uffd(struct tracee *t0, pid_t pid, uint64_t gadget, struct precopy *pc);
int precopy_stage(struct precopy *pc, pid_t pid, const char *dir);
int precopy_restage(struct precopy *pc, pid_t pid); /* the pages written since, once more, just before the freeze: as precopy_stage */
int precopy_watches(const struct precopy *pc, uint64_t start, uint64_t end);
int precopy_same_program(struct precopy *pc, pid_t pid); /* 0 (and nothing watched) after an execve */
size_t precopy_staged_in(const struct precopy *pc, uint64_t start, uint64_t end, struct page_interval **out);
struct page_region;
/* Every region of [start, end) of a /proc/PID/pagemap fd with any category of `anyof`, with its
 * `categories` (one walk); SIZE_MAX when the scan fails. */
size_t pagemap_regions(int pagemap_fd, uint64_t start, uint64_t end, uint64_t anyof, uint64_t categories, struct page_region **out);
int precopy_read(const struct precopy *pc, uint64_t addr, void *buf, size_t n);
void precopy_stop_watching(struct precopy *pc);
void precopy_end(struct precopy *pc);
uint64_t precopy_ns(const struct precopy *pc);
/* memory.c, at the dump's freeze of a process with a precopy: which pages to read now (written
 * since they were staged, or not staged). Copies them while frozen, or, when they are too many for
 * that, sets *need_fork: they are read from a fork snapshot (fork-blind areas still now). */
int pages_settle_precopy(pid_t pid, struct proc_state *p, int *need_fork);
int seccomp_filtered(pid_t pid);

/* snapshot.c: a userfaultfd on p's memory, made by a helper (a clone sharing its memory, not its
 * descriptors, killed at once) and ours alone: its fd, -2 when the process has no armed main thread
 * or the clone failed, -3 when the kernel refused it, -1 on failure. */
int helper_userfaultfd(pid_t pid, struct tracee *t0, uint64_t gadget, int flags);
/* snapshot.c: the leave-running snapshot. Taken inside the inject phase (t0 the armed main thread,
 * `gadget` the injection gadget): p->snap, or 0 when p must stay frozen while its pages are read
 * (said in a warning); -1 only on failure. snapshot_end kills it and notes its cost. */
int snapshot_take(pid_t pid, struct proc_state *p, struct tracee *t0, uint64_t gadget);
void snapshot_end(struct proc_state *p);
/* [addr, addr + len) was read from the snapshot: freed in it (MADV_DONTNEED) every 64 MiB, so that
 * it holds no page already read; and fails when the machine runs low on memory meanwhile. */
int snapshot_read(struct proc_state *p, uint64_t addr, uint64_t len);

/* signals.c */
int sigactions_inject_capture(struct tracee *t, pid_t pid, struct proc_state *p, uint64_t scratch);
int requeue_dequeued(struct tracee *t, pid_t pid, uint64_t scratch);
int pending_capture(struct proc_state *p);
uint32_t sigactions_write(struct image_writer *w, const struct proc_state *p, uint32_t proc_tag);
uint32_t pending_write(struct image_writer *w, const struct siginfo_list *l, uint32_t ptag);
int sigactions_read(const struct image *im, const struct image_record *r, struct proc_state *p);
int pending_read(const struct image *im, const struct image_record *r, struct siginfo_list *l);
int sigactions_apply_in_child(const struct proc_state *p);
int pending_restore(struct restore_ctx *rc);

/* timers.c */
int timers_inject_capture(struct tracee *t, pid_t pid, struct proc_state *p, uint64_t scratch);
uint32_t timers_write(struct image_writer *w, const struct proc_state *p, uint32_t proc_tag);
int timers_read(const struct image *im, const struct image_record *r, struct proc_state *p);
int posix_timer_read(const struct image *im, const struct image_record *r, struct proc_state *p);
int timers_restore_create(struct restore_ctx *rc);
int timers_restore_arm(struct restore_ctx *rc);

/* attrs.c */
int attrs_inject_capture(struct tracee *t, pid_t pid, struct proc_state *p, uint64_t scratch);
uint32_t attrs_write(struct image_writer *w, const struct proc_state *p, uint32_t proc_tag);
int attrs_read(const struct image *im, const struct image_record *r, struct proc_state *p);
int attrs_apply_in_child(const struct proc_state *p);
int attrs_restore_final(struct restore_ctx *rc, int own_root_image);

/* seccomp.c */
int seccomp_capture(struct proc_state *p);
uint32_t seccomp_write(struct image_writer *w, const struct proc_state *p, uint32_t proc_tag);
int seccomp_read(const struct image *im, const struct image_record *r, struct proc_state *p);
int seccomp_restore_final(struct restore_ctx *rc);

/* signalfd.c, timerfd.c, inotify.c: special fds. *_describe fill a file's kind and extra from its
 * fdinfo (dump); *_make create one in the restore child; inotify_describe returns why it cannot
 * be checkpointed (and *detail, allocated) or NULL. */
void signalfd_describe(struct file_state *f, const char *info);
int signalfd_make(const struct file_state *f);
void timerfd_freeze_time(uint64_t frozen_ns);
void timerfd_describe(struct file_state *f, const char *info);
int timerfd_make(const struct file_state *f);
int timerfds_restore_arm(struct restore_ctx *rc);
const char *inotify_describe(struct file_state *f, const char *info, pid_t pid, char **detail);
int inotify_extra_check(struct rcur *x);
int inotify_make(const struct file_state *f);
/* The path of the file (ino, dev) a process watches (inotify, fanotify): by its handle where we
 * may, else by inode near the process; NULL when not found. */
char *watched_path(pid_t pid, uint64_t ino, uint64_t dev, int htype, int hbytes, const char *handle);
const char *fanotify_describe(struct file_state *f, const char *info, pid_t pid, char **detail);
int fanotify_extra_check(struct rcur *x);
int fanotify_make(const struct file_state *f);

/* unix_sock.c: sockets. Dump: what a socket is (describe), its peer and queue once the whole tree
 * is known (finish), its peer's tag (set_tags). Restore: whether the restoring side supplies it
 * (external), whether it is made together with another description (made_with), and making it.
 * What both kinds of socket share is sock_view.c's. */
const char *sock_describe(struct file_state *f, const struct stat *st, int pidfd, int fd, uint16_t *what);
int sock_finish(struct tree *t, struct file_state *f);
void sock_set_tags(const struct tree *t, struct file_state *f);
int sock_external(const struct file_state *f);
int sock_made_with(const struct file_state *f, const struct file_state *o);
/* After files_plan: every socket tied to another (pair, listener) made by one process. */
void sock_plan(struct tree *t);
int sock_make(const struct tree *t, const struct file_state *f);
/* inet_sock.c: TCP and UDP. Dump: what the socket is, or why it is refused. Restore: made again. */
struct sock_view;
const char *inet_describe(struct file_state *f, int sk, struct sock_view *v, uint16_t *what);
int inet_make(const struct tree *t, const struct file_state *f, const struct sock_view *v);
/* Dump options. --external unix (unix_sock.c): a unix socket whose peer is outside the checkpoint
 * is recorded as closed by the peer; --tcp-close (inet_sock.c): a TCP connection is recorded as
 * reset by the peer (and a listener's connections not yet accepted are dropped). */
extern int g_sock_external_unix, g_sock_tcp_close;
/* dump --kill: the TCP connections captured with TCP_REPAIR put in repair mode, to close quietly */
void inet_quiet_before_kill(void);

/* files.c: dump */
int files_capture(struct tree *t, struct proc_state *p); /* p's descriptors, and the descriptions new to t */
int files_finish(struct tree *t);                        /* pipes, socket pairs, epoll targets, across t */
int files_write_descriptions(struct image_writer *w, struct tree *t);
uint32_t files_write(struct image_writer *w, const struct proc_state *p, uint32_t proc_tag);
/* files.c: reading */
int files_read(const struct image *im, const struct image_record *r, struct proc_state *p);
int file_read(const struct image *im, const struct image_record *r, struct file_state *f);
int fd_read(const struct image *im, const struct image_record *r, struct fd_state *f);
/* files.c: restore. The restorer plans who makes each description; then in each new process:
 * A make its own, B take the others' (and fill its epolls), C close its slots. */
int files_plan(struct tree *t, int slot_base);
int files_make(const struct tree *t, int me, const struct stdio_plan *sp, int tmp_base);
int files_take(const struct tree *t, int me, const pid_t *pids);
void files_close_slots(const struct tree *t, int me);
int files_max_fd(const struct proc_state *p);

/* ghost.c: files whose path is gone (unlinked, O_TMPFILE, memfd) and a removed cwd */
#define GHOST_MAX_DATA (16ULL << 30) /* a dump refuses a file with more data than this */
const char *ghost_capture(struct file_state *f, pid_t pid, int fd, const struct stat *st, uint16_t *what);
void ghost_finish(struct tree *t);                    /* dump: descriptions sharing an inode; areas mapping one */
int ghost_write(struct image_writer *w, const struct tree *t);
int ghost_load(const struct image *im, struct tree *t, const uint32_t *file_of);
int ghost_plan_maps(struct tree *t, int next_fd);     /* restore: fds of the areas that map one */
void ghost_set_image(const char *path, int image_fd); /* restore child: where the bytes are */
int ghost_check_in_file(const struct image *im, const struct tree *t); /* restore --dry-run: every hash */
int ghost_make(const struct tree *t, size_t i);       /* phase A: the file and each description of it */
int ghost_maps_take(const struct tree *t, int me, const pid_t *pids); /* phase B */
int ghost_cwd_enter(const char *cwd);                 /* a removed working directory, made and removed again */

/* locks.c: flock, POSIX and OFD locks */
int locks_capture(struct proc_state *p, struct file_state *f, const struct fd_state *fd, const char *fdinfo);
int locks_write(struct image_writer *w, const struct tree *t);
int locks_load(const struct image *im, struct tree *t, const uint32_t *file_of);
int locks_restore(struct restore_ctx *rc);            /* injected, once the process has its final fds */

/* Whether process pid holds a file whose /proc fd link is `link` (a pipe or socket). */
int process_holds(uint32_t pid, const char *link);

/* load.c: every process of an opened image into the model, checking the .ksy's payload rules */
int image_load(struct image *im, struct tree *t);

#endif
