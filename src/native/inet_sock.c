/* TCP and UDP sockets, IPv4 and IPv6. A listening TCP socket, a bound (or connected) UDP socket
 * and an unconnected TCP socket are made again on the same address and port, with
 * SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY and the buffer sizes the program set. A TCP connection
 * (established, or in any state but LISTEN and CLOSE) would need TCP_REPAIR, which needs
 * CAP_NET_ADMIN: it is refused, or with `ckpt dump --tcp-close` recorded as reset by the peer
 * and made again as a socket whose peer has reset it. A listener's connections not yet accepted
 * are connections too: refused, or with --tcp-close dropped. Datagrams waiting in a UDP socket
 * are not kept (UDP may lose them anyway). */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdslots.h"
#include "sock_view.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int g_sock_tcp_close;

static int opt_int(int sk, int level, int name)
{
	int v = 0;
	socklen_t l = sizeof(v);
	return getsockopt(sk, level, name, &v, &l) == 0 ? v : 0;
}

static uint16_t port_of(const uint8_t *sa, uint32_t len)
{
	sa_family_t fam = 0;
	if (len >= sizeof(fam))
		memcpy(&fam, sa, sizeof(fam));
	uint16_t port = 0;
	if ((fam == AF_INET && len >= sizeof(struct sockaddr_in)) || (fam == AF_INET6 && len >= sizeof(struct sockaddr_in6)))
		memcpy(&port, sa + offsetof(struct sockaddr_in, sin_port), 2); /* same offset in sockaddr_in6 */
	return port;
}

/* A TCP_REPAIR of the last connection captured: the view points into it until it is packed. */
static struct buf g_tcp;

/* The bytes of one queue, peeked in repair mode (a peek of the send queue reads what was written
 * and not acknowledged). */
static int peek_queue(int sk, int queue, uint32_t *seq, uint32_t len, struct buf *out)
{
	socklen_t l = sizeof(*seq);
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue)) < 0 || getsockopt(sk, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &l) < 0)
		return -1;
	uint8_t *data = xmalloc(len + 1);
	ssize_t n = len ? recv(sk, data, len, MSG_PEEK | MSG_DONTWAIT) : 0;
	if (n == (ssize_t)len)
		buf_lbytes(out, data, len);
	free(data);
	return n == (ssize_t)len ? 0 : -1;
}

/* An established connection as TCP_REPAIR reads it, into g_tcp; -1 with errno (EPERM: no
 * CAP_NET_ADMIN). The socket leaves repair mode again before this returns: the process may be
 * left running. As CRIU without its network lock, bytes a remote peer sends between this and the
 * kill are not in the image. */
static int tcp_capture(int sk)
{
	int on = TCP_REPAIR_ON, off = TCP_REPAIR_OFF;
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) < 0)
		return -1;
	buf_free(&g_tcp);
	struct ckpt_tcp_repair_fixed r = {0};
	struct tcp_info ti;
	struct tcp_repair_window w;
	socklen_t l = sizeof(ti);
	int outq = 0, inq = 0, rc = -1;
	struct buf qs = {0};
	uint32_t write_seq, rcv_nxt;
	if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0 || ioctl(sk, SIOCOUTQ, &outq) < 0 || ioctl(sk, SIOCINQ, &inq) < 0 || outq < 0 || inq < 0)
		goto out;
	if (peek_queue(sk, TCP_SEND_QUEUE, &write_seq, (uint32_t)outq, &qs) < 0 || peek_queue(sk, TCP_RECV_QUEUE, &rcv_nxt, (uint32_t)inq, &qs) < 0)
		goto out;
	r.snd_seq = write_seq - (uint32_t)outq;
	r.rcv_seq = rcv_nxt - (uint32_t)inq;
	r.mss = (uint32_t)opt_int(sk, IPPROTO_TCP, TCP_MAXSEG);
	r.options = ti.tcpi_options;
	r.snd_wscale = ti.tcpi_snd_wscale;
	r.rcv_wscale = ti.tcpi_rcv_wscale;
	r.timestamp = (uint32_t)opt_int(sk, IPPROTO_TCP, TCP_TIMESTAMP);
	l = sizeof(w);
	if (getsockopt(sk, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &l) < 0)
		goto out;
	r.snd_wl1 = w.snd_wl1, r.snd_wnd = w.snd_wnd, r.max_window = w.max_window, r.rcv_wnd = w.rcv_wnd, r.rcv_wup = w.rcv_wup;
	buf_put(&g_tcp, &r, sizeof(r));
	buf_put(&g_tcp, qs.p, qs.len);
	rc = 0;
