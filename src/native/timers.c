/* Timers: interval timers (setitimer), POSIX timers (timer_create) and the timer slack.
 *
 * Dump asks the stopped process itself, by injected syscalls: getitimer, timer_gettime and
 * timer_getoverrun for each id of /proc/PID/timers (which gives the clock and how the timer
 * notifies), PR_GET_TIMERSLACK. Restore makes them again, as late as it can (the threads exist,
 * the pending signals are queued), so that each keeps the remaining time it had at the freeze:
 * POSIX timers with their ids (PR_TIMER_CREATE_RESTORE_IDS where the kernel has it; otherwise
 * timer_create in order until the id matches, deleting the fillers, as CRIU does). */
#include "ckpt.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS 77
#define PR_TIMER_CREATE_RESTORE_IDS_OFF 0
#define PR_TIMER_CREATE_RESTORE_IDS_ON 1
#endif
#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif

/* The most timers restore creates to reach one id the old way: ids come in order from 0. */
#define MAX_FILLERS 4096

/* The kernel's struct sigevent (64 bytes) and struct itimerspec, as the target sees them. */
struct k_sigevent {
	uint64_t value;
	int32_t signo, notify;
	int32_t tid;
	int32_t pad[11];
};
struct k_itimerspec {
	int64_t i_sec, i_nsec, v_sec, v_nsec;
};

static uint64_t tv_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000000ULL + (uint64_t)tv->tv_usec * 1000ULL;
}

static uint64_t ts_ns(int64_t sec, int64_t nsec)
{
	return (uint64_t)sec * 1000000000ULL + (uint64_t)nsec;
}

/* /proc/PID/timers: "ID: 3", "signal: 10/00000000deadbeef", "notify: signal/tid.123", "ClockID: 1". */
static int parse_timers(const char *text, struct timer_list *l)
{
	const char *s = text;
	while ((s = strstr(s, "ID: "))) {
		if (s != text && s[-1] != '\n') { /* the tail of "ClockID: " */
			s += 4;
			continue;
		}
		struct ckpt_posix_timer pt;
		memset(&pt, 0, sizeof(pt));
		unsigned long long sival = 0;
		char how[16] = "", whom[8] = "";
		int who = 0, id = 0, signo = 0, clock_id = 0; /* not the packed fields themselves: no unaligned pointers */
		if (sscanf(s, "ID: %d\nsignal: %d/%llx\nnotify: %15[a-z]/%7[a-z].%d\nClockID: %d", &id, &signo, &sival, how,
			   whom, &who, &clock_id) != 7)
			return -1;
		pt.id = id, pt.signo = signo, pt.clock_id = clock_id;
		pt.sival = sival;
		pt.notify = !strcmp(how, "none") ? SIGEV_NONE : !strcmp(how, "thread") ? SIGEV_THREAD : SIGEV_SIGNAL;
		if (!strcmp(whom, "tid")) {
			pt.notify |= SIGEV_THREAD_ID;
			pt.target_tid = (uint32_t)who;
		}
		l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
		l->v[l->n++] = pt;
		s += 4;
	}
	return 0;
}

/* Time on a wall clock went on between the freeze and the moment we asked: the timer had that
 * much more left at the freeze, when the process stopped running (a CPU-time clock did not go
 * on). One that expired meanwhile has its signal queued already, and is restored one period late. */
static uint64_t at_freeze(uint64_t left, uint64_t since_freeze)
{
	return left ? left + since_freeze : 0;
}

static int cpu_clock(int32_t clock_id)
{
	return clock_id < 0 || clock_id == CLOCK_PROCESS_CPUTIME_ID || clock_id == CLOCK_THREAD_CPUTIME_ID;
}

