//! The loops behind the kernels, written once over the element type and compiled again for
//! each instruction set by the clones in `isa.rs` (the compiler vectorises them to the
//! register width the clone enables).

use num_traits::Float as NumFloat;

use super::packed::panel_width;

/// Column blocks of `NB` outputs: `acc[j] += x[i] · W[i, j0 + j]` over all `i`.
#[inline(always)]
fn block<T: NumFloat, const NB: usize, const FMA: bool>(
    x: &[T],
    w: &[T],
    n: usize,
    j0: usize,
    out: &mut [T],
) {
    let mut acc = [T::zero(); NB];
    acc.copy_from_slice(&out[j0..j0 + NB]);
    for (i, &xi) in x.iter().enumerate() {
        let row = &w[i * n + j0..i * n + j0 + NB];
        for j in 0..NB {
            acc[j] = if FMA {
                xi.mul_add(row[j], acc[j])
            } else {
                acc[j] + xi * row[j]
            };
        }
    }
    out[j0..j0 + NB].copy_from_slice(&acc);
}

/// `MAXB` is the widest block whose accumulators fit the register file.
#[inline(always)]
pub(crate) fn vecmat<T: NumFloat, const MAXB: usize, const FMA: bool>(
    x: &[T],
    w: &[T],
    out: &mut [T],
) {
    let n = out.len();
    let mut j = 0;
    while n - j >= MAXB {
        block::<T, MAXB, FMA>(x, w, n, j, out);
        j += MAXB;
    }
    // The rest in as few passes as the block sizes allow (one when MAXB ≤ 64).
    let mut rest = (n - j) & !7;
    while rest > 56 {
        block::<T, 56, FMA>(x, w, n, j, out);
        (j, rest) = (j + 56, rest - 56);
    }
    match rest {
        0 => {}
        8 => block::<T, 8, FMA>(x, w, n, j, out),
        16 => block::<T, 16, FMA>(x, w, n, j, out),
        24 => block::<T, 24, FMA>(x, w, n, j, out),
        32 => block::<T, 32, FMA>(x, w, n, j, out),
        40 => block::<T, 40, FMA>(x, w, n, j, out),
        48 => block::<T, 48, FMA>(x, w, n, j, out),
        _ => block::<T, 56, FMA>(x, w, n, j, out),
    }
    j += rest;
    for jj in j..n {
        let mut acc = out[jj];
        for (i, &xi) in x.iter().enumerate() {
            acc = acc + xi * w[i * n + jj];
        }
        out[jj] = acc;
    }
}

/// Depth of a k-block: a 6-row slice of A and a panel block stay in L1/L2 while reused.
pub(crate) const KC: usize = 256;

