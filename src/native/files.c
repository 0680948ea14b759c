/* Files: the open file descriptions of a tree of processes and each process's descriptors. At
 * dump, what each descriptor is (from /proc/PID/fd, fdinfo and fstat), which descriptors of any
 * process share a description (kcmp), what sits in pipes both of whose ends the tree holds (tee
 * from a pidfd_getfd copy: nothing is consumed); sockets are unix_sock.c's. At restore, every
 * description is made once, by the first process that holds it, and the others take it from
 * there (pidfd_getfd), in the phases restore.c runs them in. */
#include "ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fdslots.h"
#include "sock_view.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int is_tty_major(unsigned maj)
{
	return maj == 4 || maj == 5 || (maj >= 136 && maj <= 143);
}

static uint64_t fdinfo_num(const char *info, const char *key, int base)
{
	const char *v = find_key(info, key);
	return v ? strtoull(v, NULL, base) : 0;
}

/* Bytes in a pipe, copied (not consumed) with tee() into a pipe of ours. */
static int pipe_contents(int pidfd, pid_t pid, int fd, uint8_t **data, uint32_t *len)
{
	*data = NULL;
	*len = 0;
	int src = steal_fd(pidfd, fd);
	if (src < 0)
		return unreachable(pid, fd, "pipe", "pidfd_getfd");
	int avail = 0, rc = -1, p[2] = {-1, -1};
	if (ioctl(src, FIONREAD, &avail) < 0 || avail <= 0) {
		rc = 0;
		goto out;
	}
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		fail_errno(EXIT_FAIL, "pipe2");
		goto out;
	}
	int size = fcntl(src, F_GETPIPE_SZ);
	if (size > 0 && fcntl(p[1], F_SETPIPE_SZ, size) < 0 && avail > fcntl(p[1], F_GETPIPE_SZ)) {
		fail_errno(EXIT_FAIL, "cannot make a pipe of %d bytes to copy fd %d", size, fd);
		goto out;
	}
	ssize_t n = tee(src, p[1], (size_t)avail, SPLICE_F_NONBLOCK);
	if (n != avail) {
		fail_errno(EXIT_FAIL, "cannot copy the %d bytes buffered in the pipe at fd %d (tee gave %zd)", avail, fd, n);
		goto out;
	}
	*data = xmalloc((size_t)avail);
	if (read(p[0], *data, (size_t)avail) != avail) {
		fail_errno(EXIT_FAIL, "cannot read the copy of pipe fd %d", fd);
		goto out;
	}
	*len = (uint32_t)avail;
	rc = 0;
out:
	close(src);
	if (p[0] >= 0)
		close(p[0]), close(p[1]);
	return rc;
}

/* ---- dump: what one descriptor refers to ---- */

/* The kind of a description and its kind-specific state that can be read through one of its
 * descriptors (pipes and sockets are finished once every process's descriptors are known).
 * Returns a reason when the kind cannot be checkpointed (and `what` the unsupported kind). */
static const char *describe(struct file_state *f, const struct stat *st, const char *info, int pidfd, int fd, uint16_t *what)
{
	pid_t pid_of_pidfd = f->pid;
	const char *link = f->path;
	*what = CKPT_UNSUPPORTED_KIND_FD;
	struct buf b = {0};
	if (!strncmp(link, "anon_inode:", 11)) {
		const char *name = link + 11;
		if (!strcmp(name, "[eventfd]")) {
			struct ckpt_fd_eventfd e = {.count = fdinfo_num(info, "eventfd-count", 16)};
			if (fdinfo_num(info, "eventfd-semaphore", 10))
				e.flags |= EFD_SEMAPHORE;
			e.flags |= f->f.flags & O_NONBLOCK;
			buf_put(&b, &e, sizeof(e));
			put_extra(f, &b);
			f->f.kind = CKPT_FD_KIND_EVENTFD;
			return NULL;
		}
		if (!strcmp(name, "[eventpoll]")) {
			struct ckpt_fd_epoll_fixed ef = {0};
			buf_put(&b, &ef, sizeof(ef));
			for (const char *l = strstr(info, "tfd:"); l; l = strstr(l + 1, "\ntfd:")) {
				if (*l == '\n')
					l++;
				int tfd;
				unsigned events;
				unsigned long long data;
				if (sscanf(l, "tfd: %d events: %x data: %llx", &tfd, &events, &data) == 3) {
					/* .file is resolved when every description is known (files_finish) */
					struct ckpt_epoll_target t = {.tfd = (uint32_t)tfd, .events = events, .data = data};
					buf_put(&b, &t, sizeof(t));
					((struct ckpt_fd_epoll_fixed *)b.p)->count++;
				}
			}
			put_extra(f, &b);
			f->f.kind = CKPT_FD_KIND_EPOLL;
			return NULL;
		}
		if (!strcmp(name, "[signalfd]")) {
			signalfd_describe(f, info);
			return NULL;
		}
		if (!strcmp(name, "[timerfd]")) {
			timerfd_describe(f, info);
			return NULL;
		}
		if (!strcmp(name, "inotify")) {
			char *detail = NULL;
			const char *why = inotify_describe(f, info, f->pid, &detail);
			if (detail) { /* the path that names the watch, for the message */
				free(f->path);
				f->path = detail;
			}
			return why;
		}
		if (!strcmp(name, "[fanotify]")) {
			char *detail = NULL;
			const char *why = fanotify_describe(f, info, f->pid, &detail);
			*what = CKPT_UNSUPPORTED_KIND_FANOTIFY;
			if (detail) {
				free(f->path);
				f->path = detail;
			}
			return why;
		}
		f->f.kind = CKPT_FD_KIND_UNKNOWN;
		if (!strcmp(name, "[io_uring]"))
			f->f.kind = CKPT_FD_KIND_IO_URING, *what = CKPT_UNSUPPORTED_KIND_IO_URING;
		return "cannot be checkpointed";
	}
	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		f->f.kind = strncmp(link, "/memfd:", 7) ? CKPT_FD_KIND_REGULAR : CKPT_FD_KIND_MEMFD;
		if (f->f.kind == CKPT_FD_KIND_MEMFD || strstr(link, " (deleted)") || link[0] != '/')
			return ghost_capture(f, pid_of_pidfd, fd, st, what); /* its bytes go into the image */
		return NULL;
	case S_IFDIR:
		f->f.kind = CKPT_FD_KIND_DIRECTORY;
		return NULL;
	case S_IFCHR:
	case S_IFBLK: {
		unsigned maj = major(st->st_rdev);
		if (S_ISCHR(st->st_mode) && is_tty_major(maj)) {
			struct ckpt_fd_tty t = {.rdev = st->st_rdev};
			buf_put(&b, &t, sizeof(t));
			put_extra(f, &b);
			f->f.kind = CKPT_FD_KIND_TTY;
			f->external = 1; /* reattached as stdio, or not at all */
			return NULL;
		}
		f->f.kind = S_ISCHR(st->st_mode) ? CKPT_FD_KIND_CHR : CKPT_FD_KIND_BLK;
		if (S_ISCHR(st->st_mode) && maj != 1) /* only the memory devices: null, zero, full, random, urandom */
			return "a device keeps state in its driver";
		return NULL;
	}
	case S_IFIFO: {
		f->f.kind = strncmp(link, "pipe:", 5) ? CKPT_FD_KIND_FIFO : CKPT_FD_KIND_PIPE;
		struct ckpt_fd_pipe_fixed pf = {.pipe_ino = st->st_ino};
		int src = steal_fd(pidfd, fd);
		if (src >= 0) {
			int size = fcntl(src, F_GETPIPE_SZ);
			pf.capacity = size > 0 ? (uint32_t)size : 0;
			close(src);
		}
		buf_put(&b, &pf, sizeof(pf));
		buf_u32(&b, 0); /* no data yet: files_finish puts it on the first file of the pipe */
		put_extra(f, &b);
		return NULL;
	}
	case S_IFSOCK:
		return sock_describe(f, st, pidfd, fd, what);
	default:
		f->f.kind = CKPT_FD_KIND_UNKNOWN;
		return "unknown kind of file";
	}
}

