//! The real data sets through the configured mirrors (`NN_DATA_MIRROR`), checksums verified.
//! In CI (`CI=true`) they must be there; elsewhere these tests say they were skipped and why.

use nn_data::{DataError, FashionMnist, FetchOptions, Labels, LoadOptions, Mirror, Mnist, Split};

/// Says so on the real stderr: the test harness captures `eprintln!` of passing tests.
fn skip(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// Fetch options from the environment with a throw-away cache, or `None` (skip) off CI.
fn mirror_options(test: &str) -> Option<(FetchOptions, tempfile::TempDir)> {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if std::env::var_os("NN_DATA_MIRROR").is_none() {
        assert!(
            !in_ci,
            "{test}: CI=true but NN_DATA_MIRROR is not set; .ci/run sets it to ../shared/datasets"
        );
        skip(&format!(
            "{test}: SKIPPED — NN_DATA_MIRROR is not set (point it at a mirror holding mnist/ and fashion-mnist/)"
        ));
        return None;
    }
    let mut opts = match FetchOptions::from_env() {
        Ok(o) => o,
        Err(e) => panic!("{test}: {e}"),
    };
    let cache = tempfile::tempdir().expect("tempdir");
    opts.cache_dir = cache.path().to_path_buf();
    opts.progress = false;
    Some((opts, cache))
}

fn classes(labels: &Labels) -> Vec<usize> {
    match labels {
        Labels::Classes(c) => c.to_vec(),
        Labels::OneHot(_) => panic!("class indices were requested"),
    }
}

#[test]
fn mnist_test_split_loads_verified() {
    let Some((opts, _cache)) = mirror_options("mnist_test_split_loads_verified") else {
        return;
    };
    let test =
        Mnist::load_split(Split::Test, &opts, LoadOptions::default()).expect("MNIST test split");
    assert_eq!(test.images.shape(), &[10_000, 784]);
    let labels = classes(&test.labels);
    assert_eq!(&labels[..10], &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]); // MNIST's well-known first digits
    assert!(test.images.iter().all(|&p| (0.0..=1.0).contains(&p)));
    assert!(
        test.images.iter().any(|&p| p == 1.0),
        "white pixels become exactly 1.0"
    );
}

