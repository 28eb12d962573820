// Small WebAssembly SIMD kernels that work directly on the wasm backend's heap.
//
// Why hand-written: on this class of machine plain JS loops over typed arrays run at ~3-10 ns per
// element, while these data-movement kernels (max-pool gradient, bias-gradient row sums) are
// memory-bound at well under 1 ns per element in wasm SIMD; the package's own C++ versions are scalar
// and slower still. The module imports the backend's WebAssembly.Memory, so it reads and writes
// tensors in place by their heap offsets, with no copies. Compiled once per process from the text
// below with wabt (the WebAssembly Binary Toolkit). Callers fall back to JS when it is unavailable.
import type { BackendWasm } from './wasm_util.js';

export interface SimdKernels {
  /** dx = 0, then for each pooling window and channel dx[first argmax] += dy (as the cpu kernel). */
  maxPoolGrad(
    x: number,
    dy: number,
    dx: number,
    batch: number,
    height: number,
    width: number,
    channels: number,
    outHeight: number,
    outWidth: number,
    filterHeight: number,
    filterWidth: number,
    strideHeight: number,
    strideWidth: number,
    padTop: number,
    padLeft: number,
  ): void;
  /** dst[c] = Σ_r src[r·cols + c], accumulated in float64 in `scratch` (8·cols bytes). */
  sumRows(src: number, rows: number, cols: number, dst: number, scratch: number): void;
  /** im2col.ts's im2col: col[n, (i, j, c)] = x[b, oy·sh + i - pt, ox·sw + j - pl, c] or 0. */
  im2col(x: number, col: number, ...geometry: GeometryArgs): void;
  /** im2col.ts's col2im: dx[b, oy·sh + i - pt, ox·sw + j - pl, c] += col[n, (i, j, c)]. */
  col2im(col: number, dx: number, ...geometry: GeometryArgs): void;
  /** dst[b, c, r] = src[b, r, c] for `batch` matrices of rows × cols 4-byte elements. */
  transpose(src: number, dst: number, batch: number, rows: number, cols: number): void;
}

/** batch, height, width, channels, filterHeight, filterWidth, strideH, strideW, padTop, padLeft, outH, outW */
type GeometryArgs = [number, number, number, number, number, number, number, number, number, number, number, number];

