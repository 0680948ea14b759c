/* File descriptors: what each one is (from /proc/PID/fd, fdinfo and fstat), which ones share an
 * open file description (kcmp), what sits in pipes both of whose ends the process holds (tee
 * from a pidfd_getfd copy: nothing is consumed); and at restore, the same table rebuilt by the
 * restore child itself. */
#include "ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
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

static void put_extra(struct fd_state *f, const struct buf *b)
{
	f->extra = b->p;
	f->extra_len = (uint32_t)b->len;
}

static int steal_fd(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

/* Bytes in a pipe, copied (not consumed) with tee() into a pipe of ours. */
static int pipe_contents(int pidfd, int fd, uint8_t **data, uint32_t *len)
{
	*data = NULL;
	*len = 0;
	int src = steal_fd(pidfd, fd);
	if (src < 0)
		return fail_errno(EXIT_FAIL, "cannot reach the pipe at fd %d (pidfd_getfd)", fd);
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

static void socket_info(int pidfd, int fd, struct ckpt_fd_socket_fixed *s)
{
	int sk = steal_fd(pidfd, fd);
	if (sk < 0)
		return;
	int v;
	socklen_t l = sizeof(v);
	if (getsockopt(sk, SOL_SOCKET, SO_DOMAIN, &v, &l) == 0)
		s->family = (uint32_t)v;
	l = sizeof(v);
	if (getsockopt(sk, SOL_SOCKET, SO_TYPE, &v, &l) == 0)
		s->type = (uint32_t)v;
	if ((s->family == AF_INET || s->family == AF_INET6) && s->type == SOCK_STREAM) {
		struct tcp_info ti;
		l = sizeof(ti);
		if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &l) == 0)
			s->state = ti.tcpi_state;
	}
	close(sk);
}

/* AF_UNIX sockets of this network namespace, from sock_diag: peer, name, shutdown. */
struct unix_sock {
	uint32_t ino, peer, state, shutdown;
	int named;
};
static struct unix_sock *unix_socks;
static size_t nunix;

static void load_unix_socks(void)
{
	free(unix_socks);
	unix_socks = NULL;
	nunix = 0;
	int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return;
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} req = {
		.h = {.nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
		.r = {.sdiag_family = AF_UNIX, .udiag_states = ~0U, .udiag_show = UDIAG_SHOW_PEER | UDIAG_SHOW_NAME},
	};
	size_t cap = 0;
	if (send(nl, &req, sizeof(req), 0) == (ssize_t)sizeof(req)) {
		long buf[8192 / sizeof(long)];
		for (int done = 0; !done;) {
			ssize_t n = recv(nl, buf, sizeof(buf), 0);
			if (n <= 0)
				break;
			for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
				if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
					done = 1;
					break;
				}
				struct unix_diag_msg *m = NLMSG_DATA(h);
				if (nunix == cap)
					unix_socks = xrealloc(unix_socks, (cap = cap ? cap * 2 : 64) * sizeof(*unix_socks));
				struct unix_sock *u = &unix_socks[nunix++];
				memset(u, 0, sizeof(*u));
				u->ino = m->udiag_ino;
				u->state = m->udiag_state;
				int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
				for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
					if (a->rta_type == UNIX_DIAG_PEER)
						memcpy(&u->peer, RTA_DATA(a), 4);
					else if (a->rta_type == UNIX_DIAG_NAME)
						u->named = 1;
					else if (a->rta_type == UNIX_DIAG_SHUTDOWN)
						u->shutdown = *(uint8_t *)RTA_DATA(a);
				}
			}
		}
	}
	close(nl);
}

static const struct unix_sock *find_unix(uint64_t ino)
{
	for (size_t i = 0; i < nunix; i++)
		if (unix_socks[i].ino == ino)
			return &unix_socks[i];
	return NULL;
}

static const struct ckpt_fd_socket_fixed *sock_of(const struct fd_state *f)
{
	return f->f.kind == CKPT_FD_KIND_SOCKET && f->extra_len >= sizeof(struct ckpt_fd_socket_fixed)
		       ? (const struct ckpt_fd_socket_fixed *)f->extra
		       : NULL;
}

/* One end of a socketpair whose other end is an fd of the process too. At restore both ends
 * must also carry their queue (dump writes it for every such end). */
static const struct fd_state *socket_peer(const struct proc_state *p, const struct fd_state *f)
{
	const struct ckpt_fd_socket_fixed *s = sock_of(f);
	if (!s || s->family != AF_UNIX || !s->peer_ino)
		return NULL;
	for (size_t i = 0; i < p->nfds; i++) {
		const struct ckpt_fd_socket_fixed *o = sock_of(&p->fds[i]);
		if (o && p->fds[i].f.ino == s->peer_ino && o->peer_ino == f->f.ino)
			return &p->fds[i];
	}
	return NULL;
}