#[test]
fn mnist_training_images_missing_from_the_mirror_is_a_clear_error() {
    let Some((opts, _cache)) =
        mirror_options("mnist_training_images_missing_from_the_mirror_is_a_clear_error")
    else {
        return;
    };
    let has_train_images = opts.mirrors.iter().any(|m| match m {
        Mirror::Dir(d) => d.join("mnist/train-images-idx3-ubyte.gz").exists(),
        Mirror::Url(_) => true,
    });
    if has_train_images {
        skip("mnist_training_images_missing…: SKIPPED — the mirror has the MNIST training images");
        return;
    }
    let err = Mnist::load_split(Split::Train, &opts, LoadOptions::default())
        .expect_err("no training images offline");
    assert!(matches!(err, DataError::Unavailable { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("mnist/train-images-idx3-ubyte.gz: not available from any mirror"),
        "{text}"
    );
    for mirror in &opts.mirrors {
        assert!(
            text.contains(&mirror.to_string()),
            "the error names mirror {mirror}: {text}"
        );
    }
}

#[test]
fn fashion_mnist_loads_whole() {
    let Some((opts, _cache)) = mirror_options("fashion_mnist_loads_whole") else {
        return;
    };
    let data = FashionMnist::load(&opts, LoadOptions { flatten: false, ..LoadOptions::default() })
        .expect("Fashion-MNIST (install Debian's dataset-fashion-mnist and add /usr/share/datasets to NN_DATA_MIRROR)");
    assert_eq!(data.train.images.shape(), &[60_000, 1, 28, 28]);
    assert_eq!(data.test.images.shape(), &[10_000, 1, 28, 28]);
    // Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
    for (split, per_class) in [(&data.train, 6_000), (&data.test, 1_000)] {
        let mut counts = [0usize; 10];
        for c in classes(&split.labels) {
            counts[c] += 1;
        }
        assert_eq!(counts, [per_class; 10]);
    }
}

#[test]
fn the_books_sample_weights_are_fetched_verified() {
    let Some((opts, _cache)) = mirror_options("the_books_sample_weights_are_fetched_verified")
    else {
        return;
    };
    let fetched = nn_data::fetch(&nn_data::SAMPLE_WEIGHT, &opts)
        .expect("sample_weight.pkl (a mirror must hold weights/sample_weight.pkl, e.g. ../shared)");
    assert_eq!(fetched.content.len(), 181_853);
    assert_eq!(fetched.content[..2], [0x80, 0x03], "a protocol-3 pickle");
}

#[test]
fn the_books_sample_weights_parse_as_the_book_describes() {
    let Some((opts, _cache)) =
        mirror_options("the_books_sample_weights_parse_as_the_book_describes")
    else {
        return;
    };
    let arrays =
        nn_data::numpy::fetch_pickle(&nn_data::SAMPLE_WEIGHT, &opts).expect("sample_weight.pkl");
    let mut shapes: Vec<(String, Vec<usize>, &str)> = arrays
        .iter()
        .map(|(n, a)| (n.clone(), a.shape().to_vec(), a.dtype()))
        .collect();
    shapes.sort();
    let want = [
        ("W1", vec![784, 50]),
        ("W2", vec![50, 100]),
        ("W3", vec![100, 10]),
        ("b1", vec![50]),
        ("b2", vec![100]),
        ("b3", vec![10]),
    ];
    for ((name, shape, dtype), (wname, wshape)) in shapes.iter().zip(want.iter()) {
        assert_eq!((name.as_str(), shape, *dtype), (*wname, wshape, "float32"));
    }
    // W1 is stored in Fortran order; NumPy (2.4) prints sw['W1'][0, :3] and sw['W1'][:3, 0] as
    // below, so the reader must have put the values where NumPy does.
    let w1 = arrays
        .iter()
        .find(|(n, _)| n == "W1")
        .expect("W1")
        .1
        .to_f32();
    let row: Vec<f32> = (0..3).map(|j| w1[[0, j]]).collect();
    let col: Vec<f32> = (0..3).map(|i| w1[[i, 0]]).collect();
    assert_eq!(row, [-0.007412489, -0.007904391, -0.013074991]);
    assert_eq!(col, [-0.007412489, -0.01029745, -0.01309184]);
    let sum: f64 = w1.iter().map(|&v| f64::from(v)).sum();
    assert!((sum - 24.710748511527072).abs() < 1e-9, "Σ W1 = {sum}");
}

/// `digit::to_mnist` is MNIST's own preparation: an MNIST test image whose ink box measures 20
/// pixels (all but 3 of the 10,000; in those the box's edge did not survive the anti-aliasing)
/// comes out of it as it went in, its centre of mass being already at the centre; and so does
/// the same image shown dark on light, as a pen draws it.
#[test]
fn mnist_images_pass_through_the_digit_preparation_unchanged() {
    use nn_data::digit::{Ink, to_mnist};
    let Some((opts, _cache)) = mirror_options("mnist_images_pass_through…") else {
        return;
    };
    let test =
        Mnist::load_split(Split::Test, &opts, LoadOptions::default()).expect("MNIST test split");
    let differs = |a: &[f32], b: &[f32]| a.iter().zip(b).any(|(x, y)| (x - y).abs() > 1e-6);
    let mut other_boxes = 0;
    for (i, row) in test.images.outer_iter().enumerate() {
        let image: Vec<f32> = row.iter().copied().collect();
        let ink = Ink::from_grey(&image, 28, 28);
        let (x0, y0, x1, y1) = ink.bounding_box().expect("every MNIST image has ink");
        if (x1 - x0).max(y1 - y0) != 20 {
            other_boxes += 1;
            continue;
        }
        assert!(!differs(&image, &to_mnist(&ink)), "test image {i} changed");
        if i % 10 == 0 {
            let paper: Vec<f32> = image.iter().map(|v| 1.0 - v).collect();
            let from_paper = to_mnist(&Ink::from_grey(&paper, 28, 28));
            assert!(
                !differs(&image, &from_paper),
                "test image {i} on paper changed"
            );
        }
    }
    assert_eq!(
        other_boxes, 3,
        "MNIST's test images have 3 boxes of 19 pixels"
    );
}

/// The Penn Treebank as the sequel reads it: 929,589 training words with `<eos>`, a vocabulary
/// of 10,000 in order of first appearance (`aer` is 0, `banknote` 1), and the validation and
/// test files mapped through it.
#[test]
fn ptb_loads_as_the_sequel_reads_it() {
    use nn_data::text::{Ptb, PtbSplit};
    let Some((opts, _cache)) = mirror_options("ptb_loads_as_the_sequel_reads_it") else {
        return;
    };
    let train = Ptb::load(PtbSplit::Train, &opts).expect("ptb.train.txt");
    let v = &train.vocabulary;
    assert_eq!((train.corpus.len(), v.len()), (929_589, 10_000));
    assert_eq!(&train.corpus[..3], [0, 1, 2]);
    assert_eq!(
        (v.word(0), v.word(1), v.word(2)),
        (Some("aer"), Some("banknote"), Some("berlitz"))
    );
    assert_eq!(
        train
            .corpus
            .iter()
            .filter(|&&id| Some(id) == v.id("<eos>"))
            .count(),
        42_068
    );
    let test = Ptb::load(PtbSplit::Test, &opts).expect("ptb.test.txt");
    assert_eq!(test.corpus.len(), 82_430);
    assert_eq!(test.vocabulary, train.vocabulary);
    let valid = Ptb::load(PtbSplit::Valid, &opts).expect("ptb.valid.txt");
    assert_eq!(valid.corpus.len(), 73_760);
}

/// The sequel's trained CBOW vectors (`cbow_params.pkl`, float16 in a protocol-4 pickle) load
/// with the PTB training vocabulary's ids; the values are the file's float16 ones, exactly
/// (the first row and the sums as Python's `struct` decodes the same bytes).
#[test]
fn the_sequels_cbow_vectors_load() {
    use nn_data::text::{Ptb, PtbSplit, WordVectors};
    let Some((opts, _cache)) = mirror_options("the_sequels_cbow_vectors_load") else {
        return;
    };
    let cbow = WordVectors::load_cbow(&opts).expect("cbow_params.pkl");
    assert_eq!(cbow.vectors.dim(), (10_000, 100));
    let ptb = Ptb::load(PtbSplit::Train, &opts).expect("ptb.train.txt");
    assert_eq!(cbow.vocabulary, ptb.vocabulary);
    let row: Vec<f64> = cbow
        .vectors
        .row(0)
        .iter()
        .take(3)
        .map(|&v| f64::from(v))
        .collect();
    assert_eq!(row, [-0.14794921875, -0.232666015625, -0.09527587890625]);
    assert_eq!(f64::from(cbow.vectors[[1, 0]]), -0.74853515625);
    let sum: f64 = cbow.vectors.iter().map(|&v| f64::from(v)).sum();
    let abs: f64 = cbow.vectors.iter().map(|&v| f64::from(v).abs()).sum();
    assert!((sum - 42_499.293_118_357_66).abs() < 1e-6, "Σ {sum}");
    assert!((abs - 697_959.787_393_450_7).abs() < 1e-4, "Σ|·| {abs}");
}

/// The sequel's trained LSTM language model (`Rnnlm.pkl`, a protocol-3 list of six float16
/// arrays) loads with the file's shapes and values, exactly (first entries and sums as NumPy
/// computes them in float64 on the same file).
#[test]
fn the_sequels_rnnlm_params_load() {
    use nn_data::text::{RNNLM_PARAMS, load_param_list};
    let Some((opts, _cache)) = mirror_options("the_sequels_rnnlm_params_load") else {
        return;
    };
    let params = load_param_list(&RNNLM_PARAMS, &opts).expect("Rnnlm.pkl");
    let want: [(&[usize], f64, f64); 6] = [
        (&[10_000, 100], -0.0667724609375, -345.6709042787552),
        (&[100, 400], 0.1748046875, -366.6644470691681),
        (&[100, 400], -0.06390380859375, 112.44909632205963),
        (&[400], 0.2325439453125, -31.437320709228516),
        (&[100, 10_000], -0.036285400390625, -102.28286147117615),
        (&[10_000], -0.90576171875, 0.007012486457824707),
    ];
    assert_eq!(params.len(), want.len());
    for (i, (p, (shape, first, sum))) in params.iter().zip(want).enumerate() {
        assert_eq!(p.shape(), shape, "array {i}");
        assert_eq!(
            f64::from(p.iter().next().copied().unwrap()),
            first,
            "array {i}"
        );
        let got: f64 = p.iter().map(|&v| f64::from(v)).sum();
        assert!((got - sum).abs() < 1e-9, "array {i}: Σ {got} vs {sum}");
    }
}
