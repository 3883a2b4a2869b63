use super::*;
use crate::float::sealed::Sealed;
use ndarray::Array2;

fn arr(m: usize, n: usize, seed: u64) -> Array2<f64> {
    crate::test_util::rand(&[m, n], seed)
        .into_dimensionality()
        .expect("2-D")
}

/// `a`'s transpose in row-major memory, so that `transposed(a).t()` is column-major (`to_owned`
/// of a transposed view would keep the view's layout).
fn transposed(a: &Array2<f64>) -> Array2<f64> {
    let t = a.t().as_standard_layout().into_owned();
    assert!(
        t.is_standard_layout() && (a.nrows().min(a.ncols()) < 2 || !t.t().is_standard_layout())
    );
    t
}

fn max_err(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    (a - b).mapv(f64::abs).fold(0.0f64, |m, &v| m.max(v))
}

/// `(m, k, n)`: the networks' shapes, tiny ones, and remainders of every tile size.
const GEMM_SHAPES: [(usize, usize, usize); 7] = [
    (100, 784, 100),
    (3, 5, 7),
    (784, 100, 100),
    (20, 600, 900),
    (100, 100, 10),
    (7, 300, 13),
    (131, 520, 47),
];

#[test]
fn gemm_matches_ndarray_on_every_path_and_split() {
    for isa in Isa::available() {
        for threads in [1, 2, 3, 4] {
            set_num_threads(threads);
            for (m, k, n) in GEMM_SHAPES {
                let at = format!("{isa:?}, {threads} threads, ({m},{k},{n})");
                let (a, b) = (arr(m, k, 1), arr(k, n, 2));
                let mut c = arr(m, n, 3);
                let expect = a.dot(&b) * 0.5 + &c * 2.0;
                gemm_on(isa, 0.5, &a.view(), &b.view(), 2.0, &mut c.view_mut());
                let err = max_err(&c, &expect);
                assert!(err < 1e-9, "{at}: error {err}");
                // A column-major (a transposed array, as in Xᵀ G) and B transposed (G Wᵀ).
                let (at_, bt) = (transposed(&a), transposed(&b));
                let mut c2 = Array2::zeros((m, n));
                gemm_on(isa, 1.0, &at_.t(), &bt.t(), 0.0, &mut c2.view_mut());
                let err = max_err(&c2, &a.dot(&b));
                assert!(err < 1e-9, "{at}, transposed: error {err}");
                let mut c3 = Array2::zeros((m, n));
                gemm_on(isa, 1.0, &a.view(), &bt.t(), 0.0, &mut c3.view_mut());
                let err = max_err(&c3, &a.dot(&b));
                assert!(err < 1e-9, "{at}, B transposed: error {err}");
                // f32, where AVX2 takes the panel kernel.
                let (a32, b32) = (a.mapv(|v| v as f32), b.mapv(|v| v as f32));
                let mut c32 = Array2::<f32>::zeros((m, n));
                gemm_on(isa, 1.0, &a32.view(), &b32.view(), 0.0, &mut c32.view_mut());
                let err = max_err(&c32.mapv(f64::from), &a.dot(&b));
                assert!(err < 1e-3, "{at}, f32: error {err}");
            }
        }
    }
}

/// The panel kernel on every path, whether or not `gemm` would pick it there: both layouts
/// of A (row- and column-major), B row-major and transposed, shapes on both sides of the
/// tiles and k-blocks.
#[test]
fn gemm_panels_matches_ndarray_on_every_path() {
    for isa in Isa::available() {
        for (m, k, n) in GEMM_SHAPES.into_iter().chain([(1, 1, 1)]) {
            let at = format!("{isa:?}, ({m},{k},{n})");
            let (a, b) = (arr(m, k, 1), arr(k, n, 2));
            let (at_, bt) = (transposed(&a), transposed(&b));
            let start = arr(m, n, 3);
            let expect = a.dot(&b) * 0.5 + &start * 2.0;
            for (name, av, bv) in [
                ("rows", a.view(), b.view()),
                ("A column-major", at_.t(), b.view()),
                ("B transposed", a.view(), bt.t()),
                ("both", at_.t(), bt.t()),
            ] {
                let mut c = start.clone();
                gemm_panels(isa, 0.5, &av, &bv, 2.0, &mut c.view_mut());
                let err = max_err(&c, &expect);
                assert!(err < 1e-9, "{at}, {name}: error {err}");
            }
            let (a32, b32) = (a.mapv(|v| v as f32), b.mapv(|v| v as f32));
            let mut c32 = Array2::<f32>::zeros((m, n));
            gemm_panels(isa, 1.0, &a32.view(), &b32.view(), 0.0, &mut c32.view_mut());
            let err = max_err(&c32.mapv(f64::from), &a.dot(&b));
            assert!(err < 1e-3, "{at}, f32: error {err}");
        }
    }
}

