/* inotify: each watch's descriptor, mask and file. /proc/PID/fdinfo gives the watched inode and a
 * file handle, not a path. open_by_handle_at turns the handle into a path where we may
 * (CAP_DAC_READ_SEARCH); otherwise the path is looked for by its inode near the places the process
 * knows (its working directory, the files it holds open, the other watches), and a watch whose
 * path is not found is refused by name. Restore adds the watches in order of their descriptors,
 * each at its own number: the kernel hands out the next number each time, so one that comes out
 * below the number wanted is removed and added again, as CRIU does. The events queued at the
 * checkpoint are not kept. */
#include "ckpt.h"
#include "ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define SEARCH_MAX 20000   /* entries looked at for one watch's path */
#define READD_MAX 65536    /* adds for one watch to reach its number */

struct watch {
	struct ckpt_inotify_watch_fixed f;
	char handle[300];      /* f_handle, hex */
	int htype, hbytes;
	char *path;
};

static int same_file(const char *path, const struct watch *w)
{
	struct stat st;
	return lstat(path, &st) == 0 && st.st_ino == w->f.ino && st.st_dev == w->f.dev;
}

/* The path of a watch by its handle: needs CAP_DAC_READ_SEARCH, and a mount of its filesystem. */
static char *by_handle(pid_t pid, const struct watch *w)
{
	char *mi = read_filef(NULL, "/proc/%d/mountinfo", pid);
	char *found = NULL;
	for (char *l = mi; l && *l && !found;) {
		char *nl = strchr(l, '\n');
		if (nl)
			*nl = 0;
		unsigned maj, min;
		char mnt[1024];
		if (sscanf(l, "%*d %*d %u:%u %*s %1023s", &maj, &min, mnt) == 3 && makedev(maj, min) == w->f.dev) {
			char *at = xasprintf("/proc/%d/root%s", pid, mnt);
			int mfd = open(at, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* open_by_handle_at refuses an O_PATH one */
			free(at);
			struct {
				struct file_handle fh;
				unsigned char bytes[128];
			} h;
			if (mfd >= 0 && w->hbytes > 0 && w->hbytes <= 128) {
				h.fh.handle_bytes = (unsigned)w->hbytes;
				h.fh.handle_type = w->htype;
				for (int i = 0; i < w->hbytes; i++) {
					unsigned x;
					if (sscanf(w->handle + 2 * i, "%2x", &x) != 1)
						break;
					h.bytes[i] = (unsigned char)x;
				}
				int fd = open_by_handle_at(mfd, &h.fh, O_PATH | O_CLOEXEC);
				if (fd >= 0) {
					char *link = xasprintf("/proc/self/fd/%d", fd);
					found = read_link(link);
					free(link);
					close(fd);
					if (found && (found[0] != '/' || !same_file(found, w))) {
						free(found);
						found = NULL;
					}
				}
			}
			if (mfd >= 0)
				close(mfd);
		}
		l = nl ? nl + 1 : NULL;
	}
	free(mi);
	return found;
}

/* Breadth-first below `root`, two levels deep, at most *budget entries. */
static char *search(const char *root, const struct watch *w, int depth, int *budget)
{
	if (same_file(root, w))
		return xstrdup(root);
	if (depth == 0)
		return NULL;
	DIR *d = opendir(root);
	if (!d)
		return NULL;
	char *found = NULL;
	char **subdirs = NULL;
	size_t nsub = 0;
	struct dirent *de;
	while (!found && (de = readdir(d)) && --*budget > 0) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *p = xasprintf("%s%s%s", root, root[strlen(root) - 1] == '/' ? "" : "/", de->d_name);
		if (de->d_ino == w->f.ino && same_file(p, w)) {
			found = p;
			break;
		}
		if (de->d_type == DT_DIR && depth > 1) {
			subdirs = xrealloc(subdirs, (nsub + 1) * sizeof(*subdirs));
			subdirs[nsub++] = p;
		} else {
			free(p);
		}
	}
	closedir(d);
	for (size_t i = 0; i < nsub; i++) {
		if (!found && *budget > 0)
			found = search(subdirs[i], w, depth - 1, budget);
		free(subdirs[i]);
	}
	free(subdirs);
	return found;
}

/* The places a process knows: its working directory, and the directories of the paths it holds
 * open (and those paths). */
static char *near_process(pid_t pid, const struct watch *w, const struct watch *others, size_t nothers)
{
	int budget = SEARCH_MAX;
	char *link = xasprintf("/proc/%d/cwd", pid), *cwd = read_link(link), *found = NULL;
	free(link);
	if (cwd)
		found = search(cwd, w, 2, &budget);
	free(cwd);
	for (size_t i = 0; !found && i < nothers; i++) {
		if (!others[i].path)
			continue;
		char *dir = xstrdup(others[i].path);
		found = search(dir, w, 1, &budget);
		if (!found && strrchr(dir, '/')) {
			*strrchr(dir, '/') = 0;
			found = search(dir[0] ? dir : "/", w, 1, &budget);
		}
		free(dir);
	}
	char *fddir = xasprintf("/proc/%d/fd", pid);
	DIR *d = found ? NULL : opendir(fddir);
	struct dirent *de;
	while (d && !found && (de = readdir(d))) {
		char *p = xasprintf("%s/%s", fddir, de->d_name), *target = read_link(p);
		free(p);
		if (target && target[0] == '/') {
			found = search(target, w, 1, &budget);
			if (!found && strrchr(target, '/')) {
				*strrchr(target, '/') = 0;
				found = search(target[0] ? target : "/", w, 1, &budget);
			}
		}
		free(target);
	}
	if (d)
		closedir(d);
	free(fddir);
	return found;
}