/// `out[r, j0 .. j0 + valid] += Σ_kk A[r, kk] · panel[kk, ..]` over `kk` in one k-block, for
/// `MR` rows at once: `MR × NB` accumulators in registers, one panel row and `MR`
/// broadcasts per step. A's element `(r, kk)` is `a[kk · ld + r]` if `COLS`, else
/// `a[r · ld + kk]`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tile<T: NumFloat, const MR: usize, const NB: usize, const FMA: bool, const COLS: bool>(
    a: &[T],
    ld: usize,
    r0: usize,
    (kb, ke): (usize, usize),
    panel: &[T],
    out: &mut [T],
    n: usize,
    (j0, valid): (usize, usize),
) {
    // Accumulators start at zero and are only indexed by constants, so they stay in
    // registers; the partial last panel is handled when adding them to `out`.
    let mut acc = [[T::zero(); NB]; MR];
    if COLS {
        for kk in kb..ke {
            let b = &panel[(kk - kb) * NB..(kk - kb) * NB + NB];
            let col = &a[kk * ld + r0..kk * ld + r0 + MR];
            for r in 0..MR {
                for j in 0..NB {
                    acc[r][j] = if FMA {
                        col[r].mul_add(b[j], acc[r][j])
                    } else {
                        acc[r][j] + col[r] * b[j]
                    };
                }
            }
        }
    } else {
        let rows: [&[T]; MR] = std::array::from_fn(|r| &a[(r0 + r) * ld + kb..(r0 + r) * ld + ke]);
        for kk in 0..ke - kb {
            let b = &panel[kk * NB..kk * NB + NB];
            for r in 0..MR {
                let av = rows[r][kk];
                for j in 0..NB {
                    acc[r][j] = if FMA {
                        av.mul_add(b[j], acc[r][j])
                    } else {
                        acc[r][j] + av * b[j]
                    };
                }
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        let o = (r0 + r) * n + j0;
        if valid == NB {
            let dst = &mut out[o..o + NB];
            for j in 0..NB {
                dst[j] = dst[j] + row[j];
            }
        } else {
            // A copy, so that only it (not `acc`) is indexed by a run-time bound.
            let part: [T; NB] = *row;
            for (d, &v) in out[o..o + valid].iter_mut().zip(&part) {
                *d = *d + v;
            }
        }
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tiles<T: NumFloat, const MR: usize, const FMA: bool, const COLS: bool>(
    a: &[T],
    ld: usize,
    r0: usize,
    (kb, ke): (usize, usize),
    k: usize,
    w: &[T],
    out: &mut [T],
    n: usize,
) {
    let mut j = 0;
    while j < n {
        let nb = super::packed::panel_width(n - j);
        let valid = nb.min(n - j);
        let panel = &w[j * k + kb * nb..j * k + ke * nb];
        if nb == 16 {
            tile::<T, MR, 16, FMA, COLS>(a, ld, r0, (kb, ke), panel, out, n, (j, valid));
        } else {
            tile::<T, MR, 8, FMA, COLS>(a, ld, r0, (kb, ke), panel, out, n, (j, valid));
        }
        j += nb;
    }
}

/// `out (m, n) += A (m, k) · W`, `W` packed in panels (see `PackedMatrix`; `n` may stop
/// short of the last panel's width), `out` row-major with `n` columns.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_packed<T: NumFloat, const FMA: bool, const COLS: bool>(
    a: &[T],
    ld: usize,
    m: usize,
    k: usize,
    w: &[T],
    n: usize,
    out: &mut [T],
) {
    let mut kb = 0;
    while kb < k {
        let ke = (kb + KC).min(k);
        let mut r = 0;
        while m - r >= 6 {
            tiles::<T, 6, FMA, COLS>(a, ld, r, (kb, ke), k, w, out, n);
            r += 6;
        }
        match m - r {
            0 => {}
            1 => tiles::<T, 1, FMA, COLS>(a, ld, r, (kb, ke), k, w, out, n),
            2 => tiles::<T, 2, FMA, COLS>(a, ld, r, (kb, ke), k, w, out, n),
            3 => tiles::<T, 3, FMA, COLS>(a, ld, r, (kb, ke), k, w, out, n),
            4 => tiles::<T, 4, FMA, COLS>(a, ld, r, (kb, ke), k, w, out, n),
            _ => tiles::<T, 5, FMA, COLS>(a, ld, r, (kb, ke), k, w, out, n),
        }
        kb = ke;
    }
}

/// `ln 2` in two parts for [`exp_f32`]'s reduction (the first exact in few bits), and its
/// polynomial's coefficients from the highest degree down; the intrinsics forms on AVX2 and
/// AVX-512 use the same.
pub(crate) const LN2_HI: f32 = 0.693_359_4;
pub(crate) const LN2_LO: f32 = -2.121_944_4e-4;
pub(crate) const EXP_POLY: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5,
];

/// `e^x` for `f32` without branches, so that loops over it vectorise: Cephes' `expf`
/// (range reduction by `ln 2`, degree-5 polynomial, exponent built from bits).
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const HI: f32 = 88.72283;
    const LO: f32 = -87.33654;
    // 1.5 · 2^23: adding it rounds to an integer held in the low mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    let xc = x.clamp(LO, HI);
    let t = xc * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let mut p = EXP_POLY[0];
    for &c in &EXP_POLY[1..] {
        p = p * r + c;
    }
    let y = p * r * r + r + 1.0;
    // n + 127 fits 8 bits for xc in [LO, HI]; the top of the range takes two steps.
    let k = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let half = k >> 1;
    let s1 = f32::from_bits(((half + 127) as u32) << 23);
    let s2 = f32::from_bits(((k - half + 127) as u32) << 23);
    let e = y * s1 * s2;
    if x > HI {
        f32::INFINITY
    } else if x < LO {
        0.0
    } else {
        e
    }
}

#[inline(always)]
pub(crate) fn sigmoid_f32(v: &mut [f32]) {
    for x in v.iter_mut() {
        *x = 1.0 / (1.0 + exp_f32(-*x));
    }
}

/// `tanh` for `f32`, vectorisable: below |x| = 0.625 an odd polynomial `x + x³ P(x²)` (least
/// squares on relative error, within 1 ulp there), above it `1 − 2 / (e^{2|x|} + 1)` with the
/// sign put back (within 3 ulp: `exp_f32`'s error and one bit lost to the subtraction).
#[inline(always)]
pub(crate) fn tanh_f32_one(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let mut p = -5.798_1e-3_f32;
    p = p * z + 2.072_028e-2;
    p = p * z + -5.376_38e-2;
    p = p * z + 1.333_171_9e-1;
    p = p * z + -3.333_329_3e-1;
    // The sign put back: for x = -0 the sum would give +0.
    let small = (x + x * z * p).copysign(x);
    let large = (1.0 - 2.0 / (exp_f32(2.0 * a) + 1.0)).copysign(x);
    // NaN takes the polynomial, which keeps it.
    if a >= 0.625 { large } else { small }
}

/// `v ← tanh(v)`, element by element ([`tanh_f32_one`]).
#[inline(always)]
pub(crate) fn tanh_f32(v: &mut [f32]) {
    for x in v.iter_mut() {
        *x = tanh_f32_one(*x);
    }
}

/// Accumulators of the reductions below: enough independent lanes for the widest vectors.
const LANES: usize = 16;

/// The largest value (NaN ignored, as `f32::max` does; `-∞` for an empty slice), in lanes so
/// that the loop vectorises.
#[inline(always)]
pub(crate) fn max<T: NumFloat>(x: &[T]) -> T {
    let mut acc = [T::neg_infinity(); LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..LANES {
            acc[j] = if c[j] > acc[j] { c[j] } else { acc[j] };
        }
    }
    let m = acc
        .iter()
        .fold(T::neg_infinity(), |m, &v| if v > m { v } else { m });
    rest.iter().fold(m, |m, &v| if v > m { v } else { m })
}

/// `v += b` and the largest sum (NaN ignored, as in [`max`]) in one pass.
#[inline(always)]
pub(crate) fn add_max<T: NumFloat>(v: &mut [T], b: &[T]) -> T {
    let b = &b[..v.len()];
    let mut acc = [T::neg_infinity(); LANES];
    let n = v.len() / LANES * LANES;
    for (c, bc) in v[..n]
        .chunks_exact_mut(LANES)
        .zip(b[..n].chunks_exact(LANES))
    {
        for j in 0..LANES {
            let x = c[j] + bc[j];
            c[j] = x;
            acc[j] = if x > acc[j] { x } else { acc[j] };
        }
    }
    let mut m = acc
        .iter()
        .fold(T::neg_infinity(), |m, &v| if v > m { v } else { m });
    for (x, &bv) in v[n..].iter_mut().zip(&b[n..]) {
        *x = *x + bv;
        m = if *x > m { *x } else { m };
    }
    m
}

/// [`exp_sum`] with the terms written over `v`: the same sums, in the same order.
#[inline(always)]
pub(crate) fn exp_sum_inplace<T: NumFloat>(v: &mut [T], shift: T, exp: impl Fn(T) -> T) -> T {
    let mut acc = [T::zero(); LANES];
    let n = v.len() / LANES * LANES;
    for c in v[..n].chunks_exact_mut(LANES) {
        for j in 0..LANES {
            let e = exp(c[j] - shift);
            c[j] = e;
            acc[j] = acc[j] + e;
        }
    }
    let mut total = T::zero();
    for x in &mut v[n..] {
        *x = exp(*x - shift);
        total = total + *x;
    }
    acc.iter().fold(T::zero(), |s, &a| s + a) + total
}

/// `Σ e^(x_i − shift)`, each term written to `out` if given (same length), in lanes; `exp` is
/// the exponential used.
#[inline(always)]
pub(crate) fn exp_sum<T: NumFloat>(
    x: &[T],
    shift: T,
    out: Option<&mut [T]>,
    exp: impl Fn(T) -> T,
) -> T {
    let mut acc = [T::zero(); LANES];
    let n = x.len() / LANES * LANES;
    let mut total = T::zero();
    match out {
        Some(out) => {
            let out = &mut out[..x.len()];
            for (xc, oc) in x[..n]
                .chunks_exact(LANES)
                .zip(out[..n].chunks_exact_mut(LANES))
            {
                for j in 0..LANES {
                    let e = exp(xc[j] - shift);
                    oc[j] = e;
                    acc[j] = acc[j] + e;
                }
            }
            for (&v, o) in x[n..].iter().zip(&mut out[n..]) {
                *o = exp(v - shift);
                total = total + *o;
            }
        }
        None => {
            for xc in x[..n].chunks_exact(LANES) {
                for j in 0..LANES {
                    acc[j] = acc[j] + exp(xc[j] - shift);
                }
            }
            for &v in &x[n..] {
                total = total + exp(v - shift);
            }
        }
    }
    acc.iter().fold(T::zero(), |s, &a| s + a) + total
}

#[inline(always)]
pub(crate) fn sigmoid_generic<T: NumFloat>(v: &mut [T]) {
    for x in v.iter_mut() {
        *x = T::one() / (T::one() + (-*x).exp());
    }
}

/// One LSTM row's backward step over its `h = dc.len()` units (as `kernels::lstm_row_grad`).
#[inline(always)]
pub(crate) fn lstm_row_grad<T: NumFloat>(
    gates: &mut [T],
    (tanh_c, c_prev): (&[T], &[T]),
    (dh, dh_next): (&[T], &[T]),
    dc: &mut [T],
) {
    let h = dc.len();
    let one = T::one();
    let (i, rest) = gates.split_at_mut(h);
    let (f, rest) = rest.split_at_mut(h);
    let (g, o) = rest.split_at_mut(h);
    let (o, tanh_c, c_prev, dh, dh_next) = (
        &mut o[..h],
        &tanh_c[..h],
        &c_prev[..h],
        &dh[..h],
        &dh_next[..h],
    );
    for k in 0..h {
        let (gi, gf, gg, go, t) = (i[k], f[k], g[k], o[k], tanh_c[k]);
        let d = dh[k] + dh_next[k];
        let c = dc[k] + d * go * (one - t * t);
        i[k] = c * gg * gi * (one - gi);
        f[k] = c * c_prev[k] * gf * (one - gf);
        g[k] = c * gi * (one - gg * gg);
        o[k] = d * t * go * (one - go);
        dc[k] = c * gf;
    }
}

/// One Adam step over four equally long slices (the constants as in `kernels::AdamStep`).
#[inline(always)]
pub(crate) fn adam<T: NumFloat>(w: &mut [T], m: &mut [T], v: &mut [T], g: &[T], c: [T; 5]) {
    let [b1, b2, step, inv_sqrt_c2, eps] = c;
    let n = w.len();
    let (m, v, g) = (&mut m[..n], &mut v[..n], &g[..n]);
    for i in 0..n {
        m[i] = b1 * m[i] + (T::one() - b1) * g[i];
        v[i] = b2 * v[i] + (T::one() - b2) * g[i] * g[i];
        w[i] = w[i] - step * m[i] / (v[i].sqrt() * inv_sqrt_c2 + eps);
    }
}

/// `alpha · w` in column panels (the layout of `PackedMatrix`); `w (k, n)` has rows `ld` apart,
/// or columns if `COLS`.
#[inline(always)]
pub(crate) fn pack_panels<T: NumFloat, const COLS: bool>(
    w: &[T],
    ld: usize,
    kn: (usize, usize),
    alpha: T,
    data: &mut [T],
) {
    if COLS {
        pack_panels_cols(w, ld, kn, alpha, data)
    } else {
        pack_panels_rows(w, ld, kn, alpha, data)
    }
}

/// Row-major `w (k, n)`, rows `ld` apart, as `alpha · w` in column panels (the layout of
/// `PackedMatrix`): each full panel row is one 16-value copy.
#[inline(always)]
fn pack_panels_rows<T: NumFloat>(
    w: &[T],
    ld: usize,
    (k, n): (usize, usize),
    alpha: T,
    data: &mut [T],
) {
    let full = n / 16 * 16;
    for i in 0..k {
        let row = &w[i * ld..i * ld + n];
        for j0 in (0..full).step_by(16) {
            let src: &[T; 16] = row[j0..j0 + 16].try_into().expect("16 values");
            let at = j0 * k + i * 16;
            let dst: &mut [T; 16] = (&mut data[at..at + 16]).try_into().expect("16 values");
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = alpha * s;
            }
        }
        if full < n {
            let nb = panel_width(n - full);
            let at = full * k + i * nb;
            let dst = &mut data[at..at + nb];
            for (d, &s) in dst.iter_mut().zip(&row[full..]) {
                *d = alpha * s;
            }
            dst[n - full..].fill(T::zero());
        }
    }
}

