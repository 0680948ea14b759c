/* Test target: files whose path is gone (issue 11), and checks of each of them by the process
 * itself.
 *   unlinked   a sparse file of DIR, unlinked while open: 1 MiB of data, a hole, 300 KiB more;
 *              three descriptions of it (read-write at offset 12345, read-only through
 *              /proc/self/fd at offset 777, write-only with O_APPEND), all of one inode
 *   memfd      a memfd "ckpt-test-memfd" with 3 pages + 100 bytes, sealed against shrinking and
 *              growing, mapped MAP_SHARED (bytes written through the mapping are the file's)
 *   tmpfile    an O_TMPFILE file of DIR (mode 0640) at offset 5, which linkat can still name
 *   cwd        the working directory DIR/gone, removed while the process is in it
 * Usage: nopath OUT DIR. Writes "ready PID" to OUT once set up; on SIGUSR1 writes one
 * "PASS item" or "FAIL item why" line per item, then "done"; it can be asked again. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096
#define HOLE_AT (8 << 20)
#define TAIL_LEN (300 << 10)

static int outfd, unl, unl_ro, unl_app, mfd, tmp;
static char *map;
static char dir[4096];
static volatile sig_atomic_t asked;

static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (write(outfd, line, (size_t)n) != n)
		_exit(2);
}

static uint8_t byte_at(uint64_t off, int salt)
{
	return (uint8_t)((off * 2654435761u) >> 13) ^ (uint8_t)salt;
}

static void fill(uint8_t *b, size_t n, uint64_t off, int salt)
{
	for (size_t i = 0; i < n; i++)
		b[i] = byte_at(off + i, salt);
}

/* Whether bytes [off, off+n) of fd are the pattern (or zeros for salt -1). */
static int pattern_ok(int fd, uint64_t off, size_t n, int salt)
{
	static uint8_t got[1 << 16];
	for (size_t done = 0; done < n;) {
		size_t k = n - done < sizeof(got) ? n - done : sizeof(got);
		if (pread(fd, got, k, (off_t)(off + done)) != (ssize_t)k)
			return 0;
		for (size_t i = 0; i < k; i++)
			if (got[i] != (salt < 0 ? 0 : byte_at(off + done + i, salt)))
				return 0;
		done += k;
	}
	return 1;
}

static int deleted(int fd)
{
	char p[64], l[4096];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(p, l, sizeof(l) - 1);
	if (n < 0)
		return 0;
	l[n] = 0;
	return strstr(l, " (deleted)") != NULL;
}

static int ends_with_name(int fd, const char *tail)
{
	char p[64], l[4096];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(p, l, sizeof(l) - 1);
	if (n < 0)
		return 0;
	l[n] = 0;
	return (size_t)n >= strlen(tail) && !strcmp(l + n - strlen(tail), tail);
}

