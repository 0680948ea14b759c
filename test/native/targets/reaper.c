/* Test helper: runs a command as a child subreaper, so that the process `ckpt restore` leaves
 * behind is ours to reap, not PID 1's. Writes "exit CODE" to stderr when the command itself
 * ends, then reaps orphans until none are left. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid_t cmd = fork();
	if (cmd == 0) {
		execvp(argv[1], argv + 1);
		perror("exec");
		_exit(127);
	}
	int code = 1;
	for (;;) {
		int st;
		pid_t r = waitpid(-1, &st, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (r == cmd) {
			code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			fprintf(stderr, "reaper: exit %d\n", code);
			fflush(stderr);
		}
	}
	return code;
}
