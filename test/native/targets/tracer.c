/* Test helper (issue 9): another ptrace user. `tracer PID` seizes PID with PTRACE_SEIZE (the
 * process runs on, only traced), prints "seized", and holds it until killed. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	if (ptrace(PTRACE_SEIZE, atoi(argv[1]), 0, 0) < 0) {
		perror("tracer: PTRACE_SEIZE");
		return 1;
	}
	puts("seized");
	fflush(stdout);
	for (;;)
		pause();
}
