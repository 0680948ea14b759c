/* Process-wide state: ids and credentials, comm, exe, cwd, root, cmdline, environ, umask,
 * rlimits, personality, flags. Read from /proc at dump; applied by the restore child to itself
 * before it hands over to the tracer. */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse_ids(const char *status, const char *key, uint32_t out[4])
{
	const char *v = find_key(status, key);
	unsigned a, b, c, d;
	if (!v || sscanf(v, "%u %u %u %u", &a, &b, &c, &d) != 4)
		return -1;
	out[0] = a, out[1] = b, out[2] = c, out[3] = d;
	return 0;
}

/* /proc/PID/limits: the rows are in RLIMIT_* order, soft and hard limits in fixed columns. */
static int read_limits(pid_t pid, struct ckpt_rlimit rl[16])
{
	char *text = read_filef(NULL, "/proc/%d/limits", pid);
	if (!text)
		return fail_errno(EXIT_NOPROC, "cannot read /proc/%d/limits", pid);
	char *line = strchr(text, '\n');
	for (int i = 0; i < 16 && line; i++) {
		line++;
		char *eol = strchr(line, '\n');
		if (!eol || eol - line < 48)
			break;
		char soft[32], hard[32];
		if (sscanf(line + 26, "%31s %31s", soft, hard) != 2)
			break;
		rl[i].cur = strcmp(soft, "unlimited") ? strtoull(soft, NULL, 10) : UINT64_MAX;
		rl[i].max = strcmp(hard, "unlimited") ? strtoull(hard, NULL, 10) : UINT64_MAX;
		line = eol;
	}
	free(text);
	return 0;
}

int process_capture(pid_t pid, struct proc_state *p)
{
	size_t len;
	struct proc_stat ps;
	if (proc_stat(pid, 0, &ps) < 0)
		return errno == EINVAL ? fail(EXIT_FAIL, "cannot parse /proc/%d/stat", pid) : fail_errno(EXIT_NOPROC, "process %d", pid);
	const unsigned long long *f = ps.f;
	char state = ps.state;
	p->pf.pid = (uint32_t)pid;
	if (!p->pf.state) /* the freeze notes the state it found; ours now is the tracing stop */
		p->pf.state = (uint8_t)state;
	p->pf.ppid = (uint32_t)f[4];
	p->pf.pgid = (uint32_t)f[5];
	p->pf.sid = (uint32_t)f[6];
	p->pf.tty_nr = (uint32_t)f[7];
	p->pf.start_time = f[22];
	p->pf.exit_signal = (uint8_t)f[38];
	p->mm.start_code = f[26];
	p->mm.end_code = f[27];
	p->mm.start_stack = f[28];
	p->mm.start_data = f[45];
	p->mm.end_data = f[46];
	p->mm.start_brk = f[47];
	p->mm.arg_start = f[48];
	p->mm.arg_end = f[49];
	p->mm.env_start = f[50];
	p->mm.env_end = f[51];

	char *status = read_filef(NULL, "/proc/%d/status", pid);
	if (!status)
		return fail_errno(EXIT_NOPROC, "process %d", pid);
	uint32_t uids[4], gids[4];
	int bad = parse_ids(status, "Uid", uids) < 0 || parse_ids(status, "Gid", gids) < 0;
	memcpy(p->pf.uids, uids, sizeof(uids));
	memcpy(p->pf.gids, gids, sizeof(gids));
	const char *v = find_key(status, "Umask");
	p->pf.umask = v ? (uint32_t)strtoul(v, NULL, 8) : 022;
	v = find_key(status, "NoNewPrivs");
	if (v && *v == '1')
		p->pf.flags |= CKPT_PROCESS_FLAGS_NO_NEW_PRIVS;
	v = find_key(status, "Groups");
	while (v && *v && *v != '\n') {
		char *end;
		unsigned long g = strtoul(v, &end, 10);
		if (end == v)
			break;
		p->groups = xrealloc(p->groups, (p->ngroups + 1) * sizeof(uint32_t));
		p->groups[p->ngroups++] = (uint32_t)g;
		v = end;
		while (*v == ' ')
			v++;
	}
	v = find_key(status, "Seccomp");
	p->seccomp_mode = v ? *v - '0' : 0; /* seccomp.c reads the filters, or says why not */
	free(status);
	if (bad)
		return fail(EXIT_FAIL, "cannot parse the ids in /proc/%d/status", pid);

	/* /proc/PID belongs to root instead of the owner when the process is not dumpable */
	struct stat st;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d", pid);
	if (stat(path, &st) == 0 && st.st_uid == p->pf.uids[1])
		p->pf.flags |= CKPT_PROCESS_FLAGS_DUMPABLE;

	char *pers = read_filef(NULL, "/proc/%d/personality", pid);
	p->pf.personality = pers ? (uint32_t)strtoul(pers, NULL, 16) : 0;
	free(pers);

	struct ckpt_rlimit rl[16];
	memset(rl, 0, sizeof(rl));
	if (read_limits(pid, rl) < 0)
		return -1;
	memcpy(p->pf.rlimits, rl, sizeof(rl));

	p->comm = read_filef(&len, "/proc/%d/comm", pid);
	if (p->comm && len && p->comm[len - 1] == '\n')
		p->comm[len - 1] = 0;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	p->exe = read_link(path);
	snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
	p->cwd = read_link(path);
	snprintf(path, sizeof(path), "/proc/%d/root", pid);
	p->root = read_link(path);
	if (!p->comm || !p->cwd || !p->root)
		return fail_errno(EXIT_PERM, "cannot read /proc/%d (comm, cwd, root)", pid);
	if (!p->exe)
		p->exe = xstrdup("");
	p->cmdline = (uint8_t *)read_filef(&len, "/proc/%d/cmdline", pid);
	p->cmdline_len = p->cmdline ? (uint32_t)len : 0;
	p->environ = (uint8_t *)read_filef(&len, "/proc/%d/environ", pid);
	p->environ_len = p->environ ? (uint32_t)len : 0;
	if (strcmp(p->root, "/"))
		add_unsupported(p, CKPT_UNSUPPORTED_KIND_OTHER, -1, 0, p->root, "a chroot is not restored");
	return 0;
}

