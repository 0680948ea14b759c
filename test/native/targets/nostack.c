/* Test target (issue 9): a main thread whose stack pointer lies in a read-only page (it sleeps in
 * raw nanosleep syscalls, which never touch the stack), so that a dump has no room for a frame
 * below it and must inject into it the old way, with a scratch page; a second thread appends
 * "c N" to OUT every 3 ms. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static int out;

static void *ticker(void *arg)
{
	(void)arg;
	for (long i = 0;; i++) {
		char line[32];
		int n = snprintf(line, sizeof(line), "c %ld\n", i);
		if (write(out, line, (size_t)n) != n)
			_exit(1);
		struct timespec ts = {0, 3000000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	pthread_t t;
	if (out < 0 || pthread_create(&t, NULL, ticker, NULL))
		return 1;
	uint8_t *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED)
		return 1;
	static const struct timespec ts = {0, 5000000};
	__asm__ volatile(
		"movq %0, %%rsp\n\t"
		"1:\n\t"
		"movl $35, %%eax\n\t" /* nanosleep(&ts, NULL) */
		"movq %1, %%rdi\n\t"
		"xorl %%esi, %%esi\n\t"
		"syscall\n\t"
		"jmp 1b\n\t"
		:
		: "r"(ro + 4096 - 64), "r"(&ts)
		: "rax", "rcx", "rdi", "rsi", "r11", "memory");
	__builtin_unreachable();
}