out:
	{
		int e = errno;
		buf_free(&qs);
		setsockopt(sk, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off));
		errno = e;
	}
	return rc;
}

/* The connections captured with TCP_REPAIR, by a process and fd that hold them. */
static struct {
	pid_t pid;
	int fd;
} *repaired;
static size_t nrepaired;

void inet_quiet_before_kill(void)
{
	/* In repair mode a socket closes without a packet: the killed process neither resets its
	 * peer nor leaves the connection in TIME_WAIT, where the restored one must live (CRIU does
	 * the same). Set just before the kill, so that a dump that fails leaves them as they were. */
	int on = TCP_REPAIR_ON;
	for (size_t i = 0; i < nrepaired; i++) {
		int pidfd = (int)syscall(SYS_pidfd_open, repaired[i].pid, 0);
		int sk = pidfd >= 0 ? steal_fd(pidfd, repaired[i].fd) : -1;
		if (sk >= 0) {
			setsockopt(sk, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on));
			close(sk);
		}
		if (pidfd >= 0)
			close(pidfd);
	}
}

const char *inet_describe(struct file_state *f, int sk, struct sock_view *v, uint16_t *what)
{
	(void)f;
	*what = CKPT_UNSUPPORTED_KIND_INET_SOCKET;
	if (v->s.family == AF_INET6 && opt_int(sk, IPPROTO_IPV6, IPV6_V6ONLY))
		v->d.flags |= CKPT_SOCKET_FLAGS_V6ONLY;
	char a[80], b[80];
	if (v->s.type == SOCK_DGRAM && (v->d.protocol == IPPROTO_UDP || v->d.protocol == 0))
		return NULL;
	if (v->s.type != SOCK_STREAM || (v->d.protocol != IPPROTO_TCP && v->d.protocol != 0))
		return "only TCP and UDP sockets are checkpointed";
	struct tcp_info ti;
	socklen_t l = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0)
		return "a TCP socket whose state cannot be read";
	v->s.state = ti.tcpi_state;
	if (ti.tcpi_state == 10 /* TCP_LISTEN */) {
		v->d.backlog = ti.tcpi_sacked; /* the kernel reports sk_max_ack_backlog there for a listener */
		if (ti.tcpi_unacked && !g_sock_tcp_close) /* sk_ack_backlog: connections not yet accepted */
			return keep_reason(xasprintf("a TCP listener on %s has %u connection%s not yet accepted (established connections: "
					      "restoring them needs TCP_REPAIR, CAP_NET_ADMIN; --tcp-close drops them)",
					      sock_addr_text(v->local, v->local_len, a, sizeof(a)), ti.tcpi_unacked, ti.tcpi_unacked == 1 ? "" : "s"));
		return NULL;
	}
	if (ti.tcpi_state == 7 /* TCP_CLOSE: never connected, perhaps bound */)
		return NULL;
	if (g_sock_tcp_close) {
		v->d.flags |= CKPT_SOCKET_FLAGS_RESET;
		return NULL;
	}
	*what = CKPT_UNSUPPORTED_KIND_TCP_SOCKET;
	if (ti.tcpi_state == 1 /* TCP_ESTABLISHED */) {
		if (tcp_capture(sk) == 0) {
			repaired = xrealloc(repaired, (nrepaired + 1) * sizeof(*repaired));
			repaired[nrepaired].pid = f->pid, repaired[nrepaired++].fd = f->fd;
			v->d.flags |= CKPT_SOCKET_FLAGS_REPAIRED;
			v->tcp = g_tcp.p, v->tcp_len = (uint32_t)g_tcp.len;
			return NULL;
		}
		if (errno != EPERM)
			return keep_reason(xasprintf("an established TCP connection %s -> %s cannot be read with TCP_REPAIR: %s",
					      sock_addr_text(v->local, v->local_len, a, sizeof(a)), sock_addr_text(v->remote, v->remote_len, b, sizeof(b)),
					      strerror(errno)));
	}
	return keep_reason(xasprintf("an established TCP connection %s -> %s (restoring it needs TCP_REPAIR, CAP_NET_ADMIN; "
			      "--tcp-close restores it as reset by the peer)",
			      sock_addr_text(v->local, v->local_len, a, sizeof(a)), sock_addr_text(v->remote, v->remote_len, b, sizeof(b))));
}