#[test]
fn gemm_packed_and_the_panel_kernel_match_ndarray_on_every_path_layout_and_tile_shape() {
    for isa in Isa::available() {
        for threads in [1, 2] {
            for m in [1, 2, 5, 6, 7, 11, 12, 13, 18, 23, 25, 100] {
                for n in [1, 8, 10, 16, 17, 24, 56, 100, 104] {
                    let k = if m == 100 { 784 } else { 37 + m };
                    let at = format!("{isa:?}, {threads} threads, ({m},{k},{n})");
                    let (x, w) = (arr(m, k, 7), arr(k, n, 8));
                    let start = arr(m, n, 9);
                    let expect = x.dot(&w) + &start;
                    let mut out = start.clone();
                    let packed = PackedMatrix::pack(&w.view());
                    packed::packed_product(isa, &x.view(), &packed, &mut out.view_mut(), threads);
                    let err = max_err(&out, &expect);
                    assert!(err < 1e-9, "{at}: error {err}");
                    if threads == 1 {
                        // The panel kernel over the same tile shapes: x row-major, column-major
                        // with W packed from its transpose's memory, and f32 through a copy of
                        // a non-contiguous x.
                        let (xt, wt) = (transposed(&x), transposed(&w));
                        for (name, xv, wv) in
                            [("rows", x.view(), w.view()), ("cols", xt.t(), wt.t())]
                        {
                            let mut out = start.clone();
                            gemm_panels(isa, 1.0, &xv, &wv, 1.0, &mut out.view_mut());
                            let err = max_err(&out, &expect);
                            assert!(err < 1e-9, "{at}, panels, {name}: error {err}");
                        }
                        let wide = Array2::from_shape_fn((m, 2 * k), |(i, j)| x[[i, j / 2]] as f32);
                        let w32 = w.mapv(|v| v as f32);
                        let (xt32, wt32) = (xt.mapv(|v| v as f32), wt.mapv(|v| v as f32));
                        for (name, xv, wv) in [
                            ("strided", wide.slice(ndarray::s![.., ..;2]), w32.view()),
                            ("cols", xt32.t(), wt32.t()),
                        ] {
                            let mut out32 = start.mapv(|v| v as f32);
                            gemm_panels(isa, 1.0, &xv, &wv, 1.0, &mut out32.view_mut());
                            let err = max_err(&out32.mapv(f64::from), &expect);
                            assert!(err < 1e-3, "{at}, panels, f32, {name}: error {err}");
                        }
                    }
                    // x column-major (as Xᵀ in the backward pass) and W packed from its
                    // transpose's memory (as Wᵀ).
                    let (xt, wt) = (transposed(&x), transposed(&w));
                    let mut out = start.clone();
                    let packed = PackedMatrix::pack(&wt.t());
                    packed::packed_product(isa, &xt.t(), &packed, &mut out.view_mut(), threads);
                    let err = max_err(&out, &expect);
                    assert!(err < 1e-9, "{at}, column-major: error {err}");
                    // f32, and x as a non-contiguous view (every other column of a wider array).
                    let wide = Array2::from_shape_fn((m, 2 * k), |(i, j)| x[[i, j / 2]] as f32);
                    let x32 = wide.slice(ndarray::s![.., ..;2]);
                    let w32 = w.mapv(|v| v as f32);
                    let mut out32 = start.mapv(|v| v as f32);
                    let packed = PackedMatrix::pack(&w32.view());
                    packed::packed_product(isa, &x32, &packed, &mut out32.view_mut(), threads);
                    let err = out32
                        .iter()
                        .zip(&expect)
                        .map(|(a, b)| (f64::from(*a) - b).abs())
                        .fold(0.0f64, f64::max);
                    assert!(err < 1e-3, "{at}, f32: error {err}");
                    // f32 with x row-major: on AVX-512 a batch this short goes to the
                    // short-side kernel.
                    let x32 = x.mapv(|v| v as f32);
                    let mut out32 = start.mapv(|v| v as f32);
                    packed::packed_product(
                        isa,
                        &x32.view(),
                        &packed,
                        &mut out32.view_mut(),
                        threads,
                    );
                    let err = out32
                        .iter()
                        .zip(&expect)
                        .map(|(a, b)| (f64::from(*a) - b).abs())
                        .fold(0.0f64, f64::max);
                    assert!(err < 1e-3, "{at}, f32 row-major: error {err}");
                }
            }
        }
    }
}

