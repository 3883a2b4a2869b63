//! Which instruction set the kernels run on, and the clones of `imp`'s loops for each.
//!
//! The CPU is asked once; `NN_KERNEL=portable|avx2|avx512` forces a lower path (as
//! matrixmultiply's `MMTEST_FEATURE` does), so the whole test suite can run on each path.
//! The crate's own tests call every path the machine has directly.

use std::sync::atomic::{AtomicU8, Ordering};

use super::imp;

/// The instruction sets the kernels have code paths for, from the most portable up.
///
/// ```
/// use nn_core::kernels::{Isa, active_isa};
/// // The path in use is one this CPU can run.
/// assert!(active_isa().supported());
/// assert!(Isa::Portable.supported());
/// assert_eq!(Isa::from_name("avx2"), Some(Isa::Avx2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Plain Rust, vectorised only as far as the compile target allows (SSE2 on x86-64).
    Portable,
    /// 256-bit AVX2 with fused multiply-add.
    Avx2,
    /// 512-bit AVX-512 (F and VL), with AVX2 and FMA.
    Avx512,
}

impl Isa {
    /// Every path, from the most portable up.
    pub const ALL: [Isa; 3] = [Isa::Portable, Isa::Avx2, Isa::Avx512];

    /// The name `NN_KERNEL` takes: `portable`, `avx2` or `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// The path named `name` (as [`Isa::name`] writes it, any case).
    pub fn from_name(name: &str) -> Option<Isa> {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether this CPU can run the path.
    pub fn supported(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                Isa::Avx2.supported()
                    && is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512vl")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The paths this CPU can run, from the most portable up.
    pub fn available() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|isa| isa.supported()).collect()
    }

    /// The widest path this CPU can run.
    pub fn best() -> Isa {
        Isa::available().pop().unwrap_or(Isa::Portable)
    }
}

/// 0: not decided yet; otherwise the path's index in [`Isa::ALL`] plus one.
static ACTIVE: AtomicU8 = AtomicU8::new(0);

/// The path the kernels use: the widest this CPU has, or the one `NN_KERNEL` names if the CPU
/// has it. A name that is unknown or beyond the CPU is reported once on stderr and ignored.
pub fn active_isa() -> Isa {
    match ACTIVE.load(Ordering::Relaxed) {
        0 => {
            let isa = choose(std::env::var("NN_KERNEL").ok().as_deref());
            let index = Isa::ALL.iter().position(|&i| i == isa).unwrap_or(0);
            ACTIVE.store(index as u8 + 1, Ordering::Relaxed);
            isa
        }
        i => Isa::ALL[usize::from(i) - 1],
    }
}

fn choose(forced: Option<&str>) -> Isa {
    let best = Isa::best();
    let Some(name) = forced.filter(|n| !n.trim().is_empty()) else {
        return best;
    };
    match Isa::from_name(name) {
        Some(isa) if isa.supported() => isa,
        Some(isa) => {
            eprintln!(
                "NN_KERNEL={name}: this CPU cannot run the {} path; using {}",
                isa.name(),
                best.name()
            );
            best
        }
        None => {
            eprintln!(
                "NN_KERNEL={name}: unknown (expected portable, avx2 or avx512); using {}",
                best.name()
            );
            best
        }
    }
}

