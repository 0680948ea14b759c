/* Test target (issue 3, item 3): threads with a mutex and condition variable (producer and
 * consumer), thread-local data, pthread_kill between threads, and AVX registers that hold
 * known values in a loop that never leaves them. SIGUSR1 asks the main thread for a report.
 * Output lines: "p N" (consumed items, in order), "r REPORT TLS_OK KICKS KICK_ERRORS HITS AVX_ITERS AVX_FAIL",
 * "e WHAT" on any error. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int out;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long produced, consumed = -1;
static __thread long tls_id;
static __thread long tls_hits;
static volatile long victim_hits, kicks, kick_errors, tls_errors;
static volatile sig_atomic_t reports_asked;
static pthread_t victim;

static uint8_t avx_vals[8][32] __attribute__((aligned(32)));
static volatile uint64_t avx_iters;
static volatile int avx_fail = -1; /* -1: no AVX2 here */

static void say(const char *fmt, long a)
{
	char line[128];
	int n = snprintf(line, sizeof(line), fmt, a);
	if (write(out, line, (size_t)n) != n)
		_exit(1);
}

static void pause_ms(long ms)
{
	struct timespec ts = {0, ms * 1000000};
	nanosleep(&ts, NULL);
}

static void check_tls(long want)
{
	if (tls_id != want)
		tls_errors++;
}

static void *producer(void *arg)
{
	(void)arg;
	tls_id = 1;
	for (;;) {
		pthread_mutex_lock(&mu);
		produced++;
		pthread_cond_signal(&cv);
		pthread_mutex_unlock(&mu);
		check_tls(1);
		pause_ms(3);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	tls_id = 2;
	for (;;) {
		pthread_mutex_lock(&mu);
		while (consumed + 1 >= produced)
			pthread_cond_wait(&cv, &mu);
		long upto = produced;
		pthread_mutex_unlock(&mu);
		while (consumed + 1 < upto)
			say("p %ld\n", ++consumed);
		check_tls(2);
	}
	return NULL;
}

static void on_usr2(int sig)
{
	(void)sig;
	tls_hits++;
}

static void *victim_main(void *arg)
{
	(void)arg;
	tls_id = 3;
	for (;;) {
		pause_ms(2);
		victim_hits = tls_hits;
		check_tls(3);
	}
	return NULL;
}

static void *kicker(void *arg)
{
	(void)arg;
	tls_id = 4;
	for (;;) {
		int r = pthread_kill(victim, SIGUSR2);
		if (r) {
			kick_errors++;
			say("e pthread_kill %ld\n", r);
		} else {
			kicks++;
		}
		check_tls(4);
		pause_ms(5);
	}
	return NULL;
}

/* ymm8-15 are loaded once and compared with memory forever: a checkpoint lands in this loop. */
static void *avx_main(void *arg)
{
	(void)arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	avx_fail = 0;
	int fail = 0;
	__asm__ volatile(
		"vmovdqa 0(%[v]), %%ymm8\n\t"
		"vmovdqa 32(%[v]), %%ymm9\n\t"
		"vmovdqa 64(%[v]), %%ymm10\n\t"
		"vmovdqa 96(%[v]), %%ymm11\n\t"
		"vmovdqa 128(%[v]), %%ymm12\n\t"
		"vmovdqa 160(%[v]), %%ymm13\n\t"
		"vmovdqa 192(%[v]), %%ymm14\n\t"
		"vmovdqa 224(%[v]), %%ymm15\n\t"
		"1:\n\t"
#define CMP(off, reg) "vpcmpeqb " #off "(%[v]), %%" #reg ", %%ymm0\n\tvpmovmskb %%ymm0, %%eax\n\tcmp $-1, %%eax\n\tjne 2f\n\t"
		CMP(0, ymm8) CMP(32, ymm9) CMP(64, ymm10) CMP(96, ymm11) CMP(128, ymm12) CMP(160, ymm13) CMP(192, ymm14)
		CMP(224, ymm15)
		"lock incq %[it]\n\t"
		"pause\n\t"
		"jmp 1b\n\t"
		"2:\n\t"
		"movl $1, %[fail]\n\t"
		"vzeroupper\n\t"
		: [it] "+m"(avx_iters), [fail] "+r"(fail)
		: [v] "r"(avx_vals)
		: "rax", "xmm0", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
	avx_fail = fail;
	say("e avx registers changed %ld\n", fail);
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
	reports_asked++;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0)
		return 1;
	tls_id = 0;
	for (int r = 0; r < 8; r++)
		for (int b = 0; b < 32; b++)
			avx_vals[r][b] = (uint8_t)(r * 37 + b * 11 + 5);
	struct sigaction sa = {.sa_handler = on_usr2, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	/* only the main thread takes SIGUSR1; only the victim takes SIGUSR2 (pthread_kill) */
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	pthread_t t;
	pthread_create(&t, NULL, producer, NULL);
	pthread_create(&t, NULL, consumer, NULL);
	pthread_create(&victim, NULL, victim_main, NULL);
	pthread_create(&t, NULL, kicker, NULL);
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2"))
		pthread_create(&t, NULL, avx_main, NULL);
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
	int done = 0;
	for (;;) {
		pause_ms(2);
		check_tls(0);
		while (reports_asked > done) {
			done++;
			char line[256];
			int n = snprintf(line, sizeof(line), "r %d %d %ld %ld %ld %llu %d\n", done, tls_errors == 0, kicks, kick_errors,
					 victim_hits, (unsigned long long)avx_iters, avx_fail);
			if (write(out, line, (size_t)n) != n)
				return 1;
		}
	}
}
