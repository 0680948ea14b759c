/* `ckpt dump`: freeze, capture, write the image atomically, then resume or kill.
 *
 * The process the caller knows only waits for a worker and forwards SIGINT/SIGTERM to it. The
 * worker is the tracer and does all the work; it treats its parent's death (PR_SET_PDEATHSIG)
 * like a cancel. Every cancel or failure rolls back the same way: the registers, signal mask
 * and memory of every thread as they were, no scratch mapping left, detached, temp file gone.
 * Injections only happen in one short phase right after the freeze, with every thread armed
 * first (inject.h) so that even a SIGKILL of the worker or its whole group cannot harm it; after
 * that phase the threads already hold their own registers again while their memory is read. Past
 * the point of no return (the image complete and durable) a cancel is too late. */
#include "ckpt.h"
#include "sigframe.h"

#include <dirent.h>
#include <linux/kcmp.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The precopy's cost (a short freeze of its own, every page read twice) pays off from this much
 * anonymous memory: below, a fork's copy of the page tables freezes the process for 2-3 ms. */
#define PRECOPY_FROM (32ULL << 20)
enum { PRECOPY_NO, PRECOPY_AUTO, PRECOPY_YES };

struct dump_opts {
	pid_t pid;
	const char *image;
	char *tmp;
	char *dir; /* the image's directory: its temp file, stale temps, the precopy's staging file */
	int kill_after;
	int allow_unsupported;
	int tree; /* --tree: the process and every descendant */
	int force; /* --force: an existing IMAGE is replaced (atomically) */
	int snapshot; /* leave-running: pages read from a copy-on-write snapshot after the resume (snapshot.c) */
	int precopy;  /* leave-running, one process: pages copied while it runs first (precopy.c): PRECOPY_* */
	int no_fsync; /* --no-fsync: a scratch image, not made durable (the rename is still atomic) */
	int compress, level; /* --compress[=LEVEL]: pages in zstd chunks (zpages_write.c) */
};

static void on_cancel(int sig)
{
	g_cancel = sig;
}

static uint32_t head_write(struct image_writer *w, const struct dump_opts *o, uint64_t time_ns, uint32_t page_size,
			   uint64_t frozen_ns, int precopy)
{
	struct ckpt_head_fixed h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, CKPT_HEAD_MAGIC, CKPT_HEAD_MAGIC_LEN);
	h.version_major = CKPT_VERSION_MAJOR;
	h.version_minor = CKPT_VERSION_MINOR;
	h.arch = CKPT_ARCH_X86_64;
	h.page_size = page_size;
	h.flags = o->kill_after ? CKPT_IMAGE_FLAGS_KILLED : CKPT_IMAGE_FLAGS_LEFT_RUNNING;
	if (o->allow_unsupported)
		h.flags |= CKPT_IMAGE_FLAGS_HAS_UNSUPPORTED;
	if (o->compress)
		h.flags |= CKPT_IMAGE_FLAGS_COMPRESSED;
	if (frozen_ns) /* resumed before its pages were written: read from a snapshot, or copied while it ran */
		h.flags |= precopy ? CKPT_IMAGE_FLAGS_PRECOPY : CKPT_IMAGE_FLAGS_SNAPSHOT;
	h.time_ns = time_ns;
	struct utsname u;
	uname(&u);
	char *boot = read_file("/proc/sys/kernel/random/boot_id", NULL);
	if (boot && strchr(boot, '\n'))
		*strchr(boot, '\n') = 0;
	struct buf b = {0};
	buf_put(&b, &h, sizeof(h));
	buf_lstr(&b, u.sysname);
	buf_lstr(&b, u.nodename);
	buf_lstr(&b, u.release);
	buf_lstr(&b, u.version);
	buf_lstr(&b, u.machine);
	buf_lstr(&b, "ckpt " CKPT_VERSION);
	buf_lstr(&b, boot ? boot : "");
	buf_put(&b, &frozen_ns, sizeof(frozen_ns));
	free(boot);
	uint32_t tag = iw_record(w, CKPT_RECORD_TYPE_HEAD, 0, b.p, (uint32_t)b.len);
	buf_free(&b);
	return tag;
}

static uint32_t unsupported_write(struct image_writer *w, const struct unsupported_state *u, uint32_t proc_tag)
{
	struct buf b = {0};
	buf_put(&b, &u->f, sizeof(u->f));
	buf_lstr(&b, u->reason);
	buf_lstr(&b, u->detail);
	uint32_t tag = iw_record(w, CKPT_RECORD_TYPE_UNSUPPORTED, proc_tag, b.p, (uint32_t)b.len);
	buf_free(&b);
	return tag;
}

