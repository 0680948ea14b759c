/* Test target: a process holding kernel state that ckpt cannot capture, ticking on meanwhile.
 *   unsupported uring OUT     an io_uring instance with its rings mapped
 *   unsupported seccomp OUT   a seccomp filter (allow everything) installed
 *   unsupported perf OUT      a perf_event fd (its own task clock) with its ring buffer mapped
 * Writes "ready", then "t N" every 5 ms; errors are written as "err ...". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int out;

static void say(const char *fmt, long v)
{
	char line[128];
	int n = snprintf(line, sizeof(line), fmt, v);
	if (write(out, line, (size_t)n) < 0)
		_exit(1);
}

static int fail(const char *what)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "err %s: %s\n", what, strerror(errno));
	if (write(out, line, (size_t)n) < 0)
		_exit(1);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	out = open(argv[2], O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (!strcmp(argv[1], "uring")) {
		struct io_uring_params p;
		memset(&p, 0, sizeof(p));
		int fd = (int)syscall(SYS_io_uring_setup, 4, &p);
		if (fd < 0)
			return fail("io_uring_setup");
		size_t len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
		if (mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING) == MAP_FAILED)
			return fail("mmap the submission ring");
	} else if (!strcmp(argv[1], "seccomp")) {
		struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		struct sock_fprog prog = {.len = 1, .filter = &allow};
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
			return fail("seccomp");
	} else if (!strcmp(argv[1], "perf")) {
		struct perf_event_attr a;
		memset(&a, 0, sizeof(a));
		a.size = sizeof(a);
		a.type = PERF_TYPE_SOFTWARE;
		a.config = PERF_COUNT_SW_TASK_CLOCK;
		a.exclude_kernel = 1;
		int fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
		if (fd < 0)
			return fail("perf_event_open");
		if (mmap(NULL, 2 * (size_t)getpagesize(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED)
			return fail("mmap the perf ring");
	} else {
		return 2;
	}
	say("ready\n", 0);
	for (long i = 0;; i++) {
		say("t %ld\n", i);
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}
