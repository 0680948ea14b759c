/* Freezing a process, or a process and every descendant (--tree), as one consistent snapshot:
 * every thread of every process is stopped (PTRACE_SEIZE + PTRACE_INTERRUPT) before anything is
 * read. Threads and children that appear meanwhile are found by rescanning /proc and by the
 * clone and fork events of the threads already seized (which attach the new task at once), until
 * a whole pass finds nothing new; a child that exits becomes a zombie of its parent; unreaped
 * children are recorded as zombies. Without --tree, the children are only noted (left out). */
#include "ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FREEZE_TIMEOUT_MS 10000

struct freeze {
	struct tree *t;
	pid_t root;
	int whole;  /* --tree */
	long opts;  /* PTRACE_SEIZE options */
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static pid_t tracer_of(pid_t tid)
{
	char *s = read_filef(NULL, "/proc/%d/status", tid);
	const char *v = s ? find_key(s, "TracerPid") : NULL;
	pid_t r = v ? (pid_t)atoi(v) : -1;
	free(s);
	return r;
}

/* The state letter of /proc/PID/task/TID/stat ('?' when it is gone). */
static char state_letter(pid_t pid, pid_t tid)
{
	char *s = read_filef(NULL, "/proc/%d/task/%d/stat", pid, tid);
	char *rp = s ? strrchr(s, ')') : NULL;
	char c = rp && rp[1] ? rp[2] : '?';
	free(s);
	return c;
}

/* Gone, dead, or on its way out (PF_EXITING in the flags of /proc/PID/stat, set as soon as
 * the kernel starts to tear it down, before it is a zombie). */
static int exiting(pid_t pid)
{
	char *s = read_filef(NULL, "/proc/%d/stat", pid);
	char *rp = s ? strrchr(s, ')') : NULL;
	char state = '?';
	unsigned long flags = 0;
	if (rp)
		sscanf(rp + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags);
	free(s);
	return state == '?' || state == 'Z' || state == 'X' || (flags & 0x4 /* PF_EXITING */);
}

static struct thread_state *find_thread(struct proc_state *p, pid_t tid)
{
	for (size_t i = 0; i < p->nthreads; i++)
		if (p->threads[i].tr.tid == tid)
			return &p->threads[i];
	return NULL;
}

/* The process and thread of a tid of the tree. */
static struct proc_state *owner_of(struct tree *t, pid_t tid, struct thread_state **th)
{
	for (size_t k = 0; k < t->nprocs; k++)
		if ((*th = find_thread(t->procs[k], tid)))
			return t->procs[k];
	return NULL;
}

static struct proc_state *find_process(struct tree *t, pid_t pid)
{
	for (size_t k = 0; k < t->nprocs; k++)
		if ((pid_t)t->procs[k]->pf.pid == pid)
			return t->procs[k];
	return NULL;
}

static struct thread_state *add_thread(struct proc_state *p, pid_t tid)
{
	p->threads = xrealloc(p->threads, (p->nthreads + 1) * sizeof(*p->threads));
	struct thread_state *t = &p->threads[p->nthreads++];
	memset(t, 0, sizeof(*t));
	t->tr.tid = tid;
	t->tr.tgid = (pid_t)p->pf.pid; /* so that an exit names the process of the tree */
	return t;
}

static void drop_thread(struct proc_state *p, struct thread_state *t)
{
	free(t->tr.dequeued);
	size_t i = (size_t)(t - p->threads);
	memmove(t, t + 1, (p->nthreads - i - 1) * sizeof(*t));
	p->nthreads--;
}

/* A new process of the tree, its state noted before we stop it (a stopped one stays stopped). */
static struct proc_state *add_process(struct freeze *fz, pid_t pid, int32_t parent)
{
	struct proc_state *p = tree_add_process(fz->t, parent);
	p->pf.pid = (uint32_t)pid;
	char c = state_letter(pid, pid);
	p->pf.state = (uint8_t)c;
	if (c == 'T')
		p->pf.flags |= CKPT_PROCESS_FLAGS_STOPPED;
	return p;
}

/* Seizes one thread; 1 when it is gone (dropped), 0 when seized, -1 on failure. */
static int seize(struct freeze *fz, struct proc_state *p, struct thread_state *t)
{
	pid_t pid = (pid_t)p->pf.pid, tid = t->tr.tid;
	/* An execve in another thread kills this one, or replaces the main thread (its new program
	 * keeps the PID): for that instant PTRACE_SEIZE says EPERM. A thread is then dropped, the
	 * main thread asked again a few times. */
	for (int attempt = 0; ptrace(PTRACE_SEIZE, tid, 0, fz->opts) < 0; attempt++) {
		int e = errno;
		if (e == ESRCH) {
			if (tid == fz->root)
				return fail(EXIT_NOPROC, "process %d: no such process", pid);
			drop_thread(p, t);
			return 1;
		}
		pid_t tracer = tracer_of(tid);
		if (e == EPERM && tracer == getpid())
			break; /* attached by PTRACE_O_TRACECLONE/TRACEFORK already */
		if (tracer > 0)
			return fail(EXIT_PERM, "cannot attach to process %d: it is already traced by process %d", pid, tracer);
		char state = state_letter(pid, tid);
		if (e == EPERM && tid != pid && (state == 'Z' || state == 'X' || state == '?')) {
			drop_thread(p, t);
			return 1;
		}
		if (e == EPERM && tid == pid && attempt < 20) {
			sleep_ms(1);
			continue;
		}
		if (e == EPERM && state == 'Z')
			return fail(EXIT_NOPROC, "process %d has exited (a zombie)", pid);
		errno = e;
		return fail_errno(EXIT_PERM, "cannot attach to process %d (ptrace)", pid);
	}
	t->tr.attached = 1;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 && errno != ESRCH)
		return fail_errno(EXIT_FAIL, "PTRACE_INTERRUPT on thread %d", tid);
	return 0;
}