static const struct fd_state *socket_peer_with_queues(const struct proc_state *p, const struct fd_state *f)
{
	const struct fd_state *o = socket_peer(p, f);
	size_t need = sizeof(struct ckpt_fd_socket_fixed) + 4;
	return o && f->extra_len >= need && o->extra_len >= need ? o : NULL;
}

/* What waits in a unix socket's receive queue, peeked from a pidfd_getfd copy at peek offset
 * 0 (the socket's own SO_PEEK_OFF is put back after). Datagrams keep their boundaries: each is a
 * u32 length and its bytes. Returns 1 when fds or credentials are in flight (unsupported). */
static int socket_queue(int pidfd, struct fd_state *f, uint32_t type, struct buf *out)
{
	int sk = steal_fd(pidfd, (int)f->f.fd);
	if (sk < 0)
		return fail_errno(EXIT_FAIL, "cannot reach the socket at fd %u (pidfd_getfd)", f->f.fd);
	int saved = -1, zero = 0, rc = 0;
	socklen_t sl = sizeof(saved);
	getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &saved, &sl);
	setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero));
	size_t cap = 256 << 10;
	uint8_t *data = xmalloc(cap);
	for (int k = 0; k < 100000; k++) {
		union {
			struct cmsghdr c;
			char b[256];
		} ctl;
		struct iovec iov = {data, cap};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl)};
		ssize_t n = recvmsg(sk, &m, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
		if (n < 0)
			break; /* EAGAIN: nothing more */
		if (m.msg_controllen) {
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
					for (int *fd = (int *)CMSG_DATA(c); (char *)fd < (char *)c + c->cmsg_len; fd++)
						close(*fd);
			rc = 1;
			break;
		}
		if ((size_t)n > cap) {
			rc = 1;
			break;
		}
		if (type == SOCK_STREAM) {
			buf_put(out, data, (size_t)n);
			break; /* a stream peek returns everything queued */
		}
		buf_u32(out, (uint32_t)n);
		buf_put(out, data, (size_t)n);
	}
	free(data);
	setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &saved, sizeof(saved));
	close(sk);
	return rc;
}

static int pipe_has_both_ends(const struct proc_state *p, uint64_t ino)
{
	int r = 0, w = 0;
	for (size_t i = 0; i < p->nfds; i++) {
		const struct fd_state *f = &p->fds[i];
		if ((f->f.kind == CKPT_FD_KIND_PIPE || f->f.kind == CKPT_FD_KIND_FIFO) && f->f.ino == ino) {
			int acc = (int)(f->f.flags & O_ACCMODE);
			r |= acc == O_RDONLY || acc == O_RDWR;
			w |= acc == O_WRONLY || acc == O_RDWR;
		}
	}
	return r && w;
}

/* stdio that the restoring side replaces (--stdio): a terminal, or a pipe or socket whose other
 * end is outside the process. */
static int is_stdio_replaceable(const struct proc_state *p, const struct fd_state *f)
{
	if (f->f.fd > 2)
		return 0;
	switch (f->f.kind) {
	case CKPT_FD_KIND_TTY:
		return 1;
	case CKPT_FD_KIND_SOCKET:
		return socket_peer(p, f) == NULL;
	case CKPT_FD_KIND_PIPE:
		return !pipe_has_both_ends(p, f->f.ino);
	default:
		return 0;
	}
}

