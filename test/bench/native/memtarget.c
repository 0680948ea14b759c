/* Bench target: MIB MiB of touched memory in one anonymous mapping, every page different.
 *   memtarget MIB random|heap REPORT [probe]
 * random: every byte from xorshift64 seeded with the page index (incompressible).
 * heap:   64-byte "structs" as a heap holds them: a pointer into the area, a small id, a few
 *         flags, the rest zero (compressible, not zero).
 * Once filled it writes "ADDR LEN\n" to REPORT. On SIGUSR2 it checks every byte of its memory
 * against the generator and writes "ok" or "bad PAGE" to REPORT (opened by path each time, so a
 * restored copy reports too). With `probe`, a thread wakes every 200 us and keeps the largest
 * gap between two wake-ups (how long the process could not run); SIGUSR1 writes "gap US" (the
 * largest since the last report) to REPORT. Its only fds are 0-2, and none open between reports. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <time.h>

#define PAGE 4096

static uint8_t *mem;
static size_t len;
static int heap;
static volatile uint64_t max_gap_ns;

static uint64_t now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *probe(void *arg)
{
	(void)arg;
	uint64_t last = now();
	for (;;) {
		struct timespec ts = {0, 200000};
		nanosleep(&ts, NULL);
		uint64_t t = now();
		if (t - last > max_gap_ns)
			max_gap_ns = t - last;
		last = t;
	}
	return NULL;
}

static void fill_page(size_t i, uint64_t *w)
{
	if (heap) {
		memset(w, 0, PAGE);
		for (size_t s = 0; s < PAGE / 64; s++) {
			uint64_t *st = w + s * 8;
			uint64_t n = i * (PAGE / 64) + s;
			st[0] = (uint64_t)(uintptr_t)mem + ((n * 2654435761u) % (len / 64)) * 64; /* next */
			st[1] = n;					       /* id */
			st[2] = n % 7 == 0 ? 0x100000001ULL : 0;	       /* flags */
		}
		return;
	}
	uint64_t x = 0x9e3779b97f4a7c15ULL ^ (i + 1) * 0xbf58476d1ce4e5b9ULL;
	for (size_t k = 0; k < PAGE / 8; k++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		w[k] = x;
	}
}

static void report(const char *path, const char *text)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, text, strlen(text)) < 0) {
	}
	close(fd);
	rename(tmp, path);
}

int main(int argc, char **argv)
{
	if (argc != 4 && !(argc == 5 && !strcmp(argv[4], "probe")))
		return 2;
	syscall(SYS_close_range, 3, ~0U, 0); /* nothing inherited: a stray pipe would be refused or restored broken */
	len = (size_t)atol(argv[1]) << 20;
	heap = !strcmp(argv[2], "heap");
	char path[4096];
	snprintf(path, sizeof(path), "%s", argv[3]);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	madvise(mem, len, MADV_NOHUGEPAGE); /* pages as a heap has them, 4 KiB each */
	for (size_t i = 0; i < len / PAGE; i++)
		fill_page(i, (uint64_t *)(mem + i * PAGE));
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL); /* before the probe thread: it inherits the mask */
	pthread_t th;
	if (argc == 5 && pthread_create(&th, NULL, probe, NULL))
		return 1;
	char text[128];
	snprintf(text, sizeof(text), "%lx %zu\n", (unsigned long)(uintptr_t)mem, len);
	report(path, text);
	static uint64_t want[PAGE / 8];
	for (;;) {
		int sig;
		if (sigwait(&set, &sig))
			continue;
		if (sig == SIGUSR1) {
			snprintf(text, sizeof(text), "gap %llu\n", (unsigned long long)(max_gap_ns / 1000));
			max_gap_ns = 0;
			report(path, text);
			continue;
		}
		size_t bad = (size_t)-1;
		for (size_t i = 0; i < len / PAGE && bad == (size_t)-1; i++) {
			fill_page(i, want);
			if (memcmp(want, mem + i * PAGE, PAGE))
				bad = i;
		}
		if (bad == (size_t)-1)
			snprintf(text, sizeof(text), "ok\n");
		else
			snprintf(text, sizeof(text), "bad %zu\n", bad);
		report(path, text);
	}
}