/// Clones of the generic loops with one path's target features enabled, so that the compiler
/// vectorises them to its register width. Callable only where the CPU has them.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    use super::imp;

    /// One module of clones: `$features` enabled, vecmat blocks `$vf32`/`$vf64` wide (the
    /// widest whose accumulators fit the register file).
    macro_rules! clones {
        ($name:ident, $features:literal, $vf32:literal, $vf64:literal) => {
            pub(super) mod $name {
                use super::imp;

                #[target_feature(enable = $features)]
                pub(crate) fn vecmat_f32(x: &[f32], w: &[f32], out: &mut [f32]) {
                    imp::vecmat::<f32, $vf32, true>(x, w, out)
                }

                #[target_feature(enable = $features)]
                pub(crate) fn vecmat_f64(x: &[f64], w: &[f64], out: &mut [f64]) {
                    imp::vecmat::<f64, $vf64, true>(x, w, out)
                }

                #[target_feature(enable = $features)]
                pub(crate) fn sigmoid_f32(v: &mut [f32]) {
                    imp::sigmoid_f32(v)
                }

                #[target_feature(enable = $features)]
                pub(crate) fn tanh_f32(v: &mut [f32]) {
                    imp::tanh_f32(v)
                }

                #[target_feature(enable = $features)]
                pub(crate) fn max<T: num_traits::Float>(x: &[T]) -> T {
                    imp::max(x)
                }

                #[target_feature(enable = $features)]
                pub(crate) fn exp_sum_f32(x: &[f32], shift: f32, out: Option<&mut [f32]>) -> f32 {
                    imp::exp_sum(x, shift, out, imp::exp_f32)
                }

                #[target_feature(enable = $features)]
                pub(crate) fn exp_sum_inplace_f32(v: &mut [f32], shift: f32) -> f32 {
                    imp::exp_sum_inplace(v, shift, imp::exp_f32)
                }

                #[target_feature(enable = $features)]
                pub(crate) fn add_max<T: num_traits::Float>(v: &mut [T], b: &[T]) -> T {
                    imp::add_max(v, b)
                }

                #[target_feature(enable = $features)]
                pub(crate) fn lstm_row_grad<T: num_traits::Float>(
                    gates: &mut [T],
                    state: (&[T], &[T]),
                    grad: (&[T], &[T]),
                    dc: &mut [T],
                ) {
                    imp::lstm_row_grad(gates, state, grad, dc)
                }

                #[target_feature(enable = $features)]
                pub(crate) fn adam<T: num_traits::Float>(
                    w: &mut [T],
                    m: &mut [T],
                    v: &mut [T],
                    g: &[T],
                    c: [T; 5],
                ) {
                    imp::adam(w, m, v, g, c)
                }
            }
        };
    }

    clones!(avx2, "avx2,fma", 64, 32);
    clones!(avx512, "avx512f,avx512vl,avx2,fma", 128, 64);

    /// The logistic sigmoid in AVX2 intrinsics: `imp::exp_f32`'s reduction and polynomial with
    /// fused multiply-adds, the power of two built in one step (`e^{-x}` only needs its
    /// exponent's full range upwards: downwards `1 + e^{-x}` is 1 long before it would
    /// underflow), and two vectors in flight. The compiled generic loop, without fused
    /// multiply-adds and with its two-step power of two, took 1.83 ms for 1.5 million values
    /// where this takes 1.03 (one thread, Zen 3).
    pub(super) mod exp256 {
        use std::arch::x86_64::*;

        use super::super::imp::{EXP_POLY, LN2_HI, LN2_LO};

        /// `1 / (1 + e^{-x})` for 8 lanes; `0` below `-88.72…` (where `e^{-x}` leaves `f32`'s
        /// range), NaN kept.
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        fn sigmoid8(x: __m256) -> __m256 {
            let (hi, lo) = (_mm256_set1_ps(88.72283), _mm256_set1_ps(-87.33654));
            let one = _mm256_set1_ps(1.0);
            // `-x` second, so that a NaN passes through both.
            let z = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_sub_ps(_mm256_setzero_ps(), x)));
            // 1.5 · 2^23: adding it rounds to an integer held in the low mantissa bits.
            let magic = _mm256_set1_ps(12_582_912.0);
            let t = _mm256_fmadd_ps(z, _mm256_set1_ps(std::f32::consts::LOG2_E), magic);
            let n = _mm256_sub_ps(t, magic);
            let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), z);
            let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
            let mut p = _mm256_set1_ps(EXP_POLY[0]);
            for &c in &EXP_POLY[1..] {
                p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
            }
            let y = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), one);
            // 2^(n − 1) from n's bits in `t` (n from -126 to 128), and y doubled: at n = -126
            // the power is 0, where 1 + e^{-x} is 1 either way.
            let bits =
                _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B40_0000 - 126));
            let e = _mm256_mul_ps(
                _mm256_add_ps(y, y),
                _mm256_castsi256_ps(_mm256_slli_epi32::<23>(bits)),
            );
            let s = _mm256_div_ps(one, _mm256_add_ps(one, e));
            _mm256_andnot_ps(_mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_set1_ps(-88.72283)), s)
        }

        /// `v ← 1 / (1 + e^{-v})`.
        #[target_feature(enable = "avx2,fma")]
        #[allow(unsafe_code)]
        pub(crate) fn sigmoid(v: &mut [f32]) {
            let mut pairs = v.chunks_exact_mut(16);
            for pair in &mut pairs {
                let p = pair.as_mut_ptr();
                // SAFETY: `pair` holds 16 values.
                unsafe {
                    let (a, b) = (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)));
                    _mm256_storeu_ps(p, sigmoid8(a));
                    _mm256_storeu_ps(p.add(8), sigmoid8(b));
                }
            }
            for rest in pairs.into_remainder().chunks_mut(8) {
                let lanes: [i32; 8] = std::array::from_fn(|l| -i32::from(l < rest.len()));
                let p = rest.as_mut_ptr();
                // SAFETY: the mask covers `rest`'s values alone.
                unsafe {
                    let mask = _mm256_loadu_si256(lanes.as_ptr().cast());
                    let x = _mm256_maskload_ps(p, mask);
                    _mm256_maskstore_ps(p, mask, sigmoid8(x));
                }
            }
        }
    }

    /// `Σ e^(x − shift)` in AVX-512 intrinsics: `imp::exp_f32`'s reduction and polynomial with
    /// fused multiply-adds, and the power of two put on by `vscalefps` instead of built from
    /// bits in two halves — half the instructions of the compiled generic loop (a softmax over
    /// 10,000 words is mostly this).
    pub(super) mod exp512 {
        use std::arch::x86_64::*;

        use super::super::imp::{EXP_POLY, LN2_HI, LN2_LO};

        /// `e^x` for 16 lanes; the same range and special values as `imp::exp_f32` (`+∞`
        /// above its range, `0` below, NaN kept).
        #[target_feature(enable = "avx512f")]
        #[inline]
        fn exp16(x: __m512) -> __m512 {
            let (hi, lo) = (_mm512_set1_ps(88.72283), _mm512_set1_ps(-87.33654));
            // `x` second, so that a NaN passes through both.
            let xc = _mm512_min_ps(hi, _mm512_max_ps(lo, x));
            let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                _mm512_mul_ps(xc, _mm512_set1_ps(std::f32::consts::LOG2_E)),
            );
            let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), xc);
            let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
            let mut p = _mm512_set1_ps(EXP_POLY[0]);
            for &c in &EXP_POLY[1..] {
                p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
            }
            let y = _mm512_add_ps(
                _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r),
                _mm512_set1_ps(1.0),
            );
            let e = _mm512_scalef_ps(y, n);
            let above = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, hi);
            let below = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, lo);
            let e = _mm512_mask_blend_ps(above, e, _mm512_set1_ps(f32::INFINITY));
            _mm512_maskz_mov_ps(!below, e)
        }

        #[target_feature(enable = "avx512f")]
        #[allow(unsafe_code)]
        pub(crate) fn exp_sum(x: &[f32], shift: f32, mut out: Option<&mut [f32]>) -> f32 {
            let s = _mm512_set1_ps(shift);
            let mut acc = _mm512_setzero_ps();
            for (i, chunk) in x.chunks(16).enumerate() {
                let mask = (u32::MAX >> (32 - chunk.len())) as u16;
                // SAFETY: the mask covers `chunk`'s values alone; `out` is at least as long
                // as `x` (checked by `kernels::exp_sum`).
                let v = unsafe { _mm512_maskz_loadu_ps(mask, chunk.as_ptr()) };
                let e = _mm512_maskz_mov_ps(mask, exp16(_mm512_sub_ps(v, s)));
                if let Some(out) = out.as_deref_mut() {
                    unsafe { _mm512_mask_storeu_ps(out.as_mut_ptr().add(16 * i), mask, e) };
                }
                acc = _mm512_add_ps(acc, e);
            }
            _mm512_reduce_add_ps(acc)
        }

        /// [`exp_sum`] with the terms written over `v`: the same sums, in the same order.
        #[target_feature(enable = "avx512f")]
        #[allow(unsafe_code)]
        pub(crate) fn exp_sum_inplace(v: &mut [f32], shift: f32) -> f32 {
            let s = _mm512_set1_ps(shift);
            let mut acc = _mm512_setzero_ps();
            for chunk in v.chunks_mut(16) {
                let mask = (u32::MAX >> (32 - chunk.len())) as u16;
                // SAFETY: the mask covers `chunk`'s values alone.
                let x = unsafe { _mm512_maskz_loadu_ps(mask, chunk.as_ptr()) };
                let e = _mm512_maskz_mov_ps(mask, exp16(_mm512_sub_ps(x, s)));
                unsafe { _mm512_mask_storeu_ps(chunk.as_mut_ptr(), mask, e) };
                acc = _mm512_add_ps(acc, e);
            }
            _mm512_reduce_add_ps(acc)
        }
    }

    /// 16 × 16 blocks of 32-bit values transposed in registers (four rounds of shuffles),
    /// loaded and stored as whole rows; edge blocks through masks.
    pub(super) mod transpose512 {
        use std::arch::x86_64::*;
        use std::mem::MaybeUninit;

        /// `dst (c, r)`, rows `r` apart, becomes the transpose of `src (r, c)`, rows `ld`
        /// apart.
        ///
        /// # Panics
        /// If `src` or `dst` is too short.
        #[target_feature(enable = "avx512f")]
        pub(crate) fn transpose_u32(
            src: &[u32],
            ld: usize,
            (r, c): (usize, usize),
            dst: &mut [MaybeUninit<u32>],
        ) {
            if r == 0 || c == 0 {
                return;
            }
            assert!(
                ld >= c && src.len() >= (r - 1) * ld + c,
                "transpose: source too short"
            );
            assert!(dst.len() >= r * c, "transpose: destination too short");
            let (s, d) = (src.as_ptr().cast::<f32>(), dst.as_mut_ptr().cast::<f32>());
            for i0 in (0..r).step_by(16) {
                let rows = (r - i0).min(16);
                let row_mask: __mmask16 = if rows == 16 { !0 } else { (1 << rows) - 1 };
                for j0 in (0..c).step_by(16) {
                    let cols = (c - j0).min(16);
                    let col_mask: __mmask16 = if cols == 16 { !0 } else { (1 << cols) - 1 };
                    let mut v: [__m512; 16] = std::array::from_fn(|k| {
                        if k < rows {
                            // SAFETY: row `i0 + k` < r, columns `j0..j0 + cols` < c, masked.
                            unsafe { _mm512_maskz_loadu_ps(col_mask, s.add((i0 + k) * ld + j0)) }
                        } else {
                            _mm512_setzero_ps()
                        }
                    });
                    transpose16(&mut v);
                    for (k, v) in v.iter().enumerate().take(cols) {
                        // SAFETY: output row `j0 + k` < c, columns `i0..i0 + rows` < r, masked.
                        unsafe { _mm512_mask_storeu_ps(d.add((j0 + k) * r + i0), row_mask, *v) };
                    }
                }
            }
        }

        /// Row `k` of the result holds lane `k` of each input row.
        #[target_feature(enable = "avx512f")]
        #[inline]
        fn transpose16(v: &mut [__m512; 16]) {
            let mut t = [_mm512_setzero_ps(); 16];
            for k in 0..8 {
                t[2 * k] = _mm512_unpacklo_ps(v[2 * k], v[2 * k + 1]);
                t[2 * k + 1] = _mm512_unpackhi_ps(v[2 * k], v[2 * k + 1]);
            }
            for k in 0..4 {
                let (a, b, c, d) = (t[4 * k], t[4 * k + 1], t[4 * k + 2], t[4 * k + 3]);
                v[4 * k] =
                    _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(c)));
                v[4 * k + 1] =
                    _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(c)));
                v[4 * k + 2] =
                    _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(b), _mm512_castps_pd(d)));
                v[4 * k + 3] =
                    _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(b), _mm512_castps_pd(d)));
            }
            for k in 0..2 {
                for q in 0..4 {
                    let (a, b) = (v[8 * k + q], v[8 * k + 4 + q]);
                    t[8 * k + q] = _mm512_shuffle_f32x4::<0x88>(a, b);
                    t[8 * k + 4 + q] = _mm512_shuffle_f32x4::<0xdd>(a, b);
                }
            }
            for q in 0..8 {
                let (a, b) = (t[q], t[8 + q]);
                v[q] = _mm512_shuffle_f32x4::<0x88>(a, b);
                v[8 + q] = _mm512_shuffle_f32x4::<0xdd>(a, b);
            }
        }
    }

    /// The panel kernel and its packing, on AVX2 only: where AVX-512 is present, matrixmultiply's
    /// AVX-512 kernel beat it (`kernels::panels_win`), and the generic tile compiled with
    /// AVX-512 is vectorised across rows (gathers), twenty times slower. `f32` products run
    /// the short-side kernel's tiles instead (`skinny::gemm_packed`); the generic tile here
    /// serves `f64`.
    pub(super) mod panels_avx2 {
        use super::imp;

        #[target_feature(enable = "avx2,fma")]
        pub(crate) fn pack_panels<T: num_traits::Float, const COLS: bool>(
            w: &[T],
            ld: usize,
            kn: (usize, usize),
            alpha: T,
            data: &mut [T],
        ) {
            imp::pack_panels::<T, COLS>(w, ld, kn, alpha, data)
        }

        #[target_feature(enable = "avx2,fma")]
        pub(crate) fn gemm_packed<T: num_traits::Float, const COLS: bool>(
            a: &[T],
            ld: usize,
            (m, k): (usize, usize),
            w: &[T],
            n: usize,
            out: &mut [T],
        ) {
            imp::gemm_packed::<T, true, COLS>(a, ld, m, k, w, n, out)
        }
    }
}

