/* File locks: flock(2) and OFD locks belong to an open file description, POSIX record locks to
 * a process and a file. At dump they are read from the `lock:` lines of /proc/PID/fdinfo/N
 * (which lists the locks taken through that description) and recorded under the description's
 * `file` record. At restore each process takes them again by injected syscalls once its
 * descriptors are final and the restore's own fds are closed: closing any fd of a file drops the
 * POSIX locks a process holds on it, so nothing may be closed after. */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef F_OFD_SETLK
#define F_OFD_SETLK 37
#endif

static const char *kind_name(uint16_t k)
{
	return k == CKPT_LOCK_KIND_FLOCK ? "flock" : k == CKPT_LOCK_KIND_POSIX ? "POSIX" : "OFD";
}

/* "lock:\t1: POSIX  ADVISORY  WRITE 1234 fe:00:5678 10 14" (end inclusive, or EOF) */
static int parse_line(const char *l, struct ckpt_file_lock *k)
{
	char kind[16], adv[16], type[16], end[32];
	int id, pid;
	unsigned long long start;
	if (sscanf(l, "lock: %d: %15s %15s %15s %d %*s %llu %31s", &id, kind, adv, type, &pid, &start, end) != 7)
		return -1;
	memset(k, 0, sizeof(*k));
	if (!strcmp(kind, "FLOCK"))
		k->kind = CKPT_LOCK_KIND_FLOCK;
	else if (!strcmp(kind, "POSIX"))
		k->kind = CKPT_LOCK_KIND_POSIX;
	else if (!strcmp(kind, "OFDLCK"))
		k->kind = CKPT_LOCK_KIND_OFD;
	else
		return -1; /* LEASE, DELEG: a lease needs its holder's signal setup, not taken again */
	if (strcmp(adv, "ADVISORY"))
		return -1;
	if (!strcmp(type, "READ"))
		k->type = CKPT_LOCK_TYPE_READ;
	else if (!strcmp(type, "WRITE"))
		k->type = CKPT_LOCK_TYPE_WRITE;
	else
		return -1;
	k->start = start;
	if (strcmp(end, "EOF")) {
		unsigned long long e = strtoull(end, NULL, 10);
		if (e < start)
			return -1;
		k->len = e - start + 1;
	}
	k->pid = k->kind == CKPT_LOCK_KIND_POSIX ? (uint32_t)pid : 0;
	return 0;
}

int locks_capture(struct proc_state *p, struct file_state *f, const struct fd_state *fd, const char *fdinfo)
{
	(void)fd;
	for (const char *l = strstr(fdinfo, "\nlock:"); l; l = strstr(l + 1, "\nlock:")) {
		struct ckpt_file_lock k;
		if (parse_line(l + 1, &k) < 0)
			return -1;
		if (k.kind == CKPT_LOCK_KIND_POSIX && k.pid != p->pf.pid)
			return -1;
		int seen = 0; /* every fd of a description shows its locks */
		for (uint32_t i = 0; i < f->nlocks && !seen; i++)
			seen = !memcmp(&f->locks[i], &k, sizeof(k));
		if (seen)
			continue;
		f->locks = xrealloc(f->locks, (f->nlocks + 1) * sizeof(k));
		f->locks[f->nlocks++] = k;
	}
	return 0;
}

int locks_write(struct image_writer *w, const struct tree *t)
{
	for (size_t i = 0; i < t->nfiles; i++)
		for (uint32_t k = 0; k < t->files[i].nlocks; k++)
			if (!iw_record(w, CKPT_RECORD_TYPE_FILE_LOCK, t->files[i].tag, &t->files[i].locks[k], sizeof(t->files[i].locks[k])))
				return -1;
	return 0;
}

