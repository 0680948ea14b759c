/* Test target: every kind of timer a process has, checked by the process itself.
 *
 * Sets up ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF; POSIX timers with ids that are not
 * 0, 1, 2 (some were deleted), on several clocks, notifying by signal (with a value), by
 * SIGEV_THREAD_ID to a helper thread, and not at all, one disarmed; a timer slack. Then it
 * samples the remaining time of every timer every 2 ms on its own clock (CLOCK_MONOTONIC).
 *
 * The checkpoint is the one gap between two samples where the clock went on and the timers did
 * not (the process did not exist meanwhile): across it, each timer must have lost no more than
 * the time the process ran (a few ms), within 10 ms. The periodic timers must go on firing with
 * their own ids, signals and values, on their own threads.
 *
 * Usage: timers OUT. Writes "ready PID" to OUT once set up; when the file OUT.go exists, checks
 * and writes one "PASS item" or "FAIL item why" line per item, then "done", and removes OUT.go. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define SLACK_NS 123456
#define TOLERANCE_NS 10000000LL /* 10 ms */

/* The POSIX timers, in creation order. */
enum { T_MONO, T_THREAD, T_NONE, T_FAST, T_IDLE, NT };
static const char *tname[NT] = {"monotonic-signal", "realtime-thread-id", "boottime-none", "periodic-signal", "disarmed"};
static timer_t tid_of[NT];
static int id_of[NT];
static const clockid_t clock_of[NT] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC};
static const long long interval_of[NT] = {1000000000LL, 7000000LL, 0, 5000000LL, 0};
static const long long value_of[NT] = {30000000000LL, 7000000LL, 50000000000LL, 5000000LL, 0};
/* itimers: real, virtual, prof */
static const long long it_interval[3] = {7000000000LL, 3000000000LL, 4000000000LL};
static const long long it_value[3] = {40000000000LL, 20000000000LL, 25000000000LL};

/* What each periodic timer's signals said, counted by their handlers. */
struct seen {
	volatile sig_atomic_t count, bad_id, bad_value, bad_code, bad_thread;
};
static struct seen fast, thr;
static volatile pid_t helper_tid;
static pthread_t helper_thread;
static int fast_id, thr_id;

static int outfd;
static char go_path[4096];

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

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long its_ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static struct timespec ns_ts(long long ns)
{
	struct timespec ts = {ns / 1000000000LL, ns % 1000000000LL};
	return ts;
}

static struct timeval ns_tv(long long ns)
{
	struct timeval tv = {ns / 1000000000LL, ns % 1000000000LL / 1000};
	return tv;
}

static void on_fast(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	fast.count++;
	if (si->si_timerid != fast_id)
		fast.bad_id++;
	if (si->si_value.sival_int != 0x77 || sig != SIGUSR2)
		fast.bad_value++;
	if (si->si_code != SI_TIMER)
		fast.bad_code++;
}

static void on_thread(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	thr.count++;
	if (si->si_timerid != thr_id)
		thr.bad_id++;
	if (si->si_value.sival_int != 0x55 || sig != SIGRTMIN + 1)
		thr.bad_value++;
	if (si->si_code != SI_TIMER)
		thr.bad_code++;
	if (!pthread_equal(pthread_self(), helper_thread)) /* not the tid: a restore may give the thread another */
		thr.bad_thread++;
}

static void *helper(void *arg)
{
	(void)arg;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN + 1);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	for (;;) {
		helper_tid = (pid_t)syscall(SYS_gettid); /* a restore may give the thread another tid */
		pause();
	}
	return NULL;
}

/* One sample: the clock and what every timer has left. */
struct sample {
	long long t;
	long long waited; /* ns this thread waited for a CPU so far (schedstat run_delay) */
	long long left[NT + 3];
};

static void take(struct sample *s)
{
	for (int i = 0; i < NT; i++) {
		struct itimerspec its;
		s->left[i] = timer_gettime(tid_of[i], &its) == 0 ? its_ns(&its.it_value) : -1;
	}
	for (int w = 0; w < 3; w++) {
		struct itimerval iv;
		s->left[NT + w] = getitimer(w, &iv) == 0 ? iv.it_value.tv_sec * 1000000000LL + iv.it_value.tv_usec * 1000LL : -1;
	}
	s->t = now_ns();
	s->waited = -1;
	int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	char b[128];
	ssize_t n = fd >= 0 ? read(fd, b, sizeof(b) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n > 0) {
		b[n] = 0;
		sscanf(b, "%*u %lld", &s->waited);
	}
}

static void on_alarm(int sig)
{
	(void)sig; /* an itimer that fires is no failure; losing its time is */
}