#[test]
fn vecmat_matches_a_matrix_product_on_every_path_and_width() {
    for isa in Isa::available() {
        for n in [1, 7, 8, 9, 16, 33, 50, 64, 100, 131, 200, 257] {
            let (x, w) = (arr(1, 37, 4), arr(37, n, 5));
            let bias = arr(1, n, 6);
            let expect = x.dot(&w) + &bias;
            let mut out = bias.as_slice().expect("standard layout").to_vec();
            f64::vecmat_add_impl(
                isa,
                x.as_slice().expect("standard layout"),
                w.as_slice().expect("standard layout"),
                &mut out,
            );
            for (o, e) in out.iter().zip(expect.iter()) {
                assert!((o - e).abs() < 1e-12, "{isa:?}, n = {n}: {o} vs {e}");
            }
            let (x32, w32) = (x.mapv(|v| v as f32), w.mapv(|v| v as f32));
            let mut out32: Vec<f32> = bias.iter().map(|&v| v as f32).collect();
            f32::vecmat_add_impl(
                isa,
                x32.as_slice().expect("standard layout"),
                w32.as_slice().expect("standard layout"),
                &mut out32,
            );
            for (o, e) in out32.iter().zip(expect.iter()) {
                let err = (f64::from(*o) - e).abs();
                assert!(err < 1e-4, "{isa:?}, f32, n = {n}: {o} vs {e}");
            }
        }
    }
}

#[test]
#[should_panic(expected = "vecmat_add: x has 3 entries and out 2, so W needs 6 entries, got 5")]
fn vecmat_names_the_sizes() {
    vecmat_add(&[0.0f32; 3], &[0.0; 5], &mut [0.0; 2]);
}

#[test]
fn sigmoid_f32_is_within_2_ulp_everywhere_on_every_path() {
    // One long slice, so the vector body (not only the scalar tail) is what gets checked.
    let xs: Vec<f32> = (0..600_000).map(|i| -110.0 + i as f32 * 0.000_37).collect();
    for isa in Isa::available() {
        let mut v = xs.clone();
        f32::sigmoid_impl(isa, &mut v);
        let mut worst = 0u32;
        for (&x, &got) in xs.iter().zip(&v) {
            let exact = (1.0 / (1.0 + (-f64::from(x)).exp())) as f32;
            if exact >= f32::MIN_POSITIVE {
                let ulp = (got.to_bits() as i64 - exact.to_bits() as i64).unsigned_abs() as u32;
                worst = worst.max(ulp);
            } else {
                assert!(got < f32::MIN_POSITIVE, "{isa:?}: sigmoid({x}) = {got}");
            }
        }
        assert!(worst <= 2, "{isa:?}: worst error {worst} ulp");
        let mut special = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY].repeat(11);
        f32::sigmoid_impl(isa, &mut special);
        for triple in special.chunks(3) {
            assert!(triple[0].is_nan(), "{isa:?}");
            assert_eq!(&triple[1..], &[1.0, 0.0], "{isa:?}");
        }
    }
}

#[test]
fn exp_f32_matches_the_standard_library() {
    let mut x = -100.0f32;
    while x < 100.0 {
        let (got, exact) = (imp::exp_f32(x), f64::from(x).exp());
        if exact > f64::from(f32::MAX) {
            assert_eq!(got, f32::INFINITY);
        } else if exact >= f64::from(f32::MIN_POSITIVE) {
            let rel = (f64::from(got) - exact).abs() / exact;
            assert!(rel < 3e-7, "exp({x}) = {got}, exact {exact}");
        }
        x += 0.0013;
    }
}

/// Every path's `exp_sum` against `f64`: each term within 2 ulp where it is a normal number,
/// flushed to zero below, `+∞` above, NaN kept; every tail length of the 16 lanes.
#[test]
fn exp_sum_is_within_2_ulp_on_every_path() {
    let xs: Vec<f32> = (0..400_000).map(|i| -95.0 + i as f32 * 0.000_44).collect();
    for isa in Isa::available() {
        for len in [xs.len(), 1, 15, 16, 17, 33] {
            let x = &xs[xs.len() - len..];
            let mut out = vec![0.0f32; len];
            let sum = isa::exp_sum_f32(isa, x, 1.5, Some(&mut out));
            let mut exact_sum = 0.0f64;
            for (&x, &got) in x.iter().zip(&out) {
                let exact = f64::from(x - 1.5).exp();
                exact_sum += exact;
                if exact > f64::from(f32::MAX) {
                    assert_eq!(got, f32::INFINITY, "{isa:?}: exp({x} - 1.5)");
                } else if exact >= f64::from(f32::MIN_POSITIVE) {
                    let ulp = (got.to_bits() as i64 - (exact as f32).to_bits() as i64).abs();
                    assert!(ulp <= 2, "{isa:?}: exp({x} - 1.5) = {got}, exact {exact}");
                } else {
                    assert!(got < f32::MIN_POSITIVE, "{isa:?}: exp({x} - 1.5) = {got}");
                }
            }
            let without = isa::exp_sum_f32(isa, x, 1.5, None);
            assert_eq!(sum.to_bits(), without.to_bits(), "{isa:?}: {len} values");
            if exact_sum.is_finite() {
                assert!(
                    ((f64::from(sum) - exact_sum) / exact_sum).abs() < 1e-5,
                    "{isa:?}"
                );
            }
        }
        let special = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            200.0,
            -200.0,
            0.0,
        ];
        let mut out = [0.0f32; 6];
        let sum = isa::exp_sum_f32(isa, &special, 0.0, Some(&mut out));
        assert!(out[0].is_nan() && sum.is_nan(), "{isa:?}: {out:?}");
        assert_eq!(
            &out[1..],
            &[f32::INFINITY, 0.0, f32::INFINITY, 0.0, 1.0],
            "{isa:?}"
        );
        let finite = isa::exp_sum_f32(isa, &special[2..], 0.0, None);
        assert_eq!(finite, f32::INFINITY, "{isa:?}");
    }
}

