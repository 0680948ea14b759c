/* XXH64 (seed 0 in this project): the reference implementation, Debian's libxxhash-dev, compiled
 * in (XXH_INLINE_ALL), so that ckpt still links libc only. These names are the project's. */
#ifndef CKPT_XXH64_H
#define CKPT_XXH64_H

#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static inline uint64_t xxh64(const void *data, size_t len, uint64_t seed)
{
	return XXH64(data, len, seed);
}

/* Streaming form, for hashes over data that arrives in pieces (the tail's headers_sum). */
struct xxh64_state {
	XXH64_state_t s;
};

static inline void xxh64_init(struct xxh64_state *s, uint64_t seed)
{
	XXH64_reset(&s->s, seed);
}

static inline void xxh64_update(struct xxh64_state *s, const void *data, size_t len)
{
	XXH64_update(&s->s, data, len);
}

static inline uint64_t xxh64_digest(const struct xxh64_state *s)
{
	return XXH64_digest(&s->s);
}

#endif
