/* Errors with exit codes, progress events, growable byte buffers and small /proc helpers. */
#ifndef CKPT_UTIL_H
#define CKPT_UTIL_H

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "ckpt_format.h" /* the exit codes, EXIT_*: enum exit_code in formats/ckpt.ksy */

#define CKPT_VERSION "0.1.0"

/* The first failure of a command: its exit code and its one-line message ("<what>: <why>").
 * Later failures (often consequences of the first) do not overwrite it. */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* fail() with ": strerror(errno)" appended and the code chosen from errno when it says more
 * (ESRCH: no such process, ENOSPC/EIO/EDQUOT/EROFS/EFBIG: I/O). EPERM/EACCES keep `code`: what
 * was denied decides whether it is a permission failure (see denied_or in restore.c). */
int fail_errno(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fail_code(void);
/* The exit code for a failed open in the restore child: EXIT_PERM when the restore's user was
 * denied (EACCES, EPERM; errno as the open left it), else `code`. */
int denied_or(int code);
void fail_reset(void); /* for a process that reads many images (the fuzzer) */
const char *fail_message(void);
/* Warnings go to stderr (human) or as JSON events (--progress=json), or to the sink set with
 * warn_to (a restore child sends them to ckpt, which prints them); warn_to(NULL) undoes it. */
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warn_to(void (*sink)(const char *msg));
/* Text for a terminal: messages carry strings of the image or the target (paths, comm), which
 * must not reach a terminal as escape sequences. Control characters (C0, DEL, C1) and bytes of
 * no valid UTF-8 character are written as \xNN, a backslash as \\; the rest as it is. Every
 * human-readable line of ckpt goes through it (the JSON events have their own escaping). */
void fputs_escaped(const char *text, FILE *f);
/* A JSON string, quotes included: control characters (C0, DEL, C1) as \u00XX, and each byte of
 * no valid UTF-8 character as U+FFFD (JSON text is UTF-8: what a decoder would make of it). */
void fputs_json(const char *text, FILE *f);

/* Set by SIGINT/SIGTERM handlers (and by a dead parent): the command rolls back and exits 8. */
extern volatile sig_atomic_t g_cancel;
int cancelled(void); /* records the failure when g_cancel is set */

/* Test hook for the fault suite (test/native/faults.test.ts): with CKPT_TEST_FAULT=kill:N or
 * stop:N in the environment, the Nth fault point (each step that changes a thread's state while
 * injecting, and the named points "written" and "publish" around the point of no return; kill:@NAME
 * and stop:@NAME pick one by name) SIGKILLs ckpt, or stops it with SIGSTOP after printing
 * {"event":"fault-point",...}. Either only does what a signal from outside could do at that
 * instant. count: prints how many points a run passed ("ckpt: fault points: N" on stderr, at
 * exit). Unset: nothing. */
void fault_point(const char *where);
void fault_report(void);
/* The fault suite's failing syscalls: with CKPT_TEST_FAULT=fail:@NAME#N, the Nth call with that
 * NAME (the first without #N) returns 1, once, and the caller makes the step fail for real (e.g.
 * an injected call given a bad fd), to prove how the failure is reported and cleaned up. */
int fault_injected(const char *where);

/* Progress: --progress=json prints one flushed JSON object per line on stdout. */
extern int g_json;
extern int g_verbose;
void progress_step(const char *step, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress_bytes(const char *phase, uint64_t done, uint64_t total);
/* The last event of a dump or restore: the image, its size, the time taken, how many processes. */
void progress_done(const char *image, uint64_t bytes, uint64_t ms, size_t processes);
/* {"event":"frozen"}: how long the processes could not run, and how (snapshot or frozen) */
void progress_frozen(uint64_t ns, const char *mode, uint64_t fork_ns);
/* {"event":"snapshot"}: the bytes a snapshot held alone when it ended */
void progress_snapshot_cost(uint32_t pid, uint64_t bytes);
void progress_error(void);

/* A growable byte buffer for building payloads. Allocation failure aborts (a dump or restore
 * cannot continue without memory, and it keeps callers simple). */
struct buf {
	uint8_t *p;
	size_t len, cap;
};
void buf_reserve(struct buf *b, size_t extra);
void *buf_put(struct buf *b, const void *data, size_t len);
void buf_u32(struct buf *b, uint32_t v);
void buf_u64(struct buf *b, uint64_t v);
void buf_lstr(struct buf *b, const char *s);
void buf_lbytes(struct buf *b, const void *data, uint32_t len);
void buf_free(struct buf *b);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Whole small files (/proc): NUL-terminated, *len without the NUL. NULL with errno set. */
char *read_file(const char *path, size_t *len);
char *read_filef(size_t *len, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* readlink into a fresh string; NULL with errno set. */
char *read_link(const char *path);
int write_all(int fd, const void *p, size_t len);
int pwrite_all(int fd, const void *p, size_t len, uint64_t off);
int pread_all(int fd, void *p, size_t len, uint64_t off);
uint64_t now_ns(int clock);
/* "Key:\tvalue" lines of /proc/PID/status and fdinfo. */
const char *find_key(const char *text, const char *key);

/* /proc/PID/stat, parsed once for every reader. comm is what stands between the first '(' and the
 * last ')' (it may hold spaces and parentheses); f[n] is field n as proc(5) numbers them, from 4
 * (ppid) on, 0 past the end of the line. */
struct proc_stat {
	char state;               /* field 3: R, S, D, T, t, Z, X...; '?' when the file cannot be read */
	char comm[64];
	unsigned long long f[64];
};
/* /proc/PID/stat, or /proc/PID/task/TID/stat when tid > 0. -1 with errno set (or EINVAL for a
 * line that does not parse) and st->state '?' when the task is gone. */
int proc_stat(pid_t pid, pid_t tid, struct proc_stat *st);

#endif
