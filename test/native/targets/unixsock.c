/* Test target: unix sockets of every kind (issue 11), in a process and its child, checking
 * themselves after a restore.
 *
 * Usage: unixsock OUT DIR. Sets up the items below, writes "ready <pid> <child pid>" to OUT; on
 * SIGUSR1 checks each and writes "PASS item" or "FAIL item why" per item, then "done".
 *   accepted      a stream listener bound to DIR/l.sock (backlog 4) and a connection it accepted,
 *                 with bytes queued each way; both ends keep their names
 *   pending       a connection to that listener not yet accepted: accept() finds it after restore
 *   listening     the listener still takes new connections at its path
 *   abstract      a seqpacket listener with an abstract name and a connection not yet accepted
 *   dgram         a datagram socket bound to DIR/d.sock with two datagrams queued, and a datagram
 *                 socket connected to it (one way)
 *   unconnected   an unbound stream socket (still usable: it connects) and a datagram socket bound
 *                 to an abstract name
 *   peer-closed   a stream socket whose peer closed after writing: the bytes, then EOF
 *   seqpacket     a seqpacket socketpair with two messages queued, boundaries kept
 *   tree          the child's connection to the listener, accepted by the parent: it echoes */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int outfd;
static volatile sig_atomic_t asked;
static char dir[200];
static int lst, acc, cli, pend, alst, apend, dsrv, dcli, unc, uncd, closed, sq[2], tacc;
static char abs_name[64], abs_dname[64];

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

static socklen_t addr(struct sockaddr_un *a, const char *name, int abstract)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (abstract) {
		memcpy(a->sun_path + 1, name, strlen(name));
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	}
	snprintf(a->sun_path, sizeof(a->sun_path), "%.90s/%.12s", dir, name);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1);
}

static int sock_to(int type, const char *name, int abstract)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, name, abstract);
	int s = socket(AF_UNIX, type, 0);
	return s >= 0 && connect(s, (struct sockaddr *)&a, l) == 0 ? s : -1;
}

static int bound(int type, const char *name, int abstract)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, name, abstract);
	int s = socket(AF_UNIX, type, 0);
	return s >= 0 && bind(s, (struct sockaddr *)&a, l) == 0 ? s : -1;
}

/* whether the socket's own (or peer's) name is `name` */
static int named(int s, int peer, const char *name, int abstract)
{
	struct sockaddr_un want, got;
	socklen_t wl = addr(&want, name, abstract), gl = sizeof(got);
	if ((peer ? getpeername(s, (struct sockaddr *)&got, &gl) : getsockname(s, (struct sockaddr *)&got, &gl)) < 0)
		return 0;
	return gl == wl && !memcmp(&want, &got, wl);
}