/* A TCP socket whose peer has reset the connection: connected over loopback to a listener of
 * our own, whose accepted end then closes with SO_LINGER 0 (an RST). Reads fail with
 * ECONNRESET, as they would have when the peer found the connection gone. */
static int make_reset(int family)
{
	int l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), c = -1, a = -1, rc = -1;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t len;
	if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	}
	if (l < 0 || bind(l, (struct sockaddr *)&ss, len) < 0 || listen(l, 1) < 0 || getsockname(l, (struct sockaddr *)&ss, &len) < 0)
		goto out;
	c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&ss, len) < 0 || (a = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0)
		goto out;
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	if (setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		goto out;
	close(a);
	a = -1;
	/* the RST has arrived once poll reports the error (poll leaves it pending; reading
	 * SO_ERROR or recv would consume it) */
	struct pollfd pf = {c, 0, 0};
	poll(&pf, 1, 2000);
	rc = c;
	c = -1;
out:
	if (l >= 0)
		close(l);
	if (a >= 0)
		close(a);
	if (c >= 0)
		close(c);
	return rc;
}

static int queue_bytes(int sk, int queue, const uint8_t **p, const uint8_t *end)
{
	uint32_t len;
	if (end - *p < 4)
		return -1;
	memcpy(&len, *p, 4);
	*p += 4;
	if (len > (uint64_t)(end - *p) || setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue)) < 0)
		return -1;
	for (uint32_t at = 0; at < len;) {
		ssize_t n = send(sk, *p + at, len - at, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		at += (uint32_t)n;
	}
	*p += len;
	return 0;
}

/* An established connection made again in repair mode: the queues' sequence numbers, bound and
 * "connected" without a packet, its options, its bytes, its window; then out of repair mode. */
