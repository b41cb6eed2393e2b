/**
 * Kernels for tfjs-wasm written in wasm SIMD, run on tfjs's own memory.
 *
 * - transpose2d. tfjs-wasm's Transpose copies one value at a time down each output column, so
 *   every write lands on another cache line: a [1500, 1500] attention map took 6-12 ms in a
 *   training step, and a step through the encoder transposes 42 of them (P^T for dV, dS^T for dK)
 *   plus smaller ones. Here 4 x 4 blocks move by eight lane shuffles, visited in 32 x 32 tiles so
 *   the destination rows a tile writes stay in cache: 2.4 ms for the same map. It copies bits.
 * - softmaxGrad, P * (dP - r) with r one value per row: the softmax backward of attention in one
 *   pass over the [1500, 1500] maps instead of two (a Sub, then a Mul). Same float operations in
 *   the same order, so the same bits.
 * - geluForward, GELU in training: from x and erf(x / sqrt 2), the value (tfjs's operations in
 *   their order: the same bits) and the derivative Phi(x) + x phi(x), kept for the backward pass,
 *   in one pass over [1500, 1536] per layer instead of three tfjs operations now and eleven later.
 *   geluGrad, dy * (Phi(x) + x phi(x)) from x and 2 Phi(x), is the backward pass of a GELU run
 *   outside training. phi uses exp(-x^2 / 2) by Cephes' expf polynomial (about 1 ulp), with x
 *   clipped to [-9, 9] as in ../ops.ts gelu.
 * - layerNorm and layerNormGrad: LayerNorm and its input gradient in one pass over each row
 *   instead of 9 and 8 tfjs operations, with the sums in the order of tfjs-wasm's Mean kernel: the
 *   same bits as the tfjs operations, in inference and training.
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

  ;; out = dy * (0.5 c2 + x phi(x)) for n >= 4 values (c2 = 2 Phi(x)).
  (func (export "geluGrad") (param $x i32) (param $c i32) (param $dy i32) (param $out i32) (param $n i32)
    (local $k i32) (local $o i32)
    ${steps4('$k', '(local.get $n)', `
      (local.set $o (i32.shl (local.get $k) (i32.const 2)))
      (v128.store (i32.add (local.get $out) (local.get $o))
        (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $o)))
          (f32x4.add (f32x4.mul (v128.load (i32.add (local.get $c) (local.get $o))) (v128.const f32x4 0.5 0.5 0.5 0.5))
                     (call $xPhi (v128.load (i32.add (local.get $x) (local.get $o)))))))`)})

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

  ;; x phi(x) = x exp(-xc^2 / 2) / sqrt(2 pi), xc = x clipped to [-9, 9].
  (func $xPhi (param $x v128) (result v128)
    (local $xc v128) (local $z v128) (local $n v128) (local $r v128) (local $p v128)
    (local.set $xc (f32x4.min (f32x4.max (local.get $x) (v128.const f32x4 -9 -9 -9 -9)) (v128.const f32x4 9 9 9 9)))
    (local.set $z (f32x4.mul (f32x4.mul (local.get $xc) (local.get $xc)) (v128.const f32x4 -0.5 -0.5 -0.5 -0.5)))
    ;; exp(z), z in [-40.5, 0]: z = n ln2 + r with |r| <= ln2 / 2 (ln2 in two parts), exp(r) by
    ;; Cephes' polynomial, 2^n written into the exponent bits (n >= -59: a normal number).
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
    (local.set $p (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
    (f32x4.mul (f32x4.mul (local.get $x) (local.get $p)) (v128.const f32x4 0.398942280 0.398942280 0.398942280 0.398942280)))

  ;; GELU forward from x and e = erf(x / sqrt 2), n >= 4 values: the operations of tfjs's
  ;; x * 0.5 * (e + 1) in that order (the same bits), and its derivative 0.5 (e + 1) + x phi(x).
  (func (export "geluForward") (param $x i32) (param $e i32) (param $value i32) (param $deriv i32) (param $n i32)
    (local $k i32) (local $o i32) (local $xv v128) (local $c2 v128)
    ${steps4('$k', '(local.get $n)', `
      (local.set $o (i32.shl (local.get $k) (i32.const 2)))
      (local.set $xv (v128.load (i32.add (local.get $x) (local.get $o))))
      (local.set $c2 (f32x4.add (v128.load (i32.add (local.get $e) (local.get $o))) (v128.const f32x4 1 1 1 1)))
      (v128.store (i32.add (local.get $value) (local.get $o))
        (f32x4.mul (f32x4.mul (local.get $xv) (v128.const f32x4 0.5 0.5 0.5 0.5)) (local.get $c2)))
      (v128.store (i32.add (local.get $deriv) (local.get $o))
        (f32x4.add (f32x4.mul (local.get $c2) (v128.const f32x4 0.5 0.5 0.5 0.5)) (call $xPhi (local.get $xv))))`)})

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
  geluGrad(x: number, c2: number, dy: number, out: number, n: number): void;
  geluForward(x: number, e: number, value: number, deriv: number, n: number): void;
  layerNorm(x: number, w: number, b: number, eps: number, out: number, n: number, r: number, rows: number, d: number): void;
  layerNormGrad(dy: number, w: number, n: number, r: number, out: number, rows: number, d: number): void;
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
