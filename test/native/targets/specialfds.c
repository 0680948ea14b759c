/* Test target: special file descriptors, checked by the process itself: signalfd (mask, flags),
 * timerfd (clock, flags, interval, time left within 10 ms, TFD_TIMER_ABSTIME's expiry, unread
 * ticks), inotify (each watch's number, mask and file; the numbers have a gap), and an epoll
 * that watches a file through a descriptor number the program has since closed (the file lives
 * on at another number).
 *
 * Usage: specialfds DIR OUT [fanotify | far-fanotify | far-inotify]. Works in DIR. Writes "ready PID" to OUT once
 * set up; when OUT.go exists, checks and writes one "PASS item" or "FAIL item why" line per item,
 * then "done". When OUT.mask exists, watch 2 gets another mask (for a diff), and it writes
 * "masked". With `fanotify` it holds a fanotify group instead, with an inode mark on DIR/f, and
 * on OUT.go checks that writing f is reported; with `far-fanotify` a mark, and with `far-inotify`
 * a watch, on /etc/passwd (which only a handle can name), and just waits. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define TOLERANCE_NS 10000000LL
#define EPOLL_DATA 0xabcdef12345ULL

static int outfd;

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

static long long clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long ts_ns(const struct timespec *t)
{
	return t->tv_sec * 1000000000LL + t->tv_nsec;
}

static struct timespec ns_ts(long long ns)
{
	struct timespec t = {ns / 1000000000LL, ns % 1000000000LL};
	return t;
}

/* A line of /proc/self/fdinfo/FD that starts with `key`, or "" (in a static buffer: copy it to keep it). */
static const char *fdinfo(int fd, const char *key)
{
	static char buf[8192], line[512];
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	int f = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = f >= 0 ? read(f, buf, sizeof(buf) - 1) : -1;
	if (f >= 0)
		close(f);
	buf[n > 0 ? n : 0] = 0;
	line[0] = 0;
	for (char *l = buf; l && *l;) {
		char *nl = strchr(l, '\n');
		if (!strncmp(l, key, strlen(key))) {
			snprintf(line, sizeof(line), "%.*s", nl ? (int)(nl - l) : (int)strlen(l), l);
			break;
		}
		l = nl ? nl + 1 : NULL;
	}
	return line;
}

static int sfd_nb, sfd_block;               /* signalfds */
static int tf_rel, tf_abs, tf_ticks, tf_nb;  /* timerfds */
static long long abs_expiry;                 /* tf_abs's expiry on CLOCK_REALTIME */
static int in_fd, wd_dir, wd_a, wd_c;        /* inotify */
static int ep, ep_closed, ep_keep, ep_w;     /* epoll, the number it watched, where the file is now, the pipe's write end */

static void setup(void)
{
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGUSR2);
	sigprocmask(SIG_BLOCK, &m, NULL);
	sfd_nb = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
	sigset_t m2;
	sigemptyset(&m2);
	sigaddset(&m2, SIGUSR2);
	sfd_block = signalfd(-1, &m2, 0);

	tf_rel = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec rel = {ns_ts(2000000000LL), ns_ts(30000000000LL)};
	timerfd_settime(tf_rel, 0, &rel, NULL);
	tf_abs = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
	abs_expiry = clock_ns(CLOCK_REALTIME) + 40000000000LL;
	struct itimerspec ab = {ns_ts(0), ns_ts(abs_expiry)};
	timerfd_settime(tf_abs, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &ab, NULL);
	tf_ticks = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec once = {ns_ts(0), ns_ts(1000000)};
	timerfd_settime(tf_ticks, 0, &once, NULL);
	tf_nb = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK);
	struct itimerspec per = {ns_ts(3000000000LL), ns_ts(3000000000LL)};
	timerfd_settime(tf_nb, 0, &per, NULL);

	mkdir("w", 0755);
	close(open("w/a", O_WRONLY | O_CREAT, 0644));
	close(open("w/b", O_WRONLY | O_CREAT, 0644));
	close(open("w/c", O_WRONLY | O_CREAT, 0644));
	in_fd = inotify_init1(IN_NONBLOCK);
	wd_dir = inotify_add_watch(in_fd, "w", IN_CREATE | IN_DELETE);
	wd_a = inotify_add_watch(in_fd, "w/a", IN_MODIFY);
	int wd_b = inotify_add_watch(in_fd, "w/b", IN_ATTRIB);
	inotify_rm_watch(in_fd, wd_b); /* a gap in the numbers */
	wd_c = inotify_add_watch(in_fd, "w/c", IN_ATTRIB | IN_ONESHOT);
	char ev[4096];
	while (read(in_fd, ev, sizeof(ev)) > 0)
		;

	int p[2];
	if (pipe(p) < 0)
		_exit(3);
	ep_w = p[1];
	ep = epoll_create1(0);
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = EPOLL_DATA};
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e);
	ep_closed = p[0];
	ep_keep = fcntl(p[0], F_DUPFD, 40); /* the file lives on here */
	close(p[0]);                        /* the epoll still watches it as ep_closed */

	struct timespec wait = {0, 20000000}; /* tf_ticks expires once, unread */
	nanosleep(&wait, NULL);
}

