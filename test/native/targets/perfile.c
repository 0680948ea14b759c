/* Test target: what belongs to an open file description rather than to a path (issue 11), and
 * file locks, each checked by the process itself.
 *   pipe-flags     one pipe, two descriptions of each end (the second ones opened through
 *                  /proc/self/fd): only the second read end is O_NONBLOCK, only the second write
 *                  end O_APPEND; 5 bytes buffered
 *   pipe-capacity  a pipe grown to 256 KiB (F_SETPIPE_SZ) holding 100 KiB
 *   fifo-rdonly    a FIFO of DIR open read-only, with bytes a writer (since closed) left in it
 *   fifo-rdwr      a FIFO of DIR open read-write, with bytes in it
 *   map-rw         a shared read-only mapping of a file that was opened read-write (fd closed):
 *                  mprotect can make it writable, and what it writes is the file's
 *   flock          an exclusive flock
 *   posix-lock     a POSIX write lock on bytes 10-19
 *   ofd-lock       an OFD read lock from byte 100 to the end
 *   external       (with a third argument "external") fd 9 is a pipe to a process outside the checkpoint:
 *                  what it writes there arrives (restored with --inherit-fd 9:N) or writing
 *                  fails with EPIPE (restored as a broken pipe); fd 10 likewise, an end of a
 *                  unix socket pair whose peer is outside
 * Locks are checked from a child, which must be refused each of them.
 *   (with a third argument "lease") a read lease on DIR/leased, which a dump refuses
 *   (with "linked") DIR/first-name open after it was unlinked, its other name DIR/other-name
 *                  kept: refused too (the other name cannot be found)
 * Usage: perfile OUT DIR [external|lease|linked]. "ready PID" on OUT once set up; on SIGUSR1 one
 * "PASS item"/"FAIL item why" line per item, then "done". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define CAP (256 << 10)
#define HELD (100 << 10)

static int outfd, p[2], r2, w2, q[2], fifo_ro, fifo_rw, lk_flock, lk_posix, lk_ofd, external;
static char *map;
static char dir[4096];
static volatile sig_atomic_t asked;

static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (write(outfd, line, (size_t)n) != n)
		_exit(2);
}

static char *in_dir(const char *name)
{
	static char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void check_pipe_flags(void)
{
	int a = fcntl(p[0], F_GETFL), b = fcntl(r2, F_GETFL), c = fcntl(p[1], F_GETFL), d = fcntl(w2, F_GETFL);
	char got[8] = {0};
	if ((a & O_NONBLOCK) || !(b & O_NONBLOCK) || (c & O_APPEND) || !(d & O_APPEND))
		say("FAIL pipe-flags flags %o %o %o %o\n", a, b, c, d);
	else if (read(r2, got, 5) != 5 || strcmp(got, "held!"))
		say("FAIL pipe-flags the bytes held\n");
	else if (read(r2, got, 1) != -1 || errno != EAGAIN)
		say("FAIL pipe-flags the second read end blocks\n");
	else if (write(w2, "again", 5) != 5 || read(p[0], got, 5) != 5 || memcmp(got, "again", 5))
		say("FAIL pipe-flags its descriptions are not one pipe\n");
	else if (write(p[1], "held!", 5) != 5) /* as it was, for the next check */
		say("FAIL pipe-flags refill\n");
	else
		say("PASS pipe-flags\n");
}

static void check_pipe_capacity(void)
{
	static char buf[HELD];
	int cap = fcntl(q[1], F_GETPIPE_SZ);
	if (cap != CAP) {
		say("FAIL pipe-capacity %d bytes\n", cap);
		return;
	}
	/* read all and write all back: the bytes, in order */
	if (read(q[0], buf, HELD) != HELD) {
		say("FAIL pipe-capacity read\n");
		return;
	}
	for (int i = 0; i < HELD; i++)
		if (buf[i] != (char)(i * 7)) {
			say("FAIL pipe-capacity byte %d\n", i);
			return;
		}
	if (write(q[1], buf, HELD) != HELD)
		say("FAIL pipe-capacity refill\n");
	else
		say("PASS pipe-capacity\n");
}

