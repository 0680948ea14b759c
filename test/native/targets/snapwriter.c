/* Test and bench target for the leave-running snapshot (issue 12).
 *   snapwriter MIB [write | trickle] [shared]
 * MIB MiB of touched memory, every page different (its first 8 bytes are its stamp). A probe
 * thread wakes every 200 us and keeps the largest gap between two wake-ups: how long the process
 * could not run. With `write`, a writer thread sweeps the pages without end, stamping each with
 * the next value of a counter: `stamp = seq + 1; page = stamp; seq = stamp`, so that at any
 * instant every page holds at most seq + 1, and an image with a page above its own seq + 1 holds
 * a value written after the freeze. `shared` adds 1 MiB of MAP_SHARED memory and 1 MiB with
 * MADV_WIPEONFORK and 1 MiB with MADV_DONTFORK, all stamped by the writer too. `trickle` writes
 * the same way, one page every 50 us at most: a service that writes some of its memory while a
 * precopy runs, not all of it in every millisecond.
 * stdout: "addr BASE PAGES SEQADDR SHAREDBASE" once ready; on SIGUSR1 (taken by sigwait) "gap US" (the largest gap
 * since the last report) and "seq N". On SIGUSR2 it checks its own pages (each page's stamp is
 * at most seq + 1 and not 0) and prints "check ok" or "check bad PAGE". */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096

static uint8_t *mem, *extra;
static size_t npages, nextra;
static volatile uint64_t seq;
static volatile uint64_t max_gap_ns;
static volatile sig_atomic_t want_report, want_check;

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
		uint64_t t = now(), gap = t - last;
		if (gap > max_gap_ns)
			max_gap_ns = gap;
		last = t;
	}
	return NULL;
}

static void stamp(uint8_t *page)
{
	uint64_t s = seq + 1;
	memcpy(page, &s, 8);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	seq = s;
}

static int trickle;

static void pause_trickle(void)
{
	struct timespec ts = {0, 50000};
	if (trickle)
		nanosleep(&ts, NULL);
}

static void *writer(void *arg)
{
	(void)arg;
	for (;;) {
		for (size_t i = 0; i < npages; i++)
			stamp(mem + i * PAGE), pause_trickle();
		for (size_t i = 0; i < nextra; i++)
			stamp(extra + i * PAGE), pause_trickle();
	}
	return NULL;
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_report = 1;
	else
		want_check = 1;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	npages = ((size_t)atol(argv[1]) << 20) / PAGE;
	int write = 0, shared = 0;
	for (int i = 2; i < argc; i++) {
		trickle |= !strcmp(argv[i], "trickle");
		write |= !strcmp(argv[i], "write") || trickle;
		shared |= !strcmp(argv[i], "shared");
	}
	mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	uint64_t x = 88172645463325252ULL;
	for (size_t i = 0; i < npages; i++) {
		/* a varied page, not compressible to nothing; its first 8 bytes are its stamp */
		for (size_t o = 8; o < PAGE; o += 8) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			memcpy(mem + i * PAGE + o, &x, 8);
		}
		stamp(mem + i * PAGE);
	}
	if (shared) {
		nextra = 3 * 256;
		extra = mmap(NULL, nextra * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		uint8_t *rest = mmap(NULL, 512 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (extra == MAP_FAILED || rest == MAP_FAILED)
			return 1;
		/* one array of three areas for the writer: shared, then wipe-on-fork, then dont-fork */
		munmap(extra + 256 * PAGE, 512 * PAGE);
		if (mremap(rest, 512 * PAGE, 512 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, extra + 256 * PAGE) == MAP_FAILED ||
		    madvise(extra + 256 * PAGE, 256 * PAGE, MADV_WIPEONFORK) < 0 || madvise(extra + 512 * PAGE, 256 * PAGE, MADV_DONTFORK) < 0)
			return 1;
		for (size_t i = 0; i < nextra; i++)
			stamp(extra + i * PAGE);
	}
	/* blocked in every thread (the threads inherit the mask) and taken by the main thread with
	 * sigwait: a handler could run in another thread, or between a check and pause() */
	sigset_t asks;
	sigemptyset(&asks);
	sigaddset(&asks, SIGUSR1);
	sigaddset(&asks, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &asks, NULL);
	pthread_t th;
	pthread_create(&th, NULL, probe, NULL);
	if (write)
		pthread_create(&th, NULL, writer, NULL);
	printf("addr %llx %zu %llx %llx\n", (unsigned long long)(uintptr_t)mem, npages, (unsigned long long)(uintptr_t)&seq,
	       (unsigned long long)(uintptr_t)extra);
	fflush(stdout);
	for (;;) {
		int sig;
		if (sigwait(&asks, &sig) != 0)
			continue;
		on_signal(sig);
		if (want_report) {
			want_report = 0;
			uint64_t g = max_gap_ns;
			max_gap_ns = 0;
			printf("gap %llu\nseq %llu\n", (unsigned long long)(g / 1000), (unsigned long long)seq);
			fflush(stdout);
		}
		if (want_check) {
			want_check = 0;
			uint64_t s = seq + 1;
			size_t bad = (size_t)-1;
			for (size_t i = 0; i < npages + nextra && bad == (size_t)-1; i++) {
				uint64_t v;
				memcpy(&v, i < npages ? mem + i * PAGE : extra + (i - npages) * PAGE, 8);
				if (v == 0 || v > s)
					bad = i;
			}
			if (bad == (size_t)-1)
				printf("check ok\n");
			else
				printf("check bad %zu\n", bad);
			fflush(stdout);
		}
	}
}
