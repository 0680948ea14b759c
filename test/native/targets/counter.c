/* Test target (issue 3, item 1): a counter written to a file every few ms, 8 MiB of heap with
 * known data, a signal handler, memory of every protection, vdso time calls and brk growth.
 * SIGUSR1 asks for a report line with checksums. An optional second argument adds that many
 * MiB of touched memory, to make a dump take longer.
 * Output lines: "c N" (the counter), "r HANDLED HEAPSUM PROTSUM EXEC TIME_OK". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define HEAP_BYTES (8u << 20)

static volatile sig_atomic_t reports_asked;
static int handled;

static void on_usr1(int sig)
{
	(void)sig;
	reports_asked++;
}

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	int out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0)
		return 1;
	/* heap: known pseudo-random data */
	uint8_t *heap = malloc(HEAP_BYTES);
	uint64_t x = 88172645463325252ULL;
	for (size_t i = 0; i < HEAP_BYTES; i += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(heap + i, &x, 8);
	}
	if (argc > 2) {
		size_t extra = (size_t)atol(argv[2]) << 20;
		uint8_t *big = mmap(NULL, extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		for (size_t i = 0; big != MAP_FAILED && i < extra; i += 4096)
			big[i] = (uint8_t)(i >> 12 | 1);
	}
	/* every protection, each with content */
	long ps = sysconf(_SC_PAGESIZE);
	uint8_t *none = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *ro = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *wo = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *code = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *shared = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(none, 0x5a, 2 * ps);
	memset(ro, 0xa5, 2 * ps);
	memset(wo, 0x3c, ps);
	memset(shared, 0x77, ps);
	static const uint8_t ret42[] = {0xb8, 42, 0, 0, 0, 0xc3}; /* mov eax, 42; ret */
	memcpy(code, ret42, sizeof(ret42));
	mprotect(none, 2 * ps, PROT_NONE);
	mprotect(ro, 2 * ps, PROT_READ);
	mprotect(wo, ps, PROT_WRITE);
	mprotect(code, ps, PROT_READ | PROT_EXEC);
	int (*fn)(void) = (int (*)(void))(void *)code;

	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);

	char line[256];
	struct timespec last;
	clock_gettime(CLOCK_MONOTONIC, &last);
	for (long i = 0;; i++) {
		int n = snprintf(line, sizeof(line), "c %ld\n", i);
		if (write(out, line, (size_t)n) != n)
			return 1;
		while (reports_asked > handled) {
			handled++;
			/* brk growth after restore: a burst of small allocations and one big one */
			void *small[64];
			for (int k = 0; k < 64; k++)
				small[k] = malloc(4000 + k);
			void *big = malloc(3u << 20);
			memset(big, 1, 3u << 20);
			free(big);
			for (int k = 0; k < 64; k++)
				free(small[k]);
			mprotect(none, 2 * ps, PROT_READ);
			uint64_t prot = fnv(none, 2 * ps) ^ fnv(ro, 2 * ps) ^ fnv(shared, ps);
			mprotect(none, 2 * ps, PROT_NONE);
			mprotect(wo, ps, PROT_READ | PROT_WRITE);
			prot ^= fnv(wo, ps);
			mprotect(wo, ps, PROT_WRITE);
			struct timespec now;
			struct timeval tv;
			clock_gettime(CLOCK_MONOTONIC, &now);
			gettimeofday(&tv, NULL);
			int time_ok = (now.tv_sec > last.tv_sec || (now.tv_sec == last.tv_sec && now.tv_nsec >= last.tv_nsec)) &&
				      tv.tv_sec > 1600000000;
			n = snprintf(line, sizeof(line), "r %d %016llx %016llx %d %d\n", handled,
				     (unsigned long long)fnv(heap, HEAP_BYTES), (unsigned long long)prot, fn(), time_ok);
			if (write(out, line, (size_t)n) != n)
				return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &last);
		struct timespec ts = {0, 3 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}