/* The description one descriptor of one process refers to: one the tree has already (same inode
 * and, by kcmp, the same open file description), or a new one. */
static int find_file(const struct tree *t, pid_t pid, int fd, const struct stat *st)
{
	for (size_t i = 0; i < t->nfiles; i++) {
		const struct file_state *f = &t->files[i];
		if (f->f.ino == st->st_ino && f->f.dev == st->st_dev &&
		    syscall(SYS_kcmp, f->pid, pid, KCMP_FILE, f->fd, fd) == 0)
			return (int)i;
	}
	return -1;
}

/* A reason not to checkpoint one descriptor, as an unsupported record of its process. */
static void fd_unsupported(struct proc_state *p, struct fd_state *fd, uint16_t what, const char *why)
{
	if (fd->unsupported)
		return;
	fd->unsupported = 1;
	const char *path = fd_file(p, fd)->path;
	if (!strncmp(path, "anon_inode:", 11) && !strcmp(why, "cannot be checkpointed"))
		add_unsupported(p, what, (int32_t)fd->f.fd, 0, path, "fd %u (%s) cannot be checkpointed", fd->f.fd, path + 11);
	else
		add_unsupported(p, what, (int32_t)fd->f.fd, 0, path, "fd %u: %s", fd->f.fd, why);
}

int files_capture(struct tree *t, struct proc_state *p)
{
	pid_t pid = (pid_t)p->pf.pid;
	timerfd_freeze_time(t->frozen_ns); /* a timerfd's time left is counted from the freeze */
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	DIR *d = opendir(dir);
	if (!d)
		return fail_errno(EXIT_PERM, "cannot list %s", dir);
	int *fds = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		fds = xrealloc(fds, (n + 1) * sizeof(int));
		fds[n++] = atoi(de->d_name);
	}
	closedir(d);
	qsort(fds, n, sizeof(int), cmp_int);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		free(fds);
		return errno == ESRCH ? fail(EXIT_NOPROC, "process %d exited during the checkpoint", (int)pid) : fail_errno(EXIT_FAIL, "pidfd_open(%d)", pid);
	}
	p->fds = xcalloc(n + 1, sizeof(*p->fds));
	int rc = -1;
	for (size_t i = 0; i < n; i++) {
		char path[96];
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fds[i]);
		struct stat st;
		char *link = read_link(path);
		if (!link || stat(path, &st) < 0) {
			free(link);
			if (errno == ENOENT)
				continue; /* closed meanwhile by another process sharing the table */
			fail_errno(EXIT_PERM, "cannot inspect %s", path);
			goto out;
		}
		char *info = read_filef(NULL, "/proc/%d/fdinfo/%d", pid, fds[i]);
		if (!info) {
			free(link);
			fail_errno(EXIT_PERM, "cannot read /proc/%d/fdinfo/%d", pid, fds[i]);
			goto out;
		}
		struct fd_state *fd = &p->fds[p->nfds++];
		uint32_t flags = (uint32_t)fdinfo_num(info, "flags", 8);
		fd->f.fd = (uint32_t)fds[i];
		fd->f.fd_flags = (flags & O_CLOEXEC) ? FD_CLOEXEC : 0;
		fd->file = find_file(t, pid, fds[i], &st);
		if (fd->file < 0) {
			t->files = xrealloc(t->files, (t->nfiles + 1) * sizeof(*t->files));
			struct file_state *f = &t->files[t->nfiles];
			memset(f, 0, sizeof(*f));
			fd->file = (int)t->nfiles++;
			f->path = link;
			link = NULL;
			f->pid = pid;
			f->fd = fds[i];
			f->owner = -1;
			f->f.pos = fdinfo_num(info, "pos", 10);
			f->f.flags = flags & ~(uint32_t)O_CLOEXEC;
			f->f.mode = st.st_mode;
			f->f.dev = st.st_dev;
			f->f.ino = st.st_ino;
			f->f.size = (uint64_t)st.st_size;
			f->what = CKPT_UNSUPPORTED_KIND_FD;
			f->why = describe(f, &st, info, pidfd, fds[i], &f->what);
		}
		free(link);
		if (fd_file(p, fd)->why)
			fd_unsupported(p, fd, fd_file(p, fd)->what, fd_file(p, fd)->why);
		if (strstr(info, "\nlock:") && locks_capture(p, fd_file(p, fd), fd, info) < 0)
			fd_unsupported(p, fd, CKPT_UNSUPPORTED_KIND_FILE_LOCK, "it holds a lease or a lock of a kind that cannot be taken again");
		free(info);
	}
	p->files.nfds = (uint32_t)p->nfds;
	p->files.max_fds = (uint32_t)(p->pf.rlimits[CKPT_RLIMIT_RESOURCE_NOFILE].cur > UINT32_MAX
					      ? UINT32_MAX
					      : p->pf.rlimits[CKPT_RLIMIT_RESOURCE_NOFILE].cur);
	rc = 0;