const watSource = (shared: boolean) => `
(module
  (import "env" "memory" ${shared ? '(memory 1 65536 shared)' : '(memory 1)'})

  (func (export "sumRows") (param $src i32) (param $rows i32) (param $cols i32) (param $dst i32) (param $acc i32)
    (local $r i32) (local $c i32) (local $p i32) (local $a i32) (local $v v128) (local $c4 i32)
    (memory.fill (local.get $acc) (i32.const 0) (i32.shl (local.get $cols) (i32.const 3)))
    (local.set $c4 (i32.and (local.get $cols) (i32.const -4)))
    (local.set $p (local.get $src))
    (block $rows_done (loop $rows_loop
      (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $c (i32.const 0))
      (local.set $a (local.get $acc))
      (block $vec_done (loop $vec_loop
        (br_if $vec_done (i32.ge_u (local.get $c) (local.get $c4)))
        (local.set $v (v128.load (local.get $p)))
        (v128.store (local.get $a)
          (f64x2.add (v128.load (local.get $a)) (f64x2.promote_low_f32x4 (local.get $v))))
        (v128.store offset=16 (local.get $a)
          (f64x2.add (v128.load offset=16 (local.get $a))
            (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $a (i32.add (local.get $a) (i32.const 32)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $vec_loop)))
      (block $tail_done (loop $tail_loop
        (br_if $tail_done (i32.ge_u (local.get $c) (local.get $cols)))
        (f64.store (local.get $a) (f64.add (f64.load (local.get $a)) (f64.promote_f32 (f32.load (local.get $p)))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $a (i32.add (local.get $a) (i32.const 8)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $tail_loop)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows_loop)))
    (local.set $c (i32.const 0))
    (block $out_done (loop $out_loop
      (br_if $out_done (i32.ge_u (local.get $c) (local.get $cols)))
      (f32.store (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2)))
        (f32.demote_f64 (f64.load (i32.add (local.get $acc) (i32.shl (local.get $c) (i32.const 3))))))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $out_loop))))

  ;; dst[k] += src[k] for k < n (float32, 4 lanes at a time).
  (func $add_to (param $dst i32) (param $src i32) (param $n i32)
    (local $end i32) (local $end4 i32)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $dst) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $v_done (loop $v_loop
      (br_if $v_done (i32.ge_u (local.get $dst) (local.get $end4)))
      (v128.store (local.get $dst) (f32x4.add (v128.load (local.get $dst)) (v128.load (local.get $src))))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (local.set $src (i32.add (local.get $src) (i32.const 16)))
      (br $v_loop)))
    (block $s_done (loop $s_loop
      (br_if $s_done (i32.ge_u (local.get $dst) (local.get $end)))
      (f32.store (local.get $dst) (f32.add (f32.load (local.get $dst)) (f32.load (local.get $src))))
      (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
      (local.set $src (i32.add (local.get $src) (i32.const 4)))
      (br $s_loop))))

  ;; Walks the (b, oy, ox, i, j) runs of an im2col matrix; $scatter = 0 copies x into col,
  ;; 1 adds col into x. Runs inside the input are contiguous: a whole filter row (KW·C floats) when
  ;; it does not cross the left/right border, else one pixel (C floats) at a time.
  (func $walk (param $scatter i32) (param $x i32) (param $col i32)
    (param $B i32) (param $H i32) (param $W i32) (param $C i32) (param $KH i32) (param $KW i32)
    (param $sh i32) (param $sw i32) (param $pt i32) (param $pl i32) (param $OH i32) (param $OW i32)
    (local $b i32) (local $oy i32) (local $ox i32) (local $i i32) (local $j i32) (local $y i32)
    (local $x0 i32) (local $xx i32) (local $row i32) (local $img i32) (local $src i32)
    (local $run i32) (local $px i32)
    (local.set $row (i32.mul (local.get $W) (local.get $C)))
    (local.set $px (i32.shl (local.get $C) (i32.const 2)))
    (local.set $run (i32.mul (local.get $KW) (local.get $px)))
    (block $b_done (loop $b_loop
      (br_if $b_done (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $img (i32.mul (i32.mul (local.get $b) (local.get $H)) (local.get $row)))
      (local.set $oy (i32.const 0))
      (block $oy_done (loop $oy_loop
        (br_if $oy_done (i32.ge_u (local.get $oy) (local.get $OH)))
        (local.set $ox (i32.const 0))
        (block $ox_done (loop $ox_loop
          (br_if $ox_done (i32.ge_u (local.get $ox) (local.get $OW)))
          (local.set $x0 (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $pl)))
          (local.set $i (i32.const 0))
          (block $i_done (loop $i_loop
            (br_if $i_done (i32.ge_u (local.get $i) (local.get $KH)))
            (local.set $y (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $pt)) (local.get $i)))
            (if (i32.or (i32.lt_s (local.get $y) (i32.const 0)) (i32.ge_s (local.get $y) (local.get $H)))
              (then
                (if (i32.eqz (local.get $scatter)) (then (memory.fill (local.get $col) (i32.const 0) (local.get $run))))
                (local.set $col (i32.add (local.get $col) (local.get $run))))
              (else
                (if (i32.and (i32.ge_s (local.get $x0) (i32.const 0))
                             (i32.le_s (i32.add (local.get $x0) (local.get $KW)) (local.get $W)))
                  (then
                    (local.set $src (i32.add (local.get $x) (i32.shl
                      (i32.add (i32.add (local.get $img) (i32.mul (local.get $y) (local.get $row)))
                        (i32.mul (local.get $x0) (local.get $C))) (i32.const 2))))
                    (if (local.get $scatter)
                      (then (call $add_to (local.get $src) (local.get $col) (i32.mul (local.get $KW) (local.get $C))))
                      (else (memory.copy (local.get $col) (local.get $src) (local.get $run))))
                    (local.set $col (i32.add (local.get $col) (local.get $run))))
                  (else
                    (local.set $j (i32.const 0))
                    (block $j_done (loop $j_loop
                      (br_if $j_done (i32.ge_u (local.get $j) (local.get $KW)))
                      (local.set $xx (i32.add (local.get $x0) (local.get $j)))
                      (if (i32.or (i32.lt_s (local.get $xx) (i32.const 0)) (i32.ge_s (local.get $xx) (local.get $W)))
                        (then
                          (if (i32.eqz (local.get $scatter)) (then (memory.fill (local.get $col) (i32.const 0) (local.get $px)))))
                        (else
                          (local.set $src (i32.add (local.get $x) (i32.shl
                            (i32.add (i32.add (local.get $img) (i32.mul (local.get $y) (local.get $row)))
                              (i32.mul (local.get $xx) (local.get $C))) (i32.const 2))))
                          (if (local.get $scatter)
                            (then (call $add_to (local.get $src) (local.get $col) (local.get $C)))
                            (else (memory.copy (local.get $col) (local.get $src) (local.get $px))))))
                      (local.set $col (i32.add (local.get $col) (local.get $px)))
                      (local.set $j (i32.add (local.get $j) (i32.const 1)))
                      (br $j_loop)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $i_loop)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $ox_loop)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $oy_loop)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $b_loop))))

  (func (export "im2col") (param $x i32) (param $col i32)
    (param $B i32) (param $H i32) (param $W i32) (param $C i32) (param $KH i32) (param $KW i32)
    (param $sh i32) (param $sw i32) (param $pt i32) (param $pl i32) (param $OH i32) (param $OW i32)
    (call $walk (i32.const 0) (local.get $x) (local.get $col) (local.get $B) (local.get $H) (local.get $W)
      (local.get $C) (local.get $KH) (local.get $KW) (local.get $sh) (local.get $sw) (local.get $pt)
      (local.get $pl) (local.get $OH) (local.get $OW)))

  (func (export "col2im") (param $col i32) (param $dx i32)
    (param $B i32) (param $H i32) (param $W i32) (param $C i32) (param $KH i32) (param $KW i32)
    (param $sh i32) (param $sw i32) (param $pt i32) (param $pl i32) (param $OH i32) (param $OW i32)
    (memory.fill (local.get $dx) (i32.const 0)
      (i32.shl (i32.mul (i32.mul (i32.mul (local.get $B) (local.get $H)) (local.get $W)) (local.get $C)) (i32.const 2)))
    (call $walk (i32.const 1) (local.get $dx) (local.get $col) (local.get $B) (local.get $H) (local.get $W)
      (local.get $C) (local.get $KH) (local.get $KW) (local.get $sh) (local.get $sw) (local.get $pt)
      (local.get $pl) (local.get $OH) (local.get $OW)))

;; dst[b, c, r] = src[b, r, c] for 4-byte elements, in 16×16 tiles so that the rows read and the
  ;; columns written stay in cache.
  (func (export "transpose") (param $src i32) (param $dst i32) (param $batch i32) (param $rows i32) (param $cols i32)
    (local $b i32) (local $r0 i32) (local $c0 i32) (local $r1 i32) (local $c1 i32) (local $r i32) (local $c i32)
    (local $s i32) (local $d i32) (local $size i32) (local $rowBytes i32)
    (local.set $size (i32.shl (i32.mul (local.get $rows) (local.get $cols)) (i32.const 2)))
    (local.set $rowBytes (i32.shl (local.get $rows) (i32.const 2)))
    (block $b_done (loop $b_loop
      (br_if $b_done (i32.ge_u (local.get $b) (local.get $batch)))
      (local.set $r0 (i32.const 0))
      (block $r0_done (loop $r0_loop
        (br_if $r0_done (i32.ge_u (local.get $r0) (local.get $rows)))
        (local.set $r1 (select (local.get $rows) (i32.add (local.get $r0) (i32.const 16))
          (i32.gt_u (i32.add (local.get $r0) (i32.const 16)) (local.get $rows))))
        (local.set $c0 (i32.const 0))
        (block $c0_done (loop $c0_loop
          (br_if $c0_done (i32.ge_u (local.get $c0) (local.get $cols)))
          (local.set $c1 (select (local.get $cols) (i32.add (local.get $c0) (i32.const 16))
            (i32.gt_u (i32.add (local.get $c0) (i32.const 16)) (local.get $cols))))
          (local.set $r (local.get $r0))
          (block $r_done (loop $r_loop
            (br_if $r_done (i32.ge_u (local.get $r) (local.get $r1)))
            (local.set $s (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c0)) (i32.const 2))))
            (local.set $d (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $c0) (local.get $rows)) (local.get $r)) (i32.const 2))))
            (local.set $c (local.get $c0))
            (block $c_done (loop $c_loop
              (br_if $c_done (i32.ge_u (local.get $c) (local.get $c1)))
              (i32.store (local.get $d) (i32.load (local.get $s)))
              (local.set $s (i32.add (local.get $s) (i32.const 4)))
              (local.set $d (i32.add (local.get $d) (local.get $rowBytes)))
              (local.set $c (i32.add (local.get $c) (i32.const 1)))
              (br $c_loop)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $r_loop)))
          (local.set $c0 (local.get $c1))
          (br $c0_loop)))
        (local.set $r0 (local.get $r1))
        (br $r0_loop)))
      (local.set $src (i32.add (local.get $src) (local.get $size)))
      (local.set $dst (i32.add (local.get $dst) (local.get $size)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $b_loop))))

    ;; Adds dy[g] to dx at element index $i when $i >= 0.
  (func $scatter (param $dx i32) (param $dy i32) (param $i i32) (param $g i32)
    (local $at i32)
    (if (i32.ge_s (local.get $i) (i32.const 0))
      (then
        (local.set $at (i32.add (local.get $dx) (i32.shl (local.get $i) (i32.const 2))))
        (f32.store (local.get $at)
          (f32.add (f32.load (local.get $at))
            (f32.load (i32.add (local.get $dy) (i32.shl (local.get $g) (i32.const 2)))))))))

  (func (export "maxPoolGrad")
    (param $x i32) (param $dy i32) (param $dx i32)
    (param $B i32) (param $H i32) (param $W i32) (param $C i32) (param $OH i32) (param $OW i32)
    (param $fh i32) (param $fw i32) (param $sh i32) (param $sw i32) (param $pt i32) (param $pl i32)
    (local $b i32) (local $oy i32) (local $ox i32) (local $c i32) (local $y i32) (local $xx i32)
    (local $y0 i32) (local $y1 i32) (local $x0 i32) (local $x1 i32) (local $g i32)
    (local $row i32) (local $img i32) (local $i i32) (local $c4 i32)
    (local $best v128) (local $at v128) (local $v v128) (local $m v128)
    (local $sbest f32) (local $sat i32) (local $sv f32)
    (local.set $row (i32.mul (local.get $W) (local.get $C)))
    (memory.fill (local.get $dx) (i32.const 0)
      (i32.shl (i32.mul (i32.mul (local.get $B) (local.get $H)) (local.get $row)) (i32.const 2)))
    (local.set $c4 (i32.and (local.get $C) (i32.const -4)))
    (block $b_done (loop $b_loop
      (br_if $b_done (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $img (i32.mul (i32.mul (local.get $b) (local.get $H)) (local.get $row)))
      (local.set $oy (i32.const 0))
      (block $oy_done (loop $oy_loop
        (br_if $oy_done (i32.ge_u (local.get $oy) (local.get $OH)))
        (local.set $y0 (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $pt)))
        (local.set $y1 (i32.add (local.get $y0) (local.get $fh)))
        (if (i32.gt_s (local.get $y1) (local.get $H)) (then (local.set $y1 (local.get $H))))
        (if (i32.lt_s (local.get $y0) (i32.const 0)) (then (local.set $y0 (i32.const 0))))
        (local.set $ox (i32.const 0))
        (block $ox_done (loop $ox_loop
          (br_if $ox_done (i32.ge_u (local.get $ox) (local.get $OW)))
          (local.set $x0 (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $pl)))
          (local.set $x1 (i32.add (local.get $x0) (local.get $fw)))
          (if (i32.gt_s (local.get $x1) (local.get $W)) (then (local.set $x1 (local.get $W))))
          (if (i32.lt_s (local.get $x0) (i32.const 0)) (then (local.set $x0 (i32.const 0))))
          ;; Four channels at a time: lanes keep the best value and its element index; a strict
          ;; greater-than in row-major window order keeps the first of tied maxima, NaN never wins.
          (local.set $c (i32.const 0))
          (block $c4_done (loop $c4_loop
            (br_if $c4_done (i32.ge_u (local.get $c) (local.get $c4)))
            (local.set $best (f32x4.splat (f32.const -inf)))
            (local.set $at (i32x4.splat (i32.const -1)))
            (local.set $y (local.get $y0))
            (block $y_done (loop $y_loop
              (br_if $y_done (i32.ge_s (local.get $y) (local.get $y1)))
              (local.set $xx (local.get $x0))
              (block $x_done (loop $x_loop
                (br_if $x_done (i32.ge_s (local.get $xx) (local.get $x1)))
                (local.set $i (i32.add (i32.add (local.get $img) (i32.mul (local.get $y) (local.get $row)))
                  (i32.add (i32.mul (local.get $xx) (local.get $C)) (local.get $c))))
                (local.set $v (v128.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
                (local.set $m (f32x4.gt (local.get $v) (local.get $best)))
                (local.set $best (v128.bitselect (local.get $v) (local.get $best) (local.get $m)))
                (local.set $at (v128.bitselect
                  (i32x4.add (i32x4.splat (local.get $i)) (v128.const i32x4 0 1 2 3))
                  (local.get $at) (local.get $m)))
                (local.set $xx (i32.add (local.get $xx) (i32.const 1)))
                (br $x_loop)))
              (local.set $y (i32.add (local.get $y) (i32.const 1)))
              (br $y_loop)))
            (call $scatter (local.get $dx) (local.get $dy) (i32x4.extract_lane 0 (local.get $at)) (local.get $g))
            (call $scatter (local.get $dx) (local.get $dy) (i32x4.extract_lane 1 (local.get $at)) (i32.add (local.get $g) (i32.const 1)))
            (call $scatter (local.get $dx) (local.get $dy) (i32x4.extract_lane 2 (local.get $at)) (i32.add (local.get $g) (i32.const 2)))
            (call $scatter (local.get $dx) (local.get $dy) (i32x4.extract_lane 3 (local.get $at)) (i32.add (local.get $g) (i32.const 3)))
            (local.set $g (i32.add (local.get $g) (i32.const 4)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $c4_loop)))
          ;; Remaining channels one at a time, same rule.
          (block $c_done (loop $c_loop
            (br_if $c_done (i32.ge_u (local.get $c) (local.get $C)))
            (local.set $sbest (f32.const -inf))
            (local.set $sat (i32.const -1))
            (local.set $y (local.get $y0))
            (block $sy_done (loop $sy_loop
              (br_if $sy_done (i32.ge_s (local.get $y) (local.get $y1)))
              (local.set $xx (local.get $x0))
              (block $sx_done (loop $sx_loop
                (br_if $sx_done (i32.ge_s (local.get $xx) (local.get $x1)))
                (local.set $i (i32.add (i32.add (local.get $img) (i32.mul (local.get $y) (local.get $row)))
                  (i32.add (i32.mul (local.get $xx) (local.get $C)) (local.get $c))))
                (local.set $sv (f32.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
                (if (f32.gt (local.get $sv) (local.get $sbest))
                  (then (local.set $sbest (local.get $sv)) (local.set $sat (local.get $i))))
                (local.set $xx (i32.add (local.get $xx) (i32.const 1)))
                (br $sx_loop)))
              (local.set $y (i32.add (local.get $y) (i32.const 1)))
              (br $sy_loop)))
            (call $scatter (local.get $dx) (local.get $dy) (local.get $sat) (local.get $g))
            (local.set $g (i32.add (local.get $g) (i32.const 1)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $c_loop)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $ox_loop)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $oy_loop)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $b_loop))))
)`;