/* Every thread of a process in /proc that we do not hold yet; how many were seized. */
static int seize_threads(struct freeze *fz, struct proc_state *p)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%u/task", p->pf.pid);
	DIR *d = opendir(dir);
	if (!d)
		return (pid_t)p->pf.pid == fz->root ? fail_errno(EXIT_NOPROC, "process %u", p->pf.pid) : 0;
	int added = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);
		if (tid <= 0 || find_thread(p, tid))
			continue;
		int r = seize(fz, p, add_thread(p, tid));
		if (r < 0) {
			closedir(d);
			return -1;
		}
		added += r == 0;
	}
	closedir(d);
	return added;
}

/* A child that exited and that its parent has not reaped. */
static void add_zombie(struct proc_state *p, pid_t pid)
{
	char *st = read_filef(NULL, "/proc/%d/stat", pid);
	char *rp = st ? strrchr(st, ')') : NULL;
	unsigned long long f[60] = {0};
	int n = 2;
	char *save, *tok = rp ? strtok_r(rp + 2, " ", &save) : NULL;
	while (tok && (tok = strtok_r(NULL, " ", &save)) && ++n < 60)
		f[n] = strtoull(tok, NULL, 10);
	char *lp = st ? strchr(st, '(') : NULL;
	p->zombies = xrealloc(p->zombies, (p->nzombies + 1) * sizeof(*p->zombies));
	struct zombie_state *z = &p->zombies[p->nzombies++];
	memset(z, 0, sizeof(*z));
	z->f.pid = (uint32_t)pid;
	z->f.pgid = (uint32_t)f[4];
	z->f.sid = (uint32_t)f[5];
	z->f.exit_status = (uint32_t)f[51]; /* field 52: the exit code as waitpid() returns it */
	z->comm = lp && rp > lp ? xasprintf("%.*s", (int)(rp - lp - 1), lp + 1) : xstrdup("");
	free(st);
}

static int has_zombie(const struct proc_state *p, pid_t pid)
{
	for (size_t i = 0; i < p->nzombies; i++)
		if ((pid_t)p->zombies[i].f.pid == pid)
			return 1;
	return 0;
}

/* The children of every thread of process k: new members of the tree (seized), zombies, or, for
 * a dump of one process, children left out. Returns how many it added. */