#[test]
fn adam_update_is_the_scalar_formula_on_every_path() {
    let n = 1003;
    let g: Vec<f32> = (0..n)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013)
        .collect();
    let w0: Vec<f32> = (0..n).map(|i| ((i * 11 % 17) as f32 - 8.0) * 0.1).collect();
    let m0: Vec<f32> = (0..n).map(|i| (i % 7) as f32 * 0.01).collect();
    let v0: Vec<f32> = (0..n).map(|i| (i % 5) as f32 * 0.001).collect();
    let (b1, b2, step, inv, eps) = (0.9f32, 0.999f32, 0.0123f32, 7.5f32, 1e-8f32);
    let mut expect = (w0.clone(), m0.clone(), v0.clone());
    for (i, &gi) in g.iter().enumerate() {
        let (w, m, v) = (&mut expect.0[i], &mut expect.1[i], &mut expect.2[i]);
        *m = b1 * *m + (1.0 - b1) * gi;
        *v = b2 * *v + (1.0 - b2) * gi * gi;
        *w -= step * *m / (v.sqrt() * inv + eps);
    }
    for isa in Isa::available() {
        let (mut w, mut m, mut v) = (w0.clone(), m0.clone(), v0.clone());
        isa::adam(isa, &mut w, &mut m, &mut v, &g, [b1, b2, step, inv, eps]);
        // The same operations in the same order: equal to the bit.
        assert_eq!((w, m, v), expect, "{isa:?}");
    }
}

/// An LSTM row's backward step is the unit-by-unit formula on every path (the same operations
/// in the same order, so the same bits), over widths with and without a vector tail.
#[test]
fn lstm_row_grad_is_the_scalar_formula_on_every_path() {
    let val = |i: usize, s: usize, lo: f32| lo + ((i * s % 97) as f32) / 97.0 * (1.0 - lo);
    for h in [1, 7, 16, 100, 257] {
        let gates0: Vec<f32> = (0..4 * h).map(|i| val(i, 13, 0.0)).collect();
        let tanh_c: Vec<f32> = (0..h).map(|i| val(i, 17, -1.0)).collect();
        let c_prev: Vec<f32> = (0..h).map(|i| 3.0 * val(i, 19, -1.0)).collect();
        let dh: Vec<f32> = (0..h).map(|i| val(i, 23, -1.0)).collect();
        let dh_next: Vec<f32> = (0..h).map(|i| 0.5 * val(i, 29, -1.0)).collect();
        let dc0: Vec<f32> = (0..h).map(|i| val(i, 31, -1.0)).collect();
        let (mut expect, mut expect_dc) = (gates0.clone(), dc0.clone());
        for k in 0..h {
            let [i, f, g, o] = [0, 1, 2, 3].map(|q| gates0[q * h + k]);
            let (t, d) = (tanh_c[k], dh[k] + dh_next[k]);
            let c = dc0[k] + d * o * (1.0 - t * t);
            expect[k] = c * g * i * (1.0 - i);
            expect[h + k] = c * c_prev[k] * f * (1.0 - f);
            expect[2 * h + k] = c * i * (1.0 - g * g);
            expect[3 * h + k] = d * t * o * (1.0 - o);
            expect_dc[k] = c * f;
        }
        for isa in Isa::available() {
            let (mut gates, mut dc) = (gates0.clone(), dc0.clone());
            isa::lstm_row_grad(
                isa,
                &mut gates,
                (&tanh_c, &c_prev),
                (&dh, &dh_next),
                &mut dc,
            );
            assert_eq!(
                (gates, dc),
                (expect.clone(), expect_dc.clone()),
                "{isa:?}, h = {h}"
            );
        }
    }
}

#[test]
#[should_panic(expected = "lstm_row_grad: 8 gate values and states of 2, 2, gradients of 1, 2")]
fn lstm_row_grad_names_the_lengths() {
    let mut dc = [0.0f32; 2];
    lstm_row_grad(
        &mut [0.0; 8],
        (&[0.0; 2], &[0.0; 2]),
        (&[0.0; 1], &[0.0; 2]),
        &mut dc,
    );
}