static int tcp_restore(const struct tree *t, const struct file_state *f, const struct sock_view *v)
{
	char a[80], b[80];
	struct ckpt_tcp_repair_fixed r;
	if (v->tcp_len < sizeof(r))
		return fail(EXIT_BADIMAGE, "%s: its TCP_REPAIR state is short", f->path);
	memcpy(&r, v->tcp, sizeof(r));
	/* out of repair mode without a window probe: the peer, when it is in the image too, may not
	 * exist yet, and a probe to its port would be answered with a reset */
	int sk = fd_high(socket((int)v->s.family, SOCK_STREAM | SOCK_CLOEXEC, 0)), on = TCP_REPAIR_ON, off = TCP_REPAIR_OFF_NO_WP;
	if (sk < 0)
		return fail_errno(EXIT_FAIL, "%ssocket", fd_prefix(t, f));
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) < 0) {
		int e = errno;
		close(sk);
		errno = e;
		return fail_errno(e == EPERM ? EXIT_PERM : EXIT_FAIL, "%sthe TCP connection %s -> %s needs TCP_REPAIR (CAP_NET_ADMIN) to be restored",
				  fd_prefix(t, f), sock_addr_text(v->local, v->local_len, a, sizeof(a)), sock_addr_text(v->remote, v->remote_len, b, sizeof(b)));
	}
	int q = TCP_RECV_QUEUE;
	const char *step = "its sequence numbers";
	int ok = setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) == 0 && setsockopt(sk, IPPROTO_TCP, TCP_QUEUE_SEQ, &r.rcv_seq, 4) == 0;
	q = TCP_SEND_QUEUE;
	ok = ok && setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) == 0 && setsockopt(sk, IPPROTO_TCP, TCP_QUEUE_SEQ, &r.snd_seq, 4) == 0;
	if (ok && (step = "its addresses", bind(sk, (const struct sockaddr *)v->local, (socklen_t)v->local_len) < 0 ||
		   connect(sk, (const struct sockaddr *)v->remote, (socklen_t)v->remote_len) < 0))
		ok = 0;
	if (ok) {
		step = "its options";
		struct tcp_repair_opt opts[4];
		int n = 0;
		opts[n++] = (struct tcp_repair_opt){TCPOPT_MAXSEG, r.mss};
		if (r.options & TCPI_OPT_WSCALE)
			opts[n++] = (struct tcp_repair_opt){TCPOPT_WINDOW, r.snd_wscale | (r.rcv_wscale << 16)};
		if (r.options & TCPI_OPT_SACK)
			opts[n++] = (struct tcp_repair_opt){TCPOPT_SACK_PERMITTED, 0};
		if (r.options & TCPI_OPT_TIMESTAMPS)
			opts[n++] = (struct tcp_repair_opt){TCPOPT_TIMESTAMP, 0};
		ok = setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts, (socklen_t)(n * sizeof(opts[0]))) == 0 &&
		     (!(r.options & TCPI_OPT_TIMESTAMPS) || setsockopt(sk, IPPROTO_TCP, TCP_TIMESTAMP, &r.timestamp, 4) == 0);
	}
	const uint8_t *p = v->tcp + sizeof(r), *end = v->tcp + v->tcp_len;
	if (ok && (step = "its queues", queue_bytes(sk, TCP_SEND_QUEUE, &p, end) < 0 || queue_bytes(sk, TCP_RECV_QUEUE, &p, end) < 0))
		ok = 0;
	if (ok) {
		step = "its window";
		struct tcp_repair_window w = {.snd_wl1 = r.snd_wl1, .snd_wnd = r.snd_wnd, .max_window = r.max_window, .rcv_wnd = r.rcv_wnd, .rcv_wup = r.rcv_wup};
		ok = setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)) == 0;
	}
	if (ok && (step = "leaving repair mode", setsockopt(sk, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off)) < 0))
		ok = 0;
	if (!ok) {
		int e = errno;
		close(sk);
		errno = e;
		return fail_errno(EXIT_FAIL, "%sthe TCP connection %s -> %s: cannot set %s again", fd_prefix(t, f),
				  sock_addr_text(v->local, v->local_len, a, sizeof(a)), sock_addr_text(v->remote, v->remote_len, b, sizeof(b)), step);
	}
	return to_slot(sk, f, 1);
}