/// Runs `$call` from the module of `$isa`'s clones, or `$portable` where the CPU lacks it.
macro_rules! on_path {
    ($isa:expr, $name:ident $(::<$($g:tt),*>)? ($($arg:expr),*), $portable:expr) => {{
        #[cfg(target_arch = "x86_64")]
        {
            let isa: Isa = $isa;
            // SAFETY: a path's clone runs only where `supported` found its features.
            #[allow(unsafe_code)]
            match isa {
                Isa::Avx512 if isa.supported() => {
                    return unsafe { x86::avx512::$name $(::<$($g),*>)? ($($arg),*) };
                }
                Isa::Avx2 | Isa::Avx512 if Isa::Avx2.supported() => {
                    return unsafe { x86::avx2::$name $(::<$($g),*>)? ($($arg),*) };
                }
                _ => {}
            }
        }
        $portable
    }};
}

pub(crate) fn vecmat_f32(isa: Isa, x: &[f32], w: &[f32], out: &mut [f32]) {
    on_path!(
        isa,
        vecmat_f32(x, w, out),
        imp::vecmat::<f32, 32, false>(x, w, out)
    )
}

pub(crate) fn vecmat_f64(isa: Isa, x: &[f64], w: &[f64], out: &mut [f64]) {
    on_path!(
        isa,
        vecmat_f64(x, w, out),
        imp::vecmat::<f64, 16, false>(x, w, out)
    )
}

