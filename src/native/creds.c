/* Who a restored process may run as. An image is data, never authority (its checksums are no
 * signature): the ids it records are checked against what the restoring user may give and
 * never taken on trust. A restore may give the credentials of the user running ckpt; when root
 * restores, those of the image file's owner (the owner's passwd entry gives the primary group
 * and the groups file its supplementary groups). `--as-recorded` (root only) trusts the image.
 * The restore child switches to them before it opens anything the image names. */
#include "ckpt.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The owner's supplementary groups from the group database, or none when it has no name. */
static void owner_groups(uid_t uid, gid_t st_gid, struct restore_creds *c)
{
	struct passwd *pw = getpwuid(uid);
	if (!pw) {
		c->gid = st_gid;
		return;
	}
	c->gid = pw->pw_gid;
	char *name = xstrdup(pw->pw_name);
	int n = 16;
	for (;;) {
		c->groups = xrealloc(c->groups, (size_t)n * sizeof(gid_t));
		int want = n;
		if (getgrouplist(name, c->gid, c->groups, &want) >= 0) {
			c->ngroups = want;
			break;
		}
		n = want > n ? want : n * 2; /* too small: `want` says how many there are */
	}
	free(name);
}

int creds_allowed(int image_fd, int as_recorded, struct restore_creds *c)
{
	memset(c, 0, sizeof(*c));
	c->as_recorded = as_recorded;
	if (geteuid() != 0) {
		c->uid = getuid();
		c->gid = getgid();
		c->whose = "the user running ckpt";
		int n = getgroups(0, NULL);
		c->groups = xcalloc((size_t)(n > 0 ? n : 1), sizeof(gid_t));
		c->ngroups = n > 0 ? getgroups(n, c->groups) : 0;
		if (c->ngroups < 0)
			return fail_errno(EXIT_FAIL, "getgroups");
		return 0;
	}
	/* the file restore reads, not whatever is at its path by now */
	struct stat st;
	if (fstat(image_fd, &st) < 0)
		return fail_errno(EXIT_IO, "cannot stat the image");
	c->uid = st.st_uid;
	c->whose = "the image file's owner";
	owner_groups(st.st_uid, st.st_gid, c);
	return 0;
}

static int allowed_group(const struct restore_creds *c, gid_t g)
{
	if (g == c->gid)
		return 1;
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == g)
			return 1;
	return 0;
}

int creds_check(const struct proc_state *p, const struct restore_creds *c)
{
	if (c->as_recorded)
		return 0;
	uint32_t u[4], g[4];
	memcpy(u, p->pf.uids, sizeof(u));
	memcpy(g, p->pf.gids, sizeof(g));
	if (u[0] != c->uid || u[1] != c->uid)
		return fail(EXIT_PERM, "the image's process ran as uid %u (effective %u); this restore may only give uid %u (%s)", u[0],
			    u[1], c->uid, c->whose);
	if (u[2] != c->uid || u[3] != c->uid)
		return fail(EXIT_PERM, "the image's process had saved uid %u and filesystem uid %u; this restore may only give uid %u (%s)",
			    u[2], u[3], c->uid, c->whose);
	if (g[0] != c->gid || g[1] != c->gid)
		return fail(EXIT_PERM, "the image's process ran as gid %u (effective %u); this restore may only give gid %u (the group of %s)",
			    g[0], g[1], c->gid, c->whose);
	if (g[2] != c->gid || g[3] != c->gid)
		return fail(EXIT_PERM, "the image's process had saved gid %u and filesystem gid %u; this restore may only give gid %u (the group of %s)",
			    g[2], g[3], c->gid, c->whose);
	/* root restoring as root may set any groups, and holds every capability besides */
	for (uint32_t i = 0; i < p->ngroups && c->uid != 0; i++) {
		if (allowed_group(c, p->groups[i]))
			continue;
		struct group *gr = getgrgid(p->groups[i]);
		return fail(EXIT_PERM, "the image's process was in group %u (%s); uid %u (%s) is not, so this restore may not give it",
			    p->groups[i], gr ? gr->gr_name : "no name", c->uid, c->whose);
	}
	return 0;
}

int creds_other_user(const struct proc_state *p, const struct restore_creds *c)
{
	return (c->as_recorded ? p->pf.uids[1] : c->uid) != geteuid();
}

/* Without any capability (a belt to the kernel's braces: setresuid away from root already
 * clears them, unless securebits said otherwise). */
static int drop_capabilities(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct none[2];
	memset(none, 0, sizeof(none));
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capset, &hdr, none) < 0)
		return fail_errno(EXIT_PERM, "cannot drop the capabilities");
	return 0;
}

int creds_switch_in_child(const struct proc_state *p, const struct restore_creds *c)
{
	uid_t uid[4];
	gid_t gid[4];
	for (int i = 0; i < 4; i++) {
		uid[i] = c->as_recorded ? p->pf.uids[i] : c->uid;
		gid[i] = c->as_recorded ? p->pf.gids[i] : c->gid;
	}
	/* the image's groups (checked: only ones the restore may give); a user keeps its own, as it may not set any */
	if (geteuid() == 0) {
		gid_t *g = xcalloc(p->ngroups + 1, sizeof(gid_t));
		for (uint32_t i = 0; i < p->ngroups; i++)
			g[i] = p->groups[i];
		int r = setgroups(p->ngroups, g);
		free(g);
		if (r < 0)
			return fail_errno(EXIT_PERM, "cannot take the image's groups");
	}
	/* no PR_SET_KEEPCAPS: leaving uid 0 drops every capability */
	if (setresgid(gid[0], gid[1], gid[2]) < 0 || setresuid(uid[0], uid[1], uid[2]) < 0)
		return fail_errno(EXIT_PERM, "cannot take uid %u and gid %u", uid[1], gid[1]);
	setfsgid(gid[3]);
	setfsuid(uid[3]);
	if (!c->as_recorded && c->uid != 0 && drop_capabilities() < 0)
		return -1;
	/* a change of ids makes the process undumpable: the tracer (and later its user) must still reach it */
	prctl(PR_SET_DUMPABLE, 1);
	return 0;
}

void creds_free(struct restore_creds *c)
{
	free(c->groups);
	c->groups = NULL;
	c->ngroups = 0;
}
