/* fanotify: the group's flags and its marks, from /proc/PID/fdinfo: inode marks by the marked
 * file's path (found as inotify finds a watch's), mount marks by the mount point of their mount
 * id, filesystem marks by a mount point of their device. Restore makes the group and adds the
 * marks again as the restored user: a user may make a group that reports file ids and inode
 * marks; mount and filesystem marks, and the permission classes, need CAP_SYS_ADMIN, and fail
 * the restore of a user's image that somehow holds them (exit 4). */
#include "ckpt.h"
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/sysmacros.h>
#include <unistd.h>

struct mark {
	struct ckpt_fanotify_mark_fixed f;
	char *path;
};

/* The mount point (as we see it) of mount `mnt_id`, or of a mount of device `dev` when mnt_id < 0. */
static char *mount_point(pid_t pid, int mnt_id, uint64_t dev)
{
	char *mi = read_filef(NULL, "/proc/%d/mountinfo", pid), *found = NULL;
	for (char *l = mi; l && *l && !found;) {
		char *nl = strchr(l, '\n');
		if (nl)
			*nl = 0;
		int id;
		unsigned maj, min;
		char mnt[1024];
		if (sscanf(l, "%d %*d %u:%u %*s %1023s", &id, &maj, &min, mnt) == 4 && (mnt_id >= 0 ? id == mnt_id : makedev(maj, min) == dev))
			found = xstrdup(mnt);
		l = nl ? nl + 1 : NULL;
	}
	free(mi);
	return found;
}

const char *fanotify_describe(struct file_state *f, const char *info, pid_t pid, char **detail)
{
	unsigned init = 0, event = 0;
	const char *g = strstr(info, "fanotify flags:");
	if (g)
		sscanf(g, "fanotify flags:%x event-flags:%x", &init, &event);
	struct mark *ms = NULL;
	size_t n = 0;
	const char *why = NULL;
	for (const char *l = strstr(info, "\nfanotify "); l; l = strstr(l + 1, "\nfanotify ")) {
		l++;
		if (!strncmp(l, "fanotify flags:", 15))
			continue;
		struct mark m;
		memset(&m, 0, sizeof(m));
		unsigned long ino;
		unsigned sdev, mflags, mask, ignored, mnt;
		char handle[300] = "";
		int hbytes = 0, htype = 0;
		if (sscanf(l, "fanotify ino:%lx sdev:%x mflags:%x mask:%x ignored_mask:%x", &ino, &sdev, &mflags, &mask, &ignored) == 5) {
			const char *fh = strstr(l, "fhandle-bytes:"), *eol = strchr(l, '\n');
			if (fh && (!eol || fh < eol))
				sscanf(fh, "fhandle-bytes:%x fhandle-type:%x f_handle:%299[0-9a-fA-F]", (unsigned *)&hbytes, (unsigned *)&htype, handle);
			m.f.kind = CKPT_FANOTIFY_MARK_KIND_INODE;
			m.f.ino = ino;
			m.f.dev = makedev(sdev >> 20, sdev & 0xfffff);
			m.path = watched_path(pid, m.f.ino, m.f.dev, htype, hbytes, handle);
		} else if (sscanf(l, "fanotify mnt_id:%x mflags:%x mask:%x ignored_mask:%x", &mnt, &mflags, &mask, &ignored) == 4) {
			m.f.kind = CKPT_FANOTIFY_MARK_KIND_MOUNT;
			m.f.mnt_id = mnt;
			m.path = mount_point(pid, (int)mnt, 0);
		} else if (sscanf(l, "fanotify sdev:%x mflags:%x mask:%x ignored_mask:%x", &sdev, &mflags, &mask, &ignored) == 4) {
			m.f.kind = CKPT_FANOTIFY_MARK_KIND_FILESYSTEM;
			m.f.dev = makedev(sdev >> 20, sdev & 0xfffff);
			m.path = mount_point(pid, -1, m.f.dev);
		} else {
			continue;
		}
		m.f.mark_flags = mflags;
		m.f.mask = mask;
		m.f.ignored_mask = ignored;
		if (!m.path && !why) {
			why = "a fanotify mark whose path cannot be found";
			*detail = xasprintf("fanotify %s mark on inode %llu of device %u:%u (mount %u): its path is not near the process and only "
					    "CAP_DAC_READ_SEARCH could read it from its handle",
					    ckpt_fanotify_mark_kind_name(m.f.kind), (unsigned long long)m.f.ino, major(m.f.dev), minor(m.f.dev), m.f.mnt_id);
		}
		ms = xrealloc(ms, (n + 1) * sizeof(*ms));
		ms[n++] = m;
	}
	struct buf b = {0};
	buf_u32(&b, init);
	buf_u32(&b, event);
	buf_u32(&b, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		buf_put(&b, &ms[i].f, sizeof(ms[i].f));
		buf_lstr(&b, ms[i].path ? ms[i].path : "");
		free(ms[i].path);
	}
	free(ms);
	put_extra(f, &b);
	f->f.kind = CKPT_FD_KIND_FANOTIFY;
	return why;
}