pub(crate) fn sigmoid_f32(isa: Isa, v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx2 && isa.supported() {
        // SAFETY: the CPU has AVX2 and FMA.
        #[allow(unsafe_code)]
        return unsafe { x86::exp256::sigmoid(v) };
    }
    on_path!(isa, sigmoid_f32(v), imp::sigmoid_f32(v))
}

pub(crate) fn tanh_f32(isa: Isa, v: &mut [f32]) {
    on_path!(isa, tanh_f32(v), imp::tanh_f32(v))
}

pub(crate) fn max<T: num_traits::Float>(isa: Isa, x: &[T]) -> T {
    on_path!(isa, max(x), imp::max(x))
}

pub(crate) fn exp_sum_f32(isa: Isa, x: &[f32], shift: f32, out: Option<&mut [f32]>) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && isa.supported() {
        // SAFETY: the CPU has AVX-512.
        #[allow(unsafe_code)]
        return unsafe { x86::exp512::exp_sum(x, shift, out) };
    }
    on_path!(
        isa,
        exp_sum_f32(x, shift, out),
        imp::exp_sum(x, shift, out, imp::exp_f32)
    )
}

pub(crate) fn exp_sum_inplace_f32(isa: Isa, v: &mut [f32], shift: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && isa.supported() {
        // SAFETY: the CPU has AVX-512.
        #[allow(unsafe_code)]
        return unsafe { x86::exp512::exp_sum_inplace(v, shift) };
    }
    on_path!(
        isa,
        exp_sum_inplace_f32(v, shift),
        imp::exp_sum_inplace(v, shift, imp::exp_f32)
    )
}