int inet_make(const struct tree *t, const struct file_state *f, const struct sock_view *v)
{
	char a[80];
	if (v->d.flags & CKPT_SOCKET_FLAGS_REPAIRED)
		return tcp_restore(t, f, v);
	if (v->d.flags & CKPT_SOCKET_FLAGS_RESET) {
		int sk = fd_high(make_reset((int)v->s.family));
		if (sk < 0)
			return fail_errno(EXIT_FAIL, "%scannot make a TCP socket reset by its peer (over loopback)", fd_prefix(t, f));
		return to_slot(sk, f, 1);
	}
	int sk = fd_high(socket((int)v->s.family, (int)v->s.type | SOCK_CLOEXEC, (int)v->d.protocol));
	if (sk < 0)
		return fail_errno(EXIT_FAIL, "%ssocket", fd_prefix(t, f));
	int one = 1, reuse = (v->d.flags & CKPT_SOCKET_FLAGS_REUSEADDR) != 0;
	int rc = 0;
	if (v->d.flags & CKPT_SOCKET_FLAGS_REUSEPORT)
		rc |= setsockopt(sk, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (v->s.family == AF_INET6) {
		int v6 = (v->d.flags & CKPT_SOCKET_FLAGS_V6ONLY) != 0;
		rc |= setsockopt(sk, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof(v6));
	}
	/* the kernel doubles what it is given, and reports the doubled value */
	int half;
	if (v->d.rcvbuf && (half = (int)(v->d.rcvbuf / 2)) > 0)
		rc |= setsockopt(sk, SOL_SOCKET, SO_RCVBUF, &half, sizeof(half));
	if (v->d.sndbuf && (half = (int)(v->d.sndbuf / 2)) > 0)
		rc |= setsockopt(sk, SOL_SOCKET, SO_SNDBUF, &half, sizeof(half));
	if (rc)
		warn("%sthe options of the socket on %s cannot all be set again (%s)", fd_prefix(t, f),
			   sock_addr_text(v->local, v->local_len, a, sizeof(a)), strerror(errno));
	if (port_of(v->local, v->local_len)) {
		/* The connections of the checkpointed process that was killed linger (FIN_WAIT,
		 * TIME_WAIT) and hold the port against a socket without SO_REUSEADDR, or against any
		 * when they had none. SO_REUSEADDR while binding (as CRIU does), and where the user may
		 * (CAP_NET_ADMIN) TCP_REPAIR, whose forced reuse binds and listens past them; then the
		 * program's own value. */
		setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		int r = bind(sk, (const struct sockaddr *)v->local, (socklen_t)v->local_len), repair = 0;
		if (r < 0 && errno == EADDRINUSE && v->s.type == SOCK_STREAM && setsockopt(sk, IPPROTO_TCP, TCP_REPAIR, &one, sizeof(one)) == 0) {
			repair = 1;
			r = bind(sk, (const struct sockaddr *)v->local, (socklen_t)v->local_len);
		}
		int e = errno;
		const char *what = "bind";
		if (r == 0 && (v->d.flags & CKPT_SOCKET_FLAGS_LISTENING) && (r = listen(sk, (int)v->d.backlog)) < 0)
			e = errno, what = "listen on";
		int off = 0;
		if (repair)
			setsockopt(sk, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off));
		if (r < 0) {
			close(sk);
			errno = e;
			return fail_errno(e == EADDRINUSE ? EXIT_UNSUPPORTED : denied_or(EXIT_FAIL), "%scannot %s the %s socket %s again%s", fd_prefix(t, f), what,
					  v->s.type == SOCK_STREAM ? "TCP" : "UDP", sock_addr_text(v->local, v->local_len, a, sizeof(a)),
					  e == EADDRINUSE ? " (connections of the checkpointed process linger on the port for up to a minute and hold it "
							    "against a program without SO_REUSEADDR)" : "");
		}
	}
	setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse));
	if (v->s.type == SOCK_DGRAM && port_of(v->remote, v->remote_len) &&
	    connect(sk, (const struct sockaddr *)v->remote, (socklen_t)v->remote_len) < 0) {
		int e = errno;
		close(sk);
		errno = e;
		return fail_errno(EXIT_FAIL, "%scannot connect the UDP socket to %s again", fd_prefix(t, f),
				  sock_addr_text(v->remote, v->remote_len, a, sizeof(a)));
	}
	return to_slot(sk, f, 1);
}
