// Finding the pages whose 8-byte hashes differ, as a tiny WebAssembly loop. In a short-lived CLI
// process a JavaScript loop over a quarter of a million hashes runs mostly in V8's interpreter
// (~40 ms for two 1 GiB images), while WebAssembly is compiled before its first call and runs
// the same loop in well under a millisecond. The module is written out below, byte by byte,
// with what each byte means: there is no binary file and no build step. Where V8 cannot give
// the module its memory (it reserves ~10 GiB of address space for one, which a `ulimit -v`
// forbids), a JavaScript loop does the same.

/**
 * (func (export "diff") (param $a i32) (param $b i32) (param $n i32) (param $out i32) (result i32)
 *   ;; for i in 0..n: if i64 at a+8i != i64 at b+8i, store i at out+4k, k++; return k
 */
const BODY = [
  0x01,
  0x02,
  0x7f, // locals: 2 x i32 ($i = 4, $k = 5)
  0x02,
  0x40, // block
  0x03,
  0x40, //   loop
  0x20,
  0x04,
  0x20,
  0x02,
  0x4f,
  0x0d,
  0x01, //     br_if 1 (i >= n)
  0x20,
  0x00,
  0x20,
  0x04,
  0x41,
  0x03,
  0x74,
  0x6a,
  0x29,
  0x03,
  0x00, //     i64.load (a + (i << 3))
  0x20,
  0x01,
  0x20,
  0x04,
  0x41,
  0x03,
  0x74,
  0x6a,
  0x29,
  0x03,
  0x00, //     i64.load (b + (i << 3))
  0x52,
  0x04,
  0x40, //     i64.ne; if
  0x20,
  0x03,
  0x20,
  0x05,
  0x41,
  0x02,
  0x74,
  0x6a,
  0x20,
  0x04,
  0x36,
  0x02,
  0x00, //       i32.store (out + (k << 2)) i
  0x20,
  0x05,
  0x41,
  0x01,
  0x6a,
  0x21,
  0x05, //       k = k + 1
  0x0b, //     end
  0x20,
  0x04,
  0x41,
  0x01,
  0x6a,
  0x21,
  0x04, //     i = i + 1
  0x0c,
  0x00, //     br 0 (loop)
  0x0b, //   end
  0x0b, // end
  0x20,
  0x05, // k
  0x0b, // end of the body
];

/** A section: its id, its size (one LEB128 byte: every section here is under 128 bytes), its bytes. */
const section = (id: number, bytes: number[]) => [id, bytes.length, ...bytes];

const MODULE = Uint8Array.from([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // "\0asm", version 1
  ...section(1, [0x01, 0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7f]), // type 0: (i32 i32 i32 i32) -> i32
  ...section(3, [0x01, 0x00]), // function 0 has type 0
  ...section(5, [0x01, 0x00, 0x01]), // one memory, at least 1 page
  ...section(7, [0x02, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00, 0x04, 0x64, 0x69, 0x66, 0x66, 0x00, 0x00]), // exports "mem", "diff"
  ...section(10, [0x01, BODY.length, ...BODY]), // code: one body
]);

interface Exports {
  mem: WebAssembly.Memory;
  diff(a: number, b: number, n: number, out: number): number;
}

let wasm: Exports | 'unavailable' | undefined;
const WASM_PAGE = 65536;
/** Hashes compared per call, so that the module's memory stays small (20 bytes per hash). */
const BATCH = 65536;

/**
 * Calls `onDiff(i)`, in ascending order, for each i < n where the 8 bytes at (ia + i) * 8 of
 * `ha` differ from those at (ib + i) * 8 of `hb`.
 */
export function diffHashArrays(ha: Uint8Array, ia: number, hb: Uint8Array, ib: number, n: number, onDiff: (i: number) => void): void {
  if (wasm === undefined) {
    try {
      wasm = new WebAssembly.Instance(new WebAssembly.Module(MODULE)).exports as unknown as Exports;
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      wasm = 'unavailable';
    }
  }
  if (wasm === 'unavailable') {
    for (let i = 0; i < n; i++) {
      const a = (ia + i) * 8,
        b = (ib + i) * 8;
      for (let k = 0; k < 8; k++) {
        if (ha[a + k] !== hb[b + k]) {
          onDiff(i);
          break;
        }
      }
    }
    return;
  }
  const { mem, diff } = wasm;
  for (let done = 0; done < n; done += BATCH) {
    const m = Math.min(BATCH, n - done);
    const need = m * 20;
    if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / WASM_PAGE));
    const heap = new Uint8Array(mem.buffer);
    heap.set(ha.subarray((ia + done) * 8, (ia + done + m) * 8), 0);
    heap.set(hb.subarray((ib + done) * 8, (ib + done + m) * 8), m * 8);
    const k = diff(0, m * 8, m, m * 16);
    const out = new Uint32Array(mem.buffer, m * 16, k);
    for (let j = 0; j < k; j++) onDiff(done + out[j]);
  }
}
