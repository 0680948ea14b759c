/* libFuzzer entry for the C image reader: every input is an image that `ckpt restore --dry-run`
 * would read, through the same code (image_open, image_load, the page hash check). It must
 * never crash, hang, leak or trip a sanitizer, whatever the bytes; refusing them is fine.
 *
 * Each input is read twice: as it is, and resealed (every header_sum, payload_sum, page hash and
 * the tail recomputed over the mutated bytes), so that the fuzzer's mutations reach past the
 * integrity checks into the grammar, the payload rules and the model.
 * Built by `make -C src/native fuzz` (clang, -fsanitize=fuzzer,address,undefined). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ckpt.h"

#define HDR CKPT_RECORD_HEADER_FIXED_SIZE

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* Walks the records by their lengths and makes every checksum right again. */
static void reseal(uint8_t *b, size_t size)
{
	size_t offs[4096], n = 0;
	for (size_t off = 0; off + HDR <= size && n < 4096;) {
		uint32_t len = get32(b + off + 8);
		if (len > size - off - HDR)
			break;
		offs[n++] = off;
		if (get32(b + off) == CKPT_RECORD_TYPE_TAIL)
			break;
		off += HDR + ((len + CKPT_RECORD_ALIGN - 1ULL) & ~(CKPT_RECORD_ALIGN - 1ULL));
	}
	uint32_t page = 4096;
	if (n && size >= HDR + 20)
		page = get32(b + HDR + 16);
	/* page hashes: each pages record's bytes into its parent pagemap (found by tag) */
	for (size_t i = 0; i < n; i++) {
		uint8_t *h = b + offs[i];
		if (get32(h) != CKPT_RECORD_TYPE_PAGES || page < 4096 || page > (1u << 20) || (page & (page - 1)))
			continue;
		for (size_t j = 0; j < i; j++) {
			uint8_t *pm = b + offs[j];
			if (get32(pm) != CKPT_RECORD_TYPE_PAGEMAP || get32(pm + 12) != get32(h + 16) || get32(pm + 8) < 8)
				continue;
			uint32_t nruns = get32(pm + HDR), npages = get32(pm + HDR + 4), plen = get32(h + 8);
			uint64_t hashes = HDR + 8 + (uint64_t)nruns * 16;
			for (uint64_t k = 0; k < npages && (k + 1) * page <= plen && hashes + (k + 1) * 8 <= HDR + (uint64_t)get32(pm + 8); k++) {
				uint64_t x = xxh64(h + HDR + k * page, page, 0);
				memcpy(pm + hashes + k * 8, &x, 8);
			}
		}
	}
	struct xxh64_state hs;
	xxh64_init(&hs, 0);
	for (size_t i = 0; i < n; i++) {
		uint8_t *h = b + offs[i];
		uint32_t type = get32(h), len = get32(h + 8);
		if (type == CKPT_RECORD_TYPE_TAIL && len >= sizeof(struct ckpt_tail)) {
			put32(h + HDR + 8, (uint32_t)i);
			uint64_t sum = xxh64_digest(&hs);
			memcpy(h + HDR + 16, &sum, 8);
		}
		if (type != CKPT_RECORD_TYPE_PAGES)
			put32(h + 20, (uint32_t)xxh64(h + HDR, len, 0));
		put32(h + 28, (uint32_t)xxh64(h, 28, 0));
		xxh64_update(&hs, h, HDR);
	}
}

static void read_image(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz.ckpt", MFD_CLOEXEC);
	if (fd < 0 || write_all(fd, data, size) < 0) {
		perror("memfd");
		__builtin_trap();
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct image im;
	struct tree li = {0};
	if (image_open(&im, path) == 0 && image_load(&im, &li) == 0)
		for (size_t i = 0; i < li.nprocs; i++)
			if (pages_check_in_file(&im, li.procs[i]) < 0)
				break;
	tree_free(&li);
	image_close(&im);
	close(fd);
	fail_reset();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	read_image(data, size);
	uint8_t *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	reseal(copy, size);
	read_image(copy, size);
	free(copy);
	return 0;
}
