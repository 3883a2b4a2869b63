//! The `f32` packed product on AVX-512, written with intrinsics: compiled from the generic loop,
//! the 12-row tile was vectorised across rows (gathers and scatters of the accumulators) and ran
//! twenty times slower. Here each of 12 rows keeps one 16-lane accumulator, and each step loads
//! one panel row and broadcasts 12 values of A from one contiguous run.

#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m512, __mmask16, _mm512_add_ps, _mm512_fmadd_ps, _mm512_mask_storeu_ps,
    _mm512_maskz_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
};

use super::imp::{KC, pack_rows};
use super::packed::panel_width;

/// Rows of A per tile: 12 accumulators keep both FMA units busy (latency 4, two ports).
const MR: usize = 12;

/// `out[R rows, j0 .. j0 + valid] += Σ_kk A[r, kk] · panel[kk, ..]`, A in column order
/// (`a[kk · lda + r]`), the panel `nb` (8 or 16) wide.
///
/// # Safety
/// The CPU has AVX-512F. (The slices' lengths are checked: `a` must hold `len` steps of
/// `lda ≥ R` values, `panel` `len` rows of `nb`, `out` `R` rows of `n ≥ j0 + valid` values.)
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const R: usize>(
    a: &[f32],
    lda: usize,
    len: usize,
    panel: &[f32],
    nb: usize,
    out: &mut [f32],
    n: usize,
    (j0, valid): (usize, usize),
) {
    // Checked in release too: the loop below reads through raw pointers (one comparison per
    // tile, against some 3,000 multiply-adds).
    assert!(
        (nb == 8 || nb == 16)
            && valid <= nb
            && panel.len() >= len * nb
            && (len == 0 || (lda >= R && a.len() >= (len - 1) * lda + R)),
        "avx512 tile: A {} values (step {lda}, {R} rows), panel {} for {len} steps of {nb}",
        a.len(),
        panel.len()
    );
    let load: __mmask16 = if nb == 16 { 0xffff } else { 0x00ff };
    let store: __mmask16 = ((1u32 << valid) - 1) as __mmask16;
    let mut acc: [__m512; R] = [_mm512_setzero_ps(); R];
    let (ap, bp) = (a.as_ptr(), panel.as_ptr());
    for kk in 0..len {
        // SAFETY: within the lengths the caller guarantees.
        unsafe {
            let b = _mm512_maskz_loadu_ps(load, bp.add(kk * nb));
            let col = ap.add(kk * lda);
            for (r, acc) in acc.iter_mut().enumerate() {
                *acc = _mm512_fmadd_ps(_mm512_set1_ps(*col.add(r)), b, *acc);
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let dst = out[r * n + j0..r * n + j0 + valid].as_mut_ptr();
        // SAFETY: `dst` has `valid` values and the mask covers exactly those.
        unsafe {
            let sum = _mm512_add_ps(_mm512_maskz_loadu_ps(store, dst), *acc);
            _mm512_mask_storeu_ps(dst, store, sum);
        }
    }
}

/// `out (m, n) += A (m, k) · W` for `f32`: the AVX-512 clone of `imp::gemm_packed`. A is read
/// in place when it is column-major and the output one panel wide, else copied 12 rows at a
/// time into column order.
///
/// # Safety
/// The CPU has AVX-512F and VL; the slices fit the shapes as for `imp::gemm_packed`.
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gemm_packed_f32(
    a: &[f32],
    ld: usize,
    cols: bool,
    (m, k): (usize, usize),
    w: &[f32],
    n: usize,
    out: &mut [f32],
) {
    // Column-major A is read in place only for a single panel: with many panels, a leading
    // dimension of a power of two (1024 floats, say) maps every step to the same L1 set.
    let in_place = cols && n <= 16;
    let mut a_packed = if in_place {
        Vec::new()
    } else {
        vec![0.0f32; MR * k.min(KC)]
    };
    let mut kb = 0;
    while kb < k {
        let ke = (kb + KC).min(k);
        let mut r = 0;
        while r < m {
            let rows = MR.min(m - r);
            let (ablock, lda): (&[f32], usize) = if in_place {
                (&a[kb * ld + r..], ld)
            } else if cols {
                for (kk, dst) in (kb..ke).zip(a_packed.chunks_exact_mut(rows)) {
                    dst.copy_from_slice(&a[kk * ld + r..kk * ld + r + rows]);
                }
                (&a_packed, rows)
            } else {
                pack_rows(&a[r * ld..], ld, rows, (kb, ke), &mut a_packed);
                (&a_packed, rows)
            };
            let o = &mut out[r * n..(r + rows) * n];
            // SAFETY: the caller's guarantees; `ablock` starts at step `kb`, row `r`.
            unsafe {
                let len = ke - kb;
                match rows {
                    12 => tiles_at::<12>(ablock, lda, len, (kb, k), w, o, n),
                    11 => tiles_at::<11>(ablock, lda, len, (kb, k), w, o, n),
                    10 => tiles_at::<10>(ablock, lda, len, (kb, k), w, o, n),
                    9 => tiles_at::<9>(ablock, lda, len, (kb, k), w, o, n),
                    8 => tiles_at::<8>(ablock, lda, len, (kb, k), w, o, n),
                    7 => tiles_at::<7>(ablock, lda, len, (kb, k), w, o, n),
                    6 => tiles_at::<6>(ablock, lda, len, (kb, k), w, o, n),
                    5 => tiles_at::<5>(ablock, lda, len, (kb, k), w, o, n),
                    4 => tiles_at::<4>(ablock, lda, len, (kb, k), w, o, n),
                    3 => tiles_at::<3>(ablock, lda, len, (kb, k), w, o, n),
                    2 => tiles_at::<2>(ablock, lda, len, (kb, k), w, o, n),
                    _ => tiles_at::<1>(ablock, lda, len, (kb, k), w, o, n),
                }
            }
            r += rows;
        }
        kb = ke;
    }
}

/// Every panel for `R` rows of A (column order, `lda` apart, offset to the k-block's first
/// step) over the k-block of `len` steps from `kb`.
///
/// # Safety
/// As [`tile`]; `w` is packed as `PackedMatrix` for `(k, n)`.
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn tiles_at<const R: usize>(
    a: &[f32],
    lda: usize,
    len: usize,
    (kb, k): (usize, usize),
    w: &[f32],
    out: &mut [f32],
    n: usize,
) {
    let mut j = 0;
    while j < n {
        let nb = panel_width(n - j);
        let panel = &w[j * k + kb * nb..j * k + (kb + len) * nb];
        // SAFETY: the caller's guarantees, with the panel sliced to its k-block.
        unsafe { tile::<R>(a, lda, len, panel, nb, out, n, (j, nb.min(n - j))) };
        j += nb;
    }
}