pub(crate) fn exp_sum_inplace_f64(_isa: Isa, v: &mut [f64], shift: f64) -> f64 {
    imp::exp_sum_inplace(v, shift, f64::exp)
}

pub(crate) fn add_max<T: num_traits::Float>(isa: Isa, v: &mut [T], b: &[T]) -> T {
    on_path!(isa, add_max(v, b), imp::add_max(v, b))
}

/// The standard library's `exp` does not vectorise: every path runs the same loop.
pub(crate) fn exp_sum_f64(_isa: Isa, x: &[f64], shift: f64, out: Option<&mut [f64]>) -> f64 {
    imp::exp_sum(x, shift, out, f64::exp)
}

pub(crate) fn lstm_row_grad<T: num_traits::Float>(
    isa: Isa,
    gates: &mut [T],
    state: (&[T], &[T]),
    grad: (&[T], &[T]),
    dc: &mut [T],
) {
    on_path!(
        isa,
        lstm_row_grad(gates, state, grad, dc),
        imp::lstm_row_grad(gates, state, grad, dc)
    )
}

pub(crate) fn adam<T: num_traits::Float>(
    isa: Isa,
    w: &mut [T],
    m: &mut [T],
    v: &mut [T],
    g: &[T],
    c: [T; 5],
) {
    on_path!(isa, adam(w, m, v, g, c), imp::adam(w, m, v, g, c))
}

