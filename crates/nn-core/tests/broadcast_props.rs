//! Property tests of NumPy broadcasting in every binary op: random compatible shapes, forward
//! values checked against ndarray's own co-broadcasting arithmetic, gradients by gradcheck.

use ndarray::{ArrayD, IxDyn};
use nn_core::{Tensor, gradcheck};
use proptest::prelude::*;

/// Two operand shapes that broadcast together: from a common full shape, each operand drops
/// some leading axes and turns some of the rest into 1.
fn shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    prop::collection::vec(1usize..4, 0..4).prop_flat_map(|out| {
        let n = out.len();
        let operand = (0..=n, prop::collection::vec(any::<bool>(), n));
        (Just(out), operand.clone(), operand).prop_map(|(out, (da, ua), (db, ub))| {
            let make = |drop: usize, unit: &[bool]| -> Vec<usize> {
                (drop..out.len())
                    .map(|i| if unit[i] { 1 } else { out[i] })
                    .collect()
            };
            (make(da, &ua), make(db, &ub))
        })
    })
}

fn values(shape: &[usize], seed: u64, positive: bool) -> ArrayD<f64> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (state >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
        if positive {
            0.5 + 1.5 * u
        } else {
            4.0 * u - 2.0
        }
    })
}

type BinaryOp = fn(&Tensor<f64>, &Tensor<f64>) -> Tensor<f64>;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn binary_ops_broadcast_like_numpy((sa, sb) in shapes(), seed in any::<u64>()) {
        let (a, b) = (values(&sa, seed, false), values(&sb, seed ^ 1, true));
        let (ta, tb) = (Tensor::from_array(a.clone()), Tensor::from_array(b.clone()));
        let expected: [ArrayD<f64>; 4] = [&a + &b, &a - &b, &a * &b, &a / &b];
        let got = [&ta + &tb, &ta - &tb, &ta * &tb, &ta / &tb];
        for (e, g) in expected.iter().zip(&got) {
            prop_assert_eq!(&g.to_array(), e); // shapes and values
        }
        let ops: [BinaryOp; 5] = [Tensor::add, Tensor::sub, Tensor::mul, Tensor::div, Tensor::maximum];
        for op in ops {
            let report = gradcheck(|t| op(&t[0], &t[1]), &[a.clone(), b.clone()]);
            prop_assert!(report.is_ok(), "{:?} with {:?}: {:?}", sa, sb, report);
        }
    }
}
