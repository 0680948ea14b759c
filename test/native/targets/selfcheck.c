/* Test target of the fault suite (issue 9): a process that notices when anything of it is
 * harmed. MiB (argv[2], default 64) of memory over 4 threads that keep verifying and rewriting a
 * known pattern, each thread waiting in another kind of call and with a signal mask of its own:
 *   thread 0  nanosleep (a restart through restart_block)
 *   thread 1  read on a pipe the main thread feeds (ERESTARTSYS); has an alternate signal stack
 *   thread 2  ppoll with a temporary mask that lets SIGUSR2 in (the kernel owes it its own mask)
 *   thread 3  AVX (and AVX-512) registers, MXCSR and the x87 control word held across raw
 *             nanosleep syscalls, compared on every wakeup
 * It first appends "m ADDRESS LENGTH" (hex, decimal) of its memory. Every 5 ms the main thread appends "t SEQ V0 V1 V2 V3 SIG2 VEC USR1" to OUT (V: pages verified by
 * each thread; SIG2: SIGUSR2s thread 2 took; VEC: register checks passed; USR1: SIGUSR1s the main
 * thread took), and sends thread 2 a SIGUSR2. Anything wrong: a line "e WHAT", then it goes on.
 * A thread that stops counting, or the process dying, is for the test to see. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 4
#define PAGE 4096
#define WORDS (PAGE / 8)

static int out;
static int feed[2];
static size_t pages_per_thread;
static uint8_t *mem;
static uint32_t *gens;
static pthread_t threads[NTHREADS];
static volatile uint64_t verified[NTHREADS];
static volatile uint64_t sig2, vec_ok, usr1;
static uint8_t vec_vals[12][64] __attribute__((aligned(64)));
static int have_avx512;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (write(out, line, (size_t)n) != n)
		_exit(1);
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Page p of thread t holds generation gens[...]: word k is seed + k * golden ratio. */
static uint64_t seed(int t, size_t p, uint32_t gen)
{
	return mix(((uint64_t)t << 56) ^ ((uint64_t)p << 24) ^ gen);
}

static void fill(int t, size_t p, uint32_t gen)
{
	uint64_t *w = (uint64_t *)(mem + ((size_t)t * pages_per_thread + p) * PAGE), s = seed(t, p, gen);
	for (size_t k = 0; k < WORDS; k++)
		w[k] = s + k * 0x9e3779b97f4a7c15ULL;
}

/* Checks the next `n` pages of thread t and moves each to its next generation. */
static void verify_some(int t, size_t *next, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t p = *next;
		*next = (p + 1) % pages_per_thread;
		uint32_t *g = &gens[(size_t)t * pages_per_thread + p];
		uint64_t *w = (uint64_t *)(mem + ((size_t)t * pages_per_thread + p) * PAGE), s = seed(t, p, *g);
		for (size_t k = 0; k < WORDS; k++)
			if (w[k] != s + k * 0x9e3779b97f4a7c15ULL) {
				say("e memory: thread %d page %zu word %zu generation %u\n", t, p, k, *g);
				break;
			}
		fill(t, p, ++*g);
		verified[t]++;
	}
}

static sigset_t own_mask(int t)
{
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1); /* only the main thread takes it */
	sigaddset(&m, SIGRTMIN + t);
	if (t == 2)
		sigaddset(&m, SIGUSR2); /* let in by ppoll only */
	return m;
}

static void check_mask(int t, const sigset_t *want)
{
	sigset_t now;
	pthread_sigmask(SIG_BLOCK, NULL, &now);
	for (int s = 1; s < 65; s++)
		if (sigismember(&now, s) != sigismember(want, s)) {
			say("e mask: thread %d signal %d %s\n", t, s, sigismember(&now, s) ? "blocked" : "not blocked");
			return;
		}
}

static void sleep_ms(long ms)
{
	struct timespec ts = {0, ms * 1000000};
	nanosleep(&ts, NULL);
}

static void on_usr2(int sig)
{
	(void)sig;
	sig2++;
}

static void on_usr1(int sig)
{
	(void)sig;
	usr1++;
}

static void *sleeper(void *arg)
{
	int t = (int)(intptr_t)arg;
	sigset_t m = own_mask(t);
	pthread_sigmask(SIG_SETMASK, &m, NULL);
	size_t next = 0;
	for (;;) {
		verify_some(t, &next, 32);
		check_mask(t, &m);
		sleep_ms(1);
	}
	return NULL;
}

