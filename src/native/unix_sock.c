/* Unix sockets, and what every socket has: family, type, state, names and options (read from a
 * pidfd_getfd copy of the socket itself and, for unix sockets, from sock_diag: peers, listeners'
 * queues of connections not yet accepted, shutdown state). At dump, what waits in a socket's
 * receive queue is peeked (nothing is consumed). At restore a unix socket is made again as
 * what it was: a pair with its peer of the image; a listener, bound again to its name, with the
 * connections it had accepted connected and accepted again (so both ends keep their names) and
 * those it had not accepted left in its queue; a datagram socket connected to another of the
 * image; an unconnected, perhaps bound, socket; or one whose peer is gone, made as closed by the
 * peer. TCP and UDP are inet_sock.c's; the payload's parts, sock_view.c's. */
#include "ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdslots.h"
#include "sock_view.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int g_sock_external_unix;

/* ---- dump: sock_diag ---- */

/* AF_UNIX sockets of this network namespace, from sock_diag: peer, name, shutdown, and for a
 * listener the peers of the connections in its queue (the clients; the queued sockets have no
 * inode yet) and its backlog. */
struct unix_sock {
	uint32_t ino, peer, state, shutdown;
	uint32_t rqlen, wqlen;
	int named;
	uint32_t *icons, nicons;
};
static struct unix_sock *unix_socks;
static size_t nunix;

static void load_unix_socks(void)
{
	for (size_t i = 0; i < nunix; i++)
		free(unix_socks[i].icons);
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
		.r = {.sdiag_family = AF_UNIX,
		      .udiag_states = ~0U,
		      .udiag_show = UDIAG_SHOW_PEER | UDIAG_SHOW_NAME | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN},
	};
	size_t cap = 0;
	if (send(nl, &req, sizeof(req), 0) == (ssize_t)sizeof(req)) {
		long buf[16384 / sizeof(long)];
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
					else if (a->rta_type == UNIX_DIAG_RQLEN && RTA_PAYLOAD(a) >= sizeof(struct unix_diag_rqlen)) {
						struct unix_diag_rqlen q;
						memcpy(&q, RTA_DATA(a), sizeof(q));
						u->rqlen = q.udiag_rqueue;
						u->wqlen = q.udiag_wqueue;
					} else if (a->rta_type == UNIX_DIAG_ICONS && RTA_PAYLOAD(a) >= 4) {
						u->nicons = (uint32_t)(RTA_PAYLOAD(a) / 4);
						u->icons = xmalloc(u->nicons * 4);
						memcpy(u->icons, RTA_DATA(a), u->nicons * 4);
					}
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

/* The listener in whose queue the connection of client `ino` waits (not accepted yet), or NULL. */
static const struct unix_sock *listener_of(uint64_t ino)
{
	for (size_t i = 0; i < nunix; i++)
		for (uint32_t k = 0; k < unix_socks[i].nicons; k++)
			if (unix_socks[i].icons[k] == ino)
				return &unix_socks[i];
	return NULL;
}

/* "pid 1234 (comm)" of a process holding socket `ino`, as far as /proc lets us see, or NULL. */
static char *socket_holder(uint64_t ino)
{
	char want[48];
	snprintf(want, sizeof(want), "socket:[%llu]", (unsigned long long)ino);
	DIR *d = opendir("/proc");
	char *found = NULL;
	for (struct dirent *de; d && !found && (de = readdir(d));) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		char dir[300];
		snprintf(dir, sizeof(dir), "/proc/%s/fd", de->d_name);
		DIR *fds = opendir(dir);
		for (struct dirent *fe; fds && !found && (fe = readdir(fds));) {
			char path[600];
			snprintf(path, sizeof(path), "%s/%s", dir, fe->d_name);
			char *link = fe->d_name[0] == '.' ? NULL : read_link(path);
			if (link && !strcmp(link, want)) {
				char *comm = read_filef(NULL, "/proc/%s/comm", de->d_name);
				if (comm)
					comm[strcspn(comm, "\n")] = 0;
				found = xasprintf("pid %s (%s)", de->d_name, comm ? comm : "?");
				free(comm);
			}
			free(link);
		}
		if (fds)
			closedir(fds);
	}
	if (d)
		closedir(d);
	return found;
}

/* ---- dump: what one socket is ---- */