/// Gradients, weights and constants of an Adam step over `n` values.
fn adam_case(n: usize) -> (Vec<f32>, Vec<f32>, AdamStep<f32>) {
    let g = (0..n)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013)
        .collect();
    let w0 = (0..n).map(|i| ((i * 11 % 17) as f32 - 8.0) * 0.1).collect();
    let c = AdamStep {
        beta1: 0.9f32,
        beta2: 0.999,
        step: 0.0123,
        inv_sqrt_c2: 7.5,
        eps: 1e-8,
    };
    (g, w0, c)
}

/// A table large enough to be split over threads gets the same bits as one pass over it.
#[test]
fn adam_update_split_over_threads_equals_one_pass() {
    let n = 5 * ADAM_PAR_MIN_LEN + 77;
    let (g, w0, c) = adam_case(n);
    let run = |threads: usize| {
        let (mut w, mut m, mut v) = (w0.clone(), vec![0.01f32; n], vec![0.001f32; n]);
        with_num_threads(threads, || adam_update(&mut w, &mut m, &mut v, &g, c));
        (w, m, v)
    };
    assert_eq!(run(3), run(1));
}

/// While another thread is lent (as a data-parallel replica between steps), Adam steps and
/// `add_scaled` below the wake-up threshold are halved with it, with the bits of one pass.
#[test]
fn streaming_updates_halved_with_a_lent_thread_equal_one_pass() {
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let lent = std::thread::spawn(move || {
        while lend_thread(
            || stop_rx.try_recv().ok(),
            std::time::Duration::from_secs(5),
        )
        .is_none()
        {}
    });
    for n in [
        0,
        1,
        2 * HOT_PAR_MIN_LEN - 1,
        2 * HOT_PAR_MIN_LEN,
        3 * HOT_PAR_MIN_LEN + 77,
    ] {
        let (g, w0, c) = adam_case(n);
        let run = |threads: usize| {
            let (mut w, mut m, mut v) = (w0.clone(), vec![0.01f32; n], vec![0.001f32; n]);
            let mut y = w0.clone();
            with_num_threads(threads, || {
                adam_update(&mut w, &mut m, &mut v, &g, c);
                add_scaled(&mut y, -0.3, &g);
            });
            (w, m, v, y)
        };
        let one = run(1);
        assert_eq!(run(2), one, "{n} values");
        let y: Vec<f32> = w0.iter().zip(&g).map(|(&w, &g)| w + -0.3 * g).collect();
        assert_eq!(one.3, y, "{n} values");
    }
    stop_tx.send(()).unwrap();
    lent.join().unwrap();
}

#[test]
#[should_panic(expected = "add_scaled: y has 2 values, x 3")]
fn add_scaled_names_the_lengths() {
    add_scaled(&mut [0.0f32; 2], 1.0, &[0.0; 3]);
}

#[test]
#[should_panic(expected = "adam_update: w has 2 values, m 2, v 1, g 2")]
fn adam_update_names_the_lengths() {
    let c = AdamStep {
        beta1: 0.9f32,
        beta2: 0.999,
        step: 0.1,
        inv_sqrt_c2: 1.0,
        eps: 1e-8,
    };
    adam_update(&mut [0.0; 2], &mut [0.0; 2], &mut [0.0; 1], &[0.0; 2], c);
}

#[test]
fn packing_lays_out_panels_on_every_path_and_layout() {
    for isa in Isa::available() {
        for (k, n) in [
            (1, 1),
            (3, 8),
            (5, 9),
            (17, 16),
            (33, 17),
            (40, 100),
            (16, 24),
            (2, 33),
        ] {
            let w = arr(k, n, 4);
            let padded = n / 16 * 16
                + if n % 16 == 0 {
                    0
                } else {
                    packed::panel_width(n % 16)
                };
            let mut expect = vec![0.0; k * padded];
            for ((i, j), &v) in w.indexed_iter() {
                let j0 = j / 16 * 16;
                expect[j0 * k + i * packed::panel_width(n - j0) + (j - j0)] = 0.5 * v;
            }
            let wt = transposed(&w);
            let wide = Array2::from_shape_fn((k, 2 * n), |(i, j)| w[[i, j / 2]]);
            let strided = wide.slice(ndarray::s![.., ..;2]);
            for (layout, view) in [
                ("rows", w.view()),
                ("columns", wt.t()),
                ("strided", strided),
            ] {
                // A reused buffer holding garbage must come out the same.
                let mut data = vec![f64::NAN; 3];
                packed::pack_panels(isa, &view, 0.5, &mut data);
                assert_eq!(data, expect, "{isa:?}, {layout}, ({k},{n})");
                let mut data = vec![f64::NAN; k * padded + 5];
                packed::pack_panels(isa, &view, 0.5, &mut data);
                assert_eq!(
                    data[..k * padded],
                    expect[..],
                    "{isa:?}, {layout}, ({k},{n}), reused"
                );
            }
            let w32 = w.mapv(|v| v as f32);
            let wt32 = wt.mapv(|v| v as f32);
            let e32: Vec<f32> = expect.iter().map(|&v| v as f32).collect();
            for (layout, view) in [("rows", w32.view()), ("columns", wt32.t())] {
                let mut d32 = Vec::new();
                packed::pack_panels(isa, &view, 0.5f32, &mut d32);
                assert_eq!(d32, e32, "{isa:?}, {layout}, ({k},{n}), f32");
            }
        }
    }
}

