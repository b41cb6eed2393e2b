/**
 * Kernels for tfjs-wasm written in wasm SIMD, run on tfjs's own memory.
 *
 * - transpose2d. tfjs-wasm's Transpose copies one value at a time down each output column, so
 *   every write lands on another cache line, and a training step through the encoder transposes
 *   42 [1500, 1500] attention maps (P^T for dV, dS^T for dK) plus smaller ones. Here 4 x 4 blocks
 *   move by eight lane shuffles, visited in 32 x 32 tiles so the destination rows a tile writes
 *   stay in cache. It copies bits.
 * - softmaxGrad, P * (dP - r) with r one value per row: the softmax backward of attention in one
 *   pass over the [1500, 1500] maps instead of two (a Sub, then a Mul). Same float operations in
 *   the same order, so the same bits.
 * - gelu, x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) in one pass instead of tfjs's Erf (one value at
 *   a time, in one thread: a fifth of the encoder's time) and four other operations; in training
 *   also the derivative Phi(x) + x phi(x), kept for the backward pass. erf is Abramowitz & Stegun
 *   7.1.26 (absolute error <= 1.5e-7), the formula of PyTorch's vectorized CPU erf (Debian's
 *   torch 1.13 GELU and this one agree within 4.8e-7); phi uses exp(-x^2 / 2) by Cephes' expf polynomial (about 1 ulp), with x
 *   clipped to [-9, 9] as in ../ops.ts gelu.
 * - layerNorm and layerNormGrad: LayerNorm and its input gradient in one pass over each row
 *   instead of 9 and 8 tfjs operations, with the sums in the order of tfjs-wasm's Mean kernel: the
 *   same bits as the tfjs operations, in inference and training.
 * - attend: a generation step's attention (a few queries per batch row) for every head in one
 *   call, on keys/values that may have room for more positions (a decoder cache grown in place):
 *   q k, softmax and times v, instead of the eight tfjs operations of a block-diagonal product.
 *   Sums run in order over each head's dimensions; exp is Cephes' polynomial (about 1 ulp), so
 *   results differ from tfjs's in the last bits only. The sums run in registers (16 positions
 *   or 32 dims per pass, each score and output stored once); what a step then costs is reading
 *   the keys and values (1500 audio positions per layer).
 * - linearRows: x W^T + b for the few rows of a generation step, straight from the stored [out,
 *   in] weight, optionally scaled and added to a residual, in one thread (see the function).
 *
 * The module is written in WebAssembly text and assembled at startup by wabt (a few ms); it
 * imports tfjs's memory, so it reads and writes tensors in place. Addresses are byte offsets.
 */
/**
 * WAT for a loop of `index` = 0, 4, 8, ... below `end` (end >= 4) around `body`, whose last step
 * starts at end - 4: it may redo up to 3 values, with the same result, since every value a kernel
 * here writes depends only on inputs at its own place (and on per-row values).
 */
function steps4(index: string, end: string, body: string): string {
  return `(local.set ${index} (i32.const 0))
    (loop
      (if (i32.gt_u (local.get ${index}) (i32.sub ${end} (i32.const 4)))
        (then (local.set ${index} (i32.sub ${end} (i32.const 4)))))${body}
      (local.set ${index} (i32.add (local.get ${index}) (i32.const 4)))
      (br_if 0 (i32.lt_u (local.get ${index}) ${end})))`;
}

/**
 * WAT for a loop that runs `body` and then adds `step` to `index` as long as index + step <= end
 * (index starts where it is, and after the loop is the first value that did not fit).
 */
function whileFits(index: string, step: number, end: string, body: string): string {
  return `(block (loop
          (br_if 1 (i32.gt_u (i32.add (local.get ${index}) (i32.const ${step})) ${end}))
          ${body}
          (local.set ${index} (i32.add (local.get ${index}) (i32.const ${step})))
          (br 0)))`;
}

/** The eight vector accumulators of attend. */
const regs = ['$a0', '$a1', '$a2', '$a3', '$a4', '$a5', '$a6', '$a7'];

/**
 * WAT for attend's inner loops: `body` once per row, `index` counting from 0 below `end`, with
 * $row starting at address `start` and moving $stride bytes per row, and $p the float at `splat`
 * in every lane.
 */