out:
	close(pidfd);
	free(fds);
	return rc;
}

static int is_pipe(const struct file_state *f)
{
	return f->f.kind == CKPT_FD_KIND_PIPE || f->f.kind == CKPT_FD_KIND_FIFO;
}

static uint64_t pipe_ino(const struct file_state *f)
{
	uint64_t ino;
	memcpy(&ino, f->extra, 8);
	return ino;
}

/* Whether the files of the tree (or of an image) hold both ends of a pipe: a reader and a writer. */
static int pipe_has_both_ends(const struct tree *t, uint64_t ino)
{
	int r = 0, w = 0;
	for (size_t i = 0; i < t->nfiles; i++) {
		const struct file_state *f = &t->files[i];
		if (is_pipe(f) && pipe_ino(f) == ino) {
			int acc = (int)(f->f.flags & O_ACCMODE);
			r |= acc == O_RDONLY || acc == O_RDWR;
			w |= acc == O_WRONLY || acc == O_RDWR;
		}
	}
	return r && w;
}

static int fifo_has_reader(const struct tree *t, uint64_t ino)
{
	for (size_t i = 0; i < t->nfiles; i++)
		if (is_pipe(&t->files[i]) && pipe_ino(&t->files[i]) == ino && (t->files[i].f.flags & O_ACCMODE) != O_WRONLY)
			return 1;
	return 0;
}

/* A file's kind-specific data with `data` in place of its trailing lbytes (pipe data, a queue). */
static void set_trailing_bytes(struct file_state *f, size_t fixed, const uint8_t *data, uint32_t len)
{
	struct buf b = {0};
	buf_put(&b, f->extra, fixed);
	buf_lbytes(&b, data, len);
	put_extra(f, &b);
}

/* Whether file `o` is the one an epoll `f` watches under number tfd (kcmp KCMP_EPOLL_TFD). */
static int watched(const struct file_state *f, uint32_t tfd, const struct file_state *o)
{
	struct kcmp_epoll_slot slot = {.efd = (uint32_t)f->fd, .tfd = tfd, .toff = 0};
	return syscall(SYS_kcmp, o->pid, f->pid, KCMP_EPOLL_TFD, o->fd, (unsigned long)&slot) == 0;
}

/* The file an epoll watches under number tfd: most often the one its process holds at tfd, else
 * any description of the tree (the fd was closed since, or holds another file now); -1 if none. */
static int epoll_target_file(const struct tree *t, const struct file_state *f, uint32_t tfd)
{
	for (size_t k = 0; k < t->nprocs; k++) {
		const struct proc_state *p = t->procs[k];
		if ((pid_t)p->pf.pid != f->pid)
			continue;
		for (size_t i = 0; i < p->nfds; i++)
			if (p->fds[i].f.fd == tfd && watched(f, tfd, fd_file(p, &p->fds[i])))
				return p->fds[i].file;
	}
	for (size_t j = 0; j < t->nfiles; j++)
		if (watched(f, tfd, &t->files[j]))
			return (int)j;
	return -1;
}

int process_holds(uint32_t pid, const char *link)
{
	char *dir = xasprintf("/proc/%u/fd", pid);
	DIR *d = opendir(dir);
	int holds = 0;
	for (struct dirent *de; d && !holds && (de = readdir(d));) {
		char *path = xasprintf("%s/%s", dir, de->d_name), *l = read_link(path);
		holds = l && !strcmp(l, link);
		free(path);
		free(l);
	}
	if (d)
		closedir(d);
	free(dir);
	return holds;
}

static int held_by_omitted(const struct proc_state *p, const char *link)
{
	for (uint32_t c = 0; c < p->nomitted; c++)
		if (process_holds(p->omitted[c], link))
			return 1;
	return 0;
}

/* Everything about descriptions that needs every process's descriptors: which pipes and socket
 * pairs lie inside the tree (and what they hold), which epoll targets are which files, and what
 * cannot be restored: a pipe or socket to a process outside the tree, above stdio. */