#[test]
fn max_and_exp_sum_on_every_path() {
    // Lengths around the 16 lanes, so that both the vector body and the tail are checked.
    for len in [0usize, 1, 15, 16, 17, 100, 10_007] {
        let xs: Vec<f32> = (0..len)
            .map(|i| ((i * 7919) % 1000) as f32 * 0.02 - 12.0)
            .collect();
        let exact_max = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exact: Vec<f64> = xs
            .iter()
            // The difference rounded to f32 as the kernel computes it.
            .map(|&x| f64::from(x - exact_max).exp())
            .collect();
        let exact_sum: f64 = exact.iter().sum();
        for isa in Isa::available() {
            assert_eq!(isa::max(isa, &xs), exact_max, "{isa:?} {len}");
            let mut out = vec![0.0f32; len];
            let s = f32::exp_sum_impl(isa, &xs, exact_max, Some(&mut out));
            let s_only = f32::exp_sum_impl(isa, &xs, exact_max, None);
            assert_eq!(s, s_only, "{isa:?} {len}");
            assert!(
                (f64::from(s) - exact_sum).abs() <= 1e-6 * exact_sum.max(1.0),
                "{isa:?} {len}: {s} vs {exact_sum}"
            );
            for (&o, &e) in out.iter().zip(&exact) {
                assert!((f64::from(o) - e).abs() <= 3e-7 * e, "{isa:?}: {o} vs {e}");
            }
            // In place: the same terms and the same sum, to the bit.
            let mut inplace = xs.clone();
            assert_eq!(f32::exp_sum_inplace_impl(isa, &mut inplace, exact_max), s);
            assert_eq!(inplace, out, "{isa:?} {len}");
            // The bias and the maximum in one pass: the sums and the maximum of the sums.
            let bias: Vec<f32> = (0..len).map(|i| (i % 13) as f32 * 0.5 - 3.0).collect();
            let mut added = xs.clone();
            let m = isa::add_max(isa, &mut added, &bias);
            let want: Vec<f32> = xs.iter().zip(&bias).map(|(x, b)| x + b).collect();
            assert_eq!(added, want, "{isa:?} {len}");
            assert_eq!(m, isa::max(isa, &want), "{isa:?} {len}");
            let xs64: Vec<f64> = xs.iter().map(|&x| f64::from(x)).collect();
            let mut out64 = vec![0.0f64; len];
            let s64 = f64::exp_sum_impl(isa, &xs64, 1.0, Some(&mut out64));
            let mut in64 = xs64.clone();
            assert_eq!(f64::exp_sum_inplace_impl(isa, &mut in64, 1.0), s64);
            assert_eq!(in64, out64);
            let s64 = f64::exp_sum_impl(isa, &[0.0, 1.0], 1.0, None);
            assert_eq!(s64, (-1.0f64).exp() + 1.0);
        }
    }
    // NaN is passed over by the maximum and carried by the sum.
    let mut with_nan = vec![1.0f32; 40];
    with_nan[20] = f32::NAN;
    for isa in Isa::available() {
        assert_eq!(isa::max(isa, &with_nan), 1.0);
        let mut v = with_nan.clone();
        assert_eq!(isa::add_max(isa, &mut v, &[1.0; 40]), 2.0);
        assert!(v[20].is_nan());
        assert!(f32::exp_sum_impl(isa, &with_nan, 1.0, None).is_nan());
    }
}

#[test]
#[should_panic(expected = "add_max: 3 values and 2 to add")]
fn add_max_names_the_lengths() {
    add_max(&mut [0.0f32; 3], &[0.0; 2]);
}

#[test]
fn tanh_f32_is_within_3_ulp_everywhere_on_every_path() {
    // One long slice, so the vector body (not only the scalar tail) is what gets checked;
    // dense around the switch between the two formulas.
    let mut xs: Vec<f32> = (0..600_000).map(|i| -30.0 + i as f32 * 0.000_1).collect();
    xs.extend((0..100_000).map(|i| 0.6 + i as f32 * 0.000_000_5));
    xs.extend((0..10_000).map(|i| 1e-30 * (i + 1) as f32));
    for isa in Isa::available() {
        let mut v = xs.clone();
        f32::tanh_impl(isa, &mut v);
        let mut worst = 0u32;
        for (&x, &got) in xs.iter().zip(&v) {
            let exact = f64::from(x).tanh() as f32;
            let ulp = (got.to_bits() as i64 - exact.to_bits() as i64).unsigned_abs() as u32;
            assert!(ulp <= 3, "{isa:?}: tanh({x}) = {got}, exact {exact}");
            worst = worst.max(ulp);
        }
        assert!(worst <= 3, "{isa:?}: worst error {worst} ulp");
        let mut special = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0].repeat(7);
        f32::tanh_impl(isa, &mut special);
        for five in special.chunks(5) {
            assert!(five[0].is_nan(), "{isa:?}");
            assert_eq!(&five[1..3], &[1.0, -1.0], "{isa:?}");
            assert!(
                five[3] == 0.0 && five[4] == 0.0 && five[4].is_sign_negative(),
                "{isa:?}"
            );
        }
    }
}