/* One process's records, under the record of its parent process (0: the root). */
static uint32_t write_process(struct image_writer *w, struct proc_state *p, uint32_t parent_tag)
{
	pid_t pid = (pid_t)p->pf.pid;
	uint32_t proc_tag = process_write(w, p, parent_tag), mm_tag = 0;
	if (!proc_tag)
		return 0;
	for (size_t i = 0; i < p->nthreads; i++) {
		uint32_t t = thread_write(w, &p->threads[i], proc_tag);
		if (!t || (p->threads[i].pending.n && !pending_write(w, &p->threads[i].pending, t)))
			return 0;
	}
	if (!(mm_tag = mm_write(w, p, proc_tag)))
		return 0;
	for (size_t i = 0; i < p->nvmas; i++) {
		uint32_t vma_tag = vma_write(w, &p->vmas[i], mm_tag);
		if (!vma_tag || (p->vmas[i].build_id && !buildid_write(w, p->vmas[i].build_id, vma_tag)))
			return 0;
	}
	if (pages_dump(pid, p, w, mm_tag) < 0)
		return 0;
	if (!sigactions_write(w, p, proc_tag) || (p->pending.n && !pending_write(w, &p->pending, proc_tag)))
		return 0;
	if (!timers_write(w, p, proc_tag) || !attrs_write(w, p, proc_tag) || !seccomp_write(w, p, proc_tag))
		return 0;
	if (!files_write(w, p, proc_tag))
		return 0;
	for (size_t i = 0; i < p->nzombies; i++)
		if (!zombie_write(w, &p->zombies[i], proc_tag))
			return 0;
	for (size_t i = 0; i < p->nunsup; i++)
		if (!unsupported_write(w, &p->unsup[i], proc_tag))
			return 0;
	return proc_tag;
}

/* The head, every open file description, then each process (a parent before its children). */
static int write_image(int fd, const struct dump_opts *o, struct tree *t, uint64_t time_ns, uint64_t frozen_ns, uint64_t *size)
{
	struct image_writer w;
	uint32_t ps = (uint32_t)sysconf(_SC_PAGESIZE);
	iw_init(&w, fd, ps);
	w.z = o->compress ? zpages_new(o->level) : NULL;
	uint32_t *tags = xcalloc(t->nprocs, sizeof(uint32_t));
	int rc = -1;
	progress_step("write", "writing %s", o->image);
	if (!head_write(&w, o, time_ns, ps, frozen_ns, t->procs[0]->pre_settled) || files_write_descriptions(&w, t) < 0)
		goto out;
	for (size_t k = 0; k < t->nprocs; k++) {
		int32_t parent = t->procs[k]->parent;
		if (!(tags[k] = write_process(&w, t->procs[k], parent >= 0 ? tags[parent] : 0)))
			goto out;
	}
	if (iw_finish(&w) < 0)
		goto out;
	*size = w.off;
	if (w.z && g_verbose) {
		uint64_t raw, packed;
		zpages_totals(w.z, &raw, &packed);
		fprintf(stderr, "ckpt: --compress: %llu KiB of pages in %llu KiB\n", (unsigned long long)(raw >> 10), (unsigned long long)(packed >> 10));
	}
	rc = 0;
out:
	free(tags);
	zpages_free(w.z);
	iw_free(&w);
	return rc;
}

/* How many bytes a thread's frame takes below its red zone, or 0 when it cannot be armed: the
 * frame must lie in a private writable area (where the kernel could put a signal frame too), and
 * rt_sigreturn of a thread with a CET shadow stack would look for a token that is not there. */
static uint32_t frame_fits(pid_t pid, const struct proc_state *p, const struct thread_state *th)
{
	struct sigframe_layout l = sigframe_place(th->tr.orig.rsp, th->xstate, th->xstate_len,
						  th->f.xstate_kind == CKPT_XSTATE_KIND_XSAVE);
	if (l.frame >= l.top || !vma_frame_ok(p, l.frame, l.top))
		return 0;
	char *st = read_filef(NULL, "/proc/%d/task/%d/status", pid, th->tr.tid);
	const char *f = st ? find_key(st, "x86_Thread_features") : NULL;
	char features[256] = "";
	if (f)
		snprintf(features, sizeof(features), "%.*s", (int)strcspn(f, "\n"), f);
	int shstk = strstr(features, "shstk") != NULL;
	free(st);
	return shstk ? 0 : (uint32_t)(l.top - l.frame);
}

/* The one phase that changes the target: per-thread state only the thread can tell, asked
 * through injected syscalls. Every thread that can be is armed first (inject.h), so that a ckpt
 * killed at any instant of it leaves the process as it was; whatever happens otherwise, every
 * thread holds its own registers, mask and stack bytes again at the end, the gadget is gone from
 * the vdso, and so is any scratch page. */
