/* `ckpt restore`: the processes of an image, as a tree, running again.
 *
 * ckpt forks the root, which forks its children, which fork theirs (each with its original PID
 * when that is free and ckpt may choose it, clone3 set_tid), and the zombies (which exit at once
 * with their status). Then every new process, as itself, takes the credentials the restore may
 * give (creds.c) and, as them, sets up what it can: cwd, umask, rlimits, the files to map, the
 * open file descriptions it makes (files.c), then, once every process has made its own, the
 * descriptors it shares with others (pidfd_getfd), then its signal handlers (every signal
 * blocked). The processes report to ckpt through one pipe and wait for it at each of these
 * barriers on a pipe of their own; at the end they block on it, where ckpt seizes them.
 *
 * From there ckpt drives each process only by injected syscalls through a small trampoline page
 * ("syscall; int3") that the root mapped, before forking, where no image process has anything:
 * it empties the address space, moves the vdso to the image's place, maps the areas, has the
 * process preadv its pages from the image, checks every page hash, sets the mm fields, creates
 * the threads and gives each its state, registers and mask. Any failure kills every process
 * (PTRACE_O_EXITKILL and PR_SET_PDEATHSIG cover our death; ckpt is their child subreaper). */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TRAMP_PAGES 6 /* code, scratch, 4 pages of iovecs (or of a batch's table: RESTORE_TABLE_LEN) */
#define TRAMP_BATCH_AT 64 /* inject_batch_stub, in the code page after "syscall; int3" */
#define BARRIER_TIMEOUT_MS 60000

struct restore_opts {
	const char *image;
	const char *pid_file;
	int dry_run;
	int lazy;         /* --lazy: private pages mapped from the image (lazy.c) */
	int same_pids;
	int pid_ns;       /* --pid-ns: inside a new user and PID namespace, with the original PIDs there */
	struct stdio_plan stdio;
	int as_recorded;
	struct restore_creds creds;
	int pid_file_written; /* this run made the file at pid_file: the inode it made */
	dev_t pid_file_dev;
	ino_t pid_file_ino;
};

/* Where the restore's own fds are in every new process, above every number the image uses. */
struct fd_layout {
	int base, image_fd, msg_fd, exe_fd, saved, go_fd, inherit, vma_first, slot_base, tmp_base;
};

/* What every new process knows when it is forked: the plan, and the pipes to ckpt. */
struct plan {
	struct tree *t;
	struct fd_layout L;
	struct restore_opts *o;
	int image_fd;
	int msg[2];
	int (*go)[2]; /* per process: ckpt writes, the process reads */
	pid_t *inner; /* per process: its pid as the processes see it (another in --pid-ns) */
	uint64_t tramp;
};

/* ---- the new processes ---- */

static int g_msg_fd = -1;

/* The processes' messages to ckpt: NUL-ended records, each written at once (shorter than
 * PIPE_BUF, so records of several processes never mix): "W<text>" a warning, "E<code> <text>"
 * a failure, "P<k> <pid>" process k exists, "A<k>", "B<k>", "R<k>" process k reached a barrier. */
static void child_record(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void child_record(const char *fmt, ...)
{
	char line[1100];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n] = 0;
	if (write_all(g_msg_fd, line, (size_t)n + 1) < 0)
		_exit(EXIT_FAIL);
}

/* The restore child's warning sink (warn_to): a warning goes to ckpt, which prints it. */
static void child_warning(const char *msg)
{
	child_record("W%.600s", msg);
}

static _Noreturn void child_fail(void)
{
	child_record("E%d %s", fail_code(), fail_message());
	_exit(fail_code());
}