static int opt_int(int sk, int level, int name)
{
	int v = 0;
	socklen_t l = sizeof(v);
	return getsockopt(sk, level, name, &v, &l) == 0 ? v : 0;
}

/* SO_RCVBUF/SO_SNDBUF when they differ from what a new socket of the kind gets (the program set
 * them), else 0. */
static void buffer_sizes(int sk, int family, int type, struct ckpt_socket_details_fixed *d)
{
	int fresh = socket(family, type | SOCK_CLOEXEC, 0);
	int r = opt_int(sk, SOL_SOCKET, SO_RCVBUF), s = opt_int(sk, SOL_SOCKET, SO_SNDBUF);
	if (fresh < 0 || r != opt_int(fresh, SOL_SOCKET, SO_RCVBUF))
		d->rcvbuf = (uint32_t)r;
	if (fresh < 0 || s != opt_int(fresh, SOL_SOCKET, SO_SNDBUF))
		d->sndbuf = (uint32_t)s;
	if (fresh >= 0)
		close(fresh);
}

const char *sock_describe(struct file_state *f, const struct stat *st, int pidfd, int fd, uint16_t *what)
{
	if (!unix_socks)
		load_unix_socks();
	f->f.kind = CKPT_FD_KIND_SOCKET;
	f->external = 1; /* until sock_finish places it */
	struct sock_view v = {0};
	uint8_t local[sizeof(struct sockaddr_storage)], remote[sizeof(struct sockaddr_storage)];
	socklen_t ll = 0, rl = 0;
	const char *why = NULL;
	int sk = steal_fd(pidfd, fd);
	if (sk >= 0) {
		v.s.family = (uint32_t)opt_int(sk, SOL_SOCKET, SO_DOMAIN);
		v.s.type = (uint32_t)opt_int(sk, SOL_SOCKET, SO_TYPE);
		v.d.protocol = (uint32_t)opt_int(sk, SOL_SOCKET, SO_PROTOCOL);
		ll = sizeof(local);
		if (getsockname(sk, (struct sockaddr *)local, &ll) < 0)
			ll = 0;
		rl = sizeof(remote);
		if (getpeername(sk, (struct sockaddr *)remote, &rl) < 0)
			rl = 0;
		if (opt_int(sk, SOL_SOCKET, SO_ACCEPTCONN))
			v.d.flags |= CKPT_SOCKET_FLAGS_LISTENING;
		if (opt_int(sk, SOL_SOCKET, SO_REUSEADDR))
			v.d.flags |= CKPT_SOCKET_FLAGS_REUSEADDR;
		if (opt_int(sk, SOL_SOCKET, SO_REUSEPORT))
			v.d.flags |= CKPT_SOCKET_FLAGS_REUSEPORT;
		buffer_sizes(sk, (int)v.s.family, (int)v.s.type, &v.d);
	}
	v.local = local, v.local_len = ll;
	v.remote = remote, v.remote_len = rl;
	if (v.s.family == AF_INET || v.s.family == AF_INET6) {
		why = sk >= 0 ? inet_describe(f, sk, &v, what) : "cannot be read";
	} else if (v.s.family == AF_UNIX) {
		const struct unix_sock *u = find_unix(st->st_ino);
		if (u) {
			v.s.state = u->state;
			v.s.peer_ino = u->peer;
			v.s.shutdown = u->shutdown;
			if (v.d.flags & CKPT_SOCKET_FLAGS_LISTENING)
				v.d.backlog = u->wqlen;
		}
		*what = CKPT_UNSUPPORTED_KIND_UNIX_SOCKET;
		if (!u || (v.s.type != SOCK_STREAM && v.s.type != SOCK_DGRAM && v.s.type != SOCK_SEQPACKET))
			why = "a unix socket that sock_diag does not show";
	} else {
		why = "sockets of this family are not checkpointed";
	}
	if (sk >= 0)
		close(sk);
	sock_pack(f, &v);
	return why;
}

/* ---- dump: across the tree ---- */

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

static int held_as_stdio(const struct tree *t, const struct file_state *f)
{
	int file = (int)(f - t->files);
	for (size_t k = 0; k < t->nprocs; k++)
		for (size_t i = 0; i < t->procs[k]->nfds; i++)
			if (t->procs[k]->fds[i].file == file && t->procs[k]->fds[i].f.fd <= 2)
				return 1;
	return 0;
}