uint32_t process_write(struct image_writer *w, const struct proc_state *p, uint32_t parent_tag)
{
	struct buf b = {0};
	buf_put(&b, &p->pf, sizeof(p->pf));
	buf_lstr(&b, p->comm);
	buf_lstr(&b, p->exe);
	buf_lstr(&b, p->cwd);
	buf_lstr(&b, p->root);
	buf_lbytes(&b, p->cmdline, p->cmdline_len);
	buf_lbytes(&b, p->environ, p->environ_len);
	buf_u32(&b, p->ngroups);
	if (p->ngroups)
		buf_put(&b, p->groups, p->ngroups * sizeof(uint32_t));
	buf_u32(&b, p->nomitted);
	if (p->nomitted)
		buf_put(&b, p->omitted, p->nomitted * sizeof(uint32_t));
	uint32_t tag = iw_record(w, CKPT_RECORD_TYPE_PROCESS, parent_tag, b.p, (uint32_t)b.len);
	buf_free(&b);
	return tag;
}

int process_read(const struct image *im, const struct image_record *r, struct proc_state *p)
{
	struct rcur c;
	rc_init(&c, im, r);
	if (rc_get(&c, &p->pf, sizeof(p->pf), "process fixed fields") < 0 || rc_lstr(&c, &p->comm, "comm") < 0 ||
	    rc_lstr(&c, &p->exe, "exe") < 0 || rc_lstr(&c, &p->cwd, "cwd") < 0 || rc_lstr(&c, &p->root, "root") < 0 ||
	    rc_lbytes(&c, &p->cmdline, &p->cmdline_len, "cmdline") < 0 ||
	    rc_lbytes(&c, &p->environ, &p->environ_len, "environ") < 0 || rc_get(&c, &p->ngroups, 4, "ngroups") < 0)
		return -1;
	const uint8_t *g = rc_ptr(&c, (uint64_t)p->ngroups * 4, "groups");
	if (!g)
		return -1;
	p->groups = xmalloc((size_t)p->ngroups * 4 + 4);
	memcpy(p->groups, g, (size_t)p->ngroups * 4);
	if (rc_get(&c, &p->nomitted, 4, "nomitted") < 0)
		return -1;
	const uint8_t *om = rc_ptr(&c, (uint64_t)p->nomitted * 4, "omitted");
	if (!om)
		return -1;
	p->omitted = xmalloc((size_t)p->nomitted * 4 + 4);
	memcpy(p->omitted, om, (size_t)p->nomitted * 4);
	return 0;
}

