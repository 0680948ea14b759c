/* The tracee's memory, read and written from outside: process_vm_readv/writev, and the target's
 * /proc/PID/mem (one fd kept open, for the last process asked) for what those refuse. Beside
 * inject.c, the other way ckpt touches a stopped tracee. */
#include "ckpt.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static int mem_fd = -1;
static pid_t mem_pid;

int proc_mem(pid_t pid)
{
	if (mem_fd >= 0 && mem_pid == pid)
		return mem_fd;
	if (mem_fd >= 0)
		close(mem_fd);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	mem_fd = open(path, O_RDWR | O_CLOEXEC);
	mem_pid = pid;
	return mem_fd;
}

void proc_mem_close(void)
{
	if (mem_fd >= 0)
		close(mem_fd);
	mem_fd = -1;
}

/* process_vm_readv is the fast path; /proc/PID/mem reaches what it refuses (PROT_NONE). */
int mem_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		struct iovec l = {(char *)buf + done, len - done}, r = {(void *)(addr + done), len - done};
		ssize_t n = process_vm_readv(pid, &l, 1, &r, 1, 0);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (done == len)
		return 0;
	int fd = proc_mem(pid);
	if (fd < 0)
		return -1;
	return pread_all(fd, (char *)buf + done, len - done, addr + done);
}

int mem_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec l = {(void *)buf, len}, r = {(void *)addr, len};
	if (process_vm_writev(pid, &l, 1, &r, 1, 0) == (ssize_t)len)
		return 0;
	int fd = proc_mem(pid);
	if (fd < 0)
		return -1;
	return pwrite_all(fd, buf, len, addr);
}

/* The areas of /proc/PID/maps. */
size_t read_maps(pid_t pid, struct range **out)
{
	char *text = read_filef(NULL, "/proc/%d/maps", pid);
	size_t n = 0, cap = 0;
	*out = NULL;
	for (char *line = text; line && *line;) {
		char *eol = strchr(line, '\n');
		if (eol)
			*eol = 0;
		unsigned long long s, e;
		char perms[8] = "";
		int pos = 0;
		if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %n", &s, &e, perms, &pos) >= 2) {
			if (n == cap)
				*out = xrealloc(*out, (cap = cap ? cap * 2 : 64) * sizeof(**out));
			(*out)[n] = (struct range){.start = s, .end = e};
			memcpy((*out)[n].perms, perms, sizeof((*out)[n].perms) - 1);
			if (pos > 0)
				snprintf((*out)[n].name, sizeof((*out)[n].name), "%s", line + pos);
			n++;
		}
		line = eol ? eol + 1 : NULL;
	}
	free(text);
	return n;
}