int fanotify_extra_check(struct rcur *x)
{
	uint32_t head[3];
	if (rc_get(x, head, sizeof(head), "fanotify flags and count") < 0)
		return -1;
	for (uint32_t i = 0; i < head[2]; i++) {
		char *path;
		if (!rc_ptr(x, sizeof(struct ckpt_fanotify_mark_fixed), "fanotify mark") || rc_lstr(x, &path, "fanotify mark path") < 0)
			return -1;
		free(path);
	}
	return 0;
}

int fanotify_make(const struct file_state *f)
{
	uint32_t head[3];
	memcpy(head, f->extra, sizeof(head));
	int fd = fanotify_init(head[0] | FAN_CLOEXEC, head[1]);
	if (fd < 0)
		return fail_errno(denied_or(EXIT_FAIL), "fanotify_init (flags %#x)", head[0]);
	const uint8_t *at = f->extra + sizeof(head), *end = f->extra + f->extra_len;
	for (uint32_t i = 0; i < head[2]; i++) {
		struct ckpt_fanotify_mark_fixed m;
		uint32_t len;
		if ((size_t)(end - at) < sizeof(m) + 4)
			return fail(EXIT_BADIMAGE, "fanotify mark %u: truncated", i);
		memcpy(&m, at, sizeof(m));
		memcpy(&len, at + sizeof(m), 4);
		if ((uint64_t)(end - at) < sizeof(m) + 4 + (uint64_t)len)
			return fail(EXIT_BADIMAGE, "fanotify mark %u: truncated path", i);
		char *path = xmalloc(len + 1);
		memcpy(path, at + sizeof(m) + 4, len);
		path[len] = 0;
		at += sizeof(m) + 4 + len;
		unsigned kind = m.kind == CKPT_FANOTIFY_MARK_KIND_MOUNT ? FAN_MARK_MOUNT : m.kind == CKPT_FANOTIFY_MARK_KIND_FILESYSTEM ? FAN_MARK_FILESYSTEM : 0;
		unsigned flags = FAN_MARK_ADD | kind | (m.mark_flags & (FAN_MARK_IGNORED_SURV_MODIFY | FAN_MARK_EVICTABLE));
		int r = m.mask ? fanotify_mark(fd, flags, m.mask, AT_FDCWD, path) : 0;
		if (r == 0 && m.ignored_mask)
			r = fanotify_mark(fd, flags | FAN_MARK_IGNORED_MASK, m.ignored_mask, AT_FDCWD, path);
		if (r < 0) {
			int rc = fail_errno(denied_or(EXIT_FAIL), "fanotify %s mark on %s cannot be made again", ckpt_fanotify_mark_kind_name(m.kind) ? ckpt_fanotify_mark_kind_name(m.kind) : "unknown",
					    path[0] ? path : "(no path)");
			free(path);
			close(fd);
			return rc;
		}
		free(path);
	}
	return fd;
}
