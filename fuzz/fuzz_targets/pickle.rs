//! Fuzzes the NumPy pickle reader: any input gives Ok or a DataError, never a panic or an
//! allocation beyond what the input holds; what it accepts is a dict of consistent arrays.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_data::numpy::parse_pickle;

fuzz_target!(|data: &[u8]| {
    if let Ok(arrays) = parse_pickle(data, "fuzz") {
        for (_, a) in &arrays {
            let n: usize = a.shape().iter().product();
            assert_eq!(a.to_f64().len(), n);
            // Every array's data came from the input.
            assert!(n <= data.len());
        }
    }
});