/// Column-major `w (k, n)`, columns `ld` apart (a transposed row-major matrix), into the same
/// panels: 16 × 16 blocks are read column by column into a small buffer and written row by row,
/// so both sides of the copy walk memory in order.
#[inline(always)]
fn pack_panels_cols<T: NumFloat>(
    w: &[T],
    ld: usize,
    (k, n): (usize, usize),
    alpha: T,
    data: &mut [T],
) {
    let mut block = [[T::zero(); 16]; 16];
    for j0 in (0..n).step_by(16) {
        let (nb, valid) = (panel_width(n - j0), (n - j0).min(16));
        let panel = &mut data[j0 * k..j0 * k + k * nb];
        for i0 in (0..k).step_by(16) {
            let len = (k - i0).min(16);
            for (jj, b) in block.iter_mut().enumerate().take(valid) {
                let col = &w[(j0 + jj) * ld + i0..(j0 + jj) * ld + i0 + len];
                b[..len].copy_from_slice(col);
            }
            for t in 0..len {
                let dst = &mut panel[(i0 + t) * nb..(i0 + t + 1) * nb];
                for (jj, d) in dst.iter_mut().enumerate().take(valid) {
                    *d = alpha * block[jj][t];
                }
                dst[valid..].fill(T::zero());
            }
        }
    }
}
