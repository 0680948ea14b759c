/* `ckpt restore`: a new process from an image.
 *
 * A forked child first takes the credentials the restore may give (creds.c), then, as them,
 * sets up what it can itself: the fd table, cwd, umask, rlimits, signal handlers (every signal
 * blocked), the files to map; then it stops. From there the
 * tracer drives it only by injected syscalls through a small trampoline page ("syscall; int3")
 * placed where neither the child nor the image has anything: it empties the address space,
 * moves the vdso to the image's place, maps the areas, has the child preadv its pages from the
 * image, checks every page hash, sets the mm fields, creates the threads and gives each its
 * state, registers and mask. Any failure kills the child (PTRACE_O_EXITKILL covers our death). */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
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

#define TRAMP_PAGES 6 /* code, scratch, 4 pages of iovecs */

struct restore_opts {
	const char *image;
	const char *pid_file;
	int dry_run;
	struct stdio_plan stdio;
	int as_recorded;
	struct restore_creds creds;
	int pid_file_written; /* this run made the file at pid_file: the inode it made */
	dev_t pid_file_dev;
	ino_t pid_file_ino;
};

struct fd_layout {
	int base, image_fd, msg_fd, exe_fd, saved, vma_first, tmp_base;
};

/* The image's one process (restoring trees is not supported yet), once the whole image is
 * known to be sound. */
static int load_one_process(struct image *im, struct proc_state *p)
{
	struct loaded_image li;
	int rc = image_load(im, &li);
	if (rc == 0 && li.nprocs != 1)
		rc = fail(EXIT_UNSUPPORTED, "%s holds %zu processes; restoring process trees is not supported yet", im->path, li.nprocs);
	if (rc == 0) {
		*p = li.procs[0];
		memset(&li.procs[0], 0, sizeof(li.procs[0]));
	}
	loaded_image_free(&li);
	return rc;
}

/* ---- the child ---- */

static int g_msg_fd = -1;

/* The child's messages to the tracer: records "W<text>" (a warning) and "E<code> <text>" (its
 * failure), each ended by a NUL, since the text (paths of the image) may hold any other byte. */