int locks_load(const struct image *im, struct tree *t, const uint32_t *file_of)
{
	for (size_t i = 0; i < im->n; i++) {
		const struct image_record *r = &im->recs[i];
		if (r->type != CKPT_RECORD_TYPE_FILE_LOCK)
			continue;
		struct file_state *f = &t->files[file_of[r->parent]]; /* a file: the grammar said so */
		struct ckpt_file_lock k;
		struct rcur c;
		rc_init(&c, im, r);
		if (rc_get(&c, &k, sizeof(k), "file_lock") < 0)
			return -1;
		uint64_t at = payload_at(r);
		if (!ckpt_lock_kind_name(k.kind) || !ckpt_lock_type_name(k.type))
			return image_bad(im, r, at, "lock kind %u or type %u is none the format knows", k.kind, k.type);
		if (k.start > (uint64_t)INT64_MAX || k.len > (uint64_t)INT64_MAX - k.start)
			return image_bad(im, r, at + 8, "a lock of %llu bytes from byte %llu lies beyond any file offset",
					 (unsigned long long)k.len, (unsigned long long)k.start);
		if ((k.kind == CKPT_LOCK_KIND_POSIX) != (k.pid != 0) || (k.kind == CKPT_LOCK_KIND_FLOCK && (k.start || k.len)))
			return image_bad(im, r, at + 4, "a %s lock with pid %u and range %llu+%llu", kind_name(k.kind), k.pid,
					 (unsigned long long)k.start, (unsigned long long)k.len);
		f->locks = xrealloc(f->locks, (f->nlocks + 1) * sizeof(k));
		f->locks[f->nlocks++] = k;
	}
	return 0;
}

/* The lowest fd of p that refers to file `file`, or -1. */
static int fd_of(const struct proc_state *p, int file)
{
	int best = -1;
	for (size_t i = 0; i < p->nfds; i++)
		if (p->fds[i].file == file && (best < 0 || (int)p->fds[i].f.fd < best))
			best = (int)p->fds[i].f.fd;
	return best;
}

int locks_restore(struct restore_ctx *rc)
{
	const struct proc_state *p = rc->p;
	const struct tree *t = p->tree;
	for (size_t i = 0; i < t->nfiles; i++) {
		const struct file_state *f = &t->files[i];
		if (!f->nlocks || f->owner < 0)
			continue;
		int fd = fd_of(p, (int)i);
		if (fd < 0)
			continue;
		/* a description's lock once, by the first process of the image that holds it */
		int first = 1;
		for (size_t k = 0; k < t->nprocs && t->procs[k] != p; k++)
			first &= fd_of(t->procs[k], (int)i) < 0;
		for (uint32_t n = 0; n < f->nlocks; n++) {
			const struct ckpt_file_lock *k = &f->locks[n];
			if (k->kind == CKPT_LOCK_KIND_POSIX ? k->pid != p->pf.pid : !first)
				continue;
			long r;
			if (k->kind == CKPT_LOCK_KIND_FLOCK) {
				if (inject_syscall(rc->main, &r, SYS_flock, (uint64_t)fd, (k->type == CKPT_LOCK_TYPE_WRITE ? LOCK_EX : LOCK_SH) | LOCK_NB, 0,
						   0, 0, 0) < 0)
					return -1;
			} else {
				struct flock fl = {.l_type = k->type == CKPT_LOCK_TYPE_WRITE ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET,
						   .l_start = (off_t)k->start, .l_len = (off_t)k->len};
				if (mem_write(rc->pid, rc->scratch, &fl, sizeof(fl)) < 0)
					return fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
				if (inject_syscall(rc->main, &r, SYS_fcntl, (uint64_t)fd, k->kind == CKPT_LOCK_KIND_POSIX ? F_SETLK : F_OFD_SETLK,
						   rc->scratch, 0, 0, 0) < 0)
					return -1;
			}
			if (r < 0) {
				char range[64] = "";
				if (k->kind != CKPT_LOCK_KIND_FLOCK)
					snprintf(range, sizeof(range), k->len ? " on bytes %llu-%llu" : " from byte %llu to the end",
						 (unsigned long long)k->start, (unsigned long long)(k->start + k->len - 1));
				errno = (int)-r;
				return fail_errno(errno == EAGAIN || errno == EWOULDBLOCK ? EXIT_UNSUPPORTED : EXIT_FAIL,
						  "restore: fd %d (%s): its %s %s lock%s cannot be taken again%s", fd, f->path, kind_name(k->kind),
						  k->type == CKPT_LOCK_TYPE_WRITE ? "write" : "read", range,
						  errno == EAGAIN || errno == EWOULDBLOCK ? " (another process holds a conflicting lock)" : "");
			}
		}
	}
	return 0;
}