static int inject_phase(pid_t pid, struct proc_state *p, uint64_t gadget, uint64_t syscall_ip, int snapshot,
			struct precopy *make_uffd)
{
	struct tracee *t0 = &p->threads[0].tr;
	uint64_t page = 0; /* a scratch page, mapped only when the main thread could not be armed */
	int rc = -1, gadget_in = 0;
	size_t unarmed = 0;
	uint32_t *frame_len = xcalloc(p->nthreads, sizeof(*frame_len));
	for (size_t i = 0; i < p->nthreads; i++) {
		const struct tracee *t = &p->threads[i].tr;
		if (gadget && t->orig.rip - gadget < INJECT_GADGET_SLOT) {
			fail(EXIT_FAIL, "thread %d of process %d is stopped inside the injection gadget of a killed dump; continue it "
			     "(SIGCONT) and try again", t->tid, pid);
			goto out;
		}
		frame_len[i] = gadget ? frame_fits(pid, p, &p->threads[i]) : 0;
		if (!frame_len[i]) {
			if (!syscall_ip) {
				fail(EXIT_UNSUPPORTED, "process %d has no syscall instruction to inject through", pid);
				goto out;
			}
			if (gadget)
				warn("thread %d has no room below its stack pointer for a signal frame: a ckpt killed in the next "
				     "milliseconds would leave it with injected registers", t->tid);
			unarmed++;
		}
	}
	if (!gadget)
		warn("no spare bytes at the end of the vdso of process %d for the injection gadget: a ckpt killed in the next "
		     "milliseconds would leave its threads with injected registers", pid);
	if (unarmed < p->nthreads) {
		if (mem_write(pid, gadget, inject_gadget, INJECT_GADGET_LEN) < 0) {
			fail_errno(EXIT_FAIL, "cannot write to the vdso of process %d", pid);
			goto out;
		}
		gadget_in = 1;
		fault_point("gadget");
	}
	for (size_t i = 0; i < p->nthreads; i++) {
		struct thread_state *th = &p->threads[i];
		struct tracee *t = &th->tr;
		t->syscall_ip = frame_len[i] ? gadget : syscall_ip;
		if (frame_len[i] ? inject_arm(pid, t, th->xstate, th->xstate_len, th->f.xstate_kind == CKPT_XSTATE_KIND_XSAVE,
					      frame_len[i]) < 0
				 : inject_begin(t, 1) < 0)
			goto out;
		/* at once: a signal that only ckpt holds would be lost with ckpt */
		if (t->scratch && requeue_dequeued(t, pid, t->scratch) < 0)
			goto out;
	}
	long r;
	if (make_uffd) { /* the precopy's own short freeze: only its userfaultfd */
		rc = precopy_inject_uffd(t0, pid, gadget, make_uffd);
		goto out;
	}
	uint64_t scratch = t0->scratch;
	if (!scratch) {
		if (inject_syscall(t0, &r, SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0) < 0)
			goto out;
		if (r < 0 && r > -4096) {
			errno = (int)-r;
			fail_errno(EXIT_FAIL, "cannot map a scratch page in process %d", pid);
			goto out;
		}
		scratch = page = (uint64_t)r;
	}
	for (size_t i = 0; i < p->nthreads && !cancelled(); i++)
		if (thread_inject_capture(pid, &p->threads[i], p->threads[i].tr.scratch ? p->threads[i].tr.scratch : scratch) < 0)
			goto out;
	if (cancelled() || mm_inject_capture(t0, p) < 0 || sigactions_inject_capture(t0, pid, p, scratch) < 0 ||
	    timers_inject_capture(t0, pid, p, scratch) < 0 || attrs_inject_capture(t0, pid, p, scratch) < 0)
		goto out;
	for (size_t i = 0; i < p->nthreads; i++)
		if (requeue_dequeued(&p->threads[i].tr, pid, p->threads[i].tr.scratch ? p->threads[i].tr.scratch : scratch) < 0)
			goto out;
	if (snapshot && !cancelled()) {
		/* with a precopy, only the pages written since it are left to read; a fork only when many */
		int need_fork = 1;
		if (p->pre && pages_settle_precopy(pid, p, &need_fork) < 0)
			goto out;
		if (need_fork && (snapshot_take(pid, p, t0, gadget) < 0 || (p->snap && !p->pre && pages_copy_frozen(pid, p) < 0)))
			goto out;
	}
	rc = 0;
out:
	if (page) {
		/* even on failure: the scratch page must not outlive us */
		if (inject_syscall(t0, &r, SYS_munmap, page, 4096, 0, 0, 0, 0) < 0 || r < 0)
			rc = fail(EXIT_FAIL, "cannot unmap the scratch page of process %d", pid);
	}
	int armed = 0;
	for (size_t i = 0; i < p->nthreads; i++) {
		struct tracee *t = &p->threads[i].tr;
		if (t->stopped && (t->regs_changed || t->mask_changed) && inject_release(t) < 0)
			rc = -1;
		armed |= t->frame != 0;
	}
	/* the vdso as it was, unless a thread could still need the gadget (the process is dying then) */
	static const uint8_t zero[INJECT_GADGET_LEN];
	if (gadget_in && !armed) {
		if (mem_write(pid, gadget, zero, sizeof(zero)) < 0 && rc == 0)
			rc = fail_errno(EXIT_FAIL, "cannot restore the vdso of process %d", pid);
		fault_point("gadget");
	}
	free(frame_len);
	return rc;
}

static int report_unsupported(const struct tree *t)
{
	char msg[900];
	size_t n = 0;
	for (size_t k = 0; k < t->nprocs; k++) {
		const struct proc_state *p = t->procs[k];
		char who[32] = "";
		if (t->nprocs > 1)
			snprintf(who, sizeof(who), "process %u: ", p->pf.pid);
		for (size_t i = 0; i < p->nunsup && n < sizeof(msg) - 1; i++)
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s%s%s (%s)", n ? "; " : "", who, p->unsup[i].reason, p->unsup[i].detail);
	}
	return fail(EXIT_UNSUPPORTED, "%s %u %s state that cannot be checkpointed: %s; --allow-unsupported records it and goes on",
		    t->nprocs > 1 ? "the tree of process" : "process", t->procs[0]->pf.pid, t->nprocs > 1 ? "holds" : "has", msg);
}

