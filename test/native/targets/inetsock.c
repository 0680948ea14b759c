/* Test target: TCP and UDP sockets (issue 11), checking themselves after a restore.
 *
 * Usage: inetsock OUT [established]. Sets up the items below on ports the kernel picks, writes
 * "ready <pid> <tcp4 port> <tcp6 port> <udp4 port>" to OUT; on SIGUSR1 checks each and writes
 * "PASS item" or "FAIL item why" per item, then "done".
 *   tcp4         a TCP listener on 127.0.0.1 with SO_REUSEADDR, backlog 7 and SO_RCVBUF set: same
 *                port, options and buffer size, and it accepts a connection
 *   tcp6         a TCP listener on [::1] with IPV6_V6ONLY and SO_REUSEPORT: the same
 *   udp4         a UDP socket bound on 127.0.0.1 with SO_SNDBUF set: same port, it receives
 *   udp6         a UDP socket bound on [::1], and one connected to it: it receives from it
 *   unbound      a TCP socket never bound nor connected: it connects now
 * With `established` it also holds both ends of a TCP connection (over 127.0.0.1), with bytes
 * queued each way, and checks
 *   connection   the queued bytes, then a round trip (restored with TCP_REPAIR), or
 *   reset        that the connection was reset by the peer (--tcp-close) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int outfd;
static volatile sig_atomic_t asked;
static int t4, t6, u4, u6, u6c, unb, ec, es;
static int p4, p6, pu4, pu6;
static int rcvbuf4, sndbufu4;

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

static int opt(int s, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);
	getsockopt(s, level, name, &v, &l);
	return v;
}

static int port(int s)
{
	struct sockaddr_in6 a;
	socklen_t l = sizeof(a);
	if (getsockname(s, (struct sockaddr *)&a, &l) < 0)
		return -1;
	return ntohs(a.sin6_port); /* same place in sockaddr_in */
}

static socklen_t loop(struct sockaddr_in6 *a, int v6, int p)
{
	memset(a, 0, sizeof(*a));
	if (v6) {
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons((uint16_t)p);
		return sizeof(*a);
	}
	struct sockaddr_in *in = (struct sockaddr_in *)a;
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	in->sin_port = htons((uint16_t)p);
	return sizeof(*in);
}

static int sock_on(int type, int v6, int p)
{
	struct sockaddr_in6 a;
	socklen_t l = loop(&a, v6, p);
	int s = socket(v6 ? AF_INET6 : AF_INET, type, 0);
	return s >= 0 && bind(s, (struct sockaddr *)&a, l) == 0 ? s : -1;
}

static int connect_to(int s, int v6, int p)
{
	struct sockaddr_in6 a;
	socklen_t l = loop(&a, v6, p);
	return connect(s, (struct sockaddr *)&a, l);
}

static int accepts(int l, int v6, int p)
{
	int c = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect_to(c, v6, p) < 0)
		return 0;
	struct pollfd pf = {l, POLLIN, 0};
	int a = poll(&pf, 1, 5000) == 1 ? accept(l, NULL, NULL) : -1;
	int ok = a >= 0 && write(c, "x", 1) == 1;
	char b;
	ok = ok && read(a, &b, 1) == 1 && b == 'x';
	close(c);
	if (a >= 0)
		close(a);
	return ok;
}

static int receives(int s, int from, const char *msg)
{
	char b[32] = {0};
	struct pollfd pf = {s, POLLIN, 0};
	if (send(from, msg, strlen(msg), 0) != (ssize_t)strlen(msg) || poll(&pf, 1, 5000) != 1)
		return 0;
	return recv(s, b, sizeof(b), 0) == (ssize_t)strlen(msg) && !memcmp(b, msg, strlen(msg));
}

