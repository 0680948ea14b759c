/* Test target (issue 3, item 4): a process blocked in a syscall at checkpoint time.
 *   blocker read FIFO OUT    read() on a FIFO; "got DATA" per read
 *   blocker poll FIFO OUT    poll() then read()
 *   blocker sleep MS OUT     nanosleep for MS, resumed with the remaining time on EINTR;
 *                            "woke ELAPSED_MS" when the whole time has passed
 * Each writes "ready" first; errors are written as "err ...". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int out;

static void say(const char *s)
{
	if (write(out, s, strlen(s)) < 0)
		_exit(1);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	out = open(argv[3], O_WRONLY | O_CREAT | O_APPEND, 0644);
	char line[4200];
	if (!strcmp(argv[1], "sleep")) {
		long ms = atol(argv[2]);
		struct timespec t0, req = {ms / 1000, (ms % 1000) * 1000000}, rem;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		say("ready\n");
		while (nanosleep(&req, &rem) < 0) {
			if (errno != EINTR) {
				snprintf(line, sizeof(line), "err nanosleep %s\n", strerror(errno));
				say(line);
				return 1;
			}
			req = rem;
		}
		snprintf(line, sizeof(line), "woke %ld\n", ms_since(&t0));
		say(line);
		for (;;)
			pause();
	}
	int fd = open(argv[2], O_RDONLY);
	if (fd < 0) {
		say("err open\n");
		return 1;
	}
	say("ready\n");
	int use_poll = !strcmp(argv[1], "poll");
	for (;;) {
		if (use_poll) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			int r = poll(&p, 1, -1);
			if (r < 0) {
				snprintf(line, sizeof(line), "err poll %s\n", strerror(errno));
				say(line);
				return 1;
			}
		}
		char buf[4096];
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		if (n < 0) {
			snprintf(line, sizeof(line), "err read %s\n", strerror(errno));
			say(line);
			return 1;
		}
		if (n == 0) {
			say("eof\n");
			return 0;
		}
		buf[n] = 0;
		snprintf(line, sizeof(line), "got %s", buf);
		say(line);
	}
}