const walk = (index: string, end: string, start: string, splat: string) => (body: string) => `(local.set ${index} (i32.const 0))
          (local.set $row ${start})
          (block $w_done (loop $w_loop
            (br_if $w_done (i32.ge_u (local.get ${index}) (local.get ${end})))
            (local.set $p (v128.load32_splat ${splat}))
            ${body}
            (local.set $row (i32.add (local.get $row) (local.get $stride)))
            (local.set ${index} (i32.add (local.get ${index}) (i32.const 1)))
            (br $w_loop)))`;

/** attend's q k sums at positions s..: a row per dim j of the head, $p = q[j], $row at kT[j, s]. */
const keyRows = walk('$j', '$dh',
  '(i32.add (local.get $kT) (i32.shl (i32.add (i32.mul (i32.mul (local.get $h) (local.get $dh)) (local.get $cap)) (local.get $s)) (i32.const 2)))',
  '(i32.add (local.get $qrow) (i32.shl (local.get $j) (i32.const 2)))');

/** attend's p v sums at dims j..: a row per position s < n, $p = p[s], $row at v[s, head + j]. */
const valueRows = walk('$s', '$n',
  '(i32.add (local.get $v) (i32.shl (i32.add (i32.mul (local.get $h) (local.get $dh)) (local.get $j)) (i32.const 2)))',
  '(i32.add (local.get $srow) (i32.shl (local.get $s) (i32.const 2)))');

/**
 * WAT for attend's sums in registers: each accumulator (one per 4 values) starts at 0, gets
 * $p times the 4 values at $row (16 bytes apart per accumulator) for every row that `rows` walks,
 * and is stored at address `at` (16 bytes apart).
 */
