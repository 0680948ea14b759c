/* The leave-running snapshot: a copy-on-write copy of a frozen process's memory, held by a new
 * process that never runs, so that the process itself goes on within milliseconds and its pages
 * are read from the copy afterwards.
 *
 * How it is made, still inside the inject phase (every thread frozen, the main one armed):
 *  1. the main thread clones a helper that shares its memory (CLONE_VM: no page table copied);
 *  2. the helper forks the snapshot (the page tables are copied, write-protected: copy on write);
 *  3. the helper is killed and the main thread reaps it (wait4), before anything resumes.
 * The snapshot is thus no child of the target: its parent becomes the target's reaper (a child
 * subreaper or init), and the target never sees it. Both clones run at entries of the injection
 * gadget (inject.h) where a new process that was let go runs exit_group, never the program; both
 * are created traced (PTRACE_O_TRACECLONE, inherited from the seize), stopped at birth, and
 * PTRACE_O_EXITKILL is set on the helper before the snapshot is made, which inherits it: if the
 * worker dies, the kernel kills the snapshot. With exit_signal 0 the helper's birth and death send
 * no SIGCHLD to the target, and only wait(__WALL) could see it in the instant before it is reaped.
 *
 * What a fork does not copy as it is (MAP_SHARED memory, which the target can change, areas with
 * MADV_DONTFORK or MADV_WIPEONFORK) is read while frozen (pages_copy_frozen in memory.c). The
 * snapshot's cost is the pages the target writes while it lives: each such page then has two
 * copies. It is at most the private memory of the target, and it is reported. */
#include "ckpt.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fdslots.h"

#ifndef CLONE_VM
#define CLONE_VM 0x00000100
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_userfaultfd
#define SYS_userfaultfd 323
#endif

/* Stopped at birth (the auto-attach's PTRACE_EVENT_STOP); -1 when it died. */
static int wait_birth(pid_t tid)
{
	for (;;) {
		int st;
		pid_t r = waitpid(tid, &st, __WALL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != tid || !WIFSTOPPED(st))
			return -1;
		if ((st >> 16) == PTRACE_EVENT_STOP)
			return 0;
		/* a signal came first (blocked: only SIGKILL acts, and that ends the wait above) */
		ptrace(PTRACE_CONT, tid, 0, 0);
	}
}

/* Kills one of our traced new processes and waits for its end, as its tracer. */
static void kill_traced(pid_t tid)
{
	kill(tid, SIGKILL);
	for (;;) {
		int st;
		pid_t r = waitpid(tid, &st, __WALL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != tid || WIFEXITED(st) || WIFSIGNALED(st))
			return;
	}
}

/* The helper (pid in the target's namespace: `nspid`) made a zombie child of the target: the
 * target's main thread reaps it, still frozen. */
static int reap_helper(struct tracee *t0, pid_t nspid)
{
	for (int i = 0; i < 200; i++) {
		long r;
		if (inject_syscall(t0, &r, SYS_wait4, (uint64_t)nspid, 0, __WALL | WNOHANG, 0, 0, 0) < 0)
			return -1;
		if (r == nspid)
			return 0;
		if (r != 0)
			break;
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
	}
	warn("process %d keeps a zombie child %d of ckpt's snapshot (it could not be reaped)", t0->tgid, nspid);
	return 0;
}

int seccomp_filtered(pid_t pid)
{
	char *st = read_filef(NULL, "/proc/%d/status", pid);
	const char *v = st ? find_key(st, "Seccomp") : NULL;
	int filtered = !v || atoi(v) != 0;
	free(st);
	return filtered;
}

/* The helper: a clone of the frozen main thread t0 sharing the process's memory (CLONE_VM) but
 * not its descriptors, stopped at birth, killed by the kernel if we die (PTRACE_O_EXITKILL), ready
 * for injected syscalls (*h). 1 when made, 0 when the clone failed (`why` set), -1 on failure;
 * *nspid is what helper_end reaps (0 none). */
