/* The restore's page check on a second thread: while the new process reads the next piece of
 * its pages from the image (an injected preadv, which the tracer waits for), this thread reads
 * back the pieces already loaded and checks every page against its hash. So the check costs a
 * copy on the other core instead of a second pass after the load. It reads the new process's
 * memory, not the file: that also proves each page landed where it belongs. */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define BACK_BLOCK (2u << 20) /* read back in pieces that stay in the cache for the hash */

struct piece {
	size_t chunk;	      /* pagemap index, for the message */
	uint64_t page;	      /* index of its first page in the chunk */
	uint64_t addr, len;
	const uint64_t *hashes; /* the chunk's hashes, from `page` on */
	uint64_t file_off;	/* of its first page */
};

struct pagecheck {
	pid_t pid;
	uint32_t ps;
	int mem_fd; /* /proc/PID/mem, for what process_vm_readv refuses */
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct piece *q;
	size_t n, cap, next; /* pieces [next, n) wait */
	int stop, exited;
	/* the first failure: a page that does not match (bad_errno 0) or one that cannot be read */
	int failed, bad_errno;
	struct piece bad;
};

static int read_back(struct pagecheck *c, uint64_t addr, uint8_t *buf, size_t len)
{
	struct iovec l = {buf, len}, r = {(void *)addr, len};
	if (process_vm_readv(c->pid, &l, 1, &r, 1, 0) == (ssize_t)len)
		return 0;
	if (c->mem_fd < 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/mem", c->pid);
		c->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	return c->mem_fd < 0 ? -1 : pread_all(c->mem_fd, buf, len, addr);
}

/* 0, or 1 with *bad and *e (0: a page does not match, else the errno of a read that failed) */
static int check_piece(struct pagecheck *c, const struct piece *p, uint8_t *block, struct piece *bad, int *e)
{
	for (uint64_t o = 0; o < p->len; o += BACK_BLOCK) {
		size_t n = p->len - o < BACK_BLOCK ? (size_t)(p->len - o) : BACK_BLOCK;
		if (read_back(c, p->addr + o, block, n) < 0) {
			*e = errno ? errno : EIO;
			*bad = *p, bad->addr = p->addr + o;
			return 1;
		}
		for (size_t k = 0; k < n; k += c->ps) {
			uint64_t i = (o + k) / c->ps;
			if (xxh64(block + k, c->ps, 0) != p->hashes[i]) {
				*e = 0;
				*bad = *p, bad->page = p->page + i, bad->addr = p->addr + o + k, bad->file_off = p->file_off + i * c->ps;
				return 1;
			}
		}
	}
	return 0;
}

static void *check_pieces(void *arg)
{
	struct pagecheck *c = arg;
	uint8_t *block = xmalloc(BACK_BLOCK);
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (c->next == c->n && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->next == c->n || c->failed)
			break;
		struct piece p = c->q[c->next], bad;
		pthread_mutex_unlock(&c->mu);
		int e = 0, failed = check_piece(c, &p, block, &bad, &e);
		pthread_mutex_lock(&c->mu);
		c->next++;
		if (failed && !c->failed)
			c->failed = 1, c->bad_errno = e, c->bad = bad;
		pthread_cond_broadcast(&c->cv);
	}
	c->exited = 1; /* after a failure, pieces submitted later are never checked */
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	free(block);
	return NULL;
}

struct pagecheck *pagecheck_start(pid_t pid, uint32_t page_size, const cpu_set_t *cpus)
{
	struct pagecheck *c = xcalloc(1, sizeof(*c));
	c->pid = pid;
	c->ps = page_size;
	c->mem_fd = -1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (!cpus)
		return c;
	/* on any CPU ckpt may use (the tracer is pinned beside the new process); every signal
	 * blocked: SIGCHLD of a ptrace stop is the tracer's (tracee_wait), SIGINT/SIGTERM too */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, sizeof(*cpus), cpus);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int e = pthread_create(&c->thread, &attr, check_pieces, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (e) {
		pagecheck_stop(c);
		errno = e;
		fail_errno(EXIT_FAIL, "cannot start the page check thread");
		return NULL;
	}
	c->started = 1;
	return c;
}

void pagecheck_submit(struct pagecheck *c, size_t chunk, uint64_t page, uint64_t addr, uint64_t len, const uint64_t *hashes,
		      uint64_t file_off)
{
	struct piece p = {.chunk = chunk, .page = page, .addr = addr, .len = len, .hashes = hashes, .file_off = file_off};
	if (!c->started) {
		if (c->failed)
			return;
		uint8_t *block = xmalloc(len < BACK_BLOCK ? (size_t)len : BACK_BLOCK);
		c->failed = check_piece(c, &p, block, &c->bad, &c->bad_errno);
		free(block);
		return;
	}
	pthread_mutex_lock(&c->mu);
	if (c->n == c->cap)
		c->q = xrealloc(c->q, (c->cap = c->cap ? c->cap * 2 : 64) * sizeof(*c->q));
	c->q[c->n++] = p;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

int pagecheck_finish(struct pagecheck *c, const struct image *im)
{
	pthread_mutex_lock(&c->mu);
	while (c->started && c->next != c->n && !c->exited)
		pthread_cond_wait(&c->cv, &c->mu);
	int failed = c->failed, e = c->bad_errno;
	struct piece bad = c->bad;
	pthread_mutex_unlock(&c->mu);
	if (!failed)
		return 0;
	if (e) {
		errno = e;
		return fail_errno(EXIT_FAIL, "restore: cannot read back the pages at 0x%llx", (unsigned long long)bad.addr);
	}
	return fail(EXIT_BADIMAGE,
		    "bad image %s: page %llu of pagemap #%zu (address 0x%llx, byte %llu of the file) does not match its hash (rule page_hash)",
		    im->path, (unsigned long long)bad.page, bad.chunk, (unsigned long long)bad.addr, (unsigned long long)bad.file_off);
}

void pagecheck_stop(struct pagecheck *c)
{
	if (!c)
		return;
	if (c->started) {
		pthread_mutex_lock(&c->mu);
		c->stop = 1;
		c->failed = 1; /* nothing more is wanted: the rest is dropped */
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->thread, NULL);
	}
	if (c->mem_fd >= 0)
		close(c->mem_fd);
	free(c->q);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}