int files_finish(struct tree *t)
{
	int rc = -1;
	for (size_t i = 0; i < t->nfiles; i++) {
		struct file_state *f = &t->files[i];
		int pidfd = -1;
		if (is_pipe(f)) {
			uint64_t ino = pipe_ino(f);
			int first = 1;
			for (size_t j = 0; j < i; j++)
				first &= !(is_pipe(&t->files[j]) && pipe_ino(&t->files[j]) == ino);
			f->external = f->f.kind == CKPT_FD_KIND_PIPE && !pipe_has_both_ends(t, ino);
			/* a FIFO keeps its bytes also when the tree holds only its read end: they are read
			 * again through a write end that restore opens by its path */
			if (!first || f->external || !(f->f.kind == CKPT_FD_KIND_FIFO ? fifo_has_reader(t, ino) : pipe_has_both_ends(t, ino)))
				continue;
			/* the bytes, once, on the first file of the pipe: tee reads from a reading end */
			const struct file_state *rd = f;
			for (size_t j = i; j < t->nfiles; j++)
				if (is_pipe(&t->files[j]) && pipe_ino(&t->files[j]) == ino && (t->files[j].f.flags & O_ACCMODE) != O_WRONLY) {
					rd = &t->files[j];
					break;
				}
			uint8_t *data = NULL;
			uint32_t len = 0;
			pidfd = (int)syscall(SYS_pidfd_open, rd->pid, 0);
			if (pidfd < 0 || pipe_contents(pidfd, rd->pid, rd->fd, &data, &len) < 0) {
				if (pidfd < 0)
					unreachable(rd->pid, rd->fd, "pipe", "pidfd_open");
				free(data);
				goto fail;
			}
			set_trailing_bytes(f, CKPT_FD_PIPE_FIXED_SIZE, data, len);
			free(data);
		} else if (f->f.kind == CKPT_FD_KIND_SOCKET) {
			if (sock_finish(t, f) < 0)
				goto fail;
		} else if (f->f.kind == CKPT_FD_KIND_EPOLL) {
			/* a target is the file at its tfd in a process holding the epoll, when kcmp says so */
			uint32_t cnt;
			memcpy(&cnt, f->extra, 4);
			for (uint32_t k = 0; k < cnt; k++) {
				struct ckpt_epoll_target *tg = (struct ckpt_epoll_target *)(f->extra + 4 + (size_t)k * sizeof(*tg));
				tg->file = (uint32_t)epoll_target_file(t, f, tg->tfd) + 1; /* 0: not found */
			}
		}
		if (pidfd >= 0)
			close(pidfd);
	}
	/* descriptors of what cannot be restored, in every process */
	for (size_t k = 0; k < t->nprocs; k++) {
		struct proc_state *p = t->procs[k];
		for (size_t i = 0; i < p->nfds; i++) {
			struct fd_state *fd = &p->fds[i];
			const struct file_state *f = fd_file(p, fd);
			if (f->external == 2)
				fd_unsupported(p, fd, CKPT_UNSUPPORTED_KIND_FD, "file descriptors or oversized messages in flight on a unix socket");
			else if (f->external && fd->f.fd > 2 && f->f.kind == CKPT_FD_KIND_SOCKET && f->why)
				fd_unsupported(p, fd, f->what, f->why); /* sock_finish says why, naming the peer */
			else if (f->external && fd->f.fd > 2 && f->f.kind == CKPT_FD_KIND_TTY)
				fd_unsupported(p, fd, CKPT_UNSUPPORTED_KIND_FD, "a terminal is reattached only as stdio (fds 0-2)");
			else if (f->external && fd->f.fd > 2 && held_by_omitted(p, f->path))
				/* a child the dump leaves out holds the other end: --tree takes it too (dump.c says so) */
				fd_unsupported(p, fd, CKPT_UNSUPPORTED_KIND_FD,
					       f->f.kind == CKPT_FD_KIND_PIPE ? "a pipe whose other end is outside the checkpoint"
									: "a unix socket whose peer is outside the checkpoint");
			else if (f->external && fd->f.fd > 2)
				/* recorded as external: restore connects it to an fd it is given (--inherit-fd) or breaks it */
				warn("process %u fd %u (%s): its other end is outside the checkpoint: recorded as external (restore --inherit-fd %u:FD "
				     "connects it, else it comes back broken)", p->pf.pid, fd->f.fd, f->path, fd->f.fd);
		}
	}
	ghost_finish(t);
	rc = 0;
fail:
	return rc;
}

/* Every description, before the processes: tags for the fds to name. Socket peers and epoll
 * targets hold indexes + 1 until here, tags from here on. */
int files_write_descriptions(struct image_writer *w, struct tree *t)
{
	uint32_t first = w->next_tag;
	for (size_t i = 0; i < t->nfiles; i++)
		t->files[i].tag = first + (uint32_t)i;
	for (size_t i = 0; i < t->nfiles; i++) {
		struct file_state *f = &t->files[i];
		if (f->f.kind == CKPT_FD_KIND_SOCKET) {
			sock_set_tags(t, f);
		} else if (f->f.kind == CKPT_FD_KIND_EPOLL) {
			uint32_t cnt;
			memcpy(&cnt, f->extra, 4);
			for (uint32_t k = 0; k < cnt; k++) {
				struct ckpt_epoll_target *tg = (struct ckpt_epoll_target *)(f->extra + 4 + (size_t)k * sizeof(*tg));
				if (tg->file)
					tg->file = t->files[tg->file - 1].tag;
			}
		}
		struct buf b = {0};
		buf_put(&b, &f->f, sizeof(f->f));
		buf_lstr(&b, f->path);
		buf_lbytes(&b, f->extra, f->extra_len);
		uint32_t tag = iw_record(w, CKPT_RECORD_TYPE_FILE, 0, b.p, (uint32_t)b.len);
		buf_free(&b);
		if (tag != f->tag)
			return tag ? fail(EXIT_FAIL, "internal error: file records got tag %u, not %u", tag, f->tag) : -1;
	}
	/* what belongs to descriptions, as their children: the bytes of files without a path, locks */
	return ghost_write(w, t) < 0 || locks_write(w, t) < 0 ? -1 : 0;
}

uint32_t files_write(struct image_writer *w, const struct proc_state *p, uint32_t proc_tag)
{
	uint32_t tag = iw_record(w, CKPT_RECORD_TYPE_FILES, proc_tag, &p->files, sizeof(p->files));
	if (!tag)
		return 0;
	for (size_t i = 0; i < p->nfds; i++) {
		struct ckpt_fd f = p->fds[i].f;
		f.file = fd_file(p, &p->fds[i])->tag;
		if (!iw_record(w, CKPT_RECORD_TYPE_FD, tag, &f, sizeof(f)))
			return 0;
	}
	return tag;
}