static int file_by_ino(const struct tree *t, uint64_t ino)
{
	for (size_t j = 0; j < t->nfiles; j++)
		if (t->files[j].f.kind == CKPT_FD_KIND_SOCKET && t->files[j].f.ino == ino)
			return (int)j;
	return -1;
}

static int same_addr(const struct sock_view *a, const struct sock_view *b)
{
	return a->local_len > offsetof(struct sockaddr_un, sun_path) && a->local_len == b->local_len &&
	       !memcmp(a->local, b->local, a->local_len);
}

/* A unix socket once every socket of the tree is known: where it stands (a pair, a listener's,
 * one whose peer is gone, or outside, which is refused), and what waits in its queue. Peers and
 * listeners are indexes + 1 until the tags are given. TCP and UDP need nothing more. */
int sock_finish(struct tree *t, struct file_state *f)
{
	struct sock_view v;
	if (sock_view(f, &v) < 0 || f->why)
		return 0;
	if (v.s.family != AF_UNIX) {
		f->external = 0; /* TCP and UDP: inet_describe has said all */
		return 0;
	}
	if (held_as_stdio(t, f) && !v.s.peer_ino && !(v.d.flags & CKPT_SOCKET_FLAGS_LISTENING) && v.s.state == 1)
		return 0; /* stdio whose other end has gone: reattached per --stdio, as before */
	char *owner = NULL;
	int outside = 0;
	if (v.d.flags & CKPT_SOCKET_FLAGS_LISTENING) {
		f->external = 0;
		return 0; /* its queue holds connections, which the clients bring */
	}
	if (v.s.peer_ino) {
		int j = file_by_ino(t, v.s.peer_ino);
		if (j >= 0) {
			v.s.peer = (uint32_t)j + 1;
			struct sock_view pv;
			/* accepted from a listener of the tree: its name is the listener's */
			if (v.s.type != SOCK_DGRAM && sock_view(&t->files[j], &pv) == 0 && pv.s.peer_ino == f->f.ino)
				for (size_t k = 0; k < t->nfiles; k++) {
					struct sock_view lv;
					if (sock_view(&t->files[k], &lv) == 0 && lv.s.family == AF_UNIX && (lv.d.flags & CKPT_SOCKET_FLAGS_LISTENING) &&
					    lv.s.type == v.s.type && same_addr(&lv, &v)) {
						v.d.flags |= CKPT_SOCKET_FLAGS_ACCEPTED;
						v.d.listener = (uint32_t)k + 1;
						break;
					}
				}
		} else if (held_as_stdio(t, f)) {
			return 0; /* stdio to outside: reattached per --stdio */
		} else {
			outside = 1;
			owner = socket_holder(v.s.peer_ino);
		}
	} else if (v.s.state == 1 && v.s.type != SOCK_DGRAM) {
		/* connected, no peer: waiting to be accepted, or the peer is gone (a datagram socket
		 * others connected to reads as connected too: it is not) */
		const struct unix_sock *l = listener_of(f->f.ino);
		const struct unix_sock *self = find_unix(f->f.ino);
		int j = l ? file_by_ino(t, l->ino) : -1;
		if (j >= 0) {
			if (self && self->wqlen) {
				char name[128];
				f->what = CKPT_UNSUPPORTED_KIND_UNIX_SOCKET;
				f->why = keep_reason(xasprintf("a connection to %s that its listener has not accepted holds data sent on it, which cannot be read",
							       sock_addr_text(v.remote, v.remote_len, name, sizeof(name))));
				sock_pack(f, &v);
				return 0;
			}
			v.d.flags |= CKPT_SOCKET_FLAGS_PENDING;
			v.d.listener = (uint32_t)j + 1;
		} else if (l) {
			outside = 1;
			char *h = socket_holder(l->ino);
			char name[128];
			owner = xasprintf("the listener %s of %s", sock_addr_text(v.remote, v.remote_len, name, sizeof(name)),
					  h ? h : "a process ckpt cannot see");
			free(h);
		} else {
			v.d.flags |= CKPT_SOCKET_FLAGS_PEER_CLOSED;
		}
	}
	if (outside) {
		v.peer_owner = (const uint8_t *)(owner ? owner : "");
		v.peer_owner_len = owner ? (uint32_t)strlen(owner) : 0;
		if (g_sock_external_unix && !held_as_stdio(t, f)) {
			v.d.flags |= CKPT_SOCKET_FLAGS_PEER_CLOSED;
		} else {
			char name[128], *unseen = NULL;
			f->what = CKPT_UNSUPPORTED_KIND_UNIX_SOCKET;
			f->why = keep_reason(xasprintf("a unix socket%s%s connected to %s, outside the checkpoint (--external unix restores it as closed by the peer)",
						       v.local_len > offsetof(struct sockaddr_un, sun_path) ? " " : "",
						       v.local_len > offsetof(struct sockaddr_un, sun_path) ? sock_addr_text(v.local, v.local_len, name, sizeof(name)) : "",
						       owner ? owner : (unseen = xasprintf("a peer ckpt cannot see (socket:[%llu])", (unsigned long long)v.s.peer_ino))));
			free(unseen);
			sock_pack(f, &v);
			free(owner);
			return 0; /* external: refused above stdio, reattached per --stdio at 0-2 */
		}
	}
	f->external = 0;
	struct buf q = {0};
	int pidfd = (int)syscall(SYS_pidfd_open, f->pid, 0);
	int r = pidfd < 0 ? unreachable(f->pid, f->fd, "socket", "pidfd_open") : socket_queue(pidfd, f->pid, f->fd, v.s.type, &q);
	if (pidfd >= 0)
		close(pidfd);
	if (r < 0) {
		buf_free(&q);
		free(owner);
		return -1;
	}
	if (r > 0)
		f->external = 2; /* fds or oversized messages in flight: the fds that hold it are refused */
	v.queued = q.p;
	v.queued_len = (uint32_t)q.len;
	sock_pack(f, &v);
	buf_free(&q);
	free(owner);
	return 0;
}