function sums(accs: string[], rows: (body: string) => string, at: string): string {
  return `${accs.map((r) => `(local.set ${r} (v128.const f32x4 0 0 0 0))`).join(' ')}
          ${rows(accs.map((r, k) => `(local.set ${r} (f32x4.add (local.get ${r}) (f32x4.mul (local.get $p) (v128.load offset=${16 * k} (local.get $row)))))`).join('\n            '))}
          ${accs.map((r, k) => `(v128.store offset=${16 * k} ${at} (local.get ${r}))`).join('\n          ')}`;
}

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

  ;; The elementwise kernels below step 4 values at a time (steps4), so they need n >= 4 (see
  ;; kernels.ts fused).

  ;; out = p * (dp - r[i]) on row i of rows x cols matrices (cols >= 4); r has one value per row.
  (func (export "softmaxGrad") (param $p i32) (param $dp i32) (param $r i32) (param $out i32) (param $rows i32) (param $cols i32)
    (local $i i32) (local $j i32) (local $o i32) (local $rv v128)
    (local.set $i (i32.const 0))
    (block $i_done (loop $i_loop
      (br_if $i_done (i32.ge_u (local.get $i) (local.get $rows)))
      (local.set $rv (v128.load32_splat (i32.add (local.get $r) (i32.shl (local.get $i) (i32.const 2)))))
      ${steps4('$j', '(local.get $cols)', `
        (local.set $o (i32.shl (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 2)))
        (v128.store (i32.add (local.get $out) (local.get $o))
          (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $o)))
                     (f32x4.sub (v128.load (i32.add (local.get $dp) (local.get $o))) (local.get $rv))))`)}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $i_loop))))

  ;; LayerNorm of rows of d >= 4 values: out = (x - mean) r w + b with r = 1 / sqrt(var + eps),
  ;; also writing n = (x - mean) r and r for the backward pass. The sums run in order, one value at
  ;; a time, as tfjs-wasm's Mean kernel does, and every other step is the same float operation as
  ;; ../ops.ts layerNorm's plain formula: the same bits.
  (func (export "layerNorm") (param $x i32) (param $w i32) (param $b i32) (param $eps f32)
                             (param $out i32) (param $nOut i32) (param $rOut i32) (param $rows i32) (param $d i32)
    (local $i i32) (local $j i32) (local $row i32) (local $o i32) (local $df f32) (local $sum f32) (local $c f32)
    (local $mean v128) (local $r v128) (local $nv v128)
    (local.set $df (f32.convert_i32_u (local.get $d)))
    (local.set $i (i32.const 0))
    (block $i_done (loop $i_loop
      (br_if $i_done (i32.ge_u (local.get $i) (local.get $rows)))
      (local.set $row (i32.add (local.get $x) (i32.shl (i32.mul (local.get $i) (local.get $d)) (i32.const 2))))
      (local.set $sum (f32.const 0))
      (local.set $j (i32.const 0))
      (loop $sum_loop
        (local.set $sum (f32.add (local.get $sum) (f32.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $sum_loop (i32.lt_u (local.get $j) (local.get $d))))
      (local.set $mean (f32x4.splat (f32.div (local.get $sum) (local.get $df))))
      (local.set $sum (f32.const 0))
      (local.set $j (i32.const 0))
      (loop $var_loop
        (local.set $c (f32.sub (f32.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                               (f32x4.extract_lane 0 (local.get $mean))))
        (local.set $sum (f32.add (local.get $sum) (f32.mul (local.get $c) (local.get $c))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $var_loop (i32.lt_u (local.get $j) (local.get $d))))
      (local.set $r (f32x4.splat (f32.div (f32.const 1)
        (f32.sqrt (f32.add (f32.div (local.get $sum) (local.get $df)) (local.get $eps))))))
      (f32.store (i32.add (local.get $rOut) (i32.shl (local.get $i) (i32.const 2))) (f32x4.extract_lane 0 (local.get $r)))
      ${steps4('$j', '(local.get $d)', `
        (local.set $o (i32.shl (i32.add (i32.mul (local.get $i) (local.get $d)) (local.get $j)) (i32.const 2)))
        (local.set $nv (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $o))) (local.get $mean)) (local.get $r)))
        (v128.store (i32.add (local.get $nOut) (local.get $o)) (local.get $nv))
        (v128.store (i32.add (local.get $out) (local.get $o))
          (f32x4.add (f32x4.mul (local.get $nv) (v128.load (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 2)))))
                     (v128.load (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))))`)}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $i_loop))))

  ;; LayerNorm's input gradient from dy, w, n and r (as layerNorm wrote them): with g = dy w,
  ;; dx = ((g - mean(g)) - n mean(g n)) r, sums in order: the same bits as ../ops.ts's plain formula.
  (func (export "layerNormGrad") (param $dy i32) (param $w i32) (param $n i32) (param $r i32)
                                 (param $out i32) (param $rows i32) (param $d i32)
    (local $i i32) (local $j i32) (local $o i32) (local $df f32) (local $s1 f32) (local $s2 f32) (local $g f32)
    (local $m1 v128) (local $m2 v128) (local $rv v128) (local $gv v128)
    (local.set $df (f32.convert_i32_u (local.get $d)))
    (local.set $i (i32.const 0))
    (block $i_done (loop $i_loop
      (br_if $i_done (i32.ge_u (local.get $i) (local.get $rows)))
      (local.set $s1 (f32.const 0))
      (local.set $s2 (f32.const 0))
      (local.set $j (i32.const 0))
      (loop $sum_loop
        (local.set $o (i32.shl (i32.add (i32.mul (local.get $i) (local.get $d)) (local.get $j)) (i32.const 2)))
        (local.set $g (f32.mul (f32.load (i32.add (local.get $dy) (local.get $o)))
                               (f32.load (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 2))))))
        (local.set $s1 (f32.add (local.get $s1) (local.get $g)))
        (local.set $s2 (f32.add (local.get $s2) (f32.mul (local.get $g) (f32.load (i32.add (local.get $n) (local.get $o))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $sum_loop (i32.lt_u (local.get $j) (local.get $d))))
      (local.set $m1 (f32x4.splat (f32.div (local.get $s1) (local.get $df))))
      (local.set $m2 (f32x4.splat (f32.div (local.get $s2) (local.get $df))))
      (local.set $rv (v128.load32_splat (i32.add (local.get $r) (i32.shl (local.get $i) (i32.const 2)))))
      ${steps4('$j', '(local.get $d)', `
        (local.set $o (i32.shl (i32.add (i32.mul (local.get $i) (local.get $d)) (local.get $j)) (i32.const 2)))
        (local.set $gv (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $o)))
                                  (v128.load (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 2))))))
        (v128.store (i32.add (local.get $out) (local.get $o))
          (f32x4.mul (f32x4.sub (f32x4.sub (local.get $gv) (local.get $m1))
                                (f32x4.mul (v128.load (i32.add (local.get $n) (local.get $o))) (local.get $m2)))
                     (local.get $rv)))`)}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $i_loop))))

  ;; x phi(x) = x exp(-xc^2 / 2) / sqrt(2 pi), xc = x clipped to [-9, 9] (exp of z in [-40.5, 0]).
  (func $xPhi (param $x v128) (result v128)
    (local $xc v128)
    (local.set $xc (f32x4.min (f32x4.max (local.get $x) (v128.const f32x4 -9 -9 -9 -9)) (v128.const f32x4 9 9 9 9)))
    (f32x4.mul (f32x4.mul (local.get $x)
      (call $exp4 (f32x4.mul (f32x4.mul (local.get $xc) (local.get $xc)) (v128.const f32x4 -0.5 -0.5 -0.5 -0.5))))
      (v128.const f32x4 0.398942280 0.398942280 0.398942280 0.398942280)))

  ;; erf(z) = sign(z) (1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) exp(-z^2)), t = 1 / (1 + p |z|):
  ;; Abramowitz & Stegun 7.1.26, with the coefficients of PyTorch's vectorized erf.
  (func $erf4 (param $z v128) (result v128)
    (local $a v128) (local $t v128) (local $r v128)
    (local.set $a (f32x4.abs (local.get $z)))
    (local.set $t (f32x4.div (v128.const f32x4 1 1 1 1)
      (f32x4.add (f32x4.mul (local.get $a) (v128.const f32x4 0.3275911 0.3275911 0.3275911 0.3275911)) (v128.const f32x4 1 1 1 1))))
    (local.set $r (f32x4.add (f32x4.mul (v128.const f32x4 1.061405429 1.061405429 1.061405429 1.061405429) (local.get $t))
                             (v128.const f32x4 -1.453152027 -1.453152027 -1.453152027 -1.453152027)))
    (local.set $r (f32x4.add (f32x4.mul (local.get $r) (local.get $t)) (v128.const f32x4 1.421413741 1.421413741 1.421413741 1.421413741)))
    (local.set $r (f32x4.add (f32x4.mul (local.get $r) (local.get $t)) (v128.const f32x4 -0.284496736 -0.284496736 -0.284496736 -0.284496736)))
    (local.set $r (f32x4.add (f32x4.mul (local.get $r) (local.get $t)) (v128.const f32x4 0.254829592 0.254829592 0.254829592 0.254829592)))
    (v128.or (v128.and (local.get $z) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))
      (f32x4.sub (v128.const f32x4 1 1 1 1)
        (f32x4.mul (f32x4.mul (local.get $r) (local.get $t))
                   (call $exp4 (f32x4.neg (f32x4.mul (local.get $a) (local.get $a))))))))

  ;; GELU of n >= 4 values: value = x * 0.5 * (erf(x / sqrt 2) + 1), and when deriv is not 0
  ;; also the derivative 0.5 (erf(x / sqrt 2) + 1) + x phi(x).
  (func (export "gelu") (param $x i32) (param $value i32) (param $deriv i32) (param $n i32)
    (local $k i32) (local $o i32) (local $xv v128) (local $c2 v128)
    ${steps4('$k', '(local.get $n)', `
      (local.set $o (i32.shl (local.get $k) (i32.const 2)))
      (local.set $xv (v128.load (i32.add (local.get $x) (local.get $o))))
      (local.set $c2 (f32x4.add (call $erf4 (f32x4.mul (local.get $xv) (v128.const f32x4 0.70710678 0.70710678 0.70710678 0.70710678)))
                                (v128.const f32x4 1 1 1 1)))
      (v128.store (i32.add (local.get $value) (local.get $o))
        (f32x4.mul (f32x4.mul (local.get $xv) (v128.const f32x4 0.5 0.5 0.5 0.5)) (local.get $c2)))
      (if (local.get $deriv) (then
        (v128.store (i32.add (local.get $deriv) (local.get $o))
          (f32x4.add (f32x4.mul (local.get $c2) (v128.const f32x4 0.5 0.5 0.5 0.5)) (call $xPhi (local.get $xv))))))`)})

  ;; out[r][o] = ((x[r] . w[o]) + b[o]) * scale + res[r][o] for rows x rows of n values and w
  ;; [m, n] (a Linear's weight as stored, out x in), n a multiple of 4; b and res optional (0 =
  ;; absent). Each dot product runs in four lanes over 16 values at a time (then 4 at a time),
  ;; the lanes added pairwise at the end. One thread, no thread pool: for the few rows of a
  ;; generation step, where XNNPACK's threads cost more than they save.
  (func (export "linearRows") (param $x i32) (param $w i32) (param $b i32) (param $res i32) (param $out i32)
                              (param $rows i32) (param $n i32) (param $m i32) (param $scale f32)
    (local $o i32) (local $r i32) (local $k i32) (local $n16 i32) (local $wrow i32) (local $xrow i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $y f32) (local $at i32)
    (local.set $n16 (i32.and (local.get $n) (i32.const -16)))
    (local.set $o (i32.const 0))
    (block $o_done (loop $o_loop
      (br_if $o_done (i32.ge_u (local.get $o) (local.get $m)))
      (local.set $wrow (i32.add (local.get $w) (i32.shl (i32.mul (local.get $o) (local.get $n)) (i32.const 2))))
      (local.set $r (i32.const 0))
      (block $r_done (loop $r_loop
        (br_if $r_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $xrow (i32.add (local.get $x) (i32.shl (i32.mul (local.get $r) (local.get $n)) (i32.const 2))))
        (local.set $a0 (v128.const f32x4 0 0 0 0))
        (local.set $a1 (v128.const f32x4 0 0 0 0))
        (local.set $a2 (v128.const f32x4 0 0 0 0))
        (local.set $a3 (v128.const f32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $k_done (loop $k_loop
          (br_if $k_done (i32.ge_u (local.get $k) (local.get $n16)))
          (local.set $at (i32.shl (local.get $k) (i32.const 2)))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (i32.add (local.get $xrow) (local.get $at))) (v128.load (i32.add (local.get $wrow) (local.get $at))))))
          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=16 (i32.add (local.get $xrow) (local.get $at))) (v128.load offset=16 (i32.add (local.get $wrow) (local.get $at))))))
          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load offset=32 (i32.add (local.get $xrow) (local.get $at))) (v128.load offset=32 (i32.add (local.get $wrow) (local.get $at))))))
          (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load offset=48 (i32.add (local.get $xrow) (local.get $at))) (v128.load offset=48 (i32.add (local.get $wrow) (local.get $at))))))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br $k_loop)))
        (block $k4_done (loop $k4_loop
          (br_if $k4_done (i32.ge_u (local.get $k) (local.get $n)))
          (local.set $at (i32.shl (local.get $k) (i32.const 2)))
          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (i32.add (local.get $xrow) (local.get $at))) (v128.load (i32.add (local.get $wrow) (local.get $at))))))
          (local.set $k (i32.add (local.get $k) (i32.const 4)))
          (br $k4_loop)))
        (local.set $a0 (f32x4.add (f32x4.add (local.get $a0) (local.get $a1)) (f32x4.add (local.get $a2) (local.get $a3))))
        (local.set $y (f32.add (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
                               (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
        (if (local.get $b) (then
          (local.set $y (f32.add (local.get $y) (f32.load (i32.add (local.get $b) (i32.shl (local.get $o) (i32.const 2))))))))
        (local.set $y (f32.mul (local.get $y) (local.get $scale)))
        (local.set $at (i32.shl (i32.add (i32.mul (local.get $r) (local.get $m)) (local.get $o)) (i32.const 2)))
        (if (local.get $res) (then
          (local.set $y (f32.add (local.get $y) (f32.load (i32.add (local.get $res) (local.get $at)))))))
        (f32.store (i32.add (local.get $out) (local.get $at)) (local.get $y))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $r_loop)))
      (local.set $o (i32.add (local.get $o) (i32.const 1)))
      (br $o_loop))))

  ;; exp(z) for z <= 0 (z below -87 gives 2^-126, as good as 0 here): z = n ln2 + r with
  ;; |r| <= ln2 / 2, Cephes' expf polynomial (about 1 ulp), 2^n written into the exponent bits.
  (func $exp4 (param $z v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128)
    (local.set $z (f32x4.max (local.get $z) (v128.const f32x4 -87 -87 -87 -87)))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $z) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))))
    (local.set $r (f32x4.sub (f32x4.sub (local.get $z) (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
                             (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $p (f32x4.add (f32x4.add (f32x4.mul (f32x4.mul (local.get $p) (local.get $r)) (local.get $r)) (local.get $r)) (v128.const f32x4 1 1 1 1)))
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))

  ;; Attention of one batch row's T queries to its keys, every head: q [T, d] (already scaled),
  ;; kT [d, cap] (keys transposed) and v [cap, d], of which the first len positions are in use;
  ;; query i sees n(i) = len - T + 1 + i positions when causal, else len. out [T, d]; scores is
  ;; scratch for T x len values. Per head and query: scores = q k (sums over the head's dims in
  ;; order), softmax (max subtracted, exp, times 1 / sum), then the probabilities times v (sums
  ;; over the positions in order). The sums run in registers, 16 positions or 32 dims at a time
  ;; (then 4, then 1), and each value is stored once.
  (func (export "attend") (param $q i32) (param $kT i32) (param $v i32) (param $out i32) (param $scores i32)
                          (param $T i32) (param $d i32) (param $H i32) (param $cap i32) (param $len i32) (param $causal i32)
    (local $i i32) (local $h i32) (local $dh i32) (local $n i32) (local $j i32) (local $s i32)
    (local $qrow i32) (local $srow i32) (local $orow i32) (local $row i32) (local $stride i32) (local $at i32)
    (local $m f32) (local $sum v128) (local $e v128) (local $inv f32) (local $tail f32) (local $p v128) (local $y f32)
    ${regs.map((r) => `(local ${r} v128)`).join(' ')}
    (local.set $dh (i32.div_u (local.get $d) (local.get $H)))
    (local.set $h (i32.const 0))
    (block $h_done (loop $h_loop
      (br_if $h_done (i32.ge_u (local.get $h) (local.get $H)))
      (local.set $i (i32.const 0))
      (block $i_done (loop $i_loop
        (br_if $i_done (i32.ge_u (local.get $i) (local.get $T)))
        (local.set $n (if (result i32) (local.get $causal)
          (then (i32.add (i32.sub (local.get $len) (local.get $T)) (i32.add (local.get $i) (i32.const 1))))
          (else (local.get $len))))
        (local.set $qrow (i32.add (local.get $q) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $d)) (i32.mul (local.get $h) (local.get $dh))) (i32.const 2))))
        (local.set $srow (i32.add (local.get $scores) (i32.shl (i32.mul (local.get $i) (local.get $len)) (i32.const 2))))
        (local.set $orow (i32.add (local.get $out) (i32.sub (local.get $qrow) (local.get $q))))
        (local.set $stride (i32.shl (local.get $cap) (i32.const 2)))
        ;; scores[s] = sum over the head's dims j of q[j] kT[j, s]: 16 positions at a time, then 4, then 1
        (local.set $s (i32.const 0))
        ${whileFits('$s', 16, '(local.get $n)', sums(regs.slice(0, 4), keyRows, '(i32.add (local.get $srow) (i32.shl (local.get $s) (i32.const 2)))'))}
        ${whileFits('$s', 4, '(local.get $n)', sums(regs.slice(0, 1), keyRows, '(i32.add (local.get $srow) (i32.shl (local.get $s) (i32.const 2)))'))}
        ${whileFits('$s', 1, '(local.get $n)', `(local.set $y (f32.const 0))
          ${keyRows(`(local.set $y (f32.add (local.get $y) (f32.mul (f32x4.extract_lane 0 (local.get $p)) (f32.load (local.get $row)))))`)}
          (f32.store (i32.add (local.get $srow) (i32.shl (local.get $s) (i32.const 2))) (local.get $y))`)}
        ;; softmax over the n scores, left as probabilities
        (local.set $m (f32.const -inf))
        (local.set $s (i32.const 0))
        ${whileFits('$s', 1, '(local.get $n)', `
          (local.set $m (f32.max (local.get $m) (f32.load (i32.add (local.get $srow) (i32.shl (local.get $s) (i32.const 2))))))`)}
        (local.set $sum (v128.const f32x4 0 0 0 0))
        (local.set $s (i32.const 0))
        ${whileFits('$s', 4, '(local.get $n)', `
          (local.set $at (i32.add (local.get $srow) (i32.shl (local.get $s) (i32.const 2))))
          (local.set $e (call $exp4 (f32x4.sub (v128.load (local.get $at)) (f32x4.splat (local.get $m)))))
          (v128.store (local.get $at) (local.get $e))
          (local.set $sum (f32x4.add (local.get $sum) (local.get $e)))`)}
        (local.set $tail (f32.const 0))
        ${whileFits('$s', 1, '(local.get $n)', `
          (local.set $at (i32.add (local.get $srow) (i32.shl (local.get $s) (i32.const 2))))
          (local.set $e (call $exp4 (f32x4.splat (f32.sub (f32.load (local.get $at)) (local.get $m)))))
          (f32.store (local.get $at) (f32x4.extract_lane 0 (local.get $e)))
          (local.set $tail (f32.add (local.get $tail) (f32x4.extract_lane 0 (local.get $e))))`)}
        (local.set $inv (f32.div (f32.const 1)
          (f32.add (f32.add (f32.add (f32x4.extract_lane 0 (local.get $sum)) (f32x4.extract_lane 1 (local.get $sum)))
                            (f32.add (f32x4.extract_lane 2 (local.get $sum)) (f32x4.extract_lane 3 (local.get $sum))))
                   (local.get $tail))))
        (local.set $s (i32.const 0))
        ${whileFits('$s', 1, '(local.get $n)', `
          (local.set $at (i32.add (local.get $srow) (i32.shl (local.get $s) (i32.const 2))))
          (f32.store (local.get $at) (f32.mul (f32.load (local.get $at)) (local.get $inv)))`)}
        ;; out[j] = sum over s of p[s] v[s, j] for the head's dims j: 32 dims at a time, then 4
        (local.set $stride (i32.shl (local.get $d) (i32.const 2)))
        (local.set $j (i32.const 0))
        ${whileFits('$j', 32, '(local.get $dh)', sums(regs, valueRows, '(i32.add (local.get $orow) (i32.shl (local.get $j) (i32.const 2)))'))}
        ${whileFits('$j', 4, '(local.get $dh)', sums(regs.slice(0, 1), valueRows, '(i32.add (local.get $orow) (i32.shl (local.get $j) (i32.const 2)))'))}
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $i_loop)))
      (local.set $h (i32.add (local.get $h) (i32.const 1)))
      (br $h_loop))))

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

