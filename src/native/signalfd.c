/* signalfd: its mask (sigmask in /proc/PID/fdinfo) and status flags. A signalfd holds no state
 * of its own beyond those: the signals it reads are the process's pending signals. */
#include "ckpt.h"
#include "ckpt.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

void signalfd_describe(struct file_state *f, const char *info)
{
	const char *v = find_key(info, "sigmask");
	struct ckpt_fd_signalfd s = {.mask = v ? strtoull(v, NULL, 16) : 0};
	struct buf b = {0};
	buf_put(&b, &s, sizeof(s));
	put_extra(f, &b);
	f->f.kind = CKPT_FD_KIND_SIGNALFD;
}

int signalfd_make(const struct file_state *f)
{
	struct ckpt_fd_signalfd s;
	memcpy(&s, f->extra, sizeof(s));
	/* the raw syscall takes the kernel's 8-byte mask as it was read */
	uint64_t mask = s.mask; /* an aligned copy of the packed field */
	int fd = (int)syscall(SYS_signalfd4, -1, &mask, 8, SFD_CLOEXEC | (f->f.flags & O_NONBLOCK));
	if (fd < 0)
		return fail_errno(EXIT_FAIL, "signalfd (mask 0x%llx)", (unsigned long long)s.mask);
	return fd;
}
