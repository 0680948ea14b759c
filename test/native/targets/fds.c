/* Test target: one of each kind of file descriptor restore recreates, in a known state. On
 * SIGUSR1 it reports what it finds (and the pending signals, umask, rlimit, name and cwd it set) (reading consumes the state, so it is asked once, after
 * restore): "f KEY=VALUE ...". Writes "ready" when set up. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t asked, usr2_seen, rt_seen;
static volatile int rt_values[4];
static void on_usr2(int sig)
{
	(void)sig;
	usr2_seen++;
}
static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	if (rt_seen < 4 && si->si_code == SI_QUEUE)
		rt_values[rt_seen] = si->si_value.sival_int;
	rt_seen++;
}
static volatile sig_atomic_t asked;
static void on_usr1(int sig)
{
	(void)sig;
	asked = 1;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	const char *dir = argv[2];
	int out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char path[4096];

	int pp[2];
	if (pipe(pp) < 0 || write(pp[1], "pipe-bytes", 10) != 10)
		return 1;
	int efd = eventfd(5, EFD_NONBLOCK);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1111222233334444ULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &ev);
	ev.data.u64 = 0x5555;
	epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
	snprintf(path, sizeof(path), "%s/data.txt", dir);
	int data = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (write(data, "0123456789abcdef", 16) != 16)
		return 1;
	lseek(data, 6, SEEK_SET);
	int data_dup = dup(data); /* shares the offset */
	snprintf(path, sizeof(path), "%s/append.txt", dir);
	int app = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	int zero = open("/dev/zero", O_RDONLY);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	mkfifo(path, 0600);
	int fr = open(path, O_RDONLY | O_NONBLOCK);
	int fw = open(path, O_WRONLY | O_NONBLOCK);
	if (write(fw, "fifo-bytes", 10) != 10)
		return 1;

	/* socketpairs: bytes queued both ways, datagrams with their boundaries, a shut down end */
	int sp[2], dp[2], ep2[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0 || socketpair(AF_UNIX, SOCK_DGRAM, 0, dp) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, ep2) < 0)
		return 1;
	if (write(sp[0], "to-1", 4) != 4 || write(sp[1], "to-0", 4) != 4 || send(dp[0], "m1", 2, 0) != 2 ||
	    send(dp[0], "m22", 3, 0) != 3 || write(ep2[0], "last", 4) != 4)
		return 1;
	shutdown(ep2[0], SHUT_WR);

	/* process state: umask, an rlimit, the name, the working directory */
	umask(027);
	struct rlimit nofile;
	getrlimit(RLIMIT_NOFILE, &nofile);
	if (dup2(zero, 60) != 60) /* a high fd, close to a low limit: restore needs fds above it */
		return 1;
	nofile.rlim_cur = 64;
	setrlimit(RLIMIT_NOFILE, &nofile);
	prctl(PR_SET_NAME, "fds-target");
	if (chdir(dir) < 0)
		return 1;

	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	/* pending signals: SIGUSR2 process-wide and thread-directed, two queued RT signals with values */
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	struct sigaction rt = {.sa_sigaction = on_rt, .sa_flags = SA_SIGINFO | SA_RESTART};
	sigemptyset(&rt.sa_mask);
	sigaction(SIGRTMIN + 1, &rt, NULL);
	sigset_t blocked;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR2);
	sigaddset(&blocked, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
	kill(getpid(), SIGUSR2);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR2);
	sigqueue(getpid(), SIGRTMIN + 1, (union sigval){.sival_int = 4242});
	sigqueue(getpid(), SIGRTMIN + 1, (union sigval){.sival_int = 4243});
	if (write(out, "ready\n", 6) != 6)
		return 1;
	while (!asked) {
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}

	char line[8192], buf[64] = {0}, fbuf[64] = {0};
	struct epoll_event evs[4];
	int n = epoll_wait(ep, evs, 4, 0);
	unsigned long long d0 = 0, d1 = 0;
	for (int i = 0; i < n; i++)
		d0 |= evs[i].data.u64 == 0x1111222233334444ULL, d1 |= evs[i].data.u64 == 0x5555;
	fcntl(pp[0], F_SETFL, O_NONBLOCK);
	ssize_t pn = read(pp[0], buf, sizeof(buf) - 1);
	uint64_t cnt = 0;
	ssize_t en = read(efd, &cnt, 8);
	ssize_t fn = read(fr, fbuf, sizeof(fbuf) - 1);
	off_t pos = lseek(data, 0, SEEK_CUR);
	char two[3] = {0};
	ssize_t rn = read(data_dup, two, 2); /* from the shared offset 6: "67" */
	off_t pos_after = lseek(data, 0, SEEK_CUR); /* 8 when the offset is shared */
	int cloexec = (fcntl(app, F_GETFD) & FD_CLOEXEC) && (fcntl(ep, F_GETFD) & FD_CLOEXEC) && !(fcntl(data, F_GETFD) & FD_CLOEXEC);
	int appendfl = (fcntl(app, F_GETFL) & O_APPEND) != 0;
	int nonblock = (fcntl(efd, F_GETFL) & O_NONBLOCK) != 0;
	struct stat st;
	int isdir = fstat(dfd, &st) == 0 && S_ISDIR(st.st_mode);
	char z = 1;
	ssize_t zn = read(zero, &z, 1);
	sigprocmask(SIG_UNBLOCK, &blocked, NULL); /* the pending signals arrive now */
	mode_t um = umask(0);
	getrlimit(RLIMIT_NOFILE, &nofile);
	char name[17] = {0}, cwd[4096] = {0};
	prctl(PR_GET_NAME, name);
	if (!getcwd(cwd, sizeof(cwd)))
		return 1;
	char procstate[4300];
	snprintf(procstate, sizeof(procstate), "sig=%d/%d:%d,%d umask=%03o nofile=%llu fd60=%d comm=%s cwd=%s", (int)usr2_seen,
		 (int)rt_seen, rt_values[0], rt_values[1], (unsigned)um, (unsigned long long)nofile.rlim_cur, fcntl(60, F_GETFD) >= 0, name,
		 strcmp(cwd, dir) ? cwd : "=");
	char s1[8] = {0}, s0[8] = {0}, g1[8] = {0}, g2[8] = {0}, l[8] = {0};
	ssize_t n1 = recv(sp[1], s1, 7, MSG_DONTWAIT), n0 = recv(sp[0], s0, 7, MSG_DONTWAIT);
	ssize_t m1 = recv(dp[1], g1, 7, MSG_DONTWAIT), m2 = recv(dp[1], g2, 7, MSG_DONTWAIT);
	ssize_t ln = recv(ep2[1], l, 7, MSG_DONTWAIT), eof = recv(ep2[1], l + 4, 3, MSG_DONTWAIT);
	char socks[128];
	snprintf(socks, sizeof(socks), "sock=%s/%s dgram=%s/%s shut=%s/%zd", n1 > 0 ? s1 : "-", n0 > 0 ? s0 : "-", m1 > 0 ? g1 : "-",
		 m2 > 0 ? g2 : "-", ln > 0 ? l : "-", eof);
	snprintf(line, sizeof(line),
		 "f epoll=%d%d%d pipe=%s efd=%llu fifo=%s pos=%lld shared=%s/%lld cloexec=%d append=%d nonblock=%d dir=%d zero=%d %s %s\n",
		 n, (int)d0, (int)d1, pn > 0 ? buf : "-", en == 8 ? (unsigned long long)cnt : 0ULL, fn > 0 ? fbuf : "-",
		 (long long)pos, rn == 2 ? two : "-", (long long)pos_after, cloexec, appendfl, nonblock, isdir, zn == 1 && z == 0, socks, procstate);
	if (write(out, line, strlen(line)) < 0)
		return 1;
	for (;;)
		pause();
}
