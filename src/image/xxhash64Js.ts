// XXH64 in plain JavaScript, with the same face as the WebAssembly engine in xxhash64.ts: for
// where that engine cannot run. V8 reserves about 10 GiB of address space for every WebAssembly
// memory (8 GiB plus guard pages, so that its code needs no bounds checks), which fails under
// `ulimit -v` of a few GiB ("WebAssembly.Instance(): Out of memory"). This engine needs nothing
// but a growable array. 64-bit arithmetic is done on pairs of 32-bit halves: page hashing ran
// at 0.06-0.08 GB/s here against 4-7 GB/s in WebAssembly, which is why it is only the fallback.

/** The functions the hash engines share: the WebAssembly module's exports, or these. */
export interface HashEngine {
  /** The engine's memory, at least `bytes` long. A later call may return a new view. */
  memory(bytes: number): Uint8Array;
  /** Start a hash: the four lanes to their initial values. */
  reset(): void;
  /** Consume the n / 32 whole stripes at p. */
  stripes(p: number, n: number): void;
  /** The hash of an input of `total` bytes whose whole stripes went through stripes(); the last n < 32 at p. */
  finish(p: number, n: number, total: bigint): bigint;
  /** finish(), low 32 bits, for inputs under 4 GiB, without a BigInt. */
  finishLow32(p: number, n: number, total: number): number;
  /** XXH64 of each of `count` blocks of `size` bytes at src, as little-endian u64s at dst. */
  hashBlocks(src: number, count: number, size: number, dst: number): void;
  /** The lanes, to save and restore one streaming hash's state. */
  lanes: bigint[];
}

// 64-bit values as [hi, lo] halves; P1..P5 are the algorithm's primes.
const P1H = 0x9e3779b1,
  P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d,
  P2L = 0x27d4eb4f;
const P3H = 0x165667b1,
  P3L = 0x9e3779f9;
const P4H = 0x85ebca77,
  P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f,
  P5L = 0x165667c5;

/** Results of the operations below (two registers, so that nothing is allocated per step). */
let rh = 0,
  rl = 0;

