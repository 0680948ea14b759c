/* Test target (privilege tests): holds one thing that its image will name by path, so that a
 * restore has to open it again.
 *   holder read PATH OUT    fd 3 open for reading on PATH
 *   holder write PATH OUT   fd 3 open for writing on PATH
 *   holder map PATH OUT     a writable shared mapping of PATH (no fd left open on it)
 *   holder cwd PATH OUT     PATH as its working directory
 * Then writes "ready" to OUT (closed again) and waits for signals forever. "err WHAT" on failure. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void say(const char *out, const char *line)
{
	int fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0 || write(fd, line, strlen(line)) < 0)
		_exit(1);
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	const char *mode = argv[1], *path = argv[2], *out = argv[3];
	if (!strcmp(mode, "read") || !strcmp(mode, "write")) {
		if (open(path, !strcmp(mode, "read") ? O_RDONLY : O_WRONLY) < 0) {
			say(out, "err open\n");
			return 1;
		}
	} else if (!strcmp(mode, "map")) {
		int fd = open(path, O_RDWR);
		void *p = fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			say(out, "err map\n");
			return 1;
		}
		*(volatile char *)p = 'x';
		close(fd);
	} else if (!strcmp(mode, "cwd")) {
		if (chdir(path) < 0) {
			say(out, "err chdir\n");
			return 1;
		}
	} else {
		return 2;
	}
	say(out, "ready\n");
	for (;;)
		pause();
}