static void check_unlinked(void)
{
	struct stat a, b, c;
	const char *why = NULL;
	if (fstat(unl, &a) || fstat(unl_ro, &b) || fstat(unl_app, &c))
		why = "fstat";
	else if (a.st_ino != b.st_ino || a.st_ino != c.st_ino || a.st_dev != b.st_dev)
		why = "its three descriptions are not one file";
	else if (a.st_nlink != 0 || !deleted(unl))
		why = "it has a path";
	else if (!ends_with_name(unl, "/unlinked (deleted)"))
		why = "its name in /proc/self/fd";
	else if (a.st_size != HOLE_AT + TAIL_LEN)
		why = "size";
	else if ((a.st_mode & 07777) != 0640)
		why = "mode";
	else if (!pattern_ok(unl, 0, 1 << 20, 1) || !pattern_ok(unl, 1 << 20, HOLE_AT - (1 << 20), -1) || !pattern_ok(unl, HOLE_AT, TAIL_LEN, 2))
		why = "content";
	else if (lseek(unl, 0, SEEK_CUR) != 12345 || lseek(unl_ro, 0, SEEK_CUR) != 777)
		why = "offsets";
	else if ((fcntl(unl, F_GETFL) & O_ACCMODE) != O_RDWR || (fcntl(unl_ro, F_GETFL) & O_ACCMODE) != O_RDONLY ||
		 (fcntl(unl_app, F_GETFL) & (O_ACCMODE | O_APPEND)) != (O_WRONLY | O_APPEND))
		why = "access modes or O_APPEND";
	else if (write(unl_ro, "x", 1) != -1 || errno != EBADF)
		why = "the read-only description can write";
	if (why) {
		say("FAIL unlinked %s\n", why);
		return;
	}
	/* one file: what one description writes, another reads */
	if (pwrite(unl, "shared!", 7, 100) != 7 || !pattern_ok(unl_ro, 0, 100, 1)) {
		say("FAIL unlinked write\n");
		return;
	}
	char got[8] = {0};
	if (pread(unl_ro, got, 7, 100) != 7 || memcmp(got, "shared!", 7)) {
		say("FAIL unlinked not shared between its descriptions\n");
		return;
	}
	uint8_t orig[7];
	fill(orig, 7, 100, 1);
	if (pwrite(unl, orig, 7, 100) != 7) {
		say("FAIL unlinked restore the bytes\n");
		return;
	}
	say("PASS unlinked\n");
}

static void check_memfd(void)
{
	char l[256], p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", mfd);
	ssize_t n = readlink(p, l, sizeof(l) - 1);
	l[n > 0 ? n : 0] = 0;
	struct stat st;
	int seals = fcntl(mfd, F_GET_SEALS);
	const char *why = NULL;
	if (strcmp(l, "/memfd:ckpt-test-memfd (deleted)"))
		why = "name";
	else if (seals != (F_SEAL_SHRINK | F_SEAL_GROW))
		why = "seals";
	else if (fstat(mfd, &st) || st.st_size != 3 * PAGE + 100)
		why = "size";
	else if (!pattern_ok(mfd, 0, PAGE, 3) || !pattern_ok(mfd, PAGE + 8, 3 * PAGE + 100 - PAGE - 8, 3))
		why = "content";
	else if (memcmp(map + PAGE, "mapping!", 8))
		why = "bytes written through the mapping";
	else if (ftruncate(mfd, 10 * PAGE) != -1 || errno != EPERM)
		why = "the seal against growing does not hold";
	if (why) {
		say("FAIL memfd %s\n", why);
		return;
	}
	/* the mapping maps the memfd: each sees what the other writes */
	map[2 * PAGE] ^= 0x55;
	char c;
	int through_map = pread(mfd, &c, 1, 2 * PAGE) == 1 && c == map[2 * PAGE];
	map[2 * PAGE] ^= 0x55;
	char x = (char)(byte_at(2 * PAGE + 1, 3) ^ 0x33);
	int through_file = pwrite(mfd, &x, 1, 2 * PAGE + 1) == 1 && map[2 * PAGE + 1] == x;
	x ^= 0x33;
	if (pwrite(mfd, &x, 1, 2 * PAGE + 1) != 1 || !through_map || !through_file) {
		say("FAIL memfd the mapping is not the memfd's (MAP_SHARED)\n");
		return;
	}
	say("PASS memfd\n");
}

