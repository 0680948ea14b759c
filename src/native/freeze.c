/* Freezing a process, or a process and every descendant (--tree), as one consistent snapshot:
 * every thread of every process is stopped (PTRACE_SEIZE + PTRACE_INTERRUPT) before anything is
 * read. Threads and children that appear meanwhile are found by rescanning /proc and by the
 * clone and fork events of the threads already seized (which attach the new task at once), until
 * a whole pass finds nothing new; a child that exits becomes a zombie of its parent; unreaped
 * children are recorded as zombies. Without --tree, the children are only noted (left out). */
#include "ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FREEZE_TIMEOUT_MS 10000

struct freeze {
	struct tree *t;
	pid_t root;
	int whole;  /* --tree */
	long opts;  /* PTRACE_SEIZE options */
	int exec_seen; /* a process ran execve while we froze it: what we hold may be stale */
	/* tasks whose stop we saw before we knew them (a clone's child reports its first stop
	 * before its parent reports the clone): stopped, their event already taken */
	pid_t early[64];
	size_t nearly;
};

/* Whether tid's stop came early (and forget it: it is in the table from now on). */
static int take_early_stop(struct freeze *fz, pid_t tid)
{
	for (size_t i = 0; i < fz->nearly; i++)
		if (fz->early[i] == tid) {
			fz->early[i] = fz->early[--fz->nearly];
			return 1;
		}
	return 0;
}

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
	struct proc_stat st;
	proc_stat(pid, tid, &st);
	return st.state;
}

/* Gone, dead, or on its way out (PF_EXITING in the flags of /proc/PID/stat, set as soon as
 * the kernel starts to tear it down, before it is a zombie). */
