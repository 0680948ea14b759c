/* Test target: a parent and a child made by clone(CLONE_FILES) without CLONE_THREAD, which share
 * one fd table. Writes "ready PID" to OUT. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static char stack[65536];

static int child(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2 || clone(child, stack + sizeof(stack), CLONE_FILES | SIGCHLD, NULL) < 0)
		return 2;
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	dprintf(fd, "ready %d\n", getpid());
	close(fd);
	for (;;)
		pause();
}