static void check_tmpfile(void)
{
	struct stat st;
	char got[32] = {0}, p[64], name[4200];
	const char *why = NULL;
	if (fstat(tmp, &st) || st.st_nlink != 0 || (st.st_mode & 07777) != 0640)
		why = "links or mode";
	else if (lseek(tmp, 0, SEEK_CUR) != 5)
		why = "offset";
	else if (pread(tmp, got, sizeof(got) - 1, 0) != 15 || strcmp(got, "tmpfile content"))
		why = "content";
	if (!why) {
		/* an O_TMPFILE file made without O_EXCL can be given a name */
		snprintf(p, sizeof(p), "/proc/self/fd/%d", tmp);
		snprintf(name, sizeof(name), "%s/linked-%d", dir, (int)getpid());
		int fd = -1;
		if (linkat(AT_FDCWD, p, AT_FDCWD, name, AT_SYMLINK_FOLLOW) < 0)
			why = "linkat";
		else if ((fd = open(name, O_RDONLY)) < 0 || read(fd, got, 15) != 15 || memcmp(got, "tmpfile content", 15))
			why = "the linked name";
		if (fd >= 0)
			close(fd);
		unlink(name);
	}
	if (why)
		say("FAIL tmpfile %s\n", why);
	else
		say("PASS tmpfile\n");
}

static void check_cwd(void)
{
	char l[4200], want[4200];
	ssize_t n = readlink("/proc/self/cwd", l, sizeof(l) - 1);
	l[n > 0 ? n : 0] = 0;
	const char *base = strrchr(l, '/');
	snprintf(want, sizeof(want), "%s/gone (deleted)", dir);
	char buf[64];
	if (getcwd(buf, sizeof(buf)) || errno != ENOENT)
		say("FAIL cwd getcwd finds it\n");
	else if (!strstr(l, " (deleted)") || !base || strncmp(base, "/gone", 5))
		say("FAIL cwd is %s, not a removed directory named gone\n", l);
	else if (open("x", O_CREAT | O_WRONLY, 0600) != -1 || errno != ENOENT)
		say("FAIL cwd a file can be made in it\n");
	else
		say("PASS cwd\n");
}

static void on_usr1(int sig)
{
	(void)sig;
	asked = 1;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	outfd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	snprintf(dir, sizeof(dir), "%s", argv[2]);
	if (outfd < 0 || chdir(dir) < 0)
		return 2;
	umask(0);
	static uint8_t buf[1 << 20];
	unl = open("unlinked", O_RDWR | O_CREAT | O_EXCL, 0640);
	fill(buf, 1 << 20, 0, 1);
	if (unl < 0 || pwrite(unl, buf, 1 << 20, 0) != 1 << 20)
		return 3;
	fill(buf, TAIL_LEN, HOLE_AT, 2);
	if (pwrite(unl, buf, TAIL_LEN, HOLE_AT) != TAIL_LEN || unlink("unlinked") < 0)
		return 3;
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", unl);
	unl_ro = open(p, O_RDONLY);
	unl_app = open(p, O_WRONLY | O_APPEND);
	if (unl_ro < 0 || unl_app < 0 || lseek(unl, 12345, SEEK_SET) < 0 || lseek(unl_ro, 777, SEEK_SET) < 0)
		return 3;

	mfd = memfd_create("ckpt-test-memfd", MFD_ALLOW_SEALING);
	fill(buf, 3 * PAGE + 100, 0, 3);
	if (mfd < 0 || write(mfd, buf, 3 * PAGE + 100) != 3 * PAGE + 100)
		return 4;
	map = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (map == MAP_FAILED || fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		return 4;
	memcpy(map + PAGE, "mapping!", 8);

	tmp = open(".", O_TMPFILE | O_RDWR, 0640);
	if (tmp < 0 || write(tmp, "tmpfile content", 15) != 15 || lseek(tmp, 5, SEEK_SET) != 5)
		return 5;

	if (mkdir("gone", 0700) < 0 || chdir("gone") < 0 || rmdir("../gone") < 0)
		return 6;

	struct sigaction sa = {.sa_handler = on_usr1};
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t block, wait_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	say("ready %d\n", (int)getpid());
	for (;;) {
		sigsuspend(&wait_mask); /* SIGUSR1 only here: none is lost between a check and the wait */
		if (!asked)
			continue;
		asked = 0;
		check_unlinked();
		check_memfd();
		check_tmpfile();
		check_cwd();
		say("done\n");
	}
}
