/* `ckpt check`: whether this kernel and this user can checkpoint and restore, each mechanism
 * tried for real on a child of ours (in the manner of `criu check`). */
#include "ckpt.h"

#include <sched.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

struct check {
	const char *name;
	int ok;
	int required;
	char detail[256];
};

static struct check checks[16];
static int nchecks;

static struct check *add(const char *name, int required, int ok, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static struct check *add(const char *name, int required, int ok, const char *fmt, ...)
{
	struct check *c = &checks[nchecks++];
	c->name = name;
	c->required = required;
	c->ok = ok;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
	return c;
}

static void check_pagemap_scan(void)
{
	struct {
		uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
		uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
	} a;
	uint64_t regions[3 * 8];
	static char page[4096] __attribute__((aligned(4096)));
	page[0] = 1;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.start = (uint64_t)(uintptr_t)page;
	a.end = a.start + sizeof(page);
	a.vec = (uint64_t)(uintptr_t)regions;
	a.vec_len = 8;
	a.category_anyof_mask = 1 << 3;
	a.return_mask = (1 << 3) | (1 << 5);
	long n = fd < 0 ? -1 : ioctl(fd, _IOWR('f', 16, a), &a);
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (n >= 0)
		add("pagemap_scan", 1, 1, "PAGEMAP_SCAN works (touched, non-zero pages only are dumped)");
	else
		add("pagemap_scan", 1, 0, "PAGEMAP_SCAN: %s (Linux 6.7 or later is needed)", strerror(e));
}

static void check_ptrace(void)
{
	pid_t child = fork();
	if (child == 0) {
		for (;;)
			pause();
	}
	if (child < 0) {
		add("ptrace", 1, 0, "fork: %s", strerror(errno));
		return;
	}
	int ok = 0, st;
	char why[200] = "";
	if (ptrace(PTRACE_SEIZE, child, 0, PTRACE_O_TRACESYSGOOD) < 0) {
		snprintf(why, sizeof(why), "PTRACE_SEIZE: %s", strerror(errno));
	} else if (ptrace(PTRACE_INTERRUPT, child, 0, 0) < 0 || waitpid(child, &st, __WALL) != child) {
		snprintf(why, sizeof(why), "PTRACE_INTERRUPT: %s", strerror(errno));
	} else {
		ok = 1;
		struct __ptrace_rseq_configuration rs;
		long r = ptrace(PTRACE_GET_RSEQ_CONFIGURATION, child, sizeof(rs), &rs);
		if (r == (long)sizeof(rs))
			add("rseq", 0, 1, "PTRACE_GET_RSEQ_CONFIGURATION works; glibc registers rseq (%s, %u bytes, signature 0x%x); kernel feature size %lu",
			    rs.rseq_abi_pointer ? "registered" : "not registered", rs.rseq_abi_size, rs.signature,
			    getauxval(AT_RSEQ_FEATURE_SIZE));
		else
			add("rseq", 1, 0, "PTRACE_GET_RSEQ_CONFIGURATION: %s", strerror(errno));
		char byte = 0;
		struct iovec l = {&byte, 1}, rr = {(void *)&checks, 1};
		add("process_vm_readv", 1, process_vm_readv(child, &l, 1, &rr, 1, 0) == 1, "reading a traced process's memory%s",
		    "");
		int pidfd = (int)syscall(434 /* pidfd_open */, child, 0);
		int got = pidfd >= 0 ? (int)syscall(438 /* pidfd_getfd */, pidfd, 1, 0) : -1;
		add("pidfd_getfd", 1, got >= 0, got >= 0 ? "pidfd_getfd works (pipe contents, sockets)" : "pidfd_getfd: %s",
		    strerror(errno));
		if (got >= 0)
			close(got);
		if (pidfd >= 0)
			close(pidfd);
		long k = syscall(SYS_kcmp, child, child, 0 /* KCMP_FILE */, 0, 0);
		add("kcmp", 1, k == 0, k == 0 ? "kcmp works (shared open files)" : "kcmp: %s (CONFIG_CHECKPOINT_RESTORE?)", strerror(errno));
		ptrace(PTRACE_DETACH, child, 0, 0);
	}
	kill(child, SIGKILL);
	waitpid(child, &st, 0);
	char *scope = read_file("/proc/sys/kernel/yama/ptrace_scope", NULL);
	if (scope)
		scope[strcspn(scope, "\n")] = 0;
	if (ok)
		add("ptrace", 1, 1, "PTRACE_SEIZE and PTRACE_INTERRUPT work%s%s", scope ? "; yama ptrace_scope " : "",
		    scope ? scope : "");
	else
		add("ptrace", 1, 0, "%s", why);
	free(scope);
	if (checks[nchecks - 1].detail[strlen(checks[nchecks - 1].detail) - 1] == '\n')
		checks[nchecks - 1].detail[strlen(checks[nchecks - 1].detail) - 1] = 0;
}

/* PR_SET_MM_MAP with a child's own current values, exe left alone: what restore needs. */
static void check_mm_map(void)
{
	pid_t child = fork();
	if (child == 0) {
		struct proc_state p;
		memset(&p, 0, sizeof(p));
		if (process_capture(getpid(), &p) < 0 || mm_capture(getpid(), &p) < 0)
			_exit(2);
		struct prctl_mm_map m = {
			.start_code = p.mm.start_code, .end_code = p.mm.end_code, .start_data = p.mm.start_data,
			.end_data = p.mm.end_data, .start_brk = p.mm.start_brk, .brk = (uint64_t)sbrk(0),
			.start_stack = p.mm.start_stack, .arg_start = p.mm.arg_start, .arg_end = p.mm.arg_end,
			.env_start = p.mm.env_start, .env_end = p.mm.env_end, .auxv = (__u64 *)p.auxv,
			.auxv_size = p.mm.nauxv * 16 > 400 ? 400 : p.mm.nauxv * 16, .exe_fd = (uint32_t)-1,
		};
		_exit(prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof(m), 0) == 0 ? 0 : errno);
	}
	int st = 0;
	waitpid(child, &st, 0);
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 255;
	if (code == 0)
		add("pr_set_mm_map", 1, 1, "prctl(PR_SET_MM, PR_SET_MM_MAP) works without privileges (exe link left alone)");
	else
		add("pr_set_mm_map", 1, 0, "prctl(PR_SET_MM, PR_SET_MM_MAP): %s", code == 2 ? "cannot read /proc/self" : strerror(code));
}