/* Peers and listeners as tags, once the files have theirs. */
void sock_set_tags(const struct tree *t, struct file_state *f)
{
	struct sock_view v;
	if (sock_view(f, &v) < 0)
		return;
	if (v.s.peer)
		v.s.peer = t->files[v.s.peer - 1].tag;
	if (v.d.listener)
		v.d.listener = t->files[v.d.listener - 1].tag;
	sock_pack(f, &v);
}

/* ---- restore: planning ---- */

/* A socket the restoring side supplies (as stdio): a format 2.0 socket without a peer in the
 * image, or one recorded as external (its peer outside, no flag saying how to make it). */
int sock_external(const struct file_state *f)
{
	struct sock_view v;
	if (sock_view(f, &v) < 0)
		return 1;
	if (v.s.peer)
		return 0;
	if (!v.has_details)
		return 1;
	if (v.s.family != AF_UNIX)
		return 0;
	if (v.d.flags & (CKPT_SOCKET_FLAGS_LISTENING | CKPT_SOCKET_FLAGS_PEER_CLOSED | CKPT_SOCKET_FLAGS_PENDING))
		return 0;
	/* connected to no one in the image: outside */
	return (v.s.state == 1 && v.s.type != SOCK_DGRAM) || v.peer_owner_len;
}

static uint32_t tie(const struct file_state *f, int listener)
{
	struct sock_view v;
	if (sock_view(f, &v) < 0)
		return 0;
	return listener ? v.d.listener : v.s.peer;
}

int sock_made_with(const struct file_state *f, const struct file_state *o)
{
	if (f->f.kind != CKPT_FD_KIND_SOCKET || o->f.kind != CKPT_FD_KIND_SOCKET)
		return 0;
	return tie(f, 0) == o->tag || tie(o, 0) == f->tag || tie(f, 1) == o->tag || tie(o, 1) == f->tag;
}

void sock_plan(struct tree *t)
{
	/* a group of tied sockets (pairs, a listener with its connections) is made by the lowest
	 * owner of any of them; repeated until stable, as ties chain (client - accepted - listener) */
	for (int changed = 1; changed;) {
		changed = 0;
		for (size_t i = 0; i < t->nfiles; i++) {
			struct file_state *f = &t->files[i];
			if (f->owner < 0 || f->f.kind != CKPT_FD_KIND_SOCKET)
				continue;
			for (size_t j = 0; j < t->nfiles; j++) {
				struct file_state *o = &t->files[j];
				if (o->owner > f->owner && sock_made_with(f, o)) {
					o->owner = f->owner;
					changed = 1;
				}
			}
		}
	}
}

