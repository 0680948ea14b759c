#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <time.h>

volatile sig_atomic_t g_cancel;
int g_json;
int g_verbose;

static int err_code;
static char err_msg[1024];

static int vfail(int code, int with_errno, const char *fmt, va_list ap)
{
	int e = errno;
	if (err_code)
		return -1;
	if (with_errno) {
		switch (e) {
		case ESRCH:
			code = EXIT_NOPROC;
			break;
		case ENOSPC:
		case EDQUOT:
		case EIO:
		case EROFS:
		case EFBIG:
			code = EXIT_IO;
			break;
		default:
			break;
		}
	}
	err_code = code ? code : EXIT_FAIL;
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	if (with_errno) {
		size_t n = strlen(err_msg);
		snprintf(err_msg + n, sizeof(err_msg) - n, ": %s", strerror(e));
	}
	errno = e;
	return -1;
}

int fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(code, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int fail_errno(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(code, 1, fmt, ap);
	va_end(ap);
	return -1;
}

int fail_code(void) { return err_code; }
void fail_reset(void) { err_code = 0, err_msg[0] = 0; }
const char *fail_message(void) { return err_msg; }

int cancelled(void)
{
	if (!g_cancel)
		return 0;
	fail(EXIT_CANCELLED, "cancelled: %s", g_cancel == SIGTERM ? "SIGTERM" : g_cancel == SIGINT ? "SIGINT" : "the caller went away");
	return 1;
}

static long fault_at = -2; /* -2: not read yet, -1: off, 0: count only (or stop at a name) */
static long fault_n;
static int fault_stop;
static const char *fault_name;

void fault_point(const char *where)
{
	if (fault_at == -2) {
		const char *e = getenv("CKPT_TEST_FAULT");
		fault_at = -1;
		if (e && !strcmp(e, "count"))
			fault_at = 0;
		else if (e && (!strncmp(e, "kill:", 5) || !strncmp(e, "stop:", 5))) {
			fault_stop = e[0] == 's';
			if (e[5] == '@')
				fault_at = 0, fault_name = e + 6; /* the first point of that name */
			else
				fault_at = atol(e + 5);
		}
	}
	if (fault_at < 0)
		return;
	++fault_n;
	if (fault_name ? strcmp(where, fault_name) != 0 : fault_n != fault_at)
		return;
	fault_name = NULL, fault_at = -1; /* once */
	if (!fault_stop)
		kill(getpid(), SIGKILL);
	printf("{\"event\":\"fault-point\",\"n\":%ld,\"at\":\"%s\",\"pid\":%d}\n", fault_n, where, (int)getpid());
	fflush(stdout);
	raise(SIGSTOP);
}

int fault_injected(const char *where)
{
	static long nth = -2; /* -2: not read yet, -1: off (or done), else the calls of that name still to come */
	static const char *name;
	static size_t name_len;
	if (nth == -2) {
		const char *e = getenv("CKPT_TEST_FAULT");
		nth = -1;
		if (e && !strncmp(e, "fail:@", 6)) {
			name = e + 6;
			const char *at = strchr(name, '#');
			name_len = at ? (size_t)(at - name) : strlen(name);
			nth = at ? atol(at + 1) : 1;
		}
	}
	if (nth < 1 || strncmp(where, name, name_len) || where[name_len])
		return 0;
	if (--nth)
		return 0;
	nth = -1; /* once */
	return 1;
}

void fault_report(void)
{
	if (fault_at == 0 && !fault_name)
		fprintf(stderr, "ckpt: fault points: %ld\n", fault_n);
}

/* Length of the well-formed UTF-8 sequence at s (1-4), or 0 when the byte at s starts none
 * (a stray continuation byte, an overlong form, a surrogate, beyond U+10FFFF, or cut short). */
static int utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	int n;
	unsigned lo = 0x80, hi = 0xbf; /* the range of the second byte */
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A C1 control (U+0080-U+009F): some terminals act on it like ESC + a letter. */
static int is_c1(const unsigned char *s, int n)
{
	return n == 2 && s[0] == 0xc2 && s[1] < 0xa0;
}

void fputs_escaped(const char *text, FILE *f)
{
	for (const unsigned char *s = (const unsigned char *)text; *s;) {
		int n = utf8_len(s);
		if (n == 0 || is_c1(s, n) || (n == 1 && (*s < 0x20 || *s == 0x7f))) {
			n = n ? n : 1;
			for (int i = 0; i < n; i++)
				fprintf(f, "\\x%02x", s[i]);
		} else if (*s == '\\') {
			fputs("\\\\", f); /* so that no text can pass for an escape */
		} else {
			fwrite(s, 1, (size_t)n, f);
		}
		s += n;
	}
}

void fputs_json(const char *text, FILE *f)
{
	fputc('"', f);
	for (const unsigned char *s = (const unsigned char *)text; *s;) {
		int n = utf8_len(s);
		if (n == 0) {
			fputs("\\ufffd", f);
			n = 1;
		} else if (*s == '"' || *s == '\\') {
			fprintf(f, "\\%c", *s);
		} else if (*s == '\n') {
			fputs("\\n", f);
		} else if (*s < 0x20 || *s == 0x7f) {
			fprintf(f, "\\u%04x", *s);
		} else if (is_c1(s, n)) {
			fprintf(f, "\\u%04x", s[1]);
		} else {
			fwrite(s, 1, (size_t)n, f);
		}
		s += n;
	}
	fputc('"', f);
}

/* An open that the restore's user was denied (EACCES, EPERM) is a permission failure (exit 4). */
int denied_or(int code)
{
	return errno == EACCES || errno == EPERM ? EXIT_PERM : code;
}

static void (*g_warn_sink)(const char *msg);

void warn_to(void (*sink)(const char *msg))
{
	g_warn_sink = sink;
}

void warn(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (g_warn_sink) {
		g_warn_sink(msg);
		return;
	}
	if (g_json) {
		fputs("{\"event\":\"warning\",\"message\":", stdout);
		fputs_json(msg, stdout);
		fputs("}\n", stdout);
		fflush(stdout);
	}
	fputs("ckpt: warning: ", stderr);
	fputs_escaped(msg, stderr);
	fputc('\n', stderr);
}

void progress_step(const char *step, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (g_json) {
		fputs("{\"event\":\"step\",\"step\":", stdout);
		fputs_json(step, stdout);
		fputs(",\"message\":", stdout);
		fputs_json(msg, stdout);
		fputs("}\n", stdout);
		fflush(stdout);
	} else if (g_verbose) {
		static uint64_t t0;
		if (!t0)
			t0 = now_ns(CLOCK_MONOTONIC);
		fprintf(stderr, "ckpt: %7.1f ms %s: ", (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e6, step);
		fputs_escaped(msg, stderr);
		fputc('\n', stderr);
	}
}

void progress_bytes(const char *phase, uint64_t done, uint64_t total)
{
	if (!g_json)
		return;
	printf("{\"event\":\"progress\",\"phase\":\"%s\",\"done\":%llu,\"total\":%llu}\n", phase,
	       (unsigned long long)done, (unsigned long long)total);
	fflush(stdout);
}

void progress_done(const char *image, uint64_t bytes, uint64_t ms, size_t processes)
{
	if (!g_json)
		return;
	fputs("{\"event\":\"done\",\"image\":", stdout);
	fputs_json(image, stdout);
	printf(",\"bytes\":%llu,\"ms\":%llu,\"processes\":%zu}\n", (unsigned long long)bytes, (unsigned long long)ms, processes);
	fflush(stdout);
}

void progress_frozen(uint64_t ns, const char *mode, uint64_t fork_ns)
{
	if (!g_json)
		return;
	printf("{\"event\":\"frozen\",\"ms\":%.3f,\"mode\":\"%s\",\"fork_ms\":%.3f}\n", (double)ns / 1e6, mode, (double)fork_ns / 1e6);
	fflush(stdout);
}

void progress_snapshot_cost(uint32_t pid, uint64_t bytes)
{
	if (!g_json)
		return;
	printf("{\"event\":\"snapshot\",\"pid\":%u,\"cost\":%llu}\n", pid, (unsigned long long)bytes);
	fflush(stdout);
}

void progress_error(void)
{
	if (g_json) {
		printf("{\"event\":\"error\",\"exit\":%d,\"message\":", fail_code());
		fputs_json(fail_message(), stdout);
		fputs("}\n", stdout);
		fflush(stdout);
	}
	fputs("ckpt: ", stderr);
	fputs_escaped(fail_message(), stderr);
	fputc('\n', stderr);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fputs("ckpt: out of memory\n", stderr);
		_exit(EXIT_FAIL);
	}
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p) {
		fputs("ckpt: out of memory\n", stderr);
		_exit(EXIT_FAIL);
	}
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fputs("ckpt: out of memory\n", stderr);
		_exit(EXIT_FAIL);
	}
	return p;
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *s = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

