/* XXH64 (seed 0 in this project), written from the public algorithm description. */
#ifndef CKPT_XXH64_H
#define CKPT_XXH64_H

#include <stddef.h>
#include <stdint.h>

uint64_t xxh64(const void *data, size_t len, uint64_t seed);

/* Streaming form, for hashes over data that arrives in pieces (the tail's headers_sum). */
struct xxh64_state {
	uint64_t v[4];
	uint64_t total;
	uint64_t seed;
	uint8_t buf[32];
	uint32_t buffered;
};

void xxh64_init(struct xxh64_state *s, uint64_t seed);
void xxh64_update(struct xxh64_state *s, const void *data, size_t len);
uint64_t xxh64_digest(const struct xxh64_state *s);

#endif