uint32_t zombie_write(struct image_writer *w, const struct zombie_state *z, uint32_t proc_tag)
{
	struct buf b = {0};
	buf_put(&b, &z->f, sizeof(z->f));
	buf_lstr(&b, z->comm);
	uint32_t tag = iw_record(w, CKPT_RECORD_TYPE_ZOMBIE, proc_tag, b.p, (uint32_t)b.len);
	buf_free(&b);
	return tag;
}

int zombie_read(const struct image *im, const struct image_record *r, struct zombie_state *z)
{
	struct rcur c;
	rc_init(&c, im, r);
	return rc_get(&c, &z->f, sizeof(z->f), "zombie fixed fields") < 0 || rc_lstr(&c, &z->comm, "comm") < 0 ? -1 : 0;
}

static const char *rlim_text(rlim_t v, char *buf, size_t len)
{
	if (v == RLIM_INFINITY)
		return "unlimited";
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

void rlimit_kept_message(char *msg, size_t len, int resource, uint64_t image_max, uint64_t kept_max)
{
	char had[24], kept[24];
	snprintf(msg, len, "rlimit %s: the image's hard limit %s cannot be restored without CAP_SYS_RESOURCE; kept at %s",
		 ckpt_rlimit_resource_name((uint64_t)resource), rlim_text(image_max, had, sizeof(had)),
		 rlim_text(kept_max, kept, sizeof(kept)));
}

/* Runs in the restore child, as itself and with its final credentials (so that rlimits it may
 * not raise and a cwd it may not enter fail as they would for its user), before the tracer takes over. */
int process_apply_in_child(const struct proc_state *p)
{
	umask(p->pf.umask & 0777);
	if (chdir(p->cwd) < 0) {
		if (errno != ENOENT || !strstr(p->cwd, " (deleted)"))
			return fail_errno(denied_or(EXIT_FAIL), "cannot restore the working directory %s", p->cwd);
		if (ghost_cwd_enter(p->cwd) < 0) /* removed at the checkpoint: made and removed again */
			return -1;
	}
	for (int i = 0; i < 16; i++) {
		if (i == RLIMIT_NOFILE)
			continue; /* the tracer sets it last: restore needs fds above the image's own until then */
		struct rlimit want = {.rlim_cur = p->pf.rlimits[i].cur, .rlim_max = p->pf.rlimits[i].max}, have;
		if (getrlimit(i, &have) == 0 && have.rlim_cur == want.rlim_cur && have.rlim_max == want.rlim_max)
			continue;
		if (setrlimit(i, &want) == 0)
			continue;
		/* raising a hard limit needs CAP_SYS_RESOURCE: keep ours, and the soft limit within it */
		if (getrlimit(i, &have) == 0) {
			char msg[200];
			rlimit_kept_message(msg, sizeof(msg), i, want.rlim_max, have.rlim_max);
			warn("%s", msg);
			want.rlim_max = have.rlim_max;
			if (want.rlim_cur > want.rlim_max)
				want.rlim_cur = want.rlim_max;
			setrlimit(i, &want);
		}
	}
	if (p->pf.personality != (uint32_t)personality(0xffffffff))
		personality(p->pf.personality);
	if (p->pf.flags & CKPT_PROCESS_FLAGS_NO_NEW_PRIVS)
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return 0;
}