static void check_signalfd(void)
{
	int fl = fcntl(sfd_nb, F_GETFL), fl2 = fcntl(sfd_block, F_GETFL);
	char mask[128], mask2[128];
	snprintf(mask, sizeof(mask), "%s", fdinfo(sfd_nb, "sigmask:"));
	snprintf(mask2, sizeof(mask2), "%s", fdinfo(sfd_block, "sigmask:"));
	int want = (1 << (SIGUSR1 - 1)) | (1 << (SIGUSR2 - 1)), got = 0, got2 = 0;
	sscanf(mask, "sigmask: %x", &got);
	sscanf(mask2, "sigmask: %x", &got2);
	if (got != want || got2 != 1 << (SIGUSR2 - 1))
		say("FAIL signalfd mask: %s / %s\n", mask, mask2);
	else
		say("PASS signalfd mask\n");
	if (fl < 0 || !(fl & O_NONBLOCK) || fl2 < 0 || (fl2 & O_NONBLOCK) || !(fcntl(sfd_nb, F_GETFD) & FD_CLOEXEC) ||
	    (fcntl(sfd_block, F_GETFD) & FD_CLOEXEC))
		say("FAIL signalfd flags: %o %o\n", fl, fl2);
	else
		say("PASS signalfd flags\n");
	raise(SIGUSR1);
	struct signalfd_siginfo si;
	ssize_t n = read(sfd_nb, &si, sizeof(si));
	if (n != sizeof(si) || si.ssi_signo != SIGUSR1)
		say("FAIL signalfd read: %zd %s\n", n, n < 0 ? strerror(errno) : "");
	else
		say("PASS signalfd read\n");
}

static void check_timerfd(long long lost)
{
	if (lost < -TOLERANCE_NS || lost > TOLERANCE_NS)
		say("FAIL timerfd remaining: lost %lld us (at most 10 ms)\n", lost / 1000);
	else
		say("PASS timerfd remaining (lost %lld us)\n", lost / 1000);
	struct itimerspec its;
	timerfd_gettime(tf_rel, &its);
	if (ts_ns(&its.it_interval) != 2000000000LL)
		say("FAIL timerfd interval: %lld\n", ts_ns(&its.it_interval));
	else
		say("PASS timerfd interval\n");
	timerfd_gettime(tf_abs, &its);
	long long expiry = clock_ns(CLOCK_REALTIME) + ts_ns(&its.it_value);
	char fl[128];
	snprintf(fl, sizeof(fl), "%s", fdinfo(tf_abs, "settime flags:"));
	if (llabs(expiry - abs_expiry) > TOLERANCE_NS || strcmp(fl, "settime flags: 03") || strcmp(fdinfo(tf_abs, "clockid:"), "clockid: 0"))
		say("FAIL timerfd abstime: expiry off by %lld us, \"%s\", \"%s\"\n", (expiry - abs_expiry) / 1000, fl, fdinfo(tf_abs, "clockid:"));
	else
		say("PASS timerfd abstime (expiry off by %lld us)\n", (expiry - abs_expiry) / 1000);
	uint64_t ticks = 0;
	const char *tk = fdinfo(tf_ticks, "ticks:");
	ssize_t n = read(tf_ticks, &ticks, 8);
	if (n != 8 || ticks != 1)
		say("FAIL timerfd ticks: read %zd, %llu ticks (%s)\n", n, (unsigned long long)ticks, tk);
	else
		say("PASS timerfd ticks\n");
	timerfd_gettime(tf_nb, &its);
	int fl2 = fcntl(tf_nb, F_GETFL);
	if (!(fl2 & O_NONBLOCK) || strcmp(fdinfo(tf_nb, "clockid:"), "clockid: 7") || ts_ns(&its.it_interval) != 3000000000LL ||
	    (fcntl(tf_rel, F_GETFL) & O_NONBLOCK) || !(fcntl(tf_abs, F_GETFD) & FD_CLOEXEC))
		say("FAIL timerfd clock and flags: %o %s\n", fl2, fdinfo(tf_nb, "clockid:"));
	else
		say("PASS timerfd clock and flags\n");
}