static void classify_fd(struct proc_state *p, struct fd_state *f, const struct stat *st, const char *info, int pidfd)
{
	const char *link = f->path;
	if (!strncmp(link, "anon_inode:", 11)) {
		const char *what = link + 11;
		if (!strcmp(what, "[eventfd]")) {
			struct ckpt_fd_eventfd e = {.count = fdinfo_num(info, "eventfd-count", 16)};
			if (fdinfo_num(info, "eventfd-semaphore", 10))
				e.flags |= EFD_SEMAPHORE;
			e.flags |= f->f.flags & (O_NONBLOCK | O_CLOEXEC);
			struct buf b = {0};
			buf_put(&b, &e, sizeof(e));
			put_extra(f, &b);
			f->f.kind = CKPT_FD_KIND_EVENTFD;
			return;
		}
		if (!strcmp(what, "[eventpoll]")) {
			struct buf b = {0};
			struct ckpt_fd_epoll_fixed ef = {0};
			buf_put(&b, &ef, sizeof(ef));
			for (const char *l = strstr(info, "tfd:"); l; l = strstr(l + 1, "\ntfd:")) {
				if (*l == '\n')
					l++;
				int tfd;
				unsigned events;
				unsigned long long data;
				if (sscanf(l, "tfd: %d events: %x data: %llx", &tfd, &events, &data) == 3) {
					struct ckpt_epoll_target t = {.tfd = (uint32_t)tfd, .events = events, .data = data};
					buf_put(&b, &t, sizeof(t));
					((struct ckpt_fd_epoll_fixed *)b.p)->count++;
				}
			}
			put_extra(f, &b);
			f->f.kind = CKPT_FD_KIND_EPOLL;
			return;
		}
		uint16_t kind = CKPT_FD_KIND_UNKNOWN, what_kind = CKPT_UNSUPPORTED_KIND_FD;
		if (!strcmp(what, "[signalfd]"))
			kind = CKPT_FD_KIND_SIGNALFD;
		else if (!strcmp(what, "[timerfd]"))
			kind = CKPT_FD_KIND_TIMERFD, what_kind = CKPT_UNSUPPORTED_KIND_TIMER;
		else if (!strcmp(what, "inotify"))
			kind = CKPT_FD_KIND_INOTIFY;
		else if (!strcmp(what, "[io_uring]"))
			kind = CKPT_FD_KIND_IO_URING, what_kind = CKPT_UNSUPPORTED_KIND_IO_URING;
		f->f.kind = kind;
		f->unsupported = 1;
		add_unsupported(p, what_kind, (int32_t)f->f.fd, 0, link, "fd %u (%s) cannot be checkpointed", f->f.fd, what);
		return;
	}
	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		f->f.kind = strncmp(link, "/memfd:", 7) ? CKPT_FD_KIND_REGULAR : CKPT_FD_KIND_MEMFD;
		if (f->f.kind == CKPT_FD_KIND_MEMFD || strstr(link, " (deleted)") || link[0] != '/') {
			f->unsupported = 1;
			add_unsupported(p, CKPT_UNSUPPORTED_KIND_FD, (int32_t)f->f.fd, 0, link, "fd %u: %s", f->f.fd,
					f->f.kind == CKPT_FD_KIND_MEMFD ? "a memfd's contents are not saved" : "the file has no path to reopen");
		}
		return;
	case S_IFDIR:
		f->f.kind = CKPT_FD_KIND_DIRECTORY;
		return;
	case S_IFCHR:
	case S_IFBLK: {
		unsigned maj = major(st->st_rdev);
		if (S_ISCHR(st->st_mode) && is_tty_major(maj)) {
			struct ckpt_fd_tty t = {.rdev = st->st_rdev};
			struct buf b = {0};
			buf_put(&b, &t, sizeof(t));
			put_extra(f, &b);
			f->f.kind = CKPT_FD_KIND_TTY;
			if (f->f.fd > 2) {
				f->unsupported = 1;
				add_unsupported(p, CKPT_UNSUPPORTED_KIND_FD, (int32_t)f->f.fd, 0, link,
						"fd %u: a terminal is reattached only as stdio (fds 0-2)", f->f.fd);
			}
			return;
		}
		f->f.kind = S_ISCHR(st->st_mode) ? CKPT_FD_KIND_CHR : CKPT_FD_KIND_BLK;
		if (S_ISCHR(st->st_mode) && maj != 1) { /* only the memory devices: null, zero, full, random, urandom */
			f->unsupported = 1;
			add_unsupported(p, CKPT_UNSUPPORTED_KIND_FD, (int32_t)f->f.fd, 0, link,
					"fd %u: device %u:%u keeps state in its driver", f->f.fd, maj, minor(st->st_rdev));
		}
		return;
	}
	case S_IFIFO:
		f->f.kind = strncmp(link, "pipe:", 5) ? CKPT_FD_KIND_FIFO : CKPT_FD_KIND_PIPE;
		return; /* contents after every fd is known */
	case S_IFSOCK: {
		struct ckpt_fd_socket_fixed s = {0};
		socket_info(pidfd, (int)f->f.fd, &s);
		const struct unix_sock *u = s.family == AF_UNIX ? find_unix(st->st_ino) : NULL;
		if (u) {
			s.state = u->state;
			s.peer_ino = u->named ? 0 : u->peer; /* only unnamed pairs are recreated */
			s.shutdown = u->shutdown;
		}
		struct buf b = {0};
		buf_put(&b, &s, sizeof(s));
		put_extra(f, &b);
		f->f.kind = CKPT_FD_KIND_SOCKET;
		if (f->f.fd <= 2 || (s.family == AF_UNIX && s.peer_ino))
			return; /* stdio is replaced at restore; a pair is decided once every fd is known */
		f->unsupported = 1;
		int tcp = (s.family == AF_INET || s.family == AF_INET6) && s.type == SOCK_STREAM && s.state == 1;
		add_unsupported(p, tcp ? CKPT_UNSUPPORTED_KIND_TCP_SOCKET : CKPT_UNSUPPORTED_KIND_FD, (int32_t)f->f.fd, 0, link,
				tcp ? "fd %u: an established TCP connection (restoring it needs TCP_REPAIR, CAP_NET_ADMIN)"
				    : "fd %u: sockets other than socketpairs inside the process are not checkpointed",
				f->f.fd);
		return;
	}
	default:
		f->f.kind = CKPT_FD_KIND_UNKNOWN;
		f->unsupported = 1;
		add_unsupported(p, CKPT_UNSUPPORTED_KIND_FD, (int32_t)f->f.fd, 0, link, "fd %u: unknown kind of file", f->f.fd);
	}
}