static int scan_children(struct freeze *fz, size_t k)
{
	struct proc_state *p = fz->t->procs[k];
	int added = 0;
	for (size_t i = 0; i < p->nthreads; i++) {
		char *list = read_filef(NULL, "/proc/%u/task/%d/children", p->pf.pid, p->threads[i].tr.tid);
		for (char *s = list, *end; s && *s; s = end) {
			pid_t child = (pid_t)strtol(s, &end, 10);
			if (end == s)
				break;
			if (child <= 0 || find_process(fz->t, child) || has_zombie(p, child))
				continue;
			if (state_letter(child, child) == 'Z') {
				add_zombie(p, child);
				added++;
				continue;
			}
			if (!fz->whole) {
				int known = 0;
				for (uint32_t j = 0; j < p->nomitted; j++)
					known |= p->omitted[j] == (uint32_t)child;
				if (!known) {
					p->omitted = xrealloc(p->omitted, (p->nomitted + 1) * sizeof(uint32_t));
					p->omitted[p->nomitted++] = (uint32_t)child;
				}
				continue;
			}
			struct proc_state *c = add_process(fz, child, (int32_t)k);
			p = fz->t->procs[k]; /* (tree_add_process may move the array of pointers, not the processes) */
			int r = seize(fz, c, add_thread(c, child));
			if (r < 0) {
				free(list);
				return -1;
			}
			added++;
		}
		free(list);
	}
	return added;
}

/* A process of the tree that is gone: a zombie of its parent from now on, if it had no children. */
static int process_gone(struct freeze *fz, struct proc_state *p)
{
	pid_t pid = (pid_t)p->pf.pid;
	if (pid == fz->root)
		return fail(EXIT_NOPROC, "process %d exited during the checkpoint", pid);
	size_t k = 0;
	while (fz->t->procs[k] != p)
		k++;
	for (size_t j = 0; j < fz->t->nprocs; j++)
		if (fz->t->procs[j]->parent == (int32_t)k)
			return fail(EXIT_NOPROC, "process %d of the tree exited during the checkpoint, leaving its children", pid);
	proc_free(p);
	free(p);
	memmove(&fz->t->procs[k], &fz->t->procs[k + 1], (fz->t->nprocs - k - 1) * sizeof(*fz->t->procs));
	fz->t->nprocs--;
	for (size_t j = 0; j < fz->t->nprocs; j++)
		if (fz->t->procs[j]->parent > (int32_t)k)
			fz->t->procs[j]->parent--;
	return 1; /* its parent's next scan finds it as a zombie */
}

/* One event from any of our tracees; 1 when something happened, 0 when nothing did. */
static int freeze_event(struct freeze *fz)
{
	int st;
	pid_t tid = waitpid(-1, &st, __WALL | WNOHANG);
	if (tid <= 0)
		return 0;
	struct thread_state *t = NULL;
	struct proc_state *p = owner_of(fz->t, tid, &t);
	if (!p) {
		/* a task auto-attached by a fork event we have not seen yet: its event comes next */
		if (WIFSTOPPED(st))
			ptrace(PTRACE_INTERRUPT, tid, 0, 0);
		return 1;
	}
	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		int main = tid == (pid_t)p->pf.pid;
		drop_thread(p, t);
		if (main || p->nthreads == 0)
			return process_gone(fz, p);
		return 1;
	}
	int sig = WSTOPSIG(st), event = st >> 16;
	if (event == PTRACE_EVENT_STOP) {
		t->tr.stopped = 1;
		return 1;
	}
	unsigned long child;
	if (event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK) {
		if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &child) == 0) {
			if (event == PTRACE_EVENT_CLONE && !find_thread(p, (pid_t)child)) {
				add_thread(p, (pid_t)child)->tr.attached = 1;
			} else if (event != PTRACE_EVENT_CLONE && !find_process(fz->t, (pid_t)child)) {
				size_t k = 0;
				while (fz->t->procs[k] != p)
					k++;
				struct proc_state *c = add_process(fz, (pid_t)child, (int32_t)k);
				add_thread(c, (pid_t)child)->tr.attached = 1;
			}
		}
		sig = 0;
	} else if (event || sig == (SIGTRAP | 0x80)) {
		sig = 0;
	}
	/* A signal-delivery-stop before our interrupt: deliver the signal, stop again right after. */
	ptrace(PTRACE_CONT, tid, 0, sig);
	ptrace(PTRACE_INTERRUPT, tid, 0, 0);
	return 1;
}