/* n bytes within 5 s */
static int get(int s, char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		struct pollfd p = {s, POLLIN, 0};
		if (poll(&p, 1, 5000) <= 0)
			return -1;
		ssize_t r = read(s, buf + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int expect(int s, const char *want)
{
	char buf[64] = {0};
	return get(s, buf, strlen(want)) == 0 && !memcmp(buf, want, strlen(want));
}

static int accept_within(int l)
{
	struct pollfd p = {l, POLLIN, 0};
	return poll(&p, 1, 5000) == 1 ? accept(l, NULL, NULL) : -1;
}

/* The child: two connections to the listener (the first is accepted, the second waits in its
 * queue), echoing on both; says on `ready` once both are made. */
static void child_echo(int ready)
{
	int c[2] = {sock_to(SOCK_STREAM, "l.sock", 0), sock_to(SOCK_STREAM, "l.sock", 0)};
	if (c[0] < 0 || c[1] < 0 || write(ready, "c", 1) != 1)
		_exit(3);
	close(ready);
	for (;;) {
		struct pollfd p[2] = {{c[0], POLLIN, 0}, {c[1], POLLIN, 0}};
		if (poll(p, 2, -1) < 0)
			continue;
		for (int k = 0; k < 2; k++) {
			if (!p[k].revents)
				continue;
			char b[64];
			ssize_t n = read(c[k], b, sizeof(b));
			if (n <= 0 && k == 0)
				_exit(0);
			if (n <= 0) { /* the parent closed the second one after checking it */
				c[1] = -1;
				continue;
			}
			if (write(c[k], b, (size_t)n) != n)
				_exit(3);
		}
	}
}

static void check(void)
{
	/* accepted: bytes queued each way, names kept */
	int ok = expect(acc, "to-server") && expect(cli, "to-client") && named(acc, 0, "l.sock", 0) && named(cli, 1, "l.sock", 0) &&
		 write(cli, "again", 5) == 5 && expect(acc, "again");
	say(ok ? "PASS accepted\n" : "FAIL accepted %s\n", strerror(errno));
	/* pending, and the tree's connection: two connections wait; the child's echoes */
	int got = 0, echoed = 0, pend_ok = 0;
	for (int k = 0; k < 2; k++) {
		int a = accept_within(lst);
		if (a < 0)
			break;
		got++;
		if (write(a, "who", 3) != 3)
			break;
		struct pollfd p = {pend, POLLIN, 0};
		char b[8] = {0};
		if (poll(&p, 1, 300) == 1 && read(pend, b, 3) == 3 && !memcmp(b, "who", 3))
			pend_ok = 1;
		else if (expect(a, "who"))
			echoed = 1;
		close(a);
	}
	say(pend_ok ? "PASS pending\n" : "FAIL pending accepted %d\n", got);
	/* tree: the child's accepted connection (tacc) echoes; its second connection came above */
	ok = write(tacc, "ping", 4) == 4 && expect(tacc, "ping") && echoed;
	say(ok ? "PASS tree\n" : "FAIL tree echoed %d (%s)\n", echoed, strerror(errno));
	/* listening: a new connection at the path */
	int n = sock_to(SOCK_STREAM, "l.sock", 0), a = n >= 0 ? accept_within(lst) : -1;
	ok = a >= 0 && write(n, "new", 3) == 3 && expect(a, "new");
	say(ok ? "PASS listening\n" : "FAIL listening %s\n", strerror(errno));
	/* abstract seqpacket listener with its pending connection */
	a = accept_within(alst);
	ok = a >= 0 && named(alst, 0, abs_name, 1) && write(a, "seq", 3) == 3 && expect(apend, "seq");
	say(ok ? "PASS abstract\n" : "FAIL abstract %s\n", strerror(errno));
	/* dgram: the two queued datagrams, whole, then one from the connected socket */
	char b1[32] = {0}, b2[32] = {0}, b3[32] = {0};
	ssize_t r1 = recv(dsrv, b1, sizeof(b1), MSG_DONTWAIT), r2 = recv(dsrv, b2, sizeof(b2), MSG_DONTWAIT);
	ok = r1 == 5 && !memcmp(b1, "first", 5) && r2 == 6 && !memcmp(b2, "second", 6) && named(dsrv, 0, "d.sock", 0);
	ok = ok && send(dcli, "third", 5, 0) == 5 && recv(dsrv, b3, sizeof(b3), 0) == 5 && named(dcli, 1, "d.sock", 0);
	say(ok ? "PASS dgram\n" : "FAIL dgram %zd %zd '%s' '%s' (%s)\n", r1, r2, b1, b2, strerror(errno));
	/* unconnected: the stream socket connects now; the datagram one has its abstract name */
	ok = connect(unc, (struct sockaddr *)&(struct sockaddr_un){.sun_family = AF_UNIX}, sizeof(sa_family_t)) < 0;
	struct sockaddr_un la;
	socklen_t ll = addr(&la, "l.sock", 0);
	ok = connect(unc, (struct sockaddr *)&la, ll) == 0 && (a = accept_within(lst)) >= 0 && named(uncd, 0, abs_dname, 1);
	say(ok ? "PASS unconnected\n" : "FAIL unconnected %s\n", strerror(errno));
	/* peer-closed: the bytes, then EOF */
	char eb[8];
	ok = expect(closed, "bye") && read(closed, eb, sizeof(eb)) == 0;
	say(ok ? "PASS peer-closed\n" : "FAIL peer-closed %s\n", strerror(errno));
	/* seqpacket pair: two messages, boundaries kept */
	char m1[16] = {0}, m2[16] = {0};
	ssize_t s1 = recv(sq[1], m1, sizeof(m1), MSG_DONTWAIT), s2 = recv(sq[1], m2, sizeof(m2), MSG_DONTWAIT);
	ok = s1 == 3 && s2 == 4 && !memcmp(m1, "one", 3) && !memcmp(m2, "two!", 4);
	say(ok ? "PASS seqpacket\n" : "FAIL seqpacket %zd %zd\n", s1, s2);
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
	snprintf(dir, sizeof(dir), "%s", argv[2]);
	snprintf(abs_name, sizeof(abs_name), "ckpt-test-seq-%d", (int)getpid());
	snprintf(abs_dname, sizeof(abs_dname), "ckpt-test-dgram-%d", (int)getpid());
	signal(SIGPIPE, SIG_IGN);
	lst = bound(SOCK_STREAM, "l.sock", 0);
	if (outfd < 0 || lst < 0 || listen(lst, 4) < 0)
		return 2;
	cli = sock_to(SOCK_STREAM, "l.sock", 0);
	acc = accept(lst, NULL, NULL);
	if (cli < 0 || acc < 0 || write(cli, "to-server", 9) != 9 || write(acc, "to-client", 9) != 9)
		return 3;
	int rp[2];
	if (pipe(rp) < 0)
		return 3;
	pid_t child = fork();
	if (child == 0) {
		close(rp[0]);
		child_echo(rp[1]);
	}
	close(rp[1]);
	char c;
	if (read(rp[0], &c, 1) != 1)
		return 3;
	close(rp[0]);
	tacc = accept(lst, NULL, NULL); /* the child's first connection */
	pend = sock_to(SOCK_STREAM, "l.sock", 0);
	alst = bound(SOCK_SEQPACKET, abs_name, 1);
	if (tacc < 0 || pend < 0 || alst < 0 || listen(alst, 2) < 0 || (apend = sock_to(SOCK_SEQPACKET, abs_name, 1)) < 0)
		return 4;
	dsrv = bound(SOCK_DGRAM, "d.sock", 0);
	int tmp = sock_to(SOCK_DGRAM, "d.sock", 0);
	dcli = sock_to(SOCK_DGRAM, "d.sock", 0);
	if (dsrv < 0 || tmp < 0 || dcli < 0 || send(tmp, "first", 5, 0) != 5 || send(tmp, "second", 6, 0) != 6)
		return 5;
	close(tmp);
	unc = socket(AF_UNIX, SOCK_STREAM, 0);
	uncd = bound(SOCK_DGRAM, abs_dname, 1);
	int pr[2];
	if (unc < 0 || uncd < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, pr) < 0 || write(pr[1], "bye", 3) != 3)
		return 6;
	close(pr[1]);
	closed = pr[0];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sq) < 0 || send(sq[0], "one", 3, 0) != 3 || send(sq[0], "two!", 4, 0) != 4)
		return 7;
	struct sigaction sa = {.sa_handler = on_usr1};
	sigaction(SIGUSR1, &sa, NULL);
	say("ready %d %d\n", (int)getpid(), (int)child);
	for (;;) {
		while (!asked)
			pause();
		asked = 0;
		check();
	}
}