/// `alpha · w` into `data` in panels; `w (k, n)` has rows `ld` apart, or columns if `COLS`.
pub(crate) fn pack_panels<T: num_traits::Float, const COLS: bool>(
    isa: Isa,
    w: &[T],
    ld: usize,
    kn: (usize, usize),
    alpha: T,
    data: &mut [T],
) {
    #[cfg(target_arch = "x86_64")]
    if isa >= Isa::Avx2 && Isa::Avx2.supported() {
        // SAFETY: the CPU has AVX2 and FMA.
        #[allow(unsafe_code)]
        return unsafe { x86::panels_avx2::pack_panels::<T, COLS>(w, ld, kn, alpha, data) };
    }
    imp::pack_panels::<T, COLS>(w, ld, kn, alpha, data)
}

/// The standard library's `exp` does not vectorise, so every path runs the same loop.
pub(crate) fn sigmoid_f64(_isa: Isa, v: &mut [f64]) {
    imp::sigmoid_generic(v)
}

/// `dst (c, r)` ← `src (r, c)`ᵀ for 32-bit values, rows of `src` `ld` apart, every value of
/// `dst`'s first `r · c` written, on the AVX-512 path; `false` (nothing written) on the others,
/// whose callers copy through ndarray.
pub(crate) fn transpose_u32(
    isa: Isa,
    src: &[u32],
    ld: usize,
    rc: (usize, usize),
    dst: &mut [std::mem::MaybeUninit<u32>],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && isa.supported() {
        // SAFETY: the CPU has AVX-512.
        #[allow(unsafe_code)]
        unsafe {
            x86::transpose512::transpose_u32(src, ld, rc, dst)
        };
        return true;
    }
    let _ = (isa, src, ld, rc, dst);
    false
}

/// The standard library's `tanh`, for the same reason.
pub(crate) fn tanh_f64(_isa: Isa, v: &mut [f64]) {
    v.iter_mut().for_each(|x| *x = x.tanh());
}

fn gemm_packed_layout<T: num_traits::Float, const COLS: bool>(
    isa: Isa,
    a: &[T],
    ld: usize,
    (m, k): (usize, usize),
    w: &[T],
    n: usize,
    out: &mut [T],
) {
    #[cfg(target_arch = "x86_64")]
    if isa >= Isa::Avx2 && Isa::Avx2.supported() {
        // SAFETY: the CPU has AVX2 and FMA.
        #[allow(unsafe_code)]
        return unsafe { x86::panels_avx2::gemm_packed::<T, COLS>(a, ld, (m, k), w, n, out) };
    }
    imp::gemm_packed::<T, false, COLS>(a, ld, m, k, w, n, out)
}

/// The packed kernel on raw slices: A's element `(r, kk)` is `a[kk · ld + r]` if `cols`,
/// else `a[r · ld + kk]`; `w` packed as in `PackedMatrix`, `out` row-major with `n` columns.
pub(crate) fn gemm_packed<T: num_traits::Float>(
    isa: Isa,
    (a, ld, cols): (&[T], usize, bool),
    (m, k): (usize, usize),
    w: &[T],
    n: usize,
    out: &mut [T],
) {
    if cols {
        gemm_packed_layout::<T, true>(isa, a, ld, (m, k), w, n, out)
    } else {
        gemm_packed_layout::<T, false>(isa, a, ld, (m, k), w, n, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_forcing_falls_back() {
        for isa in Isa::ALL {
            assert_eq!(Isa::from_name(isa.name()), Some(isa));
        }
        assert_eq!(Isa::from_name(" AVX512 "), Some(Isa::Avx512));
        assert_eq!(Isa::from_name("sse9"), None);
        assert_eq!(choose(None), Isa::best());
        assert_eq!(choose(Some("")), Isa::best());
        assert_eq!(choose(Some("sse9")), Isa::best());
        assert_eq!(choose(Some("portable")), Isa::Portable);
        for isa in Isa::ALL {
            let expect = if isa.supported() { isa } else { Isa::best() };
            assert_eq!(choose(Some(isa.name())), expect);
        }
        assert!(Isa::available().contains(&active_isa()));
    }
}