static void *reader(void *arg)
{
	int t = (int)(intptr_t)arg;
	sigset_t m = own_mask(t);
	pthread_sigmask(SIG_SETMASK, &m, NULL);
	stack_t ss = {.ss_sp = malloc(1 << 16), .ss_size = 1 << 16, .ss_flags = 0}, now;
	sigaltstack(&ss, NULL);
	size_t next = 0;
	for (;;) {
		char c;
		if (read(feed[0], &c, 1) != 1)
			say("e read: %m\n");
		verify_some(t, &next, 128);
		check_mask(t, &m);
		if (sigaltstack(NULL, &now) || now.ss_sp != ss.ss_sp || now.ss_size != ss.ss_size || now.ss_flags != 0)
			say("e altstack: thread %d has %p %zu %d\n", t, now.ss_sp, now.ss_size, now.ss_flags);
	}
	return NULL;
}

static void *poller(void *arg)
{
	int t = (int)(intptr_t)arg;
	sigset_t m = own_mask(t), temp = m;
	sigdelset(&temp, SIGUSR2);
	pthread_sigmask(SIG_SETMASK, &m, NULL);
	size_t next = 0;
	for (;;) {
		verify_some(t, &next, 32);
		check_mask(t, &m);
		struct timespec ts = {0, 1000000};
		ppoll(NULL, 0, &ts, &temp);
	}
	return NULL;
}

/* ymm8-15 (and zmm16-19, k1 with AVX-512), MXCSR and the x87 control word are set once per round
 * and compared after each of 8 raw nanosleep syscalls, so a checkpoint mostly finds the thread
 * in the kernel with all of them live. Returns 0 when something changed. */
static int vector_round(void)
{
	static const struct timespec ts = {0, 1000000};
	uint32_t mxcsr = 0xff80, mx_now = 0; /* all exceptions masked, flush-to-zero, round toward zero */
	uint16_t fcw = 0x0f7f, cw_now = 0;    /* round toward zero, extended precision */
	int ok = 1;
	if (have_avx512) {
		__asm__ volatile(
			"vmovdqa64 0(%[v]), %%zmm16\n\t"
			"vmovdqa64 64(%[v]), %%zmm17\n\t"
			"vmovdqa64 128(%[v]), %%zmm18\n\t"
			"vmovdqa64 192(%[v]), %%zmm19\n\t"
			"movl $0x5a5a, %%eax\n\tkmovw %%eax, %%k1\n\t"
			:
			: [v] "r"(vec_vals[8])
			: "rax", "memory");
	}
	__asm__ volatile(
		"ldmxcsr %[mx]\n\t"
		"fldcw %[cw]\n\t"
		"vmovdqa 0(%[v]), %%ymm8\n\t"
		"vmovdqa 64(%[v]), %%ymm9\n\t"
		"vmovdqa 128(%[v]), %%ymm10\n\t"
		"vmovdqa 192(%[v]), %%ymm11\n\t"
		"vmovdqa 256(%[v]), %%ymm12\n\t"
		"vmovdqa 320(%[v]), %%ymm13\n\t"
		"vmovdqa 384(%[v]), %%ymm14\n\t"
		"vmovdqa 448(%[v]), %%ymm15\n\t"
		"movl $8, %%r12d\n\t"
		"1:\n\t"
		"movl $35, %%eax\n\t" /* nanosleep(&ts, NULL) */
		"movq %[ts], %%rdi\n\t"
		"xorl %%esi, %%esi\n\t"
		"syscall\n\t"
#define CMP(off, reg) "vpcmpeqb " #off "(%[v]), %%" #reg ", %%ymm0\n\tvpmovmskb %%ymm0, %%eax\n\tcmpl $-1, %%eax\n\tjne 2f\n\t"
		CMP(0, ymm8) CMP(64, ymm9) CMP(128, ymm10) CMP(192, ymm11) CMP(256, ymm12) CMP(320, ymm13) CMP(384, ymm14)
		CMP(448, ymm15)
#undef CMP
		"stmxcsr %[mxnow]\n\t"
		"movl %[mxnow], %%eax\n\t"
		"cmpl %[mx], %%eax\n\tjne 2f\n\t"
		"fnstcw %[cwnow]\n\t"
		"movzwl %[cwnow], %%eax\n\t"
		"cmpw %[cw], %%ax\n\tjne 2f\n\t"
		"decl %%r12d\n\t"
		"jnz 1b\n\t"
		"jmp 3f\n\t"
		"2:\n\t"
		"movl $0, %[ok]\n\t"
		"3:\n\t"
		"vzeroupper\n\t"
		"ldmxcsr %[mxdef]\n\t"
		"fninit\n\t"
		: [ok] "+m"(ok), [mxnow] "+m"(mx_now), [cwnow] "+m"(cw_now)
		: [v] "r"(vec_vals[0]), [ts] "r"(&ts), [mx] "m"(mxcsr), [cw] "m"(fcw), [mxdef] "m"((uint32_t){0x1f80})
		: "rax", "rcx", "rdx", "rsi", "rdi", "r11", "r12", "xmm0", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
		  "xmm14", "xmm15", "memory", "cc");
	if (ok && have_avx512) {
		uint64_t eq = 0;
		__asm__ volatile(
			"vpcmpeqq 0(%[v]), %%zmm16, %%k2\n\t"
			"vpcmpeqq 64(%[v]), %%zmm17, %%k3\n\t"
			"kandw %%k2, %%k3, %%k2\n\t"
			"vpcmpeqq 128(%[v]), %%zmm18, %%k3\n\t"
			"kandw %%k2, %%k3, %%k2\n\t"
			"vpcmpeqq 192(%[v]), %%zmm19, %%k3\n\t"
			"kandw %%k2, %%k3, %%k2\n\t"
			"kmovw %%k2, %%eax\n\t"
			"kmovw %%k1, %%ecx\n\t"
			"shlq $16, %%rcx\n\t"
			"orq %%rcx, %%rax\n\t"
			"movq %%rax, %[eq]\n\t"
			"vzeroupper\n\t"
			: [eq] "=m"(eq)
			: [v] "r"(vec_vals[8])
			: "rax", "rcx", "memory");
		ok = eq == ((0x5a5aULL << 16) | 0xff);
	}
	return ok;
}