static void check_fifo(const char *item, int fd, const char *want, int refill_self)
{
	char got[32] = {0};
	size_t n = strlen(want);
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	ssize_t k = read(fd, got, sizeof(got) - 1);
	fcntl(fd, F_SETFL, fl);
	if (k != (ssize_t)n || memcmp(got, want, n)) {
		say("FAIL %s read %zd bytes: %s\n", item, k, got);
		return;
	}
	int w = refill_self ? fd : open(in_dir(item), O_WRONLY | O_NONBLOCK);
	if (w < 0 || write(w, want, n) != (ssize_t)n) {
		say("FAIL %s refill\n", item);
		return;
	}
	if (w != fd)
		close(w);
	say("PASS %s\n", item);
}

static void check_map_rw(void)
{
	if (mprotect(map, PAGE, PROT_READ | PROT_WRITE) < 0) {
		say("FAIL map-rw mprotect: %s\n", strerror(errno));
		return;
	}
	map[10] = 'W';
	int fd = open(in_dir("mapped"), O_RDONLY);
	char c = 0;
	if (fd < 0 || pread(fd, &c, 1, 10) != 1 || c != 'W')
		say("FAIL map-rw the write is not the file's\n");
	else
		say("PASS map-rw\n");
	map[10] = 'm';
	mprotect(map, PAGE, PROT_READ);
	if (fd >= 0)
		close(fd);
}