static int helper_start(pid_t pid, struct tracee *t0, uint64_t gadget, struct tracee *h, long *nspid, const char **why)
{
	uint64_t ip = t0->syscall_ip;
	*nspid = 0;
	t0->syscall_ip = gadget + INJECT_FORK_ENTRY;
	t0->new_task = 0;
	int r = inject_syscall(t0, nspid, SYS_clone, CLONE_VM, 0, 0, 0, 0, 0);
	t0->syscall_ip = ip;
	if (r < 0)
		return -1;
	if (*nspid < 0) {
		*why = strerror((int)-*nspid);
		*nspid = 0;
		return 0;
	}
	pid_t helper = t0->new_task ? t0->new_task : (pid_t)*nspid;
	*h = (struct tracee){.tid = helper, .attached = 1, .tgid = helper};
	if (wait_birth(helper) < 0)
		return fail(EXIT_FAIL, "the helper of process %d died at birth", pid);
	h->stopped = 1;
	if (ptrace(PTRACE_SETOPTIONS, helper, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL) < 0 ||
	    ptrace(PTRACE_GETREGS, helper, 0, &h->orig) < 0)
		return fail_errno(EXIT_FAIL, "cannot take over the helper of process %d", pid);
	h->syscall_ip = gadget + INJECT_ONEWAY_ENTRY;
	return 1;
}

/* The helper killed, and reaped by the process's main thread. */
static int helper_end(struct tracee *t0, const struct tracee *h, long nspid)
{
	if (h->tid)
		kill_traced(h->tid);
	return nspid ? reap_helper(t0, (pid_t)nspid) : 0;
}

int helper_userfaultfd(pid_t pid, struct tracee *t0, uint64_t gadget, int flags)
{
	if (!gadget || !t0->frame)
		return -2;
	struct tracee h = {0};
	long nspid, fd = -1;
	const char *why = NULL;
	int r = helper_start(pid, t0, gadget, &h, &nspid, &why);
	int ours = -2;
	if (r > 0 && inject_syscall(&h, &fd, SYS_userfaultfd, (uint64_t)flags, 0, 0, 0, 0, 0) == 0) {
		ours = -3;
		if (fd >= 0) { /* in the helper's own descriptor table: gone with it, whatever happens */
			int pidfd = (int)syscall(SYS_pidfd_open, h.tid, 0);
			ours = pidfd >= 0 ? steal_fd(pidfd, (int)fd) : -3;
			if (pidfd >= 0)
				close(pidfd);
		} else if (g_verbose) {
			fprintf(stderr, "ckpt: no precopy: userfaultfd in process %d: %s\n", pid, strerror((int)-fd));
		}
	} else if (r >= 0 && g_verbose) {
		fprintf(stderr, "ckpt: no precopy: no helper (%s)\n", why ? why : "its syscall failed");
	}
	if (helper_end(t0, &h, nspid) < 0 || r < 0)
		return -1;
	return ours;
}

int snapshot_take(pid_t pid, struct proc_state *p, struct tracee *t0, uint64_t gadget)
{
	p->snap = 0;
	/* a filter could kill the process for a clone it never made itself */
	if (!gadget || !t0->frame || seccomp_filtered(pid)) {
		warn("process %d stays frozen while its memory is read: %s", pid,
		     !gadget || !t0->frame ? "its main thread could not be armed for a snapshot" : "it runs under a seccomp filter");
		return 0;
	}
	struct tracee h = {0};
	long nspid;
	const char *why = NULL;
	int rc = -1, made = helper_start(pid, t0, gadget, &h, &nspid, &why);
	if (made <= 0) {
		if (made == 0) {
			warn("process %d stays frozen while its memory is read: no snapshot (clone: %s)", pid, why);
			rc = 0;
		}
		goto kill;
	}
	long snap_nspid;
	uint64_t t_fork = now_ns(CLOCK_MONOTONIC);
	if (inject_syscall(&h, &snap_nspid, SYS_clone, 0, 0, 0, 0, 0, 0) < 0)
		goto kill;
	if (snap_nspid < 0 || !h.new_task) {
		warn("process %d stays frozen while its memory is read: no snapshot (fork: %s)", pid,
		     snap_nspid < 0 ? strerror((int)-snap_nspid) : "no clone event");
		rc = 0;
		goto kill;
	}
	pid_t snap = h.new_task;
	if (wait_birth(snap) < 0) {
		fail(EXIT_FAIL, "the snapshot of process %d died at birth", pid);
		goto kill;
	}
	p->snap = snap;
	p->snap_fork_ns = now_ns(CLOCK_MONOTONIC) - t_fork;
	p->snap_tr = xcalloc(1, sizeof(*p->snap_tr));
	*p->snap_tr = (struct tracee){.tid = snap, .attached = 1, .stopped = 1, .tgid = snap, .syscall_ip = gadget + INJECT_ONEWAY_ENTRY};
	p->snap_read_from = p->snap_read_to = 0;
	p->snap_cost = 0;
	p->snap_releases = 0;
	if (ptrace(PTRACE_GETREGS, snap, 0, &p->snap_tr->orig) < 0) {
		fail_errno(EXIT_FAIL, "cannot take over the snapshot of process %d", pid);
		goto kill;
	}
	/* the snapshot holds the frames the inject phase put below the threads' stacks: their own bytes */
	for (size_t i = 0; i < p->nthreads; i++) {
		const struct tracee *t = &p->threads[i].tr;
		if (t->covered && mem_write(snap, t->frame, t->covered, t->covered_len) < 0) {
			fail_errno(EXIT_FAIL, "cannot write to the snapshot of process %d", pid);
			goto kill;
		}
	}
	rc = 0;
kill:
	if (helper_end(t0, &h, nspid) < 0)
		rc = -1;
	if (rc == 0 && p->snap)
		fault_point("snapshot");
	if (rc < 0)
		snapshot_end(p);
	return rc;
}