/// One case of `skinny_kernel_matches_f64_products` in `T`: the form the kernel takes (none
/// where `n` is too wide for one strip in `T` and `m` too long), then the product against
/// ndarray's in `f64` on the same values, within `tol · √k`.
fn check_skinny<T: skinny::Elem>(
    isa: Isa,
    threads: usize,
    (m, k, n, ta, tb): (usize, usize, usize, bool, bool),
    tol: f64,
) {
    // Values exact in f32, so both types multiply the same numbers.
    let round = |a: Array2<f64>| a.mapv(|v| f64::from(v as f32));
    let to_t = |a: &Array2<f64>| a.mapv(T::lit);
    let to64 = |a: &Array2<T>| a.mapv(T::as_f64);
    let (a, b) = (round(arr(m, k, 4)), round(arr(k, n, 5)));
    let c0 = round(arr(m, n, 6));
    let expect = a.dot(&b) * 0.5 + &c0 * 2.0;
    // `c` a view into a wider array, so its rows are further apart than n.
    let mut wide = Array2::<T>::zeros((m, n + 3));
    let (at, bt) = (to_t(&a), to_t(&b));
    let (a_t, b_t) = (to_t(&transposed(&a)), to_t(&transposed(&b)));
    let mut c = wide.slice_mut(ndarray::s![.., 1..n + 1]);
    c.assign(&to_t(&c0));
    let av = if ta { a_t.t() } else { at.view() };
    let bv = if tb { b_t.t() } else { bt.view() };
    let (lanes, size) = (64 / size_of::<T>(), size_of::<T>());
    let short_m = (m <= 256 || k * n * size <= 1 << 17)
        && n >= lanes
        && !tb
        && !(ta && m > 1 && isa == Isa::Avx2 && k > 256);
    let short_n = n <= 7 * lanes && k >= 256;
    let want = match (short_m, short_n) {
        (true, _) => Some("ShortM"),
        (false, true) => Some("ShortN"),
        _ => None,
    };
    let name = T::NAME;
    let form = skinny::form_of(isa, &av, &bv, &c.view_mut());
    assert_eq!(form.as_deref(), want, "({m},{k},{n}) {name} {isa:?}");
    let took = skinny::gemm(isa, threads, T::lit(0.5), &av, &bv, T::lit(2.0), &mut c);
    assert_eq!(took, want.is_some(), "({m},{k},{n}) {name}");
    if !took {
        return;
    }
    let err = max_err(&to64(&c.to_owned()), &expect);
    let tol = tol * (k as f64).sqrt();
    assert!(
        err < tol,
        "({m},{k},{n}) {name} {isa:?}, {threads} threads: error {err}"
    );
    let outside = [0, n + 1, n + 2].map(|j| wide.column(j).iter().all(|&v| v == T::zero()));
    assert_eq!(
        outside, [true; 3],
        "({m},{k},{n}) {name} {isa:?}: wrote outside c"
    );
}

/// The short-side kernel in `f32` and `f64` against an `f64` product, on the shapes that take
/// it (a language
/// model's output layer, cut down, for both backward products), tails of every tile and of the
/// vector width, `k` over one pass, α and β, a strided `c`, `b`'s rows a multiple of 4 KB apart
/// (copied together first), and split over threads.
#[test]
fn skinny_kernel_matches_f64_products() {
    let paths: Vec<Isa> = [Isa::Avx2, Isa::Avx512]
        .into_iter()
        .filter(|isa| isa.supported())
        .collect();
    if paths.is_empty() {
        eprintln!("skipped: this CPU has no AVX2, the short-side kernel does not run");
        return;
    }
    for isa in paths {
        skinny_kernel_on(isa);
    }
}

