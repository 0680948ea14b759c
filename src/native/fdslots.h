/* Descriptors between processes and numbers, the layer every kind of file shares below files.c
 * (fdslots.c). Dump: a frozen process's descriptor copied into ckpt. Restore: what a kind makes
 * moved above every number the image uses, placed at the slot where the process that makes the
 * description keeps it, and taken from there by the processes that hold it. */
#ifndef CKPT_FDSLOTS_H
#define CKPT_FDSLOTS_H

#include <sys/types.h>

#include "model.h"

/* dump */
int steal_fd(int pidfd, int fd); /* pidfd_getfd: a copy of the process's fd, nothing consumed */
/* A failed pidfd call on a process of the tree (fail() called): ESRCH means it died, killed from outside. */
int unreachable(pid_t pid, int fd, const char *what, const char *call);

/* restore, in each new process */
void fdslots_begin(int tmp_base);  /* tmp_base: the first number above every fd the image uses */
int fd_high(int fd);               /* a fresh fd moved above them (closed where it was) */
int fd_dup_high(int fd);           /* a close-on-exec copy above them */
/* fd at target (closed where it was unless keep_source), with FD_CLOEXEC or not. */
int fd_place(int fd, int target, int cloexec, int keep_source);
/* A made description at its slot, with its status flags when set_flags. */
int to_slot(int fd, const struct file_state *f, int set_flags);
/* The description made by its owner, as a new fd of process `me` above the image's numbers;
 * pidfds[k] caches process k's pidfd (-1 until opened). */
int slot_take(const struct file_state *f, int me, const pid_t *pids, int *pidfds);
int slot_take_one(const struct tree *t, size_t file, int me, const pid_t *pids);

#endif
