/* Test target: a small server (issue 11): a TCP listener on 127.0.0.1 (port picked by the
 * kernel), a unix control socket at DIR/ctl.sock, one epoll loop, and a tick every 20 ms (the
 * epoll_wait timeout: a plain timer, not a timerfd).
 *
 * Usage: sockserver OUT DIR. Writes "ready <pid> <port>" to OUT. Each line received on a TCP
 * connection is answered "pong <ticks>"; on a control connection, "status" is answered
 * "ok <ticks> <open connections>". A connection whose peer is gone (EOF, ECONNRESET) is closed
 * and said on OUT: "closed tcp|ctl <errno or 0>". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int outfd;

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

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	outfd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	int tcp = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (outfd < 0 || tcp < 0 || setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(tcp, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(tcp, 16) < 0 || getsockname(tcp, (struct sockaddr *)&a, &al) < 0)
		return 3;
	int ctl = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un u = {.sun_family = AF_UNIX};
	snprintf(u.sun_path, sizeof(u.sun_path), "%.90s/ctl.sock", argv[2]);
	unlink(u.sun_path);
	if (ctl < 0 || bind(ctl, (struct sockaddr *)&u, sizeof(u)) < 0 || listen(ctl, 16) < 0)
		return 4;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	/* data: fd, and bit 32 for a control connection */
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)tcp};
	epoll_ctl(ep, EPOLL_CTL_ADD, tcp, &ev);
	ev.data.u64 = (uint64_t)ctl;
	epoll_ctl(ep, EPOLL_CTL_ADD, ctl, &ev);
	long ticks = 0, next = now_ms() + 20;
	int conns = 0;
	say("ready %d %d\n", (int)getpid(), ntohs(a.sin_port));
	for (;;) {
		long wait = next - now_ms();
		struct epoll_event evs[16];
		int n = epoll_wait(ep, evs, 16, wait > 0 ? (int)wait : 0);
		if (now_ms() >= next)
			ticks++, next += 20;
		for (int i = 0; i < n; i++) {
			int fd = (int)(evs[i].data.u64 & 0xffffffff), isctl = (int)(evs[i].data.u64 >> 32);
			if (fd == tcp || fd == ctl) {
				int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
				if (c < 0)
					continue;
				struct epoll_event ce = {.events = EPOLLIN, .data.u64 = (uint64_t)c | ((uint64_t)(fd == ctl) << 32)};
				epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
				conns++;
				continue;
			}
			char buf[128];
			ssize_t r = read(fd, buf, sizeof(buf) - 1);
			if (r <= 0) {
				say("closed %s %d\n", isctl ? "ctl" : "tcp", r < 0 ? errno : 0);
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
				conns--;
				continue;
			}
			char reply[64];
			int k = isctl ? snprintf(reply, sizeof(reply), "ok %ld %d\n", ticks, conns) : snprintf(reply, sizeof(reply), "pong %ld\n", ticks);
			if (write(fd, reply, (size_t)k) != k)
				say("write failed %d\n", errno);
		}
	}
}