fn skinny_kernel_on(isa: Isa) {
    let to32 = |a: &Array2<f64>| a.mapv(|v| v as f32);
    let to64 = |a: &Array2<f32>| a.mapv(f64::from);
    // (m, k, n, a transposed, b transposed): xᵀ g and x w with m short, then g wᵀ with n
    // short.
    let cases = [
        (100, 700, 1000, true, false),
        (40, 100, 5000, false, false),
        (37, 1700, 333, true, false),
        (6, 200, 1100, true, false),
        (250, 90, 70, true, false),
        (700, 3000, 100, false, true),
        (131, 2000, 47, false, true),
        // A `wᵀ` too large for every thread to read: split along `k` over the threads.
        (104, 2600, 100, false, true),
        (104, 2600, 100, false, false),
        // A last vector of 1 to 4 columns: dot products of a's rows, over one or two passes.
        (50, 1000, 50, false, false),
        (23, 300, 33, false, true),
        (7, 800, 19, false, false),
        (9, 1100, 112, false, false),
        (20, 100, 400, false, false),
        (20, 400, 100, false, true),
        (160, 1024, 7, false, true),
        // An attention's small products, batched elsewhere.
        (10, 256, 29, false, true),
        (10, 29, 256, false, false),
        (29, 10, 256, true, false),
        // `b`'s rows 4 and 8 KB apart: its strips are copied together first.
        (30, 1700, 1024, true, false),
        (13, 1100, 2048, false, false),
        // Many rows against a `b` small enough for L2: a layer's batch of 784, a convolution's
        // unrolled pixels.
        (784, 100, 100, false, false),
        (784, 100, 100, true, false),
        (1000, 25, 30, true, false),
        // One image through the book's CNNs: a wide layer's single row, convolutions' filters
        // against unrolled pixels.
        (1, 4320, 100, false, false),
        (16, 144, 784, false, false),
        (64, 576, 49, false, false),
    ];
    for threads in [1, 2, 3] {
        for (m, k, n, ta, tb) in cases {
            check_skinny::<f32>(isa, threads, (m, k, n, ta, tb), 1e-5);
            check_skinny::<f64>(isa, threads, (m, k, n, ta, tb), 1e-13);
        }
    }
    // A strip as wide as `b` whose rows lie 4 KB apart, copied together too.
    let big = to32(&arr(1100, 1024, 13));
    let bv = big.slice(ndarray::s![.., ..100]);
    let a = to32(&arr(20, 1100, 14));
    let mut c = Array2::<f32>::zeros((20, 100));
    assert!(skinny::gemm(
        isa,
        1,
        1.0,
        &a.view(),
        &bv,
        0.0,
        &mut c.view_mut()
    ));
    let err = max_err(&to64(&c), &to64(&a).dot(&to64(&bv.to_owned())));
    assert!(
        err < 1e-5 * 1100f64.sqrt(),
        "a 100-wide strip of 1024: error {err}"
    );
    // Other layouts, and the other paths, are left to `gemm`.
    let takes = |isa: Isa, a: ndarray::ArrayView2<'_, f32>, b: ndarray::ArrayView2<'_, f32>| {
        let mut c = Array2::<f32>::zeros((a.nrows(), b.ncols()));
        skinny::gemm(isa, 1, 1.0, &a, &b, 0.0, &mut c.view_mut())
    };
    let (a, b) = (to32(&arr(300, 300, 7)), to32(&arr(300, 300, 8)));
    assert!(!takes(isa, a.view(), b.view()));
    assert!(!takes(isa, a.view(), b.t()));
    let wide = to32(&arr(300, 1000, 9));
    assert!(!takes(Isa::Portable, a.t(), wide.view()));
    // m = 300: over the short side's limit.
    assert!(!takes(isa, a.t(), wide.view()));
    // g wᵀ with k below the limit.
    let small = to32(&arr(300, 200, 11));
    assert!(!takes(isa, small.view(), to32(&arr(100, 200, 12)).t()));
}

#[test]
fn transposed_copies_every_bit_on_every_path() {
    for isa in Isa::available() {
        // Full 16 × 16 blocks, edges on either side, a single row or column, the LM's shape.
        for (r, c) in [
            (32, 48),
            (100, 10000),
            (17, 33),
            (1, 20),
            (20, 1),
            (15, 15),
            (0, 5),
        ] {
            let a = arr(r, c, (r * 31 + c) as u64);
            // Odd bit patterns travel unchanged: a NaN payload and a negative zero.
            let mut a32 = a.mapv(|v| v as f32);
            if r > 1 && c > 1 {
                a32[[0, 1]] = f32::from_bits(0x7fc0_1234);
                a32[[r - 1, c - 1]] = -0.0;
            }
            let want = a32.t().as_standard_layout().into_owned();
            let got = transposed_on(isa, a32.view());
            assert!(got.is_standard_layout(), "{isa:?} {r}×{c}");
            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(got.shape(), [c, r]);
            assert_eq!(
                bits(got.as_slice().unwrap()),
                bits(want.as_slice().unwrap()),
                "{isa:?} {r}×{c}"
            );
            assert_eq!(transposed_on(isa, a.view()), a.t(), "{isa:?} {r}×{c} f64");
        }
        // A column-major matrix is already its transpose's rows: borrowed, not copied.
        let col = transposed(&arr(9, 7, 5));
        let t = transposed_on(isa, col.t());
        assert!(t.is_view() && t == col);
        // Rows that are not contiguous go through ndarray.
        let wide = arr(6, 40, 8).mapv(|v| v as f32);
        let part = wide.slice(ndarray::s![.., 3..29]);
        assert_eq!(transposed_on(isa, part), part.t());
    }
}