/* ---- reading the records ---- */

int files_read(const struct image *im, const struct image_record *r, struct proc_state *p)
{
	struct rcur c;
	rc_init(&c, im, r);
	return rc_get(&c, &p->files, sizeof(p->files), "files");
}

/* The kind-specific part of a file, read as the .ksy's switch on `kind` reads it: every field it
 * names must be there. */
static int file_extra_check(struct rcur *x, uint16_t kind)
{
	uint8_t *data;
	uint32_t len;
	switch (kind) {
	case CKPT_FD_KIND_PIPE:
	case CKPT_FD_KIND_FIFO:
		if (!rc_ptr(x, CKPT_FD_PIPE_FIXED_SIZE, "pipe_ino and capacity") || rc_lbytes(x, &data, &len, "pipe data") < 0)
			return -1;
		free(data);
		return 0;
	case CKPT_FD_KIND_EVENTFD:
		return rc_ptr(x, CKPT_FD_EVENTFD_FIXED_SIZE, "eventfd") ? 0 : -1;
	case CKPT_FD_KIND_EPOLL: {
		uint32_t cnt;
		if (rc_get(x, &cnt, 4, "epoll count") < 0 || !rc_ptr(x, (uint64_t)cnt * sizeof(struct ckpt_epoll_target), "epoll targets"))
			return -1;
		return 0;
	}
	case CKPT_FD_KIND_SOCKET:
		return sock_extra_check(x);
	case CKPT_FD_KIND_TTY:
		return rc_ptr(x, CKPT_FD_TTY_FIXED_SIZE, "tty rdev") ? 0 : -1;
	case CKPT_FD_KIND_SIGNALFD:
		return rc_ptr(x, CKPT_FD_SIGNALFD_FIXED_SIZE, "signalfd mask") ? 0 : -1;
	case CKPT_FD_KIND_TIMERFD:
		return rc_ptr(x, CKPT_FD_TIMERFD_FIXED_SIZE, "timerfd") ? 0 : -1;
	case CKPT_FD_KIND_INOTIFY:
		return inotify_extra_check(x);
	case CKPT_FD_KIND_FANOTIFY:
		return fanotify_extra_check(x);
	default:
		return 0;
	}
}

int file_read(const struct image *im, const struct image_record *r, struct file_state *f)
{
	memset(f, 0, sizeof(*f));
	f->owner = -1;
	f->tag = r->tag;
	struct rcur c, x;
	rc_init(&c, im, r);
	if (rc_get(&c, &f->f, sizeof(f->f), "file fixed fields") < 0 || rc_lstr(&c, &f->path, "path") < 0 ||
	    rc_get(&c, &f->extra_len, 4, "extra_len") < 0 || rc_sub(&c, &x, f->extra_len, "extra") < 0 ||
	    file_extra_check(&x, f->f.kind) < 0)
		return -1;
	f->extra = xmalloc(f->extra_len + 1);
	memcpy(f->extra, r->payload + x.end - f->extra_len, f->extra_len);
	return 0;
}

int fd_read(const struct image *im, const struct image_record *r, struct fd_state *f)
{
	memset(f, 0, sizeof(*f));
	struct rcur c;
	rc_init(&c, im, r);
	if (rc_get(&c, &f->f, sizeof(f->f), "fd fields") < 0)
		return -1;
	/* Descriptor numbers stay below the kernel's nr_open ceiling (2^30), so fd arithmetic cannot
	 * overflow. */
	if (!ckpt_valid_fd_fd(&f->f, f->f.fd))
		return image_bad(im, r, payload_at(r), "fd %u is beyond any descriptor number", f->f.fd);
	return 0;
}

/* ---- restore: planning, in the restorer, before any process exists ---- */

static int fd_skipped(const struct proc_state *p, uint32_t fd)
{
	for (size_t i = 0; i < p->nunsup; i++)
		if (p->unsup[i].f.fd == (int32_t)fd)
			return 1;
	return 0;
}

/* A description the restoring side replaces (--stdio): a terminal, or a pipe or socket whose
 * other end was outside the checkpoint, held as stdio (fds 0-2). */
static int external(const struct tree *t, const struct file_state *f)
{
	switch (f->f.kind) {
	case CKPT_FD_KIND_TTY:
		return 1;
	case CKPT_FD_KIND_SOCKET:
		return sock_external(f);
	case CKPT_FD_KIND_PIPE:
		return !pipe_has_both_ends(t, pipe_ino(f));
	default:
		return 0;
	}
}

/* Who makes each description (the first process, in image order, whose descriptors use it; both
 * ends of a pipe or socket pair are made by one process), and the fd where it keeps it, from
 * slot_base up, until every process has taken its own. Returns the first fd above the slots. */
int files_plan(struct tree *t, int slot_base)
{
	int next = slot_base;
	for (size_t k = 0; k < t->nprocs; k++) {
		struct proc_state *p = t->procs[k];
		for (size_t i = 0; i < p->nfds; i++) {
			struct file_state *f = fd_file(p, &p->fds[i]);
			if (f->owner >= 0 || fd_skipped(p, p->fds[i].f.fd))
				continue;
			f->owner = (int)k;
			f->slot = next++;
		}
	}
	/* the other end of a pipe or socket pair: made by the owner of the first end, with it */
	for (size_t i = 0; i < t->nfiles; i++) {
		struct file_state *f = &t->files[i];
		if (f->owner < 0)
			continue;
		for (size_t j = i + 1; j < t->nfiles; j++) {
			struct file_state *o = &t->files[j];
			int same_pipe = f->f.kind == CKPT_FD_KIND_PIPE && o->f.kind == CKPT_FD_KIND_PIPE && pipe_ino(f) == pipe_ino(o);
			int pair = sock_made_with(f, o);
			int same_ghost = o->ghost_of == (int)i + 1; /* made from the file its first description makes */
			if ((same_pipe || pair || same_ghost) && o->owner >= 0)
				o->owner = f->owner;
		}
	}
	sock_plan(t);
	return next;
}

