/* Test target of dump --compress and restore --lazy (issue 12): MiB (argv[2], default 64) of
 * memory that looks like a program's heap, made from a seed: malloc'd records with pointers to
 * each other, counters, doubles, short strings from a vocabulary (names, URLs, JSON), arrays of
 * small ints, buffers that are mostly zeros, and one record in eight carrying 64 random bytes
 * (hashes, keys), which do not compress. Its first line is "s SUM COUNT" (an FNV-1a of every
 * block, and how many); each SIGUSR1 makes it walk all of its blocks again and append "v SUM",
 * so that a restored copy proves its memory is what was dumped. With SPARSE (argv[3]), one more
 * area of 2 * SPARSE pages, every other one written: SPARSE runs of pages of one page each
 * (restore --lazy's table of mmaps runs in batches; this fills several). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct record {
	struct record *next, *peer;
	uint64_t id;
	uint32_t kind, flags;
	double score;
	char name[32];
	char url[64];
	uint32_t counts[16];
};

static volatile sig_atomic_t asked;
static void **blocks;
static size_t *sizes, nblocks;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return rng;
}

static uint64_t fnv_all(void)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t b = 0; b < nblocks; b++) {
		const uint8_t *p = blocks[b];
		for (size_t i = 0; i < sizes[b]; i++)
			h = (h ^ p[i]) * 1099511628211ULL;
	}
	return h;
}

static void on_usr1(int sig)
{
	(void)sig;
	asked++;
}

static void add(void *p, size_t n)
{
	blocks[nblocks] = p;
	sizes[nblocks++] = n;
}

int main(int argc, char **argv)
{
	static const char *names[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"};
	static const char *paths[] = {"/api/v1/users", "/api/v1/orders", "/static/app.js", "/login", "/api/v2/search?q="};
	if (argc < 2)
		return 2;
	int out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0)
		return 1;
	size_t want = (size_t)(argc > 2 ? atol(argv[2]) : 64) << 20, have = 0;
	size_t sparse = argc > 3 ? (size_t)atol(argv[3]) : 0;
	size_t cap = want / 64 + 16 + sparse;
	blocks = malloc(cap * sizeof(void *));
	sizes = malloc(cap * sizeof(size_t));
	struct record *prev = NULL;
	uint64_t id = 1000;
	if (sparse) {
		uint8_t *area = mmap(NULL, sparse * 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (area == MAP_FAILED)
			return 1;
		for (size_t i = 0; i < sparse; i++) {
			uint64_t *page = (uint64_t *)(area + i * 2 * 4096);
			for (size_t k = 0; k < 4096 / 8; k++)
				page[k] = next_rand();
			add(page, 4096);
		}
	}
	while (have < want && nblocks + 4 < cap) {
		uint64_t r = next_rand();
		switch (r % 8) {
		case 0: { /* a small-int array */
			size_t n = 256 + r % 1024;
			uint32_t *a = malloc(n * 4);
			for (size_t i = 0; i < n; i++)
				a[i] = (uint32_t)(i * 3 + (next_rand() % 7));
			add(a, n * 4);
			have += n * 4;
			break;
		}
		case 1: { /* a buffer, mostly unused */
			size_t n = 4096 + r % 8192;
			char *b = calloc(1, n);
			snprintf(b, n, "{\"user\":\"%s\",\"id\":%llu,\"ok\":true}", names[r % 10], (unsigned long long)id);
			add(b, n);
			have += n;
			break;
		}
		default: { /* a record, linked to the ones before */
			struct record *x = calloc(1, sizeof(*x));
			x->next = prev;
			x->peer = prev && prev->next ? prev->next : prev;
			x->id = id++;
			x->kind = (uint32_t)(r >> 8) % 5;
			x->flags = 1u << (r >> 16) % 4;
			x->score = (double)(r >> 20 & 0xffff) / 100.0;
			snprintf(x->name, sizeof(x->name), "%s-%u", names[(r >> 24) % 10], (unsigned)(x->id % 97));
			snprintf(x->url, sizeof(x->url), "%s/%llu", paths[(r >> 32) % 5], (unsigned long long)x->id);
			for (int i = 0; i < 16; i++)
				x->counts[i] = (uint32_t)((r >> i) & 3);
			add(x, sizeof(*x));
			have += sizeof(*x);
			prev = x;
			if (r % 8 == 7) { /* a key or a hash */
				uint64_t *k = malloc(64);
				for (int i = 0; i < 8; i++)
					k[i] = next_rand();
				add(k, 64);
				have += 64;
			}
		}
		}
	}
	signal(SIGUSR1, on_usr1);
	dprintf(out, "s %016llx %zu\n", (unsigned long long)fnv_all(), nblocks);
	for (;;) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
		while (asked) {
			asked--;
			dprintf(out, "v %016llx\n", (unsigned long long)fnv_all());
		}
	}
}