static void *vectors(void *arg)
{
	int t = (int)(intptr_t)arg;
	sigset_t m = own_mask(t);
	pthread_sigmask(SIG_SETMASK, &m, NULL);
	size_t next = 0;
	for (;;) {
		if (vector_round())
			vec_ok++;
		else
			say("e vector registers, MXCSR or x87 control word changed\n");
		verify_some(t, &next, 256);
		check_mask(t, &m);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0 || pipe(feed) < 0)
		return 1;
	size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 64;
	pages_per_thread = (mib << 20) / PAGE / NTHREADS;
	mem = mmap(NULL, pages_per_thread * NTHREADS * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gens = calloc(pages_per_thread * NTHREADS, sizeof(*gens));
	if (mem == MAP_FAILED || !gens)
		return 1;
	for (int t = 0; t < NTHREADS; t++)
		for (size_t p = 0; p < pages_per_thread; p++)
			fill(t, p, 0);
	say("m %lx %zu\n", (unsigned long)(uintptr_t)mem, pages_per_thread * NTHREADS * PAGE);
	for (int r = 0; r < 12; r++)
		for (int b = 0; b < 64; b++)
			vec_vals[r][b] = (uint8_t)(r * 37 + b * 11 + 5);
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2"))
		return 3;
	have_avx512 = __builtin_cpu_supports("avx512f");

	struct sigaction sa = {.sa_handler = on_usr2};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t all, main_mask;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL); /* threads set their own */
	void *(*body[NTHREADS])(void *) = {sleeper, reader, poller, vectors};
	for (int t = 0; t < NTHREADS; t++)
		if (pthread_create(&threads[t], NULL, body[t], (void *)(intptr_t)t))
			return 1;
	sigemptyset(&main_mask);
	sigaddset(&main_mask, SIGRTMIN + NTHREADS);
	pthread_sigmask(SIG_SETMASK, &main_mask, NULL);
	for (long seq = 0;; seq++) {
		say("t %ld %llu %llu %llu %llu %llu %llu %llu\n", seq, (unsigned long long)verified[0], (unsigned long long)verified[1],
		    (unsigned long long)verified[2], (unsigned long long)verified[3], (unsigned long long)sig2,
		    (unsigned long long)vec_ok, (unsigned long long)usr1);
		if (write(feed[1], "x", 1) != 1)
			say("e feed\n");
		pthread_kill(threads[2], SIGUSR2);
		check_mask(NTHREADS, &main_mask);
		sleep_ms(5);
	}
}