static void check(const struct sample *before, const struct sample *after, const char *proc_before)
{
	static const char *itn[3] = {"itimer-real", "itimer-virtual", "itimer-prof"};
	long long gap = after->t - before->t;
	say("info gap %lld us, waited %lld us before, %lld us after\n", gap / 1000, before->waited / 1000, after->waited / 1000);
	/* the remaining time, across the checkpoint */
	for (int i = 0; i < NT + 3; i++) {
		const char *name = i < NT ? tname[i] : itn[i - NT];
		if (i == T_FAST || i == T_THREAD || i == T_IDLE)
			continue; /* periodic in ms, or disarmed: checked below */
		long long lost = before->left[i] - after->left[i];
		if (before->left[i] <= 0 || after->left[i] <= 0)
			say("FAIL remaining %s: %lld ns before, %lld after\n", name, before->left[i], after->left[i]);
		else if (lost < -TOLERANCE_NS || lost > TOLERANCE_NS)
			say("FAIL remaining %s: lost %lld us across a gap of %lld us (at most 10 ms)\n", name, lost / 1000, gap / 1000);
		else
			say("PASS remaining %s (lost %lld us)\n", name, lost / 1000);
	}
	/* ids, clocks, notification: /proc/self/timers lists the same timers as before */
	char *now = NULL;
	size_t cap = 0;
	FILE *f = fopen("/proc/self/timers", "r");
	if (f) {
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
			now = realloc(now, cap + n + 1);
			memcpy(now + cap, buf, n);
			cap += n;
		}
		fclose(f);
	}
	if (now)
		now[cap] = 0;
	/* the tid in "notify: signal/tid.N" is the helper's, which may be another number now */
	for (int i = 0; i < NT; i++) {
		char want[128];
		snprintf(want, sizeof(want), "ID: %d\n", id_of[i]);
		const char *a = strstr(proc_before, want), *b = now ? strstr(now, want) : NULL;
		struct itimerspec its;
		if (!a || !b)
			say("FAIL id %s: timer %d is %s\n", tname[i], id_of[i], a ? "gone" : "not listed before");
		else if (timer_gettime(tid_of[i], &its) < 0)
			say("FAIL id %s: timer_gettime(%d): %s\n", tname[i], id_of[i], strerror(errno));
		else {
			int sa, sb, ca, cb;
			char na[32], nb[32];
			const char *ca_ = strstr(a, "ClockID:"), *cb_ = strstr(b, "ClockID:");
			if (sscanf(a, "ID: %*d\nsignal: %d/%*x\nnotify: %31[a-z]", &sa, na) != 2 || sscanf(b, "ID: %*d\nsignal: %d/%*x\nnotify: %31[a-z]", &sb, nb) != 2 ||
			    !ca_ || !cb_ || sscanf(ca_, "ClockID: %d", &ca) != 1 || sscanf(cb_, "ClockID: %d", &cb) != 1)
				say("FAIL id %s: cannot parse /proc/self/timers\n", tname[i]);
			else if (sa != sb || strcmp(na, nb) || ca != cb)
				say("FAIL id %s: signal %d/%d notify %s/%s clock %d/%d\n", tname[i], sa, sb, na, nb, ca, cb);
			else if (its_ns(&its.it_interval) != interval_of[i])
				say("FAIL interval %s: %lld ns, set %lld\n", tname[i], its_ns(&its.it_interval), interval_of[i]);
			else if (i == T_IDLE && its_ns(&its.it_value) != 0)
				say("FAIL id %s: a disarmed timer is armed (%lld ns)\n", tname[i], its_ns(&its.it_value));
			else
				say("PASS id %s %d (signal %d, %s, clock %d)\n", tname[i], id_of[i], sb, nb, cb);
		}
	}
	free(now);
	for (int w = 0; w < 3; w++) {
		struct itimerval iv;
		getitimer(w, &iv);
		long long got = iv.it_interval.tv_sec * 1000000000LL + iv.it_interval.tv_usec * 1000LL;
		if (got != it_interval[w])
			say("FAIL interval %s: %lld ns, set %lld\n", itn[w], got, it_interval[w]);
		else
			say("PASS interval %s\n", itn[w]);
	}
	/* the periodic timers fire on, with their ids, signals and values, on their threads: 3
	 * signals each (30 ms of firing) within 2 s, for a machine loaded enough to starve a thread */
	int f0 = fast.count, t0 = thr.count;
	for (int waited = 0; waited < 2000 && (fast.count - f0 < 3 || thr.count - t0 < 3); waited += 10) {
		struct timespec ts = {0, 10000000};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	if (fast.count - f0 < 3 || fast.bad_id || fast.bad_value || fast.bad_code)
		say("FAIL signal periodic-signal: %d signals in 2 s, %d with another id, %d another value, %d another code\n",
		    fast.count - f0, fast.bad_id, fast.bad_value, fast.bad_code);
	else
		say("PASS signal periodic-signal (SIGUSR2, value 0x77, timer %d)\n", fast_id);
	if (thr.count - t0 < 3 || thr.bad_id || thr.bad_value || thr.bad_code || thr.bad_thread)
		say("FAIL signal realtime-thread-id: %d signals in 2 s, %d with another id, %d another value, %d another code, %d "
		    "on another thread\n", thr.count - t0, thr.bad_id, thr.bad_value, thr.bad_code, thr.bad_thread);
	else
		say("PASS signal realtime-thread-id (SIGRTMIN+1 to thread %d, timer %d)\n", helper_tid, thr_id);
	int over = timer_getoverrun(tid_of[T_FAST]);
	if (over < 0)
		say("FAIL overrun: %s\n", strerror(errno));
	else
		say("PASS overrun (%d)\n", over);
	long slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	if (slack != SLACK_NS)
		say("FAIL timer-slack: %ld ns, set %d\n", slack, SLACK_NS);
	else
		say("PASS timer-slack\n");
	say("done\n");
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	outfd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (outfd < 0)
		return 2;
	snprintf(go_path, sizeof(go_path), "%s.go", argv[1]);

	struct sigaction sa = {0};
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sa.sa_sigaction = on_fast;
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_sigaction = on_thread;
	sigaction(SIGRTMIN + 1, &sa, NULL);
	struct sigaction al = {0};
	al.sa_handler = on_alarm;
	al.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &al, NULL);
	sigaction(SIGVTALRM, &al, NULL);
	sigaction(SIGPROF, &al, NULL);
	sigaction(SIGUSR1, &al, NULL);

	/* the helper thread takes SIGRTMIN+1; the main thread never does */
	sigset_t rt;
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN + 1);
	pthread_sigmask(SIG_BLOCK, &rt, NULL);
	if (pthread_create(&helper_thread, NULL, helper, NULL))
		return 3;
	while (!helper_tid)
		usleep(1000);

	prctl(PR_SET_TIMERSLACK, SLACK_NS, 0, 0, 0);

	/* three fillers first, two of them deleted: the ids the test timers get are not 0, 1, 2 */
	timer_t filler[3];
	struct sigevent none = {.sigev_notify = SIGEV_NONE};
	for (int i = 0; i < 3; i++)
		timer_create(CLOCK_MONOTONIC, &none, &filler[i]);
	timer_delete(filler[0]);
	timer_delete(filler[2]);
	for (int i = 0; i < NT; i++) {
		struct sigevent ev;
		memset(&ev, 0, sizeof(ev));
		switch (i) {
		case T_MONO:
			ev.sigev_notify = SIGEV_SIGNAL, ev.sigev_signo = SIGUSR1, ev.sigev_value.sival_int = 0x1234;
			break;
		case T_THREAD:
			ev.sigev_notify = SIGEV_THREAD_ID, ev.sigev_signo = SIGRTMIN + 1, ev.sigev_value.sival_int = 0x55;
			ev._sigev_un._tid = helper_tid;
			break;
		case T_FAST:
			ev.sigev_notify = SIGEV_SIGNAL, ev.sigev_signo = SIGUSR2, ev.sigev_value.sival_int = 0x77;
			break;
		default:
			ev.sigev_notify = SIGEV_NONE;
		}
		if (timer_create(clock_of[i], &ev, &tid_of[i]) < 0) {
			say("FAIL setup %s: %s\n", tname[i], strerror(errno));
			return 3;
		}
		id_of[i] = (int)(long)tid_of[i];
		if (value_of[i]) {
			struct itimerspec its = {ns_ts(interval_of[i]), ns_ts(value_of[i])};
			timer_settime(tid_of[i], 0, &its, NULL);
		}
	}
	fast_id = id_of[T_FAST];
	thr_id = id_of[T_THREAD];
	timer_delete(filler[1]);
	for (int w = 0; w < 3; w++) {
		struct itimerval iv = {ns_tv(it_interval[w]), ns_tv(it_value[w])};
		setitimer(w, &iv, NULL);
	}
	static char proc_before[8192];
	int pf = open("/proc/self/timers", O_RDONLY);
	ssize_t pn = pf >= 0 ? read(pf, proc_before, sizeof(proc_before) - 1) : -1;
	if (pf >= 0)
		close(pf);
	proc_before[pn > 0 ? pn : 0] = 0;
	say("ready %d\n", getpid());

	/* the checkpoint is the gap where the clock went on and the monotonic timer did not */
	struct sample prev, cur, gap_before = {0}, gap_after = {0};
	long long best = -1;
	take(&prev);
	for (;;) {
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
		take(&cur);
		long long stood = (cur.t - prev.t) - (prev.left[T_MONO] - cur.left[T_MONO]);
		if (stood > best) {
			best = stood;
			gap_before = prev;
			gap_after = cur;
		}
		prev = cur;
		struct stat st;
		if (stat(go_path, &st) == 0) {
			check(&gap_before, &gap_after, proc_before);
			unlink(go_path);
		}
	}
}
