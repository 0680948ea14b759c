/* timerfd: clock, how it was armed (TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET), period, time
 * left, and the expirations not read yet, all from /proc/PID/fdinfo. Restore creates it with
 * the description's other files (disarmed), and arms it by an injected timerfd_settime with the
 * process's timers, as the last thing before the process runs, then gives back its unread ticks
 * (TFD_IOC_SET_TICKS, which needs CONFIG_CHECKPOINT_RESTORE). */
#include "ckpt.h"
#include "ckpt.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif
#define TFD_FLAGS (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)

static uint64_t g_frozen_ns;

void timerfd_freeze_time(uint64_t frozen_ns)
{
	g_frozen_ns = frozen_ns;
}

/* "it_value: (12, 345)" */
static uint64_t pair_ns(const char *info, const char *key)
{
	const char *v = find_key(info, key);
	long long s = 0, ns = 0;
	if (!v || sscanf(v, "(%lld, %lld)", &s, &ns) != 2 || s < 0 || ns < 0)
		return 0;
	return (uint64_t)s * 1000000000ULL + (uint64_t)ns;
}

void timerfd_describe(struct file_state *f, const char *info)
{
	const char *v;
	struct ckpt_fd_timerfd t = {0};
	t.clock_id = (v = find_key(info, "clockid")) ? (int32_t)strtol(v, NULL, 10) : CLOCK_MONOTONIC;
	t.ticks = (v = find_key(info, "ticks")) ? strtoull(v, NULL, 10) : 0;
	t.settime_flags = (v = find_key(info, "settime flags")) ? (uint32_t)strtoul(v, NULL, 8) : 0;
	t.interval_ns = pair_ns(info, "it_interval");
	uint64_t left = pair_ns(info, "it_value");
	struct timespec now;
	clock_gettime(t.clock_id, &now);
	if (!left)
		t.value_ns = 0;
	else if (t.settime_flags & TFD_TIMER_ABSTIME) /* the expiry itself, which does not move */
		t.value_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec + left;
	else /* what it had left when the process stopped */
		t.value_ns = left + (g_frozen_ns && now_ns(CLOCK_MONOTONIC) > g_frozen_ns ? now_ns(CLOCK_MONOTONIC) - g_frozen_ns : 0);
	struct buf b = {0};
	buf_put(&b, &t, sizeof(t));
	put_extra(f, &b);
	f->f.kind = CKPT_FD_KIND_TIMERFD;
}

int timerfd_make(const struct file_state *f)
{
	struct ckpt_fd_timerfd t;
	memcpy(&t, f->extra, sizeof(t));
	int fd = timerfd_create(t.clock_id, TFD_CLOEXEC | (int)(f->f.flags & O_NONBLOCK));
	if (fd < 0)
		return fail_errno(EXIT_FAIL, "timerfd_create (clock %d)", t.clock_id);
	return fd;
}

/* Whether process p is the first of its tree that holds file `file`: the one that arms it. */
static int first_holder(const struct proc_state *p, int file)
{
	const struct tree *tr = p->tree;
	for (size_t k = 0; tr && k < tr->nprocs && tr->procs[k] != p; k++)
		for (size_t i = 0; i < tr->procs[k]->nfds; i++)
			if (tr->procs[k]->fds[i].file == file)
				return 0;
	return 1;
}

int timerfds_restore_arm(struct restore_ctx *rc)
{
	struct proc_state *p = rc->p;
	for (size_t i = 0; i < p->nfds; i++) {
		const struct fd_state *fd = &p->fds[i];
		const struct file_state *f = fd_file(p, fd);
		if (f->f.kind != CKPT_FD_KIND_TIMERFD || fd->unsupported || !first_holder(p, fd->file))
			continue;
		int dup = 0; /* armed already through another fd of this process */
		for (size_t j = 0; j < i; j++)
			dup |= p->fds[j].file == fd->file;
		if (dup)
			continue;
		struct ckpt_fd_timerfd t;
		memcpy(&t, f->extra, sizeof(t));
		if (t.value_ns) {
			struct timespec its[2] = {{(time_t)(t.interval_ns / 1000000000ULL), (long)(t.interval_ns % 1000000000ULL)},
						  {(time_t)(t.value_ns / 1000000000ULL), (long)(t.value_ns % 1000000000ULL)}};
			if (mem_write(rc->pid, rc->scratch, its, sizeof(its)) < 0)
				return fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
			if (inject_checked(rc->main, NULL, "restore: timerfd_settime", SYS_timerfd_settime, fd->f.fd, t.settime_flags & TFD_FLAGS,
					   rc->scratch, 0, 0, 0) < 0)
				return -1;
		}
		if (t.ticks) {
			if (mem_write(rc->pid, rc->scratch, &t.ticks, 8) < 0)
				return fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
			if (inject_checked(rc->main, NULL, "restore: the unread ticks of a timerfd (TFD_IOC_SET_TICKS)", SYS_ioctl, fd->f.fd,
					   TFD_IOC_SET_TICKS, rc->scratch, 0, 0, 0) < 0)
				return -1;
		}
	}
	return 0;
}