static int wait_stopped_blocked(struct freeze *fz, uint64_t deadline, const sigset_t *chld)
{
	long backoff = 1;
	for (;;) {
		struct proc_state *late = NULL;
		struct thread_state *lt = NULL;
		for (size_t k = 0; k < fz->t->nprocs && !late; k++)
			for (size_t i = 0; i < fz->t->procs[k]->nthreads && !late; i++)
				if (!fz->t->procs[k]->threads[i].tr.stopped)
					late = fz->t->procs[k], lt = &late->threads[i];
		if (!late)
			return 0;
		if (cancelled())
			return -1;
		int r = freeze_event(fz);
		if (r < 0)
			return -1;
		if (r)
			continue;
		/* a thread that execve'd takes the main thread's PID and its own TID vanishes without an
		 * event (the main thread's entry now waits for it); one that exited is gone too */
		for (size_t k = 0; k < fz->t->nprocs; k++) {
			struct proc_state *p = fz->t->procs[k];
			for (size_t i = p->nthreads; i-- > 1;) {
				struct thread_state *t = &p->threads[i];
				if (!t->tr.stopped && t->tr.tid != (pid_t)p->pf.pid && state_letter((pid_t)p->pf.pid, t->tr.tid) == '?')
					drop_thread(p, t);
			}
		}
		if (now_ns(CLOCK_MONOTONIC) > deadline)
			return fail(EXIT_FAIL, "thread %d of process %u did not stop within %d s (state %c)", lt->tr.tid, late->pf.pid,
				    FREEZE_TIMEOUT_MS / 1000, state_letter((pid_t)late->pf.pid, lt->tr.tid));
		struct timespec tick = {0, backoff * 1000000L};
		sigtimedwait(chld, NULL, &tick);
		backoff = backoff < 8 ? backoff * 2 : 8;
	}
}

/* Until every thread we hold is stopped. Between looks it waits for the SIGCHLD that a ptrace
 * stop sends (blocked meanwhile, so that none is lost), not a sleep: each stop is taken at once,
 * where the sleeps added 1-3 ms to the freeze. */
static int wait_stopped(struct freeze *fz, uint64_t deadline)
{
	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	int rc = wait_stopped_blocked(fz, deadline, &chld);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int tree_freeze(struct tree *t, pid_t root, int whole)
{
	struct freeze fz = {.t = t, .root = root, .whole = whole,
			    .opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | (whole ? PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK : 0)};
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + FREEZE_TIMEOUT_MS * 1000000ULL;
	/* The root's main thread first: of two dumps of one process, the one that gets it goes on and
	 * the other fails before it touched any thread (not both halfway, each holding some threads). */
	struct proc_state *r = add_process(&fz, root, -1);
	if (seize(&fz, r, add_thread(r, root)) < 0)
		return -1;
	for (;;) {
		int added = 0;
		for (size_t k = 0; k < t->nprocs; k++) {
			int n = seize_threads(&fz, t->procs[k]);
			if (n < 0 || wait_stopped(&fz, deadline) < 0)
				return -1;
			added += n;
		}
		/* children only once their parent is stopped: a stopped process forks no more */
		for (size_t k = 0; k < t->nprocs; k++) {
			int n = scan_children(&fz, k);
			if (n < 0)
				return -1;
			added += n;
		}
		if (wait_stopped(&fz, deadline) < 0)
			return -1;
		if (!added)
			break;
	}
	/* each process's main thread first */
	for (size_t k = 0; k < t->nprocs; k++) {
		struct proc_state *p = t->procs[k];
		struct thread_state *m = find_thread(p, (pid_t)p->pf.pid);
		if (!m)
			return fail(EXIT_NOPROC, "process %u: its main thread is gone", p->pf.pid);
		if (m != p->threads) {
			struct thread_state tmp = *m;
			*m = p->threads[0];
			p->threads[0] = tmp;
		}
		p->pf.nthreads = (uint32_t)p->nthreads;
	}
	return 0;
}

int tree_release(struct tree *t)
{
	int rc = 0;
	for (size_t k = 0; k < t->nprocs; k++)
		if (threads_release(t->procs[k]) < 0)
			rc = -1;
	return rc;
}

void tree_blame_exit(const struct tree *t)
{
	if (fail_code() == EXIT_CANCELLED || strstr(fail_message(), "exited during the checkpoint"))
		return;
	for (size_t k = 0; k < t->nprocs; k++) {
		pid_t pid = (pid_t)t->procs[k]->pf.pid;
		if (!exiting(pid))
			continue;
		char was[1024];
		snprintf(was, sizeof(was), "%s", fail_message());
		fail_reset(); /* the first failure is kept otherwise */
		fail(EXIT_NOPROC, "process %d exited during the checkpoint (%s)", (int)pid, was);
		return;
	}
}
