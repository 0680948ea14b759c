/* Test target: a process tree that shares things, and checks itself. The parent forks 3 workers;
 * each worker talks to the parent over a pipe each way and a socketpair; all share a MAP_SHARED
 * anonymous counter and one open file description of a log file (so one file offset); the
 * parent also has a child that exited (status 7) and that it has not reaped. Worker 0 is in a
 * process group of its own.
 *
 * Usage: family OUT LOG. Writes "ready <parent pid> <worker pids>" to OUT once set up. On SIGUSR1
 * the parent checks everything and writes one "PASS item" or "FAIL item why" line per item to OUT,
 * then "done"; it can be asked again. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKERS 3

struct shared {
	volatile long counter;
	volatile long written; /* bytes all processes wrote to the log */
};

static struct shared *sh;
static int logfd, outfd;
static int to_worker[WORKERS][2], from_worker[WORKERS][2], sock[WORKERS][2];
static pid_t workers[WORKERS], zombie;
static volatile sig_atomic_t asked;

static void say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (write(outfd, line, (size_t)n) != n)
		_exit(2);
}

static int read_full(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* A worker: answers each request from the parent on both channels and does what it asks. */
static void worker(int w)
{
	for (int i = 0; i < WORKERS; i++) {
		close(to_worker[i][1]);
		close(from_worker[i][0]);
		close(sock[i][0]);
	}
	for (;;) {
		char op;
		if (read_full(to_worker[w][0], &op, 1) < 0)
			_exit(0);
		char reply[64];
		int n = 0;
		if (op == 'p') { /* ping: answer on the pipe, and on the socket what came on the socket */
			char s[8];
			if (read_full(sock[w][1], s, 4) < 0)
				_exit(3);
			if (write(sock[w][1], s, 4) != 4)
				_exit(3);
			n = snprintf(reply, sizeof(reply), "pong %d %d %d\n", w, (int)getpid(), (int)getppid());
		} else if (op == 'c') { /* the shared counter */
			__sync_fetch_and_add(&sh->counter, 1);
			n = snprintf(reply, sizeof(reply), "counted\n");
		} else if (op == 'w') { /* the shared log: one line at the shared offset */
			char l[32];
			int k = snprintf(l, sizeof(l), "worker %d\n", w);
			if (write(logfd, l, (size_t)k) == k)
				__sync_fetch_and_add(&sh->written, k);
			n = snprintf(reply, sizeof(reply), "wrote\n");
		}
		if (write(from_worker[w][1], reply, (size_t)n) != n)
			_exit(3);
	}
}

static int ask(int w, char op, char *reply, size_t len)
{
	if (write(to_worker[w][1], &op, 1) != 1)
		return -1;
	if (op == 'p' && write(sock[w][0], "ping", 4) != 4)
		return -1;
	size_t n = 0;
	while (n < len - 1) {
		if (read(from_worker[w][0], reply + n, 1) != 1)
			return -1;
		if (reply[n++] == '\n')
			break;
	}
	reply[n] = 0;
	if (op == 'p') {
		char s[8] = {0};
		if (read_full(sock[w][0], s, 4) < 0 || memcmp(s, "ping", 4))
			return -1;
	}
	return 0;
}

static void check(void)
{
	char reply[64];
	/* pipes both ways and the socketpair, and each worker's parent */
	int ok = 1;
	char why[128] = "";
	for (int w = 0; w < WORKERS; w++) {
		int pw, pid, ppid;
		if (ask(w, 'p', reply, sizeof(reply)) < 0 || sscanf(reply, "pong %d %d %d", &pw, &pid, &ppid) != 3 || pw != w) {
			ok = 0, snprintf(why, sizeof(why), "worker %d did not answer (%s)", w, strerror(errno));
			break;
		}
		if (ppid != getpid() || pid != workers[w]) {
			ok = 0, snprintf(why, sizeof(why), "worker %d is pid %d, child of %d", w, pid, ppid);
			break;
		}
	}
	say(ok ? "PASS pipes-and-sockets\n" : "FAIL pipes-and-sockets %s\n", why);
	/* the shared counter: each worker's increment seen here */
	long before = sh->counter;
	ok = 1;
	for (int w = 0; w < WORKERS; w++)
		ok &= ask(w, 'c', reply, sizeof(reply)) == 0;
	long after = sh->counter;
	say(ok && after == before + WORKERS ? "PASS shared-memory\n" : "FAIL shared-memory %ld -> %ld\n", before, after);
	/* the shared offset: every line lands after the others, none overwritten */
	ok = 1;
	for (int w = 0; w < WORKERS; w++)
		ok &= ask(w, 'w', reply, sizeof(reply)) == 0;
	struct stat st;
	off_t pos = lseek(logfd, 0, SEEK_CUR);
	ok &= fstat(logfd, &st) == 0 && pos == st.st_size && st.st_size == sh->written;
	say(ok ? "PASS shared-offset\n" : "FAIL shared-offset pos %lld size %lld written %ld\n", (long long)pos, (long long)st.st_size, sh->written);
	/* the zombie: still ours to reap, with its status */
	if (zombie > 0) {
		int status = 0;
		pid_t r = waitpid(zombie, &status, WNOHANG);
		say(r == zombie && WIFEXITED(status) && WEXITSTATUS(status) == 7 ? "PASS zombie\n" : "FAIL zombie waitpid %d status 0x%x (%s)\n",
		    (int)r, status, r < 0 ? strerror(errno) : "");
		zombie = r == zombie ? 0 : zombie;
	}
	/* worker 0's process group */
	say(getpgid(workers[0]) == workers[0] ? "PASS process-group\n" : "FAIL process-group %d\n", (int)getpgid(workers[0]));
	say("done\n");
}

static void on_usr1(int sig)
{
	(void)sig;
	asked = 1;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	outfd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	logfd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644); /* no O_APPEND: the offset is shared, not the file's end */
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (outfd < 0 || logfd < 0 || sh == MAP_FAILED)
		return 2;
	zombie = fork();
	if (zombie == 0)
		_exit(7);
	for (int w = 0; w < WORKERS; w++)
		if (pipe(to_worker[w]) < 0 || pipe(from_worker[w]) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sock[w]) < 0)
			return 2;
	for (int w = 0; w < WORKERS; w++) {
		workers[w] = fork();
		if (workers[w] == 0) {
			if (w == 0)
				setpgid(0, 0);
			worker(w);
		}
		if (w == 0)
			setpgid(workers[0], workers[0]);
	}
	for (int w = 0; w < WORKERS; w++) {
		close(to_worker[w][0]);
		close(from_worker[w][1]);
		close(sock[w][1]);
	}
	struct sigaction sa = {.sa_handler = on_usr1};
	sigaction(SIGUSR1, &sa, NULL);
	/* one round before any checkpoint: the channels are warm, the log has lines */
	char reply[64];
	for (int w = 0; w < WORKERS; w++)
		if (ask(w, 'w', reply, sizeof(reply)) < 0)
			return 2;
	say("ready %d %d %d %d %d\n", (int)getpid(), (int)workers[0], (int)workers[1], (int)workers[2], (int)zombie);
	for (;;) {
		pause();
		if (asked) {
			asked = 0;
			check();
		}
	}
}
