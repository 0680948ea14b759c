/* Sockets: what a socket of a checkpointed process is (family, type, state, from the socket itself
 * and from sock_diag for unix sockets), what waits in the queues of socket pairs between the
 * processes of the tree (peeked, nothing is consumed), and, at restore, the pairs made again with
 * those queues and their shutdown state. */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

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

static const struct ckpt_fd_socket_fixed *sock_of(const struct file_state *f)
{
	return f->f.kind == CKPT_FD_KIND_SOCKET && f->extra_len >= sizeof(struct ckpt_fd_socket_fixed)
		       ? (const struct ckpt_fd_socket_fixed *)f->extra
		       : NULL;
}

/* What waits in a unix socket's receive queue, peeked from a pidfd_getfd copy at peek offset
 * 0 (the socket's own SO_PEEK_OFF is put back after). Datagrams keep their boundaries: each is a
 * u32 length and its bytes. Returns 1 when fds or credentials are in flight (unsupported). */
static int socket_queue(int pidfd, pid_t pid, int fd, uint32_t type, struct buf *out)
{
	int sk = steal_fd(pidfd, fd);
	if (sk < 0)
		return unreachable(pid, fd, "socket", "pidfd_getfd");
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
					for (int *f = (int *)CMSG_DATA(c); (char *)f < (char *)c + c->cmsg_len; f++)
						close(*f);
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

/* ---- dump ---- */

/* A socket: family, type and state; for a unix socket its peer and shutdown state (its queue
 * comes in sock_finish, once the tree's sockets are known). */
const char *sock_describe(struct file_state *f, const struct stat *st, int pidfd, int fd, uint16_t *what)
{
	struct buf b = {0};
	if (!unix_socks)
		load_unix_socks();
	struct ckpt_fd_socket_fixed s = {0};
	socket_info(pidfd, fd, &s);
	const struct unix_sock *u = s.family == AF_UNIX ? find_unix(st->st_ino) : NULL;
	if (u) {
		s.state = u->state;
		s.peer_ino = u->named ? 0 : u->peer; /* only unnamed pairs are recreated */
		s.shutdown = u->shutdown;
	}
	buf_put(&b, &s, sizeof(s));
	buf_u32(&b, 0); /* the queue, for a pair inside the tree: files_finish */
	put_extra(f, &b);
	f->f.kind = CKPT_FD_KIND_SOCKET;
	f->external = 1; /* until files_finish finds its peer in the tree */
	if (s.family == AF_UNIX && s.peer_ino)
		return NULL;
	if ((s.family == AF_INET || s.family == AF_INET6) && s.type == SOCK_STREAM && s.state == 1) {
		*what = CKPT_UNSUPPORTED_KIND_TCP_SOCKET;
		return "an established TCP connection (restoring it needs TCP_REPAIR, CAP_NET_ADMIN)";
	}
	return "sockets other than socketpairs inside the checkpoint are not checkpointed";
}

/* A unix socket whose peer the tree holds: that peer (an index + 1 until the tags are given), and
 * what waits in its queue. */
int sock_finish(struct tree *t, struct file_state *f)
{
	struct ckpt_fd_socket_fixed *s = (struct ckpt_fd_socket_fixed *)f->extra;
	if (s->family != AF_UNIX || !s->peer_ino)
		return 0;
	for (size_t j = 0; j < t->nfiles && !s->peer; j++) {
		const struct ckpt_fd_socket_fixed *o = sock_of(&t->files[j]);
		if (o && t->files[j].f.ino == s->peer_ino && o->peer_ino == f->f.ino)
			s->peer = (uint32_t)j + 1; /* an index for now: tags are given when written */
	}
	if (!s->peer)
		return 0;
	f->external = 0;
	struct buf q = {0};
	int pidfd = (int)syscall(SYS_pidfd_open, f->pid, 0);
	int r = pidfd < 0 ? unreachable(f->pid, f->fd, "socket", "pidfd_open") : socket_queue(pidfd, f->pid, f->fd, s->type, &q);
	if (pidfd >= 0)
		close(pidfd);
	if (r < 0) {
		buf_free(&q);
		return -1;
	}
	if (r > 0)
		f->external = 2; /* fds or oversized messages in flight: the fds that hold it are refused below */
	set_trailing_bytes(f, sizeof(*s), q.p, (uint32_t)q.len);
	buf_free(&q);
	return 0;
}

/* The peer as a tag, once the files have theirs. */
void sock_set_tags(const struct tree *t, struct file_state *f)
{
	if (!sock_of(f))
		return;
	struct ckpt_fd_socket_fixed *s = (struct ckpt_fd_socket_fixed *)f->extra;
	if (s->peer)
		s->peer = t->files[s->peer - 1].tag;
}

int sock_extra_check(struct rcur *x)
{
	uint8_t *data;
	uint32_t len;
	if (!rc_ptr(x, sizeof(struct ckpt_fd_socket_fixed), "socket fixed fields") || rc_lbytes(x, &data, &len, "socket queue") < 0)
		return -1;
	free(data);
	return 0;
}

/* A socket the restoring side supplies (as stdio): one without a peer in the image. */
int sock_external(const struct file_state *f)
{
	return !sock_of(f) || !sock_of(f)->peer;
}

/* Whether o is made by the process that makes f, together with it: the two ends of a pair. */
int sock_made_with(const struct file_state *f, const struct file_state *o)
{
	return f->f.kind == CKPT_FD_KIND_SOCKET && sock_of(f) && sock_of(f)->peer == o->tag;
}

/* ---- restore ---- */

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

/* What was queued for a socket, sent again through its peer. */
static int requeue_socket(int via, const struct file_state *f)
{
	const struct ckpt_fd_socket_fixed *s = sock_of(f);
	const uint8_t *q = f->extra + sizeof(*s);
	uint32_t len;
	memcpy(&len, q, 4);
	q += 4;
	int fl = fcntl(via, F_GETFL);
	fcntl(via, F_SETFL, fl | O_NONBLOCK);
	int rc = 0;
	if (s->type == SOCK_STREAM) {
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
		return fail_errno(EXIT_FAIL, "%s: cannot queue again the %u bytes its socket held", f->path, len);
	return 0;
}

/* Both ends of a socket pair of the image, each with what was queued for it, and the shutdowns. */
int sock_make(const struct tree *t, const struct file_state *a)
{
	int bi = file_by_tag(t, sock_of(a)->peer);
	const struct file_state *b = &t->files[bi];
	const struct ckpt_fd_socket_fixed *sa = sock_of(a), *sb = sock_of(b);
	int sv[2];
	if (socketpair(AF_UNIX, (int)sa->type | SOCK_CLOEXEC, 0, sv) < 0)
		return fail_errno(EXIT_FAIL, "%s: socketpair", a->path);
	sv[0] = fd_high(sv[0]);
	sv[1] = fd_high(sv[1]);
	int rc = requeue_socket(sv[1], a) < 0 || requeue_socket(sv[0], b) < 0 ? -1 : 0;
	static const int how[] = {-1, SHUT_RD, SHUT_WR, SHUT_RDWR};
	if (rc == 0 && (sa->shutdown & 3))
		shutdown(sv[0], how[sa->shutdown & 3]);
	if (rc == 0 && (sb->shutdown & 3))
		shutdown(sv[1], how[sb->shutdown & 3]);
	if (rc == 0 && (to_slot(sv[0], a, 1) < 0 || to_slot(sv[1], b, 1) < 0))
		rc = -1;
	return rc;
}
