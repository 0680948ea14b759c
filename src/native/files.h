/* What files.c shares with the source files of the kinds of files it hands work to (unix_sock.c):
 * helpers to reach a descriptor of a frozen process, to build a file's kind-specific data, and to
 * place what a restore makes. */
#ifndef CKPT_FILES_H
#define CKPT_FILES_H

#include <sys/stat.h>

#include "ckpt.h"

/* dump */
int steal_fd(int pidfd, int fd);
int unreachable(pid_t pid, int fd, const char *what, const char *call);
void put_extra(struct file_state *f, const struct buf *b);
void set_trailing_bytes(struct file_state *f, size_t fixed, const uint8_t *data, uint32_t len);
/* restore */
int file_by_tag(const struct tree *t, uint32_t tag);
int fd_high(int fd);
int to_slot(int fd, const struct file_state *f, int set_flags);

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
/* A sockaddr as text: "127.0.0.1:80", "[::1]:80", "/path", "@abstract", "unnamed". */
const char *sock_addr_text(const uint8_t *sa, uint32_t len, char *buf, size_t size);
/* A refusal reason made at dump (file_state.why), kept until ckpt exits. */
const char *keep_reason(char *s);
/* "fd N: " for a description: the lowest fd of its owner (restore) that holds it. */
const char *fd_prefix(const struct tree *t, const struct file_state *f);

/* inet_sock.c: TCP and UDP. Dump: what the socket is, or why it is refused. Restore: made again. */
const char *inet_describe(struct file_state *f, int sk, struct sock_view *v, uint16_t *what);
int inet_make(const struct tree *t, const struct file_state *f, const struct sock_view *v);

/* unix_sock.c: sockets. Dump: what a socket is (describe), its peer and queue once the whole tree
 * is known (finish), its peer's tag (set_tags). Reading: the .ksy's fields. Restore: whether the
 * restoring side supplies it (external), whether it is made together with another description
 * (made_with), and making it. */
const char *sock_describe(struct file_state *f, const struct stat *st, int pidfd, int fd, uint16_t *what);
int sock_finish(struct tree *t, struct file_state *f);
void sock_set_tags(const struct tree *t, struct file_state *f);
int sock_extra_check(struct rcur *x);
int sock_external(const struct file_state *f);
int sock_made_with(const struct file_state *f, const struct file_state *o);
/* After files_plan: every socket tied to another (pair, listener) made by one process. */
void sock_plan(struct tree *t);
int sock_make(const struct tree *t, const struct file_state *f);

#endif
