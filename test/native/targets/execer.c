/* Test target (issue 9): a process that keeps replacing itself, so that checkpoints land in the
 * middle of an execve. Each generation appends "x GEN PID" to OUT, starts a thread, and 1-4 ms
 * later execs itself as generation GEN+1: from that thread on even generations (the kernel then
 * kills the main thread and gives the thread its PID), from the main thread on odd ones. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char *self_path, *self_out;
static long gen;

static void pause_then_exec(void)
{
	struct timespec ts = {0, (1 + gen % 4) * 1000000L};
	nanosleep(&ts, NULL);
	char next[32];
	snprintf(next, sizeof(next), "%ld", gen + 1);
	char *argv[] = {self_path, self_out, next, NULL};
	execv(self_path, argv); /* not /proc/self/exe: a restored process's is ckpt's unless it may set it */
	_exit(127);
}

static void *thread_main(void *arg)
{
	(void)arg;
	if (gen % 2 == 0)
		pause_then_exec();
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	self_path = argv[0];
	self_out = argv[1];
	gen = argc > 2 ? atol(argv[2]) : 0;
	int out = open(self_out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0)
		return 1;
	dprintf(out, "x %ld %d\n", gen, getpid());
	close(out);
	pthread_t t;
	if (pthread_create(&t, NULL, thread_main, NULL))
		return 1;
	if (gen % 2 == 1)
		pause_then_exec();
	for (;;)
		pause();
}