void child_warn(const char *fmt, ...)
{
	char line[600];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line + 1, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[0] = 'W';
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	if (write_all(g_msg_fd, line, (size_t)n + 2) < 0)
		return;
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

/* An open that the restore's user was denied (EACCES, EPERM) is a permission failure (exit 4). */
int denied_or(int code)
{
	return errno == EACCES || errno == EPERM ? EXIT_PERM : code;
}

static int child_setup(struct proc_state *p, const struct fd_layout *L, int image_fd, int msg_fd, uint64_t tramp,
		       struct restore_opts *o)
{
	void *t = mmap((void *)tramp, TRAMP_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (t != (void *)tramp)
		return fail_errno(EXIT_FAIL, "cannot map the trampoline at 0x%llx", (unsigned long long)tramp);
	static const uint8_t code[] = {0x0f, 0x05, 0xcc}; /* syscall; int3 */
	memcpy(t, code, sizeof(code));
	if (mprotect(t, 4096, PROT_READ | PROT_EXEC) < 0)
		return fail_errno(EXIT_FAIL, "mprotect of the trampoline");

	/* our own fds above everything the image uses, then nothing else open */
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	int hi = L->tmp_base + 64;
	int a = move_up(image_fd, hi), b = move_up(msg_fd, hi), s[3];
	for (int i = 0; i < 3; i++)
		s[i] = o->stdio.mode == STDIO_INHERIT ? move_up(i, hi) : -1;
	if (a < 0 || b < 0)
		return fail_errno(EXIT_FAIL, "cannot move the restore's own fds (is RLIMIT_NOFILE too low?)");
	int top = a > b ? a : b;
	for (int i = 0; i < 3; i++)
		top = s[i] > top ? s[i] : top;
	syscall(SYS_close_range, 0, hi - 1, 0);
	syscall(SYS_close_range, top + 1, ~0U, 0);
	if (place(a, L->image_fd) < 0 || place(b, L->msg_fd) < 0)
		return fail_errno(EXIT_FAIL, "cannot place the restore's own fds");
	g_msg_fd = L->msg_fd;
	for (int i = 0; i < 3; i++) {
		if (place(s[i], L->saved + i) < 0)
			return fail_errno(EXIT_FAIL, "cannot keep stdio");
		o->stdio.saved[i] = s[i] >= 0 ? L->saved + i : -1;
	}

	/* The final credentials before anything the image names is opened: a path the restore's
	 * user may not open must fail here as it would for that user. A change of ids clears the
	 * parent-death signal: set it again, and make sure the tracer did not die meanwhile. */
	pid_t parent = getppid();
	/* Another user's process must not keep our controlling terminal: through /dev/tty it could
	 * read it and push input into our shell (TIOCSTI). A session of its own has none. */
	if (creds_other_user(p, &o->creds) && setsid() < 0)
		return fail_errno(EXIT_FAIL, "setsid");
	if (creds_switch_in_child(p, &o->creds) < 0)
		return -1;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(EXIT_FAIL);
	if (process_apply_in_child(p) < 0)
		return -1;
	int exe = open(p->exe, O_RDONLY);
	if (exe >= 0 && place(exe, L->exe_fd) < 0)
		return fail_errno(EXIT_FAIL, "dup2");
	if (vma_files_open_in_child(p) < 0 || files_apply_in_child(p, &o->stdio, L->tmp_base) < 0 || sigactions_apply_in_child(p) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if (o->stdio.saved[i] >= 0)
			close(o->stdio.saved[i]);
	return 0;
}

static void child_main(struct proc_state *p, const struct fd_layout *L, int image_fd, int msg_fd, uint64_t tramp,
		       struct restore_opts *o)
{
	g_msg_fd = msg_fd;
	if (child_setup(p, L, image_fd, msg_fd, tramp, o) < 0) {
		char line[1100];
		int n = snprintf(line, sizeof(line), "E%d %s", fail_code(), fail_message());
		n = n < (int)sizeof(line) ? n : (int)sizeof(line) - 1;
		if (write_all(g_msg_fd, line, (size_t)n + 1) < 0)
			_exit(fail_code());
		_exit(fail_code());
	}
	close(g_msg_fd);
	if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
		_exit(EXIT_FAIL);
	kill(getpid(), SIGSTOP);
	_exit(EXIT_FAIL); /* never: the tracer replaces everything before this runs */
}

/* Reads what the child reports until it closes its end: warnings, or one error. */
static int child_messages(int fd)
{
	struct buf b = {0};
	char chunk[512];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (b.len + (size_t)n < (1u << 20))
			buf_put(&b, chunk, (size_t)n);
	}
	buf_put(&b, "", 1);
	int rc = 0;
	for (char *rec = (char *)b.p; rec < (char *)b.p + b.len - 1; rec += strlen(rec) + 1) {
		if (rec[0] == 'W') {
			warn("%s", rec + 1);
		} else if (rec[0] == 'E') {
			char *msg;
			long code = strtol(rec + 1, &msg, 10);
			fail((int)code, "%s", *msg ? msg + 1 : "the restore child failed");
			rc = -1;
		}
	}
	buf_free(&b);
	return rc;
}

/* fork(), but with the image's PID when it is free and we may choose it (CAP_CHECKPOINT_RESTORE,
 * clone3 set_tid): programs that remember their PID (python's asyncio does) then go on. The
 * child must not rely on glibc's cached TID, which a raw clone3 leaves as the parent's. */
static pid_t fork_with_pid(pid_t want)
{
	struct clone3_args a = {.exit_signal = SIGCHLD, .set_tid = (uint64_t)(uintptr_t)&want, .set_tid_size = 1};
	long r = syscall(SYS_clone3, &a, sizeof(a));
	return r >= 0 ? (pid_t)r : fork();
}

/* ---- the tracer ---- */

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

/* After SIGKILL of the new process: every tracee reaped (the leader is reported only after
 * its other threads, which are ours to reap too, so waiting for it alone would never end),
 * within a deadline, so that a failure always ends. */
static void reap_all(pid_t leader)
{
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + 10000000000ULL;
	for (;;) {
		pid_t r = waitpid(-1, NULL, __WALL | WNOHANG);
		if (r > 0 || (r < 0 && errno == EINTR))
			continue;
		if (r < 0)
			return; /* ECHILD: none left */
		if (now_ns(CLOCK_MONOTONIC) > deadline) {
			warn("the new process %d did not go away within 10 s of SIGKILL", leader);
			return;
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

static int drive(struct restore_ctx *rc, const struct fd_layout *L, struct restore_opts *o)
{
	struct proc_state *p = rc->p;
	struct tracee *t0 = rc->main;
	int st;
	if (tracee_wait(t0, &st) < 0)
		return -1;
	if (!WIFSTOPPED(st) || WSTOPSIG(st) != SIGSTOP)
		return fail(EXIT_FAIL, "restore: the new process stopped unexpectedly (status 0x%x)", st);
	if (ptrace(PTRACE_SETOPTIONS, t0->tid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL) < 0)
		return fail_errno(EXIT_FAIL, "restore: PTRACE_SETOPTIONS");
	if (ptrace(PTRACE_GETREGS, t0->tid, 0, &t0->orig) < 0)
		return fail_errno(EXIT_FAIL, "restore: PTRACE_GETREGS");
	if (inject_begin(t0, 0) < 0)
		return -1;

	/* glibc registered rseq in the child: the kernel would kill it once that area is gone */
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

	progress_step("restore-threads", "%zu threads", p->nthreads);
	for (size_t i = 1; i < p->nthreads; i++)
		if (thread_create(t0, &p->threads[i], rc->scratch) < 0)
			return -1;
	for (size_t i = 0; i < p->nthreads; i++)
		if (thread_restore_state(rc->pid, &p->threads[i], rc->scratch) < 0)
			return -1;
	progress_step("restore-signals", "%u pending signals", p->pending.n);
	if (pending_restore(rc) < 0)
		return -1;
	if (inject_checked(t0, NULL, "restore: PR_SET_PDEATHSIG", SYS_prctl, PR_SET_PDEATHSIG, 0, 0, 0, 0, 0) < 0)
		return -1;
	if (inject_checked(t0, NULL, "restore: removing the trampoline", SYS_munmap, rc->tramp, rc->tramp_len, 0, 0, 0, 0) < 0)
		return -1;
	for (size_t i = 0; i < p->nthreads; i++)
		if (thread_restore_final(&p->threads[i]) < 0)
			return -1;
	if (o->pid_file && write_pid_file(o, rc->pid) < 0)
		return -1;
	return 0;
}

static int usage(void)
{
	fputs("usage: ckpt restore IMAGE [--pid-file FILE] [--stdio=inherit|null|PATH] [--progress=json] [--as-recorded]\n", stderr);
	return EXIT_USAGE;
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
		{"as-recorded", no_argument, NULL, 'R'},
		{NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 'p': o.pid_file = optarg; break;
		case 'v': g_verbose = 1; break;
		case 'n': o.dry_run = 1; break;
		case 'R': o.as_recorded = 1; break;
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
	struct proc_state p;
	memset(&p, 0, sizeof(p));
	pid_t child = -1;
	int msg[2] = {-1, -1};
	struct restore_ctx rc = {0};
	cpu_set_t saved_cpus;
	int pinned = 0, ok = 0;
	signal(SIGPIPE, SIG_IGN);

	progress_step("restore-load", "reading %s", o.image);
	if (image_open(&im, o.image) < 0 || load_one_process(&im, &p) < 0)
		goto out;
	/* an image's soundness is decided before anything about this machine or user: the page bytes too */
	if (o.dry_run && pages_check_in_file(&im, &p) < 0)
		goto out;
	if (p.head.arch != CKPT_ARCH_X86_64 || p.head.page_size != (uint32_t)sysconf(_SC_PAGESIZE)) {
		fail(EXIT_UNSUPPORTED, "the image is for another machine (arch %u, page size %u)", p.head.arch, p.head.page_size);
		goto out;
	}
	if (mm_check_compatible(&p) < 0)
		goto out;
	if (creds_allowed(im.fd, o.as_recorded, &o.creds) < 0 || creds_check(&p, &o.creds) < 0)
		goto out;
	if (o.as_recorded)
		warn("--as-recorded: the image's recorded ids are used as they are, unchecked: uid %u, gid %u and %u supplementary groups",
		     p.pf.uids[1], p.pf.gids[1], p.ngroups);
	for (int i = 0; i < 3 && o.stdio.mode == STDIO_INHERIT && creds_other_user(&p, &o.creds); i++)
		if (isatty(i)) {
			fail(EXIT_PERM, "--stdio=inherit would give this terminal (fd %d) to a process of uid %u: restore with --stdio=null or --stdio=PATH",
			     i, o.creds.as_recorded ? p.pf.uids[1] : o.creds.uid);
			goto out;
		}
	for (size_t i = 0; i < p.nunsup; i++)
		warn("not restored: %s (%s)", p.unsup[i].reason, p.unsup[i].detail);
	if (o.dry_run) {
		uint64_t pages = 0;
		for (size_t i = 0; i < p.nchunks; i++)
			pages += p.chunks[i].npages;
		if (!g_json) {
			char *line = xasprintf("dry run: %s would restore process %u (%s): %zu threads, %zu areas, %llu pages, %zu fds\n",
					       o.image, p.pf.pid, p.comm, p.nthreads, p.nvmas, (unsigned long long)pages, p.nfds);
			fputs_escaped(line, stdout); /* the image's comm, and a path, reach a terminal */
			free(line);
		}
		ok = 1;
		progress_done(o.image, im.size, (now_ns(CLOCK_MONOTONIC) - t_start) / 1000000);
		goto out;
	}

	struct fd_layout L;
	L.base = files_max_fd(&p) + 1;
	L.image_fd = L.base;
	L.msg_fd = L.base + 1;
	L.exe_fd = L.base + 2;
	L.saved = L.base + 3;
	L.vma_first = L.base + 6;
	L.tmp_base = vma_assign_fds(&p, L.vma_first) + 1;

	rc.im = &im;
	rc.p = &p;
	rc.tramp_len = TRAMP_PAGES * 4096;
	rc.tramp = pick_trampoline(&p, rc.tramp_len);
	rc.scratch = rc.tramp + 4096;
	rc.scratch_iov = rc.tramp + 8192;
	rc.image_fd = L.image_fd;
	if (!rc.tramp) {
		fail(EXIT_FAIL, "restore: no free address range for the trampoline");
		goto out;
	}
	if (pipe2(msg, O_CLOEXEC) < 0) {
		fail_errno(EXIT_FAIL, "pipe2");
		goto out;
	}
	fflush(NULL);
	pid_t parent = getpid();
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	child = fork_with_pid((pid_t)p.pf.pid);
	if (child < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		fail_errno(EXIT_FAIL, "cannot fork the new process%s", errno == EAGAIN ? " (RLIMIT_NPROC?)" : "");
		goto out;
	}
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(EXIT_FAIL);
		close(msg[0]);
		child_main(&p, &L, im.fd, msg[1], rc.tramp, &o);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(msg[1]);
	msg[1] = -1;
	progress_step("restore-files", "the new process %d sets up its files", child);
	if (child_messages(msg[0]) < 0)
		goto out;
	rc.pid = child;
	rc.main = &p.threads[0].tr;
	rc.main->tid = child;
	rc.main->attached = 1;
	for (size_t i = 0; i < p.nthreads; i++)
		p.threads[i].tr.syscall_ip = rc.tramp;
	pin_cpus(&rc, &saved_cpus, 1);
	pinned = 1;
	if (drive(&rc, &L, &o) < 0)
		goto out;
	pin_cpus(&rc, &saved_cpus, 0);
	pinned = 0;
	printf("%s%d%s\n", g_json ? "{\"event\":\"restored\",\"pid\":" : "", child, g_json ? "}" : "");
	fflush(stdout);
	for (size_t i = 0; i < p.nthreads; i++)
		ptrace(PTRACE_DETACH, p.threads[i].tr.tid, 0, 0);
	ok = 1;
	progress_done(o.image, im.size, (now_ns(CLOCK_MONOTONIC) - t_start) / 1000000);
out:
	if (pinned)
		pin_cpus(&rc, &saved_cpus, 0);
	if (!ok && child > 0) {
		kill(child, SIGKILL);
		reap_all(child);
		remove_pid_file(&o);
	}
	if (msg[0] >= 0)
		close(msg[0]);
	if (msg[1] >= 0)
		close(msg[1]);
	mem_forget();
	creds_free(&o.creds);
	proc_free(&p);
	image_close(&im);
	if (ok)
		return EXIT_OK;
	progress_error();
	return fail_code();
}
