//! Fuzzes the checkpoint loader (safetensors): any input must give Ok or a CheckpointError,
//! never a panic, and a failed load must leave the model as it was.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nn_layers::checkpoint::load_from_bytes;
use nn_layers::{BatchNorm1d, Linear, Module, Sequential};
use rand::SeedableRng;

fn model() -> Sequential<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    Sequential::new()
        .add(Linear::new(3, 4, &mut rng))
        .add(BatchNorm1d::new(4))
        .add(Linear::new(4, 2, &mut rng))
}

fn values(m: &Sequential<f32>) -> Vec<Vec<u32>> {
    let mut all = m.parameters();
    all.extend(m.buffers());
    all.iter()
        .map(|(_, t)| t.to_array().iter().map(|v| v.to_bits()).collect())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut m = model();
    let before = values(&m);
    if load_from_bytes(data, Path::new("fuzz"), &mut m).is_err() {
        assert_eq!(values(&m), before, "a failed load changed the model");
    }
});