int files_max_fd(const struct proc_state *p)
{
	int m = 2;
	for (size_t i = 0; i < p->nfds; i++)
		if ((int)p->fds[i].f.fd > m)
			m = (int)p->fds[i].f.fd;
	return m;
}

/* ---- restore: in each new process ---- */

static int open_stdio(int fd, const struct stdio_plan *sp)
{
	if (sp->mode == STDIO_INHERIT)
		return sp->saved[fd] >= 0 ? fd_dup_high(sp->saved[fd]) : fd_high(open("/dev/null", O_RDWR));
	if (sp->mode == STDIO_NULL || fd == 0)
		return fd_high(open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY));
	return fd_high(open(sp->path, O_WRONLY | O_CREAT | O_APPEND, 0600));
}

static uint32_t pipe_data_len(const struct file_state *f)
{
	uint32_t len;
	memcpy(&len, f->extra + CKPT_FD_PIPE_FIXED_SIZE, 4);
	return len;
}

static int put_pipe_data(int wfd, const struct file_state *f)
{
	uint32_t len = pipe_data_len(f);
	if (!len)
		return 0;
	if ((int)len > fcntl(wfd, F_GETPIPE_SZ) && fcntl(wfd, F_SETPIPE_SZ, len) < 0)
		return fail_errno(EXIT_FAIL, "%s: cannot grow the pipe to %u bytes", f->path, len);
	int fl = fcntl(wfd, F_GETFL);
	fcntl(wfd, F_SETFL, fl | O_NONBLOCK);
	ssize_t n = write(wfd, f->extra + CKPT_FD_PIPE_FIXED_SIZE + 4, len);
	fcntl(wfd, F_SETFL, fl);
	if (n != (ssize_t)len)
		return fail_errno(EXIT_FAIL, "%s: cannot put back the %u bytes the pipe held", f->path, len);
	return 0;
}

/* A FIFO end opened without blocking: a reader is opened first when needed so that opening
 * the write end does not fail with ENXIO, and the blocking mode is set afterwards. */
static int open_fifo(const struct file_state *f)
{
	int acc = (int)(f->f.flags & O_ACCMODE);
	int helper = acc == O_WRONLY ? open(f->path, O_RDONLY | O_NONBLOCK) : -1;
	int fd = open(f->path, acc | O_NONBLOCK);
	int e = errno;
	if (helper >= 0)
		close(helper);
	errno = e;
	if (fd >= 0)
		fcntl(fd, F_SETFL, (int)(f->f.flags & ~(uint32_t)O_ACCMODE));
	return fd;
}

/* Both ends of a pipe of the image (and the extra descriptions opened on one of its ends, which
 * share the pipe but not the status flags), with its bytes and capacity. */
static int make_pipe(const struct tree *t, size_t first)
{
	const struct file_state *f = &t->files[first];
	uint64_t ino = pipe_ino(f);
	int pp[2];
	if (pipe2(pp, O_CLOEXEC) < 0)
		return fail_errno(EXIT_FAIL, "pipe2");
	pp[0] = fd_high(pp[0]);
	pp[1] = fd_high(pp[1]);
	struct ckpt_fd_pipe_fixed pf;
	memcpy(&pf, f->extra, sizeof(pf));
	if (pf.capacity && (int)pf.capacity != fcntl(pp[1], F_GETPIPE_SZ) && fcntl(pp[1], F_SETPIPE_SZ, pf.capacity) < 0)
		warn("%s: its capacity %u cannot be set again (%s)", f->path, pf.capacity, strerror(errno));
	int rc = 0, used[2] = {0, 0};
	for (size_t j = first; j < t->nfiles && rc == 0; j++) {
		const struct file_state *g = &t->files[j];
		if (g->f.kind != CKPT_FD_KIND_PIPE || pipe_ino(g) != ino || g->owner < 0)
			continue;
		if (pipe_data_len(g))
			rc = put_pipe_data(pp[1], g);
		int end = (g->f.flags & O_ACCMODE) == O_WRONLY ? 1 : 0;
		int fd;
		if (!used[end]) {
			fd = fd_dup_high(pp[end]);
			used[end] = 1;
		} else {
			char self[64];
			snprintf(self, sizeof(self), "/proc/self/fd/%d", pp[end]);
			fd = fd_high(open(self, (int)(g->f.flags & O_ACCMODE) | O_CLOEXEC));
		}
		if (rc == 0 && to_slot(fd, g, 1) < 0)
			rc = fail_errno(EXIT_FAIL, "%s: cannot make the pipe end again", g->path);
	}
	close(pp[0]);
	close(pp[1]);
	return rc;
}