const compiled = new Map<boolean, Promise<WebAssembly.Module>>();
const instances = new WeakMap<WebAssembly.Memory, SimdKernels>();

async function compile(shared: boolean): Promise<WebAssembly.Module> {
  const { default: wabt } = await import('wabt');
  const toolkit = await wabt();
  const parsed = toolkit.parseWat('simd_kernels.wat', watSource(shared), { simd: true, threads: shared, bulk_memory: true });
  try {
    return await WebAssembly.compile(new Uint8Array(parsed.toBinary({}).buffer));
  } finally {
    parsed.destroy();
  }
}

function memoryOf(backend: BackendWasm): WebAssembly.Memory | undefined {
  const mod = backend.wasm as unknown as { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
  return mod.wasmMemory ?? mod.asm?.memory;
}

/** Compiles and instantiates the kernels against this backend's heap (idempotent). */
export async function prepareSimdKernels(backend: BackendWasm): Promise<boolean> {
  const memory = memoryOf(backend);
  if (!memory) return false;
  if (instances.has(memory)) return true;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  if (!compiled.has(shared)) compiled.set(shared, compile(shared));
  const module = await compiled.get(shared)!;
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  instances.set(memory, instance.exports as unknown as SimdKernels);
  return true;
}

let enabled = true;

/** Turns the SIMD kernels off (JS fallbacks run instead); for tests and before/after benchmarks. */
export function setSimdKernelsEnabled(on: boolean): void {
  enabled = on;
}

/** The kernels for this backend, if prepareSimdKernels succeeded for it. */
export function simdKernels(backend: BackendWasm): SimdKernels | undefined {
  if (!enabled) return undefined;
  const memory = memoryOf(backend);
  return memory ? instances.get(memory) : undefined;
}

/** Byte offset of a tensor's data on the heap. */
export function heapOffset(backend: BackendWasm, info: { dataId: object }): number {
  return backend.dataIdMap.get(info.dataId)!.memoryOffset;
}
