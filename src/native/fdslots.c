/* Descriptors between processes and numbers (fdslots.h): what files.c and every kind of file it
 * hands work to (sockets, signalfd, timerfd, inotify, fanotify, files without a path) share.
 * Below all of them; it knows the model, never a kind. */
#include "fdslots.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* ---- dump ---- */

int steal_fd(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

int unreachable(pid_t pid, int fd, const char *what, const char *call)
{
	if (errno == ESRCH)
		return fail(EXIT_NOPROC, "process %d exited during the checkpoint (reading its %s at fd %d)", pid, what, fd);
	return fail_errno(EXIT_FAIL, "cannot reach the %s at fd %d of process %d (%s)", what, fd, pid, call);
}

/* ---- restore: in each new process ---- */

static int g_tmp_base;

void fdslots_begin(int tmp_base)
{
	g_tmp_base = tmp_base;
}

/* Moves a freshly made fd above every number the image uses. */
int fd_high(int fd)
{
	if (fd < 0 || fd >= g_tmp_base)
		return fd;
	int h = fcntl(fd, F_DUPFD, g_tmp_base);
	int e = errno;
	close(fd);
	errno = e;
	return h;
}

int fd_dup_high(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, g_tmp_base);
}

int fd_place(int fd, int target, int cloexec, int keep_source)
{
	if (fd != target) {
		if (dup2(fd, target) < 0)
			return fail_errno(EXIT_FAIL, "dup2 to fd %d", target);
		if (!keep_source)
			close(fd);
	}
	if (fcntl(target, F_SETFD, cloexec ? FD_CLOEXEC : 0) < 0)
		return fail_errno(EXIT_FAIL, "fcntl(%d)", target);
	return 0;
}

int to_slot(int fd, const struct file_state *f, int set_flags)
{
	if (fd < 0)
		return -1;
	if (set_flags)
		fcntl(fd, F_SETFL, (int)(f->f.flags & ~(uint32_t)O_ACCMODE));
	return fd_place(fd, f->slot, 1, 0);
}

int slot_take(const struct file_state *f, int me, const pid_t *pids, int *pidfds)
{
	if (f->owner == me)
		return fd_dup_high(f->slot);
	/* above the image's numbers, like every fd we make: the descriptors we place must not land on it */
	if (pidfds[f->owner] < 0 && (pidfds[f->owner] = fd_high((int)syscall(SYS_pidfd_open, pids[f->owner], 0))) < 0)
		return fail_errno(EXIT_FAIL, "pidfd_open(%d)", pids[f->owner]);
	int fd = (int)syscall(SYS_pidfd_getfd, pidfds[f->owner], f->slot, 0);
	if (fd < 0)
		return fail_errno(EXIT_FAIL, "cannot take %s from process %d (pidfd_getfd)", f->path, pids[f->owner]);
	return fd_high(fd);
}

int slot_take_one(const struct tree *t, size_t file, int me, const pid_t *pids)
{
	int *pidfds = xmalloc(t->nprocs * sizeof(int));
	for (size_t k = 0; k < t->nprocs; k++)
		pidfds[k] = -1;
	int fd = slot_take(&t->files[file], me, pids, pidfds);
	for (size_t k = 0; k < t->nprocs; k++)
		if (pidfds[k] >= 0)
			close(pidfds[k]);
	free(pidfds);
	return fd;
}