int files_capture(pid_t pid, struct proc_state *p)
{
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
		return fail_errno(EXIT_FAIL, "pidfd_open(%d)", pid);
	}
	p->fds = xcalloc(n, sizeof(*p->fds));
	load_unix_socks();
	int rc = -1;
	for (size_t i = 0; i < n; i++) {
		struct fd_state *f = &p->fds[p->nfds];
		char path[96];
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fds[i]);
		f->path = read_link(path);
		struct stat st;
		if (!f->path || stat(path, &st) < 0) {
			free(f->path);
			f->path = NULL;
			if (errno == ENOENT)
				continue; /* closed meanwhile by another process sharing the table */
			fail_errno(EXIT_PERM, "cannot inspect %s", path);
			goto out;
		}
		char *info = read_filef(NULL, "/proc/%d/fdinfo/%d", pid, fds[i]);
		if (!info) {
			fail_errno(EXIT_PERM, "cannot read /proc/%d/fdinfo/%d", pid, fds[i]);
			goto out;
		}
		p->nfds++;
		f->f.fd = (uint32_t)fds[i];
		f->f.pos = fdinfo_num(info, "pos", 10);
		uint32_t flags = (uint32_t)fdinfo_num(info, "flags", 8);
		f->f.fd_flags = (flags & O_CLOEXEC) ? FD_CLOEXEC : 0;
		f->f.flags = flags & ~(uint32_t)O_CLOEXEC;
		f->f.mode = st.st_mode;
		f->f.dev = st.st_dev;
		f->f.ino = st.st_ino;
		f->f.size = (uint64_t)st.st_size;
		f->dup_of = -1;
		classify_fd(p, f, &st, info, pidfd);
		if (strstr(info, "\nlock:")) {
			f->unsupported = 1;
			add_unsupported(p, CKPT_UNSUPPORTED_KIND_FD, (int32_t)f->f.fd, 0, f->path, "fd %u holds a file lock", f->f.fd);
		}
		free(info);
		/* the same open file description as an earlier fd? */
		for (size_t j = 0; j + 1 < p->nfds; j++) {
			const struct fd_state *o = &p->fds[j];
			if (o->f.ino == f->f.ino && o->f.dev == f->f.dev && o->dup_of < 0 &&
			    syscall(SYS_kcmp, pid, pid, KCMP_FILE, o->f.fd, f->f.fd) == 0) {
				f->dup_of = (int32_t)o->f.fd;
				break;
			}
		}
	}
	/* pipes and FIFOs: which have both ends here, and what is buffered in those */
	for (size_t i = 0; i < p->nfds; i++) {
		struct fd_state *f = &p->fds[i];
		if (f->f.kind != CKPT_FD_KIND_PIPE && f->f.kind != CKPT_FD_KIND_FIFO)
			continue;
		struct buf b = {0};
		struct ckpt_fd_pipe_fixed pf = {.pipe_ino = f->f.ino};
		buf_put(&b, &pf, sizeof(pf));
		int first = 1;
		for (size_t j = 0; j < i; j++)
			if ((p->fds[j].f.kind == CKPT_FD_KIND_PIPE || p->fds[j].f.kind == CKPT_FD_KIND_FIFO) && p->fds[j].f.ino == f->f.ino)
				first = 0;
		uint8_t *data = NULL;
		uint32_t len = 0;
		if (pipe_has_both_ends(p, f->f.ino)) {
			if (first) {
				/* tee reads from a read end */
				size_t r = i;
				for (size_t j = i; j < p->nfds; j++)
					if (p->fds[j].f.ino == f->f.ino && (p->fds[j].f.flags & O_ACCMODE) != O_WRONLY) {
						r = j;
						break;
					}
				if (pipe_contents(pidfd, (int)p->fds[r].f.fd, &data, &len) < 0) {
					buf_free(&b);
					goto out;
				}
			}
		} else if (f->f.kind == CKPT_FD_KIND_PIPE && !is_stdio_replaceable(p, f)) {
			f->unsupported = 1;
			add_unsupported(p, CKPT_UNSUPPORTED_KIND_FD, (int32_t)f->f.fd, 0, f->path,
					"fd %u: a pipe whose other end is outside the process", f->f.fd);
		}
		buf_lbytes(&b, data, len);
		free(data);
		put_extra(f, &b);
	}
	/* unix sockets: pairs inside the process keep what is queued; the rest cannot be restored */
	for (size_t i = 0; i < p->nfds; i++) {
		struct fd_state *f = &p->fds[i];
		const struct ckpt_fd_socket_fixed *s = sock_of(f);
		if (!s || s->family != AF_UNIX || f->dup_of >= 0)
			continue;
		if (!socket_peer(p, f)) {
			if (f->f.fd > 2 && !f->unsupported) {
				f->unsupported = 1;
				add_unsupported(p, CKPT_UNSUPPORTED_KIND_FD, (int32_t)f->f.fd, 0, f->path,
						"fd %u: a unix socket whose peer is outside the process", f->f.fd);
			}
			continue;
		}
		struct buf q = {0};
		int r = socket_queue(pidfd, f, s->type, &q);
		if (r < 0) {
			buf_free(&q);
			goto out;
		}
		if (r > 0) {
			f->unsupported = 1;
			add_unsupported(p, CKPT_UNSUPPORTED_KIND_FD, (int32_t)f->f.fd, 0, f->path,
					"fd %u: file descriptors or oversized messages in flight on a unix socket", f->f.fd);
		}
		struct buf b = {0};
		buf_put(&b, f->extra, sizeof(*s));
		buf_lbytes(&b, q.p, (uint32_t)q.len);
		buf_free(&q);
		free(f->extra);
		put_extra(f, &b);
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

uint32_t files_write(struct image_writer *w, const struct proc_state *p, uint32_t proc_tag)
{
	uint32_t tag = iw_record(w, CKPT_RECORD_TYPE_FILES, proc_tag, &p->files, sizeof(p->files));
	if (!tag)
		return 0;
	for (size_t i = 0; i < p->nfds; i++) {
		const struct fd_state *f = &p->fds[i];
		struct buf b = {0};
		buf_put(&b, &f->f, sizeof(f->f));
		buf_lstr(&b, f->path);
		buf_lbytes(&b, f->extra, f->extra_len);
		buf_u32(&b, (uint32_t)f->dup_of);
		uint32_t t = iw_record(w, CKPT_RECORD_TYPE_FD, tag, b.p, (uint32_t)b.len);
		buf_free(&b);
		if (!t)
			return 0;
	}
	return tag;
}

int files_read(const struct image *im, const struct image_record *r, struct proc_state *p)
{
	struct rcur c;
	rc_init(&c, im, r);
	return rc_get(&c, &p->files, sizeof(p->files), "files");
}

/* The kind-specific part of an fd, read as the .ksy's switch on `kind` reads it: every field it
 * names must be there, and appended fields (`if: not _io.eof`) whole or not at all. */
static int fd_extra_check(struct rcur *x, uint16_t kind)
{
	uint8_t *data;
	uint32_t len;
	int r = 0;
	switch (kind) {
	case CKPT_FD_KIND_PIPE:
	case CKPT_FD_KIND_FIFO:
		if (!rc_ptr(x, 8, "pipe_ino") || rc_lbytes(x, &data, &len, "pipe data") < 0)
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
	case CKPT_FD_KIND_SOCKET: {
		uint64_t peer;
		uint32_t shut;
		if (!rc_ptr(x, 12, "socket family, type and state"))
			return -1;
		if ((r = rc_opt(x, &peer, 8, "socket peer_ino")) <= 0 || (r = rc_opt(x, &shut, 4, "socket shutdown")) <= 0)
			return r;
		if (x->pos == x->end)
			return 0;
		if (rc_lbytes(x, &data, &len, "socket queue") < 0)
			return -1;
		free(data);
		return 0;
	}
	case CKPT_FD_KIND_TTY:
		return rc_ptr(x, CKPT_FD_TTY_FIXED_SIZE, "tty rdev") ? 0 : -1;
	default:
		return 0;
	}
}

int fd_read(const struct image *im, const struct image_record *r, struct fd_state *f)
{
	memset(f, 0, sizeof(*f));
	f->dup_of = -1;
	struct rcur c, x;
	rc_init(&c, im, r);
	if (rc_get(&c, &f->f, sizeof(f->f), "fd fixed fields") < 0 || rc_lstr(&c, &f->path, "path") < 0 ||
	    rc_get(&c, &f->extra_len, 4, "extra_len") < 0 || rc_sub(&c, &x, f->extra_len, "extra") < 0 ||
	    fd_extra_check(&x, f->f.kind) < 0 || rc_opt(&c, &f->dup_of, 4, "dup_of") < 0)
		return -1;
	f->extra = xmalloc(f->extra_len + 1);
	memcpy(f->extra, r->payload + x.end - f->extra_len, f->extra_len);
	/* Descriptor numbers stay below the kernel's nr_open ceiling (2^30), so fd arithmetic cannot
	 * overflow; dup_of names a lower descriptor of the same file table. */
	if (!ckpt_valid_fd_fd(&f->f, f->f.fd))
		return image_bad(im, r, r->off + 32, "fd %u is beyond any descriptor number", f->f.fd);
	if (!ckpt_valid_fd_dup_of(&f->f, f->dup_of))
		return image_bad(im, r, r->off + 32, "fd %u: dup_of %d does not name a lower descriptor", f->f.fd, f->dup_of);
	return 0;
}

/* ---- restore (in the child) ---- */

static int g_tmp_base;

/* Moves a freshly made fd above every number the image uses. */
static int fd_high(int fd)
{
	if (fd < 0 || fd >= g_tmp_base)
		return fd;
	int h = fcntl(fd, F_DUPFD, g_tmp_base);
	int e = errno;
	close(fd);
	errno = e;
	return h;
}

static int fd_place(int fd, int target, int cloexec, int keep_source)
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

static int fd_skipped(const struct proc_state *p, uint32_t fd)
{
	for (size_t i = 0; i < p->nunsup; i++)
		if (p->unsup[i].f.fd == (int32_t)fd)
			return 1;
	return 0;
}

static int open_stdio(int fd, const struct stdio_plan *sp)
{
	if (sp->mode == STDIO_INHERIT)
		return sp->saved[fd] >= 0 ? fcntl(sp->saved[fd], F_DUPFD, g_tmp_base) : fd_high(open("/dev/null", O_RDWR));
	if (sp->mode == STDIO_NULL || fd == 0)
		return fd_high(open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY));
	return fd_high(open(sp->path, O_WRONLY | O_CREAT | O_APPEND, 0600));
}