static void wait_killed(struct proc_state *p)
{
	/* woken by the SIGCHLD of each exit (blocked meanwhile, so that none is lost), not a sleep */
	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	kill((pid_t)p->pf.pid, SIGKILL);
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + 5000000000ULL;
	/* the main thread last: its exit is reported only once the others are reaped */
	for (size_t i = p->nthreads; i-- > 0;) {
		struct tracee *t = &p->threads[i].tr;
		while (t->attached && now_ns(CLOCK_MONOTONIC) < deadline) {
			int st;
			pid_t r = waitpid(t->tid, &st, __WALL | WNOHANG);
			if (r < 0 && errno != EINTR)
				break;
			if (r == t->tid && (WIFEXITED(st) || WIFSIGNALED(st)))
				break;
			if (r == t->tid && WIFSTOPPED(st))
				ptrace(PTRACE_CONT, t->tid, 0, 0);
			if (r == 0) {
				struct timespec tick = {0, 10000000};
				sigtimedwait(&chld, NULL, &tick);
			}
		}
		t->attached = t->stopped = 0;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* "114.2 MiB" */
static const char *human_size(char *buf, size_t len, uint64_t n)
{
	static const char *units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4)
		v /= 1024, u++;
	if (u == 0)
		snprintf(buf, len, "%llu bytes", (unsigned long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

/* The pid in a temp file's name `.IMAGE.tmp-PID`, or 0 when the name is not one. */
static pid_t temp_owner(const char *name)
{
	const char *t = name[0] == '.' ? strstr(name + 1, ".tmp-") : NULL;
	while (t && strstr(t + 1, ".tmp-"))
		t = strstr(t + 1, ".tmp-");
	if (!t || t == name + 1 || !t[5] || strspn(t + 5, "0123456789") != strlen(t + 5) || strlen(t + 5) > 9)
		return 0;
	return (pid_t)atol(t + 5);
}

/* Temp files that a dump killed outright (SIGKILL of its process group, a crash) could not
 * remove: `.IMAGE.tmp-PID` in the image's directory, regular files of ours, whose dump is gone:
 * PID (the dump's caller) is not running and nobody holds the lock every dump keeps on its temp
 * file until the image is in place. A file of a dump still running is never touched. */
static void remove_stale_temps(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		pid_t owner = temp_owner(de->d_name);
		if (owner <= 0 || kill(owner, 0) == 0 || errno != ESRCH)
			continue;
		int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		struct stat st, now;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
		    fstatat(dirfd(d), de->d_name, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_dev == st.st_dev &&
		    now.st_ino == st.st_ino && unlinkat(dirfd(d), de->d_name, 0) == 0) {
			char size[32];
			warn("removed %s/%s (%s), the temp file of a dump that was killed before it finished", dir, de->d_name,
			     human_size(size, sizeof(size), (uint64_t)st.st_size));
		}
		close(fd);
	}
	closedir(d);
}

/* The CPU a thread last ran on (field 39 of /proc/PID/stat), or -1. */
static int last_cpu(pid_t tid)
{
	struct proc_stat st;
	int cpu = proc_stat(tid, 0, &st) == 0 ? (int)st.f[39] : -1;
	return cpu >= 0 && cpu < CPU_SETSIZE ? cpu : -1;
}

/* One frozen process: threads, ids and mm, its areas, what only its threads can tell (the one
 * phase that injects syscalls), its descriptors, and its queued signals. */
static int capture_process(struct tree *t, struct proc_state *p, int snapshot)
{
	pid_t pid = (pid_t)p->pf.pid;
	uint64_t gadget, ip;
	if (threads_capture(pid, p) < 0 || cancelled() || process_capture(pid, p) < 0 || mm_capture(pid, p) < 0 ||
	    vmas_capture(pid, p) < 0 || mm_find_syscall(pid, p, &gadget, &ip) < 0)
		return -1;
	buildids_capture(pid, p);
	/* beside the main thread: an injected syscall costs 5 us there, 35-70 us from another CPU */
	cpu_set_t own, near;
	int pinned = sched_getaffinity(0, sizeof(own), &own) == 0 && last_cpu(pid) >= 0;
	if (pinned) {
		CPU_ZERO(&near);
		CPU_SET(last_cpu(pid), &near);
		pinned = sched_setaffinity(0, sizeof(near), &near) == 0;
	}
	int r = cancelled() || inject_phase(pid, p, gadget, ip, snapshot, NULL) < 0 || cancelled() ? -1 : 0;
	if (pinned)
		sched_setaffinity(0, sizeof(own), &own);
	if (r < 0)
		return -1;
	return files_capture(t, p) < 0 || pending_capture(p) < 0 || seccomp_capture(p) < 0 ? -1 : 0;
}

/* Processes of the tree that share their fd table or fs info (clone with CLONE_FILES or CLONE_FS
 * but not CLONE_THREAD): restore cannot make separate processes share them again. Compared with
 * the parent and the sibling before (where such sharing comes from), by kcmp. */
static void refuse_shared_tables(struct tree *t)
{
	for (size_t k = 1; k < t->nprocs; k++) {
		struct proc_state *p = t->procs[k];
		pid_t others[2] = {(pid_t)t->procs[p->parent]->pf.pid, 0};
		for (size_t j = k; j-- > 1;)
			if (t->procs[j]->parent == p->parent) {
				others[1] = (pid_t)t->procs[j]->pf.pid;
				break;
			}
		for (int i = 0; i < 2; i++) {
			if (!others[i])
				continue;
			if (syscall(SYS_kcmp, others[i], (pid_t)p->pf.pid, KCMP_FILES, 0, 0) == 0)
				add_unsupported(p, CKPT_UNSUPPORTED_KIND_OTHER, -1, 0, "CLONE_FILES",
						"it shares its fd table with process %d (CLONE_FILES): restore cannot share one again", others[i]);
			if (syscall(SYS_kcmp, others[i], (pid_t)p->pf.pid, KCMP_FS, 0, 0) == 0)
				add_unsupported(p, CKPT_UNSUPPORTED_KIND_OTHER, -1, 0, "CLONE_FS",
						"it shares its working directory and umask with process %d (CLONE_FS): restore cannot share them again", others[i]);
		}
	}
}

/* A pipe or socket above stdio that leads out of a one-process dump, into one of its children:
 * the message says that --tree would take that child too. */
static void suggest_tree(struct tree *t)
{
	struct proc_state *p = t->procs[0];
	for (size_t i = 0; i < p->nunsup; i++) {
		struct unsupported_state *u = &p->unsup[i];
		if (strncmp(u->detail, "pipe:[", 6) && strncmp(u->detail, "socket:[", 8))
			continue;
		for (uint32_t c = 0; c < p->nomitted; c++) {
			if (!process_holds(p->omitted[c], u->detail))
				continue;
			char *why = xasprintf("%s, child process %u holds the other end: dump with --tree to take it too", u->reason, p->omitted[c]);
			free(u->reason);
			u->reason = why;
			break;
		}
	}
}

/* A dump of one process whose children it leaves out: they keep running outside the image, and
 * the restored process will not find them. Said, and recorded in the image (process.omitted). */
static void warn_omitted(const struct proc_state *p)
{
	if (!p->nomitted)
		return;
	char list[600];
	size_t n = 0;
	for (uint32_t i = 0; i < p->nomitted && n < sizeof(list) - 1; i++) {
		char *comm = read_filef(NULL, "/proc/%u/comm", p->omitted[i]);
		if (comm && strchr(comm, '\n'))
			*strchr(comm, '\n') = 0;
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%u (%s)", i ? ", " : "", p->omitted[i], comm ? comm : "?");
		free(comm);
	}
	warn("process %u has %u child process%s that this dump leaves out: %s; the restored process will not find %s "
	     "(--tree checkpoints them too)", p->pf.pid, p->nomitted, p->nomitted == 1 ? "" : "es", list,
	     p->nomitted == 1 ? "it" : "them");
}

/* How long the processes could not run; in the json progress as {"event":"frozen"}. */
static void report_frozen(const struct tree *t, uint64_t ns, int snapshot)
{
	uint64_t fork_ns = 0;
	for (size_t k = 0; k < t->nprocs; k++)
		fork_ns += t->procs[k]->snap_fork_ns;
	const struct proc_state *p = t->procs[0];
	if (snapshot && p->pre_settled) {
		char size[32];
		progress_step("resume", "process %u resumed after %.1f ms frozen (its pages were copied while it ran, in %.0f ms; "
			      "the %s it wrote meanwhile while frozen)", p->pf.pid, (double)ns / 1e6, precopy_ns(p->pre) / 1e6,
			      human_size(size, sizeof(size), p->pre_fresh));
		progress_frozen(ns, "precopy", 0);
		return;
	}
	progress_step("resume", "process %u%s resumed after %.1f ms frozen (%s)", p->pf.pid,
		      t->nprocs > 1 ? " and its descendants" : "", (double)ns / 1e6,
		      snapshot ? "its pages are read from a copy-on-write snapshot" : "its pages were read while frozen");
	progress_frozen(ns, snapshot ? "snapshot" : "frozen", fork_ns);
}

/* What a snapshot cost: the pages the process wrote while it lived, copied once by the kernel. */
static void report_cost(const struct proc_state *p)
{
	char size[32];
	progress_step("snapshot", "the snapshot of process %u held up to %s of its own (pages the process wrote meanwhile, freed as they were read)", p->pf.pid,
		      human_size(size, sizeof(size), p->snap_cost));
	progress_snapshot_cost(p->pf.pid, p->snap_cost);
}

/* The precopy (precopy.c) of a leave-running dump of one process: a short freeze of its own, in
 * which the armed main thread makes the userfaultfd that tracks its writes, then its pages staged
 * while it runs. *out stays NULL when this kernel or process cannot have one (a fork snapshot
 * then); -1 only when the freeze or the staging failed. */
/* RssAnon of /proc/PID/status. */
static uint64_t anon_bytes(pid_t pid)
{
	char *st = read_filef(NULL, "/proc/%d/status", pid);
	const char *v = st ? find_key(st, "RssAnon") : NULL;
	uint64_t kib = v ? strtoull(v, NULL, 10) : 0;
	free(st);
	return kib << 10;
}

static void quiet(const char *msg)
{
	(void)msg; /* the dump's own freeze says the same */
}

static int precopy_begin(const struct dump_opts *o, struct precopy **out)
{
	pid_t pid = o->pid;
	*out = NULL;
	if (seccomp_filtered(pid)) /* a filter could kill it for a syscall it never makes itself */
		return 0;
	struct precopy *pc = precopy_new();
	struct tree t;
	memset(&t, 0, sizeof(t));
	vmas_prefetch(pid);
	warn_to(quiet);
	int rc = tree_freeze(&t, pid, 0);
	if (rc == 0) {
		struct proc_state *p = t.procs[0];
		uint64_t gadget, ip;
		rc = threads_capture(pid, p) < 0 || vmas_capture(pid, p) < 0 || mm_find_syscall(pid, p, &gadget, &ip) < 0 ||
				     inject_phase(pid, p, gadget, ip, 0, pc) < 0
			     ? -1
			     : 0;
	}
	if (tree_release(&t) < 0)
		rc = -1;
	tree_free(&t);
	warn_to(NULL);
	proc_mem_close(); /* its /proc/PID/mem is of this program: the process may run execve before the dump's freeze */
	int staged = rc == 0 && !cancelled() ? precopy_stage(pc, pid, o->dir) : -1;
	if (staged != 0 || cancelled()) {
		precopy_end(pc);
		return staged < 0 || cancelled() ? -1 : 0;
	}
	*out = pc;
	return 0;
}

static int dump_run(struct dump_opts *o)
{
	uint64_t t_start = now_ns(CLOCK_MONOTONIC);
	struct tree t;
	memset(&t, 0, sizeof(t));
	int fd = -1, rc = -1;
	uint64_t size = 0;
	struct precopy *pre = NULL;
	char procdir[64];
	snprintf(procdir, sizeof(procdir), "/proc/%d", o->pid);
	if (access(procdir, F_OK) < 0) {
		fail(EXIT_NOPROC, "process %d: no such process", o->pid);
		goto out;
	}
	if (o->pid == getpid() || o->pid == getppid()) {
		fail(EXIT_USAGE, "process %d is ckpt itself", o->pid);
		goto out;
	}
	remove_stale_temps(o->dir);
	fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fail_errno(EXIT_IO, "cannot create the image next to %s", o->image);
		goto out;
	}
	flock(fd, LOCK_EX); /* held until the image is in place or gone: the mark of a dump still running */
	int small = o->precopy == PRECOPY_AUTO && anon_bytes(o->pid) < PRECOPY_FROM;
	if (small && g_verbose)
		fprintf(stderr, "ckpt: no precopy: under %llu MiB of anonymous memory a fork snapshot freezes the process as briefly\n",
			PRECOPY_FROM >> 20);
	if (o->precopy != PRECOPY_NO && !small) {
		progress_step("precopy", "copying the pages of process %d while it runs", o->pid);
		if (precopy_begin(o, &pre) < 0)
			goto out;
		fault_point("precopy-staged");
	}
	if (o->snapshot)
		vmas_prefetch(o->pid); /* the one slow read of the areas, before the freeze */
	int restaged = pre ? precopy_restage(pre, o->pid) : 0; /* after it: what is written while it reads, once more */
	if (restaged < 0)
		goto out;
	if (restaged > 0) { /* it could not go on: no precopy */
		precopy_end(pre);
		pre = NULL;
	}
	if (pre)
		fault_point("precopy-restaged");
	progress_step("freeze", "stopping every thread of process %d%s", o->pid, o->tree ? " and its descendants" : "");
	uint64_t t_freeze = now_ns(CLOCK_MONOTONIC), frozen_ns = 0;
	if (tree_freeze(&t, o->pid, o->tree) < 0)
		goto out;
	t.procs[0]->pre = pre; /* the tree's now */
	pre = NULL;
	t.frozen_ns = now_ns(CLOCK_MONOTONIC);
	uint64_t time_ns = now_ns(CLOCK_REALTIME);
	size_t nthreads = 0, nvmas = 0, nfds = 0;
	uint32_t npending = 0;
	for (size_t k = 0; k < t.nprocs; k++)
		nthreads += t.procs[k]->nthreads;
	progress_step("threads", "%zu threads in %zu process%s", nthreads, t.nprocs, t.nprocs == 1 ? "" : "es");
	for (size_t k = 0; k < t.nprocs; k++) {
		if (capture_process(&t, t.procs[k], o->snapshot) < 0)
			goto out;
		nvmas += t.procs[k]->nvmas, nfds += t.procs[k]->nfds, npending += t.procs[k]->pending.n;
	}
	progress_step("mm", "memory descriptors");
	progress_step("vmas", "%zu areas", nvmas);
	if (cancelled() || files_finish(&t) < 0)
		goto out;
	progress_step("files", "%zu file descriptors, %zu open files", nfds, t.nfiles);
	progress_step("signals", "handlers and %u pending signals", npending);
	refuse_shared_tables(&t);
	if (!o->tree)
		suggest_tree(&t);
	size_t nunsup = 0;
	for (size_t k = 0; k < t.nprocs; k++)
		nunsup += t.procs[k]->nunsup;
	if (nunsup && !o->allow_unsupported) {
		report_unsupported(&t);
		goto out;
	}
	for (size_t k = 0; k < t.nprocs; k++)
		for (size_t i = 0; i < t.procs[k]->nunsup; i++)
			warn("not captured: %s (%s)", t.procs[k]->unsup[i].reason, t.procs[k]->unsup[i].detail);
	warn_omitted(t.procs[0]);
	/* With a snapshot of every process, they go on now: their pages are read from the snapshots. */
	int snapped = o->snapshot;
	for (size_t k = 0; k < t.nprocs; k++)
		snapped &= t.procs[k]->snap != 0 || t.procs[k]->pre_settled;
	if (snapped) {
		if (cancelled() || tree_release(&t) < 0)
			goto out;
		frozen_ns = now_ns(CLOCK_MONOTONIC) - t_freeze;
		report_frozen(&t, frozen_ns, 1);
		for (size_t k = 0; k < t.nprocs; k++) /* it runs on untracked: what to dump is all held */
			precopy_stop_watching(t.procs[k]->pre);
	} else {
		for (size_t k = 0; k < t.nprocs; k++) /* one process that stays frozen holds them all */
			snapshot_end(t.procs[k]);
	}
	for (size_t k = 0; k < t.nprocs && o->snapshot; k++)
		if (vmas_verify((pid_t)t.procs[k]->pf.pid, t.procs[k]) < 0)
			goto out;
	if (cancelled() || write_image(fd, o, &t, time_ns, frozen_ns, &size) < 0)
		goto out;
	for (size_t k = 0; k < t.nprocs && snapped; k++) {
		int had_snapshot = t.procs[k]->snap != 0;
		snapshot_end(t.procs[k]);
		if (had_snapshot)
			report_cost(t.procs[k]);
		precopy_end(t.procs[k]->pre); /* its staging file, dropped unwritten */
		t.procs[k]->pre = NULL;
	}
	fault_point("written");
	if (cancelled())
		goto out;
	/* Every byte of the processes is in the file: ones left running go on now rather than
	 * waiting for the disk. Ones to be killed wait until their image is durable. */
	if (!o->kill_after && !snapped) {
		progress_step("resume", "resuming process %d%s", o->pid, t.nprocs > 1 ? " and its descendants" : "");
		if (tree_release(&t) < 0)
			goto out;
		report_frozen(&t, now_ns(CLOCK_MONOTONIC) - t_freeze, 0);
	}
	/* Root's image of another user's process is that user's: it holds only their process, and
	 * restore runs an image as its file's owner (as root, without --as-recorded). */
	struct proc_state *root = t.procs[0];
	if (geteuid() == 0 && root->pf.uids[0] != 0 && fchown(fd, root->pf.uids[0], root->pf.gids[0]) < 0) {
		fail_errno(EXIT_IO, "cannot give %s to uid %u", o->image, root->pf.uids[0]);
		goto out;
	}
	if (!o->no_fsync && fsync(fd) < 0) {
		fail_errno(EXIT_IO, "cannot write %s", o->image);
		goto out;
	}
	/* The point of no return: the image is complete and durable. A cancel up to here leaves
	 * nothing under IMAGE; one that comes later is too late, and the dump completes (with --kill,
	 * the processes are killed once their image is in place). */
	if (cancelled())
		goto out;
	progress_step("publish", "renaming the image to %s", o->image);
	fault_point("publish");
	/* without --force, never over a file that appeared meanwhile either */
	if (o->force ? rename(o->tmp, o->image) < 0 : renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->image, RENAME_NOREPLACE) < 0) {
		if (errno == EEXIST)
			fail(EXIT_USAGE, "%s exists; --force replaces it", o->image);
		else
			fail_errno(EXIT_IO, "cannot rename the image to %s", o->image);
		goto out;
	}
	int dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (!o->no_fsync)
			fsync(dfd);
		close(dfd);
	}
	close(fd);
	fd = -1;
	if (o->kill_after) {
		progress_step("resume", "killing process %d%s", o->pid, t.nprocs > 1 ? " and its descendants" : "");
		inet_quiet_before_kill();
		for (size_t k = t.nprocs; k-- > 0;) /* children first: no orphan runs on unseen */
			wait_killed(t.procs[k]);
	}
	rc = 0;
out:
	precopy_end(pre);
	for (size_t k = 0; k < t.nprocs; k++) {
		snapshot_end(t.procs[k]);
		precopy_end(t.procs[k]->pre);
		t.procs[k]->pre = NULL;
	}
	if (rc < 0)
		tree_blame_exit(&t);
	if (tree_release(&t) < 0 && rc == 0)
		rc = -1;
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(o->tmp);
	mem_forget();
	size_t nprocs = t.nprocs;
	tree_free(&t);
	fault_report();
	if (rc == 0) {
		progress_done(o->image, size, (now_ns(CLOCK_MONOTONIC) - t_start) / 1000000, nprocs);
		return EXIT_OK;
	}
	progress_error();
	return fail_code();
}