char *watched_path(pid_t pid, uint64_t ino, uint64_t dev, int htype, int hbytes, const char *handle)
{
	struct watch w;
	memset(&w, 0, sizeof(w));
	w.f.ino = ino;
	w.f.dev = dev;
	w.htype = htype;
	w.hbytes = hbytes;
	snprintf(w.handle, sizeof(w.handle), "%s", handle ? handle : "");
	char *p = by_handle(pid, &w);
	return p ? p : near_process(pid, &w, NULL, 0);
}

const char *inotify_describe(struct file_state *f, const char *info, pid_t pid, char **detail)
{
	struct watch *ws = NULL;
	size_t n = 0;
	const char *why = NULL;
	for (const char *l = strstr(info, "inotify wd:"); l; l = strstr(l + 1, "\ninotify wd:")) {
		if (*l == '\n')
			l++;
		struct watch w;
		memset(&w, 0, sizeof(w));
		unsigned wd, sdev, mask, ignored;
		unsigned long ino;
		if (sscanf(l, "inotify wd:%x ino:%lx sdev:%x mask:%x ignored_mask:%x", &wd, &ino, &sdev, &mask, &ignored) != 5)
			continue;
		const char *fh = strstr(l, "fhandle-bytes:"), *eol = strchr(l, '\n');
		if (fh && (!eol || fh < eol))
			sscanf(fh, "fhandle-bytes:%x fhandle-type:%x f_handle:%299[0-9a-fA-F]", (unsigned *)&w.hbytes, (unsigned *)&w.htype, w.handle);
		w.f.wd = (int32_t)wd;
		w.f.mask = mask;
		w.f.ino = ino;
		w.f.dev = makedev(sdev >> 20, sdev & 0xfffff); /* the kernel's dev_t, printed as it is */
		ws = xrealloc(ws, (n + 1) * sizeof(*ws));
		ws[n++] = w;
	}
	for (size_t i = 0; i < n; i++) {
		ws[i].path = by_handle(pid, &ws[i]);
		if (!ws[i].path)
			ws[i].path = near_process(pid, &ws[i], ws, n);
		if (!ws[i].path && !why) {
			why = "an inotify watch whose path cannot be found";
			*detail = xasprintf("inotify watch %d on inode %llu of device %u:%u: its path is not near the process and only "
					    "CAP_DAC_READ_SEARCH could read it from its handle", ws[i].f.wd, (unsigned long long)ws[i].f.ino,
					    major(ws[i].f.dev), minor(ws[i].f.dev));
		}
	}
	/* in the order of their descriptors, which restore adds them in */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && ws[j].f.wd < ws[j - 1].f.wd; j--) {
			struct watch x = ws[j];
			ws[j] = ws[j - 1];
			ws[j - 1] = x;
		}
	struct buf b = {0};
	buf_u32(&b, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		buf_put(&b, &ws[i].f, sizeof(ws[i].f));
		buf_lstr(&b, ws[i].path ? ws[i].path : "");
		free(ws[i].path);
	}
	free(ws);
	put_extra(f, &b);
	f->f.kind = CKPT_FD_KIND_INOTIFY;
	return why;
}

/* The watches as the .ksy reads them: count, then each fixed part and its path. */
int inotify_extra_check(struct rcur *x)
{
	uint32_t cnt;
	if (rc_get(x, &cnt, 4, "inotify count") < 0)
		return -1;
	for (uint32_t i = 0; i < cnt; i++) {
		char *path;
		if (!rc_ptr(x, sizeof(struct ckpt_inotify_watch_fixed), "inotify watch") || rc_lstr(x, &path, "inotify watch path") < 0)
			return -1;
		free(path);
	}
	return 0;
}

int inotify_make(const struct file_state *f)
{
	int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fd < 0)
		return fail_errno(EXIT_FAIL, "inotify_init1");
	uint32_t cnt;
	memcpy(&cnt, f->extra, 4);
	const uint8_t *at = f->extra + 4, *end = f->extra + f->extra_len;
	for (uint32_t i = 0; i < cnt; i++) {
		struct ckpt_inotify_watch_fixed w;
		uint32_t len;
		if (end - at < (ptrdiff_t)(sizeof(w) + 4))
			return fail(EXIT_BADIMAGE, "inotify watch %u: truncated", i);
		memcpy(&w, at, sizeof(w));
		memcpy(&len, at + sizeof(w), 4);
		if ((uint64_t)(end - at) < sizeof(w) + 4 + (uint64_t)len)
			return fail(EXIT_BADIMAGE, "inotify watch %d: truncated path", w.wd);
		char *path = xmalloc(len + 1);
		memcpy(path, at + sizeof(w) + 4, len);
		path[len] = 0;
		at += sizeof(w) + 4 + len;
		int got = -1;
		for (int tries = 0; tries < READD_MAX; tries++) {
			got = inotify_add_watch(fd, path, w.mask);
			if (got < 0) {
				int rc = fail_errno(denied_or(EXIT_FAIL), "inotify watch %d: cannot watch %s again", w.wd, path[0] ? path : "(no path)");
				free(path);
				return rc;
			}
			if (got >= w.wd)
				break;
			inotify_rm_watch(fd, got); /* the next add gets the next number */
		}
		if (got != w.wd) {
			fail(EXIT_UNSUPPORTED, "inotify watch %d on %s came back as watch %d", w.wd, path, got);
			free(path);
			return -1;
		}
		free(path);
	}
	/* the IN_IGNORED events of the removed watches are ours, not the program's */
	char buf[4096];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	return fd; /* its status flags are set as the image says by the caller */
}