/* Waits for ckpt at a barrier: n bytes from our go pipe. Its end (ckpt died) ends us. */
static void child_wait(int go, void *buf, size_t n)
{
	uint8_t one;
	if (!buf)
		buf = &one, n = 1;
	for (size_t got = 0; got < n;) {
		ssize_t r = read(go, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			_exit(EXIT_FAIL);
		got += (size_t)r;
	}
}

static int move_up(int fd, int floor)
{
	return fd < 0 ? -1 : fcntl(fd, F_DUPFD, floor);
}

static int place(int fd, int target)
{
	if (fd < 0)
		return 0;
	if (dup2(fd, target) < 0)
		return -1;
	close(fd);
	return 0;
}

/* fork(), but with the image's PID when it is free and we may choose it (CAP_CHECKPOINT_RESTORE,
 * clone3 set_tid): programs that remember their PID (python's asyncio does) then go on. The
 * child must not rely on glibc's cached TID, which a raw clone3 leaves as the parent's. */
static pid_t fork_with_pid(pid_t want, int must)
{
	struct clone3_args a = {.exit_signal = SIGCHLD, .set_tid = (uint64_t)(uintptr_t)&want, .set_tid_size = 1};
	long r = syscall(SYS_clone3, &a, sizeof(a));
	if (r >= 0 || !must)
		return r >= 0 ? (pid_t)r : fork();
	int e = errno;
	char *comm = e == EEXIST ? read_filef(NULL, "/proc/%d/comm", want) : NULL;
	if (comm && strchr(comm, '\n'))
		*strchr(comm, '\n') = 0;
	errno = e;
	if (e == EEXIST)
		fail(EXIT_FAIL, "--same-pids: pid %d is taken by process %d (%s)", want, want, comm ? comm : "?");
	else
		fail_errno(EXIT_PERM, "--same-pids: cannot choose pid %d", want);
	free(comm);
	return -1;
}

/* A zombie again: a child that exits at once as the image's did, and that its parent (the
 * process forking it) will not reap before the program does. */
static _Noreturn void zombie_main(const struct zombie_state *z)
{
	prctl(PR_SET_NAME, z->comm);
	int st = (int)z->f.exit_status;
	if (WIFSIGNALED(st)) {
		struct rlimit none = {0, 0};
		setrlimit(RLIMIT_CORE, &none); /* its death, not a core file */
		signal(WTERMSIG(st), SIG_DFL);
		sigset_t all;
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		raise(WTERMSIG(st));
	}
	_exit(WEXITSTATUS(st));
}

static _Noreturn void member_main(struct plan *pl, int k);

/* Process k's children and zombies, each with its PID when that can be had. */
static void fork_children(struct plan *pl, int k)
{
	struct tree *t = pl->t;
	const struct proc_state *p = t->procs[k];
	for (size_t j = 0; j < t->nprocs; j++) {
		if (t->procs[j]->parent != k)
			continue;
		pid_t c = fork_with_pid((pid_t)t->procs[j]->pf.pid, pl->o->same_pids);
		if (c < 0) {
			if (!fail_code())
				fail_errno(EXIT_FAIL, "cannot fork process %u%s", t->procs[j]->pf.pid, errno == EAGAIN ? " (RLIMIT_NPROC?)" : "");
			child_fail();
		}
		if (c == 0)
			member_main(pl, (int)j);
	}
	for (size_t i = 0; i < p->nzombies; i++) {
		pid_t c = fork_with_pid((pid_t)p->zombies[i].f.pid, pl->o->same_pids);
		if (c < 0) {
			if (!fail_code())
				fail_errno(EXIT_FAIL, "cannot fork zombie %u", p->zombies[i].f.pid);
			child_fail();
		}
		if (c == 0)
			zombie_main(&p->zombies[i]);
	}
}

/* Our own fds where the plan says, and nothing else open. */
static int tidy_fds(struct plan *pl, int k)
{
	const struct fd_layout *L = &pl->L;
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	int hi = L->tmp_base + 64;
	int a = move_up(pl->image_fd, hi), b = move_up(pl->msg[1], hi), g = move_up(pl->go[k][0], hi), s[3];
	for (int i = 0; i < 3; i++)
		s[i] = pl->o->stdio.mode == STDIO_INHERIT ? move_up(i, hi) : -1;
	if (a < 0 || b < 0 || g < 0)
		return fail_errno(EXIT_FAIL, "cannot move the restore's own fds (is RLIMIT_NOFILE too low?)");
	struct stdio_plan *sp = &pl->o->stdio;
	int in[INHERIT_MAX];
	for (int j = 0; j < sp->ninherit; j++)
		if ((in[j] = move_up(sp->inherit[j].fd, hi)) < 0)
			return fail_errno(EXIT_FAIL, "--inherit-fd %d:%d: cannot keep fd %d", sp->inherit[j].n, sp->inherit[j].fd, sp->inherit[j].fd);
	int top = a > b ? a : b;
	top = g > top ? g : top;
	for (int i = 0; i < 3; i++)
		top = s[i] > top ? s[i] : top;
	for (int j = 0; j < sp->ninherit; j++)
		top = in[j] > top ? in[j] : top;
	syscall(SYS_close_range, 0, hi - 1, 0);
	syscall(SYS_close_range, top + 1, ~0U, 0);
	/* what we moved up in between: the other processes' go pipes and ckpt's ends */
	for (int fd = hi; fd <= top; fd++) {
		int keep = fd == a || fd == b || fd == g || fd == s[0] || fd == s[1] || fd == s[2];
		for (int j = 0; j < sp->ninherit; j++)
			keep |= fd == in[j];
		if (!keep)
			close(fd);
	}
	for (int j = 0; j < sp->ninherit; j++) {
		if (place(in[j], L->inherit + j) < 0)
			return fail_errno(EXIT_FAIL, "cannot keep the inherited fds");
		sp->inherit[j].saved = L->inherit + j;
	}
	if (place(a, L->image_fd) < 0 || place(b, L->msg_fd) < 0 || place(g, L->go_fd) < 0)
		return fail_errno(EXIT_FAIL, "cannot place the restore's own fds");
	g_msg_fd = L->msg_fd;
	for (int i = 0; i < 3; i++) {
		if (place(s[i], L->saved + i) < 0)
			return fail_errno(EXIT_FAIL, "cannot keep stdio");
		pl->o->stdio.saved[i] = s[i] >= 0 ? L->saved + i : -1;
	}
	return 0;
}

/* The process group and session of process k, as far as this point of the restore allows: a
 * session or group leader leads again; joining another member's group waits for phase B. The
 * root of another user's tree gets a session of its own: no share of our terminal. */
static void take_session(const struct proc_state *p, int root_of_other_user)
{
	if (p->pf.sid == p->pf.pid || root_of_other_user)
		setsid();
	else if (p->pf.pgid == p->pf.pid)
		setpgid(0, 0);
}

/* The image pid of another member, as the pid it has now (the same in --same-pids). */
static pid_t now_pid(const struct tree *t, const pid_t *pids, uint32_t image_pid)
{
	for (size_t j = 0; j < t->nprocs; j++)
		if (t->procs[j]->pf.pid == image_pid)
			return pids[j];
	return 0;
}

static int member_setup(struct plan *pl, int k)
{
	struct tree *t = pl->t;
	struct proc_state *p = t->procs[k];
	const struct fd_layout *L = &pl->L;
	int other = creds_other_user(p, &pl->o->creds);
	take_session(p, other && k == 0);
	fork_children(pl, k);
	if (tidy_fds(pl, k) < 0)
		return -1;
	/* The final credentials before anything the image names is opened: a path the restore's
	 * user may not open must fail here as it would for that user. A change of ids clears the
	 * parent-death signal: set it again, and make sure our parent did not die meanwhile. */
	pid_t parent = getppid();
	if (creds_switch_in_child(p, &pl->o->creds) < 0)
		return -1;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(EXIT_FAIL);
	if (process_apply_in_child(p) < 0 || attrs_apply_in_child(p) < 0)
		return -1;
	int exe = open(p->exe, O_RDONLY | O_CLOEXEC);
	if (exe >= 0 && place(exe, L->exe_fd) < 0)
		return fail_errno(EXIT_FAIL, "dup2");
	ghost_set_image(pl->o->image, L->image_fd);
	if (vma_files_open_in_child(p) < 0 || files_make(t, k, &pl->o->stdio, L->tmp_base) < 0 || shm_make(t, k) < 0)
		return -1;

	child_record("A%d", k);
	pid_t *pids = xmalloc(t->nprocs * sizeof(pid_t));
	child_wait(L->go_fd, pids, t->nprocs * sizeof(pid_t));
	if (p->pf.pgid != p->pf.pid && p->pf.sid != p->pf.pid && !other) {
		pid_t leader = now_pid(t, pids, p->pf.pgid);
		if (leader && setpgid(0, leader) < 0)
			warn("process %u: cannot join process group %u again (%s)", p->pf.pid, p->pf.pgid, strerror(errno));
	}
	if (files_take(t, k, pids) < 0 || shm_take(t, k, pids) < 0 || ghost_maps_take(t, k, pids) < 0)
		return -1;
	free(pids);

	child_record("B%d", k);
	child_wait(L->go_fd, NULL, 0);
	files_close_slots(t, k);
	shm_close_slots(t, k);
	if (sigactions_apply_in_child(p) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if (pl->o->stdio.saved[i] >= 0)
			close(pl->o->stdio.saved[i]);
	return 0;
}

/* Our pid as ckpt sees it (the first of /proc/self/status's NSpid: /proc is ckpt's, also when
 * we are in a PID namespace of our own), and as we see it. */
static void report_pid(int k)
{
	char *st = read_file("/proc/self/status", NULL);
	const char *ns = st ? find_key(st, "NSpid") : NULL;
	long outside = ns ? strtol(ns, NULL, 10) : getpid();
	free(st);
	child_record("P%d %ld %d", k, outside, (int)getpid());
}

static _Noreturn void member_main(struct plan *pl, int k)
{
	g_msg_fd = pl->msg[1];
	warn_to(child_warning);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	report_pid(k);
	if (member_setup(pl, k) < 0)
		child_fail();
	child_record("R%d", k);
	/* ckpt seizes us here, and replaces everything before this read returns; if it does, ckpt
	 * is gone */
	child_wait(pl->L.go_fd, NULL, 0);
	_exit(EXIT_FAIL);
}

/* ---- --pid-ns ---- */

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int rc = fd >= 0 && write_all(fd, text, strlen(text)) == 0 ? 0 : -1;
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The init of the new PID namespace: it forks the root with its original PID (it has every
 * capability in the new user namespace, so clone3 may choose), then stays, as every init does,
 * reaping the namespace's orphans until none is left. */
static _Noreturn void ns_init_main(struct plan *pl)
{
	prctl(PR_SET_NAME, "ckpt-pid-ns");
	pid_t root = fork_with_pid((pid_t)pl->t->procs[0]->pf.pid, 1);
	if (root < 0) {
		g_msg_fd = pl->msg[1];
		child_fail();
	}
	if (root == 0)
		member_main(pl, 0);
	/* nothing of the restore stays open here: ckpt's end of the pipes must see it go */
	syscall(SYS_close_range, 3, ~0U, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (;;)
		if (wait(NULL) < 0 && errno == ECHILD)
			_exit(0);
}

/* The ASan build's leak check stops the world at exit with a helper that ptrace()s the
 * process, which cannot trace one that entered a user namespace of its own: it would spin
 * forever. LeakSanitizer asks this hook; other builds never call it. */
static int in_own_userns;
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return in_own_userns;
}

/* ckpt enters a user namespace of its own, where its uid and gid map to themselves (so the
 * processes see the ids they had), and forks the init of a new PID namespace in it. Returns the
 * init's pid. */
static pid_t start_pid_ns(struct plan *pl)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (unshare(CLONE_NEWUSER) < 0)
		return fail_errno(EXIT_PERM, "--pid-ns: cannot make a user namespace"), -1;
	in_own_userns = 1;
	snprintf(map, sizeof(map), "%u %u 1\n", uid, uid);
	if (write_text("/proc/self/uid_map", map) < 0 || write_text("/proc/self/setgroups", "deny") < 0)
		return fail_errno(EXIT_PERM, "--pid-ns: cannot map uid %u in the new user namespace", uid), -1;
	snprintf(map, sizeof(map), "%u %u 1\n", gid, gid);
	if (write_text("/proc/self/gid_map", map) < 0)
		return fail_errno(EXIT_PERM, "--pid-ns: cannot map gid %u in the new user namespace", gid), -1;
	if (unshare(CLONE_NEWPID) < 0)
		return fail_errno(EXIT_PERM, "--pid-ns: cannot make a PID namespace"), -1;
	pid_t init = fork();
	if (init == 0)
		ns_init_main(pl);
	return init;
}

/* ---- the tracer ---- */

/* The records of the processes, until each has reached barrier `want` ('A', 'B', 'R'): warnings
 * passed on, a failure taken as ours, pids noted as processes report them. A process that dies
 * before it reports ends the wait too (with its parent, or alone: the others would wait forever). */
static int await_barrier(struct plan *pl, pid_t *pids, char want)
{
	size_t n = pl->t->nprocs, reached = 0;
	char *seen = xcalloc(n, 1);
	struct buf b = {0};
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + BARRIER_TIMEOUT_MS * 1000000ULL;
	int rc = -1;
	while (reached < n) {
		struct pollfd pfd = {.fd = pl->msg[0], .events = POLLIN};
		int r = poll(&pfd, 1, 100);
		if (r < 0 && errno != EINTR) {
			fail_errno(EXIT_FAIL, "poll");
			goto out;
		}
		if (r > 0) {
			char chunk[4096];
			ssize_t got = read(pl->msg[0], chunk, sizeof(chunk));
			if (got <= 0) {
				fail(EXIT_FAIL, "restore: the new processes went away");
				goto out;
			}
			buf_put(&b, chunk, (size_t)got);
			size_t used = 0;
			for (char *nul; used < b.len && (nul = memchr(b.p + used, 0, b.len - used)); used = (size_t)(nul - (char *)b.p) + 1) {
				char *rec = (char *)b.p + used, *end;
				long idx;
				if (rec[0] == 'W') {
					warn("%s", rec + 1);
				} else if (rec[0] == 'E') {
					long code = strtol(rec + 1, &end, 10);
					fail((int)code, "%s", *end ? end + 1 : "a new process failed");
					goto out;
				} else if (rec[0] == 'P') {
					idx = strtol(rec + 1, &end, 10);
					if (idx >= 0 && (size_t)idx < n) {
						pids[idx] = (pid_t)strtol(end, &end, 10);
						pl->inner[idx] = (pid_t)strtol(end, NULL, 10);
					}
				} else if (rec[0] == want) {
					idx = strtol(rec + 1, NULL, 10);
					if (idx >= 0 && (size_t)idx < n && !seen[idx])
						seen[idx] = 1, reached++;
				}
			}
			memmove(b.p, b.p + used, b.len - used);
			b.len -= used;
			continue;
		}
		/* quiet: is everyone still there? */
		for (size_t k = 0; k < n; k++) {
			if (seen[k] || pids[k] <= 0)
				continue;
			struct proc_stat st;
			int dead = proc_stat(pids[k], 0, &st) < 0 || st.state == 'Z' || st.state == 'X';
			if (dead) {
				fail(EXIT_FAIL, "restore: new process %d (image process %u) died while it was set up", pids[k], pl->t->procs[k]->pf.pid);
				goto out;
			}
		}
		if (now_ns(CLOCK_MONOTONIC) > deadline) {
			fail(EXIT_FAIL, "restore: the new processes did not get through setting up within %d s", BARRIER_TIMEOUT_MS / 1000);
			goto out;
		}
	}
	rc = 0;
out:
	buf_free(&b);
	free(seen);
	return rc;
}

/* Lets every process past a barrier: `n` bytes of `data` each (one byte when data is NULL). */
static int release_barrier(struct plan *pl, const void *data, size_t n)
{
	uint8_t one = 1;
	for (size_t k = 0; k < pl->t->nprocs; k++)
		if (write_all(pl->go[k][1], data ? data : &one, data ? n : 1) < 0)
			return fail_errno(EXIT_FAIL, "restore: cannot reach new process %zu", k);
	return 0;
}

static void pin_cpus(struct restore_ctx *rc, cpu_set_t *saved, int pin)
{
	if (pin) {
		sched_getaffinity(0, sizeof(*saved), saved);
		int cpu = sched_getcpu();
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(cpu < 0 ? 0 : cpu, &one);
		sched_setaffinity(0, sizeof(one), &one);
		sched_setaffinity(rc->pid, sizeof(one), &one);
	} else {
		for (size_t i = 0; i < rc->p->nthreads; i++)
			if (rc->p->threads[i].tr.attached)
				sched_setaffinity(rc->p->threads[i].tr.tid, sizeof(*saved), saved);
		sched_setaffinity(0, sizeof(*saved), saved);
	}
}

/* The pid file, atomically (a temp file of our own, O_EXCL, renamed over the path). The inode
 * is remembered: a failed restore removes the file only while it is still the one we made. */
static int write_pid_file(struct restore_opts *o, pid_t pid)
{
	char *tmp = xasprintf("%s.tmp-%d", o->pid_file, getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		fail_errno(EXIT_IO, "cannot write the pid file %s (its temp file %s)", o->pid_file, tmp);
		free(tmp);
		return -1;
	}
	char line[32];
	int n = snprintf(line, sizeof(line), "%d\n", pid);
	struct stat st;
	int rc = fstat(fd, &st) < 0 || write_all(fd, line, (size_t)n) < 0 ? -1 : 0;
	if (close(fd) < 0 || rc < 0 || rename(tmp, o->pid_file) < 0) {
		fail_errno(EXIT_IO, "cannot write the pid file %s", o->pid_file);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	o->pid_file_written = 1;
	o->pid_file_dev = st.st_dev;
	o->pid_file_ino = st.st_ino;
	return 0;
}

static void remove_pid_file(const struct restore_opts *o)
{
	struct stat st;
	if (o->pid_file_written && lstat(o->pid_file, &st) == 0 && st.st_dev == o->pid_file_dev && st.st_ino == o->pid_file_ino)
		unlink(o->pid_file);
}

/* After SIGKILL of the new processes: every one reaped (ckpt is their child subreaper, and a
 * leader is reported only after its other threads, which are ours to reap too, so waiting for
 * one alone would never end), within a deadline, so that a failure always ends. */
static void reap_all(pid_t root)
{
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + 10000000000ULL;
	for (;;) {
		pid_t r = waitpid(-1, NULL, __WALL | WNOHANG);
		if (r > 0 || (r < 0 && errno == EINTR))
			continue;
		if (r < 0)
			return; /* ECHILD: none left */
		if (now_ns(CLOCK_MONOTONIC) > deadline) {
			warn("the new process %d did not go away within 10 s of SIGKILL", root);
			return;
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

/* Takes hold of a new process that blocks at its last barrier. */
static int seize_member(struct tracee *t0)
{
	if (ptrace(PTRACE_SEIZE, t0->tid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL) < 0)
		return fail_errno(EXIT_FAIL, "restore: cannot attach to new process %d", t0->tid);
	t0->attached = 1;
	if (ptrace(PTRACE_INTERRUPT, t0->tid, 0, 0) < 0)
		return fail_errno(EXIT_FAIL, "restore: PTRACE_INTERRUPT");
	for (;;) {
		int st;
		if (tracee_wait(t0, &st) < 0)
			return -1;
		if (WIFSTOPPED(st) && st >> 16 == PTRACE_EVENT_STOP)
			return 0;
		ptrace(PTRACE_CONT, t0->tid, 0, 0); /* nothing else is expected; a signal stays blocked */
	}
}

/* Signals that setting up made pending (SIGCHLD of the zombies it created), dropped: the
 * image's own pending signals are queued after. */
static int drop_setup_signals(struct restore_ctx *rc)
{
	if (!rc->p->nzombies)
		return 0;
	uint64_t set = 1ULL << (SIGCHLD - 1);
	struct timespec zero = {0, 0};
	if (mem_write(rc->pid, rc->scratch, &set, 8) < 0 || mem_write(rc->pid, rc->scratch + 8, &zero, sizeof(zero)) < 0)
		return fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
	for (int i = 0; i < 64; i++) {
		long r;
		if (inject_syscall(rc->main, &r, SYS_rt_sigtimedwait, rc->scratch, 0, rc->scratch + 8, 8, 0, 0) < 0)
			return -1;
		if (r < 0)
			return 0; /* EAGAIN: none left */
	}
	return 0;
}

/* One new process, from blocking at its last barrier to holding the image's state. */
static int drive(struct restore_ctx *rc, const struct fd_layout *L)
{
	struct proc_state *p = rc->p;
	struct tracee *t0 = rc->main;
	if (seize_member(t0) < 0)
		return -1;
	if (ptrace(PTRACE_GETREGS, t0->tid, 0, &t0->orig) < 0)
		return fail_errno(EXIT_FAIL, "restore: PTRACE_GETREGS");
	if (inject_begin(t0, 0) < 0)
		return -1;

	/* glibc registered rseq in the process: the kernel would kill it once that area is gone */
	struct __ptrace_rseq_configuration rs;
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, t0->tid, sizeof(rs), &rs) == (long)sizeof(rs) && rs.rseq_abi_pointer &&
	    inject_checked(t0, NULL, "restore: unregistering rseq", SYS_rseq, rs.rseq_abi_pointer, rs.rseq_abi_size,
			   1 /* RSEQ_FLAG_UNREGISTER */, rs.signature, 0, 0) < 0)
		return -1;

	if (memory_restore(rc) < 0)
		return -1;
	progress_step("restore-mm", "mm fields and auxv");
	if (mm_restore(rc, L->exe_fd) < 0)
		return -1;
	if (inject_checked(t0, NULL, "restore: closing the restore's fds", SYS_close_range, (uint64_t)L->base, ~0U, 0, 0, 0, 0) < 0)
		return -1;
	if (locks_restore(rc) < 0)
		return -1;
	struct rlimit nofile = {.rlim_cur = p->pf.rlimits[CKPT_RLIMIT_RESOURCE_NOFILE].cur,
				.rlim_max = p->pf.rlimits[CKPT_RLIMIT_RESOURCE_NOFILE].max};
	struct rlimit cur;
	getrlimit(RLIMIT_NOFILE, &cur);
	if (nofile.rlim_max > cur.rlim_max) {
		char msg[200];
		rlimit_kept_message(msg, sizeof(msg), RLIMIT_NOFILE, nofile.rlim_max, cur.rlim_max);
		warn("%s", msg);
		nofile.rlim_max = cur.rlim_max;
	}
	if (nofile.rlim_cur > nofile.rlim_max)
		nofile.rlim_cur = nofile.rlim_max;
	if (mem_write(rc->pid, rc->scratch, &nofile, sizeof(nofile)) < 0)
		return fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
	if (inject_checked(t0, NULL, "restore: RLIMIT_NOFILE", SYS_prlimit64, 0, RLIMIT_NOFILE, rc->scratch, 0, 0, 0) < 0)
		return -1;

	if (timers_restore_create(rc) < 0)
		return -1;
	progress_step("restore-threads", "%zu threads", p->nthreads);
	for (size_t i = 1; i < p->nthreads; i++)
		if (thread_create(t0, &p->threads[i], rc->scratch) < 0)
			return -1;
	for (size_t i = 0; i < p->nthreads; i++)
		if (thread_restore_state(rc->pid, &p->threads[i], rc->scratch) < 0)
			return -1;
	progress_step("restore-signals", "%u pending signals", p->pending.n);
	if (drop_setup_signals(rc) < 0 || pending_restore(rc) < 0)
		return -1;
	return 0;
}

/* The last steps of one driven process, once every process of the tree is driven: so that its
 * timers, armed here, lose only these microseconds, not the time the others took. */
static int finish(struct restore_ctx *rc)
{
	struct proc_state *p = rc->p;
	struct tracee *t0 = rc->main;
	if (inject_checked(t0, NULL, "restore: PR_SET_PDEATHSIG", SYS_prctl, PR_SET_PDEATHSIG, 0, 0, 0, 0, 0) < 0)
		return -1;
	if (timers_restore_arm(rc) < 0 || attrs_restore_final(rc, rc->own_root_image) < 0)
		return -1;
	if (inject_checked(t0, NULL, "restore: removing the trampoline", SYS_munmap, rc->tramp, rc->tramp_len, 0, 0, 0, 0) < 0)
		return -1;
	for (size_t i = 0; i < p->nthreads; i++)
		if (thread_restore_final(&p->threads[i]) < 0)
			return -1;
	return 0;
}

/* Every process's fds above the numbers its image process uses, and the descriptions' slots. */
static void plan_layout(struct plan *pl)
{
	struct tree *t = pl->t;
	struct fd_layout *L = &pl->L;
	int top = 2;
	for (size_t k = 0; k < t->nprocs; k++) {
		int m = files_max_fd(t->procs[k]);
		top = m > top ? m : top;
	}
	L->base = top + 1;
	L->image_fd = L->base;
	L->msg_fd = L->base + 1;
	L->exe_fd = L->base + 2;
	L->saved = L->base + 3;
	L->go_fd = L->base + 6;
	L->inherit = L->base + 7; /* --inherit-fd */
	L->vma_first = L->inherit + pl->o->stdio.ninherit;
	int next = L->vma_first;
	for (size_t k = 0; k < t->nprocs; k++) {
		int n = vma_assign_fds(t->procs[k], L->vma_first);
		next = n > next ? n : next;
	}
	L->slot_base = next;
	next = ghost_plan_maps(t, shm_plan(t, files_plan(t, L->slot_base)));
	L->tmp_base = next + 1;
}

static int usage(void)
{
	fputs("usage: ckpt restore IMAGE [--pid-file FILE] [--stdio=inherit|null|PATH] [--inherit-fd N:FD]... [--same-pids | --pid-ns] [--progress=json] [--as-recorded] [--dry-run] [--lazy]\n"
	      "  --lazy: map the dumped pages of private areas from IMAGE instead of copying them: the process runs at once and\n"
	      "          its pages fault in from the page cache. IMAGE must stay in place, unchanged, as long as the process runs\n"
	      "          (a page it has not written reads the file; a truncated file kills it with SIGBUS); the hashes of the\n"
	      "          mapped pages are not checked (ckpt-inspect verify checks them); MADV_DONTNEED on a mapped page brings\n"
	      "          the image's bytes back, not zeros (not for jemalloc or Go programs); shared, grows-down, executable\n"
	      "          and compressed pages are copied as usual.\n",
	      stderr);
	return EXIT_USAGE;
}

/* What the image says about this machine and this user, for every process. */
static int check_restorable(struct tree *t, struct image *im, struct restore_opts *o)
{
	struct proc_state *root = t->procs[0];
	if (root->head.arch != CKPT_ARCH_X86_64 || root->head.page_size != (uint32_t)sysconf(_SC_PAGESIZE))
		return fail(EXIT_UNSUPPORTED, "the image is for another machine (arch %u, page size %u)", root->head.arch, root->head.page_size);
	if (mm_check_compatible(root) < 0)
		return -1;
	for (size_t k = 0; k < t->nprocs && zstd_unavailable(); k++)
		for (size_t c = 0; c < t->procs[k]->nchunks; c++)
			if (t->procs[k]->chunks[c].zstd)
				return fail(EXIT_UNSUPPORTED, "image %s has compressed pages: %s", im->path, zstd_unavailable());
	if (creds_allowed(im->fd, o->as_recorded, &o->creds) < 0)
		return -1;
	for (size_t k = 0; k < t->nprocs; k++)
		if (creds_check(t->procs[k], &o->creds) < 0)
			return -1;
	if (o->as_recorded)
		warn("--as-recorded: the image's recorded ids are used as they are, unchecked: uid %u, gid %u and %u supplementary groups",
		     root->pf.uids[1], root->pf.gids[1], root->ngroups);
	for (int i = 0; i < 3 && o->stdio.mode == STDIO_INHERIT && creds_other_user(root, &o->creds); i++)
		if (isatty(i))
			return fail(EXIT_PERM, "--stdio=inherit would give this terminal (fd %d) to a process of uid %u: restore with --stdio=null or --stdio=PATH",
				    i, o->creds.as_recorded ? root->pf.uids[1] : o->creds.uid);
	for (size_t k = 0; k < t->nprocs; k++)
		for (size_t i = 0; i < t->procs[k]->nunsup; i++)
			warn("not restored: %s (%s)", t->procs[k]->unsup[i].reason, t->procs[k]->unsup[i].detail);
	return 0;
}

static void dry_run_summary(const struct tree *t, const char *image)
{
	size_t threads = 0, vmas = 0, fds = 0;
	uint64_t pages = 0;
	for (size_t k = 0; k < t->nprocs; k++) {
		const struct proc_state *p = t->procs[k];
		threads += p->nthreads, vmas += p->nvmas, fds += p->nfds;
		for (size_t i = 0; i < p->nchunks; i++)
			pages += p->chunks[i].npages;
	}
	char *line = xasprintf("dry run: %s would restore process %u (%s)%s: %zu threads, %zu areas, %llu pages, %zu fds", image,
			       t->procs[0]->pf.pid, t->procs[0]->comm, t->nprocs > 1 ? " and its descendants" : "", threads, vmas,
			       (unsigned long long)pages, fds);
	fputs_escaped(line, stdout); /* the image's comm, and a path, reach a terminal */
	putchar('\n');
	free(line);
}

int cmd_restore(int argc, char **argv)
{
	struct restore_opts o = {.stdio = {.mode = STDIO_INHERIT, .saved = {-1, -1, -1}}};
	static const struct option opts[] = {
		{"pid-file", required_argument, NULL, 'p'},
		{"stdio", required_argument, NULL, 's'},
		{"progress", required_argument, NULL, 'P'},
		{"verbose", no_argument, NULL, 'v'},
		{"dry-run", no_argument, NULL, 'n'},
		{"lazy", no_argument, NULL, 'z'},
		{"same-pids", no_argument, NULL, 'S'},
		{"pid-ns", no_argument, NULL, 'N'},
		{"as-recorded", no_argument, NULL, 'R'},
		{"inherit-fd", required_argument, NULL, 'I'},
		{NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 'p': o.pid_file = optarg; break;
		case 'v': g_verbose = 1; break;
		case 'n': o.dry_run = 1; break;
		case 'z': o.lazy = 1; break;
		case 'S': o.same_pids = 1; break;
		case 'N': o.pid_ns = 1; break;
		case 'R': o.as_recorded = 1; break;
		case 'I': {
			int n, fd, used = 0;
			if (o.stdio.ninherit == INHERIT_MAX || sscanf(optarg, "%d:%d%n", &n, &fd, &used) != 2 || optarg[used] || n < 0 || fd < 0 ||
			    n >= (1 << 30)) {
				fprintf(stderr, "ckpt: --inherit-fd %s: give N:FD, the fd number in the restored process and an fd of ckpt (at most %d)\n",
					optarg, INHERIT_MAX);
				return EXIT_USAGE;
			}
			if (fcntl(fd, F_GETFD) < 0) {
				fprintf(stderr, "ckpt: --inherit-fd %s: fd %d is not open\n", optarg, fd);
				return EXIT_USAGE;
			}
			o.stdio.inherit[o.stdio.ninherit].n = n;
			o.stdio.inherit[o.stdio.ninherit].fd = fd;
			o.stdio.inherit[o.stdio.ninherit++].saved = -1;
			break;
		}
		case 's':
			if (!strcmp(optarg, "inherit"))
				o.stdio.mode = STDIO_INHERIT;
			else if (!strcmp(optarg, "null"))
				o.stdio.mode = STDIO_NULL;
			else if (optarg[0])
				o.stdio.mode = STDIO_PATH, o.stdio.path = optarg;
			else
				return usage();
			break;
		case 'P':
			if (strcmp(optarg, "json"))
				return usage();
			g_json = 1;
			break;
		default: return usage();
		}
	}
	if (optind != argc - 1)
		return usage();
	o.image = argv[optind];
	if (o.as_recorded && geteuid() != 0) {
		fputs("ckpt: --as-recorded: only root may trust the ids an image records\n", stderr);
		return EXIT_USAGE;
	}

	uint64_t t_start = now_ns(CLOCK_MONOTONIC);
	struct image im;
	struct tree t;
	memset(&t, 0, sizeof(t));
	struct plan pl = {.t = &t, .o = &o, .msg = {-1, -1}};
	pid_t *pids = NULL;
	struct restore_ctx *rcs = NULL;
	int ok = 0, forked = 0;
	pid_t init_pid = 0;
	signal(SIGPIPE, SIG_IGN);

	progress_step("restore-load", "reading %s", o.image);
	if (image_open(&im, o.image) < 0 || image_load(&im, &t) < 0)
		goto out;
	/* an image's soundness is decided before anything about this machine or user: the page bytes too */
	for (size_t k = 0; o.dry_run && k < t.nprocs; k++)
		if (pages_check_in_file(&im, t.procs[k]) < 0)
			goto out;
	if (o.dry_run && ghost_check_in_file(&im, &t) < 0)
		goto out;
	if (check_restorable(&t, &im, &o) < 0)
		goto out;
	if (o.dry_run) {
		if (!g_json)
			dry_run_summary(&t, o.image);
		ok = 1;
		progress_done(o.image, im.size, (now_ns(CLOCK_MONOTONIC) - t_start) / 1000000, t.nprocs);
		goto out;
	}

	plan_layout(&pl);
	pl.image_fd = im.fd;
	pl.tramp = pick_trampoline(&t, TRAMP_PAGES * 4096);
	if (!pl.tramp) {
		fail(EXIT_FAIL, "restore: no free address range for the trampoline");
		goto out;
	}
	pids = xcalloc(t.nprocs, sizeof(pid_t));
	pl.inner = xcalloc(t.nprocs, sizeof(pid_t));
	pl.go = xcalloc(t.nprocs, sizeof(*pl.go));
	for (size_t k = 0; k < t.nprocs; k++)
		pl.go[k][0] = pl.go[k][1] = -1;
	if (pipe2(pl.msg, O_CLOEXEC) < 0) {
		fail_errno(EXIT_FAIL, "pipe2");
		goto out;
	}
	for (size_t k = 0; k < t.nprocs; k++)
		if (pipe2(pl.go[k], O_CLOEXEC) < 0) {
			fail_errno(EXIT_FAIL, "pipe2 (%zu processes)", t.nprocs);
			goto out;
		}
	/* the processes whose parents die on a failure come to us, to be reaped */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* the trampoline, mapped in ckpt's own address space so that every fork has it */
	void *tr = mmap((void *)pl.tramp, TRAMP_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (tr != (void *)pl.tramp) {
		fail_errno(EXIT_FAIL, "cannot map the trampoline at 0x%llx", (unsigned long long)pl.tramp);
		goto out;
	}
	static const uint8_t code[] = {0x0f, 0x05, 0xcc}; /* syscall; int3 */
	memcpy(tr, code, sizeof(code));
	memcpy((uint8_t *)tr + TRAMP_BATCH_AT, inject_batch_stub, sizeof(inject_batch_stub));
	mprotect(tr, 4096, PROT_READ | PROT_EXEC);

	fflush(NULL);
	pid_t parent = getpid();
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid_t root = o.pid_ns ? start_pid_ns(&pl) : fork_with_pid((pid_t)t.procs[0]->pf.pid, o.same_pids);
	if (root < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (!fail_code())
			fail_errno(EXIT_FAIL, "cannot fork the new process%s", errno == EAGAIN ? " (RLIMIT_NPROC?)" : "");
		goto out;
	}
	if (root == 0) {
		if (getppid() != parent)
			_exit(EXIT_FAIL);
		member_main(&pl, 0);
	}
	forked = 1;
	sigprocmask(SIG_SETMASK, &old, NULL);
	munmap(tr, TRAMP_PAGES * 4096);
	if (!o.pid_ns)
		pids[0] = root; /* in --pid-ns, `root` is the namespace's init: the root reports itself */
	init_pid = o.pid_ns ? root : 0;
	close(pl.msg[1]);
	pl.msg[1] = -1;
	for (size_t k = 0; k < t.nprocs; k++) {
		close(pl.go[k][0]);
		pl.go[k][0] = -1;
	}
	progress_step("restore-files", "the new process%s set%s up %s files", t.nprocs > 1 ? "es" : "", t.nprocs > 1 ? "" : "s",
		      t.nprocs > 1 ? "their" : "its");
	if (await_barrier(&pl, pids, 'A') < 0 || release_barrier(&pl, pl.inner, t.nprocs * sizeof(pid_t)) < 0 ||
	    await_barrier(&pl, pids, 'B') < 0 || release_barrier(&pl, NULL, 0) < 0 || await_barrier(&pl, pids, 'R') < 0)
		goto out;
	size_t changed = 0;
	char moved[300] = "";
	for (size_t k = 0; k < t.nprocs; k++) {
		if ((uint32_t)pl.inner[k] == t.procs[k]->pf.pid)
			continue;
		if (o.same_pids || o.pid_ns) {
			fail(EXIT_FAIL, "--same-pids: process %u came back as %d", t.procs[k]->pf.pid, pl.inner[k]);
			goto out;
		}
		if (changed++ < 4)
			snprintf(moved + strlen(moved), sizeof(moved) - strlen(moved), "%s%u is now %d", changed > 1 ? ", " : "", t.procs[k]->pf.pid,
				 pl.inner[k]);
	}
	if (changed)
		warn("restored with new PIDs (%s%s): a program that remembers its PID may not go on; --pid-ns restores the original ones "
		     "inside a namespace of their own", moved, changed > 4 ? ", ..." : "");

	rcs = xcalloc(t.nprocs, sizeof(*rcs));
	for (size_t k = 0; k < t.nprocs; k++) {
		struct proc_state *p = t.procs[k];
		struct restore_ctx *rc = &rcs[k];
		rc->im = &im;
		rc->p = p;
		rc->pid = pids[k];
		rc->tramp = pl.tramp;
		rc->tramp_len = TRAMP_PAGES * 4096;
		rc->scratch = pl.tramp + 4096;
		rc->scratch_iov = pl.tramp + 8192;
		rc->image_fd = pl.L.image_fd;
		rc->lazy = o.lazy;
		rc->own_root_image = geteuid() == 0 && !creds_other_user(p, &o.creds);
		rc->main = &p->threads[0].tr;
		rc->main->tid = pids[k];
		for (size_t i = 0; i < p->nthreads; i++) {
			p->threads[i].tr.syscall_ip = pl.tramp;
			p->threads[i].tr.batch_ip = pl.tramp + TRAMP_BATCH_AT;
		}
		cpu_set_t saved_cpus;
		pin_cpus(rc, &saved_cpus, 1);
		rc->cpus = saved_cpus;
		int r = drive(rc, &pl.L);
		pin_cpus(rc, &saved_cpus, 0);
		if (r < 0)
			goto out;
	}
	for (size_t k = 0; k < t.nprocs; k++)
		if (finish(&rcs[k]) < 0)
			goto out;
	if (o.pid_file && write_pid_file(&o, pids[0]) < 0)
		goto out;
	printf("%s%d%s\n", g_json ? "{\"event\":\"restored\",\"pid\":" : "", pids[0], g_json ? "}" : "");
	fflush(stdout);
	for (size_t k = 0; k < t.nprocs; k++) {
		struct proc_state *p = t.procs[k];
		for (size_t i = 0; i < p->nthreads; i++)
			ptrace(PTRACE_DETACH, p->threads[i].tr.tid, 0, (p->pf.flags & CKPT_PROCESS_FLAGS_STOPPED) && i == 0 ? SIGSTOP : 0);
	}
	ok = 1;
	progress_done(o.image, im.size, (now_ns(CLOCK_MONOTONIC) - t_start) / 1000000, t.nprocs);
out:
	if (!ok && forked) {
		for (size_t k = t.nprocs; k-- > 0;)
			if (pids[k] > 0)
				kill(pids[k], SIGKILL);
		if (init_pid > 0)
			kill(init_pid, SIGKILL); /* and with it every process of its namespace */
		reap_all(pids[0] > 0 ? pids[0] : init_pid);
		remove_pid_file(&o);
	}
	if (pl.msg[0] >= 0)
		close(pl.msg[0]);
	if (pl.msg[1] >= 0)
		close(pl.msg[1]);
	for (size_t k = 0; pl.go && k < t.nprocs; k++) {
		if (pl.go[k][0] >= 0)
			close(pl.go[k][0]);
		if (pl.go[k][1] >= 0)
			close(pl.go[k][1]);
	}
	free(pl.go);
	free(pl.inner);
	free(pids);
	free(rcs);
	mem_forget();
	creds_free(&o.creds);
	tree_free(&t);
	image_close(&im);
	if (ok)
		return EXIT_OK;
	progress_error();
	return fail_code();
}
