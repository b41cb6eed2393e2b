/**
 * A 2-D transpose for tfjs-wasm in wasm SIMD, run on tfjs's own memory.
 *
 * tfjs-wasm's Transpose copies one value at a time down each output column, so every write lands
 * on another cache line: a [1500, 1500] attention map took 6-12 ms in a training step, and a step
 * through the encoder transposes 42 of them (P^T for dV, dS^T for dK) plus smaller ones. This
 * kernel moves 4 x 4 blocks with eight lane shuffles and visits them in 32 x 32 tiles, so the
 * destination rows a tile writes stay in cache: 2.4 ms for the same map (bench in BENCHMARKS.md).
 * It copies bits, so results are identical.
 *
 * The module is written in WebAssembly text and assembled at startup by wabt (a few ms); it
 * imports tfjs's memory, so it reads and writes tensors in place. Addresses are byte offsets.
 */
import wabtModule = require('wabt');

const wat = (memoryType: string) => String.raw`
(module
  (import "env" "memory" (memory ${memoryType}))
  ;; dst[j][i] = src[i][j] for a rows x cols matrix of 32-bit values.
  (func (export "transpose2d") (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32)
    (local $r4 i32) (local $c4 i32) (local $cs i32) (local $rs i32)
    (local $ib i32) (local $jb i32) (local $ie i32) (local $je i32)
    (local $i i32) (local $j i32) (local $p i32) (local $q i32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $r4 (i32.and (local.get $rows) (i32.const -4)))
    (local.set $c4 (i32.and (local.get $cols) (i32.const -4)))
    (local.set $cs (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $rs (i32.shl (local.get $rows) (i32.const 2)))
    ;; Whole 4 x 4 blocks, one 32 x 32 tile at a time.
    (local.set $ib (i32.const 0))
    (block $ib_done (loop $ib_loop
      (br_if $ib_done (i32.ge_u (local.get $ib) (local.get $r4)))
      (local.set $ie (i32.add (local.get $ib) (i32.const 32)))
      (if (i32.gt_u (local.get $ie) (local.get $r4)) (then (local.set $ie (local.get $r4))))
      (local.set $jb (i32.const 0))
      (block $jb_done (loop $jb_loop
        (br_if $jb_done (i32.ge_u (local.get $jb) (local.get $c4)))
        (local.set $je (i32.add (local.get $jb) (i32.const 32)))
        (if (i32.gt_u (local.get $je) (local.get $c4)) (then (local.set $je (local.get $c4))))
        (local.set $i (local.get $ib))
        (block $i_done (loop $i_loop
          (br_if $i_done (i32.ge_u (local.get $i) (local.get $ie)))
          (local.set $j (local.get $jb))
          (block $j_done (loop $j_loop
            (br_if $j_done (i32.ge_u (local.get $j) (local.get $je)))
            ;; rows i..i+3 of the block: a, b, c, d (4 values each)
            (local.set $p (i32.add (local.get $src)
              (i32.shl (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 2))))
            (local.set $a (v128.load (local.get $p)))
            (local.set $b (v128.load (i32.add (local.get $p) (local.get $cs))))
            (local.set $c (v128.load (i32.add (local.get $p) (i32.shl (local.get $cs) (i32.const 1)))))
            (local.set $d (v128.load (i32.add (local.get $p) (i32.mul (local.get $cs) (i32.const 3)))))
            ;; t0 = a0 b0 a1 b1, t1 = a2 b2 a3 b3, t2 = c0 d0 c1 d1, t3 = c2 d2 c3 d3
            (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
            (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
            (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c) (local.get $d)))
            (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c) (local.get $d)))
            ;; output rows j..j+3: a0 b0 c0 d0, a1 b1 c1 d1, a2 b2 c2 d2, a3 b3 c3 d3
            (local.set $q (i32.add (local.get $dst)
              (i32.shl (i32.add (i32.mul (local.get $j) (local.get $rows)) (local.get $i)) (i32.const 2))))
            (v128.store (local.get $q)
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
            (v128.store (i32.add (local.get $q) (local.get $rs))
              (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
            (v128.store (i32.add (local.get $q) (i32.shl (local.get $rs) (i32.const 1)))
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
            (v128.store (i32.add (local.get $q) (i32.mul (local.get $rs) (i32.const 3)))
              (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $j_loop)))
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br $i_loop)))
        (local.set $jb (i32.add (local.get $jb) (i32.const 32)))
        (br $jb_loop)))
      (local.set $ib (i32.add (local.get $ib) (i32.const 32)))
      (br $ib_loop)))
    ;; The edges one value at a time: columns c4.. of every row, then rows r4.. of columns ..c4.
    (call $copy (local.get $src) (local.get $dst) (local.get $rows) (local.get $cols)
      (i32.const 0) (local.get $rows) (local.get $c4) (local.get $cols))
    (call $copy (local.get $src) (local.get $dst) (local.get $rows) (local.get $cols)
      (local.get $r4) (local.get $rows) (i32.const 0) (local.get $c4)))

  ;; dst[j][i] = src[i][j] for i in [i0, i1), j in [j0, j1).
  (func $copy (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32)
              (param $i0 i32) (param $i1 i32) (param $j0 i32) (param $j1 i32)
    (local $i i32) (local $j i32)
    (local.set $i (local.get $i0))
    (block $i_done (loop $i_loop
      (br_if $i_done (i32.ge_u (local.get $i) (local.get $i1)))
      (local.set $j (local.get $j0))
      (block $j_done (loop $j_loop
        (br_if $j_done (i32.ge_u (local.get $j) (local.get $j1)))
        (i32.store
          (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $rows)) (local.get $i)) (i32.const 2)))
          (i32.load (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 2)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $j_loop)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $i_loop))))
)`;

export type Transpose2d = (src: number, dst: number, rows: number, cols: number) => void;

/**
 * Assembles the kernel against `memory` (tfjs-wasm's: shared in the threaded build, where an
 * import must declare itself shared with a maximum; 65536 pages is wasm32's 4 GiB).
 */
export async function loadTranspose2d(memory: WebAssembly.Memory): Promise<Transpose2d> {
  const wabt = await wabtModule();
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const module = wabt.parseWat('transpose.wat', wat(shared ? '1 65536 shared' : '1'), { simd: true, threads: shared });
  try {
    const { buffer } = module.toBinary({});
    const { instance } = await WebAssembly.instantiate(buffer, { env: { memory } });
    return instance.exports.transpose2d as Transpose2d;
  } finally {
    module.destroy();
  }
}