void buf_reserve(struct buf *b, size_t extra)
{
	if (b->len + extra <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void *buf_put(struct buf *b, const void *data, size_t len)
{
	buf_reserve(b, len);
	void *at = b->p + b->len;
	if (data)
		memcpy(at, data, len);
	else
		memset(at, 0, len);
	b->len += len;
	return at;
}

void buf_u32(struct buf *b, uint32_t v) { buf_put(b, &v, 4); }
void buf_u64(struct buf *b, uint64_t v) { buf_put(b, &v, 8); }

void buf_lbytes(struct buf *b, const void *data, uint32_t len)
{
	buf_u32(b, len);
	if (len)
		buf_put(b, data, len);
}

void buf_lstr(struct buf *b, const char *s)
{
	s = s ? s : "";
	buf_lbytes(b, s, (uint32_t)strlen(s));
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

char *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, n = 0;
	char *s = xmalloc(cap);
	for (;;) {
		if (n + 1 >= cap)
			s = xrealloc(s, cap *= 2);
		ssize_t r = read(fd, s + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(s);
			close(fd);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	s[n] = 0;
	if (len)
		*len = n;
	return s;
}

char *read_filef(size_t *len, const char *fmt, ...)
{
	char path[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return read_file(path, len);
}

int proc_stat(pid_t pid, pid_t tid, struct proc_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->state = '?';
	char *line = tid > 0 ? read_filef(NULL, "/proc/%d/task/%d/stat", pid, tid) : read_filef(NULL, "/proc/%d/stat", pid);
	if (!line)
		return -1;
	char *lp = strchr(line, '('), *rp = strrchr(line, ')');
	if (!lp || !rp || rp < lp || !rp[1] || !rp[2]) {
		free(line);
		errno = EINVAL;
		return -1;
	}
	snprintf(st->comm, sizeof(st->comm), "%.*s", (int)(rp - lp - 1), lp + 1);
	st->state = rp[2];
	char *save, *tok = strtok_r(rp + 2, " ", &save); /* the state */
	for (int n = 4; tok && (tok = strtok_r(NULL, " ", &save)) && n < 64; n++)
		st->f[n] = strtoull(tok, NULL, 10);
	free(line);
	return 0;
}

char *read_link(const char *path)
{
	size_t cap = 256;
	for (;;) {
		char *s = xmalloc(cap);
		ssize_t n = readlink(path, s, cap);
		if (n < 0) {
			int e = errno;
			free(s);
			errno = e;
			return NULL;
		}
		if ((size_t)n < cap) {
			s[n] = 0;
			return s;
		}
		free(s);
		cap *= 2;
	}
}

int write_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	while (len) {
		ssize_t n = write(fd, c, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

int pwrite_all(int fd, const void *p, size_t len, uint64_t off)
{
	const char *c = p;
	while (len) {
		ssize_t n = pwrite(fd, c, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		c += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int pread_all(int fd, void *p, size_t len, uint64_t off)
{
	char *c = p;
	while (len) {
		ssize_t n = pread(fd, c, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENODATA;
			return -1;
		}
		c += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

uint64_t now_ns(int clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

const char *find_key(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p;) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
			p += kl + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}