static uint32_t pipe_data_len(const struct fd_state *f)
{
	uint32_t len;
	memcpy(&len, f->extra + CKPT_FD_PIPE_FIXED_SIZE, 4);
	return len;
}

static int put_pipe_data(int wfd, const struct fd_state *f)
{
	uint32_t len = pipe_data_len(f);
	if (!len)
		return 0;
	if ((int)len > fcntl(wfd, F_GETPIPE_SZ) && fcntl(wfd, F_SETPIPE_SZ, len) < 0)
		return fail_errno(EXIT_FAIL, "fd %u: cannot grow the pipe to %u bytes", f->f.fd, len);
	int fl = fcntl(wfd, F_GETFL);
	fcntl(wfd, F_SETFL, fl | O_NONBLOCK);
	ssize_t n = write(wfd, f->extra + CKPT_FD_PIPE_FIXED_SIZE + 4, len);
	fcntl(wfd, F_SETFL, fl);
	if (n != (ssize_t)len)
		return fail_errno(EXIT_FAIL, "fd %u: cannot put back the %u bytes the pipe held", f->f.fd, len);
	return 0;
}

/* A FIFO end opened without blocking: a reader is opened first when needed so that opening
 * the write end does not fail with ENXIO, and the blocking mode is set afterwards. */