static void check(int established)
{
	int ok = port(t4) == p4 && opt(t4, SOL_SOCKET, SO_ACCEPTCONN) == 1 && opt(t4, SOL_SOCKET, SO_REUSEADDR) == 1 &&
		 opt(t4, SOL_SOCKET, SO_RCVBUF) == rcvbuf4 && accepts(t4, 0, p4);
	say(ok ? "PASS tcp4\n" : "FAIL tcp4 port %d reuseaddr %d rcvbuf %d/%d (%s)\n", port(t4), opt(t4, SOL_SOCKET, SO_REUSEADDR),
	    opt(t4, SOL_SOCKET, SO_RCVBUF), rcvbuf4, strerror(errno));
	ok = port(t6) == p6 && opt(t6, SOL_SOCKET, SO_ACCEPTCONN) == 1 && opt(t6, IPPROTO_IPV6, IPV6_V6ONLY) == 1 &&
	     opt(t6, SOL_SOCKET, SO_REUSEPORT) == 1 && opt(t6, SOL_SOCKET, SO_REUSEADDR) == 0 && accepts(t6, 1, p6);
	say(ok ? "PASS tcp6\n" : "FAIL tcp6 port %d v6only %d reuseport %d (%s)\n", port(t6), opt(t6, IPPROTO_IPV6, IPV6_V6ONLY),
	    opt(t6, SOL_SOCKET, SO_REUSEPORT), strerror(errno));
	int from = socket(AF_INET, SOCK_DGRAM, 0);
	ok = port(u4) == pu4 && opt(u4, SOL_SOCKET, SO_SNDBUF) == sndbufu4 && from >= 0 && connect_to(from, 0, pu4) == 0 && receives(u4, from, "udp4");
	say(ok ? "PASS udp4\n" : "FAIL udp4 port %d sndbuf %d/%d (%s)\n", port(u4), opt(u4, SOL_SOCKET, SO_SNDBUF), sndbufu4, strerror(errno));
	ok = port(u6) == pu6 && receives(u6, u6c, "udp6");
	say(ok ? "PASS udp6\n" : "FAIL udp6 port %d (%s)\n", port(u6), strerror(errno));
	ok = opt(unb, SOL_SOCKET, SO_TYPE) == SOCK_STREAM && connect_to(unb, 0, p4) == 0;
	if (ok) {
		int a = accept(t4, NULL, NULL);
		if (a >= 0)
			close(a);
	}
	say(ok ? "PASS unbound\n" : "FAIL unbound %s\n", strerror(errno));
	if (established) {
		/* restored with TCP_REPAIR: the bytes queued each way, then a round trip; with
		 * --tcp-close: reset by the peer */
		char b[16] = {0};
		struct pollfd pf = {es, POLLIN, 0};
		ssize_t r = poll(&pf, 1, 5000) == 1 ? recv(es, b, 10, MSG_WAITALL) : -2;
		if (r < 0 && errno == ECONNRESET) {
			say("PASS reset\n");
		} else {
			char c[16] = {0}, d[8] = {0};
			int ok = r == 10 && !memcmp(b, "queued-c2s", 10) && recv(ec, c, 10, MSG_WAITALL) == 10 && !memcmp(c, "queued-s2c", 10) &&
				 write(ec, "after", 5) == 5 && recv(es, d, 5, MSG_WAITALL) == 5 && !memcmp(d, "after", 5);
			say(ok ? "PASS connection\n" : "FAIL connection read %zd '%s' '%s' (%s)\n", r, b, c, strerror(errno));
		}
	}
	say("done\n");
}

static void on_usr1(int sig)
{
	(void)sig;
	asked = 1;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	int established = argc > 2 && !strcmp(argv[2], "established");
	outfd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	signal(SIGPIPE, SIG_IGN);
	int one = 1, size = 96 * 1024;
	t4 = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in6 a;
	socklen_t l = loop(&a, 0, 0);
	if (outfd < 0 || t4 < 0 || setsockopt(t4, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(t4, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0 || bind(t4, (struct sockaddr *)&a, l) < 0 || listen(t4, 7) < 0)
		return 3;
	t6 = socket(AF_INET6, SOCK_STREAM, 0);
	l = loop(&a, 1, 0);
	if (t6 < 0 || setsockopt(t6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 || setsockopt(t6, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(t6, (struct sockaddr *)&a, l) < 0 || listen(t6, 3) < 0)
		return 4;
	u4 = sock_on(SOCK_DGRAM, 0, 0);
	if (u4 < 0 || setsockopt(u4, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) < 0)
		return 5;
	u6 = sock_on(SOCK_DGRAM, 1, 0);
	u6c = socket(AF_INET6, SOCK_DGRAM, 0);
	if (u6 < 0 || u6c < 0 || connect_to(u6c, 1, port(u6)) < 0)
		return 6;
	unb = socket(AF_INET, SOCK_STREAM, 0);
	p4 = port(t4), p6 = port(t6), pu4 = port(u4), pu6 = port(u6);
	rcvbuf4 = opt(t4, SOL_SOCKET, SO_RCVBUF);
	sndbufu4 = opt(u4, SOL_SOCKET, SO_SNDBUF);
	if (established) {
		ec = socket(AF_INET, SOCK_STREAM, 0);
		if (ec < 0 || connect_to(ec, 0, p4) < 0 || (es = accept(t4, NULL, NULL)) < 0 || write(ec, "queued-c2s", 10) != 10 ||
		    write(es, "queued-s2c", 10) != 10)
			return 7;
		usleep(100000); /* acknowledged: the bytes sit in the receive queues */
	}
	struct sigaction sa = {.sa_handler = on_usr1};
	sigaction(SIGUSR1, &sa, NULL);
	say("ready %d %d %d %d\n", (int)getpid(), p4, p6, pu4);
	for (;;) {
		while (!asked)
			pause();
		asked = 0;
		check(established);
	}
}