function mul(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff,
    a1 = al >>> 16,
    b0 = bl & 0xffff,
    b1 = bl >>> 16;
  const p00 = a0 * b0,
    p01 = a0 * b1,
    p10 = a1 * b0,
    p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  rl = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
  rh = (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16) + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

function add(ah: number, al: number, bh: number, bl: number): void {
  const s = al + bl;
  rl = s >>> 0;
  rh = (ah + bh + (s > 0xffffffff ? 1 : 0)) >>> 0;
}

/** Rotate left by r, 0 < r < 32. */
function rotl(h: number, l: number, r: number): void {
  rh = ((h << r) | (l >>> (32 - r))) >>> 0;
  rl = ((l << r) | (h >>> (32 - r))) >>> 0;
}

/** acc = rotl(acc + input * P2, 31) * P1; the result in rh, rl. */
function round(acch: number, accl: number, ih: number, il: number): void {
  mul(ih, il, P2H, P2L);
  add(acch, accl, rh, rl);
  rotl(rh, rl, 31);
  mul(rh, rl, P1H, P1L);
}

export class JsHashEngine implements HashEngine {
  private mem = new Uint8Array(1 << 16);
  private dv = new DataView(this.mem.buffer);
  // The lanes v1..v4, as halves.
  private v = new Uint32Array(8);

  memory(bytes: number): Uint8Array {
    if (this.mem.length < bytes) {
      let size = this.mem.length;
      while (size < bytes) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.mem);
      this.mem = next;
      this.dv = new DataView(next.buffer);
    }
    return this.mem;
  }

  get lanes(): bigint[] {
    const v = this.v;
    return [0, 2, 4, 6].map((k) => (BigInt(v[k]) << 32n) | BigInt(v[k + 1]));
  }

  set lanes(l: bigint[]) {
    l.forEach((x, k) => {
      this.v[2 * k] = Number(x >> 32n);
      this.v[2 * k + 1] = Number(x & 0xffffffffn);
    });
  }

  reset(): void {
    add(P1H, P1L, P2H, P2L);
    this.v.set([rh, rl, P2H, P2L, 0, 0]);
    // -P1 mod 2^64.
    add(~P1H >>> 0, ~P1L >>> 0, 0, 1);
    this.v[6] = rh;
    this.v[7] = rl;
  }

  stripes(p: number, n: number): void {
    const dv = this.dv,
      v = this.v;
    const end = p + (n & ~31);
    let h1 = v[0],
      l1 = v[1],
      h2 = v[2],
      l2 = v[3],
      h3 = v[4],
      l3 = v[5],
      h4 = v[6],
      l4 = v[7];
    for (; p < end; p += 32) {
      round(h1, l1, dv.getUint32(p + 4, true), dv.getUint32(p, true));
      ((h1 = rh), (l1 = rl));
      round(h2, l2, dv.getUint32(p + 12, true), dv.getUint32(p + 8, true));
      ((h2 = rh), (l2 = rl));
      round(h3, l3, dv.getUint32(p + 20, true), dv.getUint32(p + 16, true));
      ((h3 = rh), (l3 = rl));
      round(h4, l4, dv.getUint32(p + 28, true), dv.getUint32(p + 24, true));
      ((h4 = rh), (l4 = rl));
    }
    v.set([h1, l1, h2, l2, h3, l3, h4, l4]);
  }

  /** The final hash, into rh, rl. */
  private finishInto(p: number, n: number, totalH: number, totalL: number): void {
    const dv = this.dv,
      v = this.v;
    const end = p + n;
    let h: number, l: number;
    if (totalH > 0 || totalL >= 32) {
      rotl(v[0], v[1], 1);
      let sh = rh,
        sl = rl;
      rotl(v[2], v[3], 7);
      add(sh, sl, rh, rl);
      ((sh = rh), (sl = rl));
      rotl(v[4], v[5], 12);
      add(sh, sl, rh, rl);
      ((sh = rh), (sl = rl));
      rotl(v[6], v[7], 18);
      add(sh, sl, rh, rl);
      ((h = rh), (l = rl));
      for (let k = 0; k < 8; k += 2) {
        round(0, 0, v[k], v[k + 1]);
        mul((h ^ rh) >>> 0, (l ^ rl) >>> 0, P1H, P1L);
        add(rh, rl, P4H, P4L);
        ((h = rh), (l = rl));
      }
    } else {
      ((h = P5H), (l = P5L));
    }
    add(h, l, totalH, totalL);
    ((h = rh), (l = rl));
    for (; p + 8 <= end; p += 8) {
      round(0, 0, dv.getUint32(p + 4, true), dv.getUint32(p, true));
      rotl((h ^ rh) >>> 0, (l ^ rl) >>> 0, 27);
      mul(rh, rl, P1H, P1L);
      add(rh, rl, P4H, P4L);
      ((h = rh), (l = rl));
    }
    if (p + 4 <= end) {
      mul(0, dv.getUint32(p, true), P1H, P1L);
      rotl((h ^ rh) >>> 0, (l ^ rl) >>> 0, 23);
      mul(rh, rl, P2H, P2L);
      add(rh, rl, P3H, P3L);
      ((h = rh), (l = rl));
      p += 4;
    }
    for (; p < end; p++) {
      mul(0, this.mem[p], P5H, P5L);
      rotl((h ^ rh) >>> 0, (l ^ rl) >>> 0, 11);
      mul(rh, rl, P1H, P1L);
      ((h = rh), (l = rl));
    }
    // Avalanche.
    mul(h, (l ^ (h >>> 1)) >>> 0, P2H, P2L);
    ((h = rh), (l = rl));
    mul((h ^ (h >>> 29)) >>> 0, (l ^ ((l >>> 29) | (h << 3))) >>> 0, P3H, P3L);
    ((h = rh), (l = rl));
    rh = h;
    rl = (l ^ h) >>> 0;
  }

  finish(p: number, n: number, total: bigint): bigint {
    this.finishInto(p, n, Number(total >> 32n), Number(total & 0xffffffffn));
    return (BigInt(rh) << 32n) | BigInt(rl);
  }

  finishLow32(p: number, n: number, total: number): number {
    this.finishInto(p, n, Math.floor(total / 2 ** 32), total >>> 0);
    return rl;
  }

  hashBlocks(src: number, count: number, size: number, dst: number): void {
    const whole = size & ~31;
    for (let i = 0; i < count; i++) {
      const block = src + i * size;
      this.reset();
      this.stripes(block, size);
      this.finishInto(block + whole, size & 31, 0, size);
      this.dv.setUint32(dst + i * 8, rl, true);
      this.dv.setUint32(dst + i * 8 + 4, rh, true);
    }
  }
}
