/* A socket's fd_socket payload (formats/ckpt.ksy) and what both kinds of socket do with it
 * (sock_view.c): unix_sock.c and inet_sock.c, and files.c and load.c, which read it. */
#ifndef CKPT_SOCK_VIEW_H
#define CKPT_SOCK_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "model.h"

/* A socket's fd_socket payload, read into its parts (pointers into the file's extra). */
struct sock_view {
	struct ckpt_fd_socket_fixed s;
	const uint8_t *queued;
	uint32_t queued_len;
	int has_details;                  /* format 2.1 */
	struct ckpt_socket_details_fixed d;
	const uint8_t *local, *remote;    /* sockaddrs as the kernel gave them */
	uint32_t local_len, remote_len;
	const uint8_t *peer_owner;        /* not NUL-terminated */
	uint32_t peer_owner_len;
	const uint8_t *tcp;               /* a tcp_repair, or NULL */
	uint32_t tcp_len;
};
/* 0, or -1 when the payload is too short (a file_read image was checked already). */
int sock_view(const struct file_state *f, struct sock_view *v);
/* The payload again from a view (dump, after a change). */
void sock_pack(struct file_state *f, const struct sock_view *v);
/* Reading: the payload's fields, as the .ksy reads them. */
int sock_extra_check(struct rcur *x);
/* A sockaddr as text: "127.0.0.1:80", "[::1]:80", "/path", "@abstract", "unnamed". */
const char *sock_addr_text(const uint8_t *sa, uint32_t len, char *buf, size_t size);
/* A refusal reason made at dump (file_state.why), kept until ckpt exits. */
const char *keep_reason(char *s);

#endif
