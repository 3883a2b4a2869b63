//! The element types a [`Tensor`](crate::Tensor) can hold: `f32` for training, `f64` for
//! gradient checks.

use std::cell::RefCell;
use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};
use std::thread::LocalKey;

use ndarray::{ArrayView2, ArrayViewMut2, LinalgScalar, ScalarOperand};
use rand::Rng;
use rand_distr::uniform::SampleUniform;
use rand_distr::{Distribution, StandardNormal};

use crate::kernels::{Isa, isa};
use crate::tape::Tape;

/// A floating-point element type (`f32` or `f64`).
///
/// Each type has its own thread-local tape, so `f32` and `f64` graphs never mix.
pub trait Float:
    num_traits::Float
    + LinalgScalar
    + ScalarOperand
    + SampleUniform
    + Debug
    + Display
    + Default
    + Send
    + Sync
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + sealed::Sealed
    + 'static
{
    /// The type's name, for messages (`"f32"`).
    const NAME: &'static str;
    /// Converts an `f64` literal or value (rounding for `f32`).
    fn lit(x: f64) -> Self;
    /// Widens to `f64`.
    fn as_f64(self) -> f64;
    /// The error function, for the exact GELU.
    fn erf(self) -> Self;
    /// One draw from the standard normal distribution.
    fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self;
}

pub(crate) mod sealed {
    use super::*;

    /// Gives each float type its own tape; not implementable outside this crate.
    pub trait Sealed: Sized + 'static {
        fn tape_key() -> &'static LocalKey<RefCell<Tape<Self>>>
        where
            Self: Float;
        /// [`crate::kernels::vecmat_add`] for this type (sizes already checked).
        fn vecmat_add_impl(isa: Isa, x: &[Self], w: &[Self], out: &mut [Self]);
        /// [`crate::kernels::sigmoid_inplace`] for this type.
        fn sigmoid_impl(isa: Isa, v: &mut [Self]);
        /// [`crate::kernels::tanh_inplace`] for this type.
        fn tanh_impl(isa: Isa, v: &mut [Self]);
        /// [`crate::kernels::exp_sum`] for this type.
        fn exp_sum_impl(isa: Isa, x: &[Self], shift: Self, out: Option<&mut [Self]>) -> Self;
        /// [`crate::kernels::exp_sum_inplace`] for this type.
        fn exp_sum_inplace_impl(isa: Isa, v: &mut [Self], shift: Self) -> Self;
        /// A per-thread scratch buffer for packing the right operand of [`crate::kernels::gemm`]
        /// (reused so that large products do not map fresh pages on every call).
        fn pack_buffer() -> &'static LocalKey<RefCell<Vec<Self>>>;
        /// A per-thread scratch buffer for a convolution's unrolled image (reused for the same
        /// reason; its contents are whatever the last user left).
        fn col_buffer() -> &'static LocalKey<RefCell<Vec<Self>>>;
        /// The packed-panel product for this type on the path `isa` (see `kernels::isa`).
        fn gemm_packed_impl(
            isa: Isa,
            a: (&[Self], usize, bool),
            mk: (usize, usize),
            w: &[Self],
            n: usize,
            out: &mut [Self],
        );
        /// `c = α a b + β c` by a kernel for one short side, if one fits (see `kernels::skinny`).
        fn skinny_gemm_impl(
            isa: Isa,
            threads: usize,
            alpha: Self,
            a: &ArrayView2<'_, Self>,
            b: &ArrayView2<'_, Self>,
            beta: Self,
            c: &mut ArrayViewMut2<'_, Self>,
        ) -> bool;
    }
}

macro_rules! impl_float {
    ($t:ty, $erf:path, $key:ident, $buf:ident, $col:ident, $vecmat:path, $sigmoid:path, $tanh:path, $exp_sum:path, $exp_inplace:path, $gemm:path, $skinny:expr) => {
        thread_local! {
            static $key: RefCell<Tape<$t>> = RefCell::new(Tape::new());
            static $buf: RefCell<Vec<$t>> = const { RefCell::new(Vec::new()) };
            static $col: RefCell<Vec<$t>> = const { RefCell::new(Vec::new()) };
        }

        impl sealed::Sealed for $t {
            fn tape_key() -> &'static LocalKey<RefCell<Tape<Self>>> {
                &$key
            }
            fn vecmat_add_impl(isa: Isa, x: &[Self], w: &[Self], out: &mut [Self]) {
                $vecmat(isa, x, w, out)
            }
            fn sigmoid_impl(isa: Isa, v: &mut [Self]) {
                $sigmoid(isa, v)
            }
            fn tanh_impl(isa: Isa, v: &mut [Self]) {
                $tanh(isa, v)
            }
            fn exp_sum_impl(isa: Isa, x: &[Self], shift: Self, out: Option<&mut [Self]>) -> Self {
                $exp_sum(isa, x, shift, out)
            }
            fn exp_sum_inplace_impl(isa: Isa, v: &mut [Self], shift: Self) -> Self {
                $exp_inplace(isa, v, shift)
            }
            fn pack_buffer() -> &'static LocalKey<RefCell<Vec<Self>>> {
                &$buf
            }
            fn col_buffer() -> &'static LocalKey<RefCell<Vec<Self>>> {
                &$col
            }
            fn gemm_packed_impl(
                isa: Isa,
                a: (&[Self], usize, bool),
                mk: (usize, usize),
                w: &[Self],
                n: usize,
                out: &mut [Self],
            ) {
                $gemm(isa, a, mk, w, n, out)
            }
            fn skinny_gemm_impl(
                isa: Isa,
                threads: usize,
                alpha: Self,
                a: &ArrayView2<'_, Self>,
                b: &ArrayView2<'_, Self>,
                beta: Self,
                c: &mut ArrayViewMut2<'_, Self>,
            ) -> bool {
                $skinny(isa, threads, alpha, a, b, beta, c)
            }
        }

        impl Float for $t {
            const NAME: &'static str = stringify!($t);
            #[inline]
            fn lit(x: f64) -> Self {
                x as $t
            }
            #[inline]
            fn as_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn erf(self) -> Self {
                $erf(self)
            }
            #[inline]
            fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self {
                StandardNormal.sample(rng)
            }
        }
    };
}

impl_float!(
    f32,
    libm::erff,
    TAPE_F32,
    PACK_F32,
    COL_F32,
    isa::vecmat_f32,
    isa::sigmoid_f32,
    isa::tanh_f32,
    isa::exp_sum_f32,
    isa::exp_sum_inplace_f32,
    crate::kernels::skinny::gemm_packed::<f32>,
    crate::kernels::skinny::gemm::<f32>
);
impl_float!(
    f64,
    libm::erf,
    TAPE_F64,
    PACK_F64,
    COL_F64,
    isa::vecmat_f64,
    isa::sigmoid_f64,
    isa::tanh_f64,
    isa::exp_sum_f64,
    isa::exp_sum_inplace_f64,
    crate::kernels::skinny::gemm_packed::<f64>,
    crate::kernels::skinny::gemm::<f64>
);
