/* Test helper.
 *   reaper CMD ARGS...        runs CMD as a child subreaper, so that the process `ckpt restore`
 *                             leaves behind is ours to reap, not PID 1's. Writes "reaper: exit CODE"
 *                             to stderr when CMD itself ends, then reaps orphans until none is left.
 *   reaper --exec CMD ARGS... closes every fd above 2, then becomes CMD (same pid): targets must
 *                             not inherit a stray fd of whatever started the tests. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "--exec")) {
		if (argc < 3)
			return 2;
		syscall(SYS_close_range, 3, ~0U, 0);
		execvp(argv[2], argv + 2);
		perror("exec");
		return 127;
	}
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
