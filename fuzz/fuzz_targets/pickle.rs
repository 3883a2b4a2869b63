//! Fuzzes the NumPy pickle reader: any input gives Ok or a DataError, never a panic or an
//! allocation beyond what the input holds; what it accepts is a dict of consistent arrays. The
//! same input also goes through the plain-data reader and the word-vector reader (the
//! sequel's float16 `cbow_params.pkl`, its dicts of str and int keys) and the parameter-list
//! reader (its `Rnnlm.pkl`, a list of arrays).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_data::numpy::{parse_pickle, parse_pickle_value};
use nn_data::text::{WordVectors, param_list};

fuzz_target!(|data: &[u8]| {
    if let Ok(arrays) = parse_pickle(data, "fuzz") {
        for (_, a) in &arrays {
            let n: usize = a.shape().iter().product();
            assert_eq!(a.to_f64().len(), n);
            // Every array's data came from the input.
            assert!(n <= data.len());
        }
    }
    let _ = parse_pickle_value(data, "fuzz");
    if let Ok(wv) = WordVectors::from_pickle(data, "fuzz") {
        assert_eq!(wv.vectors.nrows(), wv.vocabulary.len());
        assert!(wv.vectors.len() <= data.len());
    }
    if let Ok(params) = param_list(data, "fuzz") {
        assert!(params.iter().map(|p| p.len()).sum::<usize>() <= data.len());
    }
});
