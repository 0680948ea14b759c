/* The machine's limits, measured by the bench beside ckpt (prints nanoseconds on stdout):
 *   limits copy PID ADDR LEN      process_vm_readv of LEN bytes at ADDR of PID into one reused
 *                                 4 MiB buffer, in 4 MiB calls (a raw copy, nothing else)
 *   limits read FILE              FILE read into freshly mapped memory (each page faulted in by
 *                                 the read), in 64 MiB read calls
 *   limits write FILE LEN         LEN bytes written to a new FILE in 4 MiB writes, then fsync;
 *                                 prints "WRITE_NS FSYNC_NS"; FILE is removed
 *   limits dwrite FILE LEN        the same with O_DIRECT, in 16 MiB writes from an aligned buffer
 *                                 (as ckpt writes its page data): the disk's own speed, without
 *                                 the page cache's copy
 *   limits time CMD ARG...        runs CMD (stdout to stdout), prints "time NS STATUS CPU_NS" on
 *                                 stderr: a wall time without the bench's own spawn costs, and the
 *                                 CPU time of CMD and the children it waited for */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (4u << 20)

static uint64_t now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "copy")) {
		pid_t pid = atoi(argv[2]);
		uint64_t addr = strtoull(argv[3], NULL, 16), len = strtoull(argv[4], NULL, 10);
		char *buf = malloc(BLOCK);
		memset(buf, 1, BLOCK);
		uint64_t t0 = now();
		for (uint64_t off = 0; off < len;) {
			size_t n = len - off < BLOCK ? len - off : BLOCK;
			struct iovec l = {buf, n}, r = {(void *)(addr + off), n};
			ssize_t k = process_vm_readv(pid, &l, 1, &r, 1, 0);
			if (k <= 0)
				return perror("process_vm_readv"), 1;
			off += (uint64_t)k;
		}
		printf("%llu\n", (unsigned long long)(now() - t0));
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "read")) {
		uint64_t t0 = now();
		int fd = open(argv[2], O_RDONLY);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0)
			return perror(argv[2]), 1;
		size_t len = (size_t)st.st_size;
		char *m = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return perror("mmap"), 1;
		for (size_t off = 0; off < len;) {
			size_t n = len - off < (64u << 20) ? len - off : (64u << 20);
			ssize_t k = pread(fd, m + off, n, (off_t)off);
			if (k <= 0)
				return perror("read"), 1;
			off += (size_t)k;
		}
		printf("%llu\n", (unsigned long long)(now() - t0));
		return 0;
	}
	if (argc == 4 && (!strcmp(argv[1], "write") || !strcmp(argv[1], "dwrite"))) {
		int direct = argv[1][0] == 'd';
		size_t block = direct ? 4 * BLOCK : BLOCK;
		uint64_t len = strtoull(argv[3], NULL, 10);
		if (direct)
			len = (len + 4095) & ~(uint64_t)4095;
		char *buf;
		if (posix_memalign((void **)&buf, 4096, block))
			return 1;
		for (size_t i = 0; i < block; i++)
			buf[i] = (char)(i * 2654435761u >> 13);
		uint64_t t0 = now();
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | (direct ? O_DIRECT : 0), 0600);
		if (fd < 0 && direct) /* a file system without O_DIRECT (tmpfs): as ckpt, buffered */
			fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			return perror(argv[2]), 1;
		for (uint64_t off = 0; off < len;) {
			size_t n = len - off < block ? len - off : block;
			ssize_t k = pwrite(fd, buf, n, (off_t)off);
			if (k <= 0)
				return perror("write"), 1;
			off += (uint64_t)k;
		}
		uint64_t t1 = now();
		fsync(fd);
		uint64_t t2 = now();
		close(fd);
		unlink(argv[2]);
		printf("%llu %llu\n", (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1));
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "time")) {
		uint64_t t0 = now();
		pid_t c = fork();
		if (c == 0) {
			execvp(argv[2], argv + 2);
			_exit(127);
		}
		int st = 0;
		waitpid(c, &st, 0);
		uint64_t t1 = now();
		struct rusage ru;
		getrusage(RUSAGE_CHILDREN, &ru);
		uint64_t cpu = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ULL +
			       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ULL;
		fprintf(stderr, "time %llu %d %llu\n", (unsigned long long)(t1 - t0), WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
			(unsigned long long)cpu);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	fprintf(stderr, "usage: limits copy PID ADDR LEN | read FILE | write FILE LEN | dwrite FILE LEN | time CMD...\n");
	return 2;
}