static int by_id(const void *a, const void *b)
{
	const struct ckpt_posix_timer *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

int timers_inject_capture(struct tracee *t, pid_t pid, struct proc_state *p, uint64_t scratch)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC), since = p->tree && p->tree->frozen_ns && now > p->tree->frozen_ns ? now - p->tree->frozen_ns : 0;
	struct ckpt_timers *tm = &p->timers;
	memset(tm, 0, sizeof(*tm));
	for (int which = 0; which < 3; which++) {
		struct itimerval it;
		if (inject_checked(t, NULL, "getitimer", SYS_getitimer, (uint64_t)which, scratch, 0, 0, 0, 0) < 0)
			return -1;
		if (mem_read(pid, scratch, &it, sizeof(it)) < 0)
			return fail_errno(EXIT_FAIL, "cannot read the interval timers of process %d", pid);
		tm->itimers[which].interval_ns = tv_ns(&it.it_interval);
		tm->itimers[which].value_ns = tv_ns(&it.it_value);
		if (which == ITIMER_REAL)
			tm->itimers[which].value_ns = at_freeze(tm->itimers[which].value_ns, since);
	}
	long slack;
	if (inject_checked(t, &slack, "PR_GET_TIMERSLACK", SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0, 0) < 0)
		return -1;
	tm->timer_slack_ns = (uint64_t)slack;
	p->have_timers = 1;

	char *text = read_filef(NULL, "/proc/%d/timers", pid);
	if (!text)
		return fail_errno(EXIT_PERM, "cannot read /proc/%d/timers", pid);
	int bad = parse_timers(text, &p->ptimers);
	free(text);
	if (bad)
		return fail(EXIT_FAIL, "cannot parse /proc/%d/timers", pid);
	if (p->ptimers.n) /* the kernel lists the newest first */
		qsort(p->ptimers.v, p->ptimers.n, sizeof(*p->ptimers.v), by_id);
	for (uint32_t i = 0; i < p->ptimers.n; i++) {
		struct ckpt_posix_timer *pt = &p->ptimers.v[i];
		struct k_itimerspec its;
		long over;
		if (inject_checked(t, NULL, "timer_gettime", SYS_timer_gettime, (uint64_t)pt->id, scratch, 0, 0, 0, 0) < 0 ||
		    inject_checked(t, &over, "timer_getoverrun", SYS_timer_getoverrun, (uint64_t)pt->id, 0, 0, 0, 0, 0) < 0)
			return -1;
		if (mem_read(pid, scratch, &its, sizeof(its)) < 0)
			return fail_errno(EXIT_FAIL, "cannot read POSIX timer %d of process %d", pt->id, pid);
		pt->interval_ns = ts_ns(its.i_sec, its.i_nsec);
		pt->value_ns = ts_ns(its.v_sec, its.v_nsec);
		if (!cpu_clock(pt->clock_id))
			pt->value_ns = at_freeze(pt->value_ns, since);
		pt->overrun = (int32_t)over;
	}
	return 0;
}

uint32_t timers_write(struct image_writer *w, const struct proc_state *p, uint32_t proc_tag)
{
	if (!p->have_timers)
		return proc_tag;
	if (!iw_record(w, CKPT_RECORD_TYPE_TIMERS, proc_tag, &p->timers, sizeof(p->timers)))
		return 0;
	for (uint32_t i = 0; i < p->ptimers.n; i++)
		if (!iw_record(w, CKPT_RECORD_TYPE_POSIX_TIMER, proc_tag, &p->ptimers.v[i], sizeof(p->ptimers.v[i])))
			return 0;
	return proc_tag;
}

int timers_read(const struct image *im, const struct image_record *r, struct proc_state *p)
{
	struct rcur c;
	rc_init(&c, im, r);
	if (rc_get(&c, &p->timers, sizeof(p->timers), "timers") < 0)
		return -1;
	p->have_timers = 1;
	return 0;
}

int posix_timer_read(const struct image *im, const struct image_record *r, struct proc_state *p)
{
	struct ckpt_posix_timer pt;
	struct rcur c;
	rc_init(&c, im, r);
	if (rc_get(&c, &pt, sizeof(pt), "posix_timer") < 0)
		return -1;
	/* the .ksy's rules; a timer named twice is no bad image, restore cannot create it twice (exit 5) */
	const char *bad = ckpt_posix_timer_invalid(&pt);
	if (bad)
		return image_bad(im, r, payload_at(r), "POSIX timer %d: %s out of range", pt.id, bad);
	p->ptimers.v = xrealloc(p->ptimers.v, (p->ptimers.n + 1) * sizeof(pt));
	p->ptimers.v[p->ptimers.n++] = pt;
	return 0;
}

/* The restored tid of the image's thread `tid`, or 0. */
static pid_t thread_now(const struct proc_state *p, uint32_t tid)
{
	for (size_t i = 0; i < p->nthreads; i++)
		if (p->threads[i].f.tid == tid)
			return p->threads[i].tr.tid;
	return 0;
}

