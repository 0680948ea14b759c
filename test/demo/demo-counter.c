/* The demo process that `npm start` checkpoints into the demo workspace: something recognisable to
 * find in the image editor. It counts (four ticks a second) into a log file and into its heap, and
 * keeps a heap of readable text beside a block of pseudo-random bytes.
 *
 *   ckpt-demo LOGFILE
 *
 * In the image: the thread's comm is "ckpt-demo"; the heap holds a banner ("ckpt-explorer demo heap"),
 * the live counter (struct demo_state, right after the banner), 256 KiB of lines "demo line NNNNN: the
 * quick brown fox ..." and 4 MiB of xorshift64 output. SIGTERM or SIGINT ends it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TEXT_BYTES (256u << 10)
#define RANDOM_BYTES (4u << 20)

struct demo_state {
	char banner[64];
	uint64_t counter;
	uint64_t started_unix;
	char *text;
	uint8_t *random;
};

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: ckpt-demo LOGFILE\n");
		return 2;
	}
	/* Only our own files: a descriptor leaked by whatever started us (a pipe to a shell) would be state
	 * outside the process, which the checkpointer rightly refuses. */
	syscall(SYS_close_range, 3, ~0U, 0);
	prctl(PR_SET_NAME, "ckpt-demo", 0, 0, 0);
#ifdef PR_SET_PTRACER
	/* Under Yama ptrace_scope 1, let a checkpointer that is not our ancestor (the extension's) attach. */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
#endif
	int log = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (log < 0) {
		perror(argv[1]);
		return 1;
	}

	struct demo_state *st = calloc(1, sizeof(*st));
	snprintf(st->banner, sizeof(st->banner), "ckpt-explorer demo heap, pid %d", (int)getpid());
	st->started_unix = (uint64_t)time(NULL);
	st->text = malloc(TEXT_BYTES);
	size_t off = 0;
	for (unsigned line = 0; off + 96 < TEXT_BYTES; line++)
		off += (size_t)snprintf(st->text + off, TEXT_BYTES - off, "demo line %05u: the quick brown fox jumps over the lazy dog\n", line);
	memset(st->text + off, 0, TEXT_BYTES - off);
	st->random = malloc(RANDOM_BYTES);
	uint64_t x = 0x2545F4914F6CDD1DULL;
	for (size_t i = 0; i < RANDOM_BYTES; i += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(st->random + i, &x, 8);
	}

	struct sigaction sa = {.sa_handler = on_stop};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	char line[128];
	while (!stop) {
		st->counter++;
		int n = snprintf(line, sizeof(line), "ckpt-demo %d: tick %llu\n", (int)getpid(), (unsigned long long)st->counter);
		if (write(log, line, (size_t)n) != n)
			return 1;
		struct timespec t = {.tv_sec = 0, .tv_nsec = 250 * 1000 * 1000};
		nanosleep(&t, NULL);
	}
	return 0;
}
