/* Test target: process attributes, checked by the process itself: oom_score_adj, prctl state
 * (no_new_privs, child_subreaper, THP disable, machine-check kill policy, keep-caps, rdtsc,
 * dumpable, the name of every thread; the parent-death signal of its child), personality, the
 * flags of memory areas (mlock, MAP_LOCKED, MADV_DONTFORK, MADV_WIPEONFORK, MADV_HUGEPAGE,
 * MADV_NOHUGEPAGE), and, as root, supplementary groups, capabilities, a seccomp filter (getpgid
 * fails with errno 77, on every thread) and not being dumpable.
 *
 * Usage: attrs OUT. Forks a child (checkpoint both with --tree). Writes "ready PID CHILD" to OUT
 * once set up; when OUT.go exists, the child checks its parent-death signal, then the parent
 * checks the rest and writes one "PASS item" or "FAIL item why" line per item, then "done". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int outfd, root;
static char go[4096], child_done[4096];
static int tsc_ok;

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

static int exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static volatile pid_t worker_tid;

static void *worker(void *arg)
{
	(void)arg;
	worker_tid = (pid_t)syscall(SYS_gettid);
	prctl(PR_SET_NAME, "attrs-worker");
	for (;;) {
		worker_tid = (pid_t)syscall(SYS_gettid); /* another tid after a restore as a user */
		usleep(5000);
	}
	return NULL;
}

/* The areas with flags, one page each (two for huge page advice, which wants an aligned range). */
enum { A_MLOCK, A_MAP_LOCKED, A_DONTFORK, A_WIPEONFORK, A_HUGE, A_NOHUGE, NA };
static const char *aname[NA] = {"mlock", "MAP_LOCKED", "MADV_DONTFORK", "MADV_WIPEONFORK", "MADV_HUGEPAGE", "MADV_NOHUGEPAGE"};
static const char *aflag[NA] = {"lo", "lo", "dc", "wf", "hg", "nh"};
static char *area[NA];

/* VmFlags of the area at `a` in /proc/self/smaps. */
static int has_vmflag(const void *a, const char *flag)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, found = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) /* an area's first line */
			in = (unsigned long)a >= lo && (unsigned long)a < hi;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			char want[8];
			snprintf(want, sizeof(want), " %s", flag);
			for (char *p = line + 8; (p = strstr(p, want)); p++)
				if (p[strlen(want)] == ' ' || p[strlen(want)] == '\n')
					found = 1;
		}
	}
	if (f)
		fclose(f);
	return found;
}

static unsigned long long cap(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long v = 0;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			sscanf(line + strlen(key) + 1, "%llx", &v);
	if (f)
		fclose(f);
	return v;
}

static void child_main(void)
{
	prctl(PR_SET_PDEATHSIG, SIGUSR1);
	for (;;) {
		usleep(5000);
		if (exists(go) && !exists(child_done)) {
			int sig = -1;
			prctl(PR_GET_PDEATHSIG, &sig);
			if (sig == SIGUSR1)
				say("PASS pdeathsig\n");
			else
				say("FAIL pdeathsig: %d\n", sig);
			close(open(child_done, O_WRONLY | O_CREAT, 0644));
		}
	}
}