/* timer_create in the new process, for id `pt->id`: with the kernel's help, or in order. */
static int create_with_id(struct restore_ctx *rc, const struct ckpt_posix_timer *pt, int by_prctl)
{
	struct tracee *t0 = rc->main;
	struct k_sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.value = pt->sival;
	ev.signo = pt->signo;
	ev.notify = pt->notify;
	if (pt->notify & SIGEV_THREAD_ID) {
		ev.tid = thread_now(rc->p, pt->target_tid);
		if (!ev.tid)
			return fail(EXIT_BADIMAGE, "POSIX timer %d notifies thread %u, which is not in the image", pt->id, pt->target_tid);
	}
	uint64_t ev_at = rc->scratch, id_at = rc->scratch + 64;
	if (mem_write(rc->pid, ev_at, &ev, sizeof(ev)) < 0)
		return fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
	int32_t fillers[64];
	uint32_t nfill = 0, made = 0;
	for (;;) {
		int32_t want = by_prctl ? pt->id : -1, got;
		long r;
		if (mem_write(rc->pid, id_at, &want, 4) < 0)
			return fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
		if (inject_syscall(t0, &r, SYS_timer_create, (uint64_t)(int64_t)pt->clock_id, ev_at, id_at, 0, 0, 0) < 0)
			return -1;
		if (r < 0) {
			errno = (int)-r;
			return fail_errno(errno == EBUSY ? EXIT_UNSUPPORTED : EXIT_FAIL, "restore: cannot create POSIX timer %d (clock %d)",
					  pt->id, pt->clock_id);
		}
		if (mem_read(rc->pid, id_at, &got, 4) < 0)
			return fail_errno(EXIT_FAIL, "restore: cannot read from the new process");
		if (got == pt->id)
			break;
		/* a filler below the id we want: kept until the wanted one exists, so that it is not
		 * handed out again; deleted in batches */
		if (got > pt->id || ++made > MAX_FILLERS)
			return fail(EXIT_UNSUPPORTED, "restore: POSIX timer %d cannot get its id again (the kernel gave %d)", pt->id, got);
		fillers[nfill++] = got;
		if (nfill == 64) {
			/* ids are handed out in order and not reused before they wrap: deleting is safe */
			for (uint32_t k = 0; k < nfill; k++)
				if (inject_checked(t0, NULL, "restore: timer_delete", SYS_timer_delete, (uint64_t)fillers[k], 0, 0, 0, 0, 0) < 0)
					return -1;
			nfill = 0;
		}
	}
	for (uint32_t k = 0; k < nfill; k++)
		if (inject_checked(t0, NULL, "restore: timer_delete", SYS_timer_delete, (uint64_t)fillers[k], 0, 0, 0, 0, 0) < 0)
			return -1;
	return 0;
}

/* Creates the POSIX timers disarmed, and sets the timer slack (before the threads are made,
 * which inherit it). */
int timers_restore_create(struct restore_ctx *rc)
{
	struct proc_state *p = rc->p;
	struct tracee *t0 = rc->main;
	if (!p->have_timers)
		return 0;
	if (p->timers.timer_slack_ns &&
	    inject_checked(t0, NULL, "restore: PR_SET_TIMERSLACK", SYS_prctl, PR_SET_TIMERSLACK, p->timers.timer_slack_ns, 0, 0, 0, 0) < 0)
		return -1;
	return 0;
}

/* Arms everything with the time it had left: the last thing before the threads run again. */
int timers_restore_arm(struct restore_ctx *rc)
{
	struct proc_state *p = rc->p;
	struct tracee *t0 = rc->main;
	if (timerfds_restore_arm(rc) < 0)
		return -1;
	if (!p->have_timers)
		return 0;
	if (p->ptimers.n)
		qsort(p->ptimers.v, p->ptimers.n, sizeof(*p->ptimers.v), by_id);
	long r = -EINVAL;
	if (p->ptimers.n && inject_syscall(t0, &r, SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON, 0, 0, 0, 0) < 0)
		return -1;
	int by_prctl = r == 0;
	for (uint32_t i = 0; i < p->ptimers.n; i++)
		if (create_with_id(rc, &p->ptimers.v[i], by_prctl) < 0)
			return -1;
	if (by_prctl &&
	    inject_checked(t0, NULL, "restore: PR_TIMER_CREATE_RESTORE_IDS", SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS,
			   PR_TIMER_CREATE_RESTORE_IDS_OFF, 0, 0, 0, 0) < 0)
		return -1;
	/* armed last, all at once: each loses only the microseconds of the syscalls after it */
	for (uint32_t i = 0; i < p->ptimers.n; i++) {
		const struct ckpt_posix_timer *pt = &p->ptimers.v[i];
		if (!pt->value_ns)
			continue;
		struct k_itimerspec its = {(int64_t)(pt->interval_ns / 1000000000ULL), (int64_t)(pt->interval_ns % 1000000000ULL),
					   (int64_t)(pt->value_ns / 1000000000ULL), (int64_t)(pt->value_ns % 1000000000ULL)};
		if (mem_write(rc->pid, rc->scratch, &its, sizeof(its)) < 0)
			return fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
		if (inject_checked(t0, NULL, "restore: timer_settime", SYS_timer_settime, (uint64_t)pt->id, 0, rc->scratch, 0, 0, 0) < 0)
			return -1;
	}
	for (int which = 0; which < 3; which++) {
		const struct ckpt_itimer *it = &p->timers.itimers[which];
		if (!it->value_ns)
			continue;
		struct itimerval v = {{(time_t)(it->interval_ns / 1000000000ULL), (suseconds_t)(it->interval_ns % 1000000000ULL / 1000)},
				      {(time_t)(it->value_ns / 1000000000ULL), (suseconds_t)(it->value_ns % 1000000000ULL / 1000)}};
		if (!v.it_value.tv_sec && !v.it_value.tv_usec)
			v.it_value.tv_usec = 1; /* armed with less than a microsecond left: expires at once, not never */
		if (mem_write(rc->pid, rc->scratch, &v, sizeof(v)) < 0)
			return fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
		if (inject_checked(t0, NULL, "restore: setitimer", SYS_setitimer, (uint64_t)which, rc->scratch, 0, 0, 0, 0) < 0)
			return -1;
	}
	return 0;
}