export interface SimdKernels {
  transpose2d(src: number, dst: number, rows: number, cols: number): void;
  softmaxGrad(p: number, dp: number, r: number, out: number, rows: number, cols: number): void;
  gelu(x: number, value: number, deriv: number, n: number): void;
  layerNorm(x: number, w: number, b: number, eps: number, out: number, n: number, r: number, rows: number, d: number): void;
  layerNormGrad(dy: number, w: number, n: number, r: number, out: number, rows: number, d: number): void;
  attend(q: number, kT: number, v: number, out: number, scores: number, T: number, d: number, H: number,
    cap: number, len: number, causal: number): void;
  linearRows(x: number, w: number, b: number, res: number, out: number, rows: number, n: number, m: number, scale: number): void;
}

/**
 * Assembles the kernels against `memory` (tfjs-wasm's: shared in the threaded build, where an
 * import must declare itself shared with a maximum; 65536 pages is wasm32's 4 GiB).
 */
export async function loadSimdKernels(memory: WebAssembly.Memory): Promise<SimdKernels> {
  const wabt = await (require('wabt') as typeof import('wabt'))(); // loaded only on wasm
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const module = wabt.parseWat('kernels.wat', wat(shared ? '1 65536 shared' : '1'), { simd: true, threads: shared });
  try {
    const { buffer } = module.toBinary({});
    const { instance } = await WebAssembly.instantiate(buffer, { env: { memory } });
    return instance.exports as unknown as SimdKernels;
  } finally {
    module.destroy();
  }
}