static int exiting(pid_t pid)
{
	struct proc_stat st;
	proc_stat(pid, 0, &st);
	return st.state == '?' || st.state == 'Z' || st.state == 'X' || (st.f[9] & 0x4 /* PF_EXITING */);
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

/* PTRACE_SEIZE can deadlock with an execve in the target: the thread in execve holds the
 * process's cred_guard_mutex, which PTRACE_SEIZE waits for, while it waits for the other threads
 * to be released, and a thread we already hold stays a zombie until we reap it. So while a SEIZE
 * waits, a timer's signal reaps those zombies (the kernel restarts the SEIZE after the handler;
 * the reaped threads vanish from /proc, and wait_stopped drops them). */
static struct freeze *seizing;
static pid_t seizing_pid;

/* "/proc/PID/task" or "/proc/PID/task/TID/stat" without snprintf, which a signal handler may
 * not call. */
static void task_path(char *out, unsigned pid, unsigned tid)
{
	const char *parts[] = {"/proc/", NULL, "/task", "/", NULL, "/stat"};
	unsigned nums[] = {0, pid, 0, 0, tid, 0};
	for (int i = 0; i < (tid ? 6 : 3); i++) {
		if (parts[i]) {
			for (const char *c = parts[i]; *c; c++)
				*out++ = *c;
			continue;
		}
		char digits[12];
		int n = 0;
		do
			digits[n++] = (char)('0' + nums[i] % 10);
		while ((nums[i] /= 10));
		while (n)
			*out++ = digits[--n];
	}
	*out = 0;
}

static int is_zombie_thread(pid_t pid, pid_t tid)
{
	char path[64], buf[256];
	task_path(path, (unsigned)pid, (unsigned)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && rp[2] == 'Z';
}

/* Reaps the zombie threads of the process being seized that are ours to reap (a thread we hold,
 * of this attempt or of an earlier one): their one event left is their exit. Async-signal-safe:
 * getdents64 on the task directory, no allocation. */
static void reap_held_zombies(int sig)
{
	(void)sig;
	int saved = errno;
	char path[64];
	task_path(path, (unsigned)seizing_pid, 0);
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char buf[4096] __attribute__((aligned(8)));
	long n;
	while (dfd >= 0 && (n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64 *de = (struct dirent64 *)(buf + off);
			off += de->d_reclen;
			pid_t tid = 0;
			for (const char *c = de->d_name; *c >= '0' && *c <= '9'; c++)
				tid = tid * 10 + (*c - '0');
			int st;
			if (tid <= 0 || tid == seizing_pid || !is_zombie_thread(seizing_pid, tid) ||
			    waitpid(tid, &st, __WALL | WNOHANG) != tid)
				continue;
			/* gone, not stopped: wait_stopped drops it (and takes it for the execve it is) */
			for (size_t k = 0; seizing && k < seizing->t->nprocs; k++)
				for (size_t i = 0; i < seizing->t->procs[k]->nthreads; i++)
					if (seizing->t->procs[k]->threads[i].tr.tid == tid)
						seizing->t->procs[k]->threads[i].tr.stopped = 0;
		}
	}
	if (dfd >= 0)
		close(dfd);
	errno = saved;
}

/* PTRACE_SEIZE of thread tid of process pid, reaping our zombies while it waits. */
static int seize_call(struct freeze *fz, pid_t pid, pid_t tid)
{
	struct sigaction sa = {.sa_handler = reap_held_zombies}, old_sa;
	sigemptyset(&sa.sa_mask);
	struct itimerval every = {{0, 20000}, {0, 20000}}, off = {{0, 0}, {0, 0}};
	seizing = fz;
	seizing_pid = pid;
	sigaction(SIGALRM, &sa, &old_sa);
	setitimer(ITIMER_REAL, &every, NULL);
	long r = ptrace(PTRACE_SEIZE, tid, 0, fz->opts);
	int e = errno;
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old_sa, NULL);
	seizing = NULL;
	errno = e;
	return (int)r;
}

/* Seizes one thread; 1 when it is gone (dropped), 0 when seized, -1 on failure. */
static int seize(struct freeze *fz, struct proc_state *p, struct thread_state *t)
{
	pid_t pid = (pid_t)p->pf.pid, tid = t->tr.tid;
	/* An execve in another thread kills this one, or replaces the main thread (its new program
	 * keeps the PID): for that instant PTRACE_SEIZE says EPERM. A thread is then dropped, the
	 * main thread asked again a few times. */
	for (int attempt = 0; seize_call(fz, pid, tid) < 0; attempt++) {
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
		/* the main thread in the middle of an execve, or a thread another dump let go of between
		 * our attempt and our look at its tracer (it releases thread by thread) */
		if (e == EPERM && (tid == pid || tracer == 0) && attempt < 20) {
			sleep_ms(1);
			continue;
		}
		if (e == EPERM && state == 'Z')
			return fail(EXIT_NOPROC, "process %d has exited (a zombie)", pid);
		errno = e;
		return fail_errno(EXIT_PERM, "cannot attach to process %d (ptrace)", pid);
	}
	t->tr.attached = 1;
	if (take_early_stop(fz, tid)) {
		t->tr.stopped = 1; /* interrupting it again would stop it once more when it next runs */
		return 0;
	}
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
	struct proc_stat st;
	proc_stat(pid, 0, &st);
	p->zombies = xrealloc(p->zombies, (p->nzombies + 1) * sizeof(*p->zombies));
	struct zombie_state *z = &p->zombies[p->nzombies++];
	memset(z, 0, sizeof(*z));
	z->f.pid = (uint32_t)pid;
	z->f.pgid = (uint32_t)st.f[5];
	z->f.sid = (uint32_t)st.f[6];
	z->f.exit_status = (uint32_t)st.f[52]; /* the exit code as waitpid() returns it */
	z->comm = xstrdup(st.comm);
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
		/* a task auto-attached by a clone or fork event we have not seen yet (that event comes
		 * next), or one an earlier attempt held: its stop is noted for when we meet it; a
		 * signal it stopped for is delivered first */
		if (WIFSTOPPED(st) && (st >> 16) == PTRACE_EVENT_STOP && fz->nearly < sizeof(fz->early) / sizeof(*fz->early)) {
			fz->early[fz->nearly++] = tid;
		} else if (WIFSTOPPED(st)) {
			int s = WSTOPSIG(st);
			ptrace(PTRACE_CONT, tid, 0, (st >> 16) || s == (SIGTRAP | 0x80) ? 0 : s);
			ptrace(PTRACE_INTERRUPT, tid, 0, 0);
		}
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
	if (event == PTRACE_EVENT_EXEC) {
		/* a thread we held ran execve: it now has the PID (the main thread's entry, which the
		 * kernel reports it as) and its former TID is gone without an event of its own */
		unsigned long former;
		struct thread_state *old;
		if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &former) == 0 && (pid_t)former != tid &&
		    (old = find_thread(p, (pid_t)former)))
			drop_thread(p, old);
		if ((t = find_thread(p, tid)))
			t->tr.attached = 1, t->tr.stopped = 0; /* its entry's stop was the old main thread's */
		fz->exec_seen = 1;
	}
	if (event == PTRACE_EVENT_STOP) {
		t->tr.stopped = 1;
		return 1;
	}
	unsigned long child;
	if (event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK) {
		if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &child) == 0) {
			if (event == PTRACE_EVENT_CLONE && !find_thread(p, (pid_t)child)) {
				struct thread_state *c = add_thread(p, (pid_t)child);
				c->tr.attached = 1;
				c->tr.stopped = take_early_stop(fz, (pid_t)child);
			} else if (event != PTRACE_EVENT_CLONE && !find_process(fz->t, (pid_t)child)) {
				size_t k = 0;
				while (fz->t->procs[k] != p)
					k++;
				struct proc_state *c = add_process(fz, (pid_t)child, (int32_t)k);
				struct thread_state *ct = add_thread(c, (pid_t)child);
				ct->tr.attached = 1;
				ct->tr.stopped = take_early_stop(fz, (pid_t)child);
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

/* Process p ran execve while we froze it: its main thread is now another task, which must stop
 * again (it is ours when the thread that ran execve was; seized again otherwise). */
static void exec_under_us(struct freeze *fz, struct proc_state *p)
{
	fz->exec_seen = 1;
	struct thread_state *m = find_thread(p, (pid_t)p->pf.pid);
	if (m && m->tr.stopped) {
		m->tr.stopped = 0;
		ptrace(PTRACE_INTERRUPT, m->tr.tid, 0, 0);
	}
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
				if (!t->tr.stopped && t->tr.tid != (pid_t)p->pf.pid && state_letter((pid_t)p->pf.pid, t->tr.tid) == '?') {
					/* a thread we hold that exits is reported; one that vanishes ran execve, and
					 * the main thread's stop we saw was the old main thread's: wait for its own */
					drop_thread(p, t);
					exec_under_us(fz, p);
				}
			}
			/* A thread we had not seized yet ran execve: the kernel killed the main thread we
			 * held and gave that thread its PID, untraced. Our entry for the PID then waits for
			 * a stop that never comes (the freeze used to time out here): seize it again. */
			struct thread_state *m = find_thread(p, (pid_t)p->pf.pid);
			if (m && !m->tr.stopped && tracer_of(m->tr.tid) == 0) {
				m->tr.attached = 0;
				fz->exec_seen = 1;
				if (seize(fz, p, m) < 0)
					return -1;
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

static int freeze_once(struct freeze *fz, uint64_t deadline);

int tree_freeze(struct tree *t, pid_t root, int whole)
{
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + FREEZE_TIMEOUT_MS * 1000000ULL;
	/* A process that runs execve while we freeze it is let go and frozen again: what we held
	 * mixes two programs (the old main thread's stop, the new one's memory). */
	for (int attempt = 1;; attempt++) {
		struct freeze fz = {.t = t, .root = root, .whole = whole,
				    .opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |
					    (whole ? PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK : 0)};
		if (freeze_once(&fz, deadline) < 0)
			return -1;
		if (!fz.exec_seen)
			return 0;
		if (tree_release(t) < 0)
			return fail(EXIT_FAIL, "cannot let process %d go after it ran execve during the freeze", root);
		tree_free(t);
		/* what is left of that attempt: the exits of threads that execve killed, ours to reap */
		int st;
		while (waitpid(-1, &st, __WALL | WNOHANG) > 0)
			;
		if (attempt == 5)
			return fail(EXIT_FAIL, "process %d ran execve during each of %d attempts to freeze it; try again", root, attempt);
		sleep_ms(attempt);
	}
}

static int freeze_once(struct freeze *fz, uint64_t deadline)
{
	struct tree *t = fz->t;
	pid_t root = fz->root;
	/* The root's main thread first: of two dumps of one process, the one that gets it goes on and
	 * the other fails before it touched any thread (not both halfway, each holding some threads). */
	struct proc_state *r = add_process(fz, root, -1);
	if (seize(fz, r, add_thread(r, root)) < 0)
		return -1;
	for (;;) {
		int added = 0;
		for (size_t k = 0; k < t->nprocs; k++) {
			int n = seize_threads(fz, t->procs[k]);
			if (n < 0 || wait_stopped(fz, deadline) < 0)
				return -1;
			added += n;
		}
		/* children only once their parent is stopped: a stopped process forks no more */
		for (size_t k = 0; k < t->nprocs; k++) {
			int n = scan_children(fz, k);
			if (n < 0)
				return -1;
			added += n;
		}
		if (wait_stopped(fz, deadline) < 0)
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