static int usage(void)
{
	fputs("usage: ckpt dump PID -o IMAGE [--force] [--tree] [--leave-running [--no-snapshot | --precopy | --no-precopy] | --kill] [--no-fsync] [--compress[=LEVEL]] [--progress=json] [--allow-unsupported] [--external unix] [--tcp-close]\n", stderr);
	return EXIT_USAGE;
}

static pid_t g_worker;

static void forward(int sig)
{
	if (g_worker > 0)
		kill(g_worker, sig);
}

int cmd_dump(int argc, char **argv)
{
	struct dump_opts o = {0};
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"leave-running", no_argument, NULL, 'L'},
		{"kill", no_argument, NULL, 'K'},
		{"progress", required_argument, NULL, 'P'},
		{"allow-unsupported", no_argument, NULL, 'U'},
		{"tree", no_argument, NULL, 'T'},
		{"external", required_argument, NULL, 'E'},
		{"tcp-close", no_argument, NULL, 'C'},
		{"force", no_argument, NULL, 'F'},
		{"no-snapshot", no_argument, NULL, 'S'},
		{"no-precopy", no_argument, NULL, 'R'},
		{"precopy", no_argument, NULL, 'Q'},
		{"no-fsync", no_argument, NULL, 'Y'},
		{"compress", optional_argument, NULL, 'Z'},
		{"verbose", no_argument, NULL, 'v'},
		{NULL, 0, NULL, 0},
	};
	int c, leave = 0, no_snapshot = 0, precopy = PRECOPY_AUTO;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:v", opts, NULL)) != -1) {
		switch (c) {
		case 'o': o.image = optarg; break;
		case 'L': leave = 1; break;
		case 'K': o.kill_after = 1; break;
		case 'U': o.allow_unsupported = 1; break;
		case 'T': o.tree = 1; break;
		case 'C': g_sock_tcp_close = 1; break;
		case 'E':
			if (strcmp(optarg, "unix")) {
				fprintf(stderr, "ckpt: --external: only unix is known\n");
				return EXIT_USAGE;
			}
			g_sock_external_unix = 1;
			break;
		case 'F': o.force = 1; break;
		case 'S': no_snapshot = 1; break;
		case 'R': precopy = PRECOPY_NO; break;
		case 'Q': precopy = PRECOPY_YES; break;
		case 'Y': o.no_fsync = 1; break;
		case 'Z': {
			char *e = NULL;
			o.compress = 1;
			o.level = optarg ? (int)strtol(optarg, &e, 10) : 1;
			if (optarg && (*e || !*optarg || o.level < -7 || o.level > 19)) {
				fprintf(stderr, "ckpt: --compress=%s: give a zstd level from -7 (fastest) to 19\n", optarg);
				return EXIT_USAGE;
			}
			if (zstd_unavailable()) {
				fprintf(stderr, "ckpt: --compress: %s\n", zstd_unavailable());
				return EXIT_USAGE;
			}
			break;
		}
		case 'v': g_verbose = 1; break;
		case 'P':
			if (strcmp(optarg, "json")) {
				fprintf(stderr, "ckpt: --progress: only json is known\n");
				return EXIT_USAGE;
			}
			g_json = 1;
			break;
		default: return usage();
		}
	}
	if (optind != argc - 1 || !o.image || (leave && o.kill_after) || (no_snapshot && o.kill_after))
		return usage();
	o.snapshot = !o.kill_after && !no_snapshot;
	/* a compressed dump keeps both CPUs busy already: the precopy's extra pass over the pages
	 * would cost it ~40% of its speed (1 GiB heap-like: 1.49 s against 0.93 s), so it asks for it */
	o.precopy = o.snapshot && !o.tree && !(o.compress && precopy == PRECOPY_AUTO) ? precopy : PRECOPY_NO;
	char *end;
	long pid = strtol(argv[optind], &end, 10);
	if (*end || pid <= 0 || pid > 4194304 /* PID_MAX_LIMIT */) {
		fprintf(stderr, "ckpt: dump: '%s' is not a process id\n", argv[optind]);
		return EXIT_USAGE;
	}
	o.pid = (pid_t)pid;
	struct stat exists;
	if (!o.force && lstat(o.image, &exists) == 0) {
		/* before anything is frozen; the rename checks again */
		fprintf(stderr, "ckpt: %s exists; --force replaces it\n", o.image);
		return EXIT_USAGE;
	}
	char *dcopy = xstrdup(o.image), *bcopy = xstrdup(o.image);
	o.dir = xstrdup(dirname(dcopy));
	o.tmp = xasprintf("%s/.%s.tmp-%d", o.dir, basename(bcopy), getpid());
	free(dcopy);
	free(bcopy);

	fflush(NULL);
	pid_t parent = getpid();
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	g_worker = fork();
	if (g_worker < 0) {
		fprintf(stderr, "ckpt: dump: fork: %s\n", strerror(errno));
		free(o.tmp);
		free(o.dir);
		return EXIT_FAIL;
	}
	if (g_worker == 0) {
		struct sigaction sa = {.sa_handler = on_cancel};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		signal(SIGPIPE, SIG_IGN); /* a caller gone away must not kill us halfway through a rollback */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			g_cancel = SIGHUP;
		sigprocmask(SIG_SETMASK, &old, NULL);
		int code = dump_run(&o);
		free(o.tmp);
		free(o.dir);
		exit(code); /* exit, not _exit: LeakSanitizer checks the worker too */
	}
	struct sigaction sa = {.sa_handler = forward};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	int st;
	while (waitpid(g_worker, &st, 0) < 0)
		if (errno != EINTR) {
			st = 1 << 8;
			break;
		}
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : EXIT_FAIL;
	if (!WIFEXITED(st)) {
		unlink(o.tmp);
		fprintf(stderr, "ckpt: dump: the worker was killed by signal %d\n", WTERMSIG(st));
	}
	free(o.tmp);
	free(o.dir);
	return code;
}
