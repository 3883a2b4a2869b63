//! Ops written outside nn-core (the extension point, `nn_core::Op`): the book's `MulLayer` and
//! `AddLayer` (book 1 ch.5.4 「単純なレイヤの実装」) as custom ops, run on the book's apple
//! examples and checked against central differences.

use zero_nn::core::ndarray::{ArcArray, ArrayD, IxDyn, arr1};
use zero_nn::core::{Float, Grads, Op, Tensor, gradcheck};

/// The book's MulLayer: `forward` keeps x and y, `backward` swaps them.
#[derive(Default)]
struct MulLayer<T: Float> {
    x: Option<ArcArray<T, IxDyn>>,
    y: Option<ArcArray<T, IxDyn>>,
}

impl<T: Float> Op<T> for MulLayer<T> {
    fn name(&self) -> &'static str {
        "mul_layer"
    }
    fn forward(&mut self, inputs: &[&ArcArray<T, IxDyn>], _: &[bool]) -> ArcArray<T, IxDyn> {
        let (x, y) = (inputs[0], inputs[1]);
        assert!(
            x.shape() == y.shape(),
            "mul_layer: shapes {:?} and {:?} differ",
            x.shape(),
            y.shape()
        );
        self.x = Some(x.clone());
        self.y = Some(y.clone());
        (x * y).into_shared()
    }
    fn backward(self: Box<Self>, dout: ArrayD<T>, grads: &mut Grads<'_, T>) {
        let (Some(x), Some(y)) = (self.x, self.y) else {
            return;
        };
        grads.add(0, &dout * &y);
        grads.add(1, &dout * &x);
    }
}

/// The book's AddLayer: nothing to keep, the gradient passes to both inputs.
struct AddLayer;

impl<T: Float> Op<T> for AddLayer {
    fn name(&self) -> &'static str {
        "add_layer"
    }
    fn forward(&mut self, inputs: &[&ArcArray<T, IxDyn>], _: &[bool]) -> ArcArray<T, IxDyn> {
        (inputs[0] + inputs[1]).into_shared()
    }
    fn backward(self: Box<Self>, dout: ArrayD<T>, grads: &mut Grads<'_, T>) {
        grads.add(0, dout.clone());
        grads.add(1, dout);
    }
}

fn mul(a: &Tensor<f64>, b: &Tensor<f64>) -> Tensor<f64> {
    Tensor::apply(MulLayer::default(), &[a, b])
}

fn scalar(x: f64) -> Tensor<f64> {
    Tensor::scalar(x).requires_grad()
}

fn grad(t: &Tensor<f64>) -> f64 {
    t.grad().expect("took part").sum()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn buy_apple() {
    // 「5.4.1 乗算レイヤの実装」: 2 apples at 100 yen, tax 1.1.
    let (apple, apple_num, tax) = (scalar(100.0), scalar(2.0), scalar(1.1));
    let apple_price = mul(&apple, &apple_num);
    let price = mul(&apple_price, &tax);
    assert!(close(price.item(), 220.0), "price {}", price.item());
    price.backward().unwrap();
    let (da, dn, dt) = (grad(&apple), grad(&apple_num), grad(&tax));
    println!(
        "price: {}  dApple: {da}  dApple_num: {dn}  dTax: {dt}",
        price.item()
    );
    assert!(close(da, 2.2) && close(dn, 110.0) && close(dt, 200.0));
}

#[test]
fn buy_apple_orange() {
    // 「5.4.2 加算レイヤの実装」: 2 apples at 100 yen and 3 oranges at 150 yen, tax 1.1.
    let (apple, apple_num) = (scalar(100.0), scalar(2.0));
    let (orange, orange_num) = (scalar(150.0), scalar(3.0));
    let tax = scalar(1.1);
    let all = Tensor::apply(
        AddLayer,
        &[&mul(&apple, &apple_num), &mul(&orange, &orange_num)],
    );
    let price = mul(&all, &tax);
    assert!(close(price.item(), 715.0), "price {}", price.item());
    price.backward().unwrap();
    assert!(close(grad(&apple_num), 110.0));
    assert!(close(grad(&apple), 2.2));
    assert!(close(grad(&orange), 3.3));
    assert!(close(grad(&orange_num), 165.0));
    assert!(close(grad(&tax), 650.0));
}

#[test]
fn custom_ops_pass_gradcheck() {
    let inputs = [
        arr1(&[100.0, -0.5, 2.0]).into_dyn(),
        arr1(&[2.0, 3.0, -1.5]).into_dyn(),
        arr1(&[1.1, 0.3, 4.0]).into_dyn(),
    ];
    gradcheck(
        |t| {
            let price = Tensor::apply(MulLayer::default(), &[&t[0], &t[1]]);
            Tensor::apply(AddLayer, &[&price, &t[2]]).mul(&t[2]).tanh()
        },
        &inputs,
    )
    .unwrap();
    // A custom op fed by built-in ops and feeding them, with one input used twice.
    gradcheck(
        |t| {
            let x = t[0].exp();
            Tensor::apply(MulLayer::default(), &[&x, &x]).sum()
        },
        &[arr1(&[0.5, -1.0, 0.2]).into_dyn()],
    )
    .unwrap();
}

#[test]
fn custom_ops_record_nothing_under_no_grad() {
    let a = scalar(3.0);
    let y = zero_nn::core::no_grad(|| mul(&a, &a));
    assert!(!y.is_tracked());
    assert_eq!(y.item(), 9.0);
}

/// Gives its input a gradient of the wrong shape.
struct WrongShape;

impl<T: Float> Op<T> for WrongShape {
    fn name(&self) -> &'static str {
        "wrong_shape"
    }
    fn forward(&mut self, inputs: &[&ArcArray<T, IxDyn>], _: &[bool]) -> ArcArray<T, IxDyn> {
        inputs[0]
            .sum_axis(zero_nn::core::ndarray::Axis(0))
            .into_shared()
    }
    fn backward(self: Box<Self>, dout: ArrayD<T>, grads: &mut Grads<'_, T>) {
        grads.add(0, dout);
    }
}

#[test]
#[should_panic(
    expected = "wrong_shape: backward gave input 0 a gradient of shape [3], but the input has shape [2, 3]"
)]
fn a_gradient_of_the_wrong_shape_is_caught() {
    let x = Tensor::<f64>::ones(&[2, 3]).requires_grad();
    let _ = Tensor::apply(WrongShape, &[&x]).sum().backward();
}
