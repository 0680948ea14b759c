/* Process attributes that a program sets for itself: oom_score_adj, prctl state (parent-death
 * signal, THP disable, dumpable, child subreaper, machine-check kill policy, rdtsc, keep-caps)
 * and, for root's own image, its capabilities.
 *
 * Dump asks the process by injected prctl calls (PR_GET_*), /proc for the rest. Restore sets
 * oom_score_adj in the new process as its user (lowering it needs CAP_SYS_RESOURCE: otherwise it
 * is kept, with a warning) and the rest by injected prctl as the last thing before it runs,
 * dumpable last of all (an undumpable process is out of its user's reach). An image is data,
 * never authority: capabilities are only ever dropped, to what the image says, and only when root
 * restores root's own image (any other restored process holds none). The parent-death signal
 * names the parent: it comes back for a process whose parent is in the image, and the root of
 * the image, whose parent is ckpt, gets a warning instead. */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int get_int(struct tracee *t, pid_t pid, uint64_t scratch, int option, int32_t *out)
{
	if (inject_checked(t, NULL, "prctl", SYS_prctl, (uint64_t)option, scratch, 0, 0, 0, 0) < 0)
		return -1;
	return mem_read(pid, scratch, out, 4) < 0 ? fail_errno(EXIT_FAIL, "cannot read from process %d", pid) : 0;
}

static int get_ret(struct tracee *t, int option, int32_t *out)
{
	long r;
	if (inject_syscall(t, &r, SYS_prctl, (uint64_t)option, 0, 0, 0, 0, 0) < 0)
		return -1;
	*out = r < 0 ? 0 : (int32_t)r;
	return 0;
}

static uint64_t cap_of(const char *status, const char *key)
{
	const char *v = find_key(status, key);
	return v ? strtoull(v, NULL, 16) : 0;
}

int attrs_inject_capture(struct tracee *t, pid_t pid, struct proc_state *p, uint64_t scratch)
{
	struct ckpt_process_attrs *a = &p->attrs;
	memset(a, 0, sizeof(*a));
	int32_t v;
	if (get_int(t, pid, scratch, PR_GET_PDEATHSIG, &v) < 0)
		return -1;
	a->pdeathsig = v;
	if (get_ret(t, PR_GET_THP_DISABLE, &v) < 0)
		return -1;
	a->thp_disable = (uint32_t)v;
	if (get_ret(t, PR_GET_DUMPABLE, &v) < 0)
		return -1;
	a->dumpable = (uint32_t)v;
	if (get_int(t, pid, scratch, PR_GET_CHILD_SUBREAPER, &v) < 0)
		return -1;
	a->child_subreaper = (uint32_t)v;
	if (get_ret(t, PR_MCE_KILL_GET, &v) < 0)
		return -1;
	a->mce_kill = v;
	if (get_int(t, pid, scratch, PR_GET_TSC, &v) < 0)
		return -1;
	a->tsc = (uint32_t)v;
	if (get_ret(t, PR_GET_KEEPCAPS, &v) < 0)
		return -1;
	a->keep_caps = (uint32_t)v;
	char *s = read_filef(NULL, "/proc/%d/oom_score_adj", pid);
	a->oom_score_adj = s ? (int32_t)strtol(s, NULL, 10) : 0;
	free(s);
	char *st = read_filef(NULL, "/proc/%d/status", pid);
	if (st) {
		a->cap_inheritable = cap_of(st, "CapInh");
		a->cap_permitted = cap_of(st, "CapPrm");
		a->cap_effective = cap_of(st, "CapEff");
		a->cap_bounding = cap_of(st, "CapBnd");
		a->cap_ambient = cap_of(st, "CapAmb");
	}
	free(st);
	p->have_attrs = 1;
	return 0;
}

uint32_t attrs_write(struct image_writer *w, const struct proc_state *p, uint32_t proc_tag)
{
	if (!p->have_attrs)
		return proc_tag;
	return iw_record(w, CKPT_RECORD_TYPE_PROCESS_ATTRS, proc_tag, &p->attrs, sizeof(p->attrs)) ? proc_tag : 0;
}

int attrs_read(const struct image *im, const struct image_record *r, struct proc_state *p)
{
	struct rcur c;
	rc_init(&c, im, r);
	if (rc_get(&c, &p->attrs, sizeof(p->attrs), "process_attrs") < 0)
		return -1;
	const char *bad = ckpt_process_attrs_invalid(&p->attrs); /* the .ksy's rules (a signal the kernel refuses fails the restore) */
	if (bad)
		return image_bad(im, r, payload_at(r), "%s out of range", bad);
	p->have_attrs = 1;
	return 0;
}