#define RELEASE_EVERY (64ULL << 20)

/* MemAvailable of /proc/meminfo and MemTotal, in bytes (0 when unknown). */
static void meminfo(uint64_t *avail, uint64_t *total)
{
	char *m = read_file("/proc/meminfo", NULL);
	const char *a = m ? find_key(m, "MemAvailable") : NULL, *t = m ? find_key(m, "MemTotal") : NULL;
	*avail = a ? (uint64_t)atoll(a) << 10 : 0;
	*total = t ? (uint64_t)atoll(t) << 10 : 0;
	free(m);
}

/* The bytes the snapshot holds alone: pages the process wrote since (their old copies). */
static uint64_t held_alone(pid_t snap)
{
	char *r = read_filef(NULL, "/proc/%d/smaps_rollup", snap);
	const char *v = r ? find_key(r, "Private_Dirty") : NULL;
	uint64_t n = v ? (uint64_t)atoll(v) << 10 : 0;
	free(r);
	return n;
}

static int release_read(struct proc_state *p)
{
	/* sampled before every 4th release (the rollup walks the snapshot's pages: not at every one) */
	if (p->snap_releases++ % 4 == 0) {
		uint64_t held = held_alone(p->snap);
		p->snap_cost = held > p->snap_cost ? held : p->snap_cost;
	}
	uint64_t from = p->snap_read_from, len = p->snap_read_to - p->snap_read_from;
	p->snap_read_from = p->snap_read_to = 0;
	long r;
	if (!len)
		return 0;
	if (inject_syscall(p->snap_tr, &r, SYS_madvise, from, len, MADV_DONTNEED, 0, 0, 0) < 0)
		return fail(EXIT_FAIL, "the snapshot of process %u was killed before its pages were read", p->pf.pid);
	return 0; /* (an error, EINVAL on a locked area, only keeps those pages a little longer) */
}

int snapshot_read(struct proc_state *p, uint64_t addr, uint64_t len)
{
	if (p->snap_read_to != addr && release_read(p) < 0)
		return -1;
	if (!p->snap_read_to)
		p->snap_read_from = addr;
	p->snap_read_to = addr + len;
	if (p->snap_read_to - p->snap_read_from >= RELEASE_EVERY) {
		if (release_read(p) < 0)
			return -1;
		/* the bound: a snapshot never drives the machine into memory pressure */
		uint64_t avail, total;
		meminfo(&avail, &total);
		uint64_t floor = total / 32 > (256ULL << 20) ? total / 32 : (256ULL << 20);
		if (total && avail < floor)
			return fail(EXIT_FAIL, "memory ran low (%llu MiB available) while the pages of process %u were read from its "
				    "snapshot, which holds the pages it wrote meanwhile: the dump stopped to free them; --no-snapshot "
				    "reads them while the process is frozen", (unsigned long long)(avail >> 20), p->pf.pid);
	}
	return 0;
}

void snapshot_end(struct proc_state *p)
{
	free(p->snap_tr);
	p->snap_tr = NULL;
	if (!p->snap)
		return;
	/* its cost: pages that are its alone, because the target wrote its own copy meanwhile (the
	 * largest figure seen: pages already read are freed as it goes) */
	uint64_t held = held_alone(p->snap);
	p->snap_cost = held > p->snap_cost ? held : p->snap_cost;
	kill_traced(p->snap);
	p->snap = 0;
}
