/* XXH64 from the published algorithm: four 64-bit lanes over 32-byte stripes, then a merge,
 * the tail bytes and an avalanche. Little-endian reads; x86_64 only, like the rest of ckpt. */
#include "xxh64.h"

#include <string.h>

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t lane_round(uint64_t acc, uint64_t input)
{
	acc += input * P2;
	acc = rotl(acc, 31);
	return acc * P1;
}

static inline uint64_t merge_lane(uint64_t h, uint64_t v)
{
	h ^= lane_round(0, v);
	return h * P1 + P4;
}

static uint64_t finish(uint64_t h, const uint8_t *p, size_t len)
{
	while (len >= 8) {
		h ^= lane_round(0, rd64(p));
		h = rotl(h, 27) * P1 + P4;
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		h ^= (uint64_t)rd32(p) * P1;
		h = rotl(h, 23) * P2 + P3;
		p += 4;
		len -= 4;
	}
	while (len > 0) {
		h ^= (uint64_t)*p * P5;
		h = rotl(h, 11) * P1;
		p++;
		len--;
	}
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

static uint64_t converge(const uint64_t v[4])
{
	uint64_t h = rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18);
	for (int i = 0; i < 4; i++)
		h = merge_lane(h, v[i]);
	return h;
}

static void stripes(uint64_t v[4], const uint8_t *p, size_t nstripes)
{
	uint64_t a = v[0], b = v[1], c = v[2], d = v[3];
	for (size_t i = 0; i < nstripes; i++, p += 32) {
		a = lane_round(a, rd64(p));
		b = lane_round(b, rd64(p + 8));
		c = lane_round(c, rd64(p + 16));
		d = lane_round(d, rd64(p + 24));
	}
	v[0] = a, v[1] = b, v[2] = c, v[3] = d;
}

static void init_lanes(uint64_t v[4], uint64_t seed)
{
	v[0] = seed + P1 + P2;
	v[1] = seed + P2;
	v[2] = seed;
	v[3] = seed - P1;
}

uint64_t xxh64(const void *data, size_t len, uint64_t seed)
{
	const uint8_t *p = data;
	uint64_t h;
	if (len >= 32) {
		uint64_t v[4];
		init_lanes(v, seed);
		stripes(v, p, len / 32);
		h = converge(v);
	} else {
		h = seed + P5;
	}
	h += len;
	return finish(h, p + (len & ~(size_t)31), len & 31);
}

void xxh64_init(struct xxh64_state *s, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->seed = seed;
	init_lanes(s->v, seed);
}

void xxh64_update(struct xxh64_state *s, const void *data, size_t len)
{
	const uint8_t *p = data;
	s->total += len;
	if (s->buffered) {
		size_t take = 32 - s->buffered;
		if (take > len)
			take = len;
		memcpy(s->buf + s->buffered, p, take);
		s->buffered += (uint32_t)take;
		p += take;
		len -= take;
		if (s->buffered < 32)
			return;
		stripes(s->v, s->buf, 1);
		s->buffered = 0;
	}
	if (len >= 32) {
		stripes(s->v, p, len / 32);
		p += len & ~(size_t)31;
		len &= 31;
	}
	memcpy(s->buf, p, len);
	s->buffered = (uint32_t)len;
}

uint64_t xxh64_digest(const struct xxh64_state *s)
{
	uint64_t h = s->total >= 32 ? converge(s->v) : s->seed + P5;
	h += s->total;
	return finish(h, s->buf, s->buffered);
}
