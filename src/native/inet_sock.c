/* TCP and UDP sockets, IPv4 and IPv6. A listening TCP socket, a bound (or connected) UDP socket
 * and an unconnected TCP socket are made again on the same address and port, with
 * SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY and the buffer sizes the program set. A TCP connection
 * (established, or in any state but LISTEN and CLOSE) would need TCP_REPAIR, which needs
 * CAP_NET_ADMIN: it is refused, or with `ckpt dump --tcp-close` recorded as reset by the peer
 * and made again as a socket whose peer has reset it. A listener's connections not yet accepted
 * are connections too: refused, or with --tcp-close dropped. Datagrams waiting in a UDP socket
 * are not kept (UDP may lose them anyway). */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

static const char *keep(char *s)
{
	static char **kept;
	static size_t n;
	kept = xrealloc(kept, (n + 1) * sizeof(*kept));
	return kept[n++] = s;
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
			return keep(xasprintf("a TCP listener on %s has %u connection%s not yet accepted (established connections: "
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
	return keep(xasprintf("an established TCP connection %s -> %s (restoring it needs TCP_REPAIR, CAP_NET_ADMIN; "
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

int inet_make(const struct tree *t, const struct file_state *f, const struct sock_view *v)
{
	char a[80];
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
		child_warn("%sthe options of the socket on %s cannot all be set again (%s)", fd_prefix(t, f),
			   sock_addr_text(v->local, v->local_len, a, sizeof(a)), strerror(errno));
	if (port_of(v->local, v->local_len)) {
		/* The connections of the checkpointed process that was killed linger (FIN_WAIT,
		 * TIME_WAIT) and hold the port against a socket without SO_REUSEADDR, or against any
		 * when they had none. SO_REUSEADDR while binding (as CRIU does), and where the user may
		 * (CAP_NET_ADMIN) TCP_REPAIR, whose forced reuse binds and listens past them; then the
		 * program's own value. */
		setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		int repair = v->s.type == SOCK_STREAM && setsockopt(sk, IPPROTO_TCP, TCP_REPAIR, &one, sizeof(one)) == 0;
		int r = bind(sk, (const struct sockaddr *)v->local, (socklen_t)v->local_len);
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