static int open_fifo(const struct fd_state *f)
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

/* Every internal pipe: one pipe2, its buffered bytes, and each end at its fd numbers. */
static int make_pipes(const struct proc_state *p)
{
	for (size_t i = 0; i < p->nfds; i++) {
		const struct fd_state *f = &p->fds[i];
		if (f->f.kind != CKPT_FD_KIND_PIPE || f->dup_of >= 0 || fd_skipped(p, f->f.fd) || is_stdio_replaceable(p, f))
			continue;
		int seen = 0;
		for (size_t j = 0; j < i; j++)
			seen |= p->fds[j].f.kind == CKPT_FD_KIND_PIPE && p->fds[j].f.ino == f->f.ino;
		if (seen)
			continue;
		int pp[2];
		if (pipe2(pp, 0) < 0)
			return fail_errno(EXIT_FAIL, "pipe2");
		pp[0] = fd_high(pp[0]);
		pp[1] = fd_high(pp[1]);
		int rc = 0;
		for (size_t j = i; j < p->nfds && rc == 0; j++) {
			const struct fd_state *g = &p->fds[j];
			if (g->f.kind != CKPT_FD_KIND_PIPE || g->f.ino != f->f.ino || fd_skipped(p, g->f.fd))
				continue;
			if (pipe_data_len(g))
				rc = put_pipe_data(pp[1], g);
			if (g->dup_of >= 0)
				continue;
			int end = (g->f.flags & O_ACCMODE) == O_WRONLY ? pp[1] : pp[0];
			fcntl(end, F_SETFL, (int)(g->f.flags & O_NONBLOCK));
			if (rc == 0)
				rc = fd_place(end, (int)g->f.fd, g->f.fd_flags & FD_CLOEXEC, 1);
		}
		close(pp[0]);
		close(pp[1]);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* Every socketpair inside the process: one socketpair(2), each end at its fd numbers, what was
 * queued on each end sent again through the other, then the shutdowns. */
static int send_all(int fd, const uint8_t *p, size_t n, int dgram)
{
	int big = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	while (n) {
		ssize_t k = dgram ? send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) : write(fd, p, n);
		if (k < 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int requeue_socket(int via, const struct fd_state *f, uint32_t type)
{
	const uint8_t *q = f->extra + sizeof(struct ckpt_fd_socket_fixed);
	uint32_t len;
	memcpy(&len, q, 4);
	q += 4;
	int fl = fcntl(via, F_GETFL);
	fcntl(via, F_SETFL, fl | O_NONBLOCK);
	int rc = 0;
	if (type == SOCK_STREAM) {
		rc = send_all(via, q, len, 0);
	} else {
		for (uint32_t at = 0; at + 4 <= len && rc == 0;) {
			uint32_t m;
			memcpy(&m, q + at, 4);
			if (m > len - at - 4)
				break;
			rc = send_all(via, q + at + 4, m, 1);
			at += 4 + m;
		}
	}
	fcntl(via, F_SETFL, fl);
	if (rc < 0)
		return fail_errno(EXIT_FAIL, "fd %u: cannot queue again the %u bytes its socket held", f->f.fd, len);
	return 0;
}

static int make_socketpairs(const struct proc_state *p)
{
	for (size_t i = 0; i < p->nfds; i++) {
		const struct fd_state *a = &p->fds[i];
		const struct fd_state *b = socket_peer_with_queues(p, a);
		if (!b || a->dup_of >= 0 || b->f.fd < a->f.fd || fd_skipped(p, a->f.fd) || fd_skipped(p, b->f.fd))
			continue;
		const struct ckpt_fd_socket_fixed *sa = sock_of(a), *sb = sock_of(b);
		int sv[2];
		if (socketpair(AF_UNIX, (int)sa->type, 0, sv) < 0)
			return fail_errno(EXIT_FAIL, "fd %u: socketpair", a->f.fd);
		sv[0] = fd_high(sv[0]);
		sv[1] = fd_high(sv[1]);
		int rc = requeue_socket(sv[1], a, sa->type) < 0 || requeue_socket(sv[0], b, sa->type) < 0 ? -1 : 0;
		static const int how[] = {-1, SHUT_RD, SHUT_WR, SHUT_RDWR};
		if (rc == 0 && (sa->shutdown & 3))
			shutdown(sv[0], how[sa->shutdown & 3]);
		if (rc == 0 && (sb->shutdown & 3))
			shutdown(sv[1], how[sb->shutdown & 3]);
		for (int k = 0; k < 2 && rc == 0; k++) {
			const struct fd_state *f = k ? b : a;
			fcntl(sv[k], F_SETFL, (int)(f->f.flags & O_NONBLOCK));
			rc = fd_place(sv[k], (int)f->f.fd, f->f.fd_flags & FD_CLOEXEC, 1);
		}
		close(sv[0]);
		close(sv[1]);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int make_fd(const struct proc_state *p, const struct fd_state *f, const struct stdio_plan *sp)
{
	int fd = -1;
	uint32_t oflags = f->f.flags & ~(uint32_t)(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC);
	if (is_stdio_replaceable(p, f)) {
		fd = open_stdio((int)f->f.fd, sp);
		if (fd < 0)
			return fail_errno(denied_or(EXIT_FAIL), "cannot set up stdio fd %u%s%s", f->f.fd,
					  sp->mode == STDIO_PATH ? " in " : "", sp->mode == STDIO_PATH ? sp->path : "");
		return fd_place(fd, (int)f->f.fd, 0, 0);
	}
	switch (f->f.kind) {
	case CKPT_FD_KIND_PIPE:
		return 0; /* made by make_pipes */
	case CKPT_FD_KIND_SOCKET:
		if (socket_peer_with_queues(p, f))
			return 0; /* made by make_socketpairs */
		return fail(EXIT_UNSUPPORTED, "fd %u: this socket cannot be restored", f->f.fd);
	case CKPT_FD_KIND_REGULAR:
	case CKPT_FD_KIND_DIRECTORY:
	case CKPT_FD_KIND_CHR:
	case CKPT_FD_KIND_BLK:
		fd = fd_high(open(f->path, (int)oflags));
		if (fd < 0)
			return fail_errno(denied_or(EXIT_FAIL), "fd %u: cannot open %s", f->f.fd, f->path);
		if (f->f.kind == CKPT_FD_KIND_REGULAR) {
			struct stat st;
			if (fstat(fd, &st) == 0 && (st.st_ino != f->f.ino || st.st_dev != f->f.dev))
				child_warn("fd %u: %s is another file than at the checkpoint", f->f.fd, f->path);
		}
		if (f->f.pos && f->f.kind != CKPT_FD_KIND_CHR && lseek(fd, (off_t)f->f.pos, SEEK_SET) < 0)
			return fail_errno(EXIT_FAIL, "fd %u: cannot seek %s to %llu", f->f.fd, f->path, (unsigned long long)f->f.pos);
		break;
	case CKPT_FD_KIND_FIFO:
		fd = fd_high(open_fifo(f));
		if (fd < 0)
			return fail_errno(denied_or(EXIT_FAIL), "fd %u: cannot open the FIFO %s", f->f.fd, f->path);
		break;
	case CKPT_FD_KIND_EVENTFD: {
		struct ckpt_fd_eventfd e;
		memcpy(&e, f->extra, sizeof(e));
		fd = fd_high(eventfd(0, (int)(e.flags & EFD_SEMAPHORE)));
		if (fd < 0)
			return fail_errno(EXIT_FAIL, "fd %u: eventfd", f->f.fd);
		if (e.count && write(fd, &e.count, 8) != 8)
			return fail_errno(EXIT_FAIL, "fd %u: cannot set the eventfd counter", f->f.fd);
		fcntl(fd, F_SETFL, (int)(f->f.flags & O_NONBLOCK));
		break;
	}
	case CKPT_FD_KIND_EPOLL:
		fd = fd_high(epoll_create1(0));
		if (fd < 0)
			return fail_errno(EXIT_FAIL, "fd %u: epoll_create1", f->f.fd);
		break;
	default:
		return fail(EXIT_UNSUPPORTED, "fd %u: kind %u cannot be restored", f->f.fd, f->f.kind);
	}
	return fd_place(fd, (int)f->f.fd, f->f.fd_flags & FD_CLOEXEC, 0);
}

static int fill_epoll(const struct proc_state *p, const struct fd_state *f)
{
	uint32_t cnt;
	memcpy(&cnt, f->extra, 4);
	for (uint32_t k = 0; k < cnt; k++) {
		struct ckpt_epoll_target t;
		memcpy(&t, f->extra + 4 + k * sizeof(t), sizeof(t));
		if (fd_skipped(p, t.tfd) || fcntl((int)t.tfd, F_GETFD) < 0) {
			child_warn("fd %u: epoll target fd %u is not restored, left out", f->f.fd, t.tfd);
			continue;
		}
		struct epoll_event ev = {.events = t.events, .data.u64 = t.data};
		if (epoll_ctl((int)f->f.fd, EPOLL_CTL_ADD, (int)t.tfd, &ev) < 0 &&
		    !((t.events & EPOLLWAKEUP) && (ev.events &= ~EPOLLWAKEUP, epoll_ctl((int)f->f.fd, EPOLL_CTL_ADD, (int)t.tfd, &ev) == 0)))
			return fail_errno(EXIT_FAIL, "fd %u: cannot watch fd %u again (epoll_ctl)", f->f.fd, t.tfd);
	}
	return 0;
}

/* The whole fd table of the image, built in the restore child, whose own fds are already out
 * of the way (at or above tmp_base's helpers). */
int files_apply_in_child(const struct proc_state *p, const struct stdio_plan *sp, int tmp_base)
{
	g_tmp_base = tmp_base;
	if (make_pipes(p) < 0 || make_socketpairs(p) < 0)
		return -1;
	for (size_t i = 0; i < p->nfds; i++) {
		const struct fd_state *f = &p->fds[i];
		if (f->dup_of >= 0 || fd_skipped(p, f->f.fd))
			continue;
		if (make_fd(p, f, sp) < 0)
			return -1;
	}
	for (size_t i = 0; i < p->nfds; i++) {
		const struct fd_state *f = &p->fds[i];
		if (f->dup_of < 0 || fd_skipped(p, f->f.fd))
			continue;
		if (fcntl(f->dup_of, F_GETFD) < 0) {
			child_warn("fd %u: the fd it shares a file with (%d) is not restored, left out", f->f.fd, f->dup_of);
			continue;
		}
		if (fd_place(f->dup_of, (int)f->f.fd, f->f.fd_flags & FD_CLOEXEC, 1) < 0)
			return -1;
	}
	for (size_t i = 0; i < p->nfds; i++) {
		const struct fd_state *f = &p->fds[i];
		if (fd_skipped(p, f->f.fd))
			continue;
		if (f->f.kind == CKPT_FD_KIND_EPOLL && f->dup_of < 0 && fill_epoll(p, f) < 0)
			return -1;
		/* a FIFO with both ends here gets its bytes back through a write end */
		if (f->f.kind == CKPT_FD_KIND_FIFO && pipe_data_len(f)) {
			for (size_t j = 0; j < p->nfds; j++)
				if (p->fds[j].f.ino == f->f.ino && (p->fds[j].f.flags & O_ACCMODE) != O_RDONLY && !fd_skipped(p, p->fds[j].f.fd)) {
					if (put_pipe_data((int)p->fds[j].f.fd, f) < 0)
						return -1;
					break;
				}
		}
	}
	return 0;
}

int files_max_fd(const struct proc_state *p)
{
	int m = 2;
	for (size_t i = 0; i < p->nfds; i++)
		if ((int)p->fds[i].f.fd > m)
			m = (int)p->fds[i].f.fd;
	return m;
}
