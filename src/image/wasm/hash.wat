;; XXH64 (seed 0), the format's checksum, written from the public algorithm description, and the
;; loop that finds where two arrays of page hashes differ. WebAssembly because JavaScript has no
;; fast 64-bit integers (BigInt allocates; 32-bit halves reach < 0.1 GB/s, see xxhash64Js.ts).
;; Assembled by scripts/build-wasm.js (wabt) into build/wasm/hash.js at build time; loaded by
;; hashModule.ts. `npm run bench -- --cases hashing` times it against the xxhash-wasm package.
;;
;; Callers copy their input into `mem` and pass offsets. The four accumulators live in globals,
;; so that one hash can be fed in pieces (xxhash64.ts saves and restores them per stream).

(module
  (memory (export "mem") 1)

  (global $v1 (export "v1") (mut i64) (i64.const 0))
  (global $v2 (export "v2") (mut i64) (i64.const 0))
  (global $v3 (export "v3") (mut i64) (i64.const 0))
  (global $v4 (export "v4") (mut i64) (i64.const 0))

  ;; The algorithm's primes.
  (global $P1 i64 (i64.const 0x9e3779b185ebca87))
  (global $P2 i64 (i64.const 0xc2b2ae3d27d4eb4f))
  (global $P3 i64 (i64.const 0x165667b19e3779f9))
  (global $P4 i64 (i64.const 0x85ebca77c2b2ae63))
  (global $P5 i64 (i64.const 0x27d4eb2f165667c5))

  ;; rotl(acc + input * P2, 31) * P1
  (func $round (param $acc i64) (param $input i64) (result i64)
    (i64.mul
      (i64.rotl (i64.add (local.get $acc) (i64.mul (local.get $input) (global.get $P2))) (i64.const 31))
      (global.get $P1)))

  ;; (h ^ round(0, v)) * P1 + P4: folds one accumulator into the hash
  (func $merge (param $h i64) (param $v i64) (result i64)
    (i64.add
      (i64.mul (i64.xor (local.get $h) (call $round (i64.const 0) (local.get $v))) (global.get $P1))
      (global.get $P4)))

  ;; Start a hash: v1 = P1 + P2, v2 = P2, v3 = 0, v4 = -P1.
  (func $reset (export "reset")
    (global.set $v1 (i64.add (global.get $P1) (global.get $P2)))
    (global.set $v2 (global.get $P2))
    (global.set $v3 (i64.const 0))
    (global.set $v4 (i64.sub (i64.const 0) (global.get $P1))))

  ;; Consume the n / 32 whole 32-byte stripes at p. The hot loop: its rounds are written out in
  ;; locals rather than calls to $round, which Liftoff (V8's first-tier compiler) does not inline.
  (func $stripes (export "stripes") (param $p i32) (param $n i32)
    (local $end i32) (local $a1 i64) (local $a2 i64) (local $a3 i64) (local $a4 i64)
    (local.set $end (i32.add (local.get $p) (i32.and (local.get $n) (i32.const -32))))
    (if (i32.ge_u (local.get $p) (local.get $end)) (then (return)))
    (local.set $a1 (global.get $v1))
    (local.set $a2 (global.get $v2))
    (local.set $a3 (global.get $v3))
    (local.set $a4 (global.get $v4))
    (loop $stripe
      (local.set $a1 (i64.mul (i64.rotl (i64.add (local.get $a1)
        (i64.mul (i64.load offset=0 (local.get $p)) (i64.const 0xc2b2ae3d27d4eb4f))) (i64.const 31)) (i64.const 0x9e3779b185ebca87)))
      (local.set $a2 (i64.mul (i64.rotl (i64.add (local.get $a2)
        (i64.mul (i64.load offset=8 (local.get $p)) (i64.const 0xc2b2ae3d27d4eb4f))) (i64.const 31)) (i64.const 0x9e3779b185ebca87)))
      (local.set $a3 (i64.mul (i64.rotl (i64.add (local.get $a3)
        (i64.mul (i64.load offset=16 (local.get $p)) (i64.const 0xc2b2ae3d27d4eb4f))) (i64.const 31)) (i64.const 0x9e3779b185ebca87)))
      (local.set $a4 (i64.mul (i64.rotl (i64.add (local.get $a4)
        (i64.mul (i64.load offset=24 (local.get $p)) (i64.const 0xc2b2ae3d27d4eb4f))) (i64.const 31)) (i64.const 0x9e3779b185ebca87)))
      (br_if $stripe (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 32))) (local.get $end))))
    (global.set $v1 (local.get $a1))
    (global.set $v2 (local.get $a2))
    (global.set $v3 (local.get $a3))
    (global.set $v4 (local.get $a4)))

  ;; The hash of an input of `total` bytes whose whole stripes went through $stripes: the last
  ;; n (< 32) bytes are at p.
  (func $finish (export "finish") (param $p i32) (param $n i32) (param $total i64) (result i64)
    (local $h i64) (local $end i32)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (if (i64.ge_u (local.get $total) (i64.const 32))
      (then
        (local.set $h (i64.add (i64.add (i64.add
          (i64.rotl (global.get $v1) (i64.const 1))
          (i64.rotl (global.get $v2) (i64.const 7)))
          (i64.rotl (global.get $v3) (i64.const 12)))
          (i64.rotl (global.get $v4) (i64.const 18))))
        (local.set $h (call $merge (local.get $h) (global.get $v1)))
        (local.set $h (call $merge (local.get $h) (global.get $v2)))
        (local.set $h (call $merge (local.get $h) (global.get $v3)))
        (local.set $h (call $merge (local.get $h) (global.get $v4))))
      (else (local.set $h (global.get $P5))))
    (local.set $h (i64.add (local.get $h) (local.get $total)))
    ;; 8-byte words
    (block $done
      (loop $word
        (br_if $done (i32.gt_u (i32.add (local.get $p) (i32.const 8)) (local.get $end)))
        (local.set $h (i64.xor (local.get $h) (call $round (i64.const 0) (i64.load (local.get $p)))))
        (local.set $h (i64.add (i64.mul (i64.rotl (local.get $h) (i64.const 27)) (global.get $P1)) (global.get $P4)))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $word)))
    ;; one 4-byte word
    (if (i32.le_u (i32.add (local.get $p) (i32.const 4)) (local.get $end))
      (then
        (local.set $h (i64.xor (local.get $h) (i64.mul (i64.load32_u (local.get $p)) (global.get $P1))))
        (local.set $h (i64.add (i64.mul (i64.rotl (local.get $h) (i64.const 23)) (global.get $P2)) (global.get $P3)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))))
    ;; single bytes
    (block $done
      (loop $byte
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $h (i64.xor (local.get $h) (i64.mul (i64.load8_u (local.get $p)) (global.get $P5))))
        (local.set $h (i64.mul (i64.rotl (local.get $h) (i64.const 11)) (global.get $P1)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $byte)))
    ;; avalanche
    (local.set $h (i64.mul (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 33))) (global.get $P2)))
    (local.set $h (i64.mul (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 29))) (global.get $P3)))
    (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 32))))

  ;; The low 32 bits of $finish, for the record headers' and payloads' checksums, which are low
  ;; halves: no BigInt crosses into JavaScript.
  (func (export "finish32") (param $p i32) (param $n i32) (param $total i32) (result i32)
    (i32.wrap_i64 (call $finish (local.get $p) (local.get $n) (i64.extend_i32_u (local.get $total)))))

  ;; Page hashes: the XXH64 of each of `count` blocks of `size` bytes at src, as little-endian
  ;; u64s at dst.
  (func (export "hashBlocks") (param $src i32) (param $count i32) (param $size i32) (param $dst i32)
    (local $i i32) (local $block i32) (local $whole i32)
    (local.set $whole (i32.and (local.get $size) (i32.const -32)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $block (i32.add (local.get $src) (i32.mul (local.get $i) (local.get $size))))
        (call $reset)
        (call $stripes (local.get $block) (local.get $size))
        (i64.store
          (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 3)))
          (call $finish
            (i32.add (local.get $block) (local.get $whole))
            (i32.and (local.get $size) (i32.const 31))
            (i64.extend_i32_u (local.get $size))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  ;; Where two arrays of n page hashes differ: for each i < n where the u64 at a + 8i differs
  ;; from the one at b + 8i, store i as a u32 at out + 4k and count k; returns k.
  (func (export "diffHashes") (param $a i32) (param $b i32) (param $n i32) (param $out i32) (result i32)
    (local $i i32) (local $k i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i64.ne
              (i64.load (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 3))))
              (i64.load (i32.add (local.get $b) (i32.shl (local.get $i) (i32.const 3)))))
          (then
            (i32.store (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2))) (local.get $i))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $k))
)