/* In a child (another process, another open of the file): 0 when it is refused as it must be. */
static int refused_in_child(const char *name, int kind)
{
	pid_t c = fork();
	if (c == 0) {
		int fd = open(in_dir(name), O_RDWR);
		if (fd < 0)
			_exit(10);
		if (kind == 0)
			_exit(flock(fd, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK ? 0 : 11);
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = kind == 1 ? 12 : 200, .l_len = 1};
		if (fcntl(fd, kind == 1 ? F_GETLK : F_OFD_GETLK, &fl) < 0)
			_exit(12);
		if (kind == 1)
			_exit(fl.l_type == F_WRLCK && fl.l_start == 10 && fl.l_len == 10 && fl.l_pid == getppid() ? 0 : 13);
		_exit(fl.l_type == F_RDLCK && fl.l_start == 100 && fl.l_len == 0 && fl.l_pid == -1 ? 0 : 14);
	}
	int st;
	if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void check_locks(void)
{
	static const char *items[] = {"flock", "posix-lock", "ofd-lock"};
	static const char *files[] = {"lk-flock", "lk-posix", "lk-ofd"};
	for (int k = 0; k < 3; k++) {
		int r = refused_in_child(files[k], k);
		if (r)
			say("FAIL %s another process is not refused (%d)\n", items[k], r);
		else
			say("PASS %s\n", items[k]);
	}
}

static void check_external(void)
{
	signal(SIGPIPE, SIG_IGN);
	ssize_t n = write(9, "external\n", 9);
	if (n == 9)
		say("PASS external connected\n");
	else if (n < 0 && errno == EPIPE)
		say("PASS external broken\n");
	else
		say("FAIL external %zd %s\n", n, strerror(errno));
	n = send(10, "socket\n", 7, MSG_NOSIGNAL);
	if (n == 7)
		say("PASS external-socket connected\n");
	else if (n < 0 && errno == EPIPE)
		say("PASS external-socket broken\n");
	else
		say("FAIL external-socket %zd %s\n", n, strerror(errno));
}

static void on_usr1(int sig)
{
	(void)sig;
	asked = 1;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	outfd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	snprintf(dir, sizeof(dir), "%s", argv[2]);
	external = argc > 3 && !strcmp(argv[3], "external");
	if (outfd < 0)
		return 2;
	if (external) {
		/* fd 9: a pipe to a process outside the checkpoint (an orphaned grandchild) */
		int e[2], sk[2];
		if (pipe(e) < 0 || dup2(e[1], 9) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sk) < 0 || dup2(sk[0], 10) < 0)
			return 8;
		close(e[1]);
		close(sk[0]);
		pid_t c = fork();
		if (c == 0) {
			/* not a child of ours: a child would be left out of the dump, which asks for --tree */
			if (fork() == 0) {
				close(9);
				close(10);
				if (fork() == 0) {
					char got[64];
					while (read(sk[1], got, sizeof(got)) > 0)
						; /* the socket's peer, until the other end is gone */
					_exit(0);
				}
				close(sk[1]);
				char got[64];
				while (read(e[0], got, sizeof(got)) > 0)
					; /* a reader, until the writer is gone */
				_exit(0);
			}
			_exit(0);
		}
		waitpid(c, NULL, 0);
		close(e[0]);
		close(sk[1]);
	}

	char self[64];
	if (pipe(p) < 0)
		return 3;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", p[0]);
	r2 = open(self, O_RDONLY | O_NONBLOCK);
	snprintf(self, sizeof(self), "/proc/self/fd/%d", p[1]);
	w2 = open(self, O_WRONLY | O_APPEND);
	if (r2 < 0 || w2 < 0 || write(p[1], "held!", 5) != 5)
		return 3;

	static char buf[HELD];
	for (int i = 0; i < HELD; i++)
		buf[i] = (char)(i * 7);
	if (pipe(q) < 0 || fcntl(q[1], F_SETPIPE_SZ, CAP) != CAP || write(q[1], buf, HELD) != HELD)
		return 4;

	if (mkfifo(in_dir("fifo-rdonly"), 0600) < 0 || mkfifo(in_dir("fifo-rdwr"), 0600) < 0)
		return 5;
	fifo_ro = open(in_dir("fifo-rdonly"), O_RDONLY | O_NONBLOCK);
	int w = open(in_dir("fifo-rdonly"), O_WRONLY);
	if (fifo_ro < 0 || w < 0 || write(w, "left by a writer", 16) != 16)
		return 5;
	close(w);
	fcntl(fifo_ro, F_SETFL, O_RDONLY); /* blocking again */
	fifo_rw = open(in_dir("fifo-rdwr"), O_RDWR);
	if (fifo_rw < 0 || write(fifo_rw, "read-write fifo", 15) != 15)
		return 5;

	int m = open(in_dir("mapped"), O_RDWR | O_CREAT, 0600);
	if (m < 0 || ftruncate(m, PAGE) < 0 || pwrite(m, "m", 1, 10) != 1)
		return 6;
	map = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, m, 0);
	if (map == MAP_FAILED)
		return 6;
	close(m);

	lk_flock = open(in_dir("lk-flock"), O_RDWR | O_CREAT, 0600);
	lk_posix = open(in_dir("lk-posix"), O_RDWR | O_CREAT, 0600);
	lk_ofd = open(in_dir("lk-ofd"), O_RDWR | O_CREAT, 0600);
	struct flock pl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 10};
	struct flock ol = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 0};
	if (lk_flock < 0 || lk_posix < 0 || lk_ofd < 0 || flock(lk_flock, LOCK_EX) < 0 || fcntl(lk_posix, F_SETLK, &pl) < 0 ||
	    fcntl(lk_ofd, F_OFD_SETLK, &ol) < 0)
		return 7;

	if (argc > 3 && !strcmp(argv[3], "linked")) {
		/* a file open under a name that is gone while another name of it stays: refused */
		char first[4200];
		snprintf(first, sizeof(first), "%s", in_dir("first-name"));
		int l = open(first, O_RDWR | O_CREAT, 0600);
		if (l < 0 || link(first, in_dir("other-name")) < 0 || unlink(first) < 0)
			return 9;
	}
	if (argc > 3 && !strcmp(argv[3], "lease")) {
		/* a read lease: what a checkpoint refuses (it cannot be taken again faithfully) */
		int l = open(in_dir("leased"), O_RDONLY | O_CREAT, 0600);
		if (l < 0 || fcntl(l, F_SETLEASE, F_RDLCK) < 0)
			return 9;
	}

	struct sigaction sa = {.sa_handler = on_usr1};
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t block, wait_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	say("ready %d\n", (int)getpid());
	for (;;) {
		sigsuspend(&wait_mask);
		if (!asked)
			continue;
		asked = 0;
		check_pipe_flags();
		check_pipe_capacity();
		check_fifo("fifo-rdonly", fifo_ro, "left by a writer", 0);
		check_fifo("fifo-rdwr", fifo_rw, "read-write fifo", 1);
		check_map_rw();
		check_locks();
		if (external)
			check_external();
		say("done\n");
	}
}
