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
int sock_make(const struct tree *t, const struct file_state *f);

#endif