/* In the restore child, as the restored user. */
int attrs_apply_in_child(const struct proc_state *p)
{
	if (!p->have_attrs)
		return 0;
	char want[16], have[16] = "";
	snprintf(want, sizeof(want), "%d", p->attrs.oom_score_adj);
	int fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, have, sizeof(have) - 1) : -1;
	if (n > 0 && atoi(have) != p->attrs.oom_score_adj && (lseek(fd, 0, SEEK_SET) < 0 || write(fd, want, strlen(want)) < 0))
		warn("oom_score_adj %d is kept at %d: lowering it needs CAP_SYS_RESOURCE (%s)", p->attrs.oom_score_adj, atoi(have),
			   strerror(errno));
	if (fd >= 0)
		close(fd);
	return 0;
}

static int set(struct restore_ctx *rc, const char *what, int option, uint64_t arg)
{
	return inject_checked(rc->main, NULL, what, SYS_prctl, (uint64_t)option, arg, 0, 0, 0, 0);
}

/* Root's own image: its capabilities, dropped to what the image says (never raised). */
static int drop_caps(struct restore_ctx *rc, int may)
{
	const struct ckpt_process_attrs *a = &rc->p->attrs;
	if (!may)
		return 0;
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (!(a->cap_bounding >> cap & 1) && set(rc, "restore: PR_CAPBSET_DROP", PR_CAPBSET_DROP, (uint64_t)cap) < 0)
			return -1;
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {
		{(uint32_t)a->cap_effective, (uint32_t)a->cap_permitted, (uint32_t)a->cap_inheritable},
		{(uint32_t)(a->cap_effective >> 32), (uint32_t)(a->cap_permitted >> 32), (uint32_t)(a->cap_inheritable >> 32)},
	};
	if (mem_write(rc->pid, rc->scratch, &hdr, sizeof(hdr)) < 0 || mem_write(rc->pid, rc->scratch + 64, d, sizeof(d)) < 0)
		return fail_errno(EXIT_FAIL, "restore: cannot write to the new process");
	long r;
	if (inject_syscall(rc->main, &r, SYS_capset, rc->scratch, rc->scratch + 64, 0, 0, 0, 0) < 0)
		return -1;
	if (r < 0) /* more than it holds now: capset never raises */
		warn("the image's capabilities (effective %llx) are not all held by this restore: kept as they are",
		     (unsigned long long)a->cap_effective);
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if ((a->cap_ambient >> cap & 1) &&
		    inject_checked(rc->main, NULL, "restore: PR_CAP_AMBIENT_RAISE", SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (uint64_t)cap,
				   0, 0, 0) < 0)
			return -1;
	return 0;
}

/* The last thing before the process runs: prctl state, capabilities, and dumpable last. */
int attrs_restore_final(struct restore_ctx *rc, int own_root_image)
{
	const struct proc_state *p = rc->p;
	const struct ckpt_process_attrs *a = &p->attrs;
	if (!p->have_attrs)
		return seccomp_restore_final(rc);
	if (a->pdeathsig) {
		if (p->parent >= 0) {
			if (set(rc, "restore: PR_SET_PDEATHSIG", PR_SET_PDEATHSIG, (uint64_t)a->pdeathsig) < 0)
				return -1;
		} else {
			warn("process %u: its parent-death signal %d is not restored: its parent is not in the image", p->pf.pid, a->pdeathsig);
		}
	}
	if (a->thp_disable && set(rc, "restore: PR_SET_THP_DISABLE", PR_SET_THP_DISABLE, 1) < 0)
		return -1;
	if (a->child_subreaper && set(rc, "restore: PR_SET_CHILD_SUBREAPER", PR_SET_CHILD_SUBREAPER, 1) < 0)
		return -1;
	if (a->tsc && set(rc, "restore: PR_SET_TSC", PR_SET_TSC, a->tsc) < 0)
		return -1;
	if (a->keep_caps && set(rc, "restore: PR_SET_KEEPCAPS", PR_SET_KEEPCAPS, 1) < 0)
		return -1;
	long r;
	if (a->mce_kill != PR_MCE_KILL_DEFAULT && a->mce_kill >= 0) {
		if (inject_syscall(rc->main, &r, SYS_prctl, PR_MCE_KILL, PR_MCE_KILL_SET, (uint64_t)a->mce_kill, 0, 0, 0) < 0)
			return -1;
		if (r < 0)
			warn("process %u: its machine-check kill policy %d cannot be set again (%s)", p->pf.pid, a->mce_kill, strerror((int)-r));
	}
	if (seccomp_restore_final(rc) < 0 || drop_caps(rc, own_root_image) < 0)
		return -1;
	if (!a->dumpable && set(rc, "restore: PR_SET_DUMPABLE", PR_SET_DUMPABLE, 0) < 0)
		return -1;
	return 0;
}
