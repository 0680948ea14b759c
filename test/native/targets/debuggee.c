/* Test target (issue 15): a program to debug from its checkpoint. Built with -g -O0, so a
 * debugger shows its stacks and variables exactly: the main thread sleeps in
 * main -> outer -> inner -> nanosleep, a second thread waits in pthread_cond_wait, and the global
 * the_global holds known values. Prints "ready PID" on stdout once both are in place. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

struct shape {
	int id;
	long long big;
	double ratio;
	char name[16];
	unsigned char bytes[4];
};

struct shape the_global = {42, 0x123456789abcdefLL, 2.5, "debuggee", {0xde, 0xad, 0xbe, 0xef}};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static volatile int waiter_ready;

static void *waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	waiter_ready = 1;
	for (;;)
		pthread_cond_wait(&never, &lock);
	return NULL;
}

__attribute__((noinline)) static int inner(int depth)
{
	struct timespec ts = {3600, 0};
	for (;;)
		nanosleep(&ts, NULL);
	return depth;
}

__attribute__((noinline)) static int outer(int depth)
{
	return inner(depth + 1) + 1;
}

int main(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, waiter, NULL))
		return 1;
	while (!waiter_ready)
		usleep(1000);
	printf("ready %d\n", getpid());
	fflush(stdout);
	return outer(1);
}