static void check_inotify(void)
{
	/* the watches with their numbers and masks, as the kernel lists them */
	char want[3][64];
	snprintf(want[0], 64, "inotify wd:%x ", wd_dir);
	snprintf(want[1], 64, "inotify wd:%x ", wd_a);
	snprintf(want[2], 64, "inotify wd:%x ", wd_c);
	const unsigned masks[3] = {IN_CREATE | IN_DELETE, IN_MODIFY, IN_ATTRIB | IN_ONESHOT};
	int ok = wd_dir == 1 && wd_a == 2 && wd_c == 4;
	for (int i = 0; i < 3; i++) {
		const char *l = fdinfo(in_fd, want[i]);
		const char *m = strstr(l, "mask:");
		unsigned mask = 0;
		if (!l[0] || !m || sscanf(m, "mask:%x", &mask) != 1 || mask != masks[i]) {
			say("FAIL inotify watches: wd %d: \"%s\"\n", i, l);
			ok = -1;
		}
	}
	if (ok == 1)
		say("PASS inotify watches (wd %d, %d, %d)\n", wd_dir, wd_a, wd_c);
	else if (ok == 0)
		say("FAIL inotify watches: numbered %d %d %d\n", wd_dir, wd_a, wd_c);
	/* and they watch what they watched */
	char buf[4096] __attribute__((aligned(8)));
	while (read(in_fd, buf, sizeof(buf)) > 0)
		;
	close(open("w/new", O_WRONLY | O_CREAT, 0644));
	int fa = open("w/a", O_WRONLY | O_APPEND);
	if (write(fa, "x", 1) != 1)
		_exit(3);
	close(fa);
	chmod("w/c", 0600);
	int seen_create = 0, seen_modify = 0, seen_attrib = 0;
	for (int tries = 0; tries < 50 && !(seen_create && seen_modify && seen_attrib); tries++) {
		ssize_t n = read(in_fd, buf, sizeof(buf));
		for (ssize_t off = 0; n > 0 && off < n;) {
			struct inotify_event *e = (struct inotify_event *)(buf + off);
			seen_create |= e->wd == wd_dir && (e->mask & IN_CREATE) && e->len && !strcmp(e->name, "new");
			seen_modify |= e->wd == wd_a && (e->mask & IN_MODIFY);
			seen_attrib |= e->wd == wd_c && (e->mask & IN_ATTRIB);
			off += (ssize_t)sizeof(*e) + e->len;
		}
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
	if (!(seen_create && seen_modify && seen_attrib))
		say("FAIL inotify events: create %d modify %d attrib %d\n", seen_create, seen_modify, seen_attrib);
	else
		say("PASS inotify events\n");
	unlink("w/new");
	int fl = fcntl(in_fd, F_GETFL);
	say(fl & O_NONBLOCK ? "PASS inotify flags\n" : "FAIL inotify flags: %o\n", fl);
}

static void check_epoll(void)
{
	struct epoll_event e;
	char c = 'z';
	int closed = fcntl(ep_closed, F_GETFD) < 0 && errno == EBADF;
	int before = epoll_wait(ep, &e, 1, 0);
	if (write(ep_w, &c, 1) != 1)
		_exit(3);
	int n = epoll_wait(ep, &e, 1, 1000);
	int ok = closed && before == 0 && n == 1 && e.data.u64 == EPOLL_DATA && (e.events & EPOLLIN);
	char r;
	int drained = read(ep_keep, &r, 1) == 1 && r == 'z';
	char tfd[32];
	snprintf(tfd, sizeof(tfd), "tfd: %8d", ep_closed);
	int listed = fdinfo(ep, tfd)[0] != 0;
	if (!ok || !drained || !listed)
		say("FAIL epoll closed target: fd %d closed %d, %d events before, %d after with data 0x%llx, drained %d, listed %d\n", ep_closed,
		    closed, before, n, n == 1 ? (unsigned long long)e.data.u64 : 0ULL, drained, listed);
	else
		say("PASS epoll closed target (fd %d)\n", ep_closed);
}

int main(int argc, char **argv)
{
	if (argc < 3 || chdir(argv[1]) < 0)
		return 2;
	outfd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (outfd < 0)
		return 2;
	char go[4096], remask[4096];
	snprintf(go, sizeof(go), "%s.go", argv[2]);
	snprintf(remask, sizeof(remask), "%s.mask", argv[2]);
	if (argc == 4) {
		int fd = -1;
		if (strstr(argv[3], "fanotify")) {
			fd = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID | FAN_NONBLOCK, O_RDONLY);
			close(open("f", O_WRONLY | O_CREAT, 0644));
			const char *what = strcmp(argv[3], "fanotify") ? "/etc/passwd" : "f";
			if (fd >= 0 && fanotify_mark(fd, FAN_MARK_ADD, FAN_MODIFY, AT_FDCWD, what) < 0)
				fd = -1;
		} else {
			fd = inotify_init1(0);
			if (fd >= 0 && inotify_add_watch(fd, "/etc/passwd", IN_MODIFY) < 0)
				fd = -1;
		}
		if (fd < 0) {
			say("error %s\n", strerror(errno));
			return 3;
		}
		say("ready %d %d\n", getpid(), fd);
		for (;;) {
			usleep(5000);
			struct stat st;
			if (strcmp(argv[3], "fanotify") || stat(go, &st) < 0)
				continue;
			char buf[4096] __attribute__((aligned(8)));
			while (read(fd, buf, sizeof(buf)) > 0) /* what came before */
				;
			int w = open("f", O_WRONLY | O_APPEND);
			if (w < 0 || write(w, "x", 1) != 1)
				_exit(3);
			close(w);
			int seen = 0;
			for (int tries = 0; tries < 100 && !seen; tries++) {
				ssize_t n = read(fd, buf, sizeof(buf));
				for (ssize_t off = 0; n > 0 && off < n;) {
					struct fanotify_event_metadata *m = (struct fanotify_event_metadata *)(buf + off);
					seen |= (m->mask & FAN_MODIFY) != 0;
					off += m->event_len;
				}
				usleep(2000);
			}
			say(seen ? "PASS fanotify mark\n" : "FAIL fanotify mark: no FAN_MODIFY for a write\n");
			say(fcntl(fd, F_GETFL) & O_NONBLOCK ? "PASS fanotify flags\n" : "FAIL fanotify flags\n");
			say("done\n");
			unlink(go);
		}
	}
	setup();
	say("ready %d\n", getpid());
	/* the checkpoint: the gap where the clock went on and tf_rel did not */
	long long best = -1, lost = 0, pt = clock_ns(CLOCK_MONOTONIC), pleft = 0;
	struct itimerspec its;
	timerfd_gettime(tf_rel, &its);
	pleft = ts_ns(&its.it_value);
	for (;;) {
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
		timerfd_gettime(tf_rel, &its);
		long long t = clock_ns(CLOCK_MONOTONIC), left = ts_ns(&its.it_value);
		if ((t - pt) - (pleft - left) > best) {
			best = (t - pt) - (pleft - left);
			lost = pleft - left;
		}
		pt = t, pleft = left;
		struct stat st;
		if (stat(go, &st) == 0) {
			check_signalfd();
			check_timerfd(lost);
			check_inotify();
			check_epoll();
			say("done\n");
			unlink(go);
		}
		if (stat(remask, &st) == 0) {
			inotify_add_watch(in_fd, "w/a", IN_MODIFY | IN_CLOSE_WRITE);
			unlink(remask);
			say("masked\n");
		}
	}
}
