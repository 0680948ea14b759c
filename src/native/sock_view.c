/* What unix_sock.c and inet_sock.c share (sock_view.h): a socket's fd_socket payload read into its
 * parts and packed again, checked as the .ksy reads it, its addresses as text, and the refusal
 * reasons a socket's dump gives. Below both kinds of socket; it knows neither. */
#include "sock_view.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "util.h"

int sock_view(const struct file_state *f, struct sock_view *v)
{
	memset(v, 0, sizeof(*v));
	if (f->f.kind != CKPT_FD_KIND_SOCKET || f->extra_len < sizeof(v->s) + 4)
		return -1;
	const uint8_t *p = f->extra, *end = f->extra + f->extra_len;
	memcpy(&v->s, p, sizeof(v->s));
	p += sizeof(v->s);
	memcpy(&v->queued_len, p, 4);
	p += 4;
	if (v->queued_len > (uint64_t)(end - p))
		return -1;
	v->queued = p;
	p += v->queued_len;
	if (p == end)
		return 0; /* format 2.0 */
	if ((size_t)(end - p) < sizeof(v->d))
		return -1;
	memcpy(&v->d, p, sizeof(v->d));
	p += sizeof(v->d);
	const uint8_t **fields[] = {&v->local, &v->remote, &v->peer_owner};
	uint32_t *lens[] = {&v->local_len, &v->remote_len, &v->peer_owner_len};
	for (int i = 0; i < 3; i++) {
		if (end - p < 4)
			return -1;
		memcpy(lens[i], p, 4);
		p += 4;
		if (*lens[i] > (uint64_t)(end - p))
			return -1;
		*fields[i] = p;
		p += *lens[i];
	}
	if (end - p < 4)
		return -1;
	memcpy(&v->tcp_len, p, 4);
	p += 4;
	if (v->tcp_len > (uint64_t)(end - p))
		return -1;
	v->tcp = v->tcp_len ? p : NULL;
	v->has_details = 1;
	return 0;
}

void sock_pack(struct file_state *f, const struct sock_view *v)
{
	struct buf b = {0};
	buf_put(&b, &v->s, sizeof(v->s));
	buf_lbytes(&b, v->queued, v->queued_len);
	buf_put(&b, &v->d, sizeof(v->d));
	buf_lbytes(&b, v->local, v->local_len);
	buf_lbytes(&b, v->remote, v->remote_len);
	buf_lbytes(&b, v->peer_owner, v->peer_owner_len);
	buf_lbytes(&b, v->tcp, v->tcp_len);
	put_extra(f, &b); /* after the view's last use: it points into the old extra */
}

int sock_extra_check(struct rcur *x)
{
	uint8_t *data;
	uint32_t len;
	if (!rc_ptr(x, sizeof(struct ckpt_fd_socket_fixed), "socket fixed fields") || rc_lbytes(x, &data, &len, "socket queue") < 0)
		return -1;
	free(data);
	struct ckpt_socket_details_fixed d;
	int r = rc_opt(x, &d, sizeof(d), "socket details");
	if (r <= 0)
		return r;
	static const char *const names[] = {"socket local address", "socket remote address", "socket peer owner"};
	for (int i = 0; i < 3; i++) {
		if (rc_lbytes(x, &data, &len, names[i]) < 0)
			return -1;
		free(data);
	}
	uint32_t tcp_len;
	struct rcur tcp;
	if (rc_get(x, &tcp_len, 4, "socket tcp_len") < 0 || rc_sub(x, &tcp, tcp_len, "socket tcp") < 0)
		return -1;
	if (!tcp_len)
		return 0;
	if (!rc_ptr(&tcp, CKPT_TCP_REPAIR_FIXED_SIZE, "tcp_repair fixed fields") || rc_lbytes(&tcp, &data, &len, "tcp send_queue") < 0)
		return -1;
	free(data);
	if (rc_lbytes(&tcp, &data, &len, "tcp recv_queue") < 0)
		return -1;
	free(data);
	return 0;
}

const char *sock_addr_text(const uint8_t *sa, uint32_t len, char *buf, size_t size)
{
	sa_family_t fam = 0;
	if (len >= sizeof(fam))
		memcpy(&fam, sa, sizeof(fam));
	if (fam == AF_UNIX) {
		const char *path = (const char *)sa + offsetof(struct sockaddr_un, sun_path);
		size_t n = len - offsetof(struct sockaddr_un, sun_path);
		if (len <= offsetof(struct sockaddr_un, sun_path))
			snprintf(buf, size, "unnamed");
		else if (path[0] == 0)
			snprintf(buf, size, "@%.*s", (int)(n - 1), path + 1);
		else
			snprintf(buf, size, "%.*s", (int)strnlen(path, n), path);
	} else if (fam == AF_INET && len >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in in;
		memcpy(&in, sa, sizeof(in));
		char a[INET_ADDRSTRLEN];
		snprintf(buf, size, "%s:%u", inet_ntop(AF_INET, &in.sin_addr, a, sizeof(a)), ntohs(in.sin_port));
	} else if (fam == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 in;
		memcpy(&in, sa, sizeof(in));
		char a[INET6_ADDRSTRLEN];
		snprintf(buf, size, "[%s]:%u", inet_ntop(AF_INET6, &in.sin6_addr, a, sizeof(a)), ntohs(in.sin6_port));
	} else {
		snprintf(buf, size, len ? "family %u" : "unnamed", fam);
	}
	return buf;
}

/* Refusal reasons made at dump, kept reachable until ckpt exits (file_state.why is not freed). */
static char **reasons;
static size_t nreasons;

const char *keep_reason(char *s)
{
	reasons = xrealloc(reasons, (nreasons + 1) * sizeof(*reasons));
	reasons[nreasons++] = s;
	return s;
}