static void check_vdso(void)
{
	char *maps = read_file("/proc/self/maps", NULL);
	char layout[200] = "";
	size_t n = 0;
	for (char *line = maps; line && *line;) {
		unsigned long long s, e;
		char *eol = strchr(line, '\n');
		if (eol)
			*eol = 0;
		char *name = strrchr(line, ' ');
		if (sscanf(line, "%llx-%llx", &s, &e) == 2 && name &&
		    (!strcmp(name + 1, "[vdso]") || !strcmp(name + 1, "[vvar]") || !strcmp(name + 1, "[vvar_vclock]")))
			n += (size_t)snprintf(layout + n, sizeof(layout) - n, "%s%s %llu KiB", n ? ", " : "", name + 1, (e - s) >> 10);
		line = eol ? eol + 1 : NULL;
	}
	free(maps);
	uint64_t h = own_vdso_hash();
	add("vdso", 1, h != 0, "%s; hash %016llx (an image restores only on this kernel build)", layout[0] ? layout : "no vdso",
	    (unsigned long long)h);
}

/* Whether a child of ours can make a user namespace and a PID namespace in it (what --pid-ns does). */
static int pid_ns_possible(void)
{
	static int known = -1;
	if (known >= 0)
		return known;
	pid_t c = fork();
	if (c == 0)
		_exit(unshare(CLONE_NEWUSER) == 0 && unshare(CLONE_NEWPID) == 0 ? 0 : 1);
	int st = 1;
	known = c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	return known;
}

static void check_same_pid(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	int cr = 0, res = 0;
	if (syscall(SYS_capget, &hdr, data) == 0) {
		cr = (data[CAP_CHECKPOINT_RESTORE / 32].effective >> (CAP_CHECKPOINT_RESTORE % 32)) & 1;
		res = (data[CAP_SYS_RESOURCE / 32].effective >> (CAP_SYS_RESOURCE % 32)) & 1;
	}
	add("same_pid", 0, cr,
	    cr ? "possible: CAP_CHECKPOINT_RESTORE is effective (clone3 set_tid); an image of another user gets its PID but new thread TIDs"
	       : "not possible without CAP_CHECKPOINT_RESTORE: restored processes get new PIDs (glibc's cached TIDs are fixed up)");
	add("pid_ns", 0, pid_ns_possible(),
	    pid_ns_possible() ? "possible: restore --pid-ns gives every process its original PID inside a new user and PID namespace"
			      : "not possible: this user may not make a user namespace (kernel.unprivileged_userns_clone, user.max_user_namespaces)");
	add("pid_mode", 0, 1, "a restore here gives %s", cr ? "the original PIDs (--same-pids makes a taken one an error)"
		: pid_ns_possible() ? "new PIDs, or the original ones inside a namespace with --pid-ns" : "new PIDs");
	add("rlimits", 0, res, res ? "CAP_SYS_RESOURCE: restore can raise hard limits"
				   : "no CAP_SYS_RESOURCE: restore keeps a hard rlimit that is lower than the image's");
	add("compress", 0, !zstd_unavailable(), "%s", zstd_unavailable() ? zstd_unavailable() : "zstd linked: dump --compress, and compressed images restore");
}

int cmd_check(int argc, char **argv)
{
	int json = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--format=json") || (!strcmp(argv[i], "--format") && i + 1 < argc && !strcmp(argv[++i], "json")))
			json = 1;
		else {
			fputs("usage: ckpt check [--format=json]\n", stderr);
			return EXIT_USAGE;
		}
	}
	struct utsname u;
	uname(&u);
	check_ptrace();
	check_pagemap_scan();
	check_mm_map();
	check_vdso();
	check_same_pid();
	int ok = 1;
	for (int i = 0; i < nchecks; i++)
		if (checks[i].required && !checks[i].ok)
			ok = 0;
	if (json) {
		printf("{\"ok\":%s,\"version\":\"%s\",\"kernel\":", ok ? "true" : "false", CKPT_VERSION);
		fputs_json(u.release, stdout);
		printf(",\"uid\":%u,\"checks\":[", getuid());
		for (int i = 0; i < nchecks; i++) {
			printf("%s{\"name\":\"%s\",\"ok\":%s,\"required\":%s,\"detail\":", i ? "," : "", checks[i].name,
			       checks[i].ok ? "true" : "false", checks[i].required ? "true" : "false");
			fputs_json(checks[i].detail, stdout);
			fputs("}", stdout);
		}
		puts("]}");
	} else {
		printf("ckpt %s on Linux ", CKPT_VERSION);
		fputs_escaped(u.release, stdout);
		printf(", uid %u\n", getuid());
		for (int i = 0; i < nchecks; i++) {
			printf("%-5s %-16s ", checks[i].ok ? "ok" : checks[i].required ? "FAIL" : "no", checks[i].name);
			fputs_escaped(checks[i].detail, stdout);
			putchar('\n');
		}
		puts(ok ? "checkpoint and restore can work here" : "checkpointing cannot work here");
	}
	return ok ? EXIT_OK : EXIT_FAIL;
}