/* One description of the kinds that are opened or made on their own. */
static int make_file(const struct tree *t, const struct file_state *f, const struct stdio_plan *sp, int stdio_fd)
{
	int fd = -1;
	uint32_t oflags = f->f.flags & ~(uint32_t)(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC);
	if (stdio_fd >= 0) {
		fd = open_stdio(stdio_fd, sp);
		if (fd < 0)
			return fail_errno(denied_or(EXIT_FAIL), "cannot set up stdio fd %d%s%s", stdio_fd,
					  sp->mode == STDIO_PATH ? " in " : "", sp->mode == STDIO_PATH ? sp->path : "");
		return to_slot(fd, f, 0);
	}
	if (f->ghost || f->ghost_of)
		return ghost_make(t, (size_t)(f - t->files));
	switch (f->f.kind) {
	case CKPT_FD_KIND_REGULAR:
	case CKPT_FD_KIND_DIRECTORY:
	case CKPT_FD_KIND_CHR:
	case CKPT_FD_KIND_BLK:
		fd = fd_high(open(f->path, (int)oflags | O_CLOEXEC));
		if (fd < 0)
			return fail_errno(denied_or(EXIT_FAIL), "%scannot open %s", fd_prefix(t, f), f->path);
		if (f->f.kind == CKPT_FD_KIND_REGULAR) {
			struct stat st;
			if (fstat(fd, &st) == 0 && (st.st_ino != f->f.ino || st.st_dev != f->f.dev))
				warn("%s%s is another file than at the checkpoint", fd_prefix(t, f), f->path);
		}
		if (f->f.pos && f->f.kind != CKPT_FD_KIND_CHR && lseek(fd, (off_t)f->f.pos, SEEK_SET) < 0)
			return fail_errno(EXIT_FAIL, "%scannot seek %s to %llu", fd_prefix(t, f), f->path, (unsigned long long)f->f.pos);
		return to_slot(fd, f, 0);
	case CKPT_FD_KIND_FIFO: {
		fd = fd_high(open_fifo(f));
		if (fd < 0)
			return fail_errno(denied_or(EXIT_FAIL), "%scannot open the FIFO %s", fd_prefix(t, f), f->path);
		int rc = 0;
		if (pipe_data_len(f)) { /* the bytes go in through a write end of our own */
			int w = (f->f.flags & O_ACCMODE) != O_RDONLY ? fd : open(f->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
			rc = w < 0 ? fail_errno(EXIT_FAIL, "cannot open the FIFO %s to put its bytes back", f->path) : put_pipe_data(w, f);
			if (w >= 0 && w != fd)
				close(w);
		}
		return rc < 0 ? -1 : to_slot(fd, f, 0);
	}
	case CKPT_FD_KIND_EVENTFD: {
		struct ckpt_fd_eventfd e;
		memcpy(&e, f->extra, sizeof(e));
		fd = fd_high(eventfd(0, (int)(e.flags & EFD_SEMAPHORE) | EFD_CLOEXEC));
		if (fd < 0)
			return fail_errno(EXIT_FAIL, "eventfd");
		if (e.count && write(fd, &e.count, 8) != 8)
			return fail_errno(EXIT_FAIL, "cannot set the eventfd counter");
		return to_slot(fd, f, 1);
	}
	case CKPT_FD_KIND_SIGNALFD:
		return to_slot(fd_high(signalfd_make(f)), f, 1);
	case CKPT_FD_KIND_TIMERFD:
		return to_slot(fd_high(timerfd_make(f)), f, 1);
	case CKPT_FD_KIND_INOTIFY:
		return to_slot(fd_high(inotify_make(f)), f, 1);
	case CKPT_FD_KIND_FANOTIFY:
		return to_slot(fd_high(fanotify_make(f)), f, 1);
	case CKPT_FD_KIND_EPOLL:
		fd = fd_high(epoll_create1(EPOLL_CLOEXEC));
		if (fd < 0)
			return fail_errno(EXIT_FAIL, "epoll_create1");
		return to_slot(fd, f, 0); /* its set is filled once every process has its fds (files_take) */
	default:
		return fail(EXIT_UNSUPPORTED, "%s%s: a file of kind %s cannot be restored", fd_prefix(t, f), f->path,
			    ckpt_fd_kind_name(f->f.kind) ? ckpt_fd_kind_name(f->f.kind) : "unknown");
	}
}

/* An external pipe or socket (its other end was outside the checkpoint): the fd ckpt was given
 * for one of the numbers a process held it at (--inherit-fd N:FD), else a pipe or socket pair
 * whose other end is closed at once: reading gives end of file, writing EPIPE. */
static int make_external(const struct tree *t, const struct file_state *f, const struct stdio_plan *sp)
{
	int file = (int)(f - t->files);
	for (int j = 0; j < sp->ninherit; j++)
		for (size_t k = 0; k < t->nprocs; k++)
			for (size_t i = 0; i < t->procs[k]->nfds; i++)
				if (t->procs[k]->fds[i].file == file && (int)t->procs[k]->fds[i].f.fd == sp->inherit[j].n) {
					int fd = fd_dup_high(sp->inherit[j].saved);
					if (fd < 0)
						return fail_errno(EXIT_FAIL, "--inherit-fd %d:%d", sp->inherit[j].n, sp->inherit[j].fd);
					return to_slot(fd, f, 1);
				}
	int ends[2], keep;
	if (f->f.kind == CKPT_FD_KIND_PIPE) {
		if (pipe2(ends, O_CLOEXEC) < 0)
			return fail_errno(EXIT_FAIL, "pipe2");
		keep = (f->f.flags & O_ACCMODE) == O_WRONLY ? 1 : 0;
	} else {
		struct sock_view v;
		if (sock_view(f, &v) < 0 || v.s.family != AF_UNIX || socketpair(AF_UNIX, (int)v.s.type | SOCK_CLOEXEC, 0, ends) < 0)
			return fail(EXIT_UNSUPPORTED, "%s%s: a socket to a process outside the checkpoint cannot be made again", fd_prefix(t, f), f->path);
		keep = 0;
	}
	close(ends[!keep]);
	warn("%s%s: its other end was outside the checkpoint: restored broken (--inherit-fd %d:FD connects it)", fd_prefix(t, f), f->path,
		   atoi(fd_prefix(t, f) + 3));
	return to_slot(fd_high(ends[keep]), f, 1);
}

/* The lowest stdio number (0-2) any process holds this external description at, or -1. */
static int stdio_number(const struct tree *t, int file)
{
	int best = -1;
	for (size_t k = 0; k < t->nprocs; k++) {
		const struct proc_state *p = t->procs[k];
		for (size_t i = 0; i < p->nfds; i++)
			if (p->fds[i].file == file && p->fds[i].f.fd <= 2 && (best < 0 || (int)p->fds[i].f.fd < best))
				best = (int)p->fds[i].f.fd;
	}
	return best;
}

/* Phase A, in process `me`: every description it makes, at its slot. */
int files_make(const struct tree *t, int me, const struct stdio_plan *sp, int tmp_base)
{
	fdslots_begin(tmp_base);
	for (size_t i = 0; i < t->nfiles; i++) {
		const struct file_state *f = &t->files[i];
		if (f->owner != me || fcntl(f->slot, F_GETFD) >= 0)
			continue; /* another's, or made already with its pipe or pair */
		int rc;
		int inherited = 0;
		for (int j = 0; j < sp->ninherit && !inherited; j++)
			for (size_t k = 0; k < t->nprocs && !inherited; k++)
				for (size_t n = 0; n < t->procs[k]->nfds; n++)
					inherited |= t->procs[k]->fds[n].file == (int)i && (int)t->procs[k]->fds[n].f.fd == sp->inherit[j].n;
		/* --inherit-fd names it: the caller's fd, whatever the image says of its other end (a unix
		 * socket recorded with --external unix is otherwise made closed by its peer) */
		if (f->f.kind != CKPT_FD_KIND_TTY && (inherited || (external(t, f) && stdio_number(t, (int)i) < 0)))
			rc = make_external(t, f, sp);
		else if (external(t, f))
			rc = make_file(t, f, sp, stdio_number(t, (int)i));
		else if (f->f.kind == CKPT_FD_KIND_PIPE)
			rc = make_pipe(t, i);
		else if (f->f.kind == CKPT_FD_KIND_SOCKET)
			rc = sock_make(t, f);
		else
			rc = make_file(t, f, sp, -1);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* The set of an epoll description of ours: each target added under the number it was added with,
 * which is made to hold the target's file for the moment when it holds something else or nothing. */
static int fill_epoll(const struct tree *t, const struct file_state *f, const struct proc_state *p, int me, const pid_t *pids, int *pidfds)
{
	uint32_t cnt;
	memcpy(&cnt, f->extra, 4);
	for (uint32_t k = 0; k < cnt; k++) {
		struct ckpt_epoll_target tg;
		memcpy(&tg, f->extra + 4 + (size_t)k * sizeof(tg), sizeof(tg));
		int ti = tg.file ? file_by_tag(t, tg.file) : -1;
		if (ti < 0 || t->files[ti].owner < 0 || fd_skipped(p, tg.tfd)) {
			warn("an epoll set loses the fd %u it watched: its file is not restored", tg.tfd);
			continue;
		}
		int aside = -1, put = 0;
		const struct fd_state *at = NULL;
		for (size_t i = 0; i < p->nfds && !at; i++)
			if (p->fds[i].f.fd == tg.tfd)
				at = &p->fds[i];
		if (!at || at->file != ti) {
			if (at && (aside = fd_dup_high((int)tg.tfd)) < 0)
				return fail_errno(EXIT_FAIL, "cannot set fd %u aside", tg.tfd);
			int fd = slot_take(&t->files[ti], me, pids, pidfds);
			if (fd < 0 || dup2(fd, (int)tg.tfd) < 0)
				return fail_errno(EXIT_FAIL, "cannot put the file of epoll target %u at its number", tg.tfd);
			close(fd);
			put = 1;
		}
		struct epoll_event ev = {.events = tg.events, .data.u64 = tg.data};
		int r = epoll_ctl(f->slot, EPOLL_CTL_ADD, (int)tg.tfd, &ev);
		if (r < 0 && (tg.events & EPOLLWAKEUP)) {
			ev.events &= ~EPOLLWAKEUP;
			r = epoll_ctl(f->slot, EPOLL_CTL_ADD, (int)tg.tfd, &ev);
		}
		int e = errno;
		if (put && (aside >= 0 ? dup2(aside, (int)tg.tfd) < 0 : close((int)tg.tfd) < 0))
			return fail_errno(EXIT_FAIL, "cannot put fd %u back", tg.tfd);
		if (aside >= 0)
			close(aside);
		errno = e;
		if (r < 0)
			return fail_errno(EXIT_FAIL, "cannot watch fd %u again (epoll_ctl)", tg.tfd);
	}
	return 0;
}

/* Phase B, in process `me`: each of its descriptors at its number, from its own slots or from the
 * process that made it; then the sets of the epolls it made. Every slot of every process is still
 * open until every process has passed this phase. */
int files_take(const struct tree *t, int me, const pid_t *pids)
{
	const struct proc_state *p = t->procs[me];
	int *pidfds = xmalloc(t->nprocs * sizeof(int));
	for (size_t k = 0; k < t->nprocs; k++)
		pidfds[k] = -1;
	int rc = -1;
	for (size_t i = 0; i < p->nfds; i++) {
		const struct fd_state *fd = &p->fds[i];
		if (fd_skipped(p, fd->f.fd))
			continue;
		int got = slot_take(fd_file(p, fd), me, pids, pidfds);
		if (got < 0 || fd_place(got, (int)fd->f.fd, fd->f.fd_flags & FD_CLOEXEC, 0) < 0)
			goto out;
	}
	for (size_t i = 0; i < t->nfiles; i++)
		if (t->files[i].owner == me && t->files[i].f.kind == CKPT_FD_KIND_EPOLL && fill_epoll(t, &t->files[i], p, me, pids, pidfds) < 0)
			goto out;
	rc = 0;
out:
	for (size_t k = 0; k < t->nprocs; k++)
		if (pidfds[k] >= 0)
			close(pidfds[k]);
	free(pidfds);
	return rc;
}

/* Phase C, in process `me`: its slots closed, once no process needs them any more. */
void files_close_slots(const struct tree *t, int me)
{
	for (size_t i = 0; i < t->nfiles; i++)
		if (t->files[i].owner == me)
			close(t->files[i].slot);
}