/* ---- restore: making them ---- */

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

/* What was queued for a socket, sent again through `via`: its peer, or a socket connected to it. */
static int requeue(int via, const struct file_state *f, const struct sock_view *v)
{
	const uint8_t *q = v->queued;
	uint32_t len = v->queued_len;
	if (!len)
		return 0;
	int fl = fcntl(via, F_GETFL);
	fcntl(via, F_SETFL, fl | O_NONBLOCK);
	int rc = 0;
	if (v->s.type == SOCK_STREAM) {
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

static void put_shutdown(int fd, const struct sock_view *v)
{
	static const int how[] = {-1, SHUT_RD, SHUT_WR, SHUT_RDWR};
	if (v->s.shutdown & 3)
		shutdown(fd, how[v->s.shutdown & 3]);
}

static int has_name(const struct sock_view *v)
{
	return v->local_len > offsetof(struct sockaddr_un, sun_path);
}

/* Binds a unix socket to its name again. A path left behind by the checkpointed process (a
 * socket file nobody listens on any more) is removed first; one that is in use is not. */
static int bind_unix(const struct tree *t, int sk, const struct file_state *f, const struct sock_view *v)
{
	struct sockaddr_un a;
	if (v->local_len > sizeof(a))
		return fail(EXIT_BADIMAGE, "%s: its unix name is %u bytes long", f->path, v->local_len);
	memset(&a, 0, sizeof(a));
	memcpy(&a, v->local, v->local_len);
	char name[160];
	sock_addr_text(v->local, v->local_len, name, sizeof(name));
	if (a.sun_path[0]) {
		struct stat st;
		char path[sizeof(a.sun_path) + 1] = {0};
		memcpy(path, a.sun_path, v->local_len - offsetof(struct sockaddr_un, sun_path));
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
			int probe = socket(AF_UNIX, (int)v->s.type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
			int r = probe >= 0 ? connect(probe, (struct sockaddr *)&a, (socklen_t)v->local_len) : -1;
			int e = errno;
			if (probe >= 0)
				close(probe);
			if (r < 0 && e == ECONNREFUSED)
				unlink(path);
		}
	}
	if (bind(sk, (struct sockaddr *)&a, (socklen_t)v->local_len) < 0)
		return fail_errno(errno == EADDRINUSE ? EXIT_UNSUPPORTED : denied_or(EXIT_FAIL), "%scannot bind the unix socket to %s again",
				  fd_prefix(t, f), name);
	return 0;
}

static int new_unix(const struct sock_view *v)
{
	return fd_high(socket(AF_UNIX, (int)v->s.type | SOCK_CLOEXEC, 0));
}

static int connect_to(const struct tree *t, int sk, const struct file_state *f, const struct sock_view *target)
{
	int fl = fcntl(sk, F_GETFL);
	fcntl(sk, F_SETFL, fl | O_NONBLOCK);
	int r = connect(sk, (const struct sockaddr *)target->local, (socklen_t)target->local_len);
	int e = errno;
	fcntl(sk, F_SETFL, fl);
	char name[160];
	errno = e;
	if (r < 0)
		return fail_errno(EXIT_FAIL, "%scannot connect the unix socket to %s again", fd_prefix(t, f),
				  sock_addr_text(target->local, target->local_len, name, sizeof(name)));
	return 0;
}

/* Both ends of a pair of the image, each with what was queued for it, names (datagram sockets
 * bind theirs again) and shutdowns. */
static int make_pair(const struct tree *t, const struct file_state *a, const struct sock_view *va)
{
	int bi = file_by_tag(t, va->s.peer);
	struct sock_view vb;
	if (bi < 0 || sock_view(&t->files[bi], &vb) < 0)
		return fail(EXIT_BADIMAGE, "%s: its peer is no socket", a->path);
	const struct file_state *b = &t->files[bi];
	if (b->owner != a->owner)
		return fail(EXIT_FAIL, "%s: its peer is not restored with it", a->path);
	int sv[2];
	if (socketpair(AF_UNIX, (int)va->s.type | SOCK_CLOEXEC, 0, sv) < 0)
		return fail_errno(EXIT_FAIL, "%s: socketpair", a->path);
	sv[0] = fd_high(sv[0]);
	sv[1] = fd_high(sv[1]);
	int rc = 0;
	if (va->s.type == SOCK_DGRAM) {
		if (has_name(va) && bind_unix(t, sv[0], a, va) < 0)
			rc = -1;
		if (rc == 0 && has_name(&vb) && bind_unix(t, sv[1], b, &vb) < 0)
			rc = -1;
	}
	if (rc == 0 && (requeue(sv[1], a, va) < 0 || requeue(sv[0], b, &vb) < 0))
		rc = -1;
	if (rc == 0) {
		put_shutdown(sv[0], va);
		put_shutdown(sv[1], &vb);
	}
	if (rc == 0 && (to_slot(sv[0], a, 1) < 0 || to_slot(sv[1], b, 1) < 0))
		rc = -1;
	return rc;
}

/* A socket whose peer has gone (or was outside, --external unix): a pair whose other end is
 * closed once what was queued is in, so that reads drain the queue and then see EOF. */
static int make_closed(const struct tree *t, const struct file_state *f, const struct sock_view *v)
{
	int sv[2];
	if (socketpair(AF_UNIX, (int)v->s.type | SOCK_CLOEXEC, 0, sv) < 0)
		return fail_errno(EXIT_FAIL, "%s: socketpair", f->path);
	sv[0] = fd_high(sv[0]);
	int rc = requeue(sv[1], f, v);
	close(sv[1]);
	if (rc < 0) {
		close(sv[0]);
		return -1;
	}
	put_shutdown(sv[0], v);
	(void)t;
	return to_slot(sv[0], f, 1);
}

/* A listener bound and listening again; then the connections it had accepted, each connected
 * and accepted again (in that order, before the others), and those it had not, connected and
 * left in its queue. */
static int make_listener(const struct tree *t, const struct file_state *l, const struct sock_view *vl)
{
	int sk = new_unix(vl);
	if (sk < 0)
		return fail_errno(EXIT_FAIL, "%ssocket", fd_prefix(t, l));
	if (has_name(vl) && bind_unix(t, sk, l, vl) < 0) {
		close(sk);
		return -1;
	}
	if (listen(sk, (int)vl->d.backlog) < 0) {
		close(sk);
		return fail_errno(EXIT_FAIL, "%scannot listen on the unix socket again", fd_prefix(t, l));
	}
	if (to_slot(sk, l, 1) < 0)
		return -1;
	for (int pass = 0; pass < 2; pass++) {
		uint32_t flag = pass ? CKPT_SOCKET_FLAGS_PENDING : CKPT_SOCKET_FLAGS_ACCEPTED;
		for (size_t i = 0; i < t->nfiles; i++) {
			const struct file_state *a = &t->files[i];
			struct sock_view va;
			if (sock_view(a, &va) < 0 || !(va.d.flags & flag) || va.d.listener != l->tag || a->owner < 0)
				continue;
			if (!pass) { /* a: the accepted end; its peer the client */
				int ci = file_by_tag(t, va.s.peer);
				struct sock_view vc;
				if (ci < 0 || sock_view(&t->files[ci], &vc) < 0)
					return fail(EXIT_BADIMAGE, "%s: an accepted socket without its peer", a->path);
				const struct file_state *c = &t->files[ci];
				if (c->owner != l->owner)
					return fail(EXIT_FAIL, "%s: its peer is not restored with it", a->path);
				int cs = new_unix(&vc);
				if (cs < 0 || (has_name(&vc) && bind_unix(t, cs, c, &vc) < 0) || connect_to(t, cs, c, vl) < 0)
					return -1;
				int as = fd_high(accept4(l->slot, NULL, NULL, SOCK_CLOEXEC));
				if (as < 0)
					return fail_errno(EXIT_FAIL, "%scannot accept the connection of the unix socket again", fd_prefix(t, a));
				if (requeue(cs, a, &va) < 0 || requeue(as, c, &vc) < 0)
					return -1;
				put_shutdown(as, &va);
				put_shutdown(cs, &vc);
				if (to_slot(as, a, 1) < 0 || to_slot(cs, c, 1) < 0)
					return -1;
			} else { /* a: a client whose connection waits in the queue */
				int cs = new_unix(&va);
				if (cs < 0 || (has_name(&va) && bind_unix(t, cs, a, &va) < 0) || connect_to(t, cs, a, vl) < 0)
					return -1;
				put_shutdown(cs, &va);
				if (to_slot(cs, a, 1) < 0)
					return -1;
			}
		}
	}
	return 0;
}

static int made(const struct file_state *f)
{
	return fcntl(f->slot, F_GETFD) >= 0;
}

int sock_make(const struct tree *t, const struct file_state *f)
{
	struct sock_view v;
	if (sock_view(f, &v) < 0)
		return fail(EXIT_BADIMAGE, "%s: a socket without its fields", f->path);
	if (v.s.family == AF_INET || v.s.family == AF_INET6)
		return inet_make(t, f, &v);
	if (v.d.flags & CKPT_SOCKET_FLAGS_LISTENING)
		return make_listener(t, f, &v);
	if (v.d.flags & (CKPT_SOCKET_FLAGS_ACCEPTED | CKPT_SOCKET_FLAGS_PENDING)) {
		int li = file_by_tag(t, v.d.listener);
		if (li >= 0 && t->files[li].owner == f->owner) {
			if (!made(&t->files[li])) {
				struct sock_view vl;
				if (sock_view(&t->files[li], &vl) < 0 || make_listener(t, &t->files[li], &vl) < 0)
					return -1;
			}
			if (made(f))
				return 0;
		}
		if (v.d.flags & CKPT_SOCKET_FLAGS_PENDING)
			return fail(EXIT_FAIL, "%s%s: its listener is not restored", fd_prefix(t, f), f->path);
		/* the listener is not restored: a plain pair, without the names */
	}
	if (v.d.flags & CKPT_SOCKET_FLAGS_PEER_CLOSED)
		return make_closed(t, f, &v);
	if (v.s.peer) {
		int pi = file_by_tag(t, v.s.peer);
		struct sock_view vp;
		if (pi < 0 || sock_view(&t->files[pi], &vp) < 0)
			return fail(EXIT_BADIMAGE, "%s: its peer is no socket", f->path);
		const struct file_state *p = &t->files[pi];
		if (vp.s.peer == f->tag && (v.d.flags & CKPT_SOCKET_FLAGS_ACCEPTED) == 0 && (vp.d.flags & CKPT_SOCKET_FLAGS_ACCEPTED)) {
			/* the client of an accepted connection: made with it, by its listener */
			if (!made(p) && sock_make(t, p) < 0)
				return -1;
			if (made(f))
				return 0;
		}
		if (vp.s.peer == f->tag)
			return make_pair(t, f, &v);
		/* a datagram socket connected to another that is not connected back: that one first */
		if (!made(p) && sock_make(t, p) < 0)
			return -1;
		int sk = new_unix(&v);
		if (sk < 0 || (has_name(&v) && bind_unix(t, sk, f, &v) < 0))
			return -1;
		if (v.queued_len) { /* a message for it comes from a socket that may send to it: its name */
			int via = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			int r = via < 0 || connect(via, (const struct sockaddr *)v.local, (socklen_t)v.local_len) < 0 ? -1 : requeue(via, f, &v);
			if (via >= 0)
				close(via);
			if (r < 0)
				warn("%sthe %u bytes queued on the unix socket are lost", fd_prefix(t, f), v.queued_len);
		}
		if (connect_to(t, sk, f, &vp) < 0)
			return -1;
		put_shutdown(sk, &v);
		return to_slot(sk, f, 1);
	}
	/* unconnected: perhaps bound, perhaps holding datagrams sent to its name */
	int sk = new_unix(&v);
	if (sk < 0)
		return fail_errno(EXIT_FAIL, "%ssocket", fd_prefix(t, f));
	if (has_name(&v) && bind_unix(t, sk, f, &v) < 0) {
		close(sk);
		return -1;
	}
	if (v.queued_len && has_name(&v)) {
		int via = socket(AF_UNIX, (int)v.s.type | SOCK_CLOEXEC, 0);
		int r = via < 0 || connect(via, (const struct sockaddr *)v.local, (socklen_t)v.local_len) < 0 ? -1 : requeue(via, f, &v);
		if (via >= 0)
			close(via);
		if (r < 0)
			warn("%sthe %u bytes queued on the unix socket are lost", fd_prefix(t, f), v.queued_len);
	}
	put_shutdown(sk, &v);
	return to_slot(sk, f, 1);
}