static void check(void)
{
	char b[32] = "";
	int fd = open("/proc/self/oom_score_adj", O_RDONLY);
	if (fd < 0 || read(fd, b, sizeof(b) - 1) <= 0)
		b[0] = 0;
	close(fd);
	say(atoi(b) == 500 ? "PASS oom_score_adj\n" : "FAIL oom_score_adj: %s\n", b);
	say(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? "PASS no_new_privs\n" : "FAIL no_new_privs\n");
	int v = 0;
	prctl(PR_GET_CHILD_SUBREAPER, &v);
	say(v == 1 ? "PASS child_subreaper\n" : "FAIL child_subreaper: %d\n", v);
	say(prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1 ? "PASS thp_disable\n" : "FAIL thp_disable\n");
	v = prctl(PR_MCE_KILL_GET, 0, 0, 0, 0);
	say(v == PR_MCE_KILL_EARLY ? "PASS mce_kill\n" : "FAIL mce_kill: %d\n", v);
	say(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1 ? "PASS keep_caps\n" : "FAIL keep_caps\n");
	if (tsc_ok) {
		v = 0;
		prctl(PR_GET_TSC, &v);
		say(v == PR_TSC_SIGSEGV ? "PASS tsc\n" : "FAIL tsc: %d\n", v);
	}
	v = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	if (root)
		say(v == 0 ? "PASS dumpable 0\n" : "FAIL dumpable 0: %d\n", v);
	else
		say(v == 1 ? "PASS dumpable 1\n" : "FAIL dumpable 1: %d\n", v);
	int pers = personality(0xffffffff);
	say(pers & ADDR_NO_RANDOMIZE ? "PASS personality\n" : "FAIL personality: %#x\n", pers);

	/* every thread's name */
	char names[256] = "";
	char path[128];
	pid_t tids[8];
	int nt = 0;
	int tdir = open("/proc/self/task", O_RDONLY | O_DIRECTORY);
	char dents[4096];
	long n = tdir >= 0 ? syscall(SYS_getdents64, tdir, dents, sizeof(dents)) : -1;
	for (long off = 0; off < n && nt < 8;) {
		unsigned short reclen = *(unsigned short *)(dents + off + 16);
		const char *name = dents + off + 19;
		if (name[0] != '.')
			tids[nt++] = atoi(name);
		off += reclen;
	}
	if (tdir >= 0)
		close(tdir);
	int main_ok = 0, worker_ok = 0;
	for (int i = 0; i < nt; i++) {
		snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tids[i]);
		char c[32] = "";
		int f = open(path, O_RDONLY);
		if (f >= 0 && read(f, c, sizeof(c) - 1) > 0)
			c[strcspn(c, "\n")] = 0;
		if (f >= 0)
			close(f);
		main_ok |= !strcmp(c, "attrs-main");
		worker_ok |= !strcmp(c, "attrs-worker");
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s ", c);
	}
	say(main_ok && worker_ok ? "PASS thread names\n" : "FAIL thread names: %s\n", names);

	for (int i = 0; i < NA; i++)
		say(has_vmflag(area[i], aflag[i]) ? "PASS vma %s\n" : "FAIL vma %s: no %s in VmFlags\n", aname[i], aflag[i]);

	if (root) {
		gid_t g[16];
		int ng = getgroups(16, g), ok = 0;
		for (int i = 0; i < ng; i++)
			ok += g[i] == 4242 || g[i] == 4343;
		say(ok == 2 && ng == 2 ? "PASS groups\n" : "FAIL groups: %d groups\n", ng);
		unsigned long long bnd = cap("CapBnd"), eff = cap("CapEff"), prm = cap("CapPrm");
		int gone = !(bnd >> CAP_NET_RAW & 1) && !(eff >> CAP_NET_RAW & 1) && !(prm >> CAP_NET_RAW & 1) && !(eff >> CAP_SYS_NICE & 1);
		int kept = (eff >> CAP_SYS_ADMIN & 1) && (prm >> CAP_SYS_NICE & 1);
		say(gone && kept ? "PASS capabilities\n" : "FAIL capabilities: bnd %llx prm %llx eff %llx\n", bnd, prm, eff);
		errno = 0;
		long r = syscall(SYS_getpgid, 0);
		int e = errno;
		char want[32];
		snprintf(want, sizeof(want), "/proc/self/task/%d/status", worker_tid);
		FILE *f = fopen(want, "r");
		char line[256];
		int worker_filtered = 0;
		while (f && fgets(line, sizeof(line), f))
			worker_filtered |= !strncmp(line, "Seccomp:\t2", 10);
		if (f)
			fclose(f);
		say(r == -1 && e == 77 && worker_filtered ? "PASS seccomp\n" : "FAIL seccomp: getpgid %ld errno %d, worker filtered %d\n", r, e,
		    worker_filtered);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	outfd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (outfd < 0)
		return 2;
	snprintf(go, sizeof(go), "%s.go", argv[1]);
	snprintf(child_done, sizeof(child_done), "%s.child", argv[1]);
	root = geteuid() == 0;
	signal(SIGUSR1, SIG_IGN);
	pid_t child = fork();
	if (child == 0)
		child_main();

	int fd = open("/proc/self/oom_score_adj", O_WRONLY);
	if (fd < 0 || write(fd, "500", 3) != 3)
		say("error oom_score_adj\n");
	close(fd);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0);
	prctl(PR_SET_KEEPCAPS, 1);
	tsc_ok = prctl(PR_SET_TSC, PR_TSC_SIGSEGV) == 0;
	personality((unsigned long)personality(0xffffffff) | ADDR_NO_RANDOMIZE);
	prctl(PR_SET_NAME, "attrs-main");
	pthread_t th;
	pthread_create(&th, NULL, worker, NULL);

	long pg = sysconf(_SC_PAGESIZE);
	for (int i = 0; i < NA; i++) {
		size_t len = i >= A_HUGE ? 4 << 20 : (size_t)pg;
		area[i] = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (i == A_MAP_LOCKED ? MAP_LOCKED : 0), -1, 0);
		memset(area[i], 0x5a, (size_t)pg);
	}
	mlock(area[A_MLOCK], (size_t)pg);
	madvise(area[A_DONTFORK], (size_t)pg, MADV_DONTFORK);
	madvise(area[A_WIPEONFORK], (size_t)pg, MADV_WIPEONFORK);
	madvise(area[A_HUGE], 4 << 20, MADV_HUGEPAGE);
	madvise(area[A_NOHUGE], 4 << 20, MADV_NOHUGEPAGE);

	if (root) {
		gid_t g[2] = {4242, 4343};
		if (setgroups(2, g) < 0)
			say("error setgroups %s\n", strerror(errno));
		/* without CAP_NET_RAW at all, and CAP_SYS_NICE only permitted */
		prctl(PR_CAPBSET_DROP, CAP_NET_RAW);
		struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct c[2];
		syscall(SYS_capget, &h, c);
		c[0].effective &= ~(1u << CAP_NET_RAW | 1u << CAP_SYS_NICE);
		c[0].permitted &= ~(1u << CAP_NET_RAW);
		c[0].inheritable = 0;
		c[1].inheritable = 0;
		if (syscall(SYS_capset, &h, c) < 0)
			say("error capset %s\n", strerror(errno));
		/* getpgid fails with errno 77, for every thread (TSYNC) */
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpgid, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 77),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {.len = 4, .filter = f};
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0)
			say("error seccomp %s\n", strerror(errno));
		prctl(PR_SET_DUMPABLE, 0);
	}
	say("ready %d %d\n", getpid(), child);
	for (;;) {
		usleep(5000);
		if (!exists(go))
			continue;
		for (int i = 0; i < 600 && !exists(child_done); i++)
			usleep(5000);
		if (!exists(child_done))
			say("FAIL pdeathsig: the child did not answer\n");
		check();
		say("done\n");
		unlink(child_done);
		unlink(go);
	}
}
